"""The metric registry: every metric declares what it needs, and ``evaluate`` iterates the registry.

A :class:`Metric` names its inputs (``needs``), a test of whether it applies to a context (a reason
when not), the direction of each score it writes, and a function of an evaluation context that
returns named scores (``fid[classifier:mnist]``: every score carries its extractor's name). The
context (:class:`gankit.metrics.evaluate.Context`) computes each input once, when a metric first
asks for it: the samples' features, the reference statistics of a real split, the paired targets.

Inputs a metric may need:

- ``features``: the samples' features under the extractor, and the train split's (the reference);
- ``probs``: the extractor's class probabilities (the dataset classifier; Inception's say nothing
  of a dataset's classes);
- ``labels``: the class each output should show (conditional samples; the targets' classes of a
  translation);
- ``targets``: the paired targets of the outputs (translation games on held-out pairs);
- ``heldout``: the real test split (memorisation; the FID floor);
- ``pixels``: the samples themselves;
- ``modes``: a dataset with a mode-counting protocol (2-D mixtures, stacked MNIST);
- ``encoder``: a game that reads a categorical code off images (InfoGAN's Q).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..registry import Registry


@dataclass(frozen=True)
class Metric:
    name: str
    needs: frozenset[str]
    compute: Callable  # (Context) -> dict[str, float]
    summary: str = ""
    #: score name (before its ``[extractor]``) -> True when higher is better; what ``eval.best`` may follow
    better: dict[str, bool] = field(default_factory=dict)
    #: asked for by name only, never among the defaults (e.g. modes, which fixes its own sample count)
    explicit_only: bool = False


METRICS: Registry[Metric] = Registry("metric")


def register_metric(name: str, needs: set[str], summary: str, better: dict[str, bool] | None = None,
                    explicit_only: bool = False):
    def deco(fn: Callable) -> Callable:
        METRICS.register(name)(Metric(name, frozenset(needs), fn, summary, better or {}, explicit_only))
        return fn
    return deco


def score_direction(score: str) -> bool | None:
    """True when a higher value of ``score`` (e.g. ``fid[classifier:mnist]``, or ``BtoA/fid[...]`` of a
    two-way translation run) is better, False when lower is, None for a score no metric declares."""
    base = score.split("[", 1)[0].rsplit("/", 1)[-1]
    for name in METRICS.names():
        m = METRICS.get(name)
        if base in m.better:
            return m.better[base]
    return None


from . import builtin  # noqa: E402,F401  (registers the metrics)
