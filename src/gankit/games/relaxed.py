"""Sequence GANs whose discriminator reads a differentiable stand-in for each token, so that its
gradient reaches the generator without reinforcement learning:

- ``gumbel`` (RelGAN, Nie, Narodytska & Patel 2019, after Jang et al. 2017 and Kusner & Hernandez-Lobato
  2016): G draws each token as argmax(o_t + g_t) with Gumbel noise g_t, which is an exact draw from
  softmax(o_t), and D reads softmax(β (o_t + g_t)), which tends to that one-hot as the inverse temperature β
  grows. β is annealed from 1 to ``game.beta_max`` over ``game.anneal_steps`` adversarial iterations (0:
  all of them), ``exp``: β_n = β_max^(n/N) (RelGAN's default) or ``linear``: β_n = 1 + (β_max - 1) n/N.
- ``softmax`` (the language model of WGAN-GP, Gulrajani et al. 2017, §5): D reads G's softmax outputs
  softmax(o_t) directly, real sequences as one-hots; with ``loss.name=wasserstein`` and ``penalty.gp``
  the critic's gradient penalty is taken between the one-hots and the softmaxes. With an autoregressive
  G (the paper's was convolutional and non-autoregressive) the next position reads a token drawn from
  softmax(o_t), which gives G its randomness.

Either way the gradient reaches G's weights through every position's logits o_t given the drawn prefix,
not through the draws themselves (RelGAN's straight-through choice for the next input). Any objective
applies (``loss.name``: gan, hinge, wasserstein, lsgan; ``penalty.gp``). Padding after a sequence's end
and the forced end at the last position are constant one-hots, as in the data.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from ..config import Config, ConfigError
from ..losses.penalties import gradient_penalty
from . import GAMES
from .base import DataInfo
from .sequence import SequenceGANGame, SequenceGANSettings


@dataclass
class GumbelSettings(SequenceGANSettings):
    name: str = "gumbel"
    beta_max: float = 100.0        # the last inverse temperature of the Gumbel-softmax (RelGAN: 100 on the oracle, 1000 on text)
    anneal: Literal["exp", "linear"] = "exp"  # β's schedule from 1 to beta_max
    anneal_steps: int = 0          # adversarial iterations over which β rises (0: all of them)
    shared_keys = ("penalty.gp",)

    def validate(self, cfg: Config) -> None:
        super().validate(cfg)
        if not self.beta_max >= 1:
            raise ConfigError(f"game.beta_max: {self.beta_max!r} must be >= 1")
        if self.anneal_steps < 0:
            raise ConfigError(f"game.anneal_steps: {self.anneal_steps!r} must be >= 0")


@dataclass
class SoftmaxSettings(SequenceGANSettings):
    name: str = "softmax"
    shared_keys = ("penalty.gp",)


class RelaxedSequenceGame(SequenceGANGame):
    mode = ""

    def __init__(self, cfg: Config, info: DataInfo, name: str):
        super().__init__(cfg, info, name)
        self.V = self.vocabulary.size

    def tau(self) -> float:
        return 1.0

    def _fake(self, n: int):
        return self.train_module("G")(relaxed=(n, self.mode, self.tau()))

    def d_loss(self, real):
        with torch.no_grad():
            _, fake = self._fake(real.shape[0])
        real = F.one_hot(real, self.V).float()
        D = self.train_module("D")
        real_out, fake_out = D(real), D(fake)
        loss = self.objective.d_loss(real_out=real_out, fake_out=fake_out)
        stats = self.d_stats(real_out, fake_out)
        if self.gp > 0:
            gp = gradient_penalty(D, real, fake)
            loss = loss + self.gp * gp
            stats["penalty/gp"] = gp.detach()
        return loss, stats

    def g_loss(self, n):
        tokens, soft = self._fake(n)
        fake_out = self.train_module("D", frozen=True)(soft)
        stats = {"D_out/fake_G": fake_out.detach().mean(),
                 # how far from one-hot D's inputs are: the mean largest probability per position
                 "soft/max_prob": soft.detach().amax(-1).mean()}
        return self.objective.g_loss(fake_out=fake_out), stats


@GAMES.register("gumbel")
class GumbelGame(RelaxedSequenceGame):
    Settings = GumbelSettings
    mode = "gumbel"

    def __init__(self, cfg: Config, info: DataInfo):
        super().__init__(cfg, info, "gumbel")
        self.beta_max, self.anneal = cfg.game.beta_max, cfg.game.anneal
        self.anneal_steps = cfg.game.anneal_steps or self.adversarial_steps

    def beta(self) -> float:
        """β of the current adversarial iteration (module docstring)."""
        n = max(self.iterations - self.adversarial_start, 0)
        frac = min(n / max(self.anneal_steps, 1), 1.0)
        if self.anneal == "exp":
            return math.exp(frac * math.log(self.beta_max))
        return 1.0 + (self.beta_max - 1.0) * frac

    def tau(self) -> float:
        return 1.0 / self.beta()

    def g_loss(self, n):
        loss, stats = super().g_loss(n)
        stats["gumbel/beta"] = torch.tensor(self.beta())
        return loss, stats


@GAMES.register("softmax")
class SoftmaxGame(RelaxedSequenceGame):
    Settings = SoftmaxSettings
    mode = "softmax"

    def __init__(self, cfg: Config, info: DataInfo):
        super().__init__(cfg, info, "softmax")
