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
- ``sequences`` / ``oracle`` / ``lexicon`` (token runs, ``kinds={"tokens"}``, metrics/sequences.py): the
  sampled sequences; the oracle task's scoring LSTM; a corpus whose lines are valid items (names, words);
- ``generator``: a noise-driven run's game and players (the EMA copies, if any), for a metric that
  draws its own images (ppl: pairs of latents a small step apart); not images given to score.

Every metric also declares how many samples it needs: ``min_samples``, below which its formula is
undefined (``evaluate`` refuses a metric asked for by name with a one-line error naming the metric,
the count and the minimum, and skips a default one with a note), and ``recommended``, below which
the number is biased or noisy enough to mislead (``evaluate`` warns once, with a
:class:`SampleCountWarning`). Either may be a function of the evaluation context (the extractor's
feature size or class count); the reasons are in each metric's docstring (``builtin.py``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Union

from ..registry import Registry

#: a sample count, or a function of the evaluation context (None before one exists) giving it
Count = Union[int, Callable]


class SampleCountWarning(UserWarning):
    """Scores computed from fewer samples than their metrics recommend."""


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
    #: fewest samples (on each side the metric compares) its formula is defined for
    min_samples: Count = 1
    #: fewest samples for a number that is not dominated by sample-size bias or noise (a warning below)
    recommended: Count = 1
    #: why the minimum is what it is, in a few words (the error says it)
    min_reason: str = ""
    #: compares the samples with the real train split's features, whose count the counts bound too
    counts_real: bool = False
    #: the kinds of data it is defined for: ``images`` and ``points`` (gated further by ``needs``), or
    #: ``tokens`` (sequence runs, metrics/sequences.py); it is never offered for the others
    kinds: frozenset[str] = frozenset({"images", "points"})

    def minimum(self, ctx=None) -> int:
        """The hard minimum in ``ctx`` (an evaluation context; None: before one exists, a lower bound)."""
        return int(self.min_samples(ctx) if callable(self.min_samples) else self.min_samples)

    def recommended_for(self, ctx=None) -> int:
        """The recommended count in ``ctx`` (never below the minimum)."""
        r = self.recommended(ctx) if callable(self.recommended) else self.recommended
        return max(int(r), self.minimum(ctx))


METRICS: Registry[Metric] = Registry("metric")


def register_metric(name: str, needs: set[str], summary: str, better: dict[str, bool] | None = None,
                    explicit_only: bool = False, min_samples: Count = 1, recommended: Count = 1,
                    min_reason: str = "", counts_real: bool = False, kinds: set[str] | None = None):
    def deco(fn: Callable) -> Callable:
        METRICS.register(name)(Metric(name, frozenset(needs), fn, summary, better or {}, explicit_only,
                                      min_samples, recommended, min_reason, counts_real,
                                      frozenset(kinds) if kinds else frozenset({"images", "points"})))
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
from . import sequences  # noqa: E402,F401  (registers the metrics of token sequences)
