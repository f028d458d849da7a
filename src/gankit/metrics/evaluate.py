"""Scoring generated images against a dataset: features -> statistics -> metrics, with caching.

The reference side (the real train split's features and statistics, and the "floor": FID of the
real test split against the train split) is computed once per (dataset content, split, extractor)
and cached, so re-evaluating a run costs only the generated side.
"""
from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..config import DataConfig
from ..data import ImageData, PointData, load_data, load_heldout
from ..errors import GankitError
from ..utils.cache import cache_dir
from . import functional as M
from .extractors import Extractor
from .registry import METRICS, Metric, SampleCountWarning
from .stats import RunningStats


def parse_metrics(text: str | list[str] | tuple[str, ...]) -> list[str]:
    names = [m.strip() for m in (text.split(",") if isinstance(text, str) else text) if m.strip()]
    if names == ["all"]:  # every image metric but those asked for by name only (modes, ppl); a sequence run
        # reads this list as "all that apply" (metrics/sequences.py)
        return [m for m in METRICS.names() if not METRICS.get(m).explicit_only and "images" in METRICS.get(m).kinds]
    bad = [m for m in names if m not in METRICS]
    if bad or not names:
        raise GankitError(f"--metrics: unknown metric(s) {', '.join(bad) or '(none)'}; choose from "
                          f"{', '.join(METRICS.names())} or all")
    return list(dict.fromkeys(names))


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
        feats, probs = extractor.extract(torch.cat([unit(x[s:s + 1000]) for s in range(0, len(x), 1000)]))
        mu, sigma = stats_of(feats)
        state = {"features": feats, "probs": probs, "mu": torch.from_numpy(mu), "sigma": torch.from_numpy(sigma),
                 "sqrt_sigma": torch.from_numpy(M.sqrtm_psd(sigma))}  # cached: ~2 s at d = 2048
        if cache:
            from ..train.checkpoint import save_checkpoint
            save_checkpoint(state, path)
    sq = state.get("sqrt_sigma")
    return Reference(state["features"], state["probs"], data.labels, state["mu"].numpy(), state["sigma"].numpy(),
                     sq.numpy() if sq is not None else M.sqrtm_psd(state["sigma"].numpy()))


def unit(x: torch.Tensor) -> torch.Tensor:
    return x.float().mul(2 / 255).sub(1)


@dataclass
class EvalResult:
    scores: dict[str, float] = field(default_factory=dict)
    extractor: str = ""
    info: dict = field(default_factory=dict)
    #: (samples, their nearest training images, their pixel distances) of the memorization metric
    closest_pairs: tuple[torch.Tensor, ...] | None = None
    notes: list[str] = field(default_factory=list)
    fake_features: tuple[torch.Tensor, torch.Tensor | None] | None = field(default=None, repr=False)
    """(features, class probabilities) of the samples under the extractor, when a metric needed them."""
    #: a truncation sweep's scores per psi (``scores`` then holds them as ``name @psi=0.5`` rows)
    sweep: dict[float, dict[str, float]] = field(default_factory=dict)


class Context:
    """What the metrics of one evaluation read; every input is computed once, on first use."""

    def __init__(self, fake, data_cfg: DataConfig, extractor, train, heldout, labels, targets, seed, cache, result,
                 sources=None, reconstructions=None, codes=None, game=None, players=None, psi=None):
        self.fake, self.data_cfg, self.extractor, self.train, self.heldout = fake, data_cfg, extractor, train, heldout
        self.labels, self.targets, self.seed, self.cache, self.result = labels, targets, seed, cache, result
        self.sources, self.reconstructions, self.codes, self.game = sources, reconstructions, codes, game
        #: the players the samples were drawn with (the EMA copies, if any), and the truncation psi (None: off)
        self.players, self.psi = players, psi
        self.ext = extractor.name if extractor is not None else ""
        self.tag = f"{data_cfg.name}-{data_cfg.resolution}px{data_cfg.channels}"
        self._ref = self._held = self._target_features = None

    def features(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.result.fake_features is None:
            self.result.fake_features = self.extractor.extract(self.fake)
        return self.result.fake_features

    def target_features(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self._target_features is None:
            self._target_features = self.extractor.extract(self.targets)
        return self._target_features

    def reference(self) -> Reference:
        if self._ref is None:
            self._ref = reference(self.extractor, self.train, f"{self.tag}-train", self.cache)
        return self._ref

    def heldout_reference(self) -> Reference | None:
        if self.heldout is None:
            return None
        if self._held is None:
            self._held = reference(self.extractor, self.heldout, f"{self.tag}-test", self.cache)
        return self._held

    def missing(self, need: str) -> str | None:
        """Why the input ``need`` is not available here, or None."""
        ext = self.ext or "none"
        if need in ("features", "probs") and self.extractor is None:
            return "needs a feature extractor"
        if need == "probs" and not self.extractor.has_classes:
            return f"needs the dataset classifier (--extractor classifier), not {ext}"
        if need == "train_labels" and self.train.labels is None:
            return f"needs labelled data; {self.data_cfg.name!r} has no labels"
        if need == "labels" and self.labels is None:
            return "needs the classes the outputs should show (a conditional or translation run)"
        if need == "targets" and self.targets is None:
            return "needs paired targets (a translation run on held-out pairs)"
        if need == "reconstructions" and self.reconstructions is None:
            return "needs a translation run with a way back (cyclegan, stargan)"
        if need == "codes" and self.codes is None:
            return "needs a multi-domain translation run (stargan)"
        if need == "generator" and (self.game is None or getattr(self.game, "kind", None) != "noise"):
            return ("needs a run drawn from noise (gankit eval RUN): it draws its own pairs of latents, which "
                    + ("images given to score do not have" if self.game is None else "a translation game has not"))
        if need == "encoder" and not callable(getattr(self.game, "infer_categories", None)):
            return "needs a run whose game reads a categorical code from images (infogan)"
        if need == "heldout" and self.heldout is None:
            return f"the {self.data_cfg.name!r} source has no held-out split to compare with"
        if need == "modes" and not has_modes(self.data_cfg):
            return "defined for the 2-D mixtures (ring8, grid25) and stacked-mnist only"
        return None


AUTO = "auto"


def evaluate(fake: torch.Tensor, data_cfg: DataConfig, extractor: Extractor, metrics=None,
             train: ImageData | None = None, heldout: ImageData | None | str = AUTO, seed: int = 0,
             cache: bool = True, labels: torch.Tensor | None = None, targets: torch.Tensor | None = None,
             sources: torch.Tensor | None = None, reconstructions: torch.Tensor | None = None,
             codes: torch.Tensor | None = None, game=None, players=None, psi: float | None = None) -> EvalResult:
    """Score ``fake`` (N, C, H, W) in [-1, 1] (or 2-D points (N, 2)) against ``data_cfg``'s train split
    (test split for the floor and memorisation) with the registered metrics. ``train``/``heldout`` may be
    passed in when already loaded. ``labels``: the class each output should show; ``targets``: the
    paired targets of the outputs; ``sources``: the untranslated inputs (translation runs: the baseline of
    label preservation), ``reconstructions``: the outputs translated back (the cycle metric), ``codes``:
    the target domain codes of a multi-domain ``game``'s outputs; ``players``: those ``fake`` was drawn with
    (metrics that draw their own images, ppl, draw with them), ``psi``: the truncation it was drawn at (a
    style-based game; ppl truncates its latents alike). ``metrics=None`` means every metric that
    applies here (the notes say which were skipped and why); a metric asked for by name that cannot apply
    is an error.
    ``extractor`` may be None when only ``modes`` is scored (always so on 2-D point data)."""
    explicit = metrics is not None
    names = parse_metrics(list(metrics) if explicit else default_metrics())
    train = train if train is not None else load_data(DataConfig(**{**data_cfg.__dict__, "split": "train"}))
    names = applicable_metrics(names, explicit, train, data_cfg)
    if heldout is AUTO:
        heldout = None
        if "fid" in names or any("heldout" in METRICS.get(m).needs for m in names):
            heldout = load_heldout(data_cfg)  # None for folder/npz sources: no floor, no memorisation check
    res = EvalResult(extractor=extractor.name if extractor is not None else "",
                     info=dict(extractor.info) if extractor is not None else {})
    ctx = Context(fake, data_cfg, extractor, train, heldout, labels, targets, seed, cache, res,
                  sources, reconstructions, codes, game, players, psi)
    plan, few = [], []  # every check first: nothing is computed for a call that fails
    for name in names:
        metric = METRICS.get(name)
        why = next((w for w in map(ctx.missing, sorted(metric.needs)) if w), None)
        quiet = why is not None and (metric.needs & {"labels", "targets", "reconstructions", "codes", "encoder"}
                                     or (extractor is None and metric.needs & {"features", "probs"}))
        why = why or too_few(metric, _counts(metric, ctx), ctx)
        if why is not None:
            if explicit:
                raise GankitError(f"{name}: {why}")
            if not quiet:  # (metrics for other kinds of runs; no extractor: the caller says why, once)
                res.notes.append(f"{name} skipped: {why}")
            continue
        plan.append(metric)
        what, n = min(_counts(metric, ctx).items(), key=lambda kv: kv[1])
        if n < metric.recommended_for(ctx):
            few.append((name, f"{n:,} {what}", metric.recommended_for(ctx)))
    warn_few(few)
    for metric in plan:
        res.scores.update(metric.compute(ctx))
    return res


def _counts(metric: Metric, ctx: Context) -> dict[str, int]:
    """The sample counts ``metric`` compares: the samples, and the real images (the train split) where it
    compares features with theirs."""
    out = {"samples": len(ctx.fake)}
    if metric.counts_real and ctx.train is not None:
        out["real images"] = len(ctx.train)
    return out


def too_few(metric: Metric, counts: dict[str, int], ctx: Context | None = None) -> str | None:
    """Why ``counts`` (e.g. {"samples": 3}) are below ``metric``'s hard minimum (in ``ctx``), or None."""
    low = metric.minimum(ctx)
    for what, n in counts.items():
        if n < low:
            why = f" ({metric.min_reason})" if metric.min_reason and low > 1 else ""
            return f"{n} {what if n != 1 else what[:-1]}; it needs at least {low}{why}"
    return None


def warn_few(few: list[tuple[str, str, int]]) -> None:
    """One :class:`SampleCountWarning` for the scores computed from fewer samples than recommended:
    ``few`` lists (metric, "300 samples", recommended count)."""
    if few:
        warnings.warn("few samples for trustworthy scores: " + ", ".join(
            f"{name} from {count} (recommended {rec:,}+)" for name, count, rec in few)
            + "; such numbers are biased or noisy, and only comparable at equal counts (see each metric's "
              "docstring: gankit.metrics.builtin, gankit.metrics.sequences)", SampleCountWarning, stacklevel=3)


def check_sample_count(metrics, n: int, what: str = "samples") -> None:
    """Before any feature is extracted (or a classifier trained): a metric asked for by name that cannot
    be computed from ``n`` samples (or real images: ``what``) is a one-line error. (``evaluate`` checks
    again, in its context.)"""
    if metrics is None:
        return
    for name in parse_metrics(metrics):
        metric = METRICS.get(name)
        if what != "samples" and not metric.counts_real:
            continue
        why = too_few(metric, {what: n})
        if why is not None:
            raise GankitError(f"{name}: {why}")


def check_device(name: str, flag: str = "--device") -> torch.device:
    """``name`` as a device this PyTorch can use (``auto``: CUDA where available, else the CPU), else a
    one-line error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, ValueError):
        raise GankitError(f"{flag} {name!r} is not a device (auto, cpu, cuda, cuda:N)") from None
    if dev.type == "cuda":
        if not torch.backends.cuda.is_built():
            raise GankitError(f"{flag} {name}: CUDA is not available in this PyTorch build (torch "
                              f"{torch.__version__} is CPU-only); use --device cpu")
        if not torch.cuda.is_available():
            raise GankitError(f"{flag} {name}: CUDA is not available on this machine (no GPU visible); "
                              f"use --device cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise GankitError(f"{flag} {name}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise GankitError(f"{flag} {name}: MPS is not available here; use --device cpu")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise GankitError(f"{flag} {name!r}: gankit evaluates on cpu, cuda or mps")
    return dev


def evaluate_game(game, players, cfg, metrics, n: int | None, seed: int = 0, extractor=None,
                  extractor_spec: str = "classifier", device="cpu", inception_weights: str | None = None,
                  train=None, keep: float = 1.0, directions: int = 8, psi: float | None = None,
                  temperature: float | None = None):
    """Score ``n`` outputs of ``game`` drawn with ``players`` (the EMA copies, if any): the one
    evaluation path of training-time evaluation, ``gankit eval`` and the API. Returns (result, the
    extractor, for reuse).

    A noise-driven game is scored on ``game.eval_inputs(None, n, seed)`` (conditional: balanced classes)
    against the train split; a translation game on the held-out inputs (the first ``n``; the training
    images, with a note, where the data has no test split) in the output domain, against the targets,
    labels, reconstructions and domain codes it gives, once per view (``game.eval_views()``). ``psi``: the
    truncation trick of a style-based game (w pulled toward its average; None or 1: off). ``temperature``:
    a sequence game's sampling temperature (None: its ``game.temperature``)."""
    import dataclasses

    from ..sampling import draw

    if game.kind == "sequence":  # token sequences: their own metrics and drawing (metrics/sequences.py)
        from .sequences import evaluate_sequences

        return evaluate_sequences(game, players, cfg, metrics, n, seed, train, temperature), extractor
    n = default_sample_count(metrics, cfg.data, n if n is not None else 5000)
    check_sample_count(metrics, n)  # before anything is drawn, extracted or trained
    train = train if train is not None else load_data(dataclasses.replace(cfg.data, split="train"))
    notes = []
    if game.kind == "noise":
        inputs, extra = game.eval_inputs(None, n, seed)  # conditional: balanced classes, i mod K
        fake = draw(game, n, seed=seed, players=players, labels=inputs.get("y"), keep=keep, directions=directions,
                    psi=psi)
        ref_cfg, ref_train, heldout = cfg.data, train, AUTO
    else:
        return _evaluate_translation(game, players, cfg, metrics, n, seed, extractor, extractor_spec, device,
                                     inception_weights, train)
    if extractor is None and needs_extractor(metrics, cfg.data):
        extractor = _extractor(extractor_spec, ref_cfg, device, inception_weights, metrics, notes)
    res = evaluate(fake, ref_cfg, extractor, metrics, train=ref_train, heldout=heldout, seed=seed,
                   labels=extra.get("labels"), targets=extra.get("targets"), game=game, players=players, psi=psi)
    res.notes = notes + res.notes
    if keep < 1:
        res.notes.append(f"samples drawn with Jacobian-based truncation: the {keep:g} fraction of latent draws "
                         f"with the smallest ||dG/dz|| (sample.jacobian_keep; --jacobian-keep 1 turns it off)")
    return res, extractor


#: what a truncation sweep scores unless told otherwise: the trade-off the truncation trick makes
SWEEP_METRICS = ("fid", "pr")


def parse_psis(text: str, flag: str = "--truncation-sweep") -> list[float]:
    """``"0.5,0.7,1.0"`` -> [0.5, 0.7, 1.0] (in order, repeats dropped), each checked (:func:`check_psi`)."""
    try:
        psis = [float(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        psis = []
    if not psis:
        raise GankitError(f"{flag} {text!r}: comma-separated psi values, e.g. 0.5,0.7,1.0")
    for psi in psis:
        check_psi(psi, flag)
    return list(dict.fromkeys(psis))


def check_psi(psi: float, flag: str = "--truncation") -> float:
    """``psi`` of the truncation trick, finite and in [-1, 2] (as ``gankit sample --truncation``), else a
    one-line error."""
    import math

    if not (math.isfinite(float(psi)) and -1.0 <= float(psi) <= 2.0):
        raise GankitError(f"{flag} {psi}: psi must lie in [-1, 2] (1: off, 0: the average image)")
    return float(psi)


def psi_suffix(psi: float) -> str:
    return f" @psi={psi:g}"


#: sequence scores that do not depend on the sampling temperature (real data, or no samples read)
TEMPERATURE_FREE = ("oracle_nll_floor", "ngram_jsd_floor", "self_bleu_real", "bleu_real", "heldout_nll")


def merge_sweep(results: list[tuple[float, EvalResult]], suffix=psi_suffix,
                once: tuple[str, ...] = ("fid_floor",)) -> EvalResult:
    """One result of a sweep (truncation psis; sequence runs' temperatures with ``suffix`` and ``once``):
    every score once per value (``precision[classifier:mnist] @psi=0.5``, grouped by score, values in the
    order given), the scores named in ``once`` (real data: no psi) once, the notes once."""
    first = results[0][1]
    merged = EvalResult(extractor=first.extractor, info=dict(first.info))
    keys = list(dict.fromkeys(k for _, res in results for k in res.scores))
    for key in keys:
        if key.split("[", 1)[0].rsplit("/", 1)[-1] in once:
            merged.scores[key] = next(res.scores[key] for _, res in results if key in res.scores)
            continue
        for psi, res in results:
            if key in res.scores:
                merged.scores[key + suffix(psi)] = res.scores[key]
    merged.sweep = {psi: dict(res.scores) for psi, res in results}
    merged.notes = list(dict.fromkeys(note for _, res in results for note in res.notes))
    return merged


def _extractor(spec, ref_cfg, device, weights, metrics, notes):
    from .extractors import build_extractor

    try:
        return build_extractor(spec, ref_cfg, device, weights)
    except GankitError as e:
        if metrics is not None or spec not in ("auto", "classifier"):
            raise  # metrics or an extractor asked for by name: say why they cannot be had
        notes.append(f"feature metrics skipped: {e}")  # the defaults (e.g. unlabelled pairs): score what can be
        return None


def _evaluate_translation(game, players, cfg, metrics, n, seed, extractor, extractor_spec, device,
                          inception_weights, train):
    """A translation game, view by view (CycleGAN: AtoB and BtoA, each score prefixed with its view):
    the outputs for the first ``n`` held-out inputs, against the real images of the output domain, the
    inputs' labels, true counterparts, reconstructions and target domains where the game gives them."""
    import dataclasses

    from ..games.base import batched

    from .extractors import resolve_spec

    held = load_heldout(cfg.data)
    notes = [] if held is not None else [f"scored on training images: {cfg.data.name!r} has no held-out split"]
    views = game.eval_views()
    if extractor is None and needs_extractor(metrics, cfg.data):
        extractor_spec = resolve_spec(extractor_spec, inception_weights)  # one choice (and note) for every view
    merged = EvalResult()
    extractors = {}  # by output source: a view's extractor is reused by the views scored in the same domain
    for view in views:
        prefix = f"{view}/" if len(views) > 1 else ""
        inputs, extra = game.eval_inputs(held if held is not None else train, n, seed, view)
        fake = batched(lambda b: game.generate(b, players), inputs)
        recon = (batched(lambda b: game.reconstruct(b, b["outputs"], players), {**inputs, "outputs": fake})
                 if game.reversible else None)
        ref_cfg = dataclasses.replace(cfg.data, name=game.output_source(cfg.data, view))
        view_notes = [f"{len(fake)} held-out inputs scored (fewer than n = {n})"] if len(fake) < n else []
        ext = extractor if (extractor is not None and len(views) == 1) else extractors.get(ref_cfg.name)
        if ext is None and needs_extractor(metrics, cfg.data):
            ext = _extractor(extractor_spec, ref_cfg, device, inception_weights, metrics, view_notes)
            extractors[ref_cfg.name] = ext
        res = evaluate(fake, ref_cfg, ext, metrics, train=game.output_data(train, view),
                       heldout=game.output_data(held, view) if held is not None else None, seed=seed,
                       labels=extra.get("labels"), targets=extra.get("targets"), sources=extra.get("sources"),
                       reconstructions=recon, codes=extra.get("codes"), game=game)
        merged.scores.update({prefix + k: v for k, v in res.scores.items()})
        if len(views) > 1:  # each view's extractor by name (format_table prints keys with a view as they are)
            merged.info.update({f"{prefix}{res.extractor} {k}": v for k, v in res.info.items()})
            merged.extractor = ", ".join(dict.fromkeys([e for e in (merged.extractor, res.extractor) if e]))
        else:
            merged.info.update(res.info)
            merged.extractor = res.extractor
        notes += [prefix + note for note in view_notes + res.notes]
        merged.closest_pairs = merged.closest_pairs or res.closest_pairs
        if len(views) == 1:
            merged.fake_features, extractor = res.fake_features, ext
    merged.notes = notes
    return merged, extractor


def default_metrics() -> list[str]:
    """Every registered metric, in registry order, except those asked for by name only."""
    return [m for m in METRICS.names() if not METRICS.get(m).explicit_only] + ["modes"]


def applicable_metrics(metrics: list[str], explicit: bool, train, data_cfg: DataConfig) -> list[str]:
    """On 2-D point data only ``modes`` applies; ``modes`` applies to the mixtures and stacked MNIST
    (first: on stacked MNIST it fixes the sample count)."""
    from ..data import TokenData

    points = isinstance(train, PointData)
    if isinstance(train, TokenData):  # a sequence run: its own metrics (metrics/sequences.py)
        from .sequences import check_token_metrics

        if not explicit:
            return [m for m in metrics if "tokens" in METRICS.get(m).kinds]
        check_token_metrics(metrics, data_cfg.name)
        return metrics
    wrong = [m for m in metrics if not METRICS.get(m).kinds & {"images", "points"}]
    if wrong and explicit:
        raise GankitError(f"{', '.join(wrong)}: defined for token sequences only, not for {data_cfg.name!r} "
                          f"({'points' if points else 'images'})")
    metrics = [m for m in metrics if m not in wrong]
    if "modes" in metrics:
        metrics = ["modes"] + [m for m in metrics if m != "modes"]
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
    return metrics is None or any(METRICS.get(m).needs & {"features", "probs"} for m in parse_metrics(metrics))


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
    rows += [(k if "/" in k.split(" ", 1)[0] else f"{res.extractor} {k}", v) for k, v in res.info.items()]
    width = max(len(k) for k, _ in rows)
    lines = [f"{'metric':<{width}}  value", f"{'-' * width}  {'-' * 10}"]
    for k, v in rows:
        lines.append(f"{k:<{width}}  {v:.6g}" if isinstance(v, float) else f"{k:<{width}}  {v}")
    return "\n".join(lines)


def save_closest_pairs(res: EvalResult, path: str | Path) -> Path | None:
    """A labelled picture: a caption, then the samples closest to the training set (top row, with their
    pixel distance) above their nearest training images (bottom row)."""
    if res.closest_pairs is None:
        return None
    import os

    from PIL import Image, ImageDraw, ImageFont

    from ..utils.images import make_grid

    fake, real, *rest = res.closest_pairs
    dist = rest[0] if rest else None
    k, w = len(fake), fake.shape[-1]
    font = ImageFont.load_default()
    upscale = max(1, -(-max(256 // max(1, k), 56) // w))  # columns wide enough for a distance label
    rows = [make_grid(x, nrow=k, upscale=upscale) for x in (fake, real)]
    cell = w * upscale + 2
    line = 14  # one line of the default font
    labels = ["samples closest to the training set (pixel L2 distance in [-1, 1] units)",
              "their nearest training images"]
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    width = max(rows[0].shape[1], max(int(measure.textlength(t, font=font)) for t in labels) + 8)
    height = 3 * line + 4 + rows[0].shape[0] + rows[1].shape[0]
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    y = 2
    draw.text((4, y), labels[0], fill="black", font=font)
    y += line
    if dist is not None:
        for i, d in enumerate(dist.tolist()):
            draw.text((2 + i * cell, y), f"d={d:.3g}", fill="black", font=font)
    y += line
    for r, row in enumerate(rows):
        if r == 1:
            draw.text((4, y), labels[1], fill="black", font=font)
            y += line + 2
        img = Image.fromarray(row[:, :, 0] if row.shape[2] == 1 else row).convert("RGB")
        canvas.paste(img, (0, y))
        y += row.shape[0]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    canvas.save(tmp, format="PNG")
    os.replace(tmp, path)
    return path
