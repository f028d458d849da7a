"""f-GAN (Nowozin, Cseke & Tomioka 2016): variational estimation of any f-divergence D_f(P || Q).

With the discriminator's raw output v, the output activation g_f and the convex conjugate f*,
    F(theta, w) = E_P[g_f(v(x))] - E_Q[f*(g_f(v(G(z))))]
the discriminator maximises F (L_D = -F) and the generator uses the paper's non-saturating
alternative, maximising E_Q[g_f(v(G(z)))] (L_G = -E_Q[g_f(v)]). Table 2 / Table 6 of the paper:

divergence          g_f(v)                 f*(t)                  f*(g_f(v)), simplified
kl                  v                      exp(t - 1)             exp(v - 1)
reverse-kl          -exp(-v)               -1 - log(-t)           v - 1
pearson             v                      t^2/4 + t              v^2/4 + v
squared-hellinger   1 - exp(-v)            t / (1 - t)            exp(v) - 1
js                  log 2 - log(1+e^-v)    -log(2 - exp(t))       softplus(v) - log 2
gan                 -log(1 + e^-v)         -log(1 - exp(t))       softplus(v)

Both compositions are written in their simplified forms, which stay finite where the textbook
forms overflow (e.g. log(-(-exp(-v))) for reverse KL). Exponentials are evaluated at arguments
clamped to +-MAX_EXP so that float32 stays finite at any output; beyond it (e^50 ~ 5e21) the
divergence estimate has long stopped being informative.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

from ..config import LossConfig
from . import OBJECTIVES

MAX_EXP = 50.0
LOG2 = math.log(2.0)


def _exp(v: torch.Tensor) -> torch.Tensor:
    return torch.exp(v.clamp(-MAX_EXP, MAX_EXP))


# name -> (g_f(v), f*(g_f(v)))
DIVERGENCES: dict[str, tuple[Callable, Callable]] = {
    "kl": (lambda v: v, lambda v: _exp(v - 1.0)),
    "reverse-kl": (lambda v: -_exp(-v), lambda v: v - 1.0),
    "pearson": (lambda v: v, lambda v: 0.25 * v * v + v),
    "squared-hellinger": (lambda v: 1.0 - _exp(-v), lambda v: _exp(v) - 1.0),
    "js": (lambda v: LOG2 - F.softplus(-v), lambda v: F.softplus(v) - LOG2),
    "gan": (lambda v: -F.softplus(-v), lambda v: F.softplus(v)),
}


@OBJECTIVES.register("fgan")
class FGAN:
    def __init__(self, cfg: LossConfig | None = None, divergence: str | None = None):
        self.divergence = divergence or (cfg.divergence if cfg is not None else "js")
        self.activation, self.conjugate = DIVERGENCES[self.divergence]

    def variational_bound(self, real_out: torch.Tensor, fake_out: torch.Tensor) -> torch.Tensor:
        """F = E_P g_f(v) - E_Q f*(g_f(v)): a lower bound on D_f(P || Q), tight at the optimal v."""
        return self.activation(real_out).mean() - self.conjugate(fake_out).mean()

    def d_loss(self, *, real_out: torch.Tensor, fake_out: torch.Tensor) -> torch.Tensor:
        return -self.variational_bound(real_out, fake_out)

    def g_loss(self, *, fake_out: torch.Tensor, real_out: torch.Tensor | None = None) -> torch.Tensor:
        return -self.activation(fake_out).mean()

    def prob(self, out: torch.Tensor) -> torch.Tensor | None:
        return torch.sigmoid(out) if self.divergence == "gan" else None
