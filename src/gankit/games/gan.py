"""The standard two-player game: G(z) against D(x), with any registered objective, penalty and trick.

One iteration is ``d_steps`` discriminator phases and one generator phase (Goodfellow et al. 2014,
Algorithm 1). Lean by construction: in the last D phase, G's forward pass runs with autograd on and
its output is reused by the G phase that follows, so every iteration costs exactly ``d_steps``
generator forward passes; D's parameters are frozen during the G phase so no gradient is computed for
them; and real and fake images go through D as one batch when D has no BatchNorm (with BatchNorm the
batches stay separate, as the DCGAN paper trains them, because mixing changes the batch statistics).

Conditional GANs (``model.g.conditioning`` / ``model.d.conditioning``, nets/conditioning.py) play the
same game with labels: G(z, y) and D(x, y). D sees real images with their own labels and fake images
with the labels G was given; fake labels are drawn uniformly over the classes. With an auxiliary
classifier D (ACGAN) the cross-entropy of its class logits, weighted by ``loss.ac_weight``, is added for
D on real and fake and for G on fake (Odena et al. 2017, eqs. 1-2).

What D is shown (``_view``, in D's and G's phases alike): DiffAugment, then with ``tricks.diffusion`` the
forward diffusion of Diffusion-GAN (gankit/diffusion.py: x_t at a timestep drawn per sample, the timestep
joining as one more input channel, its length T adapted to D's overfitting and kept as game state), then
instance noise.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..augment import diff_augment, parse_policy
from ..config import Config, GameSettings
from ..diffusion import AdaptiveDiffusion
from ..errors import ConfigError, GankitError
from ..losses import build_objective
from ..losses.penalties import clip_weights, gradient_penalty, input_gradient_sq_norm
from ..nets import build_discriminator, build_generator
from . import GAMES
from .base import Batch, DataInfo, Game, Phase, eval_mode, module_device
from .packing import pack, packed_shape


def has_batchnorm(module: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


@dataclass
class GANSettings(GameSettings):
    """The standard game has no keys of its own: its objective, penalties and tricks are the shared
    ``loss``, ``penalty`` and ``tricks`` sections, its schedule ``train.d_steps``."""
    name: str = "gan"

    def validate(self, cfg: Config) -> None:
        from ..config import NetConfig

        for p in ("g", "d"):
            net = getattr(cfg.model, p)
            if not isinstance(net, NetConfig):
                raise ConfigError(f"model.{p}.name: {net.name!r} is not a network of game 'gan' (mlp, dcgan, resnet, "
                                  f"toy); it belongs to translation games such as game.name=pix2pix")


@GAMES.register("gan")
class GANGame(Game):
    Settings = GANSettings
    kind = "noise"

    def __init__(self, cfg: Config, info: DataInfo):
        super().__init__()
        if "x" not in info.shapes:
            raise ConfigError(f"game.name: 'gan' learns one image set, but data.name={info.source!r} yields "
                              f"{'/'.join(info.shapes)} (choose a translation game, e.g. game.name=pix2pix)")
        shape, num_classes = info.shapes["x"], info.num_classes
        self.latent_dim = cfg.model.latent_dim
        self.conditional = getattr(cfg.model.g, "conditioning", "none") != "none"
        self.num_classes = (cfg.model.num_classes or num_classes) if self.conditional else None
        if self.conditional and num_classes and cfg.model.num_classes and cfg.model.num_classes != num_classes:
            raise ConfigError(f"model.num_classes: {cfg.model.num_classes} but the dataset has {num_classes} classes")
        if self.conditional and self.num_classes:
            cfg.model.num_classes = self.num_classes  # the run's config records the count it used
        self.ac_weight = cfg.loss.ac_weight if cfg.model.d.conditioning == "ac" else 0.0
        self.G = build_generator(cfg.model, shape, self.num_classes)
        self.pack = cfg.tricks.pack  # PacGAN: D judges packs of this many samples (games/packing.py)
        # Diffusion-GAN: D sees diffused samples and their timestep, as one more input channel
        self.diffusion = AdaptiveDiffusion.from_config(cfg.tricks, cfg.loss) if cfg.tricks.diffusion else None
        d_shape = AdaptiveDiffusion.input_shape(tuple(shape)) if self.diffusion is not None else tuple(shape)
        self.D = build_discriminator(cfg.model, packed_shape(d_shape, self.pack), self.num_classes)
        self.objective = build_objective(cfg.loss)
        if cfg.tricks.label_smoothing:
            self.objective.real_target = 1.0 - cfg.tricks.label_smoothing
        self.tricks = cfg.tricks
        self._augment = parse_policy(cfg.tricks.diffaugment)
        self.players: dict[str, nn.Module] = {"G": self.G, "D": self.D}
        self.penalty = cfg.penalty
        self.d_steps = cfg.train.d_steps
        self._joint_d_batch = not has_batchnorm(self.D)
        self._d_updates = 0  # counts D phases, for the lazy R1 interval
        self._iterations = 0  # counts G phases, for the instance-noise schedule
        self._fake: torch.Tensor | None = None
        self._fake_y: torch.Tensor | None = None
        self._batch_size = 64

    @property
    def averaged(self) -> tuple[str, ...]:
        return ("G",)

    # -- the iteration ------------------------------------------------------------------------
    def phases(self) -> list[Phase]:
        # feature matching compares with real data, so the G phase then takes a batch too
        return [Phase("D", ("D",))] * self.d_steps + [Phase("G", ("G",), self.tricks.feature_matching)]

    def noise(self, n: int, device=None, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, self.latent_dim, device=device, generator=generator)

    def labels(self, n: int, device=None, generator: torch.Generator | None = None) -> torch.Tensor | None:
        """Class labels for ``n`` fake samples, uniform over the classes (None: unconditional)."""
        if not self.conditional:
            return None
        return torch.randint(self.num_classes, (n,), generator=generator).to(device)

    def bn_inputs(self, name: str, n: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        """G's positional inputs for ``n`` samples on the CPU: ``(z,)``, or ``(z, y)`` when conditional
        (uniform random classes)."""
        z = self.noise(n, generator=generator)
        return (z,) if not self.conditional else (z, self.labels(n, generator=generator))

    def run_phase(self, phase: Phase, batch: Batch | None, next_phase: Phase | None = None) -> dict[str, torch.Tensor]:
        if phase.name == "D":
            real = batch["x"]
            self._batch_size = real.shape[0]
            return self._d_phase(real, keep_fake=next_phase is not None and next_phase.name == "G",
                                 y_real=_labels_of(batch) if self.conditional else None)
        if phase.name == "G":
            real, y_real = (batch["x"], _labels_of(batch)) if batch is not None else (None, None)
            return self._g_phase(self._batch_size, self.G_device(), real, y_real)
        raise ValueError(f"unknown phase {phase.name!r}")

    def G_device(self) -> torch.device:
        return next(self.G.parameters()).device

    def _d_phase(self, real: torch.Tensor, keep_fake: bool, y_real: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        pen = self.penalty
        r1_now = (pen.r1 > 0 and self._d_updates % pen.r1_every == 0
                  and (pen.r1_steps == 0 or self._iterations < pen.r1_steps))
        self._d_updates += 1
        if r1_now:  # R1 differentiates D's output on the real batch w.r.t. the batch itself
            real = real.detach().requires_grad_(True)
        z = self.noise(real.shape[0], device=real.device)
        y_fake = self.labels(real.shape[0], device=real.device)
        with torch.set_grad_enabled(keep_fake):
            fake = self._G(z, y_fake)
        self._fake, self._fake_y = (fake, y_fake) if keep_fake else (None, None)
        fake = fake.detach()
        if self._joint_d_batch:
            y = torch.cat([y_real, y_fake]) if self.conditional else None
            real_out, fake_out = _split(self._D(torch.cat([real, fake]), y), real.shape[0] // self.pack)
        else:
            real_out, fake_out = self._D(real, y_real), self._D(fake, y_fake)
        (real_out, real_cls), (fake_out, fake_cls) = _adv_cls(real_out), _adv_cls(fake_out)
        loss = self.objective.d_loss(real_out=real_out, fake_out=fake_out)
        stats = {"loss/D": loss.detach(), "D_out/real": real_out.detach().mean(),
                 "D_out/fake": fake_out.detach().mean()}
        if real_cls is not None:  # ACGAN: D learns to classify real and fake images
            ac = F.cross_entropy(real_cls, y_real) + F.cross_entropy(fake_cls, y_fake)
            loss = loss + self.ac_weight * ac
            stats["loss/D_class"] = ac.detach()
            stats["D_class_acc/real"] = (real_cls.detach().argmax(1) == y_real).float().mean()
        if pen.gp > 0:
            # in D's (packed) input space; interpolates are judged with the real batch's labels
            D_train = self.train_module("D")
            D_gp = D_train if not self.conditional else (lambda x: _adv_cls(D_train(x, y_real))[0])
            gp_real, gp_fake = real, fake
            if self.diffusion is not None:  # pairs diffused to one timestep each, judged with that timestep
                t = self.diffusion.sample_t(real.shape[0], real.device)
                gp_real, gp_fake = self.diffusion.diffuse(real, t), self.diffusion.diffuse(fake, t)
                D_judge = D_gp
                D_gp = lambda x: D_judge(self.diffusion.condition(x, t, self.pack))  # noqa: E731
            gp = gradient_penalty(D_gp, pack(gp_real, self.pack), pack(gp_fake, self.pack))
            loss = loss + pen.gp * gp
            stats["penalty/gp"] = gp.detach()
        if r1_now:
            # per decision: a pack's squared gradient norm sums over its m samples
            r1 = self.pack * input_gradient_sq_norm(real_out, real)
            loss = loss + (0.5 * pen.r1 * pen.r1_every) * r1
            stats["penalty/r1"] = r1.detach()
        self.backward(loss, "D")
        p_real, p_fake = self.objective.prob(real_out.detach()), self.objective.prob(fake_out.detach())
        if p_real is not None:
            stats["D(x)"], stats["D(G(z))"] = p_real.mean(), p_fake.mean()
        if self.diffusion is not None:  # D's decisions on diffused real data steer T (after this step)
            stats.update(self.diffusion.observe(real_out, real.shape[0]))
        return stats

    def _g_phase(self, batch_size: int, device, real: torch.Tensor | None = None,
                 y_real: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        fake, y_fake, self._fake, self._fake_y = self._fake, self._fake_y, None, None
        if fake is None:
            y_fake = self.labels(batch_size, device=device)
            fake = self._G(self.noise(batch_size, device=device), y_fake)
        self._iterations += 1
        self.D.requires_grad_(False)
        try:
            if real is not None:  # feature matching: || E f(x) - E f(G(z)) ||^2 on D's last hidden layer
                # (conditional: real features with the real batch's labels, fake with G's labels)
                target_args, fake_args = ((y_real,), (y_fake,)) if self.conditional else ((), ())
                with torch.no_grad():
                    target = self.D.features(pack(self._view(real), self.pack), *target_args).mean(0)
                loss = (self.D.features(pack(self._view(fake), self.pack), *fake_args).mean(0).float()
                        - target.float()).pow(2).sum()
                stats = {}
            else:
                x = pack(self._view(fake), self.pack)
                D = self.train_module("D", frozen=True)
                out = D(x, y_fake) if self.conditional else D(x)
                fake_out, fake_cls = _adv_cls(out)
                stats = {}
                k = self._topk(fake_out.shape[0])
                if k < fake_out.shape[0]:  # top-k: only the decisions D rates most real teach G
                    keep = fake_out.detach().topk(k).indices
                    fake_out = fake_out[keep]
                    if fake_cls is not None:
                        fake_cls, y_fake = fake_cls[keep], y_fake[keep]
                    stats["topk"] = torch.tensor(float(k))
                loss = self.objective.g_loss(fake_out=fake_out)
                if fake_cls is not None:  # ACGAN: G makes its images classifiable as their labels
                    ac = F.cross_entropy(fake_cls, y_fake)
                    loss = loss + self.ac_weight * ac
                    stats["loss/G_class"] = ac.detach()
            self.backward(loss, "G")
        finally:
            self.D.requires_grad_(True)
        return {"loss/G": loss.detach(), **stats}

    def _topk(self, n: int) -> int:
        """How many of the n fake decisions G's loss uses this iteration (Sinha et al. 2020: all of
        them at first, then a fraction that shrinks to ``tricks.topk``)."""
        frac, steps = self.tricks.topk, self.tricks.topk_steps
        if frac >= 1:
            return n
        if steps:
            frac = 1.0 - (1.0 - frac) * min(1.0, self._iterations / steps)
        return max(1, math.ceil(frac * n - 1e-9))

    def _D(self, x: torch.Tensor, y: torch.Tensor | None = None):
        """(B / pack,) decisions; for an ACGAN D a pair (decisions, class logits (B, K)), in float32."""
        x = pack(self._view(x), self.pack)
        D = self.train_module("D")
        out = D(x, y) if self.conditional else D(x)
        return tuple(o.float() for o in out) if isinstance(out, tuple) else out.float()

    def _G(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        G = self.train_module("G")
        return G(z, y) if self.conditional else G(z)

    def _view(self, x: torch.Tensor) -> torch.Tensor:
        """What D is shown, identically for real and fake: DiffAugment, the Diffusion-GAN forward diffusion
        (a timestep per sample, joining the image as one more channel) and instance noise."""
        if self._augment:
            x = diff_augment(x, self._augment)
        t = None
        if self.diffusion is not None:
            x, t = self.diffusion(x)
        sigma = self.tricks.instance_noise
        if sigma > 0:
            if self.tricks.instance_noise_steps:
                sigma *= max(0.0, 1.0 - self._iterations / self.tricks.instance_noise_steps)
            if sigma > 0:
                x = x + sigma * torch.randn_like(x)
        return x if t is None else self.diffusion.condition(x, t)

    def after_step(self, phase: Phase) -> None:
        """Constraints applied after a player's optimizer step (WGAN weight clipping)."""
        if "D" in phase.players and self.penalty.clip > 0:
            clip_weights(self.D, self.penalty.clip)

    def state_dict(self) -> dict:
        state = {"d_updates": self._d_updates, "iterations": self._iterations}
        if self.diffusion is not None:
            state["diffusion"] = self.diffusion.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        self._d_updates = int(state.get("d_updates", 0))
        self._iterations = int(state.get("iterations", 0))
        if self.diffusion is not None and "diffusion" in state:
            self.diffusion.load_state_dict(state["diffusion"])

    # -- drawing ----------------------------------------------------------------------------
    def preview_inputs(self, data, heldout, n: int, generator: torch.Generator) -> Batch:
        """Fixed noise; conditional: one grid row per class, the same noise in every row (``n`` rounded
        down to a multiple of the class count, at least one column)."""
        if not self.conditional:
            return {"z": self.noise(n, generator=generator)}
        return self.class_grid_inputs(max(1, n // self.num_classes), generator)

    def class_grid_inputs(self, columns: int, generator: torch.Generator) -> Batch:
        """Row k shows class k; column j uses the same noise in every row (the style stays, the class changes)."""
        if not self.conditional:
            raise GankitError("--classes: this generator is unconditional")
        z = self.noise(columns, generator=generator).repeat(self.num_classes, 1)
        return {"z": z, "y": torch.arange(self.num_classes).repeat_interleave(columns)}

    def sample_inputs(self, n: int, seed: int, labels=None) -> Batch:
        """Noise from ``seed`` and, for a conditional generator, classes: ``labels`` an int (every
        sample), a sequence of n, or None (balanced: sample i shows class i mod K)."""
        z = self.noise(n, generator=torch.Generator().manual_seed(seed))
        if not self.conditional:
            if labels is not None:
                raise GankitError("this generator is unconditional; it takes no class labels")
            return {"z": z}
        k = self.num_classes
        if labels is None:
            y = torch.arange(n) % k
        else:
            y = torch.full((n,), int(labels)) if isinstance(labels, int) else torch.as_tensor(labels).long().flatten()
            if len(y) != n:
                raise GankitError(f"labels: {len(y)} labels for {n} samples")
            if len(y) and (y.min() < 0 or y.max() >= k):
                raise GankitError(f"class labels must lie in [0, {k - 1}], got {int(y.min())}..{int(y.max())}")
        return {"z": z, "y": y}

    @torch.no_grad()
    def generate(self, inputs: Batch, players: Mapping[str, nn.Module] | None = None) -> torch.Tensor:
        G = (players or {}).get("G", self.G)
        dev = module_device(G)
        z = inputs["z"].to(dev)
        with eval_mode(G):
            if self.conditional:
                if inputs.get("y") is None:
                    raise GankitError("a conditional generator needs class labels y")
                return G(z, inputs["y"].to(dev))
            return G(z)

    def picture(self, inputs: Batch, players: Mapping[str, nn.Module] | None = None):
        images = self.generate(inputs, players)
        return images, (len(images) // self.num_classes if self.conditional else None)


def _labels_of(batch: Batch) -> torch.Tensor | None:
    """The classes of a batch: its class labels, or the domains of multi-domain data."""
    return batch.get("y", batch.get("domain"))


def _adv_cls(out) -> tuple[torch.Tensor, torch.Tensor | None]:
    """D's output as (adversarial decisions, class logits or None)."""
    return (out[0], out[1]) if isinstance(out, tuple) else (out, None)


def _split(out, n: int):
    """Split D's output for a joint [real; fake] batch into the real and fake parts."""
    if isinstance(out, tuple):
        (a_real, a_fake), (c_real, c_fake) = out[0].split(n), out[1].split(n)
        return (a_real, c_real), (a_fake, c_fake)
    return out.split(n)
