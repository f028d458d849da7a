"""Training games: each owns its players, objectives and state, and exposes the phases of one iteration.

The protocol is :class:`~gankit.games.base.Game` (games/base.py); the trainer, the CLI and the API
know games only through it. Games register by name: ``game.name`` in a config selects one, and its
``Settings`` dataclass types the ``game.*`` keys.
"""
from __future__ import annotations

from ..registry import Registry

GAMES: Registry = Registry("game")

from .base import Batch, DataInfo, Game, Phase  # noqa: E402
from .gan import GANGame  # noqa: E402
from .pix2pix import Pix2PixGame  # noqa: E402
from .cyclegan import CycleGANGame  # noqa: E402
from .stargan import StarGANGame  # noqa: E402
from .ebgan import EBGANGame  # noqa: E402
from .began import BEGANGame  # noqa: E402
from .infogan import InfoGANGame  # noqa: E402
from .stylegan import StyleGANGame  # noqa: E402
from .mle import MLEGame  # noqa: E402
from .seqgan import SeqGANGame  # noqa: E402
from .relaxed import GumbelGame, SoftmaxGame  # noqa: E402

__all__ = ["GAMES", "Batch", "DataInfo", "Game", "Phase", "GANGame", "Pix2PixGame", "CycleGANGame", "StarGANGame", "EBGANGame",
           "BEGANGame", "InfoGANGame", "StyleGANGame", "MLEGame", "SeqGANGame", "GumbelGame", "SoftmaxGame"]
