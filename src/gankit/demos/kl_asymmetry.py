"""Figure 14 of Goodfellow's NIPS 2016 tutorial: the two directions of the KL divergence.

One Gaussian q = N(mu, sigma^2) is fitted to a mixture of two well-separated Gaussians p by gradient
descent, once minimising the forward KL(p || q) (what maximum likelihood minimises) and once the
reverse KL(q || p). Forward KL is infinite wherever p has mass and q has none, so its fit covers both
modes and puts much of its mass between them, where p has none (blurry "average" samples). Reverse KL
is infinite wherever q has mass and p has none, so its fit locks onto one mode and ignores the other
(sharp samples, a dropped mode). The integrals are Riemann sums on a fine grid, differentiated by autograd.

The tutorial itself (§3.2.5) warns against reading too much into this: f-GANs that minimise the
forward KL still produce sharp samples from few modes, so GANs' mode dropping is not explained by the
direction of the divergence alone.
"""
from __future__ import annotations

import math
from pathlib import Path

import torch

from . import DEMOS
from .plotting import new_figure, save

# p = 1/2 N(-2, 0.5^2) + 1/2 N(2, 0.5^2); the Gaussian matching its mean and variance is N(0, 4.25).
MODES = (-2.0, 2.0)
MODE_STD = 0.5
GRID = (-8.0, 8.0, 1601)  # x from -8 to 8 in steps of 0.01 (under 2,048 points: no intra-op threads)


def _normal_log_pdf(x: torch.Tensor, mu, sigma) -> torch.Tensor:
    sigma = torch.as_tensor(sigma, dtype=x.dtype)
    return -0.5 * ((x - mu) / sigma) ** 2 - torch.log(sigma) - 0.5 * math.log(2 * math.pi)


def mixture_log_pdf(x: torch.Tensor) -> torch.Tensor:
    """log p(x) for the equal-weight two-Gaussian mixture, computed stably with logsumexp."""
    parts = torch.stack([_normal_log_pdf(x, m, MODE_STD) for m in MODES])
    return torch.logsumexp(parts, dim=0) - math.log(len(MODES))


def kl_on_grid(log_a: torch.Tensor, log_b: torch.Tensor, dx: float) -> torch.Tensor:
    """KL(a || b) = integral of a (log a - log b), as a Riemann sum of log densities on a uniform grid."""
    return (log_a.exp() * (log_a - log_b)).sum() * dx


def fit_gaussian(direction: str, init: tuple[float, float] = (0.5, 1.0), steps: int = 300,
                 lr: float = 0.1) -> dict[str, float]:
    """Fit N(mu, sigma^2) to the mixture by Adam on (mu, log sigma), minimising the ``direction`` KL.

    ``direction``: "forward" = KL(p || q) (maximum likelihood), "reverse" = KL(q || p). ``init`` is
    (mu, sigma); it starts slightly right of the midpoint so that reverse KL has a mode to fall into
    (the midpoint itself is a saddle of the reverse objective). Returns mu, sigma and the final KL.
    """
    if direction not in ("forward", "reverse"):
        raise ValueError(f"direction must be 'forward' or 'reverse', got {direction!r}")
    x = torch.linspace(*GRID, dtype=torch.float64)
    dx = (GRID[1] - GRID[0]) / (GRID[2] - 1)
    log_p = mixture_log_pdf(x)
    mu = torch.tensor(init[0], dtype=torch.float64, requires_grad=True)
    log_sigma = torch.tensor(math.log(init[1]), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([mu, log_sigma], lr=lr)

    def kl() -> torch.Tensor:
        log_q = _normal_log_pdf(x, mu, log_sigma.exp())
        return kl_on_grid(log_p, log_q, dx) if direction == "forward" else kl_on_grid(log_q, log_p, dx)

    for _ in range(steps):
        opt.zero_grad()
        kl().backward()
        opt.step()
    return {"mu": mu.item(), "sigma": log_sigma.exp().item(), "kl": kl().item()}


@DEMOS.register("kl-asymmetry")
def kl_asymmetry_figure(out_path: Path) -> Path:
    """One Gaussian fitted to two modes by forward vs reverse KL (Goodfellow 2016, figure 14)."""
    x = torch.linspace(-6, 6, 1201, dtype=torch.float64)
    p = mixture_log_pdf(x).exp()
    fits = {d: fit_gaussian(d) for d in ("forward", "reverse")}
    fig, axes = new_figure(
        "Fitting one Gaussian q to two modes p: the direction of the KL divergence matters",
        "Forward KL (maximum likelihood) covers both modes and the empty gap between them; "
        "reverse KL locks onto one mode and drops the other.")
    titles = {"forward": "maximum likelihood: min over q of KL(p ‖ q)",
              "reverse": "reverse: min over q of KL(q ‖ p)"}
    for ax, (direction, fit) in zip(axes, fits.items()):
        q = _normal_log_pdf(x, fit["mu"], fit["sigma"]).exp()
        ax.fill_between(x, p, color="0.75", label="data p (two Gaussians)")
        ax.plot(x, q, lw=2.5, color="C0" if direction == "forward" else "C3",
                label=f"fitted q = N({fit['mu']:.2f}, {fit['sigma']:.2f}²)")
        ax.set(xlim=(-6, 6), ylim=(0, 0.9), xlabel="x", ylabel="density", title=titles[direction])
        ax.text(0.02, 0.95, f"KL at the optimum: {fit['kl']:.3f}", transform=ax.transAxes, va="top", fontsize=9)
        ax.legend(loc="upper right", fontsize=9)
        ax.grid(alpha=0.3)
    return save(fig, out_path)
