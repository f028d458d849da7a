"""Diffusion-GAN (Wang, Zheng, He, Chen & Zhou 2023, "Diffusion-GAN: Training GANs with Diffusion").

The discriminator judges real and generated images after a forward diffusion of ``t`` steps,
``t`` drawn per sample, and is told ``t``. The forward diffusion (the paper's eq. 3, with the
noise scaled by sigma as in its code):

    x_t = sqrt(abar_t) x + sqrt(1 - abar_t) sigma eps,   eps ~ N(0, I),   abar_t = prod_{s<=t} (1 - beta_s)

with the linear schedule beta_1 = 1e-4 ... beta_{T_max} = 2e-2 over ``tricks.diffusion_t_max`` steps
(abar_0 = 1: t = 0 is the clean image). It is affine in x, so G's gradient passes through it
(scaled by sqrt(abar_t)). Timesteps come from {0, ..., T} (T rounded) by the paper's ``priority``
distribution p(t) = t / sum_s s (more weight on noisier steps) or uniformly (``tricks.diffusion_ts_dist``).

**Adaptive T** (the paper's §3.2, ADA's heuristic of Karras et al. 2020): the overfitting signal

    r_d = E[sign(D(x_t) - m)]  over the real batches of the last ``tricks.diffusion_every`` D steps

(m: the objective's decision boundary, 0 for the logistic loss the paper uses, see
:func:`decision_boundary`) moves T by

    T <- clip(T + sign(r_d - d_target) * C, T_min, T_max),   C = (T_max - T_min) * N / (ada_kimg * 1000)

with N the real images D judged in those steps: at most ``ada_kimg`` thousand images take T across
its whole range. T starts at T_min, is kept as a float and rounded when timesteps are drawn.

**The timestep in D**: the paper feeds t to StyleGAN2's D through its conditioning mapping network (a
learned embedding of t). Here, to work with every D family unchanged, t / T_max joins the image as one
more constant input channel (a constant feature for 2-D points): a simplification, and D is built
with C + 1 input channels.

Departures from the official code (github.com/Zhendong-Wang/Diffusion-GAN), which draws each batch's
timesteps from a pool of 64 values renewed when T changes (half of them t = 0, the other half from
{1..T} with weights proportional to t - 1) and spreads the beta schedule over the current T rather than
T_max: here every sample draws its own t from {0..T} with p(t) proportional to t (the paper's formula),
and the schedule is fixed, so a timestep always means the same noise level whatever T is.
"""
from __future__ import annotations

import math
from typing import Any

import torch
import torch.distributed as dist

#: the paper's linear beta schedule
BETA_START, BETA_END = 1e-4, 2e-2
TS_DISTS = ("priority", "uniform")


def alphas_cumprod(t_max: int, beta_start: float = BETA_START, beta_end: float = BETA_END) -> torch.Tensor:
    """abar_t for t = 0 .. t_max (float64, length t_max + 1): abar_0 = 1 and abar_t = prod_{s=1}^t (1 - beta_s),
    beta linear from ``beta_start`` (s = 1) to ``beta_end`` (s = t_max)."""
    betas = torch.linspace(beta_start, beta_end, t_max, dtype=torch.float64)
    return torch.cat([torch.ones(1, dtype=torch.float64), torch.cumprod(1.0 - betas, 0)])


def timestep_probs(T: int, dist_name: str = "priority") -> torch.Tensor:
    """p(t) over t = 0 .. T (float64): ``priority`` t / sum_s s, ``uniform`` 1 / (T + 1)."""
    if dist_name == "priority":
        w = torch.arange(T + 1, dtype=torch.float64)
    elif dist_name == "uniform":
        w = torch.ones(T + 1, dtype=torch.float64)
    else:
        raise ValueError(f"unknown timestep distribution {dist_name!r}; choose from {', '.join(TS_DISTS)}")
    return w / w.sum()


def decision_boundary(loss) -> float | None:
    """The raw D output that separates "real" from "fake" under the objective of ``loss`` (a
    LossConfig): 0 for the logistic (gan), hinge and most f-GAN losses, (a + b) / 2 for LSGAN, 1 for
    f-GAN's KL (where g_f(v) = f'(1)); None where the output has no such point (Wasserstein: the
    critic's offset is free)."""
    if loss.name in ("gan", "hinge"):
        return 0.0
    if loss.name == "lsgan":
        a, b, _ = loss.ls_targets
        return 0.5 * (a + b)
    if loss.name == "fgan":
        return 1.0 if loss.divergence == "kl" else 0.0
    return None


def adapt_T(T: float, r_d: float, target: float, step: float, t_min: float, t_max: float) -> float:
    """One adjustment of T: ``T + sign(r_d - target) * step``, clipped to [t_min, t_max]."""
    sign = (r_d > target) - (r_d < target)
    return min(max(T + sign * step, float(t_min)), float(t_max))


class AdaptiveDiffusion:
    """The forward diffusion D's inputs go through, and the adaptive length T (see the module docstring).

    Game state: T, and the sign sum, decision count, image count and D-step count since the last
    adjustment (:meth:`state_dict`; a resumed run continues bit-exactly)."""

    def __init__(self, t_min: int = 5, t_max: int = 500, sigma: float = 0.05, target: float = 0.6,
                 every: int = 4, ada_kimg: float = 500.0, ts_dist: str = "priority", boundary: float | None = 0.0):
        if ts_dist not in TS_DISTS:
            raise ValueError(f"unknown timestep distribution {ts_dist!r}; choose from {', '.join(TS_DISTS)}")
        self.t_min, self.t_max, self.sigma, self.target = int(t_min), int(t_max), float(sigma), float(target)
        self.every, self.ada_kimg, self.ts_dist, self.boundary = int(every), float(ada_kimg), ts_dist, boundary
        abar = alphas_cumprod(self.t_max)
        self._tables = {torch.device("cpu"): (abar.sqrt().float(), (1.0 - abar).sqrt().float())}
        self._probs: dict[tuple[int, torch.device], torch.Tensor] = {}
        self.T = float(self.t_min)
        self._reset()

    @classmethod
    def from_config(cls, tricks, loss) -> "AdaptiveDiffusion":
        return cls(tricks.diffusion_t_min, tricks.diffusion_t_max, tricks.diffusion_sigma, tricks.diffusion_target,
                   tricks.diffusion_every, tricks.diffusion_ada_kimg, tricks.diffusion_ts_dist, decision_boundary(loss))

    def _reset(self) -> None:
        self._signs: torch.Tensor | float = 0.0  # sum of sign(D(x_t) - m) over real decisions (a device tensor)
        self._decisions = 0
        self._images = 0
        self._steps = 0

    # -- what D sees --------------------------------------------------------------------------
    @staticmethod
    def input_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
        """D's input shape for samples of ``shape``: one more channel (feature), the timestep."""
        return (shape[0] + 1, *shape[1:])

    @property
    def T_int(self) -> int:
        """T rounded (half up): the largest timestep drawn now."""
        return min(max(int(math.floor(self.T + 0.5)), self.t_min), self.t_max)

    def sample_t(self, n: int, device=None) -> torch.Tensor:
        """``n`` timesteps from {0..T} (int64), from the ``ts_dist`` distribution; the global torch RNG."""
        T = self.T_int
        if self.ts_dist == "uniform":
            return torch.randint(0, T + 1, (n,), device=device)
        key = (T, torch.device(device or "cpu"))
        if key not in self._probs:
            self._probs = {key: timestep_probs(T, "priority").float().to(key[1])}  # T changes rarely
        return torch.multinomial(self._probs[key], n, replacement=True)

    def _table(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        if device not in self._tables:
            cpu = self._tables[torch.device("cpu")]
            self._tables[device] = (cpu[0].to(device), cpu[1].to(device))
        return self._tables[device]

    def diffuse(self, x: torch.Tensor, t: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        """x_t = sqrt(abar_t) x + sqrt(1 - abar_t) sigma eps per sample (the paper's eq. 3 with the noise scaled
        by sigma; ``t``: (B,) timesteps; ``noise``: eps, default fresh N(0, I)), in float32 at least. Exactly
        ``x`` where t = 0; differentiable in x."""
        a, b = self._table(x.device)
        view = (-1,) + (1,) * (x.dim() - 1)
        if noise is None:  # half-precision images (a generator under autocast) are diffused in float32
            noise = torch.randn_like(x, dtype=torch.promote_types(x.dtype, torch.float32))
        return a[t].view(view) * x + (b[t] * self.sigma).view(view) * noise

    def condition(self, x: torch.Tensor, t: torch.Tensor, pack: int = 1) -> torch.Tensor:
        """``x`` with t / T_max as one more constant channel (feature) per sample: (B, C, ...) ->
        (B, C + 1, ...). ``pack`` m > 1: ``x`` holds packs (B/m, m C, ...) of m samples (games/packing.py),
        each sample gets its channel: -> (B/m, m (C + 1), ...)."""
        n = len(t)
        if pack > 1:
            x = x.reshape(n, x.shape[1] // pack, *x.shape[2:])
        tmap = (t.to(x.dtype) / self.t_max).view(n, 1, *([1] * (x.dim() - 2))).expand(n, 1, *x.shape[2:])
        out = torch.cat([x, tmap], 1)
        if out.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last):
            out = out.contiguous(memory_format=torch.channels_last)  # as the trainer lays images out
        return out.reshape(n // pack, pack * out.shape[1], *out.shape[2:]) if pack > 1 else out

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(x_t, t): ``x`` diffused to freshly drawn timesteps, and those timesteps."""
        t = self.sample_t(x.shape[0], x.device)
        return self.diffuse(x, t), t

    # -- adaptive T ---------------------------------------------------------------------------
    def observe(self, real_out: torch.Tensor, images: int) -> dict[str, Any]:
        """Record one D step's decisions on real data (``real_out``: D's raw outputs on ``images`` diffused
        real images); every ``every`` steps adjust T. Returns the scalars to log: ``diffusion/T`` (the T of
        this step) and ``diffusion/r_d`` (this batch's mean sign; averaged over a logging window it is
        r_d over that window)."""
        stats: dict[str, Any] = {"diffusion/T": self.T}  # a float: logged exactly
        if self.boundary is not None:
            signs = torch.sign(real_out.detach().float() - self.boundary)
            self._signs = self._signs + signs.sum()
            stats["diffusion/r_d"] = signs.mean()
        self._decisions += real_out.numel()
        self._images += images
        self._steps += 1
        if self._steps >= self.every:
            self._adjust()
        return stats

    def _adjust(self) -> None:
        if self.boundary is not None and self.t_min < self.t_max:
            signs = torch.as_tensor(self._signs, dtype=torch.float64).reshape(1)  # on D's device
            counts = torch.cat([signs, torch.tensor([self._decisions, self._images], dtype=torch.float64,
                                                    device=signs.device)])
            if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
                dist.all_reduce(counts)  # summed over the processes: every process keeps the same T
            signs, decisions, images = counts.tolist()
            step = (self.t_max - self.t_min) * images / (self.ada_kimg * 1000.0)
            self.T = adapt_T(self.T, signs / max(decisions, 1.0), self.target, step, self.t_min, self.t_max)
        self._reset()

    def state_dict(self) -> dict[str, Any]:
        signs = self._signs.detach().float().cpu().clone() if isinstance(self._signs, torch.Tensor) \
            else torch.tensor(float(self._signs))
        return {"T": self.T, "signs": signs, "decisions": self._decisions, "images": self._images,
                "steps": self._steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.T = min(max(float(state.get("T", self.t_min)), float(self.t_min)), float(self.t_max))
        self._signs = torch.as_tensor(state.get("signs", 0.0), dtype=torch.float32).clone()
        self._decisions = int(state.get("decisions", 0))
        self._images = int(state.get("images", 0))
        self._steps = int(state.get("steps", 0))
