"""A small CNN classifier trained on a dataset's own training split: the CPU feature extractor.

Inception-v3 costs ~11 GFLOP per image (5-8 img/s on a 2-core CPU) and was trained on ImageNet
photographs, not digits. A classifier trained on the dataset itself is ~1000x cheaper and sees what
matters there (the class, the stroke). Its penultimate layer (128-d) gives features for
FID/KID/precision-recall/density-coverage, its softmax the class probabilities for IS and class
coverage. Scores from it are only comparable with scores from the same classifier, which is why
every score carries the extractor's name, e.g. ``fid[classifier:mnist]``, and its held-out accuracy.

Trained once per dataset content (deterministically, seed 0) and cached under
``~/.cache/gankit/classifiers/``, keyed by a hash of the training and test data and of the recipe.
"""
from __future__ import annotations

import hashlib
import sys
import time
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..augment import shift
from ..config import DataConfig
from ..data import ImageData, load_data
from ..errors import GankitError
from ..train.checkpoint import save_checkpoint
from ..utils.cache import cache_dir

RECIPE_VERSION = 2
FEATURE_DIM = 128


class SmallCNN(nn.Module):
    """(N, C, R, R) in [-1, 1] -> 128-d features -> K logits. R is 28 (or 16 for the 8x8 digits)."""

    def __init__(self, channels: int, num_classes: int, resolution: int = 28):
        super().__init__()
        self.channels, self.resolution, self.num_classes = channels, resolution, num_classes

        def block(a, b):
            return [nn.Conv2d(a, b, 3, padding=1, bias=False), nn.BatchNorm2d(b), nn.ReLU(inplace=True)]

        # ~5.6 M multiply-adds per 28 px image: cheap enough to train in about a minute on 2 cores
        self.body = nn.Sequential(*block(channels, 32), nn.MaxPool2d(2),
                                  *block(32, 64), nn.MaxPool2d(2),
                                  *block(64, 64), nn.AdaptiveAvgPool2d(3), nn.Flatten(),
                                  nn.Linear(64 * 9, FEATURE_DIM), nn.ReLU(inplace=True))
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(FEATURE_DIM, num_classes))

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """Convert channels and resize to the classifier's input."""
        if x.shape[1] != self.channels:
            x = x.mean(1, keepdim=True) if self.channels == 1 else x.expand(-1, 3, -1, -1)
        if x.shape[-1] != self.resolution or x.shape[-2] != self.resolution:
            x = F.interpolate(x, size=(self.resolution, self.resolution), mode="bilinear", align_corners=False,
                              antialias=x.shape[-1] > self.resolution)
        return x

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.body(self.prepare(x))
        return f, self.head(f)  # (N, 128) features, (N, K) logits


@dataclass
class TrainedClassifier:
    dataset: str
    model: SmallCNN
    accuracy: float          # on the held-out split it never saw
    test_split_size: int
    key: str                 # content hash, part of the cache file name


def _random_shift(x: torch.Tensor, max_shift: int, g: torch.Generator) -> torch.Tensor:
    """Translate each image by up to ``max_shift`` pixels (background -1 fills the border)."""
    dy = torch.randint(0, 2 * max_shift + 1, (x.shape[0],), generator=g)
    dx = torch.randint(0, 2 * max_shift + 1, (x.shape[0],), generator=g)
    return shift(x, dy, dx, max_shift, value=-1.0)


def _data_key(train: ImageData, test: ImageData, resolution: int) -> str:
    h = hashlib.sha256()
    for t in (train.images, train.labels, test.images, test.labels):
        h.update(t.contiguous().numpy().tobytes())
    h.update(f"recipe={RECIPE_VERSION};res={resolution}".encode())
    return h.hexdigest()[:16]


def _resolution_for(data_cfg: DataConfig) -> int:
    return 16 if data_cfg.name == "digits" else 28


def classifier_for(data_cfg: DataConfig, device: str | torch.device = "cpu", verbose: bool = True) -> TrainedClassifier:
    """The cached classifier of ``data_cfg``'s dataset, training it first if needed.

    Never disturbs the caller's random state (a training run that evaluates must resume exactly)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return _classifier_for(data_cfg, device, verbose)


def _classifier_for(data_cfg: DataConfig, device, verbose: bool) -> TrainedClassifier:
    res = _resolution_for(data_cfg)
    native = dict(name=data_cfg.name, path=data_cfg.path, resolution=res, channels=data_cfg.channels)
    train = load_data(DataConfig(split="train", **native))
    if not isinstance(train, ImageData):
        if len(getattr(train, "shape", ())) == 1:
            raise GankitError(f"classifier:{data_cfg.name}: the data are points, not images; score them with the modes "
                              f"metric")
        raise GankitError(f"classifier:{data_cfg.name}: no classifier for {type(train).__name__} (its images have no "
                          f"class labels to learn); use --extractor inception-v3, or classifier:NAME of a dataset "
                          f"whose classes the outputs should show")
    try:
        test = load_data(DataConfig(split="test", **native))
    except GankitError as e:
        raise GankitError(f"classifier:{data_cfg.name}: needs a held-out split to report its accuracy ({e}); score "
                          f"with a built-in dataset's classifier (--extractor classifier:mnist|fashion-mnist|digits) "
                          f"or Inception (--inception-weights PATH)") from None
    if train.labels is None or train.num_classes is None:
        raise GankitError(f"classifier:{data_cfg.name}: the data has no class labels; use --extractor inception-v3")
    key = _data_key(train, test, res)
    path = cache_dir("classifiers") / f"{data_cfg.name}-{key}.pt"
    model, accuracy = _cached_or_trained(path, SmallCNN(train.shape[0], train.num_classes, res), train, test,
                                         device, f"classifier:{data_cfg.name}", data_cfg.name, verbose)
    return TrainedClassifier(data_cfg.name, model, accuracy, len(test), key)


def _cached_or_trained(path, model: SmallCNN, train: ImageData, test: ImageData, device, what: str, dataset: str,
                       verbose: bool) -> tuple[SmallCNN, float]:
    """``model`` with the weights cached at ``path``, or trained on ``train`` (and cached); its accuracy
    on ``test``. Eval mode, no gradients."""
    if path.is_file():
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            model.load_state_dict(state["model"])
            return model.to(device).eval().requires_grad_(False), float(state["accuracy"])
        except Exception:  # a stale or torn cache entry: retrain below and replace it
            pass
    t0 = time.perf_counter()
    if verbose:  # the first evaluation of a dataset trains for a minute or more: say so before, not after
        print(f"training {what} on {len(train):,} images, once (it is cached in {path}) ...", file=sys.stderr)
    _fit(model, train, torch.device(device), progress=verbose, desc=what)
    model.eval().requires_grad_(False)
    accuracy = _accuracy(model, test)
    save_checkpoint({"model": model.state_dict(), "accuracy": accuracy, "test_split_size": len(test),
                     "dataset": dataset, "recipe": RECIPE_VERSION}, path)
    if verbose:
        print(f"trained {what} in {time.perf_counter() - t0:.0f} s: "
              f"{100 * accuracy:.2f}% accuracy on {len(test)} held-out images", file=sys.stderr)
    return model, accuracy


@torch.enable_grad()  # callers may hold no_grad (e.g. read_stacked_digits); training needs autograd
def _fit(model: SmallCNN, data: ImageData, device: torch.device, batch_size: int = 128,
         steps: int | None = None, progress: bool = False, desc: str = "classifier") -> None:
    """Train ``model``; ``progress``: a progress bar on stderr (where stderr is a terminal)."""
    from tqdm.auto import tqdm

    n = len(data)
    # ~40 epochs of small sets (about 1,400 updates on the 4,500-image MNIST subset, 500 on the digits),
    # capped at 3,000 updates (~6 epochs of Fashion-MNIST).
    steps = steps or min(3000, max(300, 40 * n // batch_size))
    model.to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps, pct_start=0.15)
    g = torch.Generator().manual_seed(0)
    perm, pos = torch.randperm(n, generator=g), 0
    bar = tqdm(total=steps, desc=f"training {desc}", unit="step", leave=False,
               disable=None if progress else True)  # None: only on a terminal
    for _ in range(steps):
        if pos + batch_size > n:
            perm, pos = torch.randperm(n, generator=g), 0
        b = data.batch(perm[pos:pos + batch_size])
        x, y = b["x"], b["y"]
        pos += batch_size
        x = _random_shift(x, 2, g)
        _, logits = model(x.to(device))
        loss = F.cross_entropy(logits, y.to(device), label_smoothing=0.05)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        bar.update(1)
    bar.close()


@torch.no_grad()
def _accuracy(model: SmallCNN, data: ImageData, batch_size: int = 1000) -> float:
    device = next(model.parameters()).device
    correct = 0
    for s in range(0, len(data), batch_size):
        b = data.batch(torch.arange(s, min(s + batch_size, len(data))))
        x, y = b["x"], b["y"]
        correct += (model(x.to(device))[1].argmax(1).cpu() == y).sum().item()
    return correct / len(data)


# ---------------------------------------------------------------------------------------------------
# The domain classifier of a multi-domain dataset (StarGAN's evaluation)


@dataclass
class DomainClassifier:
    """A :class:`SmallCNN` trained on a dataset's domain codes, as joint domains (every valid code one
    class: colour × stroke = 6 for mnist-attributes): StarGAN's protocol scores translations by the
    error of a classifier trained on real images, read as their target domains, next to its error on
    real held-out images (2.12% against 0.45% on RaFD, Choi et al. 2018, Table 3)."""

    dataset: str
    model: SmallCNN
    groups: list
    error_real: float        # on held-out real images it never saw
    key: str

    @torch.no_grad()
    def error(self, images: torch.Tensor, codes: torch.Tensor, batch_size: int = 500) -> float:
        from ..games.stargan import joint_index

        want = joint_index(codes.cpu(), self.groups)
        device = next(self.model.parameters()).device
        got = torch.cat([self.model(images[s:s + batch_size].to(device, torch.float32))[1].argmax(1).cpu()
                         for s in range(0, len(images), batch_size)])
        return float((got != want).double().mean())

    def errors(self, images: torch.Tensor, codes: torch.Tensor) -> dict[str, float]:
        tag = f"classifier-domains:{self.dataset}"
        return {f"domain_err[{tag}]": self.error(images, codes), f"domain_err_real[{tag}]": self.error_real}


def domain_classifier_for(data_cfg: DataConfig, game, device: str | torch.device = "cpu",
                          verbose: bool = True) -> DomainClassifier:
    """The cached domain classifier of ``data_cfg``'s multi-domain dataset (trained first if needed), on
    the joint domains of ``game`` (a StarGAN game: its domain groups). Where the data has no test split,
    a fixed tenth of the train split is held out. Never disturbs the caller's random state."""
    import dataclasses

    from ..data import load_heldout
    from ..games.stargan import joint_index

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        res = _resolution_for(data_cfg)
        train = load_data(dataclasses.replace(data_cfg, split="train"))
        test = load_heldout(data_cfg)
        if getattr(train, "attributes", None) is None:
            raise GankitError(f"domains: {data_cfg.name!r} has no domain codes to train a domain classifier on")
        if test is None:
            perm = torch.randperm(len(train), generator=torch.Generator().manual_seed(0))
            cut = max(1, len(train) // 10)
            train, test = train.subset(perm[cut:]), train.subset(perm[:cut])
        K = len(game.codes)  # every valid code is one joint domain
        tr = ImageData(f"{data_cfg.name}:domains", train.images, joint_index(train.attributes, game.groups), K)
        te = ImageData(f"{data_cfg.name}:domains", test.images, joint_index(test.attributes, game.groups), K)
        key = _data_key(tr, te, res) + "-domains"
        path = cache_dir("classifiers") / f"{data_cfg.name}-domains-{key}.pt"
        model, accuracy = _cached_or_trained(path, SmallCNN(tr.shape[0], K, res), tr, te, device,
                                             f"the domain classifier of {data_cfg.name}", data_cfg.name, verbose)
        return DomainClassifier(data_cfg.name, model, game.groups, 1 - accuracy, key)
