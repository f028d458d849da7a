"""Figure 16 of Goodfellow's NIPS 2016 tutorial: the generator's cost as a function of D(G(z)).

The three costs are gankit's own (``losses.gan.G_COSTS``), evaluated on D's logit l = logit(D(G(z)));
their gradients come from autograd. The tutorial's point (§3.2.3): the minimax cost log(1 - D(G(z)))
is flat where D confidently rejects G's samples (D(G(z)) -> 0, i.e. early in training), so G learns
little exactly when it has most to learn; the non-saturating cost -log D(G(z)) is steep there. The
maximum-likelihood cost -1/2 exp(l) is also flat on the left, and most of its gradient comes from the
few samples D already finds realistic.
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..losses.gan import G_COSTS
from . import DEMOS
from .plotting import new_figure, save

LABELS = {"minimax": "minimax  log(1 − D)", "non-saturating": "non-saturating  −log D",
          "max-likelihood": "maximum likelihood  −½ exp(σ⁻¹(D))"}


def generator_costs(d: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """For every generator cost of ``G_COSTS``: (J, dJ/dl), both shaped like ``d``.

    J is the cost of one sample that D scores ``d`` = D(G(z)) in (0, 1); dJ/dl is its gradient with
    respect to D's logit l = log(d / (1 - d)), which is what the chain rule passes on to G.
    """
    logits = torch.logit(d.detach().to(torch.float64)).requires_grad_(True)
    out = {}
    for name, cost in G_COSTS.items():
        # Each cost is a mean over its batch, so every point is evaluated as a batch of one.
        value = torch.stack([cost(fake_out=l) for l in logits.flatten().unbind()]).view_as(d)
        (grad,) = torch.autograd.grad(value.sum(), logits)
        out[name] = (value.detach(), grad)
    return out


@DEMOS.register("costs")
def costs_figure(out_path: Path, points: int = 999) -> Path:
    """The three generator costs and their gradients against D(G(z)) (Goodfellow 2016, figure 16)."""
    d = torch.linspace(0.0, 1.0, points + 2)[1:-1].double()  # open interval (0, 1)
    curves = generator_costs(d)
    fig, (ax_cost, ax_grad) = new_figure(
        "Generator costs against D(G(z)), computed by gankit.losses.gan",
        "Where D rejects G's samples (D(G(z)) → 0, early in training), minimax and maximum likelihood "
        "pass G almost no gradient; non-saturating passes about 1.")
    for name, (cost, grad) in curves.items():
        ax_cost.plot(d, cost, label=LABELS[name], lw=2)
        ax_grad.plot(d, grad.abs().clamp(min=1e-12), label=LABELS[name], lw=2)
    ax_cost.set(xlim=(0, 1), ylim=(-10, 7), xlabel="D(G(z))  (D's probability that a generated sample is real)",
                ylabel="generator cost J(G) of one sample", title="cost (what G minimises)")
    ax_grad.set(xlim=(0, 1), ylim=(1e-3, 1e2), yscale="log", xlabel="D(G(z))",
                ylabel="|∂J(G) / ∂ logit|  (signal sent back to G)", title="gradient size (autograd)")
    for ax in (ax_cost, ax_grad):
        ax.axvspan(0, 0.1, color="0.9", zorder=0)
        ax.grid(alpha=0.3)
    ax_cost.text(0.01, -9.5, "D rejects G's\nsamples", fontsize=8, va="bottom")
    ax_cost.legend(loc="upper right", fontsize=9)
    ax_grad.legend(loc="upper left", fontsize=9)
    return save(fig, out_path)
