"""Least-squares GAN (Mao et al. 2017).

discriminator: L_D = 1/2 E (D(x) - b)^2 + 1/2 E (D(G(z)) - a)^2
generator:     L_G = 1/2 E (D(G(z)) - c)^2
``loss.ls_targets`` = (a, b, c). The default (0, 1, 1) is the 0-1 coding the paper trains with;
(-1, 1, 0) satisfies b - c = 1, b - a = 2, under which the game minimises the Pearson chi^2
divergence between p_data + p_g and 2 p_g (the paper's Theorem 1).
"""
from __future__ import annotations

import torch

from ..config import LossConfig
from . import OBJECTIVES


@OBJECTIVES.register("lsgan")
class LeastSquares:
    def __init__(self, cfg: LossConfig | None = None, targets: tuple[float, float, float] | None = None):
        self.a, self.b, self.c = targets or (cfg.ls_targets if cfg is not None else (0.0, 1.0, 1.0))

    def d_loss(self, *, real_out: torch.Tensor, fake_out: torch.Tensor) -> torch.Tensor:
        return 0.5 * (real_out - self.b).pow(2).mean() + 0.5 * (fake_out - self.a).pow(2).mean()

    def g_loss(self, *, fake_out: torch.Tensor, real_out: torch.Tensor | None = None) -> torch.Tensor:
        return 0.5 * (fake_out - self.c).pow(2).mean()

    def prob(self, out: torch.Tensor) -> None:
        return None
