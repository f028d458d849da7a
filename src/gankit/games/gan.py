"""The standard two-player game: G(z) against D(x), with any registered objective, penalty and trick.

One iteration is ``d_steps`` discriminator phases and one generator phase (Goodfellow et al. 2014,
Algorithm 1). Lean by construction: in the last D phase, G's forward pass runs with autograd on and
its output is reused by the G phase that follows, so every iteration costs exactly ``d_steps``
generator forward passes; D's parameters are frozen during the G phase so no gradient is computed for
them; and real and fake images go through D as one batch when D has no BatchNorm (with BatchNorm the
batches stay separate, as the DCGAN paper trains them, because mixing changes the batch statistics).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from ..augment import diff_augment, parse_policy
from ..config import Config
from ..losses import build_objective
from ..losses.penalties import clip_weights, gradient_penalty, input_gradient_sq_norm
from ..nets import build_discriminator, build_generator
from . import GAMES, Phase
from .packing import pack, packed_shape


def has_batchnorm(module: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


@GAMES.register("gan")
class GANGame:
    def __init__(self, cfg: Config, shape: tuple[int, int, int], num_classes: int | None = None):
        self.latent_dim = cfg.model.latent_dim
        self.G = build_generator(cfg.model, shape)
        self.pack = cfg.tricks.pack  # PacGAN: D judges packs of this many samples (games/packing.py)
        self.D = build_discriminator(cfg.model, packed_shape(tuple(shape), self.pack))
        self.objective = build_objective(cfg.loss)
        if cfg.tricks.label_smoothing:
            self.objective.real_target = 1.0 - cfg.tricks.label_smoothing
        self.tricks = cfg.tricks
        self._augment = parse_policy(cfg.tricks.diffaugment)
        self.players: dict[str, nn.Module] = {"G": self.G, "D": self.D}
        self.generators = ("G",)  # players whose weights train.ema_decay averages
        self.penalty = cfg.penalty
        self._joint_d_batch = not has_batchnorm(self.D)
        self._d_updates = 0  # counts D phases, for the lazy R1 interval
        self._iterations = 0  # counts G phases, for the instance-noise schedule
        self._fake: torch.Tensor | None = None
        self._batch_size = 64
        # what the training forward passes call: the players themselves, or wrappers the trainer
        # installs (DistributedDataParallel, torch.compile); D's frozen forward in the G phase needs
        # no gradient synchronisation, so it never goes through DDP
        self._wrapped: dict[str, nn.Module] = {}  # until the trainer wraps them: the players themselves
        self.grad_scalers: dict = {}  # player -> torch.amp.GradScaler (fp16 training), set by the trainer

    def wrap_players(self, wrap) -> None:
        """Route training forwards through ``wrap(name, module, trainable)`` (see Trainer)."""
        self._wrapped = {"G": wrap("G", self.G, True), "D": wrap("D", self.D, True),
                         "D_frozen": wrap("D", self.D, False)}

    @property
    def _G_train(self) -> nn.Module:
        return self._wrapped.get("G", self.G)

    @property
    def _D_train(self) -> nn.Module:
        return self._wrapped.get("D", self.D)

    @property
    def _D_frozen(self) -> nn.Module:
        return self._wrapped.get("D_frozen", self.D)

    def _backward(self, loss: torch.Tensor, player: str) -> None:
        scaler = self.grad_scalers.get(player)
        (scaler.scale(loss) if scaler is not None else loss).backward()

    # -- the iteration ------------------------------------------------------------------------
    def phases(self, d_steps: int) -> list[Phase]:
        # feature matching compares with real data, so the G phase then takes a batch too
        return [Phase("D", "D", True)] * d_steps + [Phase("G", "G", self.tricks.feature_matching)]

    def noise(self, n: int, device=None, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, self.latent_dim, device=device, generator=generator)

    def run_phase(self, phase: Phase, batch, next_phase: Phase | None = None) -> dict[str, torch.Tensor]:
        if phase.name == "D":
            real, _ = batch
            self._batch_size = real.shape[0]
            return self._d_phase(real, keep_fake=next_phase is not None and next_phase.name == "G")
        if phase.name == "G":
            real = batch[0] if batch is not None else None
            return self._g_phase(self._batch_size, self.G_device(), real)
        raise ValueError(f"unknown phase {phase.name!r}")

    def G_device(self) -> torch.device:
        return next(self.G.parameters()).device

    def _d_phase(self, real: torch.Tensor, keep_fake: bool) -> dict[str, torch.Tensor]:
        pen = self.penalty
        r1_now = pen.r1 > 0 and self._d_updates % pen.r1_every == 0
        self._d_updates += 1
        if r1_now:  # R1 differentiates D's output on the real batch w.r.t. the batch itself
            real = real.detach().requires_grad_(True)
        z = self.noise(real.shape[0], device=real.device)
        with torch.set_grad_enabled(keep_fake):
            fake = self._G_train(z)
        self._fake = fake if keep_fake else None
        fake = fake.detach()
        if self._joint_d_batch:
            real_out, fake_out = self._D(torch.cat([real, fake])).float().split(real.shape[0] // self.pack)
        else:
            real_out, fake_out = self._D(real).float(), self._D(fake).float()
        loss = self.objective.d_loss(real_out=real_out, fake_out=fake_out)
        stats = {"loss/D": loss.detach(), "D_out/real": real_out.detach().mean(),
                 "D_out/fake": fake_out.detach().mean()}
        if pen.gp > 0:
            # in D's (packed) input space
            gp = gradient_penalty(self._D_train, pack(real, self.pack), pack(fake, self.pack))
            loss = loss + pen.gp * gp
            stats["penalty/gp"] = gp.detach()
        if r1_now:
            # per decision: a pack's squared gradient norm sums over its m samples
            r1 = self.pack * input_gradient_sq_norm(real_out, real)
            loss = loss + (0.5 * pen.r1 * pen.r1_every) * r1
            stats["penalty/r1"] = r1.detach()
        self._backward(loss, "D")
        p_real, p_fake = self.objective.prob(real_out.detach()), self.objective.prob(fake_out.detach())
        if p_real is not None:
            stats["D(x)"], stats["D(G(z))"] = p_real.mean(), p_fake.mean()
        return stats

    def _g_phase(self, batch_size: int, device, real: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        fake, self._fake = self._fake, None
        if fake is None:
            fake = self._G_train(self.noise(batch_size, device=device))
        self._iterations += 1
        self.D.requires_grad_(False)
        try:
            if real is not None:  # feature matching: || E f(x) - E f(G(z)) ||^2 on D's last hidden layer
                with torch.no_grad():
                    target = self.D.features(pack(self._view(real), self.pack)).mean(0)
                loss = (self.D.features(pack(self._view(fake), self.pack)).mean(0).float() - target.float()).pow(2).sum()
            else:
                loss = self.objective.g_loss(fake_out=self._D_frozen(pack(self._view(fake), self.pack)).float())
            self._backward(loss, "G")
        finally:
            self.D.requires_grad_(True)
        return {"loss/G": loss.detach()}

    def _D(self, x: torch.Tensor) -> torch.Tensor:
        return self._D_train(pack(self._view(x), self.pack))  # (B / pack,) decisions

    def _view(self, x: torch.Tensor) -> torch.Tensor:
        """What D is shown: DiffAugment and instance noise, identically for real and fake."""
        if self._augment:
            x = diff_augment(x, self._augment)
        sigma = self.tricks.instance_noise
        if sigma > 0:
            if self.tricks.instance_noise_steps:
                sigma *= max(0.0, 1.0 - self._iterations / self.tricks.instance_noise_steps)
            if sigma > 0:
                x = x + sigma * torch.randn_like(x)
        return x

    def after_step(self, phase: Phase) -> None:
        """Constraints applied after a player's optimizer step (WGAN weight clipping)."""
        if phase.player == "D" and self.penalty.clip > 0:
            clip_weights(self.D, self.penalty.clip)

    def state_dict(self) -> dict:
        return {"d_updates": self._d_updates, "iterations": self._iterations}

    def load_state_dict(self, state: dict) -> None:
        self._d_updates = int(state.get("d_updates", 0))
        self._iterations = int(state.get("iterations", 0))

    # -- pictures and evaluation --------------------------------------------------------------
    @torch.no_grad()
    def sample(self, z: torch.Tensor, G: nn.Module | None = None) -> torch.Tensor:
        """Images for ``z`` from ``G`` (default: the live generator), in eval mode."""
        G = G if G is not None else self.G
        was_training = G.training
        G.eval()
        try:
            return G(z)
        finally:
            G.train(was_training)
