"""The game protocol: what the trainer, the CLI and the API know of a game, and nothing more.

A game owns its players (the networks), its objectives and its state, and exposes the phases of one
training iteration. The trainer schedules the phases, steps the optimizers of the players a phase
updates, averages the players a game lists in ``averaged``, and saves everything; it never computes
a loss and never names a player. Pictures, evaluation, ``gankit sample``, ``gankit translate`` and the
Python API all draw through one method, :meth:`Game.generate`, given the inputs the game itself
prepares (noise and classes for a noise-driven game, input images for a translation game).

To add a game: subclass :class:`Game` in ``games/<name>.py``, give it a ``Settings`` dataclass for its
own ``game.*`` keys (``name`` first; an optional ``validate(cfg)`` rejects shared settings the game does
not implement, naming the key), register it with ``@GAMES.register("<name>")``, and add presets.
The contract test (tests/test_games.py) then runs it: it trains, resumes bit-exactly, and its previews
and ``generate`` have the documented shapes.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import torch
import torch.nn as nn

from ..errors import GankitError

Batch = dict[str, torch.Tensor]


@dataclass(frozen=True)
class Phase:
    """One step of an iteration: the game computes a loss and backpropagates, then the trainer steps
    the optimizers of ``players``. ``data``: whether it consumes a batch of real data. ``every``: run it
    only on iterations whose index is a multiple of this (lazy regularisation); 1: every iteration."""

    name: str
    players: tuple[str, ...]
    data: bool = True
    every: int = 1


@dataclass(frozen=True)
class DataInfo:
    """What a game may know of its data when it builds its players: the sample shapes by batch key
    (``{"x": (C, H, W)}``, ``{"A": ..., "B": ...}``), the number of classes or domains, the source, the
    domain attributes."""

    shapes: dict[str, tuple[int, ...]]
    num_classes: int | None = None
    source: str = ""
    #: multi-domain data: the domain attributes by mutually exclusive group, e.g.
    #: ``(("red", "green", "blue"), ("thick",))``; None where the data has none
    attributes: tuple[tuple[str, ...], ...] | None = None
    #: token data: the vocabulary (data/tokens.py), which a sequence game saves in its state
    vocabulary: Any = None

    @classmethod
    def of(cls, data) -> "DataInfo":
        names, groups = getattr(data, "attribute_names", None), getattr(data, "attribute_groups", None)
        attributes = tuple(tuple(names[i] for i in g) for g in groups) if names and groups else None
        return cls(dict(data.shapes), getattr(data, "num_classes", None), getattr(data, "name", ""), attributes,
                   getattr(data, "vocabulary", None))

    @classmethod
    def saved(cls, cfg, state: dict) -> "DataInfo":
        """What a run's game knew of its data, without the data: the shapes and class count its config
        gives, and the vocabulary a sequence game saved in its checkpointed state."""
        from ..data import data_info

        shapes, num_classes = data_info(cfg.data)
        vocab = (state.get("game") or {}).get("vocabulary")
        if vocab is not None:
            from ..data.tokens import Vocabulary

            vocab = Vocabulary.from_state(vocab)
        return cls(shapes, num_classes, cfg.data.name, vocabulary=vocab)


class Game(ABC):
    """Base class of the training games (see the module docstring).

    Subclasses set ``players`` (name -> module: every module that is saved) in ``__init__`` and may
    override ``optimized`` (players with an optimizer; default all) and ``averaged`` (players whose
    weights ``train.ema_decay`` averages; default none)."""

    Settings: type  # the dataclass of this game's ``game.*`` keys
    players: dict[str, nn.Module]
    #: what the game's outputs are: "noise" (drawn from a latent: gankit sample), "translation"
    #: (computed from input images: gankit translate) or "sequence" (token ids (N, L) int64 drawn
    #: autoregressively: gankit sample --out FILE.txt; games/sequence.py)
    kind: str = "noise"
    #: noise games: whether z ~ N(0, I) (latent paths default to slerp) or another prior (lerp)
    gaussian_noise: bool = True
    #: translation games: the (C, H, W) of the images they translate (gankit translate decodes to it)
    input_shape: tuple[int, ...] | None = None
    #: translation games with a way back (:meth:`reconstruct`): CycleGAN, StarGAN
    reversible: bool = False
    #: games whose players' learning rates change by stage (:meth:`lr_scale`), e.g. maximum-likelihood
    #: pre-training then adversarial training at a lower rate
    scales_lr: bool = False

    def __init__(self) -> None:
        self.grad_scalers: dict[str, Any] = {}  # player -> torch.amp.GradScaler (fp16), set by the trainer
        self._wrapped: dict[str, nn.Module] = {}

    @property
    def optimized(self) -> tuple[str, ...]:
        return tuple(self.players)

    @property
    def averaged(self) -> tuple[str, ...]:
        return ()

    # -- training -----------------------------------------------------------------------------
    @abstractmethod
    def phases(self) -> list[Phase]:
        """The phases of one iteration, in order."""

    @abstractmethod
    def run_phase(self, phase: Phase, batch: Batch | None, next_phase: Phase | None = None) -> dict[str, torch.Tensor]:
        """Compute the phase's loss and call backward (through :meth:`backward`); return the scalars
        to log, detached. ``next_phase`` lets a phase keep work the next one reuses."""

    def lr_scale(self, player: str) -> float:
        """The factor on ``player``'s configured learning rate for the coming iteration (games with
        ``scales_lr``; a function of the game's checkpointed state, so a resumed run continues exactly)."""
        return 1.0

    def after_step(self, phase: Phase) -> None:
        """Constraints applied after the phase's optimizer steps (e.g. WGAN's weight clipping)."""

    def wrap_players(self, wrap: Callable[[str, nn.Module, bool], nn.Module]) -> None:
        """Route training forwards through ``wrap(name, module, trainable)`` (DDP, torch.compile)."""
        self._wrapped = {name: wrap(name, m, True) for name, m in self.players.items() if name in self.optimized}
        self._wrapped.update({f"{name}:frozen": wrap(name, m, False) for name, m in self.players.items()})

    def train_module(self, name: str, frozen: bool = False) -> nn.Module:
        """What a training forward of player ``name`` calls: its wrapper, or the player itself. A frozen
        forward (the player is judged, not trained, e.g. D in G's phase) skips DDP's gradient sync."""
        return self._wrapped.get(f"{name}:frozen" if frozen else name, self.players[name])

    def backward(self, loss: torch.Tensor, player: str) -> None:
        scaler = self.grad_scalers.get(player)
        (scaler.scale(loss) if scaler is not None else loss).backward()

    def state_dict(self) -> dict[str, Any]:
        """The game's own state (counters, adaptive values, image pools): plain tensors and numbers."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass

    # -- drawing ------------------------------------------------------------------------------
    @abstractmethod
    def preview_inputs(self, data, heldout, n: int, generator: torch.Generator) -> Batch:
        """Fixed inputs for the progress grids, chosen once at the start of a run: noise for a
        noise-driven game, held-out input images (``heldout``, or ``data`` when there is none) for a
        translation game. CPU tensors."""

    @abstractmethod
    def generate(self, inputs: Batch, players: Mapping[str, nn.Module] | None = None) -> torch.Tensor:
        """The game's outputs for ``inputs`` (eval mode, no gradients), from the live players or the
        copies given in ``players`` (e.g. the EMA generator). The one drawing path of the toolkit."""

    def picture(self, inputs: Batch, players: Mapping[str, nn.Module] | None = None) -> tuple[torch.Tensor, int | None]:
        """A picture of ``inputs``: (images, images per row or None). Default: the outputs alone."""
        return self.generate(inputs, players), None

    def preview_text(self, inputs: Batch, players: Mapping[str, nn.Module] | None = None) -> str | None:
        """A game whose outputs are text (sequence games): the preview of ``inputs`` as text, one output
        a line, which the trainer writes to ``samples/<name>.txt`` instead of a picture. None (default):
        the game's previews are pictures (:meth:`picture`)."""
        return None

    def sample_inputs(self, n: int, seed: int, **options) -> Batch:
        """Random inputs for ``n`` outputs of a noise-driven game (``options``: the game's own, e.g.
        classes). A translation game has none: it translates given images."""
        raise GankitError(f"this run's game ({type(self).__name__}) translates images; it does not sample "
                          f"from noise: use gankit translate RUN --input IMAGES")

    def translate_inputs(self, images: torch.Tensor, direction: str | None = None, to: str | None = None) -> Batch:
        """Inputs of :meth:`generate` for input images (N, C, H, W) in [-1, 1] (translation games):
        ``direction`` (``AtoB``/``BtoA``, two-way games) or ``to`` (a target domain, multi-domain games)
        say where to, as ``gankit translate --direction/--to`` do; a game rejects what it cannot do."""
        raise GankitError(f"this run's game ({type(self).__name__}) does not translate images; "
                          f"use gankit sample")

    def input_shape_for(self, direction: str | None = None, to: str | None = None) -> tuple[int, ...]:
        """The (C, H, W) of the images :meth:`translate_inputs` takes for that direction."""
        if self.input_shape is None:
            raise GankitError(f"this run's game ({type(self).__name__}) does not translate images")
        return self.input_shape

    def reconstruct(self, inputs: Batch, outputs: torch.Tensor,
                    players: Mapping[str, nn.Module] | None = None) -> torch.Tensor | None:
        """Translation games with a way back (CycleGAN, StarGAN): ``outputs`` translated back to the
        inputs' domain, for pictures and the cycle metric; None where the game has no way back
        (``reversible`` False)."""
        return None

    def eval_views(self) -> tuple[str, ...]:
        """The directions a translation game is scored in, each with its own scores (``AtoB/fid...``);
        ``("",)``: one, unprefixed."""
        return ("",)

    def eval_inputs(self, heldout, n: int, seed: int, view: str = "") -> tuple[Batch, Batch]:
        """Inputs for scoring ``n`` outputs (of ``view``, one of :meth:`eval_views`), and what they are
        compared with: ``({inputs}, {"labels"?, "targets"?, "sources"?, "codes"?})``: the classes the outputs
        should show, their true counterparts, the untranslated input images, the target domain codes.
        Default: ``sample_inputs`` (no targets)."""
        if self.kind != "noise":
            raise GankitError(f"game {type(self).__name__} does not say how to score it (it defines no eval_inputs)")
        inputs = self.sample_inputs(n, seed)
        return inputs, ({"labels": inputs["y"]} if "y" in inputs else {})

    def output_data(self, data, view: str = ""):
        """The real images of the domain the outputs (of ``view``) belong to (the reference of FID and
        friends), from a dataset of this game's kind. Default: the data itself."""
        return data

    def output_source(self, data_cfg, view: str = "") -> str:
        """The name of the dataset whose classifier reads the outputs (of ``view``). Default: the run's
        data source."""
        return data_cfg.name

    def bn_inputs(self, name: str, n: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        """Positional inputs of player ``name`` for re-estimating BatchNorm statistics of its EMA copy."""
        raise NotImplementedError


#: shared settings only the noise-driven ``gan`` game implements; other games reject them by name
GAN_ONLY = ("penalty.r1", "tricks.label_smoothing", "tricks.instance_noise", "tricks.feature_matching",
            "tricks.diffaugment", "tricks.topk", "tricks.pack")


def check_nonnegative(settings, *keys: str) -> None:
    """A ConfigError for the first of the game's own ``keys`` below 0."""
    from ..config import ConfigError

    for key in keys:
        if getattr(settings, key) < 0:
            raise ConfigError(f"game.{key}: {getattr(settings, key)!r} must be >= 0")


def require_default(cfg, keys: list[str], game: str) -> None:
    """A ConfigError for the first of the dotted ``keys`` that is not at its default value."""
    from ..config import Config, ConfigError

    default = Config()
    for key in keys:
        a, b = cfg, default
        for part in key.split("."):
            a, b = getattr(a, part), getattr(b, part)
        if a != b:
            raise ConfigError(f"{key}: {a!r} is not used by game {game!r} (leave it at {b!r})")


#: why a translation game cannot recompute the BatchNorm statistics of its EMA copies
NO_BN_RECOMPUTE = ("train.ema_bn_stats: 'recompute' draws noise inputs, which a translator does not take; with a "
                   "BatchNorm translator and train.ema_decay > 0 use train.ema_bn_stats=live")


def check_translator_ema(cfg) -> None:
    """A ConfigError where a translation game's settings ask for BatchNorm statistics it cannot recompute."""
    from ..config import ConfigError

    if cfg.train.ema_decay > 0 and cfg.train.ema_bn_stats == "recompute" and cfg.model.g.norm == "batch":
        raise ConfigError(NO_BN_RECOMPUTE)


def check_input_shape(images: torch.Tensor, shape: tuple[int, ...], how: str = "") -> None:
    """A GankitError where input images to translate do not have the run's (C, H, W)."""
    if tuple(images.shape[1:]) != tuple(shape):
        raise GankitError(f"the run translates {'x'.join(map(str, shape))} inputs (C x H x W){how}, "
                          f"got {'x'.join(map(str, images.shape[1:]))}")


def batched(fn: Callable[[Batch], torch.Tensor], inputs: Batch, batch_size: int = 500) -> torch.Tensor:
    """``fn`` over slices of every tensor in ``inputs`` (all of one length), concatenated, on the CPU
    (floating-point outputs as float32; integer outputs, token ids, keep their type)."""
    n = len(next(iter(inputs.values())))
    outs = [fn({k: v[i:i + batch_size] for k, v in inputs.items()}).cpu() for i in range(0, n, batch_size)]
    return torch.cat([o.float() if o.is_floating_point() else o for o in outs])


def spread(n: int, k: int) -> torch.Tensor:
    """``k`` indices evenly spaced over ``range(n)``, the first one 0 (all of them when k = n): a
    split sorted by class shows every class."""
    return torch.div(torch.arange(k) * n, k, rounding_mode="floor")


def module_device(m: nn.Module) -> torch.device:
    p = next(m.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


class eval_mode:
    """Context manager: modules in eval mode, restored to their previous mode on exit."""

    def __init__(self, *modules: nn.Module):
        self.modules = modules

    def __enter__(self):
        self.was = [m.training for m in self.modules]
        for m in self.modules:
            m.eval()

    def __exit__(self, *exc):
        for m, w in zip(self.modules, self.was):
            m.train(w)
