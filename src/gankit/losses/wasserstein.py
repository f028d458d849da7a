"""Wasserstein GAN (Arjovsky et al. 2017): the critic's output is a score, not a probability.

critic:    L_D = E D(G(z)) - E D(x)      (minimising it maximises E D(x) - E D(G(z)), the W1 estimate)
generator: L_G = -E D(G(z))
The critic must be kept (roughly) 1-Lipschitz: weight clipping (``penalty.clip``), a gradient
penalty (``penalty.gp``, WGAN-GP) or spectral normalisation (``model.d.spectral_norm``).
"""
from __future__ import annotations

import torch

from ..config import LossConfig
from . import OBJECTIVES


@OBJECTIVES.register("wasserstein")
class Wasserstein:
    def __init__(self, cfg: LossConfig | None = None):
        pass

    def d_loss(self, *, real_out: torch.Tensor, fake_out: torch.Tensor) -> torch.Tensor:
        return fake_out.mean() - real_out.mean()

    def g_loss(self, *, fake_out: torch.Tensor, real_out: torch.Tensor | None = None) -> torch.Tensor:
        return -fake_out.mean()

    def prob(self, out: torch.Tensor) -> None:
        return None
