"""Objectives of the adversarial game, on discriminator logits.

Sign rule, everywhere in gankit: a higher discriminator output means "more real". Every objective
exposes ``d_loss(*, real_out, fake_out)`` and ``g_loss(*, fake_out, real_out=None)``, both minimised by
their player, and ``prob(out)``: D's output read as a probability of "real" where the objective has
one (for logging D(x) and D(G(z))), else None.
"""
from __future__ import annotations

from typing import Protocol

import torch

from ..config import LossConfig
from ..registry import Registry


class Objective(Protocol):
    def d_loss(self, *, real_out: torch.Tensor, fake_out: torch.Tensor) -> torch.Tensor: ...
    def g_loss(self, *, fake_out: torch.Tensor, real_out: torch.Tensor | None = None) -> torch.Tensor: ...
    def prob(self, out: torch.Tensor) -> torch.Tensor | None: ...


OBJECTIVES: Registry = Registry("objective")

from . import fgan, hinge, lsgan, wasserstein  # noqa: E402,F401  (register the objectives)
from .gan import (CrossEntropyGAN, G_COSTS, d_cross_entropy, g_max_likelihood, g_minimax,  # noqa: E402
                  g_non_saturating)


def build_objective(cfg: LossConfig) -> Objective:
    return OBJECTIVES.get(cfg.name, key="loss.name")(cfg)


__all__ = ["Objective", "OBJECTIVES", "build_objective", "CrossEntropyGAN", "G_COSTS", "d_cross_entropy",
           "g_minimax", "g_non_saturating", "g_max_likelihood"]
