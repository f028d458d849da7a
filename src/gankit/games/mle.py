"""Maximum likelihood: the sequence generator trained by teacher forcing (cross-entropy of the next
token), the baseline every sequence GAN is measured against and the pre-training of SeqGAN (Yu et al.
2017). One phase per iteration; padding is not scored, the end id is.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..config import Config, GameSettings
from . import GAMES
from .base import Batch, DataInfo, Phase, check_nonnegative
from .sequence import SequenceGame, mle_loss, validate_sequence_game


@dataclass
class MLESettings(GameSettings):
    name: str = "mle"
    temperature: float = 1.0       # sampling temperature of previews and gankit sample/eval (0: greedy)
    grad_clip: float = 5.0         # clip G's gradient norm to this before each step (SeqGAN's 5.0; 0: off)

    def validate(self, cfg: Config) -> None:
        check_nonnegative(self, "grad_clip")
        validate_sequence_game(cfg, "mle")


@GAMES.register("mle")
class MLEGame(SequenceGame):
    Settings = MLESettings

    def __init__(self, cfg: Config, info: DataInfo):
        super().__init__(cfg, info, "mle")
        self.players = {"G": self.G}
        self.grad_clip = cfg.game.grad_clip
        self.pad = self.vocabulary.pad

    def phases(self) -> list[Phase]:
        return [Phase("G", ("G",))]

    def run_phase(self, phase: Phase, batch: Batch | None, next_phase: Phase | None = None) -> dict[str, torch.Tensor]:
        loss = mle_loss(self.train_module("G"), batch["tokens"], self.pad)
        self.backward(loss, "G")
        stats = {"loss/G": loss.detach()}
        if self.grad_clip > 0:
            stats["grad_norm/G"] = torch.nn.utils.clip_grad_norm_(self.G.parameters(), self.grad_clip).detach()
        return stats
