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


class BareGenerator:
    """A generator module ``G(z[, y])`` alone, seen as a noise-driven game: the part of the game
    protocol that :func:`draw` uses (for demos and tests of a bare network)."""

    kind = "noise"

    def __init__(self, G: nn.Module, latent_dim: int, num_classes: int | None = None):
        self.G, self.latent_dim, self.num_classes = G, latent_dim, num_classes

    def sample_inputs(self, n: int, seed: int, labels=None) -> dict[str, torch.Tensor]:
        z = torch.randn(n, self.latent_dim, generator=torch.Generator().manual_seed(seed))
        if self.num_classes is None:
            return {"z": z}
        return {"z": z, "y": torch.arange(n) % self.num_classes if labels is None else torch.as_tensor(labels).long()}

    @torch.no_grad()
    def generate(self, inputs: dict[str, torch.Tensor], players=None) -> torch.Tensor:
        from .games.base import eval_mode

        with eval_mode(self.G):
            return self.G(inputs["z"]) if inputs.get("y") is None else self.G(inputs["z"], inputs["y"])


@torch.no_grad()
def draw(game, n: int, seed: int = 0, players=None, labels=None, keep: float = 1.0, directions: int = 8,
         batch_size: int = 500, codes=None, psi: float | None = None) -> torch.Tensor:
    """``n`` outputs of a noise-driven ``game`` (on the CPU, float32) from inputs seeded by ``seed``,
    drawn through ``game.generate`` with ``players`` (e.g. the EMA generator; default the live ones).

    ``labels``: the classes of a conditional game (see its ``sample_inputs``; default balanced);
    ``codes``: fixed latent codes of a game that has them (InfoGAN: ``{"c": 3}``). With
    ``keep`` < 1, ceil(n / keep) latent vectors are drawn and the n with the smallest Jacobian norm are
    kept; for a conditional generator, a class asked for q times gets ceil(q / keep) candidates (class
    0's first, then class 1's, ... in the order of the noise) and keeps its q best, placed where the
    labels ask for that class. With ``keep`` = 1 the result is the game's outputs for its first n inputs.
    ``psi``: the truncation trick of a style-based generator (w pulled toward its average; 1: off)."""
    from .games.base import batched

    inputs = choose_inputs(game, n, seed, players, labels, keep, directions, batch_size, codes, psi)
    return batched(lambda b: game.generate(b, players), inputs, batch_size)


def choose_inputs(game, n: int, seed: int, players=None, labels=None, keep: float = 1.0, directions: int = 8,
                  batch_size: int = 500, codes=None, psi: float | None = None) -> dict[str, torch.Tensor]:
    """The inputs ``draw`` generates from: ``game.sample_inputs(n, seed)``, or under truncation the kept
    candidates (see :func:`truncation_candidates`)."""
    keep = check_keep(keep)
    if codes and not hasattr(game, "code_names"):
        raise GankitError(f"--code: this run's game ({type(game).__name__}) has no latent codes (infogan has)")
    if psi is not None and not hasattr(game, "mixing_grid"):
        raise GankitError(f"--truncation: this run's game ({type(game).__name__}) has no average w to truncate "
                          f"toward (the style-based generator, game stylegan, has; --jacobian-keep truncates any game)")
    if psi is not None and not (math.isfinite(psi) and -1.0 <= psi <= 2.0):
        raise GankitError(f"--truncation {psi}: psi must lie in [-1, 2] (1: off, 0: the average image)")
    if psi is not None and keep < 1.0:
        raise GankitError("--truncation and --jacobian-keep are two truncations; give one")
    options = {k: v for k, v in (("labels", labels), ("codes", codes), ("psi", psi)) if v is not None}
    base = game.sample_inputs(n, seed, **options)
    if keep == 1.0:
        return base
    cand, _, _, idx = truncation_candidates(game, base, n, seed, keep, players, directions, batch_size)
    return {k: v[idx] for k, v in cand.items()}


def truncation_candidates(game, base: dict[str, torch.Tensor], n: int, seed: int, keep: float, players=None,
                          directions: int = 8, batch_size: int = 500):
    """The inputs ``draw`` chooses from when ``keep`` < 1, given the plain inputs ``base`` of n outputs:
    (candidate inputs (m rows), their classes (m,) or None, their Jacobian norms (m,), the indices of
    the n kept ones in output order)."""
    if "z" not in base or set(base) - {"z", "y"}:
        raise GankitError(f"Jacobian-based truncation needs a game drawn from a latent z (and classes); this "
                          f"game draws from {', '.join(sorted(base))}")
    labels = base.get("y")
    if labels is None:
        groups, quota = None, torch.tensor([n])
        cand = game.sample_inputs(math.ceil(n / keep), seed)
    else:  # ceil(q / keep) candidates of every class asked for q times, class by class
        quota = torch.bincount(labels)
        groups = torch.repeat_interleave(torch.arange(len(quota)),
                                         torch.tensor([math.ceil(int(q) / keep) for q in quota]))
        cand = game.sample_inputs(len(groups), seed, labels=groups)
    z, m = cand["z"], len(cand["z"])
    dir_gen = torch.Generator().manual_seed(seed + 1)

    def f(zb, yb=None):
        return game.generate({"z": zb} if yb is None else {"z": zb, "y": yb}, players)

    dev = next(iter((players or {}).values()), None)
    dev = next(dev.parameters()).device if dev is not None else z.device
    norms = torch.cat([jacobian_norms(f, z[i:i + batch_size].to(dev),
                                      None if groups is None else groups[i:i + batch_size],
                                      directions, dir_gen).cpu() for i in range(0, m, batch_size)])
    idx = _keep_lowest(norms, torch.zeros(m, dtype=torch.long) if groups is None else groups, quota)
    if labels is not None:  # the kept candidates of class c fill the places where the labels ask for c
        slots = torch.cat([(labels == c).nonzero().flatten() for c in range(len(quota))])
        order = torch.empty_like(idx)
        order[slots] = idx  # idx is grouped by class already (ascending, classes in blocks)
        idx = order
    return cand, groups, norms, idx
