"""The Python API: the same operations as the CLI, returning objects instead of printing."""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn as nn

from .config import Config, from_dict, load_config
from .errors import CheckpointError, ConfigError, GankitError
from .games import GAMES
from .train.checkpoint import find_checkpoint, load_checkpoint
from .train.ema import recompute_batchnorm_stats
from .train.trainer import Trainer, resolve_device

DEFAULT_PRESET = "dcgan-mnist"


def default_run_dir(preset: str | None) -> Path:
    name = Path(preset).stem if preset else DEFAULT_PRESET
    return Path("runs") / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"


def prepare_training(preset: str | None = None, overrides: Sequence[str] = (), out: str | Path | None = None,
                     resume: str | Path | None = None, device: str | None = None) -> Trainer:
    """Build the Trainer for a new run (preset + overrides) or for resuming ``resume``."""
    if device is not None:
        overrides = [*overrides, f"train.device={device}"]
    if resume is not None:
        ckpt = find_checkpoint(resume)
        state = load_checkpoint(ckpt)
        run_dir = Path(resume) if Path(resume).is_dir() else ckpt.parent.parent
        if out is not None and Path(out).resolve() != run_dir.resolve():
            raise ConfigError("--out cannot be combined with --resume: a resumed run continues in its own directory")
        if preset is not None:
            raise ConfigError("a preset cannot be combined with --resume: the run's own config is used "
                              "(change settings with --set)")
        cfg = load_config(None, overrides, base=from_dict(state["config"]))
        if cfg.train.steps <= state["step"]:
            raise ConfigError(f"train.steps: the run is already at step {state['step']}; "
                              f"resume with --set train.steps=N for some N > {state['step']}")
        return Trainer(cfg, run_dir, resume_state=state)
    cfg = load_config(preset or DEFAULT_PRESET, overrides)
    run_dir = Path(out) if out is not None else default_run_dir(preset)
    if out is None:  # under torchrun, every process must use rank 0's time-stamped directory
        from .train import distributed as ddp

        info = ddp.dist_info()
        if info.enabled:
            ddp.init_distributed(ddp.process_device(resolve_device(cfg.train.device), info))
            run_dir = ddp.broadcast_object(run_dir, info)
    if (run_dir / "checkpoints" / "last.pt").exists():
        raise ConfigError(f"{str(run_dir)!r} already holds a run; continue it with --resume {run_dir} "
                          f"or choose another --out")
    return Trainer(cfg, run_dir)


def train(preset: str | None = None, overrides: Sequence[str] = (), out: str | Path | None = None,
          resume: str | Path | None = None, device: str | None = None) -> dict[str, Any]:
    """Train (or resume) a run; returns a summary (run_dir, steps, images_seen, img_per_s, ...)."""
    return prepare_training(preset, overrides, out, resume, device).fit()


@dataclasses.dataclass
class Run:
    """A trained run, ready to draw: its game (players loaded), the players drawing uses (the EMA
    copies where the run kept them), and its config."""
    game: Any
    players: dict[str, nn.Module]
    cfg: Config
    step: int

    def generate(self, inputs: dict[str, torch.Tensor], batch_size: int = 500) -> torch.Tensor:
        from .games.base import batched

        return batched(lambda b: self.game.generate(b, self.players), inputs, batch_size)


def load_run(path: str | Path, device: str = "cpu", ema: bool = True) -> Run:
    """The game of a run directory or checkpoint file, its players loaded, in eval mode.

    With ``ema`` (default) and a run trained with ``train.ema_decay`` > 0, drawing uses the averaged
    weights (their BatchNorm statistics re-estimated as the trainer's pictures did)."""
    from .data import data_info
    from .games import DataInfo

    state = load_checkpoint(path)
    cfg = load_config(None, base=from_dict(state["config"]))
    shapes, num_classes = data_info(cfg.data)
    game = GAMES.get(cfg.game.name, key="game.name")(cfg, DataInfo(shapes, num_classes, cfg.data.name))
    dev = resolve_device(device)
    averaged = state.get("ema", {}) if ema else {}
    players: dict[str, nn.Module] = {}
    try:
        for name, m in game.players.items():
            m.load_state_dict(state["players"][name])
            m.to(dev).eval()
        for name, weights in averaged.items():
            copy = _copy_module(game.players[name])
            copy.load_state_dict(weights)
            players[name] = copy.to(dev).eval()
    except (KeyError, RuntimeError) as e:
        raise CheckpointError(f"{str(path)!r}: weights do not match its config: "
                              f"{str(e).strip().splitlines()[0]}") from None
    if players and cfg.train.ema_bn_stats == "recompute":  # as the trainer's pictures did
        for name, m in players.items():
            recompute_batchnorm_stats(m, lambda n, g, name=name: game.bn_inputs(name, n, g), cfg.train.batch_size)
    return Run(game, players, cfg, int(state["step"]))


def _copy_module(m: nn.Module) -> nn.Module:
    import copy

    return copy.deepcopy(m)


def sample(path: str | Path, n: int, seed: int = 0, device: str = "cpu", batch_size: int = 500,
           labels=None, jacobian_keep: float | None = None, codes: dict[str, float] | None = None) -> torch.Tensor:
    """``n`` outputs in [-1, 1], (n, C, H, W) (or points (n, D)) on the CPU; the same (checkpoint, seed)
    gives the same samples. A conditional game takes ``labels``: one class for all, or n classes
    (default: balanced, sample i of class i mod K); a game with latent codes (InfoGAN) takes ``codes``
    to fix, e.g. ``{"c": 3, "cont0": 1.5}``. ``jacobian_keep`` < 1 keeps that fraction of the
    latent draws with the smallest Jacobian norm (gankit.sampling; default: the run's
    ``sample.jacobian_keep``)."""
    from .sampling import draw

    if n < 1:
        raise GankitError(f"--n must be >= 1, got {n}")
    run = load_run(path, device)
    keep = run.cfg.sample.jacobian_keep if jacobian_keep is None else jacobian_keep
    return draw(run.game, n, seed=seed, players=run.players, labels=labels, keep=keep,
                directions=run.cfg.sample.jacobian_directions, batch_size=batch_size, codes=codes)


def traversal(path: str | Path, code: str, rows: int = 10, steps: int = 10, seed: int = 0, device: str = "cpu",
              codes: dict[str, float] | None = None, span: tuple[float, float] = (-2.0, 2.0)) -> torch.Tensor:
    """A latent traversal of a run with continuous codes (InfoGAN): (rows * steps, C, H, W), row-major;
    along each row continuous code ``code`` (``cont0``, ...) sweeps ``span`` with everything else fixed,
    row i shows category i mod K (unless ``codes`` fixes it)."""
    run = load_run(path, device)
    if not hasattr(run.game, "traversal_inputs"):
        raise GankitError(f"--traverse: game {run.cfg.game.name!r} has no latent codes to traverse (infogan has)")
    return run.generate(run.game.traversal_inputs(code, rows, steps, seed, *span, codes=codes))


def parse_codes(items: Sequence[str]) -> dict[str, float]:
    """``["c=3", "cont0=1.5"]`` -> ``{"c": 3.0, "cont0": 1.5}`` (a game checks names and ranges)."""
    out: dict[str, float] = {}
    for item in items:
        name, _, value = item.partition("=")
        try:
            if not name.strip():
                raise ValueError
            out[name.strip()] = float(value)
        except ValueError:
            raise GankitError(f"--code {item!r}: write NAME=VALUE, e.g. --code c=3 or --code cont0=1.5") from None
    return out


def class_grid(path: str | Path, columns: int = 8, seed: int = 0, device: str = "cpu") -> torch.Tensor:
    """A conditional game's class grid: (K * columns, C, H, W), row k shows class k, and column j
    uses the same noise in every row (the style stays, the class changes)."""
    run = load_run(path, device)
    if not hasattr(run.game, "class_grid_inputs"):
        raise GankitError(f"--classes: game {run.cfg.game.name!r} has no classes")
    if columns < 1:
        raise GankitError(f"--n must be >= 1, got {columns}")
    return run.generate(run.game.class_grid_inputs(columns, torch.Generator().manual_seed(seed)))


def translate(path: str | Path, images: torch.Tensor, device: str = "cpu", batch_size: int = 100,
              direction: str | None = None, to: str | None = None) -> torch.Tensor:
    """A translation run's outputs for input ``images`` (N, C, H, W) in [-1, 1], on the CPU: ``direction``
    (``AtoB``/``BtoA``) for a two-way run, ``to`` (a domain, e.g. ``"green+thick"``) for a multi-domain one."""
    run = load_run(path, device)
    how = {k: v for k, v in (("direction", direction), ("to", to)) if v is not None}  # (games that take neither)
    return run.generate(run.game.translate_inputs(images, **how), batch_size)


def evaluate_run(path: str | Path, metrics=None, n: int | None = None, extractor: str = "auto", seed: int = 0,
                 device: str = "cpu", inception_weights: str | None = None, jacobian_keep: float | None = None,
                 ema: bool = True):
    """Score a run (its EMA players if it has them): ``n`` samples (default 5,000, or the protocol's
    count when the ``modes`` metric is scored) of a noise-driven game against its dataset; a translation
    game's outputs for the held-out inputs against their targets. With Jacobian-based truncation
    (``jacobian_keep`` < 1, default the run's ``sample.jacobian_keep``) the scores carry a note saying so.
    ``ema=False`` scores the live players even where the run kept averaged copies."""
    from .metrics.evaluate import evaluate_game

    run = load_run(path, device, ema=ema)
    keep = run.cfg.sample.jacobian_keep if jacobian_keep is None else jacobian_keep
    if run.game.kind != "noise":
        keep = 1.0
    res, _ = evaluate_game(run.game, run.players, run.cfg, metrics, n, seed=seed, extractor_spec=extractor,
                           device=device, inception_weights=inception_weights, keep=keep,
                           directions=run.cfg.sample.jacobian_directions)
    return res


def load_images(path: str | Path, resolution: int | None = None, channels: int | None = None):
    """A folder of images or a .npz/.npy file as ImageData; size and channels default to the first image's."""
    from .config import DataConfig
    from .data import ImageData, fit_images, load_data
    from .errors import DataError

    p = Path(path).expanduser()
    if p.is_dir():
        if resolution is None or channels is None:
            from PIL import Image

            from .data.sources import IMAGE_EXTENSIONS
            first = next((f for f in sorted(p.rglob("*")) if f.suffix.lower() in IMAGE_EXTENSIONS), None)
            if first is None:
                raise DataError(f"no images under {str(p)!r}")
            with Image.open(first) as im:
                resolution = resolution or min(im.size)
                channels = channels or (1 if im.mode in ("L", "1", "I", "I;16", "F") else 3)
        return load_data(DataConfig(name="folder", path=str(p), resolution=resolution, channels=channels))
    if p.suffix.lower() in (".npz", ".npy") and p.is_file():
        from .data.sources import read_image_array

        x, labels = read_image_array(str(p))
        x = fit_images(torch.from_numpy(x), resolution or x.shape[2], channels or x.shape[1])
        return ImageData(p.name, x, None if labels is None else torch.from_numpy(labels.astype("int64")))
    raise DataError(f"{str(p)!r} is neither a folder of images nor an existing .npz/.npy file")
