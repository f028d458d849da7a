"""Does the generator copy its training set?

IS and FID cannot tell a generator that reproduces training images from one that generalises. Here
each sample's distance to its nearest training image (pixel space, Euclidean) is compared with the
same distance for held-out real images, which are by construction not copies:

- ``nn_ratio``: median sample distance / median held-out distance. Near 1: samples sit as far from the
  training set as new real digits do; well below 1: samples hug training images.
- ``near_copies``: fraction of samples closer to a training image than 99% of held-out images are
  (the held-out 1st percentile); a generator that does not copy gives about 0.01.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .functional import _sq_dists


def nearest_neighbours(query: torch.Tensor, ref: torch.Tensor, chunk: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
    """Euclidean distance from each row of ``query`` to its nearest row of ``ref``, and that row's index."""
    q, r = query.flatten(1).double(), ref.flatten(1).double()
    q_sq, r_sq = (q * q).sum(1), (r * r).sum(1)
    dist, idx = [], []
    for s in range(0, len(q), chunk):
        m, i = _sq_dists(q[s:s + chunk], q_sq[s:s + chunk], r, r_sq).min(1)  # (chunk, M) -> nearest
        dist.append(m.sqrt())
        idx.append(i)
    return torch.cat(dist), torch.cat(idx)


@dataclass
class MemorizationReport:
    nn_ratio: float
    near_copies: float
    threshold: float               # the held-out 1st percentile distance
    sample_distance: torch.Tensor  # (N,) nearest-training distance of each sample
    sample_neighbour: torch.Tensor # (N,) index of that training image


def memorization(fake: torch.Tensor, train: torch.Tensor, heldout: torch.Tensor) -> MemorizationReport:
    """``fake``, ``train``, ``heldout``: images (or any vectors) of one shape, in one value range."""
    if len(heldout) < 2:
        raise ValueError("memorization needs at least 2 held-out real images")
    d_fake, i_fake = nearest_neighbours(fake, train)
    d_held, _ = nearest_neighbours(heldout, train)
    threshold = torch.quantile(d_held, 0.01).item()
    return MemorizationReport(nn_ratio=(d_fake.median() / d_held.median()).item(),
                              near_copies=(d_fake < threshold).double().mean().item(),
                              threshold=threshold, sample_distance=d_fake, sample_neighbour=i_fake)
