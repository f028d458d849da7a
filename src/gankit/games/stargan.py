"""StarGAN (Choi, Choi, Kim, Ha, Kim & Choo 2018): many domains, one generator that takes the target.

Every image carries a domain code c: k attributes in mutually exclusive groups (a one-of-n group such
as colour {red, green, blue}, or a binary attribute such as thick), or one one-hot group over a
folder's domains. G(x, c) takes the image with the target code tiled over it as extra input channels
(any translator: the paper's ResNet, or the preset's U-Net); D has two heads (nets/translate.py,
``StarGANDiscriminator``): D_src judges real against fake, D_cls recognises the domain. With c' the
image's own code and c the target (drawn by permuting the batch's own codes, as the reference code does):

    L_D = −L_adv + λ_cls · L_cls(D_cls(x), c')                                 (eq. 5)
    L_G =  L_adv + λ_cls · L_cls(D_cls(G(x, c)), c) + λ_rec · ||x − G(G(x, c), c')||₁

with, in the preset, the Wasserstein objective and gradient penalty (λ_gp = ``penalty.gp`` = 10; any
objective of the family works) and ``train.d_steps`` = 5 D phases per G phase; λ_cls =
``game.lambda_cls`` = 1, λ_rec = ``game.lambda_rec`` = 10. The G phase reuses the last D phase's batch,
targets and G(x, c) (computed there with autograd on: one G forward saved). The penalty is on each
image's mean patch logit, the score the Wasserstein loss uses (the reference code penalises the sum over
patches instead: with a 3x3 map, a gradient 9x as large for the same λ_gp).
L_cls is, per group, the cross-entropy over the group's logits (one
of n) or the binary cross-entropy of its logit, summed over the groups and averaged over the batch —
the paper's BCE over CelebA's attributes and cross-entropy over RaFD's expressions, one rule.

A run records its domains in ``game.domains`` (one entry per group, names joined by ``|``:
``[red|green|blue, thick]``), so ``gankit translate RUN --to green+thick`` needs no data.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Mapping

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import Config, GameSettings
from ..errors import ConfigError, GankitError
from ..losses import build_objective
from ..losses.penalties import gradient_penalty
from ..nets import build_stargan_discriminator, build_translator
from . import GAMES
from .base import (GAN_ONLY, NO_BN_RECOMPUTE, Batch, DataInfo, Game, Phase, check_input_shape, check_nonnegative,
                   check_translator_ema, eval_mode, module_device, require_default, spread)

PREVIEW_IMAGES = 8   # rows of each progress grid: a held-out image, then its translation to each domain
PREVIEW_DOMAINS = 8  # at most this many target domains (columns)


# ---------------------------------------------------------------------------------------------------
# domain codes


def parse_groups(domains: tuple[str, ...]) -> tuple[list[str], list[tuple[int, ...]]]:
    """``("red|green|blue", "thick")`` -> (attribute names, groups of their indices)."""
    names: list[str] = []
    groups: list[tuple[int, ...]] = []
    for entry in domains:
        members = [m.strip() for m in entry.split("|") if m.strip()]
        groups.append(tuple(range(len(names), len(names) + len(members))))
        names += members
    return names, groups


def all_codes(groups: list[tuple[int, ...]], k: int) -> torch.Tensor:
    """Every valid code (K, k), in the order of :func:`joint_index`: one member of each one-of-n group
    set, each binary attribute off or on; the first group varies slowest."""
    choices = [[(g[i],) for i in range(len(g))] if len(g) > 1 else [(), (g[0],)] for g in groups]
    codes = []
    for pick in itertools.product(*choices):
        c = torch.zeros(k)
        for on in pick:
            c[list(on)] = 1.0
        codes.append(c)
    return torch.stack(codes)


def joint_index(codes: torch.Tensor, groups: list[tuple[int, ...]]) -> torch.Tensor:
    """The index of each code (N, k) among :func:`all_codes` (mixed radix over the groups)."""
    index = torch.zeros(len(codes), dtype=torch.long, device=codes.device)
    for g in groups:
        if len(g) > 1:
            index = index * len(g) + codes[:, list(g)].argmax(1)
        else:
            index = index * 2 + (codes[:, g[0]] > 0.5).long()
    return index


def predicted_codes(logits: torch.Tensor, groups: list[tuple[int, ...]]) -> torch.Tensor:
    """Codes read off domain logits (N, k): the argmax of each one-of-n group, each binary logit > 0."""
    out = torch.zeros_like(logits)
    for g in groups:
        if len(g) > 1:
            out[torch.arange(len(logits)), torch.tensor(g, device=logits.device)[logits[:, list(g)].argmax(1)]] = 1.0
        else:
            out[:, g[0]] = (logits[:, g[0]] > 0).float()
    return out


def classification_loss(logits: torch.Tensor, codes: torch.Tensor, groups: list[tuple[int, ...]]) -> torch.Tensor:
    """Σ over groups of the cross-entropy (one of n) or binary cross-entropy (binary), batch mean."""
    logits, codes = logits.float(), codes.float()
    loss = logits.new_zeros(())
    for g in groups:
        if len(g) > 1:
            loss = loss + F.cross_entropy(logits[:, list(g)], codes[:, list(g)].argmax(1))
        else:
            loss = loss + F.binary_cross_entropy_with_logits(logits[:, g[0]], codes[:, g[0]])
    return loss


def tile(x: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
    """x (B, C, H, W) with the code (B, k) as k constant channels: (B, C + k, H, W)."""
    c = code.to(x.dtype)[:, :, None, None].expand(-1, -1, *x.shape[2:])
    return torch.cat([x, c], 1)


# ---------------------------------------------------------------------------------------------------
# the game


@dataclass
class StarGANSettings(GameSettings):
    name: str = "stargan"
    lambda_cls: float = 1.0            # weight of the domain-classification losses (both players)
    lambda_rec: float = 10.0           # weight of the reconstruction loss ||x - G(G(x, c), c')||_1
    # the domain attributes by exclusive group, e.g. [red|green|blue, thick]; empty: the data's (a run records them)
    domains: tuple[str, ...] = ()

    def validate(self, cfg: Config) -> None:
        check_nonnegative(self, "lambda_cls", "lambda_rec")
        check_translator_ema(cfg)
        require_default(cfg, [*GAN_ONLY, "penalty.clip"], "stargan")


@GAMES.register("stargan")
class StarGANGame(Game):
    Settings = StarGANSettings
    kind = "translation"
    reversible = True

    def __init__(self, cfg: Config, info: DataInfo):
        super().__init__()
        s: StarGANSettings = cfg.game
        self.settings = s
        if "x" not in info.shapes:
            raise ConfigError(f"game.name: stargan translates between the domains of one image set; "
                              f"data.name={info.source!r} yields {'/'.join(info.shapes)} "
                              "(use mnist-attributes or domains)")
        if not s.domains:
            if not info.attributes:
                raise ConfigError(f"game.name: stargan needs images with domains; data.name={info.source!r} has none "
                                  f"(use mnist-attributes, or domains with one folder per domain)")
            s.domains = tuple("|".join(group) for group in info.attributes)  # the run's config records them
        elif info.attributes and tuple("|".join(g) for g in info.attributes) != tuple(s.domains):
            raise ConfigError(f"game.domains: {list(s.domains)} but data.name={info.source!r} has "
                              f"{['|'.join(g) for g in info.attributes]}; leave game.domains empty to take the data's")
        self.names, self.groups = parse_groups(s.domains)
        if len(set(self.names)) != len(self.names):
            raise ConfigError(f"game.domains: a name appears twice in {list(s.domains)}")
        self.k = len(self.names)
        self.codes = all_codes(self.groups, self.k)
        c, h, w = self.input_shape = tuple(info.shapes["x"])
        self.G = build_translator(cfg.model.g, (c + self.k, h, w), c, pad="zeros")
        self.D = build_stargan_discriminator(cfg.model.d, c, self.k, h)
        self.players: dict[str, nn.Module] = {"G": self.G, "D": self.D}
        self.objective = build_objective(cfg.loss)
        self.gp, self.d_steps = cfg.penalty.gp, cfg.train.d_steps
        self.generator = torch.Generator().manual_seed(cfg.seed * 3 + 1)  # target draws; checkpointed
        self._kept: tuple | None = None

    # -- the iteration ------------------------------------------------------------------------
    def phases(self) -> list[Phase]:
        return [Phase("D", ("D",))] * self.d_steps + [Phase("G", ("G",), data=False)]

    def _targets(self, code: torch.Tensor) -> torch.Tensor:
        return code[torch.randperm(len(code), generator=self.generator).to(code.device)]

    def run_phase(self, phase: Phase, batch: Batch | None, next_phase: Phase | None = None) -> dict[str, torch.Tensor]:
        if phase.name == "D":
            x, code = batch["x"], batch["attrs"]
            target = self._targets(code)
            keep = next_phase is not None and next_phase.name == "G"
            with torch.set_grad_enabled(keep):  # the G phase after this one reuses G(x, c), graph and all
                fake = self.train_module("G")(tile(x, target))
            self._kept = (x, code, target, fake) if keep else None
            fake = fake.detach()
            D = self.train_module("D")
            real_src, real_cls = D(x)
            fake_src, _ = D(fake)
            adv = self.objective.d_loss(real_out=real_src.float().flatten(), fake_out=fake_src.float().flatten())
            cls = classification_loss(real_cls, code, self.groups)
            loss = adv + self.settings.lambda_cls * cls
            stats = {"loss/D_adv": adv.detach(), "loss/D_cls": cls.detach()}
            if self.gp > 0:
                gp = gradient_penalty(lambda v: D(v)[0].float().flatten(1).mean(1), x, fake)
                loss = loss + self.gp * gp
                stats["penalty/gp"] = gp.detach()
            self.backward(loss, "D")
            return {"loss/D": loss.detach(), **stats}
        if phase.name == "G":
            if self._kept is None:
                raise GankitError("stargan: the G phase reuses the batch of the D phase before it")
            x, code, target, fake = self._kept
            self._kept = None
            G = self.train_module("G")
            self.D.requires_grad_(False)
            try:
                fake_src, fake_cls = self.train_module("D", frozen=True)(fake)
            finally:
                self.D.requires_grad_(True)
            adv = self.objective.g_loss(fake_out=fake_src.float().flatten())
            cls = classification_loss(fake_cls, target, self.groups)
            rec = (G(tile(fake, code)).float() - x.float()).abs().mean()
            loss = adv + self.settings.lambda_cls * cls + self.settings.lambda_rec * rec
            self.backward(loss, "G")
            return {"loss/G": loss.detach(), "loss/G_adv": adv.detach(), "loss/G_cls": cls.detach(),
                    "loss/reconstruction": rec.detach()}
        raise ValueError(f"unknown phase {phase.name!r}")

    @property
    def averaged(self) -> tuple[str, ...]:
        return ("G",)

    def state_dict(self) -> dict:
        return {"rng": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        if "rng" in state:
            self.generator.set_state(state["rng"])

    def bn_inputs(self, name: str, n: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        raise ConfigError(NO_BN_RECOMPUTE)

    # -- drawing ------------------------------------------------------------------------------
    def code_name(self, code: torch.Tensor) -> str:
        return "+".join(self.names[i] for i in code.nonzero().flatten().tolist()) or "none"

    def preview_inputs(self, data, heldout, n: int, generator: torch.Generator) -> Batch:
        """Held-out images evenly spaced through the set (the training images where the data has none), each
        with its own domain and, as ``code``, the next domain after it (what :meth:`generate` alone draws)."""
        src = heldout if heldout is not None else data
        k = min(PREVIEW_IMAGES, max(1, n // (1 + min(len(self.codes), PREVIEW_DOMAINS))), len(src))
        b = src.batch(spread(len(src), k))
        own = b["attrs"].cpu()
        return {"x": b["x"].cpu(), "code": self._next_codes(own), "source_code": own}

    def _next_codes(self, own: torch.Tensor, offset: torch.Tensor | None = None) -> torch.Tensor:
        """For each code, the (1 + offset)-th valid code after it (cycling): never the code itself."""
        K = len(self.codes)
        offset = torch.zeros(len(own), dtype=torch.long) if offset is None else offset
        step = (offset % (K - 1)) + 1 if K > 1 else torch.zeros_like(offset)
        return self.codes[(joint_index(own, self.groups) + step) % K]

    @torch.no_grad()
    def generate(self, inputs: Batch, players: Mapping[str, nn.Module] | None = None) -> torch.Tensor:
        """G(x, code): ``inputs["x"]`` translated to the domains ``inputs["code"]`` (N, k)."""
        G = (players or {}).get("G", self.G)
        dev = module_device(G)
        with eval_mode(G):
            return G(tile(inputs["x"].to(dev), inputs["code"].to(dev)))

    @torch.no_grad()
    def source_codes(self, x: torch.Tensor) -> torch.Tensor:
        """The domains D's classification head reads in ``x`` (for images of unknown domain)."""
        with eval_mode(self.D):
            return predicted_codes(self.D(x.to(module_device(self.D)))[1].float(), self.groups)

    @torch.no_grad()
    def reconstruct(self, inputs: Batch, outputs: torch.Tensor, players=None) -> torch.Tensor:
        """Outputs translated back to the inputs' own domains (``inputs["source_code"]``, else D's reading)."""
        back = inputs.get("source_code")
        if back is None:
            back = self.source_codes(inputs["x"])
        return self.generate({"x": outputs, "code": back}, players)

    def picture(self, inputs: Batch, players: Mapping[str, nn.Module] | None = None):
        """One row per input: the input, then its translation to each domain (StarGAN's Figure 1)."""
        x = inputs["x"].float().cpu()
        targets = self.codes[:PREVIEW_DOMAINS]
        cols = [x] + [self.generate({"x": x, "code": t.expand(len(x), -1)}, players).float().cpu() for t in targets]
        return torch.stack(cols, 1).flatten(0, 1), len(cols)

    def domain_list(self) -> str:
        return ", ".join(" | ".join(self.names[i] for i in g) + (" (one of)" if len(g) > 1 else " (binary)")
                         for g in self.groups)

    def parse_target(self, to: str) -> torch.Tensor:
        """``--to green+thick`` -> its code (k,): one name of each one-of-n group, the binary attributes named."""
        parts = [p.strip() for p in to.replace(",", "+").split("+") if p.strip()]
        unknown = [p for p in parts if p not in self.names]
        if unknown or not parts:
            raise GankitError(f"--to {to!r}: {'unknown domain ' + repr(unknown[0]) if unknown else 'no domain named'}; "
                              f"this run's domains: {self.domain_list()} (e.g. --to {self.code_name(self.codes[-1])})")
        code = torch.zeros(self.k)
        code[[self.names.index(p) for p in parts]] = 1.0
        for g in self.groups:
            if len(g) > 1 and code[list(g)].sum() != 1:
                raise GankitError(f"--to {to!r}: name exactly one of {' | '.join(self.names[i] for i in g)}")
        return code

    def input_shape_for(self, direction: str | None = None, to: str | None = None) -> tuple[int, ...]:
        if direction is not None:
            raise GankitError(f"--direction: a StarGAN run translates to domains, not directions; use --to DOMAIN "
                              f"({self.domain_list()})")
        if to is None:
            raise GankitError(f"name the target domain with --to ({self.domain_list()})")
        self.parse_target(to)
        return self.input_shape

    def translate_inputs(self, images: torch.Tensor, direction: str | None = None, to: str | None = None) -> Batch:
        self.input_shape_for(direction, to)
        check_input_shape(images, self.input_shape)
        return {"x": images, "code": self.parse_target(to).expand(len(images), -1).clone()}

    # -- scoring ------------------------------------------------------------------------------
    def eval_inputs(self, heldout, n: int, seed: int, view: str = "") -> tuple[Batch, Batch]:
        """``n`` held-out images (all, or ``n`` evenly spaced), the i-th translated to the i-th (cycling) of
        the domains other than its own; ``targets`` where the data can render the true translation."""
        idx = spread(len(heldout), min(n, len(heldout)))
        b = heldout.batch(idx)
        own = b["attrs"].cpu()
        target = self._next_codes(own, torch.arange(len(idx)))
        extra = {"sources": b["x"], "codes": target, "source_codes": own}
        if "y" in b and heldout.label_key == "y":
            extra["labels"] = b["y"]
        render = getattr(heldout, "render", None)
        if render is not None:
            extra["targets"] = render(idx, target).float().mul(2 / 255).sub(1)
        return {"x": b["x"], "code": target, "source_code": own}, extra
