"""EBGAN (Zhao, Mathieu & LeCun 2017): the discriminator is an energy function, an auto-encoder.

D(x) = the mean squared reconstruction error of the auto-encoder (games/energy.py; lower = more real,
the opposite of the family's "higher D output = more real": logged as ``energy/*``, and negated as
``D_out/*``). With margin m = ``game.margin`` (in the energy's units, mean squared error per pixel of
[-1, 1] images) the two losses are (eqs. 1-2)

    L_D = D(x) + max(0, m - D(G(z)))
    L_G = D(G(z)) + λ_PT · f_PT(S)

where f_PT is the pulling-away term (eq. 6) on the encoder's codes S of the fake batch, which pushes
G's samples apart in D's code space (EBGAN-PT; λ_PT = ``game.lambda_pt`` = 0.1, 0 turns it off).
D only lowers the energy of real images and raises that of fakes up to the margin; past it a fake
teaches D nothing, which is what keeps D from running away.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..config import Config, GameSettings
from . import GAMES
from .base import DataInfo, check_nonnegative
from .energy import AutoEncoderGame, check_energy_settings, pulling_away


@dataclass
class EBGANSettings(GameSettings):
    name: str = "ebgan"
    margin: float = 0.15           # m: D raises the energy of fakes up to m (mean squared error per pixel; real images reach ~0.02-0.04)
    lambda_pt: float = 0.1         # weight of the pulling-away term in G's loss (0: plain EBGAN)

    def validate(self, cfg: Config) -> None:
        check_nonnegative(self, "margin", "lambda_pt")
        check_energy_settings(cfg, "ebgan")


@GAMES.register("ebgan")
class EBGANGame(AutoEncoderGame):
    Settings = EBGANSettings
    power = 2

    def __init__(self, cfg: Config, info: DataInfo):
        super().__init__(cfg, info)
        self.margin, self.lambda_pt = cfg.game.margin, cfg.game.lambda_pt

    def d_loss(self, e_real: torch.Tensor, e_fake: torch.Tensor):
        hinge = (self.margin - e_fake).clamp_min(0)
        return e_real.mean() + hinge.mean(), {"ebgan/fakes_within_margin": (hinge > 0).float().mean().detach()}

    def g_loss(self, e_fake: torch.Tensor, codes: torch.Tensor):
        loss, stats = e_fake.mean(), {}
        if self.lambda_pt > 0:
            pt = pulling_away(codes)
            loss = loss + self.lambda_pt * pt
            stats["ebgan/pt"] = pt.detach()
        return loss, stats
