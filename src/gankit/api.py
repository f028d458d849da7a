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


def load_generator(path: str | Path, device: str = "cpu", ema: bool = True) -> tuple[nn.Module, Config]:
    """The generator of a run directory or checkpoint file, in eval mode, with the run's config.

    With ``ema`` (default) and a run trained with ``train.ema_decay`` > 0, the averaged weights.
    """
    state = load_checkpoint(path)
    cfg = load_config(None, base=from_dict(state["config"]))
    from .data import data_shape

    shape = data_shape(cfg.data)
    game = GAMES.get(cfg.game, key="game")(cfg, shape, None)
    try:
        weights = state.get("ema", {}).get("G") if ema else None
        game.G.load_state_dict(weights if weights is not None else state["players"]["G"])
    except (KeyError, RuntimeError) as e:
        raise CheckpointError(f"{str(path)!r}: generator weights do not match its config: "
                              f"{str(e).strip().splitlines()[0]}") from None
    G = game.G.to(resolve_device(device))
    if weights is not None and cfg.train.ema_bn_stats == "recompute":  # as the trainer's pictures did
        recompute_batchnorm_stats(G, game.generator_inputs, cfg.train.batch_size)
    return G.eval(), cfg


def _labels(cfg: Config, labels, n: int) -> torch.Tensor | None:
    """Class labels for a conditional generator: an int (every sample), a sequence/tensor of n, or None
    (balanced: sample i gets class i mod K)."""
    k = cfg.model.num_classes
    if cfg.model.g.conditioning == "none":
        if labels is not None:
            raise GankitError("this generator is unconditional; it takes no class labels")
        return None
    if labels is None:
        return torch.arange(n) % k
    y = torch.full((n,), int(labels)) if isinstance(labels, int) else torch.as_tensor(labels).long().flatten()
    if len(y) != n:
        raise GankitError(f"labels: {len(y)} labels for {n} samples")
    if len(y) and (y.min() < 0 or y.max() >= k):
        raise GankitError(f"class labels must lie in [0, {k - 1}], got {int(y.min())}..{int(y.max())}")
    return y


def sample(path: str | Path, n: int, seed: int = 0, device: str = "cpu", batch_size: int = 500,
           labels=None, jacobian_keep: float | None = None) -> torch.Tensor:
    """``n`` images in [-1, 1], (n, C, H, W) (or points (n, D)) on the CPU; the same (checkpoint, seed)
    gives the same samples. A conditional generator takes ``labels``: one class for all, or n classes
    (default: balanced, sample i of class i mod K). ``jacobian_keep`` < 1 keeps that fraction of the
    latent draws with the smallest Jacobian norm (gankit.sampling; default: the run's
    ``sample.jacobian_keep``)."""
    from .sampling import draw

    if n < 1:
        raise GankitError(f"--n must be >= 1, got {n}")
    G, cfg = load_generator(path, device)
    y = _labels(cfg, labels, n)
    keep = cfg.sample.jacobian_keep if jacobian_keep is None else jacobian_keep
    return draw(G, cfg.model.latent_dim, n, seed=seed, labels=y, num_classes=cfg.model.num_classes or None,
                keep=keep, directions=cfg.sample.jacobian_directions, batch_size=batch_size)


def class_grid(path: str | Path, columns: int = 8, seed: int = 0, device: str = "cpu") -> torch.Tensor:
    """A conditional generator's class grid: (K * columns, C, H, W), row k shows class k, and column j
    uses the same noise in every row (the style stays, the class changes)."""
    G, cfg = load_generator(path, device)
    if cfg.model.g.conditioning == "none":
        raise GankitError("--classes: this generator is unconditional")
    if columns < 1:
        raise GankitError(f"--n must be >= 1, got {columns}")
    k = cfg.model.num_classes
    z = torch.randn(columns, cfg.model.latent_dim, generator=torch.Generator().manual_seed(seed)).repeat(k, 1)
    dev = next(G.parameters()).device
    with torch.no_grad():
        return G(z.to(dev), torch.arange(k).repeat_interleave(columns).to(dev)).float().cpu()


def evaluate_run(path: str | Path, metrics=None, n: int | None = None, extractor: str = "auto", seed: int = 0,
                 device: str = "cpu", inception_weights: str | None = None, jacobian_keep: float | None = None):
    """Score ``n`` samples of a run (its EMA generator if it has one) against its dataset.

    ``n`` defaults to 5,000, or to the protocol's count when the ``modes`` metric is scored. With
    Jacobian-based truncation (``jacobian_keep`` < 1, default the run's ``sample.jacobian_keep``) the
    scores carry a note saying so."""
    from .metrics.evaluate import default_sample_count, evaluate, needs_extractor
    from .metrics.extractors import build_extractor

    _, cfg = load_generator(path)
    n = n if n is not None else default_sample_count(metrics, cfg.data)
    ext = build_extractor(extractor, cfg.data, device, inception_weights) if needs_extractor(metrics, cfg.data) else None
    keep = cfg.sample.jacobian_keep if jacobian_keep is None else jacobian_keep
    fake = sample(path, n, seed=seed, device=device, jacobian_keep=keep)  # conditional: balanced classes, i mod K
    res = evaluate(fake, cfg.data, ext, metrics, seed=seed)
    if keep < 1:
        res.notes.append(f"samples drawn with Jacobian-based truncation: the {keep:g} fraction of latent draws "
                         f"with the smallest ||dG/dz|| (sample.jacobian_keep; --jacobian-keep 1 turns it off)")
    if cfg.model.g.conditioning != "none" and (metrics is None or "fid" in metrics or "classes" in metrics):
        _conditional_scores(res, fake, cfg, ext)
    return res


def _conditional_scores(res, fake: torch.Tensor, cfg: Config, ext) -> None:
    """Class accuracy, intra-class FID and class coverage of a conditional run's balanced samples."""
    from .data import load_data
    from .metrics.conditional import conditional_scores
    from .metrics.evaluate import reference

    if ext is None or not ext.has_classes:
        res.notes.append(f"conditional scores skipped: need the dataset classifier, not {ext.name if ext else 'none'}")
        return
    train = load_data(dataclasses.replace(cfg.data, split="train"))
    if train.labels is None:
        res.notes.append("conditional scores skipped: the dataset has no labels")
        return
    ref = reference(ext, train, f"{cfg.data.name}-{cfg.data.resolution}px{cfg.data.channels}-train")
    f_fake, p_fake = res.fake_features if res.fake_features is not None else ext.extract(fake)
    k = cfg.model.num_classes
    res.scores.update(conditional_scores(f_fake, p_fake, torch.arange(len(fake)) % k, ref.features, train.labels,
                                         k, ext.name))


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
