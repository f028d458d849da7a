"""Scoring generated images against a dataset: features -> statistics -> metrics, with caching.

The reference side (the real train split's features and statistics, and the "floor": FID of the
real test split against the train split) is computed once per (dataset content, split, extractor)
and cached, so re-evaluating a run costs only the generated side.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..config import METRIC_NAMES, DataConfig
from ..data import ImageData, PointData, load_data
from ..errors import GankitError
from ..utils.cache import cache_dir
from . import functional as M
from .extractors import Extractor
from .memorization import memorization
from .stats import RunningStats

ALL_METRICS = METRIC_NAMES
PRDC_MAX = 10_000  # precision/recall/density/coverage on at most this many points per side (k-NN is O(N²))


def parse_metrics(text: str | list[str] | tuple[str, ...]) -> list[str]:
    names = [m.strip() for m in (text.split(",") if isinstance(text, str) else text) if m.strip()]
    if names == ["all"]:  # every image metric; modes (2-D mixtures, stacked MNIST) is asked for by name
        return [m for m in ALL_METRICS if m != "modes"]
    bad = [m for m in names if m not in ALL_METRICS]
    if bad or not names:
        raise GankitError(f"--metrics: unknown metric(s) {', '.join(bad) or '(none)'}; choose from "
                          f"{', '.join(ALL_METRICS)} or all")
    return names


@dataclass
class Reference:
    """Features of a real split under one extractor, with their statistics."""
    features: torch.Tensor
    probs: torch.Tensor | None
    labels: torch.Tensor | None
    mu: np.ndarray
    sigma: np.ndarray
    sqrt_sigma: np.ndarray  # √sigma, so each FID against this reference skips the eigendecomposition


def _data_hash(data: ImageData) -> str:
    h = hashlib.sha256(data.images.contiguous().cpu().numpy().tobytes())
    if data.labels is not None:
        h.update(data.labels.cpu().numpy().tobytes())
    return h.hexdigest()[:12]


def stats_of(features: torch.Tensor, batch: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    rs = RunningStats()
    for s in range(0, len(features), batch):
        rs.update(features[s:s + batch])
    return rs.mean, rs.cov


def reference(extractor: Extractor, data: ImageData, tag: str, cache: bool = True) -> Reference:
    """Features and statistics of ``data`` (cached under ``tag`` + content hash + extractor key)."""
    path = cache_dir("reference") / f"{tag}-{_data_hash(data)}-{extractor.key}.pt"
    state = None
    if cache and path.is_file():
        try:
            state = torch.load(path, weights_only=True)
        except Exception:
            state = None  # torn or stale: recompute
    if state is None:
        x = data.images
        feats, probs = extractor.extract(torch.cat([_unit(x[s:s + 1000]) for s in range(0, len(x), 1000)]))
        mu, sigma = stats_of(feats)
        state = {"features": feats, "probs": probs, "mu": torch.from_numpy(mu), "sigma": torch.from_numpy(sigma),
                 "sqrt_sigma": torch.from_numpy(M.sqrtm_psd(sigma))}  # cached: ~2 s at d = 2048
        if cache:
            from ..train.checkpoint import save_checkpoint
            save_checkpoint(state, path)
    sq = state.get("sqrt_sigma")
    return Reference(state["features"], state["probs"], data.labels, state["mu"].numpy(), state["sigma"].numpy(),
                     sq.numpy() if sq is not None else M.sqrtm_psd(state["sigma"].numpy()))


def _unit(x: torch.Tensor) -> torch.Tensor:
    return x.float().mul(2 / 255).sub(1)


@dataclass
class EvalResult:
    scores: dict[str, float] = field(default_factory=dict)
    extractor: str = ""
    info: dict = field(default_factory=dict)
    closest_pairs: tuple[torch.Tensor, torch.Tensor] | None = None  # (samples, their nearest training images)
    notes: list[str] = field(default_factory=list)
    fake_features: tuple[torch.Tensor, torch.Tensor | None] | None = field(default=None, repr=False)
    """(features, class probabilities) of the samples under the extractor, when a metric needed them."""


def evaluate(fake: torch.Tensor, data_cfg: DataConfig, extractor: Extractor, metrics=None,
             train: ImageData | None = None, heldout: ImageData | None = None, seed: int = 0,
             cache: bool = True) -> EvalResult:
    """Score ``fake`` (N, C, H, W) in [-1, 1] (or 2-D points (N, 2)) against ``data_cfg``'s train split
    (test split for the floor and memorisation). ``train``/``heldout`` may be passed in when already loaded. ``metrics=None`` means
    every metric that applies here; a metric asked for by name that cannot apply is an error. ``extractor``
    may be None when only ``modes`` is scored (always so on 2-D point data)."""
    explicit = metrics is not None
    metrics = parse_metrics(list(metrics) if explicit else list(ALL_METRICS))
    tag = f"{data_cfg.name}-{data_cfg.resolution}px{data_cfg.channels}"
    train = train if train is not None else load_data(DataConfig(**{**data_cfg.__dict__, "split": "train"}))
    metrics = applicable_metrics(metrics, explicit, train, data_cfg)
    if extractor is None and any(m != "modes" for m in metrics):
        raise GankitError(f"{', '.join(m for m in metrics if m != 'modes')}: need a feature extractor")
    needs_heldout = "memorization" in metrics or "fid" in metrics
    if heldout is None and needs_heldout:
        try:
            heldout = load_data(DataConfig(**{**data_cfg.__dict__, "split": "test"}))
        except GankitError:
            heldout = None  # folder/npz sources have no test split: no floor, no memorisation check
    ext = extractor.name if extractor is not None else ""
    res = EvalResult(extractor=ext, info=dict(extractor.info) if extractor is not None else {})
    if "modes" in metrics:
        from .modes import evaluate_modes

        scores, info, notes = evaluate_modes(fake, train)
        res.scores.update(scores)
        res.notes += notes
        if not res.extractor and info:
            res.extractor, res.info = "classifier:mnist", info
        if metrics == ["modes"]:
            return res
    if not explicit:  # the defaults: drop what cannot apply, and say so
        if not extractor.has_classes or train.labels is None:
            metrics.remove("classes")
            res.notes.append(f"classes skipped: needs labelled data and the dataset classifier, not {ext}")
        if heldout is None:
            metrics.remove("memorization")
            res.notes.append(f"memorization and the FID floor skipped: {data_cfg.name!r} has no held-out split")
    s = res.scores
    if any(m in metrics for m in ("fid", "kid", "is", "pr", "dc", "classes")):
        f_fake, p_fake = res.fake_features = extractor.extract(fake)
        ref = reference(extractor, train, f"{tag}-train", cache)
    if "fid" in metrics:
        mu, sigma = stats_of(f_fake)
        s[f"fid[{ext}]"] = M.frechet_distance(ref.mu, ref.sigma, mu, sigma, sqrt_sigma1=ref.sqrt_sigma)
        if heldout is not None:
            held = reference(extractor, heldout, f"{tag}-test", cache)
            s[f"fid_floor[{ext}]"] = M.frechet_distance(ref.mu, ref.sigma, held.mu, held.sigma,
                                                        sqrt_sigma1=ref.sqrt_sigma)
    if "kid" in metrics:
        m = min(1000, len(f_fake), len(ref.features))
        mean, std = M.kernel_inception_distance(ref.features, f_fake, subsets=100, subset_size=m, seed=seed)
        s[f"kid[{ext}]"], s[f"kid_std[{ext}]"] = mean, std
    if "is" in metrics:
        if p_fake is None:
            raise GankitError(f"is: the {ext} extractor gives no class probabilities")
        mean, std = M.inception_score(p_fake, splits=10 if len(p_fake) >= 100 else 1)
        s[f"is[{ext}]"], s[f"is_std[{ext}]"] = mean, std
    if "pr" in metrics or "dc" in metrics:
        g = torch.Generator().manual_seed(seed)
        n = min(len(f_fake), len(ref.features), PRDC_MAX)
        fr = ref.features[torch.randperm(len(ref.features), generator=g)[:n]]
        ff = f_fake[torch.randperm(len(f_fake), generator=g)[:n]]
        if "pr" in metrics:
            s[f"precision[{ext}]"], s[f"recall[{ext}]"] = M.precision_recall(fr, ff, k=3)
        if "dc" in metrics:
            s[f"density[{ext}]"], s[f"coverage[{ext}]"] = M.density_coverage(fr, ff, k=5)
    if "classes" in metrics:
        if not extractor.has_classes or p_fake is None or train.labels is None:
            raise GankitError(f"classes: needs the dataset classifier (--extractor classifier), not {ext}")
        hist = torch.bincount(train.labels, minlength=p_fake.shape[1]).double()
        cc = M.class_coverage(p_fake.argmax(1).numpy(), real_hist=(hist / hist.sum()).numpy(),
                              num_classes=p_fake.shape[1])
        s[f"classes_hit[{ext}]"], s[f"class_kl[{ext}]"] = float(cc["classes_hit"]), float(cc["kl"])
    if "memorization" in metrics:
        if heldout is None:
            raise GankitError(f"memorization: the {data_cfg.name!r} source has no held-out split to compare with")
        real_train = _unit(train.images)
        rep = memorization(fake.float().cpu(), real_train, _unit(heldout.images))
        s["nn_ratio[pixels]"], s["near_copies[pixels]"] = rep.nn_ratio, rep.near_copies
        order = rep.sample_distance.argsort()[:8]
        res.closest_pairs = (fake[order].cpu(), real_train[rep.sample_neighbour[order]])
    return res


def applicable_metrics(metrics: list[str], explicit: bool, train, data_cfg: DataConfig) -> list[str]:
    """On 2-D point data only ``modes`` applies; ``modes`` applies to the mixtures and stacked MNIST."""
    points = isinstance(train, PointData)
    if not explicit:
        return ["modes"] if points else [m for m in metrics if m != "modes" or has_modes(data_cfg)]
    if points and metrics != ["modes"]:
        raise GankitError(f"{', '.join(m for m in metrics if m != 'modes')}: not defined for 2-D point data "
                          f"({data_cfg.name}); score them with the modes metric (gankit eval --metrics modes, eval.metrics=[modes])")
    return metrics


def has_modes(data_cfg: DataConfig) -> bool:
    """Whether the ``modes`` metric has a protocol for this dataset."""
    from ..data.sources import data_shape

    return data_cfg.name == "stacked-mnist" or len(data_shape(data_cfg)) == 1


def needs_extractor(metrics, data_cfg: DataConfig) -> bool:
    """Whether scoring ``metrics`` (None: the defaults) on ``data_cfg`` needs image features."""
    from ..data.sources import data_shape

    if len(data_shape(data_cfg)) == 1:  # points: only the modes metric applies
        return False
    return metrics is None or any(m != "modes" for m in metrics)


def default_sample_count(metrics, data_cfg: DataConfig, n: int = 5000) -> int:
    """``n``, or the count the modes protocol draws when ``modes`` is scored: 2,500 on 2-D data
    (alone there), 26,000 on stacked MNIST."""
    from ..data.sources import data_shape
    from .modes import POINTS_N, STACKED_N

    if len(data_shape(data_cfg)) == 1:
        return POINTS_N
    if data_cfg.name == "stacked-mnist" and (metrics is None or "modes" in metrics):
        return max(n, STACKED_N)
    return n


def format_table(res: EvalResult) -> str:
    rows = list(res.scores.items())
    rows += [(f"{res.extractor} {k}", v) for k, v in res.info.items()]
    width = max(len(k) for k, _ in rows)
    lines = [f"{'metric':<{width}}  value", f"{'-' * width}  {'-' * 10}"]
    for k, v in rows:
        lines.append(f"{k:<{width}}  {v:.6g}" if isinstance(v, float) else f"{k:<{width}}  {v}")
    return "\n".join(lines)


def save_closest_pairs(res: EvalResult, path: str | Path) -> Path | None:
    """A grid: top row the samples closest to the training set, bottom row their nearest training images."""
    if res.closest_pairs is None:
        return None
    from ..utils.images import save_image_grid

    fake, real = res.closest_pairs
    return save_image_grid(torch.cat([fake, real]), path, nrow=len(fake))
