"""Drawing samples from a trained generator, optionally with Jacobian-based truncation.

A generator is a continuous map from a connected latent space, so it cannot put all its mass on
disconnected modes (the 25 Gaussians of the grid, the ten digit classes): somewhere in the latent
space it must cross from one mode to the next, and the samples drawn there land between the modes.
Those crossings are where G stretches the latent space most, so the norm of G's Jacobian there is
large (Tanielian, Issenhuth, Dohmatob & Mary 2020, "Learning disconnected manifolds: a no GAN's land",
ICML). Jacobian-based truncation draws more latent vectors than it needs and keeps the fraction
``keep`` with the smallest Frobenius norm ||dG/dz||_F, which removes the samples in the "no GAN's
land" between modes without retraining and without a discriminator.

The norm is exact (one forward-mode product per latent dimension) for latents of up to
``EXACT_MAX_DIM`` dimensions, and otherwise estimated with ``directions`` random Gaussian directions v
(E ||J v||^2 = ||J||_F^2). Truncation changes the distribution G samples from: scores of truncated
samples say so (``sample.jacobian_keep`` is recorded with them).
"""
from __future__ import annotations

import math
import warnings

import torch
import torch.nn as nn

from .errors import GankitError

EXACT_MAX_DIM = 16


def check_keep(keep: float) -> float:
    keep = float(keep)
    if not 0.0 < keep <= 1.0:
        raise GankitError(f"jacobian keep fraction must lie in (0, 1], got {keep}")
    return keep


def jacobian_norms(G: nn.Module, z: torch.Tensor, y: torch.Tensor | None = None, directions: int = 8,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """||dG(z, y)/dz||_F for every row of ``z`` (N, latent): (N,) in float32.

    Exact for a latent of at most ``EXACT_MAX_DIM`` dimensions; else the mean of ||J v||^2 over
    ``directions`` standard normal directions v (drawn from ``generator``), square-rooted."""
    n, dim = z.shape
    if dim <= EXACT_MAX_DIM:
        vs = torch.eye(dim, device=z.device, dtype=z.dtype).unsqueeze(1).expand(dim, n, dim)
        scale = 1.0
    else:
        if directions < 1:
            raise GankitError(f"jacobian directions must be >= 1, got {directions}")
        vs = torch.randn(directions, n, dim, generator=generator).to(device=z.device, dtype=z.dtype)
        scale = 1.0 / directions
    f = (lambda v: G(v)) if y is None else (lambda v: G(v, y))
    total = torch.zeros(n, device=z.device)
    with torch.no_grad(), warnings.catch_warnings():
        # torch's forward-mode AD scripts its decompositions on first use (torch's own deprecation warning)
        warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*deprecated", category=DeprecationWarning)
        for v in vs:  # one forward-mode product per direction: J v, (N, *sample shape)
            _, jv = torch.func.jvp(f, (z,), (v.contiguous(),))
            total += jv.float().flatten(1).pow(2).sum(1)
    return (total * scale).sqrt()


def _keep_lowest(norms: torch.Tensor, groups: torch.Tensor, quota: torch.Tensor) -> torch.Tensor:
    """Indices (ascending) of the ``quota[g]`` smallest norms within every group g."""
    kept = []
    for g in range(len(quota)):
        idx = (groups == g).nonzero().flatten()
        q = int(quota[g])
        kept.append(idx[norms[idx].argsort(stable=True)[:q]])
    return torch.cat(kept).sort().values


@torch.no_grad()
def draw(G: nn.Module, latent_dim: int, n: int, seed: int = 0, labels: torch.Tensor | None = None,
         num_classes: int | None = None, keep: float = 1.0, directions: int = 8, batch_size: int = 500
         ) -> torch.Tensor:
    """``n`` samples of ``G`` (on the CPU, float32) from noise seeded by ``seed``.

    ``labels`` (n,) are the classes of a conditional generator. With ``keep`` < 1, ceil(n / keep)
    latent vectors are drawn and the n with the smallest Jacobian norm are kept; for a conditional
    generator, a class asked for q times gets ceil(q / keep) candidates (class 0's first, then class
    1's, ... in the order of the noise) and keeps its q best, placed where ``labels`` asks for that
    class. With ``keep`` = 1 the result is G applied to the first n noise vectors."""
    keep = check_keep(keep)
    was_training = G.training
    G.eval()
    try:
        return _draw(G, latent_dim, n, seed, labels, num_classes, keep, directions, batch_size)
    finally:
        G.train(was_training)


def truncation_candidates(G: nn.Module, latent_dim: int, n: int, seed: int, keep: float,
                          labels: torch.Tensor | None = None, num_classes: int | None = None, directions: int = 8,
                          batch_size: int = 500):
    """The latent vectors ``draw`` chooses from when ``keep`` < 1: (candidates z (m, latent), their
    classes (m,) or None, their Jacobian norms (m,), the indices of the n kept ones in sample order)."""
    dev = next(G.parameters()).device
    if labels is None:
        groups, quota = None, torch.tensor([n])
    else:  # ceil(q / keep) candidates of every class asked for q times, class by class
        quota = torch.bincount(labels, minlength=num_classes)
        groups = torch.repeat_interleave(torch.arange(num_classes),
                                         torch.tensor([math.ceil(int(q) / keep) for q in quota]))
    m = math.ceil(n / keep) if groups is None else len(groups)
    z = torch.randn(m, latent_dim, generator=torch.Generator().manual_seed(seed))
    dir_gen = torch.Generator().manual_seed(seed + 1)
    norms = torch.cat([jacobian_norms(G, z[i:i + batch_size].to(dev),
                                      None if groups is None else groups[i:i + batch_size].to(dev),
                                      directions, dir_gen).cpu() for i in range(0, m, batch_size)])
    idx = _keep_lowest(norms, torch.zeros(m, dtype=torch.long) if groups is None else groups, quota)
    if labels is not None:  # the kept candidates of class c fill the places where ``labels`` asks for c
        slots = torch.cat([(labels == c).nonzero().flatten() for c in range(num_classes)])
        order = torch.empty_like(idx)
        order[slots] = idx  # idx is grouped by class already (ascending, classes in blocks)
        idx = order
    return z, groups, norms, idx


def _draw(G, latent_dim, n, seed, labels, num_classes, keep, directions, batch_size) -> torch.Tensor:
    dev = next(G.parameters()).device
    if keep == 1.0:
        z = torch.randn(n, latent_dim, generator=torch.Generator().manual_seed(seed))
    else:
        z, _, _, idx = truncation_candidates(G, latent_dim, n, seed, keep, labels, num_classes, directions, batch_size)
        z = z[idx]
    out = []
    for i in range(0, n, batch_size):
        zb = z[i:i + batch_size].to(dev)
        out.append((G(zb) if labels is None else G(zb, labels[i:i + batch_size].to(dev))).float().cpu())
    return torch.cat(out)
