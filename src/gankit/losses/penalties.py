"""Penalties and constraints on the discriminator; each combines with any objective.

- gradient penalty (Gulrajani et al. 2017, WGAN-GP): lambda * E[(||grad_x D(x_hat)||_2 - 1)^2] at
  x_hat = eps x + (1 - eps) G(z), one eps ~ U[0, 1] per sample, the norm over all non-batch dims.
- R1 (Mescheder et al. 2018): gamma/2 * E[||grad_x D(x)||^2] on real data; lazily every k D steps
  with the penalty scaled by k (Karras et al. 2020), which keeps its average strength.
- weight clipping (Arjovsky et al. 2017, WGAN): every parameter clamped to [-c, c] after each step.
"""
from __future__ import annotations

import torch
import torch.nn as nn


def gradient_penalty(D: nn.Module, real: torch.Tensor, fake: torch.Tensor, target: float = 1.0) -> torch.Tensor:
    eps = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device, dtype=real.dtype)
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)
    return (grad.flatten(1).norm(2, dim=1) - target).pow(2).mean()


def input_gradient_sq_norm(out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """E ||d out / d x||^2 per sample, differentiable (``x`` must require grad and produce ``out``)."""
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return grad.pow(2).flatten(1).sum(1).mean()


def r1_penalty(D: nn.Module, real: torch.Tensor) -> torch.Tensor:
    x = real.detach().requires_grad_(True)
    return input_gradient_sq_norm(D(x), x)


@torch.no_grad()
def clip_weights(module: nn.Module, c: float) -> None:
    for p in module.parameters():
        p.clamp_(-c, c)
