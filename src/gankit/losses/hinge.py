"""Hinge loss (Lim & Ye 2017; Miyato et al. 2018, SNGAN; BigGAN).

discriminator: L_D = E relu(1 - D(x)) + E relu(1 + D(G(z)))   (real pushed above +1, fake below -1)
generator:     L_G = -E D(G(z))
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..config import LossConfig
from . import OBJECTIVES


@OBJECTIVES.register("hinge")
class Hinge:
    def __init__(self, cfg: LossConfig | None = None):
        pass

    def d_loss(self, *, real_out: torch.Tensor, fake_out: torch.Tensor) -> torch.Tensor:
        return F.relu(1.0 - real_out).mean() + F.relu(1.0 + fake_out).mean()

    def g_loss(self, *, fake_out: torch.Tensor, real_out: torch.Tensor | None = None) -> torch.Tensor:
        return -fake_out.mean()

    def prob(self, out: torch.Tensor) -> None:
        return None
