"""The shared core of the sequence games (maximum likelihood now; SeqGAN, Gumbel-softmax and softmax
WGAN-GP to come): a sequence generator G over the data's vocabulary, its fixed inputs, and drawing.

The inputs of G are uniforms ``u`` (N, L) in [0, 1) and a sampling ``temperature`` (N,): position t
takes the first id whose cumulative probability (at that temperature) exceeds ``u[:, t]``, so a seed
gives the same sequences on every device, and temperature 0 is greedy decoding. ``generate`` returns
ids (N, L) int64; :meth:`SequenceGame.texts` decodes them with the vocabulary, which the game keeps in
its checkpointed state so a run samples without its corpus.
"""
from __future__ import annotations

import math
from typing import Mapping

import torch
import torch.nn as nn

from ..config import Config, ConfigError
from ..errors import GankitError
from ..nets import SEQUENCE_GENERATORS, build_sequence_generator
from .base import GAN_ONLY, Batch, DataInfo, Game, module_device, require_default


def check_temperature(t: float, flag: str = "--temperature") -> float:
    t = float(t)
    if not (math.isfinite(t) and 0.0 <= t <= 100.0):
        raise GankitError(f"{flag} {t}: the sampling temperature must lie in [0, 100] (0: greedy, 1: the model's "
                          f"own distribution)")
    return t


def validate_sequence_game(cfg: Config, game: str) -> None:
    """The settings a sequence game needs (a sequence generator) and the image settings it does not use."""
    if cfg.model.g.name not in SEQUENCE_GENERATORS:
        raise ConfigError(f"model.g.name: {cfg.model.g.name!r} is not a sequence generator; game {game!r} needs "
                          f"one of {', '.join(SEQUENCE_GENERATORS.names())} (e.g. --set model.g.name=lstm)")
    require_default(cfg, [*GAN_ONLY, "penalty.gp", "penalty.clip", "model.num_classes"], game)


class SequenceGame(Game):
    """Base of the games that learn token sequences (``{"tokens": (B, L)}`` batches)."""

    kind = "sequence"

    def __init__(self, cfg: Config, info: DataInfo, name: str):
        super().__init__()
        if "tokens" not in info.shapes or info.vocabulary is None:
            raise ConfigError(f"game.name: {name!r} learns token sequences, but data.name={info.source!r} yields "
                              f"{'/'.join(info.shapes) or 'nothing'} (use a token source: text, names, words, oracle)")
        self.vocabulary = info.vocabulary
        v = self.vocabulary
        self.length = v.length
        self.G = build_sequence_generator(cfg.model.g, v.size, v.length, v.pad, v.end)
        self.temperature = check_temperature(cfg.game.temperature, "game.temperature")

    @property
    def averaged(self) -> tuple[str, ...]:
        return ("G",)

    def state_dict(self) -> dict:
        return {"vocabulary": self.vocabulary.to_state()}

    def load_state_dict(self, state: dict) -> None:
        if "vocabulary" in state:
            from ..data.tokens import Vocabulary

            saved = Vocabulary.from_state(state["vocabulary"])
            if saved.size != self.vocabulary.size or saved.length != self.vocabulary.length:
                raise GankitError(f"the checkpoint's vocabulary ({saved.size} ids, length {saved.length}) is not the "
                                  f"data's ({self.vocabulary.size} ids, length {self.vocabulary.length}): the corpus "
                                  f"changed since the run began")
            self.vocabulary = saved

    # -- drawing ----------------------------------------------------------------------------
    def _inputs(self, n: int, generator: torch.Generator, temperature: float | None) -> Batch:
        t = self.temperature if temperature is None else check_temperature(temperature)
        return {"u": torch.rand(n, self.length, generator=generator), "temperature": torch.full((n,), t)}

    def preview_inputs(self, data, heldout, n: int, generator: torch.Generator) -> Batch:
        """``n`` sequences' uniforms, at ``game.temperature``."""
        return self._inputs(n, generator, None)

    def sample_inputs(self, n: int, seed: int, temperature: float | None = None, labels=None) -> Batch:
        """Uniforms from ``seed`` for ``n`` sequences at ``temperature`` (default ``game.temperature``)."""
        if labels is not None:
            raise GankitError("this run's generator is unconditional; it takes no class labels")
        return self._inputs(n, torch.Generator().manual_seed(seed), temperature)

    @torch.no_grad()
    def generate(self, inputs: Batch, players: Mapping[str, nn.Module] | None = None) -> torch.Tensor:
        """Token ids (N, L) int64, on G's device."""
        G = (players or {}).get("G", self.G)
        u = inputs["u"].to(module_device(G))
        return G.sample(u, inputs["temperature"].to(u.device))

    def texts(self, inputs: Batch, players: Mapping[str, nn.Module] | None = None,
              batch_size: int = 500) -> list[str]:
        """The decoded sequences for ``inputs``."""
        from .base import batched

        return self.vocabulary.decode_batch(batched(lambda b: self.generate(b, players), inputs, batch_size))

    def preview_text(self, inputs: Batch, players: Mapping[str, nn.Module] | None = None) -> str:
        return "".join(line + "\n" for line in self.texts(inputs, players))
