"""The original GAN game (Goodfellow et al. 2014) and the three generator costs of Goodfellow's
NIPS 2016 tutorial, §3.2, written on D's logits l, where D(x) = sigmoid(l).

Discriminator (cross-entropy):   J_D = -E log D(x) - E log(1 - D(G(z)))
                                     = E softplus(-l_real) + E softplus(l_fake)
Generator costs:
  minimax (saturating)    J_G = E log(1 - D(G(z))) = -E softplus(l_fake)
      its gradient dJ/dl = -sigmoid(l) vanishes when D confidently rejects the samples (D(G(z)) -> 0),
      which is exactly the start of training.
  non-saturating          J_G = -E log D(G(z)) = E softplus(-l_fake)
      dJ/dl = sigmoid(l) - 1 -> -1 as D(G(z)) -> 0: strong gradient where it is needed.
  maximum likelihood      J_G = -1/2 E exp(sigmoid^-1(D(G(z)))) = -1/2 E exp(l_fake)
      with an optimal D this makes the expected gradient that of maximum likelihood (KL(p_data || p_g)).

softplus keeps everything finite at any logit; exp(l) is evaluated at min(l, MAX_LOGIT) so that the
maximum-likelihood cost stays finite in float32 (D(G(z)) = sigmoid(50) is already 1.0 there).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..config import LossConfig
from . import OBJECTIVES

MAX_LOGIT = 50.0


def d_cross_entropy(*, real_out: torch.Tensor, fake_out: torch.Tensor, real_target: float = 1.0) -> torch.Tensor:
    """Binary cross-entropy; ``real_target`` < 1 is one-sided label smoothing (fake targets stay 0)."""
    real_term = F.softplus(-real_out) if real_target == 1.0 else (
        real_target * F.softplus(-real_out) + (1.0 - real_target) * F.softplus(real_out))
    return real_term.mean() + F.softplus(fake_out).mean()


def g_minimax(*, fake_out: torch.Tensor) -> torch.Tensor:
    return -F.softplus(fake_out).mean()


def g_non_saturating(*, fake_out: torch.Tensor) -> torch.Tensor:
    return F.softplus(-fake_out).mean()


def g_max_likelihood(*, fake_out: torch.Tensor) -> torch.Tensor:
    return -0.5 * torch.exp(fake_out.clamp(max=MAX_LOGIT)).mean()


G_COSTS = {"minimax": g_minimax, "non-saturating": g_non_saturating, "max-likelihood": g_max_likelihood}


@OBJECTIVES.register("gan")
class CrossEntropyGAN:
    """D: binary cross-entropy; G: one of the three costs above (``loss.g_cost``)."""

    def __init__(self, cfg: LossConfig | None = None, g_cost: str | None = None, real_target: float = 1.0):
        self.g_cost = g_cost or (cfg.g_cost if cfg is not None else "non-saturating")
        self._g = G_COSTS[self.g_cost]
        self.real_target = real_target

    def d_loss(self, *, real_out: torch.Tensor, fake_out: torch.Tensor) -> torch.Tensor:
        return d_cross_entropy(real_out=real_out, fake_out=fake_out, real_target=self.real_target)

    def g_loss(self, *, fake_out: torch.Tensor, real_out: torch.Tensor | None = None) -> torch.Tensor:
        return self._g(fake_out=fake_out)

    def prob(self, out: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(out)
