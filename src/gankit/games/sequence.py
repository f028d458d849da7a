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
from dataclasses import dataclass
from typing import ClassVar, Mapping

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import Config, ConfigError, GameSettings
from ..errors import GankitError
from ..losses import build_objective
from ..nets import (SEQUENCE_DISCRIMINATORS, SEQUENCE_GENERATORS, build_sequence_discriminator,
                    build_sequence_generator)
from .base import GAN_ONLY, Batch, DataInfo, Game, Phase, check_nonnegative, module_device, require_default


def check_temperature(t: float, flag: str = "--temperature") -> float:
    t = float(t)
    if not (math.isfinite(t) and 0.0 <= t <= 100.0):
        raise GankitError(f"{flag} {t}: the sampling temperature must lie in [0, 100] (0: greedy, 1: the model's "
                          f"own distribution)")
    return t


def validate_sequence_game(cfg: Config, game: str, allow: tuple[str, ...] = ()) -> None:
    """The settings a sequence game needs (a sequence generator) and the image settings it does not use
    (``allow``: the shared keys this game does use)."""
    if cfg.model.g.name not in SEQUENCE_GENERATORS:
        raise ConfigError(f"model.g.name: {cfg.model.g.name!r} is not a sequence generator; game {game!r} needs "
                          f"one of {', '.join(SEQUENCE_GENERATORS.names())} (e.g. --set model.g.name=lstm)")
    keys = [*GAN_ONLY, "penalty.gp", "penalty.clip", "model.num_classes", "tricks.diffusion"]
    require_default(cfg, [k for k in keys if k not in allow], game)
    if cfg.game.grad_clip > 0 and cfg.train.precision == "fp16":  # (its gradients are scaled when clipped)
        raise ConfigError("game.grad_clip: clipping fp16's scaled gradients is not supported; use "
                          "train.precision=bf16 or fp32, or game.grad_clip=0")


def mle_loss(G: nn.Module, tokens: torch.Tensor, pad: int | None) -> torch.Tensor:
    """Teacher-forced cross-entropy of the next token (mean over the scored positions: padding is not
    scored, the end id is)."""
    logits = G(tokens)                                                   # (B, L, V)
    return F.cross_entropy(logits.float().flatten(0, 1), tokens.flatten(),
                           ignore_index=pad if pad is not None else -100)


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


# -- the adversarial sequence games --------------------------------------------------------------
@dataclass
class SequenceGANSettings(GameSettings):
    """The ``game.*`` keys every adversarial sequence game shares (SeqGAN, gumbel, softmax)."""
    name: str = "seqgan"
    temperature: float = 1.0       # sampling temperature of previews and gankit sample/eval (0: greedy)
    grad_clip: float = 5.0         # clip G's gradient norm to this before each step (SeqGAN's 5.0; 0: off)
    pretrain_steps: int = 0        # iterations of maximum-likelihood pre-training of G first (D idle)
    pretrain_d_steps: int = 0      # then iterations that train D alone (train.d_steps each) against the pre-trained G
    adversarial_lr: float = 1.0    # G's learning rate in the adversarial stage, as a multiple of optim.g.lr

    #: the shared settings (image GANs' keys) this game does use; the others must stay at their defaults
    shared_keys: ClassVar[tuple[str, ...]] = ()

    def validate(self, cfg: Config) -> None:
        check_nonnegative(self, "grad_clip", "pretrain_steps", "pretrain_d_steps")
        if not self.adversarial_lr > 0:
            raise ConfigError(f"game.adversarial_lr: {self.adversarial_lr!r} must be > 0")
        if cfg.model.d.name not in SEQUENCE_DISCRIMINATORS:
            raise ConfigError(f"model.d.name: {cfg.model.d.name!r} is not a sequence discriminator; game "
                              f"{self.name!r} needs one of {', '.join(SEQUENCE_DISCRIMINATORS.names())} "
                              f"(e.g. --set model.d.name=cnn)")
        validate_sequence_game(cfg, self.name, allow=self.shared_keys)


class SequenceGANGame(SequenceGame):
    """Base of the adversarial sequence games: G (a sequence generator) and D (a sequence
    discriminator), in three stages counted in iterations (``train.d_steps`` D phases, then a G phase):

    1. ``game.pretrain_steps`` iterations of maximum likelihood for G (teacher forcing; D idle);
    2. ``game.pretrain_d_steps`` iterations of D alone against the pre-trained G;
    3. adversarial training to ``train.steps``: D phases as :meth:`d_loss` says, G phases as
       :meth:`g_loss` says, G at ``game.adversarial_lr`` times its configured learning rate.

    The stage follows from the iteration counter, which is checkpointed: a resumed run continues in
    the stage, and at the learning rate, where it stopped."""

    scales_lr = True

    def __init__(self, cfg: Config, info: DataInfo, name: str):
        super().__init__(cfg, info, name)
        v = self.vocabulary
        self.D = build_sequence_discriminator(cfg.model.d, v.size, v.length)
        self.players = {"G": self.G, "D": self.D}
        self.objective = build_objective(cfg.loss)
        self.gp = cfg.penalty.gp
        self.d_steps = cfg.train.d_steps
        self.grad_clip = cfg.game.grad_clip
        self.pretrain_steps, self.pretrain_d_steps = cfg.game.pretrain_steps, cfg.game.pretrain_d_steps
        self.adversarial_start = self.pretrain_steps + self.pretrain_d_steps
        self.adversarial_steps = max(cfg.train.steps - self.adversarial_start, 0)
        self.adversarial_lr = cfg.game.adversarial_lr
        self.iterations = 0  # iterations completed (counted at the end of each G phase)

    @property
    def optimized(self) -> tuple[str, ...]:
        return ("G", "D")

    @property
    def stage(self) -> str:
        if self.iterations < self.pretrain_steps:
            return "mle"
        return "pretrain_d" if self.iterations < self.adversarial_start else "adversarial"

    def lr_scale(self, player: str) -> float:
        return self.adversarial_lr if player == "G" and self.stage == "adversarial" else 1.0

    def phases(self) -> list[Phase]:
        return [Phase("D", ("D",))] * self.d_steps + [Phase("G", ("G",))]

    def run_phase(self, phase: Phase, batch: Batch | None, next_phase: Phase | None = None) -> dict[str, torch.Tensor]:
        stage = self.stage
        if phase.name == "D":
            return {} if stage == "mle" else self._d_phase(batch["tokens"])
        stats = {}
        if stage == "mle":
            loss = mle_loss(self.train_module("G"), batch["tokens"], self.vocabulary.pad)
            self.backward(loss, "G")
            stats = {"loss/G_mle": loss.detach()}
        elif stage == "adversarial":
            loss, stats = self.g_loss(batch["tokens"].shape[0])
            self.backward(loss, "G")
            stats["loss/G"] = loss.detach()
        if stats and self.grad_clip > 0:
            stats["grad_norm/G"] = torch.nn.utils.clip_grad_norm_(self.G.parameters(), self.grad_clip).detach()
        self.iterations += 1  # (the G phase ends every iteration: D and G phases of one iteration see one stage)
        return stats

    def _d_phase(self, real: torch.Tensor) -> dict[str, torch.Tensor]:
        loss, stats = self.d_loss(real)
        self.backward(loss, "D")
        stats["loss/D"] = loss.detach()
        return stats

    def d_stats(self, real_out: torch.Tensor, fake_out: torch.Tensor) -> dict[str, torch.Tensor]:
        stats = {"D_out/real": real_out.detach().mean(), "D_out/fake": fake_out.detach().mean()}
        p_real, p_fake = self.objective.prob(real_out.detach()), self.objective.prob(fake_out.detach())
        if p_real is not None:
            stats.update({"D(x)": p_real.mean(), "D(G(z))": p_fake.mean()})
        return stats

    def d_loss(self, real: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """D's loss on real ids (B, L) and as many of G's sequences."""
        raise NotImplementedError

    def g_loss(self, n: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """G's adversarial loss on ``n`` sequences of its own."""
        raise NotImplementedError

    def state_dict(self) -> dict:
        return {**super().state_dict(), "iterations": self.iterations}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.iterations = int(state.get("iterations", 0))
