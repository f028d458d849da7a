"""Maximum likelihood: the sequence generator trained by teacher forcing (cross-entropy of the next
token), the baseline every sequence GAN is measured against and the pre-training of SeqGAN (Yu et al.
2017). One phase per iteration; padding is not scored, the end id is.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..config import Config, ConfigError, GameSettings
from . import GAMES
from .base import Batch, DataInfo, Phase
from .sequence import SequenceGame, validate_sequence_game


@dataclass
class MLESettings(GameSettings):
    name: str = "mle"
    temperature: float = 1.0       # sampling temperature of previews and gankit sample/eval (0: greedy)
    grad_clip: float = 5.0         # clip G's gradient norm to this before each step (SeqGAN's 5.0; 0: off)

    def validate(self, cfg: Config) -> None:
        if self.grad_clip < 0:
            raise ConfigError(f"game.grad_clip: {self.grad_clip!r} must be >= 0")
        if self.grad_clip > 0 and cfg.train.precision == "fp16":  # (its gradients are scaled when clipped)
            raise ConfigError("game.grad_clip: clipping fp16's scaled gradients is not supported; use "
                              "train.precision=bf16 or fp32, or game.grad_clip=0")
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
        tokens = batch["tokens"]                                     # (B, L)
        logits = self.train_module("G")(tokens)                      # (B, L, V)
        loss = F.cross_entropy(logits.float().flatten(0, 1), tokens.flatten(),
                               ignore_index=self.pad if self.pad is not None else -100)
        self.backward(loss, "G")
        stats = {"loss/G": loss.detach()}
        if self.grad_clip > 0:
            stats["grad_norm/G"] = torch.nn.utils.clip_grad_norm_(self.G.parameters(), self.grad_clip).detach()
        return stats
