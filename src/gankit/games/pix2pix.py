"""pix2pix (Isola, Zhu, Zhou & Efros 2017): a conditional GAN that translates paired images.

G (a U-Net, nets/translate.py) maps an input image x to an output G(x); a PatchGAN D judges every
overlapping patch of the pair (x, y) as real and (x, G(x)) as fake (eq. 1 of the paper, any objective
of the family: cross-entropy by default, ``loss.name=lsgan`` for least squares). G minimises the
adversarial cost plus λ·||y − G(x)||₁ (eq. 3, λ = ``game.lambda_l1`` = 100): the L1 term gets the low
frequencies right, the patch D the high ones (§3.2.2). One iteration is a D phase, then a G phase with
D frozen that reuses the D phase's G(x); D's loss is halved, "to slow down the rate at which D learns
relative to G" (§3.3). G's only noise is dropout in its innermost decoder blocks, active in training;
``generate`` runs G in eval mode, so a translation is deterministic (the paper keeps dropout on at test
time; the deterministic mapping is what users of a translator expect, and what its scores measure).

The ablations of the paper's Table 1 are settings: ``game.lambda_l1=0`` (cGAN alone),
``game.adversarial=false`` (L1 alone: no D), ``game.conditional_d=false`` (D sees the output alone:
the paper's unconditional "GAN" row); Table 3's patch sizes are ``model.d.patch=pixel|auto|image``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import torch
import torch.nn as nn

from ..config import Config, GameSettings
from ..errors import ConfigError, GankitError
from ..losses import build_objective
from ..nets import build_patch_discriminator, build_translator
from . import GAMES
from .base import (GAN_ONLY, NO_BN_RECOMPUTE, Batch, DataInfo, Game, Phase, check_input_shape, check_nonnegative, spread,
                   check_translator_ema, eval_mode, module_device, require_default)

PREVIEW_PAIRS = 24  # (input, output, target) triplets in each progress grid, 4 to a row


@dataclass
class Pix2PixSettings(GameSettings):
    name: str = "pix2pix"
    lambda_l1: float = 100.0       # weight of ||y - G(x)||_1 in G's loss (eq. 3); 0: the cGAN alone
    adversarial: bool = True       # false: L1 alone, no discriminator (Table 1's "L1" row)
    conditional_d: bool = True     # D judges (input, output) pairs; false: the output alone (the "GAN" rows)
    d_loss_scale: float = 0.5      # D's loss is multiplied by this (the paper halves it)

    def validate(self, cfg: Config) -> None:
        check_nonnegative(self, "lambda_l1")
        if self.d_loss_scale <= 0:
            raise ConfigError(f"game.d_loss_scale: {self.d_loss_scale!r} must be > 0")
        if not self.adversarial and self.lambda_l1 == 0:
            raise ConfigError("game.lambda_l1: 0 with game.adversarial=false leaves G nothing to learn")
        check_translator_ema(cfg)
        require_default(cfg, ["train.d_steps", *GAN_ONLY, "penalty.clip"], "pix2pix")


@GAMES.register("pix2pix")
class Pix2PixGame(Game):
    Settings = Pix2PixSettings
    kind = "translation"

    def __init__(self, cfg: Config, info: DataInfo):
        super().__init__()
        if not {"A", "B"} <= set(info.shapes):
            raise ConfigError(f"game.name: pix2pix learns from paired images; data.name={info.source!r} yields "
                              f"{'/'.join(info.shapes)} (use edges2fashion, edges2digits or paired)")
        s: Pix2PixSettings = cfg.game
        self.settings = s
        self.input_shape, out_shape = tuple(info.shapes["A"]), tuple(info.shapes["B"])
        self.G = build_translator(cfg.model.g, self.input_shape, out_shape[0])
        self.players: dict[str, nn.Module] = {"G": self.G}
        if s.adversarial:
            d_in = out_shape[0] + (self.input_shape[0] if s.conditional_d else 0)
            self.D = build_patch_discriminator(cfg.model.d, d_in, out_shape[1])
            self.players["D"] = self.D
        self.objective = build_objective(cfg.loss)
        self.gp = cfg.penalty.gp
        self._fake: torch.Tensor | None = None
        self._batch: Batch | None = None

    # -- the iteration ------------------------------------------------------------------------
    def phases(self) -> list[Phase]:
        if not self.settings.adversarial:
            return [Phase("G", ("G",))]
        return [Phase("D", ("D",)), Phase("G", ("G",), data=False)]  # G reuses the D phase's batch and G(x)

    def _judge(self, x: torch.Tensor, y: torch.Tensor, frozen: bool = False) -> torch.Tensor:
        """D's decisions on every patch of (x, y), flattened to (B * h * w,), float32."""
        d_in = torch.cat([x, y], 1) if self.settings.conditional_d else y
        return self.train_module("D", frozen)(d_in).float().flatten()

    def run_phase(self, phase: Phase, batch: Batch | None, next_phase: Phase | None = None) -> dict[str, torch.Tensor]:
        if phase.name == "D":
            x, y = batch["A"], batch["B"]
            keep = next_phase is not None and next_phase.name == "G"
            with torch.set_grad_enabled(keep):
                fake = self.train_module("G")(x)
            self._fake, self._batch = (fake, batch) if keep else (None, None)
            real_out, fake_out = self._judge(x, y), self._judge(x, fake.detach())
            loss = self.objective.d_loss(real_out=real_out, fake_out=fake_out)
            stats = {"loss/D": loss.detach(), "D_out/real": real_out.detach().mean(),
                     "D_out/fake": fake_out.detach().mean()}
            if self.gp > 0:
                from ..losses.penalties import gradient_penalty

                D = self.train_module("D")
                cond = self.settings.conditional_d
                gp = gradient_penalty(lambda v: D(torch.cat([x, v], 1) if cond else v).float().flatten(1).mean(1),
                                      y, fake.detach())
                loss = loss + self.gp * gp
                stats["penalty/gp"] = gp.detach()
            self.backward(self.settings.d_loss_scale * loss, "D")
            p_real, p_fake = self.objective.prob(real_out.detach()), self.objective.prob(fake_out.detach())
            if p_real is not None:
                stats["D(real)"], stats["D(fake)"] = p_real.mean(), p_fake.mean()
            return stats
        if phase.name == "G":
            if batch is None:
                batch, fake = self._batch, self._fake
            else:
                fake = self.train_module("G")(batch["A"])
            self._fake = self._batch = None
            x, y = batch["A"], batch["B"]
            l1 = (fake.float() - y.float()).abs().mean()
            loss = self.settings.lambda_l1 * l1
            stats = {"loss/L1": l1.detach()}
            if self.settings.adversarial:
                self.D.requires_grad_(False)
                try:
                    adv = self.objective.g_loss(fake_out=self._judge(x, fake, frozen=True))
                finally:
                    self.D.requires_grad_(True)
                loss = loss + adv
                stats["loss/G_adv"] = adv.detach()
            self.backward(loss, "G")
            return {"loss/G": loss.detach(), **stats}
        raise ValueError(f"unknown phase {phase.name!r}")

    @property
    def averaged(self) -> tuple[str, ...]:
        return ("G",)

    def bn_inputs(self, name: str, n: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        raise ConfigError(NO_BN_RECOMPUTE)

    # -- drawing ------------------------------------------------------------------------------
    def preview_inputs(self, data, heldout, n: int, generator: torch.Generator) -> Batch:
        """Held-out pairs evenly spaced over the split (the training pairs where the data has none), so a
        split sorted by class shows every class: inputs and targets."""
        src = heldout if heldout is not None else data
        k = min(n, PREVIEW_PAIRS, len(src))
        return {k_: v.cpu() for k_, v in src.batch(spread(len(src), k)).items() if k_ in ("A", "B")}

    @torch.no_grad()
    def generate(self, inputs: Batch, players: Mapping[str, nn.Module] | None = None) -> torch.Tensor:
        G = (players or {}).get("G", self.G)
        with eval_mode(G):
            return G(inputs["A"].to(module_device(G)))

    def picture(self, inputs: Batch, players: Mapping[str, nn.Module] | None = None):
        """Triplets input | output | target, four to a row."""
        out = self.generate(inputs, players).float().cpu()
        cols = [inputs["A"].float().cpu(), out] + ([inputs["B"].float().cpu()] if "B" in inputs else [])
        c = max(col.shape[1] for col in cols)
        cols = [col.expand(-1, c, -1, -1) if col.shape[1] != c else col for col in cols]
        return torch.stack(cols, 1).flatten(0, 1), len(cols) * min(4, len(out))

    def input_shape_for(self, direction: str | None = None, to: str | None = None) -> tuple[int, ...]:
        if to is not None:
            raise GankitError("--to: a pix2pix run translates one way, A to B; it has no domains to choose (drop --to)")
        if direction not in (None, "AtoB"):
            raise GankitError(f"--direction {direction}: a pix2pix run translates A to B only (train one with "
                              f"data.direction=BtoA for the other way)")
        return self.input_shape

    def translate_inputs(self, images: torch.Tensor, direction: str | None = None, to: str | None = None) -> Batch:
        self.input_shape_for(direction, to)
        check_input_shape(images, self.input_shape)
        return {"A": images}

    def eval_inputs(self, heldout, n: int, seed: int, view: str = "") -> tuple[Batch, Batch]:
        """The first ``n`` pairs of ``heldout``, in order (``seed`` is not needed: nothing is random)."""
        b = heldout.batch(torch.arange(min(n, len(heldout))))
        extra = {"targets": b["B"]}
        if "y" in b:
            extra["labels"] = b["y"]
        return {"A": b["A"]}, extra

    def output_data(self, data, view: str = ""):
        return data.side("B")

    def output_source(self, data_cfg, view: str = "") -> str:
        from ..data import SOURCES

        target = SOURCES.get(data_cfg.name, key="data.name").target
        # a source built from a labelled dataset: its classifier reads the targets (not the edge maps of BtoA)
        return target if target and data_cfg.direction == "AtoB" else data_cfg.name
