"""The auto-encoder energy and what EBGAN and BEGAN build on it.

An auto-encoder discriminator scores an image by how badly it reconstructs it: the energy is low on
the data, high elsewhere. **The sign, against the family's rule** ("a higher D output means more
real", nets/__init__.py): an energy is the opposite — lower means more real. The energy games log
``energy/real`` and ``energy/fake`` as they are, and ``D_out/real`` / ``D_out/fake`` as the negated
energies, so that every game's D curves read the same way up.
"""
from __future__ import annotations

import torch

from ..nets import build_autoencoder
from .base import Phase, module_device, require_default
from .gan import has_batchnorm
from .noise import NoiseGame, check_unconditional, image_shape


def reconstruction_energy(x: torch.Tensor, reconstruction: torch.Tensor, p: int) -> torch.Tensor:
    """Per-sample energy (B,): the mean over pixels of |x - D(x)|^p (p = 2: EBGAN's mean squared
    error; p = 1: BEGAN's L1), in float32. Averaging over pixels keeps the energy, and EBGAN's margin,
    on one scale at every resolution (images in [-1, 1])."""
    diff = (reconstruction.float() - x.float()).flatten(1)
    return diff.pow(2).mean(1) if p == 2 else diff.abs().pow(p).mean(1)


def pulling_away(codes: torch.Tensor) -> torch.Tensor:
    """EBGAN's pulling-away term (Zhao et al. 2017, eq. 6) on a batch of codes S (N, d):

        f_PT(S) = 1 / (N (N - 1)) · Σ_{i ≠ j} (S_i · S_j / (||S_i|| ||S_j||))²

    the mean squared cosine similarity of distinct pairs: 0 when the codes are orthogonal, 1 when they
    all point one way (a collapsed batch)."""
    n = codes.shape[0]
    if n < 2:
        return codes.new_zeros(())
    s = codes.float().flatten(1)
    s = s / s.norm(dim=1, keepdim=True).clamp_min(1e-12)
    cos2 = (s @ s.t()).pow(2)
    return (cos2.sum() - cos2.diagonal().sum()) / (n * (n - 1))


# ---------------------------------------------------------------------------------------------------
# the game both build on


def check_energy_settings(cfg, game: str) -> None:
    """ConfigErrors for shared settings an energy game does not use (its losses are its own)."""
    check_unconditional(cfg, game, noise_d=False)
    require_default(cfg, ["loss.name", "loss.g_cost", "penalty.gp", "penalty.clip"], game)


class AutoEncoderGame(NoiseGame):
    """Base of EBGAN and BEGAN: G(z) against an auto-encoder D (``model.d``, family autoencoder). One
    iteration is ``train.d_steps`` D phases then a G phase; the last D phase's G(z) (computed with autograd on) is what the G phase scores, so an
    iteration costs ``d_steps`` generator forwards. D sees real and fake as one batch unless it has
    BatchNorm (then separately, as DCGAN trains). Subclasses give ``power`` (the energy's exponent),
    ``d_loss(e_real, e_fake)`` and ``g_loss(e_fake, codes)``, each returning (loss, stats)."""

    power: int = 2

    def __init__(self, cfg, info) -> None:
        shape = image_shape(info, cfg.game.name)
        super().__init__(cfg, shape)
        self.D = build_autoencoder(cfg.model.d, shape)
        self.players = {"G": self.G, "D": self.D}
        self.d_steps = cfg.train.d_steps
        self._joint = not has_batchnorm(self.D)
        self._fake: torch.Tensor | None = None

    def phases(self):
        return [Phase("D", ("D",))] * self.d_steps + [Phase("G", ("G",), data=False)]

    def _energies(self, D, real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self._joint:
            both = torch.cat([real, fake])
            e = reconstruction_energy(both, D(both)[0], self.power)
            return e[:len(real)], e[len(real):]
        return (reconstruction_energy(real, D(real)[0], self.power),
                reconstruction_energy(fake, D(fake)[0], self.power))

    def run_phase(self, phase, batch, next_phase=None) -> dict[str, torch.Tensor]:
        if phase.name == "D":
            real = batch["x"]
            self._batch_size = len(real)
            keep = next_phase is not None and next_phase.name == "G"
            with torch.set_grad_enabled(keep):  # the G phase reuses G(z), graph and all
                fake = self.train_module("G")(self.noise(len(real), device=real.device))
            self._fake = fake if keep else None
            e_real, e_fake = self._energies(self.train_module("D"), real, fake.detach())
            loss, stats = self.d_loss(e_real, e_fake)
            self.backward(loss, "D")
            er, ef = e_real.detach().mean(), e_fake.detach().mean()
            return {"loss/D": loss.detach(), "energy/real": er, "energy/fake": ef,
                    "D_out/real": -er, "D_out/fake": -ef, **stats}
        if phase.name == "G":
            fake, self._fake = self._fake, None
            if fake is None:
                fake = self.train_module("G")(self.noise(self._batch_size, device=module_device(self.G)))
            self.D.requires_grad_(False)
            try:
                reconstruction, codes = self.train_module("D", frozen=True)(fake)
                loss, stats = self.g_loss(reconstruction_energy(fake, reconstruction, self.power), codes)
                self.backward(loss, "G")
            finally:
                self.D.requires_grad_(True)
            return {"loss/G": loss.detach(), **stats}
        raise ValueError(f"unknown phase {phase.name!r}")

