"""CycleGAN (Zhu, Park, Isola & Efros 2017): unpaired translation between two domains, tied by cycles.

Two translators, G_AB: A -> B and G_BA: B -> A, and two discriminators, D_A judging domain A and D_B
domain B (PatchGANs by default). With no pairs to copy, each translator is held to two things: its
outputs must pass for the other domain (the adversarial cost of any objective of the family; least
squares by default, as the paper trains), and translating there and back must return the input (the
cycle-consistency loss, eq. 2: ||G_BA(G_AB(a)) - a||₁ + ||G_AB(G_BA(b)) - b||₁, weight λ =
``game.lambda_cycle`` = 10). The identity loss of §5.2, ||G_BA(a) - a||₁ + ||G_AB(b) - b||₁, weighted
``game.lambda_identity`` · λ (0.5 · λ), keeps colours when nothing asks to change them.

    L_G = L_adv(G_AB, D_B) + L_adv(G_BA, D_A) + λ·L_cyc + λ_idt·λ·L_idt

``L_adv`` is the objective's generator cost as losses/ defines it (for ``loss.name=lsgan`` Mao et al.'s
½·E(D(G(a)) − 1)², half of the paper's squared error; ``game.adversarial_weight`` = 2 in the cyclegan
presets restores the paper's balance). One iteration is a G phase (both D frozen, both translators
stepped) on one batch of A and one of B, drawn independently, then a D phase (both D stepped) on the
same real images and on fakes from a history of ``game.pool_size`` = 50 past fakes per D (Shrivastava
et al. 2017): each new fake is stored while the pool fills, then with probability 0.5 swapped for a
random stored one, which D sees instead. The pools and their random state are checkpointed, so a
resumed run continues bit-exactly. ``train.d_steps`` > 1 adds D phases on fresh batches before the G
phase (DualGAN's n_critic); ``penalty.gp`` / ``penalty.clip`` constrain both D as in the WGAN game.

Its relatives are presets of the same game, differing only in losses, nets and weights:

- DiscoGAN (Kim, Cha, Kim, Lee & Kim 2017): encoder-decoder translators and whole-image
  discriminators with BatchNorm, the cross-entropy game, a squared-error reconstruction
  (``game.cycle_loss=l2``; the paper sums the losses, λ = 1, which collapsed on mnist2fonts, so the
  presets take λ = 10 on mnist2fonts and 100 on mnist2color), no pool, no identity loss.
- DualGAN (Yi, Zhang, Tan & Gong 2017): U-Net translators, PatchGAN critics, the Wasserstein
  objective with weight clipping (0.01), RMSProp at 5e-5, two critic steps per G step, L1
  reconstruction with λ in the paper's range [100, 1000], no pool, no identity loss.

The paper's ablation (Table 4) is settings: ``game.lambda_cycle=0`` (GAN alone),
``game.adversarial=false`` (cycle alone: no D), ``game.lambda_identity=0`` (GAN + cycle).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Mapping

import torch
import torch.nn as nn

from ..config import Config, GameSettings
from ..errors import ConfigError, GankitError
from ..losses import build_objective
from ..losses.penalties import clip_weights, gradient_penalty
from ..nets import build_patch_discriminator, build_translator
from . import GAMES
from .base import (GAN_ONLY, NO_BN_RECOMPUTE, Batch, DataInfo, Game, Phase, check_input_shape, check_nonnegative,
                   check_translator_ema, eval_mode, module_device, require_default, spread)

PREVIEW_PER_SIDE = 12  # input | translation | reconstruction triplets per side in each progress grid
DIRECTIONS = ("AtoB", "BtoA")


class ImagePool:
    """A history of up to ``size`` past fakes (Shrivastava et al. 2017, as CycleGAN uses it).

    :meth:`query` takes a batch of new fakes and returns the batch D should see: while the pool fills,
    the fakes themselves (each stored); then, image by image, with probability ``swap`` a random stored
    fake (the new one takes its place), else the new one. Its random draws come from its own generator,
    so the pool's whole state (images, count, generator) is saved and a resumed run draws the same."""

    def __init__(self, size: int, seed: int, swap: float = 0.5):
        self.size, self.swap = size, swap
        self.images: torch.Tensor | None = None  # (size, C, H, W), the first ``count`` rows filled
        self.count = 0
        self.generator = torch.Generator().manual_seed(seed)

    @torch.no_grad()
    def query(self, fakes: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return fakes
        fakes = fakes.detach()
        if self.images is None:
            self.images = fakes.new_empty((self.size, *fakes.shape[1:]))
        elif self.images.device != fakes.device or self.images.dtype != fakes.dtype:
            self.images = self.images.to(fakes.device, fakes.dtype)
        out = fakes.clone()
        for i in range(len(fakes)):
            if self.count < self.size:
                self.images[self.count] = fakes[i]
                self.count += 1
            elif torch.rand((), generator=self.generator).item() < self.swap:
                j = int(torch.randint(self.size, (), generator=self.generator))
                out[i] = self.images[j]
                self.images[j] = fakes[i]
        return out

    def state_dict(self) -> dict:
        images = self.images[:self.count].cpu().clone() if self.images is not None else torch.empty(0)
        return {"images": images, "count": self.count, "rng": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.count = min(int(state["count"]), self.size)  # a smaller game.pool_size on resume keeps the first
        self.generator.set_state(state["rng"])
        saved = state["images"]
        if self.count:
            self.images = saved.new_empty((self.size, *saved.shape[1:]))
            self.images[:self.count] = saved[:self.count]
        else:
            self.images = None


@dataclass
class CycleGANSettings(GameSettings):
    name: str = "cyclegan"
    lambda_cycle: float = 10.0        # weight λ of the cycle-consistency loss (eq. 3); 0: the GAN alone
    lambda_identity: float = 0.5      # identity loss weight, as a fraction of λ (0.5·λ, §5.2); 0: off
    cycle_loss: Literal["l1", "l2"] = "l1"  # distance of the cycle and identity losses (DiscoGAN: l2)
    adversarial: bool = True          # false: the cycle loss alone, no discriminators (Table 4's "Cycle alone")
    adversarial_weight: float = 1.0   # weight of the objective's G cost (2 with lsgan: the paper's MSE)
    pool_size: int = 50               # past fakes each D also sees (0: only the newest)

    def validate(self, cfg: Config) -> None:
        check_nonnegative(self, "lambda_cycle", "lambda_identity", "pool_size")
        if self.adversarial_weight <= 0:
            raise ConfigError(f"game.adversarial_weight: {self.adversarial_weight!r} must be > 0")
        if not self.adversarial and self.lambda_cycle == 0:
            raise ConfigError("game.lambda_cycle: 0 with game.adversarial=false leaves the translators "
                              "nothing to learn")
        check_translator_ema(cfg)
        require_default(cfg, list(GAN_ONLY), self.name)


def check_two_sides(info: DataInfo, game: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    if not {"A", "B"} <= set(info.shapes):
        raise ConfigError(f"game.name: {game} translates between two image sets; data.name={info.source!r} yields "
                          f"{'/'.join(info.shapes)} (use mnist2fonts, mnist2color, unpaired or a paired source)")
    return tuple(info.shapes["A"]), tuple(info.shapes["B"])


@GAMES.register("cyclegan")
class CycleGANGame(Game):
    Settings = CycleGANSettings
    kind = "translation"
    reversible = True

    def __init__(self, cfg: Config, info: DataInfo):
        super().__init__()
        s: CycleGANSettings = cfg.game
        self.settings = s
        self.shape_a, self.shape_b = check_two_sides(info, s.name)
        if s.lambda_identity > 0 and s.lambda_cycle > 0 and self.shape_a[0] != self.shape_b[0]:
            raise ConfigError(f"game.lambda_identity: the identity loss feeds each translator images of its own output "
                              f"domain, but A has {self.shape_a[0]} channel(s) and B {self.shape_b[0]}; set "
                              f"game.lambda_identity=0 or data.channels to one count for both")
        self.input_shape = self.shape_a
        self.G_AB = build_translator(cfg.model.g, self.shape_a, self.shape_b[0])
        self.G_BA = build_translator(cfg.model.g, self.shape_b, self.shape_a[0])
        self.players: dict[str, nn.Module] = {"G_AB": self.G_AB, "G_BA": self.G_BA}
        if s.adversarial:
            self.D_A = build_patch_discriminator(cfg.model.d, self.shape_a[0], self.shape_a[1])
            self.D_B = build_patch_discriminator(cfg.model.d, self.shape_b[0], self.shape_b[1])
            self.players.update(D_A=self.D_A, D_B=self.D_B)
        self.objective = build_objective(cfg.loss)
        self.gp, self.clip, self.d_steps = cfg.penalty.gp, cfg.penalty.clip, cfg.train.d_steps
        self.distance = (lambda x, y: (x.float() - y.float()).abs().mean()) if s.cycle_loss == "l1" else \
            (lambda x, y: (x.float() - y.float()).pow(2).mean())
        self.pools = {"D_A": ImagePool(s.pool_size, cfg.seed * 2 + 1), "D_B": ImagePool(s.pool_size, cfg.seed * 2 + 2)}
        self._kept: tuple | None = None  # (a, b, fake_a, fake_b) from the G phase, for the D phase after it

    # -- the iteration ------------------------------------------------------------------------
    def phases(self) -> list[Phase]:
        g = Phase("G", ("G_AB", "G_BA"))
        if not self.settings.adversarial:
            return [g]
        d = ("D_A", "D_B")
        return [Phase("D", d)] * (self.d_steps - 1) + [g, Phase("D", d, data=False)]

    def _judge(self, name: str, x: torch.Tensor, frozen: bool = False) -> torch.Tensor:
        return self.train_module(name, frozen)(x).float().flatten()

    def run_phase(self, phase: Phase, batch: Batch | None, next_phase: Phase | None = None) -> dict[str, torch.Tensor]:
        if phase.name == "G":
            return self._g_phase(batch, keep=next_phase is not None and next_phase.name == "D" and not next_phase.data)
        if phase.name == "D":
            if batch is None:
                if self._kept is None:
                    raise GankitError("cyclegan: a D phase without data must follow the G phase")
                a, b, fake_a, fake_b = self._kept
                self._kept = None
            else:  # an extra critic step (train.d_steps > 1): fresh fakes of a fresh batch
                a, b = batch["A"], batch["B"]
                with torch.no_grad():
                    fake_b, fake_a = self.train_module("G_AB")(a), self.train_module("G_BA")(b)
            return self._d_phase(a, b, fake_a, fake_b)
        raise ValueError(f"unknown phase {phase.name!r}")

    def _g_phase(self, batch: Batch, keep: bool) -> dict[str, torch.Tensor]:
        s = self.settings
        a, b = batch["A"], batch["B"]
        G_AB, G_BA = self.train_module("G_AB"), self.train_module("G_BA")
        fake_b, fake_a = G_AB(a), G_BA(b)
        loss = a.new_zeros((), dtype=torch.float32)
        stats: dict[str, torch.Tensor] = {}
        if s.lambda_cycle > 0:
            cyc = self.distance(G_BA(fake_b), a) + self.distance(G_AB(fake_a), b)
            loss = loss + s.lambda_cycle * cyc
            stats["loss/cycle"] = cyc.detach()
            if s.lambda_identity > 0:
                idt = self.distance(G_BA(a), a) + self.distance(G_AB(b), b)
                loss = loss + s.lambda_identity * s.lambda_cycle * idt
                stats["loss/identity"] = idt.detach()
        if s.adversarial:
            for d in ("D_A", "D_B"):
                self.players[d].requires_grad_(False)
            try:
                adv = (self.objective.g_loss(fake_out=self._judge("D_B", fake_b, frozen=True))
                       + self.objective.g_loss(fake_out=self._judge("D_A", fake_a, frozen=True)))
            finally:
                for d in ("D_A", "D_B"):
                    self.players[d].requires_grad_(True)
            loss = loss + s.adversarial_weight * adv
            stats["loss/G_adv"] = adv.detach()
        self.backward(loss, "G_AB")
        self._kept = (a, b, fake_a.detach(), fake_b.detach()) if keep else None
        return {"loss/G": loss.detach(), **stats}

    def _d_phase(self, a, b, fake_a, fake_b) -> dict[str, torch.Tensor]:
        total = 0.0
        stats: dict[str, torch.Tensor] = {}
        for d, real, fake in (("D_A", a, fake_a), ("D_B", b, fake_b)):
            fake = self.pools[d].query(fake)
            real_out, fake_out = self._judge(d, real), self._judge(d, fake)
            loss = self.objective.d_loss(real_out=real_out, fake_out=fake_out)
            stats[f"loss/{d}"] = loss.detach()
            if self.gp > 0:
                D = self.train_module(d)
                gp = gradient_penalty(lambda v: D(v).float().flatten(1).mean(1), real, fake)
                loss = loss + self.gp * gp
                stats[f"penalty/gp_{d}"] = gp.detach()
            p_real, p_fake = self.objective.prob(real_out.detach()), self.objective.prob(fake_out.detach())
            if p_real is not None:
                stats[f"{d}(real)"], stats[f"{d}(fake)"] = p_real.mean(), p_fake.mean()
            total = total + loss
        self.backward(total, "D_A")
        return {"loss/D": total.detach(), **stats}

    def after_step(self, phase: Phase) -> None:
        if phase.name == "D" and self.clip > 0:
            clip_weights(self.D_A, self.clip)
            clip_weights(self.D_B, self.clip)

    @property
    def averaged(self) -> tuple[str, ...]:
        return ("G_AB", "G_BA")

    def state_dict(self) -> dict:
        return {"pools": {d: p.state_dict() for d, p in self.pools.items()}}

    def load_state_dict(self, state: dict) -> None:
        for d, p in self.pools.items():
            if d in state.get("pools", {}):
                p.load_state_dict(state["pools"][d])

    def bn_inputs(self, name: str, n: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        raise ConfigError(NO_BN_RECOMPUTE)

    # -- drawing ------------------------------------------------------------------------------
    def _translators(self, players):
        players = players or {}
        return players.get("G_AB", self.G_AB), players.get("G_BA", self.G_BA)

    def preview_inputs(self, data, heldout, n: int, generator: torch.Generator) -> Batch:
        """Held-out images of each side (the training images where the data has none), evenly spaced
        through the set (a split sorted by class shows every class)."""
        src = heldout if heldout is not None else data
        out = {}
        for side in ("A", "B"):
            images = src.side(side)
            k = min(max(1, n // 2), PREVIEW_PER_SIDE, len(images))
            out[side] = images.batch(spread(len(images), k))["x"].cpu()
        return out

    @torch.no_grad()
    def generate(self, inputs: Batch, players: Mapping[str, nn.Module] | None = None) -> torch.Tensor:
        """G_AB(inputs["A"]), or G_BA(inputs["B"]) for inputs holding B only."""
        G_AB, G_BA = self._translators(players)
        G, x = (G_AB, inputs["A"]) if "A" in inputs else (G_BA, inputs["B"])
        with eval_mode(G):
            return G(x.to(module_device(G)))

    @torch.no_grad()
    def reconstruct(self, inputs: Batch, outputs: torch.Tensor, players=None) -> torch.Tensor:
        G_AB, G_BA = self._translators(players)
        G = G_BA if "A" in inputs else G_AB
        with eval_mode(G):
            return G(outputs.to(module_device(G)))

    def picture(self, inputs: Batch, players: Mapping[str, nn.Module] | None = None):
        """Triplets input | translation | reconstruction, the A side's rows first, four to a row."""
        cols = []
        for side in ("A", "B"):
            if side not in inputs:
                continue
            x = inputs[side].float().cpu()
            out = self.generate({side: x}, players).float().cpu()
            rec = self.reconstruct({side: x}, out, players).float().cpu()
            cols.append([x, out, rec])
        c = max(t.shape[1] for triplet in cols for t in triplet)
        rows = [torch.stack([t.expand(-1, c, -1, -1) for t in triplet], 1).flatten(0, 1) for triplet in cols]
        return torch.cat(rows), 3 * min(4, min(len(t[0]) for t in cols))

    def _direction(self, direction: str | None, to: str | None) -> str:
        if to is not None:
            if to not in ("A", "B"):
                raise GankitError(f"--to {to!r}: this CycleGAN run's domains are A and B (--to B is --direction AtoB)")
            if direction is not None and direction != ("AtoB" if to == "B" else "BtoA"):
                raise GankitError(f"--to {to} contradicts --direction {direction}; give one of them")
            return "AtoB" if to == "B" else "BtoA"
        if direction not in (None, *DIRECTIONS):
            raise GankitError(f"--direction {direction!r}: choose AtoB or BtoA")
        return direction or "AtoB"

    def input_shape_for(self, direction: str | None = None, to: str | None = None) -> tuple[int, ...]:
        return self.shape_a if self._direction(direction, to) == "AtoB" else self.shape_b

    def translate_inputs(self, images: torch.Tensor, direction: str | None = None, to: str | None = None) -> Batch:
        d = self._direction(direction, to)
        shape = self.shape_a if d == "AtoB" else self.shape_b
        check_input_shape(images, shape, f" {d}")
        return {"A" if d == "AtoB" else "B": images}

    # -- scoring ------------------------------------------------------------------------------
    def eval_views(self) -> tuple[str, ...]:
        return DIRECTIONS

    def eval_inputs(self, heldout, n: int, seed: int, view: str = "AtoB") -> tuple[Batch, Batch]:
        """``n`` held-out images of the input side of ``view`` (all of them, or ``n`` evenly spaced: a
        split sorted by class gives every class), with their labels and, where the task knows it, their
        true counterpart in the other domain (``targets``)."""
        side = "A" if view == "AtoB" else "B"
        images = heldout.side(side)
        idx = spread(len(images), min(n, len(images)))
        b = images.batch(idx)
        extra = {"sources": b["x"]}
        if images.labels is not None:
            extra["labels"] = images.labels[idx]
        counterpart = heldout.counterpart(side) if hasattr(heldout, "counterpart") else None
        if counterpart is not None:
            extra["targets"] = counterpart[idx].float().mul(2 / 255).sub(1)
        return {side: b["x"]}, extra

    def output_data(self, data, view: str = "AtoB"):
        return data.side("B" if view == "AtoB" else "A")

    def output_source(self, data_cfg, view: str = "AtoB") -> str:
        from ..data.tasks import side_source_names

        names = side_source_names(data_cfg)
        if names is None:
            return data_cfg.name
        return names[1] if view == "AtoB" else names[0]
