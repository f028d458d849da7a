"""ResNet generator and discriminator of SNGAN (Miyato et al. 2018, appendix B.4) and WGAN-GP
(Gulrajani et al. 2017), for 32 px (CIFAR layout) and 28 px (MNIST family), or any 4·2^k / 7·2^k.

G: z -> linear to (width, base, base) -> k up-blocks [BN-ReLU-upsample-conv3x3-BN-ReLU-conv3x3,
shortcut upsample-conv1x1] -> BN-ReLU-conv3x3 -> tanh.
D: an "optimized" first down-block [conv3x3-ReLU-conv3x3-avgpool, shortcut avgpool-conv1x1], k-2
down-blocks [ReLU-conv-ReLU-conv-avgpool], two plain blocks, ReLU, global sum pooling, linear -> logit.
D has no normalisation layers (use ``model.d.spectral_norm=true`` for SNGAN); ``width`` is the
channel count of every block (SNGAN's CIFAR nets: G 256, D 128).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import DISCRIMINATORS, GENERATORS
from ._util import MinibatchStd, unconditional
from .dcgan import _layout


class _UpBlock(nn.Module):
    def __init__(self, cin: int, cout: int, bn: bool):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin) if bn else nn.Identity()
        self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1)
        self.bn2 = nn.BatchNorm2d(cout) if bn else nn.Identity()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1)
        self.skip = nn.Conv2d(cin, cout, 1)

    def forward(self, x):
        h = F.interpolate(F.relu(self.bn1(x)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h))))
        return h + self.skip(F.interpolate(x, scale_factor=2, mode="nearest"))


class _DownBlock(nn.Module):
    def __init__(self, cin: int, cout: int, down: bool, first: bool = False):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1)
        self.skip = nn.Conv2d(cin, cout, 1) if (cin != cout or down) else nn.Identity()
        self.down, self.first = down, first

    def forward(self, x):
        h = x if self.first else F.relu(x)  # the optimized first block sees the raw image
        h = self.conv2(F.relu(self.conv1(h)))
        if self.down:
            h = F.avg_pool2d(h, 2)
        s = x
        if self.first:  # pool then project, as in SNGAN's OptimizedBlock
            s = self.skip(F.avg_pool2d(s, 2))
        else:
            s = self.skip(s)
            if self.down:
                s = F.avg_pool2d(s, 2)
        return h + s


@GENERATORS.register("resnet")
class ResNetGenerator(nn.Module):
    def __init__(self, latent_dim: int, shape: tuple[int, int, int], width: int = 128, norm: str = "batch"):
        super().__init__()
        c, h, w = shape
        if h != w:
            raise ValueError(f"ResNet G wants square images, got {h}x{w}")
        self.latent_dim, self.shape, self.width = latent_dim, tuple(shape), width
        self.base, stages = _layout(h)
        bn = norm == "batch"
        self.linear = nn.Linear(latent_dim, width * self.base * self.base)
        self.blocks = nn.Sequential(*[_UpBlock(width, width, bn) for _ in range(stages)])
        self.out = nn.Sequential(nn.BatchNorm2d(width) if bn else nn.Identity(), nn.ReLU(),
                                 nn.Conv2d(width, c, 3, 1, 1), nn.Tanh())

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        unconditional(y, "ResNetGenerator")
        h = self.linear(z).view(z.shape[0], self.width, self.base, self.base)
        return self.out(self.blocks(h))  # (B, C, H, W)


@DISCRIMINATORS.register("resnet")
class ResNetDiscriminator(nn.Module):
    def __init__(self, shape: tuple[int, int, int], width: int = 128, norm: str = "none",
                 minibatch_std: bool = False):
        super().__init__()
        c, h, w = shape
        if h != w:
            raise ValueError(f"ResNet D wants square images, got {h}x{w}")
        if norm != "none":
            raise ValueError("the ResNet discriminator has no normalisation layers; use model.d.norm=none "
                             "(and model.d.spectral_norm=true for SNGAN)")
        self.shape = tuple(shape)
        _, stages = _layout(h)
        blocks = [_DownBlock(c, width, down=True, first=True)]
        blocks += [_DownBlock(width, width, down=True) for _ in range(max(0, stages - 2))]
        blocks += [_DownBlock(width, width, down=False) for _ in range(2)]
        self.blocks = nn.Sequential(*blocks)
        self.mbstd = MinibatchStd() if minibatch_std else nn.Identity()
        self.linear = nn.Linear(width + minibatch_std, 1)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        unconditional(y, "ResNetDiscriminator")
        return self.linear(self.mbstd(self.features(x))).squeeze(1)  # (B,) logits

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Globally sum-pooled activations of the last block: (B, width)."""
        return F.relu(self.blocks(x)).sum((2, 3))

    def head(self, features: torch.Tensor) -> torch.Tensor:
        """The logits (B,) of :meth:`features` (a D without a minibatch-std layer): forward = head(features)."""
        return self.linear(features).squeeze(1)
