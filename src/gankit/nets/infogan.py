"""InfoGAN's MNIST networks (Chen et al. 2016, appendix C.1, table 1), for any resolution 4·2^k or 7·2^k.

G: FC 1024, BN, ReLU -> FC base x base x 2^(k-1)·width, BN, ReLU -> stride-2 4x4 transposed convolutions
(BN, ReLU) halving the channels -> C channels, tanh. D: stride-2 4x4 convolutions, LeakyReLU(0.1), BN
from the second on -> FC 1024, BN, LeakyReLU(0.1) -> FC 1. At 28 px and width 64 this is the paper's
table: 74 -> 1024 -> 7x7x128 -> 14x14x64 -> 28x28x1, and 28x28 -> 64 -> 128 -> 1024 -> 1. The fully
connected layers are the difference from DCGAN: the code passes a non-linearity before the first
spatial layer, and Q reads D's 1024 hidden units (``features``).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from . import DISCRIMINATORS, GENERATORS
from ._util import unconditional
from .dcgan import _layout, dcgan_init

HIDDEN = 1024


def _bn1(n: int, on: bool) -> list[nn.Module]:
    return [nn.BatchNorm1d(n)] if on else []


def _bn2(n: int, on: bool) -> list[nn.Module]:
    return [nn.BatchNorm2d(n)] if on else []


@GENERATORS.register("infogan")
class InfoGANGenerator(nn.Module):
    def __init__(self, latent_dim: int, shape: tuple[int, int, int], width: int = 64, norm: str = "batch"):
        super().__init__()
        c, h, w = shape
        if h != w:
            raise ValueError(f"the InfoGAN nets want square images, got {h}x{w}")
        self.latent_dim, self.shape = latent_dim, tuple(shape)
        base, stages = _layout(h)
        bn = norm == "batch"
        ch = width * 2 ** (stages - 1)
        self.ch, self.base = ch, base
        self.fc = nn.Sequential(nn.Linear(latent_dim, HIDDEN, bias=not bn), *_bn1(HIDDEN, bn), nn.ReLU(True),
                                nn.Linear(HIDDEN, ch * base * base, bias=not bn), *_bn1(ch * base * base, bn),
                                nn.ReLU(True))
        layers: list[nn.Module] = []
        for _ in range(stages - 1):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=not bn), *_bn2(ch // 2, bn), nn.ReLU(True)]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, c, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        unconditional(y, "InfoGANGenerator")
        return self.net(self.fc(z.view(z.shape[0], self.latent_dim)).view(z.shape[0], self.ch, self.base, self.base))


@DISCRIMINATORS.register("infogan")
class InfoGANDiscriminator(nn.Module):
    def __init__(self, shape: tuple[int, int, int], width: int = 64, norm: str = "batch",
                 minibatch_std: bool = False):
        super().__init__()
        c, h, w = shape
        if h != w:
            raise ValueError(f"the InfoGAN nets want square images, got {h}x{w}")
        if minibatch_std:
            raise ValueError("the InfoGAN discriminator has no minibatch-std layer")
        self.shape = tuple(shape)
        base, stages = _layout(h)
        bn = norm == "batch"
        layers: list[nn.Module] = [nn.Conv2d(c, width, 4, 2, 1), nn.LeakyReLU(0.1, True)]
        ch = width
        for _ in range(stages - 1):
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=not bn), *_bn2(ch * 2, bn), nn.LeakyReLU(0.1, True)]
            ch *= 2
        layers += [nn.Flatten(), nn.Linear(ch * base * base, HIDDEN, bias=not bn), *_bn1(HIDDEN, bn),
                   nn.LeakyReLU(0.1, True)]
        self.body = nn.Sequential(*layers)
        self.out = nn.Linear(HIDDEN, 1)
        dcgan_init(self)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        unconditional(y, "InfoGANDiscriminator")
        return self.head(self.features(x))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The 1024 hidden units of the last fully connected layer: (B, 1024)."""
        return self.body(x)

    def head(self, features: torch.Tensor) -> torch.Tensor:
        """The logits (B,) of :meth:`features`: forward = head(features)."""
        return self.out(features).squeeze(1)
