"""DCGAN (Radford, Metz & Chintala 2016) for any resolution 4·2^k or 7·2^k (16, 28, 32, 64, 128, ...).

G projects z to a (base x base) map with a transposed convolution, then doubles the resolution with
stride-2 4x4 transposed convolutions while halving the channels, ending in tanh. D mirrors it with
stride-2 4x4 convolutions and a final (base x base) convolution to one logit. No pooling, BatchNorm
everywhere except G's output and D's input layers, ReLU in G, LeakyReLU(0.2) in D, weights from
N(0, 0.02) as in the paper. ``width`` is the channel count next to the image (ngf / ndf); the widest
layer has width·2^(k-1) channels, e.g. 64 px, width 64: 512 -> 256 -> 128 -> 64 -> C.
``norm="none"`` drops BatchNorm (for a WGAN-GP or spectrally normalised critic); its convolutions
then get biases.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from . import DISCRIMINATORS, GENERATORS
from ._util import MinibatchStd, unconditional


def _layout(resolution: int) -> tuple[int, int]:
    """(base, number of 2x stages) for a resolution, e.g. 28 -> (7, 2), 64 -> (4, 4)."""
    for base in (4, 7):
        k, r = 0, resolution
        while r > base and r % 2 == 0:
            r, k = r // 2, k + 1
        if r == base and k >= 1:
            return base, k
    raise ValueError(f"DCGAN supports resolutions 4·2^k or 7·2^k (8, 14, 16, 28, 32, 56, 64, 128, ...), "
                     f"not {resolution}")


def _norm(channels: int, on: bool) -> list[nn.Module]:
    return [nn.BatchNorm2d(channels)] if on else []


def dcgan_init(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


@GENERATORS.register("dcgan")
class DCGANGenerator(nn.Module):
    def __init__(self, latent_dim: int, shape: tuple[int, int, int], width: int = 64, norm: str = "batch"):
        super().__init__()
        c, h, w = shape
        if h != w:
            raise ValueError(f"DCGAN wants square images, got {h}x{w}")
        self.latent_dim, self.shape = latent_dim, tuple(shape)
        base, stages = _layout(h)
        ch = width * 2 ** (stages - 1)
        bn = norm == "batch"
        layers: list[nn.Module] = [nn.ConvTranspose2d(latent_dim, ch, base, 1, 0, bias=not bn), *_norm(ch, bn),
                                   nn.ReLU(True)]
        for _ in range(stages - 1):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=not bn), *_norm(ch // 2, bn), nn.ReLU(True)]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, c, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        unconditional(y, "DCGANGenerator")
        return self.net(z.view(z.shape[0], self.latent_dim, 1, 1))  # (B, C, H, W)


@DISCRIMINATORS.register("dcgan")
class DCGANDiscriminator(nn.Module):
    def __init__(self, shape: tuple[int, int, int], width: int = 64, norm: str = "batch",
                 minibatch_std: bool = False):
        super().__init__()
        c, h, w = shape
        if h != w:
            raise ValueError(f"DCGAN wants square images, got {h}x{w}")
        self.shape = tuple(shape)
        base, stages = _layout(h)
        bn = norm == "batch"
        layers: list[nn.Module] = [nn.Conv2d(c, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        ch = width
        for _ in range(stages - 1):
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=not bn), *_norm(ch * 2, bn), nn.LeakyReLU(0.2, True)]
            ch *= 2
        if minibatch_std:
            layers.append(MinibatchStd())
        layers.append(nn.Conv2d(ch + minibatch_std, 1, base, 1, 0))
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        unconditional(y, "DCGANDiscriminator")
        return self.net(x).flatten()  # (B,) logits

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last hidden activations (before any minibatch-std layer), flattened: (B, F)."""
        body = [m for m in self.net[:-1] if not isinstance(m, MinibatchStd)]
        for m in body:
            x = m(x)
        return x.flatten(1)

    def head(self, features: torch.Tensor) -> torch.Tensor:
        """The logits (B,) of :meth:`features` (a D without a minibatch-std layer): forward = head(features)."""
        last = self.net[-1]
        return last(features.view(len(features), last.in_channels, *last.kernel_size)).flatten()
