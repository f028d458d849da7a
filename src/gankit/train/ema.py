"""Exponential moving average of a player's weights (Yazıcı et al. 2019; Karras et al. 2018).

Sampling and evaluation from the averaged generator smooth out the oscillation of the game. Buffers
(BatchNorm running statistics) are copied from the live network, not averaged. The decay ramps up as
min(decay, (1 + t) / (10 + t)) so the average is not dominated by the initial weights early on.

The live network's running statistics belong to the live weights, not to the averaged ones: with
``train.ema_bn_stats=recompute`` (the default) every picture, evaluation and ``gankit sample`` first
re-estimates them for the averaged weights (:func:`recompute_batchnorm_stats`, the "standing
statistics" of Brock et al. 2019, BigGAN §3.1 / appendix): BatchNorm's running mean and variance are
reset and replaced by the plain average over a fixed set of noise batches of the training batch size,
drawn from a fixed seed, so the result depends on the weights alone (resuming gives the same samples).
"""
from __future__ import annotations

import copy
from typing import Callable

import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm

BN_STATS_BATCHES = 16  # noise batches that re-estimate BatchNorm statistics for the averaged weights
BN_STATS_SEED = 7_777_777  # their fixed noise seed (independent of the run's seed and RNG state)


class EMA:
    def __init__(self, module: nn.Module, decay: float):
        self.decay = decay
        self.module = copy.deepcopy(module).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, source: nn.Module, step: int) -> None:
        d = min(self.decay, (1 + step) / (10 + step))
        ema_p = list(self.module.parameters())
        torch._foreach_lerp_(ema_p, [p.detach() for p in source.parameters()], 1.0 - d)
        for b_ema, b in zip(self.module.buffers(), source.buffers(), strict=True):
            b_ema.copy_(b)

    def state_dict(self) -> dict:
        return self.module.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.module.load_state_dict(state)


@torch.no_grad()
def recompute_batchnorm_stats(G: nn.Module, inputs: Callable[[int, torch.Generator], tuple],
                              batch_size: int, batches: int = BN_STATS_BATCHES, seed: int = BN_STATS_SEED) -> nn.Module:
    """Replace the running statistics of every BatchNorm in ``G`` by their plain average over
    ``batches`` forward passes in training mode on ``inputs(batch_size, generator)`` (G's positional
    arguments, e.g. ``(z,)`` or ``(z, y)``), from a generator seeded with ``seed``. Weights are not
    touched; ``G`` is left in eval mode. Deterministic: the same weights give the same statistics."""
    bns = [m for m in G.modules() if isinstance(m, _BatchNorm) and m.track_running_stats]
    if not bns:
        return G.eval()
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average: each batch weighs the same
    g = torch.Generator().manual_seed(seed)
    device = next(G.parameters()).device
    threads = torch.get_num_threads()
    if device.type == "cpu":  # batch reductions split over threads round differently: one thread makes
        torch.set_num_threads(1)  # the statistics the same whatever the process's thread count
    G.train()
    try:
        for _ in range(batches):
            G(*(a.to(device) for a in inputs(batch_size, g)))
    finally:
        torch.set_num_threads(threads)
        for m, mom in zip(bns, momenta):
            m.momentum = mom
        G.eval()
    return G
