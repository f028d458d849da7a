"""Disjoint supports: the JS divergence is stuck at log 2, the Wasserstein distance is not.

The data is a point mass at 0 and the generator's a point mass at theta (the 1-D section of Example 1
of Arjovsky et al. 2017, "Wasserstein GAN"). For every theta, gankit's own objectives are trained to
(near-)optimality and read off:

- a small discriminator trained with the cross-entropy objective (``losses.gan``). At its optimum
  -L_D = 2 JS(p, q) - 2 log 2, so JS = log 2 - L_D / 2: log 2 for every theta != 0, 0 at theta = 0.
  It says "different" but not "how far", and G's gradient through the minimax cost,
  d/dtheta log(1 - D(theta)), vanishes as D approaches its optimum (Arjovsky & Bottou 2017, thm 2.4).
- a critic trained with the Wasserstein objective (``losses.wasserstein``) under weight clipping
  (``losses.penalties.clip_weights``). It is one linear layer: on 1-D input, clipping its weight to
  [-1, 1] is exactly the 1-Lipschitz constraint, so its maximum of E f(x) - E f(G(z)) is W1 = |theta|
  (Kantorovich-Rubinstein duality); a deeper clipped critic would estimate K * W1 for an unknown K.
  W1 falls smoothly to 0 as theta -> 0 and G's gradient stays at size 1, pointing at the data.

Every theta gets its own freshly initialised D and critic (``SideBySide`` keeps them in one module so
that all train in one pass): the per-theta losses are summed, and Adam and RMSprop scale every
parameter separately, so this is the same as training each alone.
"""
from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn as nn

from ..losses.gan import CrossEntropyGAN
from ..losses.penalties import clip_weights
from ..losses.wasserstein import Wasserstein
from . import DEMOS
from .plotting import new_figure, save


class SideBySide(nn.Module):
    """T independent small networks from R to R, stored side by side so that all train in one pass.

    ``forward(x)``: x (T, N) -> (T, N), network t applied to row t. ``hidden`` = 0 gives linear maps
    f_t(x) = w_t x + b_t; otherwise f_t(x) = v_t . tanh(u_t x + c_t) + b_t with ``hidden`` units.
    Initialised like ``nn.Linear`` (uniform in +-1/sqrt(fan_in)).
    """

    def __init__(self, n: int, hidden: int = 0):
        super().__init__()
        width = hidden or 1
        self.u = nn.Parameter(torch.empty(n, width).uniform_(-1, 1))            # (T, H)
        self.c = nn.Parameter(torch.empty(n, width).uniform_(-1, 1)) if hidden else None
        self.v = nn.Parameter(torch.empty(n, width).uniform_(-1, 1).div_(math.sqrt(width))) if hidden else None
        self.b = nn.Parameter(torch.empty(n, 1).uniform_(-1, 1).div_(math.sqrt(width)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.v is None:
            return self.u * x + self.b                                        # (T, N)
        h = torch.tanh(x[..., None] * self.u[:, None, :] + self.c[:, None, :])  # (T, N, H)
        return (h * self.v[:, None, :]).sum(-1) + self.b


def _per_theta(d_loss, real_out: torch.Tensor, fake_out: torch.Tensor) -> torch.Tensor:
    """An objective's d_loss evaluated separately for every row (every theta): (T, N), (T, N) -> (T,)."""
    return torch.stack([d_loss(real_out=r, fake_out=f) for r, f in zip(real_out, fake_out)])


def disjoint_supports(thetas, d_steps: int = 500, critic_steps: int = 100, clip: float = 1.0,
                      seed: int = 0) -> dict[str, torch.Tensor]:
    """JS and W1 between delta_0 and delta_theta, estimated by trained players, and G's gradients.

    Returns float64 tensors shaped like ``thetas``: ``js`` and ``w1`` (the estimates), ``js_grad``
    (d/dtheta of the minimax generator cost under the trained D) and ``w1_grad`` (d/dtheta of the
    Wasserstein generator cost under the trained critic).
    """
    thetas = torch.as_tensor(thetas, dtype=torch.float32).flatten()
    n = len(thetas)
    gan, wgan = CrossEntropyGAN(g_cost="minimax"), Wasserstein()
    real = torch.zeros(n, 1)            # (T, 1): one sample of the data, the same for every theta
    fake = thetas[:, None].clone()      # (T, 1): the generator's sample
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        D, critic = SideBySide(n, hidden=16), SideBySide(n)
    # Every row holds the same number of samples, so an objective's mean over all rows is the mean of
    # its per-theta values: n times it is the sum of the per-theta losses, whose gradient with respect
    # to each theta's own parameters (or sample) is that theta's alone.
    opt = torch.optim.Adam(D.parameters(), lr=0.05)
    for _ in range(d_steps):
        opt.zero_grad()
        (n * gan.d_loss(real_out=D(real), fake_out=D(fake))).backward()
        opt.step()
    copt = torch.optim.RMSprop(critic.parameters(), lr=0.05)
    for _ in range(critic_steps):
        copt.zero_grad()
        (n * wgan.d_loss(real_out=critic(real), fake_out=critic(fake))).backward()
        copt.step()
        clip_weights(critic, clip)

    g = fake.clone().requires_grad_(True)
    (js_grad,) = torch.autograd.grad(n * gan.g_loss(fake_out=D(g)), g)
    (w1_grad,) = torch.autograd.grad(n * wgan.g_loss(fake_out=critic(g)), g)
    with torch.no_grad():
        # At D's optimum -L_D = 2 JS - 2 log 2; the critic's -L_D is E f(x) - E f(G(z)), the W1 estimate.
        js = math.log(2) - _per_theta(gan.d_loss, D(real), D(fake)).double() / 2
        w1 = -_per_theta(wgan.d_loss, critic(real), critic(fake)).double()
    return {"theta": thetas.double(), "js": js, "w1": w1,
            "js_grad": js_grad.flatten().double(), "w1_grad": w1_grad.flatten().double()}


@DEMOS.register("disjoint-supports")
def disjoint_supports_figure(out_path: Path, points_per_side: int = 10) -> Path:
    """JS stuck at log 2 while W1 falls smoothly as two point masses approach (Arjovsky et al. 2017)."""
    steps = torch.arange(-points_per_side, points_per_side + 1)
    r = disjoint_supports(steps * (2.0 / points_per_side))  # theta in [-2, 2], exactly 0 in the middle
    theta = r["theta"]
    fine = torch.arange(-400, 401, dtype=torch.float64) / 200
    fig, (ax, ax_g) = new_figure(
        "Data δ₀ vs generator δ_θ: divergences estimated by gankit's trained D and clipped critic",
        "For θ ≠ 0 the trained D reports JS = log 2 whatever θ is and G's gradient vanishes; "
        "the clipped critic reports W1 = |θ| and keeps pulling G toward 0.")
    ax.plot(fine, fine.abs(), color="C0", lw=1, alpha=0.6, label="true W1 = |θ|")
    ax.plot(theta, r["w1"], "o", color="C0", label="W1 from clipped critic (wasserstein + clip_weights)")
    ax.plot(fine, torch.where(fine == 0, 0.0, math.log(2)), color="C3", lw=1, alpha=0.6,
            label="true JS (log 2 if θ ≠ 0, else 0)")
    ax.plot(theta, r["js"], "s", color="C3", label="JS from trained D (cross-entropy: log 2 − L_D/2)")
    ax.set(xlabel="θ (generator's point mass; the data is at 0)", ylabel="estimated divergence",
           title="what each objective measures", ylim=(-0.05, 2.9))
    ax.legend(loc="upper center", fontsize=8)
    nz = theta != 0  # the gradient is not defined where the two point masses coincide
    ax_g.plot(theta[nz], r["w1_grad"][nz].abs(), "o-", color="C0", label="WGAN: |∂(−E f(G(z)))/∂θ|")
    ax_g.plot(theta[nz], r["js_grad"][nz].abs().clamp(min=1e-8), "s-", color="C3",
              label="GAN, minimax cost: |∂ log(1 − D(θ))/∂θ|")
    ax_g.set(yscale="log", ylim=(1e-6, 10), xlabel="θ", ylabel="size of G's gradient",
             title="what the generator learns from it")
    ax_g.legend(loc="lower center", fontsize=8)
    for a in (ax, ax_g):
        a.grid(alpha=0.3)
    return save(fig, out_path)
