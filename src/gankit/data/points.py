"""2-D Gaussian mixtures for measuring mode collapse: the 8-mode ring and the 25-mode grid.

Both come from the mode-collapse literature (VEEGAN, Srivastava et al. 2017; PacGAN, Lin et al.
2018): ``ring8`` has 8 means at angles 2πk/8 on a circle of radius 1, std 0.01; ``grid25`` has its
means at {-4, -2, 0, 2, 4}², std 0.05. Every mode has the same weight.

The data is a fixed, seeded set of :data:`POINTS_PER_SPLIT` points rather than fresh draws, so the
trainer's resumable sampler (two integers of state) works unchanged and a run resumes bit-exactly.
With 100,000 points (12,500 per ring mode) and a reshuffle every epoch, D essentially never sees the
same batch twice, and the empirical mixture is indistinguishable from the true one at the scale of
a 2-D MLP. Points are in the mixture's own units (the grid spans ±4), not rescaled to [-1, 1]:
the metrics are defined in those units, so the 2-D networks have a linear output.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

POINTS_PER_SPLIT = 100_000


@dataclass(frozen=True)
class Mixture:
    """An equal-weight mixture of isotropic Gaussians: ``means`` (K, 2), one shared ``std``."""
    name: str
    means: torch.Tensor
    std: float

    @property
    def num_modes(self) -> int:
        return self.means.shape[0]

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` points (n, 2) float32 and the index of the mode each was drawn from (n,) int64."""
        k = torch.randint(0, self.num_modes, (n,), generator=generator)
        x = self.means[k] + self.std * torch.randn(n, self.means.shape[1], generator=generator, dtype=torch.float64)
        return x.float(), k


def ring(num_modes: int = 8, radius: float = 1.0, std: float = 0.01) -> Mixture:
    angles = 2 * math.pi * torch.arange(num_modes, dtype=torch.float64) / num_modes
    return Mixture(f"ring{num_modes}", radius * torch.stack([angles.cos(), angles.sin()], 1), std)


def grid(side: int = 5, spacing: float = 2.0, std: float = 0.05) -> Mixture:
    axis = spacing * (torch.arange(side, dtype=torch.float64) - (side - 1) / 2)  # -4, -2, 0, 2, 4
    gx, gy = torch.meshgrid(axis, axis, indexing="ij")
    return Mixture(f"grid{side * side}", torch.stack([gx.flatten(), gy.flatten()], 1), std)


MIXTURES = {"ring8": ring(), "grid25": grid()}


@dataclass
class PointData:
    """A point set with the trainer's data interface (``ImageData``'s, for flat float samples).

    ``points`` is (N, D) float32; ``labels`` (N,) int64 is the index of the mode each point was
    drawn from; ``means``/``std`` describe the true mixture, for the metrics and the scatter plots.
    """

    name: str
    points: torch.Tensor
    labels: torch.Tensor
    means: torch.Tensor
    std: float

    def __post_init__(self):
        if self.points.dtype != torch.float32 or self.points.dim() != 2:
            raise ValueError(f"PointData wants float32 (N, D), got {self.points.dtype} {tuple(self.points.shape)}")
        if len(self.labels) != len(self.points):
            raise ValueError("labels and points differ in length")

    def __len__(self) -> int:
        return self.points.shape[0]

    @property
    def shape(self) -> tuple[int]:
        return (self.points.shape[1],)  # (D,)

    @property
    def num_classes(self) -> int:
        return self.means.shape[0]

    def to(self, device) -> "PointData":
        return PointData(self.name, self.points.to(device), self.labels.to(device), self.means, self.std)

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {"x": self.shape}

    @property
    def streams(self) -> dict[str, int]:
        return {"data": len(self)}

    def batch(self, idx: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"x": points at idx (B, D), "y": the modes they were drawn from (B,)}``."""
        idx = idx.to(self.points.device)
        return {"x": self.points.index_select(0, idx), "y": self.labels.index_select(0, idx)}

    def take(self, indices: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return self.batch(indices["data"])


def mixture_points(mixture: Mixture, split: str, n: int = POINTS_PER_SPLIT) -> PointData:
    """The fixed point set of a split: train, test (an independent draw) or all (both)."""
    seeds = {"train": 0, "test": 1}
    parts = ["train", "test"] if split == "all" else [split]
    xs, ys = [], []
    for p in parts:
        x, y = mixture.sample(n, torch.Generator().manual_seed(1000 + seeds[p]))
        xs.append(x)
        ys.append(y)
    return PointData(mixture.name, torch.cat(xs), torch.cat(ys), mixture.means.float(), mixture.std)
