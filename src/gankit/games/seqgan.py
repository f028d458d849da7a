"""SeqGAN (Yu, Zhang, Wang & Yu 2017): the generator as a policy, trained by policy gradient with the
discriminator's verdict as the reward, because sampling a token is not differentiable.

A sequence y_1..y_L drawn from G is scored token by token. The action value of y_t (given y_<t) is
the discriminator's probability of "real", averaged over ``game.rollouts`` (16) Monte-Carlo
completions of the prefix y_1..y_t drawn by the rollout network R; the last token's is D(y) itself:

    Q(y_<t, y_t) = 1/K sum_k D(Y^k)   (Y^k: y_1..y_t completed by R),   Q(y_<L, y_L) = D(y)
    loss_G = - mean over the scored positions of  log G(y_t | y_<t) * Q(y_<t, y_t)

(the paper's estimate of the policy gradient, eq. 6-8, without a baseline; the paper sums over the
batch and positions, this takes the mean: the same direction, and Adam's step does not depend on the
scale). R starts as a copy of the pre-trained G and follows it with delay after every G step,
R <- rate * R + (1 - rate) * G (``game.rollout_rate``, 0.8 in the authors' code). D is trained
by cross-entropy on real sequences against G's samples (``loss.name=gan``); rewards read it in eval
mode (no dropout). Positions after a sequence's end are padding, not actions: they are not scored.

The stages (maximum-likelihood pre-training of G, then of D, then the adversarial game) are the
base class's (games/sequence.py).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch

from ..config import Config, ConfigError
from . import GAMES
from .base import DataInfo, Phase, eval_mode, module_device
from .sequence import SequenceGANGame, SequenceGANSettings


@dataclass
class SeqGANSettings(SequenceGANSettings):
    name: str = "seqgan"
    rollouts: int = 16             # Monte-Carlo completions per prefix (K)
    rollout_rate: float = 0.8      # R <- rate * R + (1 - rate) * G after each G step (0: R is G)

    def validate(self, cfg: Config) -> None:
        super().validate(cfg)
        if self.rollouts < 1:
            raise ConfigError(f"game.rollouts: {self.rollouts!r} must be >= 1")
        if not 0 <= self.rollout_rate < 1:
            raise ConfigError(f"game.rollout_rate: {self.rollout_rate!r} must lie in [0, 1)")
        if cfg.loss.name != "gan":
            raise ConfigError(f"loss.name: {cfg.loss.name!r}: SeqGAN's reward is D's probability of 'real', which "
                              f"the cross-entropy objective gives (leave loss.name at 'gan')")


@GAMES.register("seqgan")
class SeqGANGame(SequenceGANGame):
    Settings = SeqGANSettings

    def __init__(self, cfg: Config, info: DataInfo):
        super().__init__(cfg, info, "seqgan")
        self.R = copy.deepcopy(self.G).requires_grad_(False)  # the rollout network
        self.players["R"] = self.R
        self.rollouts, self.rollout_rate = cfg.game.rollouts, cfg.game.rollout_rate

    def _sample(self, n: int) -> torch.Tensor:
        return self.G.sample(torch.rand(n, self.length, device=module_device(self.G)), 1.0)

    def d_loss(self, real):
        fake = self._sample(real.shape[0])
        D = self.train_module("D")
        real_out, fake_out = D(real), D(fake)
        return self.objective.d_loss(real_out=real_out, fake_out=fake_out), self.d_stats(real_out, fake_out)

    @torch.no_grad()
    def rewards(self, tokens: torch.Tensor) -> torch.Tensor:
        """Q (B, L): the action value of every token of ``tokens`` (B, L) (module docstring)."""
        b, L = tokens.shape
        q = torch.empty(b, L, device=tokens.device)
        with eval_mode(self.D, self.R):
            for t, completions in self.R.rollouts(tokens, self.rollouts):
                q[:, t - 1] = self.objective.prob(self.D(completions)).view(self.rollouts, b).mean(0)
            q[:, L - 1] = self.objective.prob(self.D(tokens))
        return q

    def g_loss(self, n):
        if self.iterations == self.adversarial_start:  # the first adversarial step: R is the pre-trained G
            self.R.load_state_dict(self.G.state_dict())
        tokens = self._sample(n)
        q = self.rewards(tokens)
        logits = self.train_module("G")(tokens)
        logp = logits.gather(-1, tokens.unsqueeze(-1)).squeeze(-1) - logits.logsumexp(-1)    # (B, L)
        pad = self.vocabulary.pad
        keep = (tokens != pad) if pad is not None else torch.ones_like(tokens, dtype=torch.bool)
        loss = -(logp * q).masked_fill(~keep, 0.0).sum() / keep.sum()
        return loss, {"seqgan/reward": q[keep].mean(), "seqgan/reward_last": q[:, -1].mean(),
                      "nll/G_samples": -logp[keep].detach().mean()}

    def after_step(self, phase: Phase) -> None:
        if phase.name == "G" and self.stage == "adversarial" and self.iterations > self.adversarial_start:
            with torch.no_grad():
                for r, g in zip(self.R.parameters(), self.G.parameters()):
                    r.mul_(self.rollout_rate).add_(g.detach(), alpha=1 - self.rollout_rate)
