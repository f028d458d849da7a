"""Training games: each owns its players and objective and exposes the phases of one iteration.

The trainer schedules phases and steps optimizers; it never computes a loss. A game provides:

- ``players``: ``{"G": module, "D": module, ...}``; each player gets its own optimizer.
- ``phases(d_steps)``: the phases of one iteration, e.g. ``[Phase("D", "D"), Phase("G", "G")]``.
- ``run_phase(phase, batch, next_phase)``: compute the phase's loss and call ``backward``; return the scalars to
  log (tensors, detached). Gradients of the other players are not computed.
- ``after_step(phase)``: constraints after the phase's optimizer step (e.g. weight clipping).
- ``state_dict()`` / ``load_state_dict(state)``: the game's own counters, saved in checkpoints.
- ``generators``: names of the players that produce images (averaged when ``train.ema_decay`` > 0).
- ``sample(z, G=None)``: images from the generator (or the given copy of it, e.g. its EMA), eval mode.
- ``noise(n, generator=None)``: latent codes of the generator.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..registry import Registry

GAMES: Registry = Registry("game")


@dataclass(frozen=True)
class Phase:
    name: str      # what the logs call it
    player: str    # whose optimizer steps after it
    data: bool     # whether it consumes a batch of real data


from .gan import GANGame  # noqa: E402

__all__ = ["GAMES", "Phase", "GANGame"]
