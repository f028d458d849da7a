"""Differentiable augmentation (DiffAugment, Zhao et al. 2020) and instance noise (Sønderby et al. 2017;
Arjovsky & Bottou 2017).

Both are applied to everything the discriminator sees, real and fake alike, in D's and G's phases;
being differentiable, G still receives gradients through them. DiffAugment is what lets a GAN train on
a few thousand images (the 5,000-image MNIST subset) without D memorising them.

Policies (comma-separated): ``color`` (brightness +U(-0.5, 0.5), contrast x U(0.5, 1.5) about the
image mean, and for RGB saturation x U(0, 2)), ``translation`` (shift by up to 1/8 of the size, zero
fill), ``cutout`` (zero a random square of half the size). Images are in [-1, 1].

:func:`geometric` (random affine warps: rotation, scale, shear, shift) is InfoGAN's invariance term's
warp, not a DiffAugment policy.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

POLICIES = ("color", "translation", "cutout")


def _u(n: int, lo: float, hi: float, like: torch.Tensor) -> torch.Tensor:
    return torch.rand(n, 1, 1, 1, device=like.device, dtype=like.dtype) * (hi - lo) + lo


def color(x: torch.Tensor) -> torch.Tensor:
    n = x.shape[0]
    x = x + _u(n, -0.5, 0.5, x)
    if x.shape[1] == 3:
        m = x.mean(1, keepdim=True)
        x = (x - m) * _u(n, 0.0, 2.0, x) + m
    m = x.mean((1, 2, 3), keepdim=True)
    return (x - m) * _u(n, 0.5, 1.5, x) + m


def shift(x: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor, pad: int, value: float = 0.0) -> torch.Tensor:
    """out[i, :, r, c] = x[i, :, r + dy[i] - pad, c + dx[i] - pad] (``value`` outside); ``dy``, ``dx`` in
    [0, 2 pad]. Differentiable with respect to ``x``."""
    n, c, h, w = x.shape
    padded = F.pad(x, (pad,) * 4, value=value)
    rows = (dy[:, None] + torch.arange(h, device=x.device)[None, :])[:, None, :, None].expand(n, c, h, w + 2 * pad)
    padded = padded.gather(2, rows)
    cols = (dx[:, None] + torch.arange(w, device=x.device)[None, :])[:, None, None, :].expand(n, c, h, w)
    return padded.gather(3, cols)


def translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    pad = max(1, int(x.shape[-1] * ratio + 0.5))
    dy = torch.randint(0, 2 * pad + 1, (x.shape[0],), device=x.device)
    dx = torch.randint(0, 2 * pad + 1, (x.shape[0],), device=x.device)
    return shift(x, dy, dx, pad)


def cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), device=x.device)
    cx = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), device=x.device)
    ys = torch.arange(h, device=x.device)[None, :, None]
    xs = torch.arange(w, device=x.device)[None, None, :]
    hole = ((ys - cy + ch // 2).clamp(min=0) < ch) & ((ys - cy + ch // 2) >= 0) \
        & ((xs - cx + cw // 2) >= 0) & ((xs - cx + cw // 2) < cw)
    return x * (~hole).unsqueeze(1).to(x.dtype)


def affine_warp(x: torch.Tensor, angle: torch.Tensor, sx: torch.Tensor, sy: torch.Tensor, shear: torch.Tensor,
                shift: torch.Tensor, fill: float = -1.0) -> torch.Tensor:
    """Warp each image i by scales ``sx[i]``, ``sy[i]``, then horizontal shear ``shear[i]``, then
    rotation ``angle[i]`` (radians; positive turns clockwise as displayed, rows growing downwards),
    then shift ``shift[i]`` (x, y, in half-sizes: 1 moves by half the width); bilinear, ``fill``
    outside; differentiable with respect to ``x``."""
    one, zero = torch.ones_like(angle), torch.zeros_like(angle)
    cos, sin = angle.cos(), angle.sin()
    rot = torch.stack([torch.stack([cos, -sin], 1), torch.stack([sin, cos], 1)], 1)
    shr = torch.stack([torch.stack([one, shear], 1), torch.stack([zero, one], 1)], 1)
    fwd = rot @ shr @ torch.diag_embed(torch.stack([sx, sy], 1))
    inv = torch.linalg.inv(fwd)  # affine_grid maps output coordinates to input ones: the inverse warp
    theta = torch.cat([inv, -(inv @ shift[:, :, None])], 2)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x - fill, grid, mode="bilinear", padding_mode="zeros", align_corners=False) + fill


def geometric(x: torch.Tensor, degrees: float = 15.0, scale: tuple[float, float] = (0.85, 1.15),
              shear: float = 0.25, shift: float = 0.1, fill: float = -1.0) -> torch.Tensor:
    """A random :func:`affine_warp` per image: rotation U(±``degrees``), independent scales U(``scale``)
    along x and y, shear U(±``shear``), shift U(±``shift``) half-sizes; ``fill`` (the background)
    outside. The nuisances of a handwritten digit (slant, width, size, position), not its identity."""
    n = x.shape[0]

    def u(lo: float, hi: float, *shape: int) -> torch.Tensor:
        return torch.empty(n, *shape, device=x.device, dtype=torch.float32).uniform_(lo, hi)

    return affine_warp(x, torch.deg2rad(u(-degrees, degrees)), u(*scale), u(*scale), u(-shear, shear),
                       u(-shift, shift, 2), fill)


_OPS = {"color": color, "translation": translation, "cutout": cutout}


def parse_policy(policy: str) -> tuple[str, ...]:
    names = tuple(p.strip() for p in policy.split(",") if p.strip())
    bad = [p for p in names if p not in _OPS]
    if bad:
        raise ValueError(f"unknown DiffAugment policy {', '.join(bad)}; choose from {', '.join(POLICIES)}")
    return names


def diff_augment(x: torch.Tensor, policy: tuple[str, ...]) -> torch.Tensor:
    for name in policy:
        x = _OPS[name](x)
    return x
