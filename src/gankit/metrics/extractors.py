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
        from .classifier import classifier_for

        self.clf = classifier_for(data_cfg, device)
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


def resolve_spec(spec: str, weights: str | None = None) -> str:
    """``auto`` -> ``inception-v3`` where its weights are found, else ``classifier`` (saying why, once);
    any other spec as it is."""
    if spec != "auto":
        return spec
    from .inception import find_inception_weights

    try:
        find_inception_weights(weights)
        return "inception-v3"
    except GankitError as e:
        print(f"note: {e}; using the dataset classifier instead", file=sys.stderr)
        return "classifier"


def build_extractor(spec: str, data_cfg: DataConfig | None, device="cpu", weights: str | None = None) -> Extractor:
    """``auto`` | ``inception-v3`` | ``classifier`` (the run's dataset) | ``classifier:NAME``."""
    name, _, arg = resolve_spec(spec, weights).partition(":")
    if name == "classifier":
        if arg and (data_cfg is None or arg != data_cfg.name):
            data_cfg = DataConfig(name=arg)
        if data_cfg is None:
            raise GankitError("--extractor classifier needs a dataset: use classifier:NAME or --real NAME")
    return EXTRACTORS.get(name, key="--extractor")(data_cfg=data_cfg, device=device, weights=weights)
