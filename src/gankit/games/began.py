"""BEGAN (Berthelot, Schumm & Metz 2017): an auto-encoder D, and a balance between its two jobs.

L(v) = mean |v - D(v)| over pixels, the auto-encoder's L1 reconstruction loss (games/energy.py;
lower = more real, the opposite of the family's "higher D output = more real": logged as
``energy/*`` and, negated, as ``D_out/*``). The game (eq. 4), each player with its own loss, step and
optimizer — never the sum of the two backpropagated once, which would let G's loss train D:

    L_D = L(x) - k_t · L(G(z_D))                     (D phase)
    L_G = L(G(z_G))                                  (G phase)
    k_{t+1} = clip(k_t + λ_k · (γ · L(x) - L(G(z_G))), 0, 1)

k_t (starting at 0) is how much D attends to fakes: it grows while the fakes' loss is below γ times
the real loss and shrinks otherwise, holding E[L(G(z))] = γ · E[L(x)]. γ = ``game.gamma``, the
diversity ratio (lower: sharper, less varied samples); λ_k = ``game.lambda_k`` (0.001 in the paper). k_t is game
state (checkpointed: a resumed run continues exactly). Each G phase logs

    M = L(x) + |γ · L(x) - L(G(z_G))|                (the global convergence measure, §3.4.1)

as ``began/M`` with ``began/k``: the paper's claim is that M falls as the samples improve. L(x) is
the last D phase's, L(G(z_G)) the G phase's (z_G = the last D phase's z, G's output reused).
Under DDP the balance term is averaged over the processes, so every process keeps the same k_t.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from ..config import Config, ConfigError, GameSettings
from . import GAMES
from .base import DataInfo, check_nonnegative
from .energy import AutoEncoderGame, check_energy_settings


@dataclass
class BEGANSettings(GameSettings):
    name: str = "began"
    gamma: float = 0.5             # diversity ratio γ = E[L(G(z))] / E[L(x)] the balance holds, in (0, 1]
    lambda_k: float = 0.001        # learning rate of k_t

    def validate(self, cfg: Config) -> None:
        if not 0 < self.gamma <= 1:
            raise ConfigError(f"game.gamma: {self.gamma!r} must lie in (0, 1]")
        check_nonnegative(self, "lambda_k")
        check_energy_settings(cfg, "began")


@GAMES.register("began")
class BEGANGame(AutoEncoderGame):
    Settings = BEGANSettings
    power = 1

    def __init__(self, cfg: Config, info: DataInfo):
        super().__init__(cfg, info)
        self.gamma, self.lambda_k = cfg.game.gamma, cfg.game.lambda_k
        self.k = torch.zeros(())  # k_t, moved to the players' device on first use
        self._loss_real: torch.Tensor | None = None

    def d_loss(self, e_real: torch.Tensor, e_fake: torch.Tensor):
        self.k = self.k.to(e_real.device)
        loss_real = e_real.mean()
        self._loss_real = loss_real.detach()
        return loss_real - self.k * e_fake.mean(), {}

    def g_loss(self, e_fake: torch.Tensor, codes: torch.Tensor):
        loss, loss_real = e_fake.mean(), self._loss_real  # L(x) of the D phase before (one always runs first)
        balance = self.gamma * loss_real - loss.detach()
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            balance = balance.clone()
            dist.all_reduce(balance)
            balance /= dist.get_world_size()
        self.k = (self.k.to(loss.device) + self.lambda_k * balance).clamp(0.0, 1.0)
        m = loss_real + balance.abs()
        return loss, {"began/M": m, "began/k": self.k.clone()}

    def state_dict(self) -> dict[str, Any]:
        return {"k": self.k.detach().float().cpu().clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.k = torch.as_tensor(state.get("k", 0.0), dtype=torch.float32).clone()
