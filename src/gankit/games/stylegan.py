"""StyleGAN2's training game (Karras et al. 2020), on the standard game: the style-based G (nets/style.py)
against any noise-family D (the presets: the ResNet D with a minibatch-std layer, as the paper's).

What it adds to the standard game (games/gan.py), each a setting:
- **style mixing** (``game.mixing``, p = 0.9): during training G switches to the w of a second z from a
  random layer on, so that neighbouring layers' styles are not correlated (StyleGAN §3.1);
- **path-length regularisation** (``game.pl_weight``, lazily every ``game.pl_every`` = 4 iterations,
  scaled by that interval): a G phase that draws a batch (half the size), perturbs the images with
  noise y ~ N(0, I)/sqrt(H·W) and penalises (|| J_w^T y || − a)², where a is a running mean of the
  lengths (decay ``game.pl_decay``, game state, checkpointed): a fixed-size step in w then changes the
  image by a fixed amount, whatever the direction (StyleGAN2 §3.2);
- the objective, lazy R1 and the EMA of G are the shared settings (``loss.name=gan`` non-saturating,
  ``penalty.r1`` with ``penalty.r1_every`` = 16, ``train.ema_decay``), as the paper trains.

Drawing: ``psi`` in the inputs truncates w toward the average w (``gankit sample --truncation``), and
:meth:`mixing_grid` draws the style-mixing figure. Pictures clip G's linear output to [-1, 1].
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import torch
import torch.nn as nn

from ..config import Config, GameSettings, NetConfig, StyleConfig
from ..errors import ConfigError, GankitError
from . import GAMES
from .base import Batch, DataInfo, Phase, eval_mode, module_device
from .gan import GANGame


@dataclass
class StyleGANSettings(GameSettings):
    name: str = "stylegan"
    mixing: float = 0.9            # probability of style mixing per training batch (0: off)
    pl_weight: float = 2.0         # path-length regularisation weight (0: off)
    pl_every: int = 4              # lazy: every N iterations, the penalty scaled by N
    pl_decay: float = 0.01         # running mean of the path lengths: a <- a + decay (mean - a)
    pl_batch_shrink: int = 2       # the regularisation batch is train.batch_size / this

    def validate(self, cfg: Config) -> None:
        if not isinstance(cfg.model.g, StyleConfig):
            raise ConfigError(f"model.g.name: game 'stylegan' trains the style-based generator (model.g.name=style), "
                              f"not {cfg.model.g.name!r}")
        if not isinstance(cfg.model.d, NetConfig):
            raise ConfigError(f"model.d.name: {cfg.model.d.name!r} is not a noise-game discriminator (mlp, dcgan, resnet)")
        if cfg.model.d.conditioning != "none":
            raise ConfigError("model.d.conditioning: game 'stylegan' is unconditional here")
        if not 0.0 <= self.mixing <= 1.0:
            raise ConfigError(f"game.mixing: {self.mixing} must lie in [0, 1]")
        if self.pl_weight < 0 or self.pl_every < 1 or not 0 < self.pl_decay <= 1 or self.pl_batch_shrink < 1:
            raise ConfigError("game.pl_*: pl_weight >= 0, pl_every >= 1, pl_decay in (0, 1], pl_batch_shrink >= 1")


@GAMES.register("stylegan")
class StyleGANGame(GANGame):
    Settings = StyleGANSettings

    def __init__(self, cfg: Config, info: DataInfo):
        super().__init__(cfg, info)
        s = cfg.game
        self.mixing, self.pl_weight, self.pl_every = s.mixing, s.pl_weight, s.pl_every
        self.pl_decay, self.pl_batch_shrink = s.pl_decay, s.pl_batch_shrink
        self.pl_mean = 0.0  # the running mean of the path lengths (game state)

    def phases(self) -> list[Phase]:
        base = super().phases()
        return base + ([Phase("G_pl", ("G",), data=False, every=self.pl_every)] if self.pl_weight > 0 else [])

    def run_phase(self, phase: Phase, batch: Batch | None, next_phase: Phase | None = None):
        if phase.name == "G_pl":
            return self._path_length_phase()
        return super().run_phase(phase, batch, next_phase)

    def _G(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.train_module("G")(z, mixing=self.mixing)

    def _path_length_phase(self) -> dict[str, torch.Tensor]:
        n = max(1, self._batch_size // self.pl_batch_shrink)
        z = self.noise(n, device=self.G_device())
        images, ws = self.train_module("G")(z, mixing=self.mixing, return_ws=True)
        y = torch.randn_like(images) / math.sqrt(images.shape[2] * images.shape[3])
        grad, = torch.autograd.grad((images * y).sum(), ws, create_graph=True)
        lengths = grad.float().square().sum(2).mean(1).sqrt()  # (n,): || J_w^T y || per sample
        mean = lengths.detach().mean().item()
        self.pl_mean += self.pl_decay * (mean - self.pl_mean)
        penalty = (lengths - self.pl_mean).square().mean()
        # + 0 x an output pixel: every parameter of G (the RGB biases, which the gradient w.r.t. w does not
        # reach) is in the graph, so DDP's gradient reduction sees all of them (as the official code does)
        self.backward(penalty * (self.pl_weight * self.pl_every) + images[:, 0, 0, 0].sum() * 0, "G")
        return {"penalty/pl": penalty.detach(), "pl/length": torch.tensor(mean), "pl/mean": torch.tensor(self.pl_mean)}

    def state_dict(self) -> dict:
        return {**super().state_dict(), "pl_mean": self.pl_mean}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.pl_mean = float(state.get("pl_mean", 0.0))

    # -- drawing ----------------------------------------------------------------------------
    def sample_inputs(self, n: int, seed: int, labels=None, psi: float = 1.0) -> Batch:
        inputs = super().sample_inputs(n, seed, labels)
        return {**inputs, "psi": torch.full((n,), float(psi))} if psi != 1.0 else inputs

    @torch.no_grad()
    def generate(self, inputs: Batch, players: Mapping[str, nn.Module] | None = None) -> torch.Tensor:
        G = (players or {}).get("G", self.G)
        dev = module_device(G)
        psi = inputs.get("psi")
        with eval_mode(G):
            out = G(inputs["z"].to(dev), psi=1.0 if psi is None else psi.to(dev)[:, None])
        return out.clamp(-1, 1)

    @torch.no_grad()
    def mixing_grid(self, rows: int, cols: int, seed: int, players: Mapping[str, nn.Module] | None = None,
                    psi: float = 1.0, split: int | None = None) -> torch.Tensor:
        """StyleGAN's figure 3: (rows + 1) x (cols + 1) images, row-major. The first row shows the column
        sources, the first column the row sources (the corner is blank); cell (i, j) takes the coarse
        styles (layers at resolutions up to ``split``, default 8 px) of row source i and the fine ones
        of column source j."""
        G = (players or {}).get("G", self.G)
        dev = module_device(G)
        res = G.ws_resolution
        split = split or min(8, max(res))
        fine = torch.tensor([r > split for r in res], device=dev)
        if not fine.any():
            raise GankitError(f"--mix: this generator's layers all act at {split} px or below; nothing to mix")
        z = self.noise(rows + cols, generator=torch.Generator().manual_seed(seed)).to(dev)
        with eval_mode(G):
            ws = G.ws(z, psi)
            w_rows, w_cols = ws[:rows], ws[rows:]
            mixed = torch.where(fine[None, None, :, None], w_cols[None], w_rows[:, None])  # (rows, cols, L, w)
            sources_r, sources_c = G.synthesis(w_rows), G.synthesis(w_cols)
            cells = G.synthesis(mixed.flatten(0, 1)).view(rows, cols, *sources_r.shape[1:])
        blank = torch.full_like(sources_r[:1], -1.0)
        top = torch.cat([blank, sources_c])
        body = torch.cat([sources_r[:, None], cells], 1).flatten(0, 1)
        return torch.cat([top, body]).clamp(-1, 1).float().cpu()
