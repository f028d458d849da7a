"""The fully connected GAN of Goodfellow et al. (2014) in PyTorch-GAN's layout (the seed's code).

G: z -> w -> 2w -> 4w -> 8w -> C*H*W, BatchNorm on all but the first hidden layer, LeakyReLU(0.2),
tanh out (w = 128 gives the seed's 100 -> 128 -> 256 -> 512 -> 1024 -> 784).
D: C*H*W -> 4w -> 2w -> 1 with LeakyReLU(0.2) (w = 128 gives 784 -> 512 -> 256 -> 1); it returns
logits, the sigmoid lives in the objective.

One deliberate difference from PyTorch-GAN: it writes ``BatchNorm1d(n, 0.8)``, which sets eps = 0.8
(the positional argument is eps, not momentum); gankit uses BatchNorm's default eps.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn

from . import DISCRIMINATORS, GENERATORS
from ._util import MinibatchStd, unconditional


@GENERATORS.register("mlp")
class MLPGenerator(nn.Module):
    def __init__(self, latent_dim: int, shape: tuple[int, int, int], width: int = 128, norm: str = "batch"):
        super().__init__()
        self.latent_dim, self.shape = latent_dim, tuple(shape)
        dims = [latent_dim, width, 2 * width, 4 * width, 8 * width]
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
            layers.append(nn.Linear(a, b))
            if i > 0 and norm == "batch":
                layers.append(nn.BatchNorm1d(b))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
        layers += [nn.Linear(dims[-1], math.prod(self.shape)), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        unconditional(y, "MLPGenerator")
        return self.net(z).view(z.shape[0], *self.shape)  # (B, C, H, W)


@DISCRIMINATORS.register("mlp")
class MLPDiscriminator(nn.Module):
    def __init__(self, shape: tuple[int, int, int], width: int = 128, norm: str = "none",
                 minibatch_std: bool = False):
        super().__init__()
        self.shape = tuple(shape)  # the seed's D has no normalisation; ``norm`` is accepted for a uniform interface
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(math.prod(self.shape), 4 * width), nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(4 * width, 2 * width), nn.LeakyReLU(0.2, inplace=True),
            *([MinibatchStd()] if minibatch_std else []),
            nn.Linear(2 * width + minibatch_std, 1),
        )

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        unconditional(y, "MLPDiscriminator")
        return self.net(x).squeeze(1)  # (B,) logits

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last hidden activations (before any minibatch-std layer): (B, 2 * width)."""
        for m in self.net[:-1]:
            if not isinstance(m, MinibatchStd):
                x = m(x)
        return x

    def head(self, features: torch.Tensor) -> torch.Tensor:
        """The logits (B,) of :meth:`features` (a D without a minibatch-std layer): forward = head(features)."""
        return self.net[-1](features).squeeze(1)
