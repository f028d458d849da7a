"""The mode-collapse data sources: ``ring8`` and ``grid25`` (2-D points) and ``stacked-mnist``.

Stacked MNIST (Metz et al. 2017, used by VEEGAN and PacGAN) stacks three MNIST digits as the R, G
and B channels of one image, so it has 10³ = 1,000 modes; the mode of an image is
100·d1 + 10·d2 + d3. Here the digits come from the MNIST subset of the ``mnist`` source (the
4,500-image train split for ``split=train``, the 500 held-out images for ``split=test``), drawn
uniformly at random with a fixed seed per split, so every digit triple is equally likely.
"""
from __future__ import annotations

import torch

from ..config import DataConfig
from ..errors import DataError
from .core import ImageData, fit_images
from .points import MIXTURES, PointData, mixture_points, POINTS_PER_SPLIT
from .sources import SOURCES, Source, _load_mnist, _locate_mnist

STACKED_SIZE = {"train": 50_000, "test": 5_000}


def _register_mixture(name: str) -> None:
    m = MIXTURES[name]

    def load(cfg: DataConfig) -> PointData:
        return mixture_points(m, cfg.split)

    def locate(cfg: DataConfig) -> str:
        return f"generated: {POINTS_PER_SPLIT:,} seeded points per split"

    SOURCES.register(name)(Source(
        name, f"2-D mixture of {m.num_modes} Gaussians (std {m.std}) as in VEEGAN/PacGAN: "
        + ("means on the unit circle at angles 2πk/8" if name.startswith("ring") else "means at {-4,-2,0,2,4}²"),
        load, locate, shape=lambda cfg: (2,)))


for _name in MIXTURES:
    _register_mixture(_name)


def stack_digits(images: torch.Tensor, labels: torch.Tensor, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` RGB images whose channels are three random digits of ``images`` (N, 1, H, W) uint8,
    and their modes 100·d1 + 10·d2 + d3."""
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, len(images), (n, 3), generator=g)           # (n, 3) one digit per channel
    x = images[:, 0][idx]                                               # (n, 3, H, W)
    y = (labels[idx] * torch.tensor([100, 10, 1])).sum(1)
    return x.contiguous(), y


def _load_stacked(cfg: DataConfig) -> ImageData:
    if cfg.channels != 3:
        raise DataError("stacked-mnist: its images have one digit per RGB channel; set data.channels=3")
    splits = ["train", "test"] if cfg.split == "all" else [cfg.split]
    xs, ys = [], []
    for i, split in enumerate(splits):
        digits = _load_mnist(DataConfig(name="mnist", split=split, resolution=28, channels=1))
        x, y = stack_digits(digits.images, digits.labels, STACKED_SIZE[split], seed=2018 + i)
        xs.append(x)
        ys.append(y)
    x = fit_images(torch.cat(xs), cfg.resolution, 3)
    return ImageData("stacked-mnist", x, torch.cat(ys), 1000)


SOURCES.register("stacked-mnist")(Source(
    "stacked-mnist", "three MNIST-subset digits stacked as RGB channels: 1,000 modes (Metz et al. 2017); "
    "50,000 seeded train / 5,000 test images", _load_stacked,
    lambda cfg: _locate_mnist(DataConfig(name="mnist"))))
