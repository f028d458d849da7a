"""Fully connected G and D for low-dimensional data (the 2-D ring and grid), after PacGAN's.

PacGAN (Lin et al. 2018, §5.1, following VEEGAN's setup): G has four hidden layers of 400 units
with ReLU and batch normalisation; D has three hidden layers of 200 units (PacGAN uses linear
maxout with 5 pieces; gankit uses LeakyReLU(0.2), which the paper lists as an option and which is
cheaper), no normalisation. ``width`` is the hidden width (400 for G, 200 for D in the presets).
G's output is linear, not tanh: 2-D mixtures live in their own units (the grid spans ±4).
Any sample shape works; samples are flattened for D and G's output is reshaped to ``shape``.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn

from . import DISCRIMINATORS, GENERATORS
from ._util import MinibatchStd, unconditional

G_LAYERS, D_LAYERS = 4, 3


@GENERATORS.register("toy")
class ToyGenerator(nn.Module):
    def __init__(self, latent_dim: int, shape: tuple[int, ...], width: int = 400, norm: str = "batch"):
        super().__init__()
        self.latent_dim, self.shape = latent_dim, tuple(shape)
        layers: list[nn.Module] = []
        d = latent_dim
        for _ in range(G_LAYERS):
            layers += [nn.Linear(d, width, bias=norm != "batch")]  # a bias before BatchNorm cancels out
            layers += [nn.BatchNorm1d(width)] if norm == "batch" else []
            layers += [nn.ReLU(inplace=True)]
            d = width
        layers.append(nn.Linear(width, math.prod(self.shape)))
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        unconditional(y, "ToyGenerator")
        return self.net(z).view(z.shape[0], *self.shape)  # (B, *shape)


@DISCRIMINATORS.register("toy")
class ToyDiscriminator(nn.Module):
    def __init__(self, shape: tuple[int, ...], width: int = 200, norm: str = "none", minibatch_std: bool = False):
        super().__init__()
        self.shape = tuple(shape)  # no normalisation in D, as in PacGAN; ``norm`` kept for a uniform interface
        layers: list[nn.Module] = [nn.Flatten()]
        d = math.prod(self.shape)
        for _ in range(D_LAYERS):
            layers += [nn.Linear(d, width), nn.LeakyReLU(0.2, inplace=True)]
            d = width
        if minibatch_std:
            layers.append(MinibatchStd())
        layers.append(nn.Linear(width + minibatch_std, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        unconditional(y, "ToyDiscriminator")
        return self.net(x).squeeze(1)  # (B,) logits

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last hidden activations (before any minibatch-std layer): (B, width)."""
        for m in self.net[:-1]:
            if not isinstance(m, MinibatchStd):
                x = m(x)
        return x

    def head(self, features: torch.Tensor) -> torch.Tensor:
        """The logits (B,) of :meth:`features` (a D without a minibatch-std layer): forward = head(features)."""
        return self.net[-1](features).squeeze(1)
