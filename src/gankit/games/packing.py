"""Packing (PacGAN, Lin et al. 2018): the discriminator judges m samples at once.

D receives m samples of the same kind (all real or all generated) concatenated along the first
non-batch axis (channels of images, features of 2-D points) and makes one decision for the pack.
A generator that has collapsed to a few modes produces packs whose members look alike, which the
packed D can tell from real packs of m independent draws; the paper shows that this penalises mode
collapse more strongly the larger m is, with any objective.

Batch size and decisions: with ``train.batch_size`` B and ``tricks.pack`` m, each D step draws B
real and B generated samples (B must be a multiple of m) and D makes B/m decisions on each side,
each on m distinct samples; G's loss is averaged over its B/m packs. PacGAN compares a packed
discriminator at the same number of D decisions, i.e. it feeds m times more samples per step:
to do the same, multiply ``train.batch_size`` by m.
"""
from __future__ import annotations

import torch


def packed_shape(shape: tuple[int, ...], m: int) -> tuple[int, ...]:
    """The shape D sees per decision: (C, H, W) -> (m*C, H, W); (D,) -> (m*D,)."""
    return (m * shape[0], *shape[1:])


def pack(x: torch.Tensor, m: int) -> torch.Tensor:
    """(B, C, ...) -> (B/m, m*C, ...): pack i holds samples i*m ... i*m + m - 1, in that order."""
    if m == 1:
        return x
    if x.shape[0] % m:
        raise ValueError(f"a batch of {x.shape[0]} cannot be split into packs of {m}")
    return x.reshape(x.shape[0] // m, m * x.shape[1], *x.shape[2:])
