"""InfoGAN (Chen, Duan, Houthooft, Schulman, Sutskever & Abbeel 2016): codes that mean something.

G's input is noise z (``model.latent_dim``; N(0, I), or U(-1, 1) with ``game.noise=uniform`` as in the
reference code and the presets) and a code: a ``game.categories``-way categorical c
(uniform) and ``game.continuous`` continuous codes (uniform on [-1, 1]), concatenated as
[z | one-hot(c) | cont]. A head Q on D's trunk (the last hidden features of any noise-family D,
``model.d``) predicts the code of an image: logits over the categories and the means of the continuous
codes. The game adds to both players' losses the negated variational lower bound of the mutual
information I(code; G(z, code)) (eq. 5), up to the constant code entropy:

    L_I = λ_cat · CE(Q_cat(G(z, c, cont)), c) + λ_cont · ½ · Σ_j (cont_j - Q_j(G(z, c, cont)))²

The categorical term is the cross-entropy of Q's **logits** (``F.cross_entropy`` applies the
log-softmax itself; a softmax before it, as one well-known port has, flattens the gradients). The
continuous term is the Gaussian log-likelihood with unit standard deviation (the reference code's
``fix_std``), constants dropped. D's phase minimises its adversarial loss (any objective of the family)
+ L_I on the fake batch (training Q and the shared trunk); G's phase its adversarial loss + L_I
(D and Q frozen). Logged: ``info/mi_cat`` = ln K - CE, the lower bound of I(c; G) in nats (it
approaches ln K ≈ 2.30 for K = 10 as G's categories become recognisable), ``info/cat_acc`` (Q's
accuracy on the fakes' c) and ``info/cont_mse``.

Not in the paper, off by default: ``game.lambda_aug`` > 0 adds λ_aug · CE(Q_cat(warp(G(z, c, cont))), c)
to both players' losses, ``warp`` a random rotation, scaling, shear and shift of each fake
(:func:`gankit.augment.geometric`): the category must survive a digit's nuisances (slant, width, size,
position), so it cannot be one of them (the idea of Elastic-InfoGAN, Ojha et al. 2020).

After training, Q read on real images is a classifier: the ``cluster`` metric scores its categories
as an unsupervised digit classifier (categories matched to classes by the Hungarian method).
``gankit sample RUN --code c=3`` fixes a code; ``--traverse cont0`` sweeps one from -2 to 2.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Mapping

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..augment import geometric
from ..config import Config, ConfigError, GameSettings
from ..errors import GankitError
from ..losses import build_objective
from ..losses.penalties import clip_weights, gradient_penalty
from ..nets import build_discriminator
from . import GAMES
from .base import Batch, DataInfo, Phase, check_nonnegative, eval_mode, module_device
from .gan import has_batchnorm
from .noise import NoiseGame, check_unconditional, image_shape


class InfoDiscriminator(nn.Module):
    """D and Q sharing a trunk: ``forward(x) -> (adversarial logits (B,), Q's outputs (B, K + n))``,
    the adversarial head being the family D's own (``body.head(body.features(x))``) and Q a small MLP
    on the same features (BatchNorm where D has it, as in the paper)."""

    def __init__(self, body: nn.Module, outputs: int, width: int = 128):
        super().__init__()
        self.body = body
        shape = body.shape
        with torch.no_grad(), eval_mode(body):
            features = body.features(torch.zeros(2, *shape)).shape[1]
        bn = has_batchnorm(body)
        self.q = nn.Sequential(nn.Linear(features, width, bias=not bn), *([nn.BatchNorm1d(width)] if bn else []),
                               nn.LeakyReLU(0.2, inplace=True), nn.Linear(width, outputs))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.body.features(x)
        return self.body.head(f), self.q(f)


@dataclass
class InfoGANSettings(GameSettings):
    name: str = "infogan"
    categories: int = 10           # K of the categorical code (0: none)
    continuous: int = 2            # continuous codes, uniform on [-1, 1]
    lambda_cat: float = 1.0        # weight of the categorical information term
    lambda_cont: float = 0.1       # weight of the continuous information term (the paper: smaller than the categorical one)
    q_width: int = 128             # hidden units of Q's head
    lambda_aug: float = 0.0        # weight of the categorical term on warped fakes (0: off, the paper's game)
    noise: Literal["normal", "uniform"] = "normal"  # z ~ N(0, I), or U(-1, 1) per coordinate (the reference code's)

    def validate(self, cfg: Config) -> None:
        if self.categories == 1 or self.categories < 0:
            raise ConfigError(f"game.categories: {self.categories} must be 0 (none) or >= 2")
        check_nonnegative(self, "continuous", "lambda_cat", "lambda_cont", "lambda_aug")
        if self.lambda_aug > 0 and self.categories == 0:
            raise ConfigError("game.lambda_aug: the invariance term is about the categorical code; "
                              "game.categories is 0")
        if self.categories == 0 and self.continuous == 0:
            raise ConfigError("game.categories, game.continuous: InfoGAN needs at least one code")
        if self.q_width < 1:
            raise ConfigError(f"game.q_width: {self.q_width} must be >= 1")
        check_unconditional(cfg, "infogan", noise_d=True)
        if cfg.model.d.minibatch_std:
            raise ConfigError("model.d.minibatch_std: Q reads D's last hidden features, which a minibatch-std "
                              "layer would make depend on the batch; leave it off for game infogan")


@GAMES.register("infogan")
class InfoGANGame(NoiseGame):
    Settings = InfoGANSettings

    def __init__(self, cfg: Config, info: DataInfo):
        shape = image_shape(info, "infogan")
        s: InfoGANSettings = cfg.game
        self.categories, self.continuous = s.categories, s.continuous
        super().__init__(cfg, shape, codes=self.categories + self.continuous)
        body = build_discriminator(cfg.model, shape)
        self.D = InfoDiscriminator(body, self.categories + self.continuous, s.q_width)
        self.players: dict[str, nn.Module] = {"G": self.G, "D": self.D}
        self.objective = build_objective(cfg.loss)
        self.lambda_cat, self.lambda_cont, self.lambda_aug = s.lambda_cat, s.lambda_cont, s.lambda_aug
        self.d_steps, self.gp, self.clip = cfg.train.d_steps, cfg.penalty.gp, cfg.penalty.clip
        self._joint = not has_batchnorm(self.D)
        self._kept: tuple | None = None
        self.gaussian_noise = s.noise == "normal"

    def noise(self, n: int, device=None, generator: torch.Generator | None = None) -> torch.Tensor:
        """z ~ N(0, I), or U(-1, 1) per coordinate with ``game.noise=uniform``."""
        if not self.gaussian_noise:
            return torch.rand(n, self.latent_dim, device=device, generator=generator) * 2 - 1
        return super().noise(n, device, generator)

    # -- codes --------------------------------------------------------------------------------
    def code_names(self) -> list[str]:
        return (["c"] if self.categories else []) + [f"cont{j}" for j in range(self.continuous)]

    def draw_codes(self, n: int, device=None, generator: torch.Generator | None = None) -> Batch:
        """Codes from their priors: c uniform over the categories, cont uniform on [-1, 1]."""
        out = {}
        if self.categories:
            out["c"] = torch.randint(self.categories, (n,), generator=generator, device=device)
        if self.continuous:
            out["cont"] = torch.rand(n, self.continuous, generator=generator, device=device) * 2 - 1
        return out

    def latent(self, inputs: Batch) -> torch.Tensor:
        """[z | one-hot(c) | cont] for ``inputs`` {z, c, cont}."""
        parts = [inputs["z"]]
        if self.categories:
            parts.append(F.one_hot(inputs["c"].long(), self.categories).to(inputs["z"].dtype))
        if self.continuous:
            parts.append(inputs["cont"].to(inputs["z"].dtype))
        return torch.cat(parts, 1)

    def read_codes(self, q: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Q's outputs (B, K + n) as (category logits (B, K) or None, continuous means (B, n) or None)."""
        k = self.categories
        return (q[:, :k] if k else None), (q[:, k:] if self.continuous else None)

    @torch.no_grad()
    def infer_categories(self, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
        """Q's category (argmax of its logits) for real images (N, C, H, W) in [-1, 1]: (N,) on the CPU."""
        if not self.categories:
            raise GankitError("this InfoGAN run has no categorical code (game.categories=0)")
        dev = module_device(self.D)
        out = []
        with eval_mode(self.D):
            for i in range(0, len(images), batch_size):
                logits, _ = self.read_codes(self.D(images[i:i + batch_size].to(dev))[1].float())
                out.append(logits.argmax(1).cpu())
        return torch.cat(out)

    def information_loss(self, q: torch.Tensor, codes: Batch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """λ_cat · CE(logits, c) + λ_cont · ½ Σ_j (cont_j - μ_j)², batch means, and what to log."""
        logits, means = self.read_codes(q.float())
        loss, stats = q.new_zeros((), dtype=torch.float32), {}
        if logits is not None:
            ce = F.cross_entropy(logits, codes["c"])  # on logits: log-softmax inside
            loss = loss + self.lambda_cat * ce
            stats["info/mi_cat"] = (math.log(self.categories) - ce).detach()
            stats["info/cat_acc"] = (logits.detach().argmax(1) == codes["c"]).float().mean()
        if means is not None:
            mse = (means - codes["cont"].float()).pow(2).sum(1).mean()
            loss = loss + self.lambda_cont * 0.5 * mse
            stats["info/cont_mse"] = mse.detach() / self.continuous
        return loss, stats

    def invariance_loss(self, D: nn.Module, fake: torch.Tensor, codes: Batch) -> torch.Tensor:
        """λ_aug · CE(Q_cat(warp(G(z, c))), c): Q must still read c from a randomly rotated, scaled,
        sheared and shifted fake (:func:`gankit.augment.geometric`), so a category cannot be a slant,
        a width or a position, only what survives them. 0 when ``game.lambda_aug`` is 0."""
        if not self.lambda_aug:
            return fake.new_zeros((), dtype=torch.float32)
        logits, _ = self.read_codes(D(geometric(fake))[1].float())
        return self.lambda_aug * F.cross_entropy(logits, codes["c"])

    # -- the iteration ------------------------------------------------------------------------
    def phases(self) -> list[Phase]:
        return [Phase("D", ("D",))] * self.d_steps + [Phase("G", ("G",), data=False)]

    def run_phase(self, phase: Phase, batch: Batch | None, next_phase: Phase | None = None) -> dict[str, torch.Tensor]:
        if phase.name == "D":
            real = batch["x"]
            n, dev = len(real), real.device
            codes = self.draw_codes(n, device=dev)
            keep = next_phase is not None and next_phase.name == "G"
            with torch.set_grad_enabled(keep):  # the G phase reuses G(z, code), graph and all
                fake = self.train_module("G")(self.latent({"z": self.noise(n, device=dev), **codes}))
            self._kept = (fake, codes) if keep else None
            fake = fake.detach()
            D = self.train_module("D")
            if self._joint:
                adv, q = D(torch.cat([real, fake]))
                (real_out, fake_out), q_fake = adv.float().split(n), q[n:]
            else:
                real_out, _ = D(real)
                fake_out, q_fake = D(fake)
                real_out, fake_out = real_out.float(), fake_out.float()
            adv_loss = self.objective.d_loss(real_out=real_out, fake_out=fake_out)
            info, _ = self.information_loss(q_fake, codes)
            info = info + self.invariance_loss(D, fake, codes)
            loss = adv_loss + info
            stats = {"loss/D_adv": adv_loss.detach(), "loss/D_info": info.detach()}
            if self.gp > 0:
                gp = gradient_penalty(lambda v: D(v)[0].float(), real, fake)
                loss = loss + self.gp * gp
                stats["penalty/gp"] = gp.detach()
            self.backward(loss, "D")
            return {"loss/D": loss.detach(), "D_out/real": real_out.detach().mean(),
                    "D_out/fake": fake_out.detach().mean(), **stats}
        if phase.name == "G":
            if self._kept is None:
                n, dev = self._batch_size, module_device(self.G)
                codes = self.draw_codes(n, device=dev)
                fake = self.train_module("G")(self.latent({"z": self.noise(n, device=dev), **codes}))
            else:
                (fake, codes), self._kept = self._kept, None
            self.D.requires_grad_(False)
            try:
                D = self.train_module("D", frozen=True)
                fake_out, q = D(fake)
                adv_loss = self.objective.g_loss(fake_out=fake_out.float())
                info, stats = self.information_loss(q, codes)
                info = info + self.invariance_loss(D, fake, codes)
                loss = adv_loss + info
                self.backward(loss, "G")
            finally:
                self.D.requires_grad_(True)
            return {"loss/G": loss.detach(), "loss/G_adv": adv_loss.detach(), "loss/G_info": info.detach(), **stats}
        raise ValueError(f"unknown phase {phase.name!r}")

    def after_step(self, phase: Phase) -> None:
        if "D" in phase.players and self.clip > 0:
            clip_weights(self.D.body, self.clip)

    # -- drawing ------------------------------------------------------------------------------
    def bn_inputs(self, name: str, n: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        return (self.latent({"z": self.noise(n, generator=generator), **self.draw_codes(n, generator=generator)}),)

    def preview_inputs(self, data, heldout, n: int, generator: torch.Generator) -> Batch:
        """With a categorical code: row k shows category k, column j the same noise and continuous codes
        in every row (``n`` rounded down to a multiple of K); without one, random codes."""
        if not self.categories:
            return {"z": self.noise(n, generator=generator), **self.draw_codes(n, generator=generator)}
        cols = max(1, n // self.categories)
        base = {"z": self.noise(cols, generator=generator), **self.draw_codes(cols, generator=generator)}
        out = {k: v.repeat(self.categories, *([1] * (v.dim() - 1))) for k, v in base.items()}
        out["c"] = torch.arange(self.categories).repeat_interleave(cols)
        return out

    def picture(self, inputs: Batch, players: Mapping[str, nn.Module] | None = None):
        images = self.generate(inputs, players)
        return images, (len(images) // self.categories if self.categories else None)

    def sample_inputs(self, n: int, seed: int, labels=None, codes: Mapping[str, float] | None = None) -> Batch:
        """Noise and codes from ``seed`` (their priors), with ``codes`` fixed where given
        (``{"c": 3, "cont0": 1.5}``; :meth:`parse_codes` reads them from text)."""
        if labels is not None:
            raise GankitError("an InfoGAN generator takes codes, not class labels: use --code c=K")
        g = torch.Generator().manual_seed(seed)
        out = {"z": self.noise(n, generator=g), **self.draw_codes(n, generator=g)}
        return self.fix_codes(out, codes or {})

    def fix_codes(self, inputs: Batch, codes: Mapping[str, float]) -> Batch:
        out = dict(inputs)
        for name, value in self.check_codes(codes).items():
            if name == "c":
                out["c"] = torch.full_like(out["c"], int(value))
            else:
                out["cont"] = out["cont"].clone()
                out["cont"][:, int(name[4:])] = float(value)
        return out

    def check_codes(self, codes: Mapping[str, float]) -> dict[str, float]:
        """``codes`` checked against this run's: names, and c an integer in [0, K)."""
        names = self.code_names()
        for name, value in codes.items():
            if name not in names:
                raise GankitError(f"--code {name}: this run's codes are {', '.join(names)}")
            if not math.isfinite(float(value)):
                raise GankitError(f"--code {name}={value}: not a finite number")
            if name == "c" and (value != int(value) or not 0 <= int(value) < self.categories):
                raise GankitError(f"--code c={value:g}: the categorical code takes an integer in "
                                  f"[0, {self.categories - 1}]")
        return dict(codes)

    def traversal_inputs(self, code: str, rows: int, steps: int, seed: int, lo: float = -2.0, hi: float = 2.0,
                         codes: Mapping[str, float] | None = None) -> Batch:
        """A sweep of continuous code ``code`` (``cont0``, ...) from ``lo`` to ``hi`` in ``steps``
        columns, everything else fixed along each of ``rows`` rows; row i has category i mod K (unless
        ``codes`` fixes c) and its own noise and other codes. Row-major: (rows * steps) inputs."""
        if code not in self.code_names() or code == "c":
            conts = [n for n in self.code_names() if n != "c"]
            raise GankitError(f"--traverse {code}: this run's continuous codes are {', '.join(conts) or 'none'}")
        if rows < 1 or steps < 2:
            raise GankitError(f"a traversal needs >= 1 row and >= 2 steps, got {rows} and {steps}")
        base = self.sample_inputs(rows, seed)
        if self.categories:
            base["c"] = torch.arange(rows) % self.categories
        base = self.fix_codes(base, codes or {})
        out = {k: v.repeat_interleave(steps, 0) for k, v in base.items()}
        out["cont"] = out["cont"].clone()
        out["cont"][:, int(code[4:])] = torch.linspace(lo, hi, steps).repeat(rows)
        return out
