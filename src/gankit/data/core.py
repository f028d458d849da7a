"""In-memory datasets that yield named batches, and a resumable, shardable batch sampler.

Every dataset the trainer reads has the same small interface:

- ``streams``: ``{stream name: number of items}``. Most datasets are one stream (``"data"``); an
  unpaired dataset has two independently shuffled streams ``"A"`` and ``"B"``.
- ``take(indices)``: ``{stream: index tensor}`` -> a named batch, a dict of tensors in [-1, 1] (images)
  or integer codes: ``{"x", "y"}`` for class data, ``{"A", "B"}`` (and ``"y"``) for paired data,
  ``{"A", "B"}`` drawn from the two independent streams of unpaired data (and ``"y_A"``/``"y_B"``
  when its sides are labelled, for evaluation only), ``{"x", "domain"}`` for multi-domain data.
  Data with a domain code per image (:attr:`ImageData.attributes`: StarGAN's multi-hot attributes
  or one-hot domains) add ``"attrs"``, float32 (B, k) in {0, 1}: ``{"x", "domain", "attrs"}`` for
  the ``domains`` source, ``{"x", "y", "attrs"}`` for ``mnist-attributes``.
- ``to(device)``; ``shapes``: ``{key: sample shape}`` of the image-like keys.

Synthetic tasks whose true translations are known also carry them, for evaluation only (never in a
batch): :attr:`UnpairedData.a_counterpart`/``b_counterpart`` (the true image of each test item in
the other domain) and :attr:`ImageData.render` (the true image of an item with any domain code).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import torch
import torch.nn.functional as F

from ..errors import DataError


def to_unit_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float32 [-1, 1]."""
    return images.float().mul_(2.0 / 255.0).sub_(1.0)


class Renderer:
    """``render(indices, codes)`` of an :class:`ImageData`, kept valid through ``subset()`` and ``to()``.

    Wraps ``fn(indices (n,) int64, codes (n, k) float32) -> uint8 (n, C, H, W)`` (both arguments and
    the result on the CPU, ``indices`` into the dataset the function was made for): ``index`` maps
    the indices of a subset to those of that dataset, ``device`` is where the images are returned."""

    def __init__(self, fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                 index: torch.Tensor | None = None, device: torch.device | str | None = None):
        self.fn, self.index, self.device = fn, index, device

    def __call__(self, indices: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        indices = torch.as_tensor(indices).detach().to("cpu", torch.int64).reshape(-1)
        codes = torch.as_tensor(codes).detach().to("cpu", torch.float32)
        if codes.dim() != 2 or codes.shape[0] != indices.shape[0]:
            raise ValueError(f"render wants codes (n, k) for n = {indices.shape[0]} indices, got {tuple(codes.shape)}")
        if self.index is not None:
            indices = self.index[indices]
        out = self.fn(indices, codes)
        return out.to(self.device) if self.device is not None else out

    def subset(self, idx: torch.Tensor) -> "Renderer":
        idx = torch.as_tensor(idx).detach().cpu()
        if idx.dtype == torch.bool:  # a mask, as ImageData.subset accepts
            idx = idx.nonzero()[:, 0]
        idx = idx.to(torch.int64).reshape(-1)
        return Renderer(self.fn, self.index[idx] if self.index is not None else idx, self.device)

    def to(self, device) -> "Renderer":
        return Renderer(self.fn, self.index, device)


@dataclass
class ImageData:
    """A whole dataset held in memory as uint8, so the training loop never decodes a file.

    ``images`` is (N, C, H, W) uint8; ``labels`` is (N,) int64 or None.

    Multi-domain data (StarGAN) also give each image a domain code: ``attributes`` (N, k) float32 in
    {0, 1}, named by ``attribute_names``; ``attribute_groups`` lists mutually exclusive groups of
    attribute indices (a group of one index is a binary attribute, a group of several is one-of-n:
    exactly one of them is set). ``render(indices (n,), codes (n, k)) -> uint8 (n, C, H, W)`` gives
    the true image of item ``indices[i]`` with the attributes ``codes[i]``, where that is known
    (synthetic tasks); it follows ``subset()`` and ``to()``.
    """

    name: str
    images: torch.Tensor
    labels: torch.Tensor | None = None
    num_classes: int | None = None
    label_key: str = "y"  # what batches call the labels: "y" (classes) or "domain"
    attributes: torch.Tensor | None = None
    attribute_names: tuple[str, ...] | None = None
    attribute_groups: tuple[tuple[int, ...], ...] | None = None
    render: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None

    def __post_init__(self):
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise ValueError(f"ImageData wants uint8 (N, C, H, W), got {self.images.dtype} {tuple(self.images.shape)}")
        if self.labels is not None and len(self.labels) != len(self.images):
            raise ValueError("labels and images differ in length")
        if self.attributes is not None:
            a = self.attributes
            if a.dtype != torch.float32 or a.dim() != 2 or len(a) != len(self.images):
                raise ValueError(f"ImageData wants attributes float32 (N, k) with N = {len(self.images)}, got "
                                 f"{a.dtype} {tuple(a.shape)}")
            k = a.shape[1]
            if self.attribute_names is not None and len(self.attribute_names) != k:
                raise ValueError(f"{len(self.attribute_names)} attribute names for {k} attributes")
            if self.attribute_groups is not None:
                flat = [i for g in self.attribute_groups for i in g]
                if any(not g for g in self.attribute_groups) or len(set(flat)) != len(flat) \
                        or any(not 0 <= i < k for i in flat):
                    raise ValueError(f"attribute_groups {self.attribute_groups} are not disjoint, non-empty "
                                     f"groups of indices below {k}")
        if self.render is not None and not isinstance(self.render, Renderer):
            self.render = Renderer(self.render)

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])  # (C, H, W)

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {"x": self.shape}

    @property
    def streams(self) -> dict[str, int]:
        return {"data": len(self)}

    def to(self, device) -> "ImageData":
        labels = self.labels.to(device) if self.labels is not None else None
        attributes = self.attributes.to(device) if self.attributes is not None else None
        render = self.render.to(device) if self.render is not None else None
        return replace(self, images=self.images.to(device), labels=labels, attributes=attributes, render=render)

    def batch(self, idx: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"x": images at idx as float32 in [-1, 1], "y": their labels, "attrs": their attributes}``
        (no "y" without labels, the labels called ``label_key``; no "attrs" without attributes)."""
        idx = idx.to(self.images.device)
        out = {"x": to_unit_range(self.images.index_select(0, idx))}
        if self.labels is not None:
            out[self.label_key] = self.labels.index_select(0, idx)
        if self.attributes is not None:
            out["attrs"] = self.attributes.index_select(0, idx)
        return out

    def take(self, indices: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return self.batch(indices["data"])

    def subset(self, idx: torch.Tensor) -> "ImageData":
        labels = self.labels[idx] if self.labels is not None else None
        attributes = self.attributes[idx] if self.attributes is not None else None
        render = self.render.subset(idx) if self.render is not None else None
        return replace(self, images=self.images[idx], labels=labels, attributes=attributes, render=render)


@dataclass
class PairedData:
    """Aligned pairs held as uint8: ``a[i]`` translates to ``b[i]`` (pix2pix's data).

    ``a`` (N, Ca, H, W) and ``b`` (N, Cb, H, W) uint8; ``labels`` (N,) int64 or None are the classes of
    the pairs (kept for evaluation: the dataset classifier's accuracy on the translations); ``names``
    the file names of the pairs when they came from files."""

    name: str
    a: torch.Tensor
    b: torch.Tensor
    labels: torch.Tensor | None = None
    num_classes: int | None = None
    names: list[str] | None = None

    def __post_init__(self):
        for side, t in (("A", self.a), ("B", self.b)):
            if t.dtype != torch.uint8 or t.dim() != 4:
                raise ValueError(f"PairedData wants uint8 (N, C, H, W) on side {side}, got {t.dtype} {tuple(t.shape)}")
        if len(self.a) != len(self.b) or self.a.shape[2:] != self.b.shape[2:]:
            raise ValueError(f"PairedData: sides differ: A {tuple(self.a.shape)}, B {tuple(self.b.shape)}")
        if self.labels is not None and len(self.labels) != len(self.a):
            raise ValueError("labels and pairs differ in length")

    def __len__(self) -> int:
        return self.a.shape[0]

    @property
    def shape(self) -> tuple[int, int, int]:
        """The target side's (C, H, W): what a translator produces."""
        return tuple(self.b.shape[1:])

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {"A": tuple(self.a.shape[1:]), "B": tuple(self.b.shape[1:])}

    @property
    def streams(self) -> dict[str, int]:
        return {"data": len(self)}

    def to(self, device) -> "PairedData":
        labels = self.labels.to(device) if self.labels is not None else None
        return PairedData(self.name, self.a.to(device), self.b.to(device), labels, self.num_classes, self.names)

    def batch(self, idx: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"A", "B"}`` at ``idx`` as float32 in [-1, 1] (and ``"y"``, the pairs' labels, if known)."""
        idx = idx.to(self.a.device)
        out = {"A": to_unit_range(self.a.index_select(0, idx)), "B": to_unit_range(self.b.index_select(0, idx))}
        if self.labels is not None:
            out["y"] = self.labels.index_select(0, idx)
        return out

    def take(self, indices: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return self.batch(indices["data"])

    def side(self, which: str) -> ImageData:
        """One side (``"A"`` or ``"B"``) as ImageData, with the pairs' labels."""
        return ImageData(f"{self.name}:{which}", self.a if which == "A" else self.b, self.labels, self.num_classes)

    def subset(self, idx: torch.Tensor) -> "PairedData":
        labels = self.labels[idx] if self.labels is not None else None
        names = [self.names[i] for i in idx.tolist()] if self.names is not None else None
        return PairedData(self.name, self.a[idx], self.b[idx], labels, self.num_classes, names)


@dataclass
class UnpairedData:
    """Two image sets with no correspondence (CycleGAN's data): streams ``"A"`` and ``"B"``, each
    shuffled on its own; a batch is ``{"A": ..., "B": ...}`` (plus ``"y_A"``/``"y_B"`` when labelled).

    Synthetic tasks whose true translation is known give it for their test split (never for train):
    ``a_counterpart`` (uint8, one image per A item) is each A item's true image in domain B,
    ``b_counterpart`` each B item's true image in domain A. They never enter a batch; evaluation
    reads them with :meth:`counterpart`."""

    name: str
    a: ImageData
    b: ImageData
    a_counterpart: torch.Tensor | None = None
    b_counterpart: torch.Tensor | None = None

    def __post_init__(self):
        if self.a.shape[1:] != self.b.shape[1:]:
            raise ValueError(f"UnpairedData: A is {self.a.shape}, B is {self.b.shape}: sizes differ")
        for which, t, side, other in (("a", self.a_counterpart, self.a, self.b),
                                      ("b", self.b_counterpart, self.b, self.a)):
            if t is not None and (t.dtype != torch.uint8 or tuple(t.shape) != (len(side), *other.shape)):
                raise ValueError(f"UnpairedData: {which}_counterpart must be uint8 {(len(side), *other.shape)} "
                                 f"(one image of the other side per item), got {t.dtype} {tuple(t.shape)}")

    def __len__(self) -> int:
        return max(len(self.a), len(self.b))

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.b.shape

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {"A": self.a.shape, "B": self.b.shape}

    @property
    def streams(self) -> dict[str, int]:
        return {"A": len(self.a), "B": len(self.b)}

    @property
    def num_classes(self) -> int | None:
        return self.a.num_classes

    def to(self, device) -> "UnpairedData":
        def move(t):
            return t.to(device) if t is not None else None

        return UnpairedData(self.name, self.a.to(device), self.b.to(device), move(self.a_counterpart),
                            move(self.b_counterpart))

    def take(self, indices: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        out = {}
        for side, data in (("A", self.a), ("B", self.b)):
            b = data.batch(indices[side])
            out[side] = b["x"]
            if data.label_key in b:
                out[f"y_{side}"] = b[data.label_key]
        return out

    def side(self, which: str) -> ImageData:
        return self.a if which == "A" else self.b

    def counterpart(self, which: str) -> torch.Tensor | None:
        """The true translations of side ``which``'s items (uint8, aligned with that side): ``"A"``
        gives each A item's image in domain B, ``"B"`` each B item's image in domain A; None where
        unknown (real data, training splits)."""
        if which not in ("A", "B"):
            raise ValueError(f"counterpart: which must be 'A' or 'B', got {which!r}")
        return self.a_counterpart if which == "A" else self.b_counterpart


def fit_images(images: torch.Tensor, resolution: int, channels: int, chunk: int = 2048) -> torch.Tensor:
    """Convert uint8 (N, C, H, W) to ``channels`` and centre-crop/resize to ``resolution``² (uint8)."""
    n, c, h, w = images.shape
    if c not in (1, 3):
        raise DataError(f"images have {c} channels; only 1 (grayscale) or 3 (RGB) are supported")
    if c == channels and h == w == resolution:
        return images.contiguous()
    out = torch.empty((n, channels, resolution, resolution), dtype=torch.uint8)
    for s in range(0, n, chunk):
        x = images[s:s + chunk].float()
        if c == 3 and channels == 1:
            x = (x * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
        elif c == 1 and channels == 3:
            x = x.expand(-1, 3, -1, -1)
        if h != w:  # centre crop to a square first
            side = min(h, w)
            top, left = (h - side) // 2, (w - side) // 2
            x = x[:, :, top:top + side, left:left + side]
        if x.shape[-1] != resolution:
            x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", align_corners=False,
                              antialias=x.shape[-1] > resolution)
        out[s:s + chunk] = x.round().clamp_(0, 255).to(torch.uint8)  # not round_: x may be an expand() view
    return out


class BatchSampler:
    """Reshuffles every epoch from (seed, epoch) alone, so its state is two integers.

    Under DistributedDataParallel each rank takes a disjoint slice ``perm[rank::world_size]`` of the
    same epoch permutation. Incomplete batches are dropped so every step sees ``batch_size`` images.
    """

    def __init__(self, n: int, batch_size: int, seed: int, rank: int = 0, world_size: int = 1):
        per_rank = n // world_size
        if per_rank < batch_size:
            raise DataError(f"the dataset has {n} images, fewer than one batch of {batch_size}"
                            + (f" per process ({world_size} processes)" if world_size > 1 else "")
                            + "; lower train.batch_size")
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.batches_per_epoch = per_rank // batch_size
        self.epoch, self.index = 0, 0
        self._perm: torch.Tensor | None = None

    def _permutation(self) -> torch.Tensor:
        if self._perm is None:
            g = torch.Generator().manual_seed((self.seed * 1_000_003 + self.epoch) % (2**63))
            perm = torch.randperm(self.n, generator=g)
            self._perm = perm[self.rank::self.world_size]
        return self._perm

    def next(self) -> torch.Tensor:
        if self.index >= self.batches_per_epoch:
            self.epoch, self.index, self._perm = self.epoch + 1, 0, None
        s = self.index * self.batch_size
        self.index += 1
        return self._permutation()[s:s + self.batch_size]

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "index": self.index}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.index, self._perm = int(state["epoch"]), int(state["index"]), None


class StreamSampler:
    """One :class:`BatchSampler` per stream of a dataset (``data.streams``), each with its own seed, so
    unpaired sides are shuffled independently; its state is two integers per stream."""

    def __init__(self, streams: dict[str, int], batch_size: int, seed: int, rank: int = 0, world_size: int = 1):
        order = sorted(streams)  # a stream's seed depends on its name, not on the dataset's order
        self.samplers = {name: BatchSampler(n, batch_size, seed + 7_919 * order.index(name), rank, world_size)
                         for name, n in streams.items()}

    def next(self) -> dict[str, torch.Tensor]:
        return {name: s.next() for name, s in self.samplers.items()}

    def state_dict(self) -> dict:
        return {name: s.state_dict() for name, s in self.samplers.items()}

    def load_state_dict(self, state: dict) -> None:
        for name, s in self.samplers.items():
            s.load_state_dict(state[name])
