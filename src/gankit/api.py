"""The Python API: the same operations as the CLI, returning objects instead of printing."""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn as nn

from .config import DEFAULT_PRESET, Config, from_dict, load_config
from .errors import CheckpointError, ConfigError, GankitError
from .games import GAMES
from .train.checkpoint import find_checkpoint, load_checkpoint
from .train.ema import recompute_batchnorm_stats
from .train.trainer import Trainer, resolve_device


def default_run_dir(preset: str | None) -> Path:
    name = Path(preset).stem if preset else DEFAULT_PRESET
    return Path("runs") / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"


def prepare_training(preset: str | None = None, overrides: Sequence[str] = (), out: str | Path | None = None,
                     resume: str | Path | None = None, device: str | None = None, rewind: bool = False) -> Trainer:
    """Build the Trainer for a new run (preset + overrides) or for resuming ``resume``.

    Resuming from an earlier checkpoint than the run's ``last.pt`` would rewind the run: that takes
    ``rewind=True`` (the later checkpoints and metrics rows are kept aside under ``RUN/rewound/``), or
    ``out`` naming a new directory, which branches a new run from that checkpoint and leaves the old
    one as it is."""
    if device is not None:
        overrides = [*overrides, f"train.device={device}"]
    if rewind and resume is None:
        raise ConfigError("--rewind goes with --resume CHECKPOINT (the earlier checkpoint to rewind the run to)")
    if resume is not None:
        ckpt = find_checkpoint(resume)
        if preset is not None:
            if (Path(preset) / "checkpoints" / "last.pt").is_file():  # a pattern such as runs/x-*/ matched several
                raise ConfigError(f"--resume takes one run, but {str(resume)!r} and {preset!r} were given (did a "
                                  f"pattern match several run directories?)")
            raise ConfigError("a preset cannot be combined with --resume: the run's own config is used "
                              "(change settings with --set)")
        state = load_checkpoint(ckpt)
        source_dir = ckpt.parent.parent
        if ckpt.parent.name != "checkpoints" and out is None:  # a file outside a run: whose directory would it be?
            raise ConfigError(f"{str(ckpt)!r} is not in a run's checkpoints/ folder; continue it in a run directory "
                              f"of its own with --out NEW_DIR")
        run_dir = source_dir if out is None else Path(out)
        _check_folder(run_dir, f"--out {str(run_dir)!r}")
        branch = run_dir.resolve() != source_dir.resolve()
        if branch and (run_dir / "checkpoints" / "last.pt").exists():
            raise ConfigError(f"--out {str(run_dir)!r} already holds a run; branch into a new directory")
        if branch and rewind:
            raise ConfigError("--rewind rewinds a run in place; with --out the run is branched and left as it is "
                              "(give one of them)")
        later = _later_state(source_dir, ckpt, state) if not branch else None
        if later is not None and not rewind:
            gone = "to step {}".format(later) if later >= 0 else "(its last.pt is damaged)"
            raise ConfigError(f"{str(ckpt)!r} is at step {state['step']} but the run has gone on {gone}; "
                              f"resuming from it would rewind the run: continue from the end with --resume "
                              f"{source_dir}, branch with --out NEW_DIR, or add --rewind (steps after "
                              f"{state['step']} are then kept under {source_dir / 'rewound'})")
        cfg = load_config(None, overrides, base=from_dict(state["config"]))
        if cfg.train.steps <= state["step"]:
            raise ConfigError(f"train.steps: the run is already at step {state['step']}; "
                              f"resume with --set train.steps=N for some N > {state['step']}")
        trainer = Trainer(cfg, run_dir, resume_state=state)  # (holds the run directory's lock from here)
        failed = None
        if trainer.is_main and (branch or later is not None):
            try:
                if branch:
                    _start_branch(source_dir, run_dir, ckpt, state["step"])
                else:
                    _set_aside(source_dir, ckpt, state["step"], later)
            except (OSError, GankitError) as e:
                failed = f"could not {'branch' if branch else 'rewind'} the run: {e}"
        from .train import distributed as ddp

        failed = ddp.broadcast_object(failed, trainer.dist)  # every rank stops, not rank 0 alone
        if failed is not None:
            trainer.release()
            raise GankitError(failed)
        return trainer
    cfg = load_config(preset or DEFAULT_PRESET, overrides)
    run_dir = Path(out) if out is not None else default_run_dir(preset)
    _check_folder(run_dir, f"--out {str(run_dir)!r}")
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


def _check_folder(folder: Path, what: str) -> None:
    """A folder to write into must not be, or lie under, an existing file."""
    for p in (folder, *folder.parents):
        if p.exists():
            if not p.is_dir():
                raise GankitError(f"{what}: {str(p)!r} is a file, not a folder")
            return


def _later_state(run_dir: Path, ckpt: Path, state: dict[str, Any]) -> int | None:
    """The step of the run's last.pt where it is later than ``state`` (``ckpt`` is an earlier checkpoint);
    -1 where last.pt is damaged (unreadable: rewinding to ``ckpt`` is then the way to recover)."""
    last = run_dir / "checkpoints" / "last.pt"
    if not last.is_file() or ckpt.resolve() == last.resolve():
        return None
    try:
        step = int(load_checkpoint(last)["step"])
    except CheckpointError:
        return -1
    return step if step > int(state["step"]) else None


def _metrics_rows(path: Path, upto: int) -> str:
    import json

    rows = []
    for line in path.read_text().splitlines() if path.is_file() else []:
        try:
            if json.loads(line).get("step", 0) <= upto:
                rows.append(line + "\n")
        except json.JSONDecodeError:
            continue
    return "".join(rows)


def _start_branch(source: Path, run_dir: Path, ckpt: Path, step: int) -> None:
    """A new run from checkpoint ``ckpt`` of run ``source``: the run's metrics up to ``step`` come along,
    and a note of where it came from."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "metrics.jsonl").write_text(_metrics_rows(source / "metrics.jsonl", step))
    (run_dir / "BRANCHED_FROM").write_text(f"{ckpt.resolve()} at step {step}\n")


def _set_aside(run_dir: Path, ckpt: Path, step: int, later: int) -> Path:
    """Rewind a run to checkpoint ``ckpt`` (at ``step``): its later state goes to a new folder
    ``RUN/rewound/step-<later>-<time>-<n>/`` shaped like a run (``checkpoints/`` with the old last.pt, the
    later step-N.pt and a best.pt of a later step; the full ``metrics.jsonl``), then last.pt is replaced
    atomically by ``ckpt``, so that a kill at any moment leaves a run that resumes where it was rewound to."""
    import os
    import shutil
    import tempfile
    import warnings

    (run_dir / "rewound").mkdir(exist_ok=True)
    aside = Path(tempfile.mkdtemp(prefix=f"step-{max(later, 0):07d}-{time.strftime('%Y%m%d-%H%M%S')}-",
                                  dir=run_dir / "rewound"))
    kept = aside / "checkpoints"
    kept.mkdir()
    ckpts = run_dir / "checkpoints"
    if (run_dir / "metrics.jsonl").is_file():
        shutil.copy2(run_dir / "metrics.jsonl", aside / "metrics.jsonl")
    best = ckpts / "best.pt"
    if best.is_file():
        try:
            best_step = int(load_checkpoint(best)["step"])
        except CheckpointError:
            best_step = later
        if best_step > step:
            os.replace(best, kept / "best.pt")
    for f in ckpts.glob("step-*.pt"):
        try:
            if int(f.stem.split("-")[1]) > step:
                os.replace(f, kept / f.name)
        except (IndexError, ValueError):
            continue
    last = ckpts / "last.pt"
    try:
        os.link(last, kept / "last.pt")
    except OSError:
        shutil.copy2(last, kept / "last.pt")
    tmp = ckpts / f".last.pt.rewind-{os.getpid()}.tmp"  # (a killed rewind's temp file goes on the next start)
    try:
        os.link(ckpt, tmp)
    except OSError:
        shutil.copy2(ckpt, tmp)
    os.replace(tmp, last)
    warnings.warn(f"rewinding the run to step {step}; what came after it is kept in {aside}")
    return aside


def train(preset: str | None = None, overrides: Sequence[str] = (), out: str | Path | None = None,
          resume: str | Path | None = None, device: str | None = None, rewind: bool = False) -> dict[str, Any]:
    """Train (or resume) a run; returns a summary (run_dir, steps, images_seen, img_per_s, ...)."""
    return prepare_training(preset, overrides, out, resume, device, rewind).fit()


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
    from .games import DataInfo

    state = load_checkpoint(path)
    cfg = load_config(None, base=from_dict(state["config"]))
    game = GAMES.get(cfg.game.name, key="game.name")(cfg, DataInfo.saved(cfg, state))  # (sequence games: with their saved vocabulary)
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
           labels=None, jacobian_keep: float | None = None, codes: dict[str, float] | None = None,
           truncation: float | None = None) -> torch.Tensor:
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
    if run.game.kind == "sequence":
        raise GankitError(f"{str(path)!r} is a {run.cfg.game.name!r} run, which draws token sequences: write them "
                          f"as text with --out FILE.txt (or to standard output without --out); API: sample_text")
    keep = run.cfg.sample.jacobian_keep if jacobian_keep is None else jacobian_keep
    return draw(run.game, n, seed=seed, players=run.players, labels=labels, keep=keep,
                directions=run.cfg.sample.jacobian_directions, batch_size=batch_size, codes=codes, psi=truncation)


def sample_text(path: str | Path, n: int, seed: int = 0, device: str = "cpu", temperature: float | None = None,
                batch_size: int = 500) -> list[str]:
    """``n`` sequences of a sequence run (mle, ...), decoded with the vocabulary saved in the run; the same
    (checkpoint, seed, temperature) gives the same sequences. ``temperature``: 0 greedy, 1 the model's own
    distribution (default: the run's ``game.temperature``)."""
    if n < 1:
        raise GankitError(f"--n must be >= 1, got {n}")
    run = load_run(path, device)
    if run.game.kind != "sequence":
        raise GankitError(f"{str(path)!r} is a {run.cfg.game.name!r} run, which draws images: give --out FILE.png, "
                          f"FILE.npy or DIR/")
    return run.game.texts(run.game.sample_inputs(n, seed, temperature=temperature), run.players, batch_size)


def style_mix(path: str | Path, rows: int, cols: int, seed: int = 0, device: str = "cpu",
              truncation: float = 1.0) -> torch.Tensor:
    """The style-mixing figure of a style-based run (StyleGAN fig. 3): (rows + 1) * (cols + 1) images,
    row-major; cell (i, j) has row source i's coarse styles (up to 8 px) and column source j's fine ones."""
    if not (1 <= rows <= 32 and 1 <= cols <= 32):
        raise GankitError(f"--mix {rows},{cols}: rows and columns between 1 and 32")
    run = load_run(path, device)
    if not hasattr(run.game, "mixing_grid"):
        raise GankitError(f"--mix: {str(path)!r} is a {run.cfg.game.name!r} run; style mixing needs the "
                          f"style-based generator (game stylegan)")
    return run.game.mixing_grid(rows, cols, seed, run.players, psi=truncation)


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
                 ema: bool = True, truncation: float | Sequence[float] | None = None,
                 temperature: float | Sequence[float] | str | None = None):
    """Score a run (its EMA players if it has them): ``n`` samples (default 5,000, or the protocol's
    count when the ``modes`` metric is scored) of a noise-driven game against its dataset; a translation
    game's outputs for the held-out inputs against their targets. With Jacobian-based truncation
    (``jacobian_keep`` < 1, default the run's ``sample.jacobian_keep``) the scores carry a note saying so.
    ``ema=False`` scores the live players even where the run kept averaged copies.

    ``truncation`` (style-based runs): the psi of the truncation trick the samples are drawn at (1: off),
    or a sequence of psis, a **truncation sweep**: the same samples' latents scored at every psi (metrics
    default ``fid`` and ``pr``), each score reported once per psi as ``precision[classifier:mnist] @psi=0.5``
    (``result.sweep``: the scores by psi). ``ppl`` measures its paths at the psi too.

    ``temperature`` (sequence runs): the sampling temperature (default the run's ``game.temperature``), or
    a sequence of them, a **temperature sweep**: every sample-based score once per temperature, as
    ``self_bleu @T=0.7`` (Caccia et al. 2020: compare sequence models across temperatures, not at one)."""
    import numbers

    from .metrics.evaluate import SWEEP_METRICS, check_psi, evaluate_game, merge_sweep, parse_psis

    if isinstance(truncation, str):  # "0.5,0.7,1.0", as the command line takes it
        truncation = parse_psis(truncation)
    sweep = truncation is not None and not isinstance(truncation, numbers.Real)
    flag = "--truncation-sweep" if sweep else "--truncation"
    psis = ([check_psi(p, flag) for p in dict.fromkeys(truncation)] if sweep
            else None if truncation is None else [check_psi(truncation, flag)])
    if sweep and not psis:
        raise GankitError(f"{flag}: give at least one psi, e.g. 0.5,0.7,1.0")
    if temperature is not None:
        return _evaluate_temperatures(path, metrics, n, seed, device, ema, temperature, psis)
    run = load_run(path, device, ema=ema)
    keep = run.cfg.sample.jacobian_keep if jacobian_keep is None else jacobian_keep
    if run.game.kind != "noise":
        keep = 1.0
    if psis is not None:  # before anything is drawn, extracted or trained
        if not hasattr(run.game, "mixing_grid"):
            raise GankitError(f"{flag}: {str(path)!r} is a {run.cfg.game.name!r} run; truncation pulls w toward "
                              f"the average w of a style-based generator (game stylegan)")
        if jacobian_keep is not None and jacobian_keep < 1:
            raise GankitError(f"{flag} and --jacobian-keep are two truncations; give one")
        keep = 1.0  # (the run's own sample.jacobian_keep gives way to the psi asked for)
    if not sweep:
        res, _ = evaluate_game(run.game, run.players, run.cfg, metrics, n, seed=seed, extractor_spec=extractor,
                               device=device, inception_weights=inception_weights, keep=keep,
                               directions=run.cfg.sample.jacobian_directions,
                               psi=None if psis is None else psis[0])
        if psis and psis[0] != 1:
            res.notes.append(f"samples drawn with the truncation trick, psi = {psis[0]:g} (w pulled toward the "
                             f"average w): scores of truncated samples, not of the generator's distribution")
        return res
    results, ext = [], None
    for psi in psis:  # one extractor (and its cached reference) for every psi
        res, ext = evaluate_game(run.game, run.players, run.cfg, list(metrics or SWEEP_METRICS), n, seed=seed,
                                 extractor=ext, extractor_spec=extractor, device=device,
                                 inception_weights=inception_weights, directions=run.cfg.sample.jacobian_directions,
                                 psi=psi)
        results.append((psi, res))
    merged = merge_sweep(results)
    merged.notes.append(f"truncation sweep: a score '@psi=X' is from the latents of seed {seed} with w pulled toward "
                        f"the average w by X ({', '.join(f'{p:g}' for p in psis)}; 1: none)")
    return merged


def _evaluate_temperatures(path, metrics, n, seed, device, ema, temperature, psis):
    """:func:`evaluate_run` of a sequence run at one temperature or a sweep of them."""
    import numbers

    from .games.sequence import check_temperature
    from .metrics.evaluate import TEMPERATURE_FREE, evaluate_game, merge_sweep

    if isinstance(temperature, str):
        try:
            temperature = [float(t) for t in temperature.split(",") if t.strip()]
        except ValueError:
            raise GankitError(f"--temperature {temperature!r}: give numbers, e.g. 0.7 or 0.7,1.0") from None
    temps = [temperature] if isinstance(temperature, numbers.Real) else list(dict.fromkeys(temperature))
    if not temps:
        raise GankitError("--temperature: give at least one temperature, e.g. 0.7,1.0")
    temps = [check_temperature(t) for t in temps]
    if psis is not None:
        raise GankitError("--temperature applies to sequence runs and --truncation to style-based ones; give one")
    run = load_run(path, device, ema=ema)
    if run.game.kind != "sequence":
        raise GankitError(f"--temperature: {str(path)!r} is a {run.cfg.game.name!r} run; the sampling temperature is "
                          f"a setting of sequence runs")
    results = [(t, evaluate_game(run.game, run.players, run.cfg, metrics, n, seed=seed, device=device,
                                 temperature=t)[0]) for t in temps]
    if len(results) == 1:
        return results[0][1]
    merged = merge_sweep(results, suffix=lambda t: f" @T={t:g}", once=TEMPERATURE_FREE)
    merged.notes = [note for note in merged.notes if not note.startswith("samples drawn at temperature")]
    merged.notes.append(f"temperature sweep: a score '@T=X' is from samples of seed {seed} drawn at temperature X "
                        f"({', '.join(f'{t:g}' for t in temps)}; 1: the model's own distribution)")
    return merged


def load_images(path: str | Path, resolution: int | None = None, channels: int | None = None,
                value_range: str = "auto", background: str = "white"):
    """A folder of images or a .npz/.npy file as ImageData; size and channels default to the first image's.

    ``value_range`` says what range an array file's values lie in (``unit``, ``signed``, ``8bit`` or
    ``16bit``; ``auto``: detected from its dtype and values, refusing when ambiguous, as ``data.range``
    does); ``background`` (``white`` or ``black``) is what transparent pixels of image files are
    composited onto, as ``data.background``."""
    from .config import DataConfig
    from .data import ImageData, fit_images, load_data
    from .errors import DataError

    p = Path(path).expanduser()
    if p.is_dir():
        if resolution is None or channels is None:
            from PIL import Image

            from .data.sources import IMAGE_EXTENSIONS
            first = None
            for f in sorted(p.rglob("*")):  # the first image that opens sets the size and channels
                if f.suffix.lower() in IMAGE_EXTENSIONS:
                    try:
                        with Image.open(f) as im:
                            first = (min(im.size), 1 if im.mode in _GREY_MODES else 3)
                        break
                    except OSError:
                        continue
            if first is None:
                raise DataError(f"no images under {str(p)!r} (none that can be read)")
            resolution, channels = resolution or first[0], channels or first[1]
        return load_data(DataConfig(name="folder", path=str(p), resolution=resolution, channels=channels,
                                    background=background))
    if p.suffix.lower() in (".npz", ".npy") and p.is_file():
        from .data.sources import read_image_array

        x, labels = read_image_array(str(p), value_range, setting="value_range")
        x = fit_images(torch.from_numpy(x), resolution or x.shape[2], channels or x.shape[1])
        return ImageData(p.name, x, None if labels is None else torch.from_numpy(labels.astype("int64")))
    raise DataError(f"{str(p)!r} is neither a folder of images nor an existing .npz/.npy file")


#: PIL modes of greyscale images (with or without alpha; 1-, 8-, 16-bit, integer and float)
_GREY_MODES = ("1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F")
