"""Perceptual path length (Karras, Laine & Aila 2019, StyleGAN §4.1), in an extractor's feature space.

PPL measures how smoothly a generator's images change along its latent space: the expected squared
distance between the images at two latents ``eps`` apart on an interpolation path, divided by eps²:

    l = E[ d(G(interp(a, b; t)), G(interp(a, b; t + eps))) / eps² ],   t ~ U(0, 1), eps = 1e-4

(the paper's "full" sampling: t anywhere on the path, not only at its ends). Here ``d`` is the squared
Euclidean distance between the **evaluation's feature extractor's** features of the two images (the
dataset classifier's by default on a CPU, so scores read ``ppl[classifier:mnist]``), not the VGG16-LPIPS
distance of the paper: the numbers measure the same thing, but in a different space, and are neither
comparable with the papers' nor between extractors.

- The style-based generator (``nets/style.py``, game ``stylegan``) is measured in **W** (PPL_W): the
  endpoints' z are mapped to w (and truncated toward the average w by ``psi`` where a truncation is
  asked for), and the path is the straight line between them (lerp), as in the paper, whose W is not
  a Gaussian but the mapping's image. Every layer takes the same w (no style mixing).
- Any other noise-driven game is measured in **Z**, along the great circle between the endpoints
  (slerp), since z ~ N(0, I) concentrates on a sphere. The direction is slerped as in the paper; the
  length is interpolated linearly, so a generator without a normalising first layer (the paper's
  mapping network begins with one, which discards the length) still sees latents of the prior's size.
  Class labels and latent codes (conditional games, InfoGAN) are those of the first endpoint, on both
  ends: the path crosses the noise only.

As in the paper (and StyleGAN2's code: ``np.percentile(..., 1, 'lower') <= d <= np.percentile(..., 99,
'higher')``) the per-pair lengths below the 1st and above the 99th percentile are discarded before
averaging (:func:`trim_percentiles`): a few pairs that straddle a sharp change in the image would
otherwise dominate the mean. Below 101 pairs those percentiles are the extremes themselves, so nothing
is discarded.

Everything is drawn from ``seed`` (the first endpoints are the evaluation's own latents, ``game.
sample_inputs(n, seed)``; the second endpoints and t from a stream derived from it), and the pairs are
measured in chunks, so the memory stays bounded whatever ``--n``.
"""
from __future__ import annotations

import math
from typing import Callable, Mapping

import numpy as np
import torch
import torch.nn as nn

EPS = 1e-4            # the paper's epsilon
TRIM = (1.0, 99.0)    # percentiles kept, inclusive (StyleGAN2's code)
CHUNK = 250           # pairs per chunk (2 images each)


def trim_percentiles(values, lo: float = TRIM[0], hi: float = TRIM[1]) -> np.ndarray:
    """``values`` (1-D) between their ``lo``-th and ``hi``-th percentiles, bounds included, as StyleGAN2's
    code keeps them: the lower bound is the sample at or below the percentile (``method='lower'``), the
    upper one the sample at or above it (``method='higher'``), so the bounds are values that occur and,
    below 101 values, the extremes themselves (nothing is dropped). Non-finite values are dropped first."""
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return v
    low = np.percentile(v, lo, method="lower")
    high = np.percentile(v, hi, method="higher")
    return v[(v >= low) & (v <= high)]


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Rows of ``a`` and ``b`` (N, D) interpolated at ``t`` (N,): the direction along the great circle
    from a's to b's (the paper's slerp of unit vectors), the length linearly from |a| to |b|. ``t``
    outside [0, 1] extrapolates along the same circle."""
    t = t.to(a.dtype)[:, None]
    na, nb = a.norm(dim=1, keepdim=True), b.norm(dim=1, keepdim=True)
    ua, ub = a / na, b / nb
    d = (ua * ub).sum(1, keepdim=True).clamp(-1.0, 1.0)
    omega = torch.acos(d)
    c = ub - d * ua  # the part of b's direction orthogonal to a's
    c = c / c.norm(dim=1, keepdim=True).clamp_min(1e-12)
    u = ua * torch.cos(t * omega) + c * torch.sin(t * omega)
    u = u / u.norm(dim=1, keepdim=True)
    return u * (na + t * (nb - na))


def is_style_based(G: nn.Module) -> bool:
    """Whether ``G`` is a style-based generator (a mapping to w, a synthesis from per-layer w, an average w)."""
    return all(hasattr(G, a) for a in ("mapping", "synthesis", "w_avg", "num_ws"))


def _pair_seed(seed: int) -> int:
    """The seed of the second endpoints and the positions t: derived from ``seed``, distinct from it."""
    return int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, 0x9E3779B9]).generate_state(1)[0])


@torch.no_grad()
def path_lengths(game, players: Mapping[str, nn.Module] | None, features: Callable[[torch.Tensor], torch.Tensor],
                 n: int, seed: int = 0, psi: float | None = None, eps: float = EPS,
                 chunk: int = CHUNK) -> tuple[np.ndarray, str]:
    """The ``n`` per-pair lengths d(f(G(p(t))), f(G(p(t + eps)))) / eps² of a noise-driven ``game`` drawn
    with ``players`` (e.g. its EMA generator; default the live one), and the space measured in ("W" for
    a style-based G, else "Z"). ``features`` maps images (B, C, H, W) in [-1, 1] to (B, d)."""
    from ..games.base import eval_mode, module_device

    G = (players or {}).get("G", game.G)
    dev = module_device(G)
    style = is_style_based(G)
    base = game.sample_inputs(n, seed)  # the evaluation's own latents (and classes/codes): the first endpoints
    g = torch.Generator().manual_seed(_pair_seed(seed))
    z1 = base["z"]
    z2 = torch.randn(z1.shape, generator=g, dtype=z1.dtype)
    t = torch.rand(n, generator=g, dtype=torch.float64)
    out = np.empty(n, dtype=np.float64)
    with eval_mode(G):
        for s in range(0, n, chunk):
            sl = slice(s, min(n, s + chunk))
            m = sl.stop - sl.start
            ts = torch.cat([t[sl], t[sl] + eps])  # (2m,): both ends of every small step
            if style:
                a, b = G.mapping(z1[sl].to(dev)), G.mapping(z2[sl].to(dev))
                if psi is not None and psi != 1.0:
                    avg = G.w_avg.to(a.dtype)
                    a, b = avg.lerp(a, float(psi)), avg.lerp(b, float(psi))  # the truncation trick, linear in w
                # lerp in float64 (on the CPU: MPS has none), so the step adds no rounding of its own
                a64, b64 = a.cpu().double().repeat(2, 1), b.cpu().double().repeat(2, 1)
                w = (a64 + ts[:, None] * (b64 - a64)).to(device=dev, dtype=a.dtype)
                images = G.synthesis(w[:, None].expand(-1, G.num_ws, -1)).clamp(-1, 1)
            else:
                a64, b64 = z1[sl].double().repeat(2, 1), z2[sl].double().repeat(2, 1)
                z = slerp(a64, b64, ts).to(z1.dtype)
                rest = {k: v[sl].repeat(2, *([1] * (v.dim() - 1))) for k, v in base.items()
                        if k != "z" and torch.is_tensor(v) and v.dim() > 0 and len(v) == n}
                images = game.generate({**rest, "z": z}, players)
            f = features(images).double().cpu().flatten(1)
            out[s:s + m] = (f[:m] - f[m:]).square().sum(1).numpy() / (eps * eps)
    return out, ("W" if style else "Z")


def perceptual_path_length(game, players, features, n: int, seed: int = 0, psi: float | None = None,
                           eps: float = EPS) -> tuple[float, str, int]:
    """The trimmed mean of :func:`path_lengths` (the pairs between the 1st and 99th percentiles), the
    space ("W"/"Z") and the number of pairs averaged."""
    lengths, space = path_lengths(game, players, features, n, seed, psi, eps)
    kept = trim_percentiles(lengths)
    return (float(kept.mean()) if kept.size else math.nan), space, int(kept.size)
