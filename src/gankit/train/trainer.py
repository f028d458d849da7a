"""The one training loop. It schedules the phases a game declares, steps the optimizers of the players
each phase updates, reports scalars, draws pictures from the game's fixed preview inputs, and writes
atomic checkpoints from which a run resumes bit-exactly. It knows games only through the protocol of
games/base.py: nothing model-specific lives here.
"""
from __future__ import annotations

import contextlib
import inspect
import math
import os
import random
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from .. import __version__
from ..config import Config, OptimConfig
from ..data import StreamSampler, load_data, load_heldout
from ..errors import CheckpointError, ConfigError, GankitError, Interrupted, TrainingDiverged
from ..games import GAMES, DataInfo
from ..utils.images import make_grid, save_image_grid
from ..utils.cores import available_cores, fair_share, register, unregister
from ..utils.malloc import tune_malloc
from . import distributed as ddp
from .ema import EMA, recompute_batchnorm_stats
from .checkpoint import FORMAT_VERSION, mismatch_message, rng_state, save_checkpoint, set_rng_state
from .stats import Collector, MetricsWriter


from torch.nn.parallel import DistributedDataParallel  # noqa: E402

_DDP_ARGS = inspect.signature(DistributedDataParallel.__init__).parameters


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"train.device: {name!r} is not a device (auto, cpu, cuda, cuda:N)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"train.device: {name!r} requested but CUDA is not available on this machine")
    return dev


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def resolve_precision(name: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of ``train.precision`` on ``device`` (None: plain float32)."""
    if name == "auto":
        return torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else None
    if name == "fp32":
        return None
    if name == "fp16" and device.type != "cuda":
        raise ConfigError(f"train.precision: 'fp16' needs a CUDA device, not {device.type}; "
                          f"use fp32 (or bf16) on the CPU")
    if name == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ConfigError("train.precision: this GPU does not support bf16; use fp16 or fp32")
    return torch.bfloat16 if name == "bf16" else torch.float16


def build_optimizer(params, cfg: OptimConfig, device: torch.device) -> torch.optim.Optimizer:
    if cfg.name == "rmsprop":  # WGAN's choice
        return torch.optim.RMSprop(params, lr=cfg.lr, alpha=cfg.alpha, eps=cfg.eps,
                                   weight_decay=cfg.weight_decay, foreach=True)
    # The fused kernels are the fastest Adam on both CPU and CUDA (one kernel for all parameters).
    return torch.optim.Adam(params, lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.eps,
                            weight_decay=cfg.weight_decay, fused=device.type in ("cpu", "cuda"))


class Trainer:
    def __init__(self, cfg: Config, run_dir: str | Path, resume_state: dict[str, Any] | None = None,
                 data=None):
        self.cfg = cfg
        t = cfg.train
        self.run_dir = Path(run_dir)
        self.dist = ddp.dist_info()
        self.device = ddp.process_device(resolve_device(t.device), self.dist)
        ddp.init_distributed(self.device)
        self.is_main = self.dist.is_main
        self._lock = None
        if t.malloc_tuning and self.device.type == "cpu":
            tune_malloc()
        # torch's thread count while fit() runs (0: leave it); the caller's count comes back afterwards.
        # Under DDP the processes on one machine share its cores.
        self._threads = (t.threads or (max(1, available_cores() // self.dist.local_world_size)
                                       if self.dist.enabled and self.device.type == "cpu" else 0))
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        self.amp_dtype = resolve_precision(t.precision, self.device)
        if t.sync_batchnorm and self.dist.enabled and self.device.type != "cuda":
            raise ConfigError("train.sync_batchnorm: PyTorch's SyncBatchNorm runs on CUDA only; on the CPU each "
                              "process normalises with its own batch (leave it off)")
        seed_everything(cfg.seed)

        data = data if data is not None else load_data(cfg.data)
        self._data_cpu = data
        # Small image sets live on the accelerator whole: a batch is one index_select.
        self.data = data.to(self.device) if self.device.type == "cuda" else data
        self.game = GAMES.get(cfg.game.name, key="game.name")(cfg, DataInfo.of(data))
        self.players: dict[str, nn.Module] = self.game.players
        self._check_optim_keys()
        if t.batch_size < 2:
            with_bn = [n for n in self.game.optimized
                       if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in self.players[n].modules())]
            if with_bn:
                key = f"model.{with_bn[0].lower()}.norm"
                hint = f" (e.g. --set {key}=none)" if hasattr(getattr(cfg.model, with_bn[0].lower(), None), "norm") else ""
                raise ConfigError(f"train.batch_size={t.batch_size}: {with_bn[0]} has BatchNorm, which needs at least "
                                  f"2 samples per batch; raise train.batch_size or choose another norm{hint}")
        for m in self.players.values():
            m.to(self.device, memory_format=torch.channels_last) if t.channels_last else m.to(self.device)
        if self.dist.enabled and t.sync_batchnorm:
            for m in self.players.values():
                nn.SyncBatchNorm.convert_sync_batchnorm(m)  # replaces the BatchNorm children in place
        self._wrapped: dict[Any, nn.Module] = {}
        if self.dist.enabled or t.compile:
            self.game.wrap_players(self._wrap)  # DDP's constructor makes every rank start from rank 0's weights
        self.optim_settings = {name: cfg.optim.resolve(name) for name in self.game.optimized}  # what each player runs with
        self.optimizers = {name: build_optimizer(self.players[name].parameters(), o, self.device)
                           for name, o in self.optim_settings.items()}
        self.scalers = self._phase_scalers() if self.amp_dtype == torch.float16 else {}
        self.game.grad_scalers = self.scalers
        self.ema = ({name: EMA(self.players[name], t.ema_decay) for name in self.game.averaged}
                    if t.ema_decay > 0 else {})
        if self.dist.rank:  # each process draws its own noise (rank 0 keeps the single-process stream)
            seed_everything(cfg.seed + 104_729 * self.dist.rank)
        self.sampler = StreamSampler(data.streams, t.batch_size, cfg.seed, self.dist.rank, self.dist.world_size)
        # the progress grids' fixed inputs: noise, or held-out input images for a translation game
        heldout = load_heldout(cfg.data) if self.game.kind == "translation" else None
        self.preview = self.game.preview_inputs(data, heldout, t.grid_size, torch.Generator().manual_seed(cfg.seed))
        self._bn_stats_step: int | None = None  # the step whose EMA weights the BatchNorm statistics fit
        self.step = 0
        self.images_seen = 0
        self._seconds_before = 0.0  # training time of earlier sessions of this run
        self._cpu_before = 0.0      # and their CPU time (all threads of the process)
        self._session_start: float | None = None
        self._session_cpu_start = 0.0
        self.last_checkpoint: Path | None = None
        self.best: dict[str, Any] = {}  # {"metric", "value", "step"} of checkpoints/best.pt
        self._extractor = None
        if cfg.eval.every:  # a metric that cannot apply here stops now, not after the first eval.every steps
            from ..metrics.evaluate import applicable_metrics, parse_metrics

            from ..metrics.evaluate import check_sample_count, needs_extractor
            from ..metrics.extractors import choose_spec

            applicable_metrics(parse_metrics(list(cfg.eval.metrics)), True, self._data_cpu, cfg.data)
            check_sample_count(list(cfg.eval.metrics), cfg.eval.n)
            if self.game.kind == "noise" and needs_extractor(list(cfg.eval.metrics), cfg.data):
                choose_spec(cfg.eval.extractor, cfg.data, cfg.eval.inception_weights)
            self._best_key(None)
        self.resumed = resume_state is not None
        if resume_state is not None:
            self._load_state(resume_state)
        self._stop_requested = False
        refused = None
        if self.is_main:  # one training process per run directory (utils/runlock.py), once all is checked
            from ..utils.runlock import RunLock

            self.run_dir.mkdir(parents=True, exist_ok=True)
            try:
                self._lock = RunLock(self.run_dir).acquire()
            except GankitError as e:
                refused = str(e)
            else:
                self._remove_torn_writes()
        refused = ddp.broadcast_object(refused, self.dist)  # under torchrun every rank stops, not rank 0 alone
        if refused is not None:
            raise GankitError(refused)

    def _remove_torn_writes(self) -> None:
        """Temp files of checkpoint writes that a killed process left behind (``.last.pt.*.tmp``,
        ``step-N.pt.tmp``): never a checkpoint, safe to delete once this process holds the run's lock."""
        folder = self.run_dir / "checkpoints"
        torn = [*folder.glob(".*.tmp"), *folder.glob("*.pt.tmp")] if folder.is_dir() else []
        for f in [*torn, *self.run_dir.glob(".metrics.jsonl.*.tmp")]:  # (and a killed metrics rewrite's)
            try:
                f.unlink()
            except OSError:
                pass

    def _wrap(self, name: str, module: nn.Module, trainable: bool) -> nn.Module:
        """What a game's training forward of ``module`` goes through: DDP (trainable players, several
        processes) and/or torch.compile. One DDP wrapper per player; D's frozen forward in the G phase
        needs no gradient synchronisation and skips it."""
        m = module
        if trainable and self.dist.enabled:
            if name not in self._wrapped:

                # No buffer sync before each forward: BatchNorm's running statistics stay per process
                # (a broadcast would also overwrite buffers autograd still needs when D sees real and
                # fake batches in two forwards); rank 0's are the ones saved.
                no_sync = ({"forward_sync_buffers": False} if "forward_sync_buffers" in _DDP_ARGS
                           else {"broadcast_buffers": False})
                self._wrapped[name] = DistributedDataParallel(
                    module, device_ids=[self.device.index] if self.device.type == "cuda" else None, **no_sync)
            m = self._wrapped[name]
        if self.cfg.train.compile:
            key = (name, trainable)
            if key not in self._wrapped:
                self._wrapped[key] = torch.compile(m)
            m = self._wrapped[key]
        return m

    def _phase_scalers(self) -> dict[str, Any]:
        """fp16: one GradScaler per phase, shared by the players the phase updates (one loss scales all
        their gradients), keyed by player."""
        scalers: dict[str, Any] = {}
        for phase in self.game.phases():
            shared = next((scalers[p] for p in phase.players if p in scalers), None) or torch.amp.GradScaler("cuda")
            scalers.update({p: shared for p in phase.players})
        return scalers

    def _check_optim_keys(self) -> None:
        import difflib

        names = {p.lower(): p for p in self.game.optimized}
        for key in self.cfg.optim.players:
            if key not in names:
                close = difflib.get_close_matches(key, list(names), n=1)
                hint = f" (did you mean optim.{close[0]}?)" if close else ""
                raise ConfigError(f"optim.{key}: game {self.cfg.game.name!r} has no optimized player {key!r}{hint}; "
                                  f"its players: {', '.join(names)} (optim.default applies to all)")

    def lr_factor(self, step: int, seconds: float = 0.0, ramp_down: float | None = None) -> float:
        """A player's ``optim.<player>.ramp_down`` = r: 1 until the last fraction r of the run, then
        falling linearly to 0. The run's budget is train.steps and, when set, train.max_seconds
        (``seconds`` spent of it, on the run's clock); whichever is closer to running out sets the
        fraction left. ``ramp_down`` None: optim.default's."""
        t = self.cfg.train
        r = self.cfg.optim.default.ramp_down if ramp_down is None else ramp_down
        if r <= 0:
            return 1.0
        f = (t.steps - step) / (r * t.steps)
        if t.max_seconds > 0:
            f = min(f, (t.max_seconds - seconds) / (r * t.max_seconds))
        return max(0.0, min(1.0, f))

    def _budget_seconds(self) -> float:
        return self.cpu_seconds if self.cfg.train.clock == "cpu" else self.train_seconds

    def _ramp_down_lr(self) -> None:
        # a function of the step (and of the time spent, which checkpoints keep), so resuming restores it;
        # under DDP the time is the ranks' maximum, agreed on at each check, so every rank uses the same lr
        seconds = 0.0
        if self.cfg.train.max_seconds > 0:
            seconds = self._ramp_seconds if self.dist.enabled else self._budget_seconds()
        for name, opt in self.optimizers.items():
            o = self.optim_settings[name]
            f = self.lr_factor(self.step, seconds, o.ramp_down) * self.game.lr_scale(name)
            for group in opt.param_groups:
                group["lr"] = o.lr * f

    def _apply_optim_settings(self, name: str, opt: torch.optim.Optimizer) -> None:
        """Put player ``name``'s configured hyperparameters into its (restored) optimizer, so that a
        run resumed with ``--set optim.d.lr=...`` trains with what it says."""
        o = self.optim_settings[name]
        keys = {"lr": o.lr, "eps": o.eps, "weight_decay": o.weight_decay,
                **({"betas": tuple(o.betas)} if o.name == "adam" else {"alpha": o.alpha})}
        for group in opt.param_groups:
            group.update({k: v for k, v in keys.items() if k in group})

    @property
    def _ramps(self) -> bool:
        return any(o.ramp_down > 0 for o in self.optim_settings.values())

    # -- state ------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "gankit_version": __version__,
            "config": self.cfg.to_dict(),
            "step": self.step,
            "images_seen": self.images_seen,
            "train_seconds": self.train_seconds,
            "cpu_seconds": self.cpu_seconds,
            "players": {k: m.state_dict() for k, m in self.players.items()},
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "ema": {k: e.state_dict() for k, e in self.ema.items()},
            "sampler": self.sampler.state_dict(),
            "best": dict(self.best),
            "game": self.game.state_dict(),
            "scalers": {k: sc.state_dict() for k, sc in self.scalers.items()},
            "rng": rng_state(),
        }

    def _full_state(self) -> dict[str, Any]:
        """state_dict plus every rank's random state (a collective: all ranks call it together)."""
        state = self.state_dict()
        if self.dist.enabled:
            state["rng_ranks"] = ddp.gather_objects(state["rng"], self.dist)
            state["game_ranks"] = ddp.gather_objects(state["game"], self.dist)  # e.g. CycleGAN's per-process pools
        return state

    def _load_state(self, state: dict[str, Any]) -> None:
        from ..config import from_dict

        before = from_dict(state["config"]).optim
        for k in self.optimizers:
            old, new = before.resolve(k).name, self.cfg.optim.resolve(k).name
            if old != new:
                raise ConfigError(f"optim.{k.lower()}.name: the run trained player {k} with {old}; a resumed run keeps "
                                  f"its optimizer (its state does not fit {new}); start a new run to change it")
        try:
            for k, m in self.players.items():
                m.load_state_dict(state["players"][k])
            for k, o in self.optimizers.items():
                o.load_state_dict(state["optimizers"][k])
                self._apply_optim_settings(k, o)  # the settings of this session, as config.yaml records them
            for k, e in self.ema.items():
                # a run that turns EMA on when resumed starts the average from the current weights
                e.load_state_dict(state.get("ema", {}).get(k) or self.players[k].state_dict())
        except (KeyError, RuntimeError, ValueError) as e:
            why = mismatch_message(e, state["config"], self.cfg.to_dict())
            raise CheckpointError(f"the checkpoint does not match the model its config builds: {why}") from None
        self.sampler.load_state_dict(state["sampler"])
        self.best = dict(state.get("best", {}))
        games = state.get("game_ranks") or [state.get("game", {})]
        self.game.load_state_dict(games[self.dist.rank] if len(games) == self.dist.world_size else games[0])
        for k, sc in self.scalers.items():
            if k in state.get("scalers", {}):
                sc.load_state_dict(state["scalers"][k])
        self.step = int(state["step"])
        self.images_seen = int(state["images_seen"])
        self._seconds_before = float(state.get("train_seconds", 0.0))
        self._cpu_before = float(state.get("cpu_seconds", 0.0))
        ranks = state.get("rng_ranks") or [state["rng"]]
        if len(ranks) == self.dist.world_size:
            set_rng_state(ranks[self.dist.rank])
        else:  # another number of processes: exact continuation is impossible, fresh streams per rank
            import warnings
            warnings.warn(f"the checkpoint was written by {len(ranks)} process(es), this run has "
                          f"{self.dist.world_size}: training continues, but not bit-exactly")
            seed_everything(self.cfg.seed + 104_729 * self.dist.rank + 1_000_003 * self.step)

    @property
    def train_seconds(self) -> float:
        running = time.perf_counter() - self._session_start if self._session_start is not None else 0.0
        return self._seconds_before + running

    @property
    def cpu_seconds(self) -> float:
        running = time.process_time() - self._session_cpu_start if self._session_start is not None else 0.0
        return self._cpu_before + running

    def _budget_spent(self) -> bool:
        t = self.cfg.train
        if t.max_seconds <= 0:
            return False
        return self._budget_seconds() >= t.max_seconds

    def save(self, periodic: bool = False) -> Path:
        """Write last.pt (and step-N.pt); under DDP every rank calls it and rank 0 writes."""
        bad = [f"{name}.{pname}" for name, m in self.players.items() for pname, p in m.named_parameters()
               if not torch.isfinite(p).all()]
        if bad:
            raise TrainingDiverged(f"non-finite weights in {bad[0]} at step {self.step}; not saving "
                                   f"over the last good checkpoint")
        ckpt_dir = self.run_dir / "checkpoints"
        state = self._full_state()
        last = ckpt_dir / "last.pt"
        try:
            if self.is_main:
                self._write(state, last, ckpt_dir, periodic)
        finally:
            self._written()
        self.last_checkpoint = last
        return last

    def _write(self, state: dict[str, Any], last: Path, ckpt_dir: Path, periodic: bool) -> Path:
        save_checkpoint(state, last)
        if periodic:
            keep = ckpt_dir / f"step-{self.step:07d}.pt"
            tmp = keep.with_name(keep.name + ".tmp")
            try:  # last.pt is replaced by rename next time, so a hard link is a stable copy
                os.link(last, tmp)
            except OSError:
                save_checkpoint(state, tmp)
            os.replace(tmp, keep)
            self._apply_retention(ckpt_dir)
        return last

    def _written(self) -> None:
        """Under DDP, no rank leaves a save before rank 0's file is on disk."""
        if self.dist.enabled:
            torch.distributed.barrier()

    def _apply_retention(self, ckpt_dir: Path) -> None:
        k = self.cfg.train.keep_checkpoints
        if k < 0:
            return
        periodic = sorted(ckpt_dir.glob("step-*.pt"))
        for old in periodic[: max(0, len(periodic) - k)]:
            old.unlink(missing_ok=True)

    # -- pictures -----------------------------------------------------------------------------
    def sampling_players(self) -> dict[str, nn.Module]:
        """The players pictures and evaluation draw with: the EMA copies when ``train.ema_decay`` > 0,
        their BatchNorm statistics re-estimated for the averaged weights (``train.ema_bn_stats``)."""
        if self.cfg.train.ema_bn_stats == "recompute" and self.ema and self._bn_stats_step != self.step:
            for name, e in self.ema.items():
                recompute_batchnorm_stats(e.module, lambda n, g, name=name: self.game.bn_inputs(name, n, g),
                                          self.cfg.train.batch_size)
            self._bn_stats_step = self.step
        return {name: e.module for name, e in self.ema.items()}

    def sample_grid(self, name: str, writer: MetricsWriter | None = None) -> Path:
        """The preview of the fixed inputs: ``samples/<name>.png``, or ``samples/<name>.txt`` for a game
        whose outputs are text (``game.preview_text``)."""
        text = self.game.preview_text(self.preview, self.sampling_players())
        if text is not None:
            path = self.run_dir / "samples" / f"{name}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
            return path
        images, nrow = self.game.picture(self.preview, self.sampling_players())
        ref = self._data_cpu  # 2-D points are drawn over its true modes
        path = save_image_grid(images, self.run_dir / "samples" / f"{name}.png", nrow=nrow, reference=ref)
        if writer is not None:
            writer.image("samples", make_grid(images, nrow=nrow, reference=ref), self.step)
        return path

    # -- evaluation during training --------------------------------------------------------------
    def evaluate(self) -> dict[str, float]:
        """Score ``eval.n`` outputs through the path of ``gankit eval --n eval.n --extractor eval.extractor
        --jacobian-keep 1`` (the same inputs from seed 0, the EMA players if any); never touches the
        training RNG."""
        from ..metrics.evaluate import evaluate_game

        e = self.cfg.eval
        res, self._extractor = evaluate_game(self.game, self.sampling_players(), self.cfg, list(e.metrics), e.n,
                                             seed=0, extractor=self._extractor, extractor_spec=e.extractor,
                                             device=self.device,
                                             inception_weights=e.inception_weights, train=self._data_cpu)
        return res.scores

    def _best_key(self, scores: dict[str, float] | None) -> str | None:
        """The score that best.pt follows (eval.best; auto: the first score of the first metric)."""
        from ..metrics.registry import METRICS, score_direction

        want = self.cfg.eval.best
        if want == "none":
            return None
        if scores is None:  # at start: check that one of eval.metrics reports it
            known = {b for m in self.cfg.eval.metrics for b in METRICS.get(m).better}
            if want != "auto" and want.split("[", 1)[0].rsplit("/", 1)[-1] not in known:
                raise ConfigError(f"eval.best: {want!r} is not a score of eval.metrics "
                                  f"({', '.join(self.cfg.eval.metrics)}); one of auto, none, {', '.join(sorted(known))}")
            return None
        if want == "auto":
            return next((k for k in scores if score_direction(k) is not None and "floor" not in k
                         and "_std" not in k), None)
        return next((k for k in scores if k == want or k.split("[", 1)[0] == want), None)

    def _evaluate_and_keep_best(self, writer: MetricsWriter) -> None:
        from ..metrics.registry import score_direction

        scores = self.evaluate()
        writer.scalars(self.step, {f"eval/{k}": v for k, v in scores.items()})
        key = self._best_key(scores)
        if key is None:
            return
        higher = score_direction(key)
        if self.best and self.best.get("metric") == key:
            old = self.best["value"]
            if (scores[key] <= old) if higher else (scores[key] >= old):
                return
        self.best = {"metric": key, "value": scores[key], "step": self.step}
        save_checkpoint(self.state_dict(), self.run_dir / "checkpoints" / "best.pt")

    def release(self) -> None:
        """Give up the run directory (fit does at its end; a Trainer that never fits, when collected)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __del__(self):
        if getattr(self, "_lock", None) is not None:
            self._lock.release()

    # -- the loop -----------------------------------------------------------------------------
    def fit(self) -> dict[str, Any]:
        cfg, t = self.cfg, self.cfg.train
        main = self.is_main
        if main:
            (self.run_dir / "config.yaml").write_text(cfg.to_yaml())
        writer = (MetricsWriter(self.run_dir, t.tensorboard, resume_step=self.step if self.resumed or self.step else None)
                  if main else None)
        collector = Collector()
        phases = self.game.phases()
        every = {p.every for p in phases}
        ramps = self._ramps or self.game.scales_lr
        check_every_step = self.device.type == "cpu"  # on CPU the check costs no synchronisation
        autocast = (torch.autocast(self.device.type, dtype=self.amp_dtype) if self.amp_dtype is not None
                    else contextlib.nullcontext())
        restore = self._install_signal_handlers()
        threads_outside = torch.get_num_threads()
        if self.device.type == "cpu" and os.environ.get("GANKIT_SHARE_CORES", "1") != "0":
            register()  # the other gankit trainers on this machine share the cores too
            try:
                if not t.threads and not self.dist.enabled:
                    share, trainers = fair_share()
                    if trainers > 1 and share < available_cores():
                        self._threads = share
                        import warnings
                        warnings.warn(f"{trainers} gankit training processes share this machine: this one uses "
                                      f"{share} of its {available_cores()} cores (set train.threads to choose)")
            except BaseException:  # (e.g. warnings turned into errors): leave nothing held
                unregister()
                restore()
                raise
        if self._threads:
            torch.set_num_threads(self._threads)
        from tqdm.auto import tqdm

        bar = tqdm(total=t.steps, initial=self.step, unit="step", disable=not (t.progress and main),
                   dynamic_ncols=True, desc=f"{cfg.data.name} {cfg.game.name}", file=sys.stderr)
        images_start = self.images_seen
        self._session_cpu_start = time.process_time()
        # the time spent when this session starts, the same on every rank (from the checkpoint)
        self._ramp_seconds = self._cpu_before if t.clock == "cpu" else self._seconds_before
        t_start = self._session_start = time.perf_counter()
        w_images, w_time = self.images_seen, t_start
        final = None
        try:
            if not self.resumed and t.sample_every and main:
                self.sample_grid(f"step-{0:07d}", writer)
            last_step = False
            while not last_step and self.step < t.steps:
                if ramps:
                    self._ramp_down_lr()
                now_phases = phases if every == {1} else [p for p in phases if self.step % p.every == 0]
                real_per_step = t.batch_size * sum(p.data for p in now_phases) * self.dist.world_size  # global
                for i, phase in enumerate(now_phases):
                    for name in phase.players:
                        self.optimizers[name].zero_grad(set_to_none=True)
                    batch = self._batch() if phase.data else None
                    with autocast:
                        stats = self.game.run_phase(phase, batch, now_phases[i + 1] if i + 1 < len(now_phases) else None)
                    for name in phase.players:
                        scaler = self.scalers.get(name)
                        if scaler is not None:
                            scaler.step(self.optimizers[name])
                        else:
                            self.optimizers[name].step()
                    for scaler in {id(s): s for p in phase.players if (s := self.scalers.get(p))}.values():
                        scaler.update()
                    self.game.after_step(phase)
                    for name in phase.players:
                        if name in self.ema:
                            self.ema[name].update(self.players[name], self.step)
                    for k, v in stats.items():
                        collector.report(k, v)
                self.step += 1
                self.images_seen += real_per_step
                # Decisions every rank must take together: stop (Ctrl-C, time budget) and divergence.
                check = check_every_step or self.step % t.log_every == 0 or self.step == t.steps
                stop, budget, bad = self._stop_requested, False, False
                if check or not self.dist.enabled:
                    budget = self._budget_spent()
                if check:
                    bad = bool(collector.nonfinite())
                    if self.dist.enabled:
                        *flags, self._ramp_seconds = ddp.max_over_ranks(
                            [stop, budget, bad, self._budget_seconds()], self.dist, self.device)
                        stop, budget, bad = (f > 0 for f in flags)
                elif self.dist.enabled:
                    stop = False  # agreed on at the next check
                if bad:
                    self._check_finite(collector, other_rank=True)
                last_step = self.step == t.steps or budget
                if self.step % t.log_every == 0 or last_step:
                    now = time.perf_counter()
                    rate = (self.images_seen - w_images) / max(now - w_time, 1e-9)
                    values = ddp.mean_over_ranks(collector.flush(), self.dist, self.device)
                    values.update({"kimg": self.images_seen / 1000, "img_per_s": rate})
                    if main:
                        writer.scalars(self.step, values)
                        bar.set_postfix_str(_postfix(values), refresh=False)
                        bar.update(self.step - bar.n)
                    w_images, w_time = self.images_seen, now
                if main and t.sample_every and self.step % t.sample_every == 0 and not last_step:
                    self.sample_grid(f"step-{self.step:07d}", writer)
                if main and cfg.eval.every and (self.step % cfg.eval.every == 0 or last_step):
                    self._evaluate_and_keep_best(writer)
                if t.checkpoint_every and self.step % t.checkpoint_every == 0 and not last_step:
                    self.save(periodic=True)
                if stop and not last_step:
                    path = self.save()
                    raise Interrupted(self.step, path)
            self.save(periodic=bool(t.checkpoint_every) and self.step % t.checkpoint_every == 0)
            if main:
                final = self.sample_grid("final", writer)
        finally:
            self._seconds_before, self._cpu_before = self.train_seconds, self.cpu_seconds
            self._session_start = None
            restore()
            if self._threads:  # an API caller keeps its own thread count
                torch.set_num_threads(threads_outside)
            unregister()  # (a process counts among the machine's trainers only while it trains)
            bar.close()
            if writer is not None:
                writer.close()
            self.release()
        session = time.perf_counter() - t_start
        return {"run_dir": str(self.run_dir), "steps": self.step, "images_seen": self.images_seen,
                "seconds": session, "img_per_s": (self.images_seen - images_start) / max(session, 1e-9),
                "processes": self.dist.world_size, "batch_per_process": t.batch_size,
                "train_seconds": self._seconds_before, "cpu_seconds": self._cpu_before,
                "final_grid": str(final) if final is not None else None,
                "checkpoint": str(self.last_checkpoint)}

    def _batch(self) -> dict[str, torch.Tensor]:
        batch = self.data.take(self.sampler.next())
        if self.cfg.train.channels_last:
            batch = {k: v.contiguous(memory_format=torch.channels_last) if v.dim() == 4 else v
                     for k, v in batch.items()}
        return batch

    def _check_finite(self, collector: Collector, other_rank: bool = False) -> None:
        bad = collector.nonfinite() or (["a loss on another process"] if other_rank else [])
        if bad:
            kept = (f"the last good checkpoint ({self.last_checkpoint}) is untouched" if self.last_checkpoint
                    else "no checkpoint had been written yet")
            raise TrainingDiverged(f"training diverged: {', '.join(bad)} became NaN or infinite by step {self.step}; "
                                   f"{kept}. Try a lower learning rate.")

    def _install_signal_handlers(self):
        if threading.current_thread() is not threading.main_thread():
            return lambda: None

        def handler(signum, frame):
            if self._stop_requested:  # second Ctrl-C: abort at once, last checkpoint stays as it was
                raise KeyboardInterrupt
            self._stop_requested = True
            print(f"\n{signal.Signals(signum).name}: saving a checkpoint after this step "
                  f"(press Ctrl-C again to abort without saving)", file=sys.stderr, flush=True)

        old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
        return lambda: [signal.signal(s, h) for s, h in old.items()]


def _postfix(v: dict[str, float]) -> str:
    parts = []
    for key, value in v.items():  # every loss, and D's outputs as probabilities where the objective has them
        if (key.startswith("loss/") or key.startswith("D(")) and key.count("/") <= 1 and math.isfinite(value):
            parts.append(f"{key.removeprefix('loss/')} {value:.3f}")
    parts.append(f"{v['img_per_s']:.0f} img/s")
    return " ".join(parts)
