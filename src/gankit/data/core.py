"""In-memory image sets and a resumable, shardable batch sampler."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..errors import DataError


def to_unit_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float32 [-1, 1]."""
    return images.float().mul_(2.0 / 255.0).sub_(1.0)


@dataclass
class ImageData:
    """A whole dataset held in memory as uint8, so the training loop never decodes a file.

    ``images`` is (N, C, H, W) uint8; ``labels`` is (N,) int64 or None.
    """

    name: str
    images: torch.Tensor
    labels: torch.Tensor | None = None
    num_classes: int | None = None

    def __post_init__(self):
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise ValueError(f"ImageData wants uint8 (N, C, H, W), got {self.images.dtype} {tuple(self.images.shape)}")
        if self.labels is not None and len(self.labels) != len(self.images):
            raise ValueError("labels and images differ in length")

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])  # (C, H, W)

    def to(self, device) -> "ImageData":
        labels = self.labels.to(device) if self.labels is not None else None
        return ImageData(self.name, self.images.to(device), labels, self.num_classes)

    def batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Images at ``idx`` as float32 in [-1, 1] (and their labels)."""
        idx = idx.to(self.images.device)
        x = to_unit_range(self.images.index_select(0, idx))
        y = self.labels.index_select(0, idx) if self.labels is not None else None
        return x, y


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
