"""Exponential moving average of a player's weights (Yazıcı et al. 2019; Karras et al. 2018).

Sampling and evaluation from the averaged generator smooth out the oscillation of the game. Buffers
(BatchNorm running statistics) are copied from the live network, not averaged. The decay ramps up as
min(decay, (1 + t) / (10 + t)) so the average is not dominated by the initial weights early on.
"""
from __future__ import annotations

import copy

import torch
import torch.nn as nn


class EMA:
    def __init__(self, module: nn.Module, decay: float):
        self.decay = decay
        self.module = copy.deepcopy(module).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, source: nn.Module, step: int) -> None:
        d = min(self.decay, (1 + step) / (10 + step))
        ema_p = list(self.module.parameters())
        torch._foreach_lerp_(ema_p, [p.detach() for p in source.parameters()], 1.0 - d)
        for b_ema, b in zip(self.module.buffers(), source.buffers(), strict=True):
            b_ema.copy_(b)

    def state_dict(self) -> dict:
        return self.module.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.module.load_state_dict(state)
