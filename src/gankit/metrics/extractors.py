"""Feature extractors behind one interface, registered by name (torch-fidelity's pattern).

An extractor maps images in [-1, 1] to ``(features (N, d), probs (N, K) or None)``. Its ``name``
travels with every score it produces (``fid[classifier:mnist]``, ``fid[inception-v3]``): numbers from
different extractors are never comparable. ``key`` identifies the exact weights, for caching.
"""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Callable

import torch

from ..config import DataConfig
from ..errors import GankitError
from ..registry import Registry


class Extractor:
    name: str
    key: str
    info: dict[str, float | int | str]
    has_classes: bool
    dim: int = 2048          # feature size (the metrics' recommended sample counts scale with it)
    num_classes: int = 10    # width of the class probabilities

    def __call__(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        raise NotImplementedError

    @torch.no_grad()
    def extract(self, images: torch.Tensor, batch_size: int = 500) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Features (float32, CPU) and class probabilities of a whole image tensor, batch by batch."""
        feats, probs = [], []
        for s in range(0, len(images), batch_size):
            f, p = self(images[s:s + batch_size])
            feats.append(f.float().cpu())
            if p is not None:
                probs.append(p.double().cpu())
        return torch.cat(feats), (torch.cat(probs) if probs else None)


EXTRACTORS: Registry[Callable[..., Extractor]] = Registry("feature extractor")


@EXTRACTORS.register("classifier")
class ClassifierExtractor(Extractor):
    has_classes = True

    def __init__(self, data_cfg: DataConfig, device="cpu", **_):
        from .classifier import FEATURE_DIM, classifier_for

        self.clf = classifier_for(data_cfg, device)
        self.dim, self.num_classes = FEATURE_DIM, self.clf.model.num_classes
        self.device = next(self.clf.model.parameters()).device
        self.name = f"classifier:{data_cfg.name}"
        self.key = f"classifier-{data_cfg.name}-{self.clf.key}"
        self.info = {"accuracy": self.clf.accuracy, "test_images": self.clf.test_split_size}

    def __call__(self, images):
        f, logits = self.clf.model(images.to(self.device, torch.float32))
        return f, logits.double().softmax(1)


@EXTRACTORS.register("inception-v3")
class InceptionExtractor(Extractor):
    name = "inception-v3"
    has_classes = False  # its 1008 ImageNet classes say nothing about a dataset's own classes
    dim, num_classes = 2048, 1008

    def __init__(self, data_cfg: DataConfig | None = None, device="cpu", weights: str | None = None, **_):
        from .inception import find_inception_weights, load_fid_inception

        path = find_inception_weights(weights)
        self.model = load_fid_inception(path, device)
        self.device = torch.device(device)
        self.key = f"inception-{_file_fingerprint(path)}"
        self.info = {"weights": Path(path).name}

    def __call__(self, images):
        out = self.model(images.to(self.device, torch.float32))
        return out["pool"], out["logits"].double().softmax(1)


def _file_fingerprint(path) -> str:
    p = Path(path)
    h = hashlib.sha256(str(p.stat().st_size).encode())
    with open(p, "rb") as f:
        h.update(f.read(1 << 20))
    return h.hexdigest()[:12]


#: built-in labelled datasets whose classifiers may read images without a classifier of their own, by
#: (channels, size): the first one available is the default; the digits classifier reads 16 px (8 px native)
SHAPE_CLASSIFIERS: dict[tuple[int, int], tuple[str, ...]] = {
    (1, 28): ("mnist", "fashion-mnist"), (1, 16): ("digits",), (1, 8): ("digits",)}
BUILTIN_CLASSIFIERS = ("mnist", "fashion-mnist", "digits")

_said: set[str] = set()


def note_once(message: str) -> None:
    """``note: message`` on stderr, once per process (training evaluates many times)."""
    if message not in _said:
        _said.add(message)
        print(f"note: {message}", file=sys.stderr)


def _available(name: str) -> bool:
    from ..data.sources import SOURCES

    try:
        SOURCES.get(name).locate(DataConfig(name=name))
        return True
    except GankitError:
        return False


def _single_images(data_cfg: DataConfig) -> bool:
    """Whether the source holds images of one kind (a folder, an npz file), not pairs or two domains."""
    from ..data.sources import SOURCES

    return data_cfg.name in SOURCES and SOURCES.get(data_cfg.name).sides == ("x",)


def _own_classifier_problem(data_cfg: DataConfig) -> str | None:
    """Why the data cannot train (and test) a classifier of its own, or None. Folders and npz files say
    so at once, without reading their images."""
    import dataclasses

    from ..data import load_data

    try:
        load_data(dataclasses.replace(data_cfg, split="test"))
    except GankitError:
        what = repr(data_cfg.path) if data_cfg.name in ("folder", "npz") and data_cfg.path else repr(data_cfg.name)
        return f"{what} has no held-out split to train and test a classifier of its own on"
    return None


def choose_spec(spec: str, data_cfg: DataConfig | None, weights: str | None = None) -> tuple[str, str | None]:
    """The extractor ``spec`` stands for on ``data_cfg``, and a note saying why where it was a choice.

    ``auto``: Inception where its weights are found, else as ``classifier``. ``classifier``: the
    dataset's own classifier; where the data has none (a folder, an npz file: no held-out split) the
    classifier of the built-in dataset its images are shaped like (1x28x28: mnist; 1x16x16, 1x8x8:
    digits), announced; else a one-line error naming the ways to score (--extractor classifier:NAME,
    --inception-weights PATH). Any other spec as it is. A weights path that was given must exist."""
    if spec not in ("auto", "classifier"):
        return spec, None
    missing = None
    if spec == "auto":
        from .inception import find_inception_weights

        try:
            find_inception_weights(weights)
            return "inception-v3", None
        except GankitError as e:
            if weights:  # a path the user typed: falling back would hide the typo
                raise
            missing = str(e)
    fallback = f"{missing}; using the dataset classifier instead" if missing else None
    if data_cfg is None:
        return "classifier", fallback
    problem = _own_classifier_problem(data_cfg) if _single_images(data_cfg) else None
    if problem is None:  # (pairs and two-domain sources: their classifier says why it cannot be had)
        return "classifier", fallback
    c, r = data_cfg.channels, data_cfg.resolution
    names = [n for n in SHAPE_CLASSIFIERS.get((c, r), ()) if _available(n)]
    others = "|".join(n for n in BUILTIN_CLASSIFIERS if n not in names[:1])
    no_inception = "the FID Inception weights are not here and " if missing else ""
    if names:
        return f"classifier:{names[0]}", (
            f"scoring with classifier:{names[0]} features: {no_inception}{problem}, but its {c}x{r}x{r} images are "
            f"shaped like {names[0]}'s (other choices: --extractor classifier:{others}, --inception-weights PATH)")
    raise GankitError(f"no feature extractor for {c}x{r}x{r} images: {no_inception}{problem}, and no built-in "
                      f"dataset's classifier reads that shape; score with the FID Inception weights "
                      f"(--inception-weights PATH, eval.inception_weights) or a built-in dataset's classifier "
                      f"(--extractor classifier:mnist|fashion-mnist|digits, eval.extractor)")


def resolve_spec(spec: str, weights: str | None = None) -> str:
    """``auto`` -> ``inception-v3`` where its weights are found, else ``classifier`` (saying why, once
    per process); any other spec as it is."""
    if spec != "auto":
        return spec
    spec, note = choose_spec(spec, None, weights)
    if note:
        note_once(note)
    return spec


def build_extractor(spec: str, data_cfg: DataConfig | None, device="cpu", weights: str | None = None) -> Extractor:
    """``auto`` | ``inception-v3`` | ``classifier`` (the run's dataset) | ``classifier:NAME``; ``auto`` and
    ``classifier`` as :func:`choose_spec` decides (with its note, once per process)."""
    spec, note = choose_spec(spec, data_cfg, weights)
    if note:
        note_once(note)
    name, _, arg = spec.partition(":")
    if name == "classifier":
        if arg and (data_cfg is None or arg != data_cfg.name):
            data_cfg = DataConfig(name=arg)
        if data_cfg is None:
            raise GankitError("--extractor classifier needs a dataset: use classifier:NAME or --real NAME")
    return EXTRACTORS.get(name, key="--extractor")(data_cfg=data_cfg, device=device, weights=weights)
