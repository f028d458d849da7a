"""Metrics of token sequences (sequence runs: ``kinds={"tokens"}``), and their evaluation path.

Functions of plain lists first (n-gram distributions, Jensen-Shannon divergence, novelty, validity),
then the registered metrics, then :func:`evaluate_sequences`, which draws a run's samples and scores
them. Every NLL is in nats per scored token: padding excluded, the end id included (so a model that
ends a name too early or too late pays for it).

- ``oracle_nll`` (the oracle task only): the oracle's NLL of the samples, Yu et al. 2017's NLL_oracle,
  with ``oracle_nll_floor``, the oracle's NLL of its own held-out samples (its entropy rate: what a
  perfect generator scores; below it means a generator that dropped diversity for likely sequences);
- ``heldout_nll``: the generator's own NLL of the held-out split (teacher forced; no samples drawn);
- ``ngram_jsd``: the Jensen-Shannon divergence (bits, in [0, 1]) between the n-gram distributions of
  the samples and of the held-out split, n = 1..4 (each ``jsd_Ngram``, and their mean), with
  ``ngram_jsd_floor``: the same for as many training sequences as samples (real data vs real data:
  what sampling noise alone gives at that count);
- ``novelty``: the share of samples that are not training sequences;
- ``validity`` (corpora of valid items: names, words): the share of samples that are held-out items
  (real, and never trained on), and ``in_corpus``, the share that are items of either split;
- ``bleu``: BLEU-4 of the samples against the held-out split (quality), and ``self_bleu``: each sample
  against the other samples (diversity: higher = more alike), each with the value real data gets.

N-grams are over the vocabulary's tokens (characters of names and words; ids of the oracle), with a
start marker before the first token and the end id after the last, so first and last letters count.
"""
from __future__ import annotations

import functools
import math
from collections import Counter
from typing import Iterable, Sequence

import torch

from ..errors import GankitError
from .registry import METRICS, register_metric

NGRAM_ORDERS = (1, 2, 3, 4)
START = -1  # the start marker of n-grams (no id has it)


# -- plain functions -----------------------------------------------------------------------------
def ngram_counts(sequences: Iterable[Sequence[int]], n: int) -> Counter:
    """Counts of the n-grams (tuples) of ``sequences`` (each a list of ids with its end marker)."""
    c: Counter = Counter()
    for s in sequences:
        s = [START] + list(s)
        c.update(tuple(s[i:i + n]) for i in range(len(s) - n + 1))
    return c


def jensen_shannon(p: Counter, q: Counter) -> float:
    """The Jensen-Shannon divergence (bits, in [0, 1]) between the distributions that two counts
    define; 0 for identical distributions, 1 for disjoint supports."""
    sp, sq = sum(p.values()), sum(q.values())
    if sp == 0 or sq == 0:
        raise GankitError("jensen_shannon: an empty distribution")
    total = 0.0
    for key in p.keys() | q.keys():
        a, b = p.get(key, 0) / sp, q.get(key, 0) / sq
        m = 0.5 * (a + b)
        if a > 0:
            total += 0.5 * a * math.log2(a / m)
        if b > 0:
            total += 0.5 * b * math.log2(b / m)
    return max(0.0, min(1.0, total))


def ngram_jsd(samples: Sequence[Sequence[int]], reference: Sequence[Sequence[int]],
              orders: Sequence[int] = NGRAM_ORDERS) -> dict[int, float]:
    """{n: JSD of the n-gram distributions of ``samples`` and ``reference``}."""
    return {n: jensen_shannon(ngram_counts(samples, n), ngram_counts(reference, n)) for n in orders}


def novelty(samples: Sequence[str], training: Iterable[str]) -> float:
    """The share of ``samples`` that are not in ``training``."""
    seen = set(training)
    return sum(s not in seen for s in samples) / max(len(samples), 1)


def validity(samples: Sequence[str], valid: Iterable[str]) -> float:
    """The share of ``samples`` that are in ``valid``."""
    ok = set(valid)
    return sum(s in ok for s in samples) / max(len(samples), 1)


def _clip_table(refs: Sequence[Sequence[int]], n: int) -> dict[tuple, tuple[int, int, int]]:
    """n-gram -> (largest count in one reference, the first reference with it, the next largest count)."""
    table: dict[tuple, tuple[int, int, int]] = {}
    for j, r in enumerate(refs):
        for g, c in Counter(tuple(r[i:i + n]) for i in range(len(r) - n + 1)).items():
            top, owner, second = table.get(g, (0, -1, 0))
            if c > top:
                table[g] = (c, j, top)
            elif c > second:
                table[g] = (top, owner, c)
    return table


def bleu(hypotheses: Sequence[Sequence[int]], references: Sequence[Sequence[int]], max_n: int = 4,
         leave_one_out: bool = False) -> float:
    """The mean sentence BLEU-``max_n`` (Papineni et al. 2002) of ``hypotheses`` against all of
    ``references``: clipped n-gram precisions for n = 1..max_n, geometric mean with equal weights, brevity
    penalty from the closest reference length; a precision with no match counts 0.1 matches (Chen &
    Cherry 2014's smoothing 1, as NLTK's ``method1``, whose ``sentence_bleu`` however returns 0 outright
    when not even a unigram matches; here that case is smoothed too, so scores stay comparable). ``leave_one_out``: the hypotheses are the references
    and each is scored against all the others (self-BLEU, Zhu et al. 2018: higher = less diverse)."""
    if leave_one_out and len(references) < 2:
        raise GankitError("self-BLEU needs at least 2 sequences")
    if not references:
        raise GankitError("BLEU needs at least one reference")
    tables = [_clip_table(references, n) for n in range(1, max_n + 1)]
    lengths = Counter(len(r) for r in references)
    total = 0.0
    for i, h in enumerate(hypotheses):
        c = len(h)
        if c == 0:
            continue  # (an empty sequence scores 0)
        log_p = 0.0
        for n, table in enumerate(tables, 1):
            grams = Counter(tuple(h[k:k + n]) for k in range(c - n + 1))
            matched = 0
            for g, k in grams.items():
                top, owner, second = table.get(g, (0, -1, 0))
                matched += min(k, second if leave_one_out and owner == i else top)
            log_p += math.log((matched or 0.1) / max(sum(grams.values()), 1)) / max_n
        own = lengths.copy()
        if leave_one_out:
            own[c] -= 1
        r = min((length for length, k in own.items() if k > 0), key=lambda length: (abs(length - c), length))
        total += math.exp(log_p + (0.0 if c > r else 1.0 - r / c))
    return total / max(len(hypotheses), 1)


def id_lists(tokens: torch.Tensor, vocabulary) -> list[list[int]]:
    """Rows of ids (N, L) as lists up to and including the end id (padding dropped)."""
    rows = tokens.cpu().tolist()
    if not vocabulary.ended:
        return rows
    out = []
    for r in rows:
        k = r.index(vocabulary.end) + 1 if vocabulary.end in r else len(r)
        out.append([i for i in r[:k] if i != vocabulary.pad])
    return out


# -- the evaluation context ----------------------------------------------------------------------
class SequenceContext:
    """What the sequence metrics read: the samples (ids and texts), the run's vocabulary, the data's
    splits as texts (re-encoded with the run's vocabulary on first use), the game and its players."""

    def __init__(self, samples: torch.Tensor, game, players, data_cfg, train, heldout, seed: int, result):
        self.samples, self.game, self.players, self.data_cfg = samples, game, players, data_cfg
        self.vocabulary = game.vocabulary
        self.texts = self.vocabulary.decode_batch(samples)
        self.train, self.heldout, self.seed, self.result = train, heldout, seed, result
        self._heldout_tokens = None

    @property
    def G(self):
        return (self.players or {}).get("G", self.game.G)

    def missing(self, need: str) -> str | None:
        if need == "heldout" and self.heldout is None:
            return f"the {self.data_cfg.name!r} source has no held-out split to compare with"
        if need == "oracle" and self.data_cfg.name != "oracle":
            return "defined for the oracle task only (data.name=oracle), whose LSTM scores the samples"
        if need == "lexicon" and not getattr(self.train, "lexicon", False):
            return (f"needs a corpus of valid items (names, words); the lines of {self.data_cfg.name!r} are not "
                    f"checked as such")
        return None

    def encode(self, texts: Sequence[str], what: str) -> torch.Tensor:
        """``texts`` under the run's vocabulary; those it cannot represent are left out, with a note."""
        v = self.vocabulary
        if v.level == "id":
            return torch.tensor([[int(t) for t in line.split()] for line in texts], dtype=torch.long)
        known, kept = set(v.symbols), []
        for line in texts:
            symbols = v.split(line)
            if len(symbols) <= v.max_length and set(symbols) <= known:
                kept.append(line)
        if len(kept) < len(texts):
            self.result.notes.append(f"{len(texts) - len(kept):,} of {len(texts):,} {what} sequences do not fit the "
                                     f"run's vocabulary or length and are not scored")
        if not kept:
            raise GankitError(f"no {what} sequence fits the run's vocabulary (was the corpus changed?)")
        return v.encode_batch(kept)

    def heldout_tokens(self) -> torch.Tensor:
        if self._heldout_tokens is None:
            self._heldout_tokens = self.encode(self.heldout.texts, "held-out")
        return self._heldout_tokens


# -- the registered metrics ----------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _oracle():
    from ..data.tokens import make_oracle

    return make_oracle()


@functools.lru_cache(maxsize=1)
def _oracle_floor() -> float:
    from ..data.tokens import _oracle_split
    from ..nets.sequence import mean_token_nll

    return mean_token_nll(_oracle(), _oracle_split("test"))


@register_metric("oracle_nll", {"oracle", "sequences"}, "the oracle's NLL of the samples (nats per token; "
                 "Yu et al. 2017's NLL_oracle), and its NLL of its own held-out samples (the floor)",
                 {"oracle_nll": False, "oracle_nll_floor": False}, min_samples=1, recommended=1000,
                 kinds={"tokens"})
def _oracle_nll(ctx) -> dict[str, float]:
    """Minimum 1: a mean of per-token NLLs. Recommended 1,000 (SeqGAN scored 10,000): the per-sequence
    NLL varies by about a nat per token between sequences, so the mean's standard error is ~0.03 at 1,000."""
    from ..nets.sequence import mean_token_nll

    return {"oracle_nll": mean_token_nll(_oracle(), ctx.samples.cpu()), "oracle_nll_floor": _oracle_floor()}


@register_metric("heldout_nll", {"heldout"}, "the generator's NLL of the held-out split (nats per token, "
                 "teacher forced; draws no samples)", {"heldout_nll": False}, min_samples=0, recommended=0,
                 kinds={"tokens"})
def _heldout_nll(ctx) -> dict[str, float]:
    """No sample count: it reads the held-out split, not the samples."""
    from ..nets.sequence import mean_token_nll

    return {"heldout_nll": mean_token_nll(ctx.G, ctx.heldout_tokens())}


@register_metric("ngram_jsd", {"sequences", "heldout"}, "Jensen-Shannon divergence (bits) of the 1- to 4-gram "
                 "distributions of the samples and the held-out split, and the floor: as many training "
                 "sequences against the held-out split", {"ngram_jsd": False, "ngram_jsd_floor": False},
                 min_samples=1, recommended=1000, kinds={"tokens"})
def _ngram_jsd(ctx) -> dict[str, float]:
    """Minimum 1. Recommended 1,000: the JSD of two empirical distributions is biased upward by the
    n-grams that one sample set misses by chance, more so for 4-grams and small sets; the floor is
    computed at the same count, so compare a score with its floor, and scores only at equal counts."""
    v = ctx.vocabulary
    held = id_lists(ctx.heldout_tokens(), v)
    fake = id_lists(ctx.samples, v)
    g = torch.Generator().manual_seed(ctx.seed)
    pick = torch.randperm(len(ctx.train), generator=g)[:len(fake)].tolist()
    real = id_lists(ctx.encode([ctx.train.texts[i] for i in pick], "training"), v)
    out, floor = ngram_jsd(fake, held), ngram_jsd(real, held)
    scores = {f"jsd_{n}gram": out[n] for n in NGRAM_ORDERS}
    scores["ngram_jsd"] = sum(out.values()) / len(out)
    scores["ngram_jsd_floor"] = sum(floor.values()) / len(floor)
    return scores


@register_metric("novelty", {"sequences"}, "the share of samples that are not training sequences",
                 {"novelty": True}, min_samples=1, recommended=100, kinds={"tokens"})
def _novelty(ctx) -> dict[str, float]:
    """Minimum 1. Recommended 100: a share, ±0.05 (0.5/√N) at 100. Higher is not better on its own: a
    generator of random strings is perfectly novel; read it with validity or the NLLs."""
    return {"novelty": novelty(ctx.texts, ctx.train.texts)}


@register_metric("validity", {"sequences", "lexicon", "heldout"}, "the share of samples that are held-out "
                 "items (real names/words never trained on), and the share that are items of either split",
                 {"validity": True, "in_corpus": True}, min_samples=1, recommended=100, kinds={"tokens"})
def _validity(ctx) -> dict[str, float]:
    """Minimum 1. Recommended 100: a share, ±0.05 at 100. ``validity`` counts only real items the
    generator never saw (a copy of the training set scores 0, not 1); ``in_corpus`` counts copies too."""
    return {"validity": validity(ctx.texts, ctx.heldout.texts),
            "in_corpus": validity(ctx.texts, [*ctx.train.texts, *ctx.heldout.texts])}


BLEU_SAMPLES = 1000  # the samples BLEU and self-BLEU read (Texygen, Zhu et al. 2018, reads 500)


def _symbols(rows: list[list[int]], vocabulary) -> list[list[int]]:
    """Id lists without the end id (BLEU compares symbols)."""
    end = vocabulary.end
    return [[i for i in r if i != end] for r in rows] if end is not None else rows


@register_metric("self_bleu", {"sequences"}, "self-BLEU-4 of the samples (Zhu et al. 2018: each against all the "
                 "others; higher = less diverse), and of as many training sequences (the data's own)",
                 {"self_bleu": False, "self_bleu_real": False}, min_samples=2, recommended=500, kinds={"tokens"})
def _self_bleu(ctx) -> dict[str, float]:
    """Minimum 2 (one sequence against another). Recommended 500 (Texygen's count): self-BLEU grows with
    the number of references (more chance of a shared n-gram), so it compares only at equal counts;
    the first 1,000 samples are read, and the real-data value is taken at the same count."""
    v = ctx.vocabulary
    m = min(len(ctx.samples), BLEU_SAMPLES)
    fake = _symbols(id_lists(ctx.samples[:m], v), v)
    g = torch.Generator().manual_seed(ctx.seed)
    pick = torch.randperm(len(ctx.train), generator=g)[:m].tolist()
    real = _symbols(id_lists(ctx.encode([ctx.train.texts[i] for i in pick], "training"), v), v)
    return {"self_bleu": bleu(fake, fake, leave_one_out=True),
            "self_bleu_real": bleu(real, real, leave_one_out=True) if len(real) >= 2 else float("nan")}


@register_metric("bleu", {"sequences", "heldout"}, "BLEU-4 of the samples against the held-out split (quality: "
                 "their n-grams occur in real sequences), and of as many training sequences (the floor's "
                 "counterpart: what real data scores)", {"bleu": True, "bleu_real": True}, min_samples=1,
                 recommended=500, kinds={"tokens"})
def _bleu(ctx) -> dict[str, float]:
    """Minimum 1. Recommended 500: a mean of per-sample scores that vary a lot (short sequences); the
    first 1,000 samples are read, and as many training sequences for the real-data value."""
    v = ctx.vocabulary
    m = min(len(ctx.samples), BLEU_SAMPLES)
    refs = _symbols(id_lists(ctx.heldout_tokens(), v), v)
    fake = _symbols(id_lists(ctx.samples[:m], v), v)
    g = torch.Generator().manual_seed(ctx.seed + 1)
    pick = torch.randperm(len(ctx.train), generator=g)[:m].tolist()
    real = _symbols(id_lists(ctx.encode([ctx.train.texts[i] for i in pick], "training"), v), v)
    return {"bleu": bleu(fake, refs), "bleu_real": bleu(real, refs)}


# -- the evaluation path --------------------------------------------------------------------------
def token_metrics(explicit_only: bool = False) -> list[str]:
    return [m for m in METRICS.names() if "tokens" in METRICS.get(m).kinds
            and (explicit_only or not METRICS.get(m).explicit_only)]


def check_token_metrics(metrics: Sequence[str], data_name: str) -> None:
    """A one-line error for the first of ``metrics`` (asked for by name) that is not a sequence metric."""
    wrong = [m for m in metrics if "tokens" not in METRICS.get(m).kinds]
    if wrong:
        raise GankitError(f"{', '.join(wrong)}: not defined for token sequences ({data_name}); the sequence metrics "
                          f"are {', '.join(token_metrics(True))}")


def evaluate_sequences(game, players, cfg, metrics, n: int | None, seed: int = 0, train=None,
                       temperature: float | None = None):
    """Score ``n`` sequences (default 5,000) of a sequence ``game`` drawn with ``players`` (at
    ``temperature``, default the game's, from ``seed``) with the sequence metrics (``metrics``: names,
    None: all that apply). Returns the :class:`~gankit.metrics.evaluate.EvalResult`."""
    import dataclasses

    from ..data import load_data, load_heldout
    from ..games.base import batched
    from .evaluate import EvalResult, parse_metrics, too_few, warn_few

    n = 5000 if n is None else n
    if n < 1:
        raise GankitError(f"--n must be >= 1, got {n}")
    explicit = metrics is not None and list(metrics) != parse_metrics("all")  # (`--metrics all`: all that apply)
    names = list(dict.fromkeys(metrics)) if explicit else token_metrics()
    check_token_metrics(names, cfg.data.name)
    res = EvalResult()
    train = train if train is not None else load_data(dataclasses.replace(cfg.data, split="train"))
    heldout = load_heldout(cfg.data) if any("heldout" in METRICS.get(m).needs for m in names) else None
    samples = batched(lambda b: game.generate(b, players), game.sample_inputs(n, seed, temperature=temperature))
    ctx = SequenceContext(samples, game, players, cfg.data, train, heldout, seed, res)
    plan, few = [], []
    for name in names:
        metric = METRICS.get(name)
        why = next((w for w in map(ctx.missing, sorted(metric.needs)) if w), None) or \
            too_few(metric, {"samples": n}, None)
        if why is not None:
            if explicit:
                raise GankitError(f"{name}: {why}")
            res.notes.append(f"{name} skipped: {why}")
            continue
        plan.append(metric)
        if "sequences" in metric.needs and n < metric.recommended_for(None):
            few.append((name, f"{n:,} samples", metric.recommended_for(None)))
    warn_few(few)
    for metric in plan:
        res.scores.update(metric.compute(ctx))
    t = game.temperature if temperature is None else temperature
    if t != 1.0:
        how = "game.temperature" if temperature is None else "--temperature"
        res.notes.append(f"samples drawn at temperature {t:g} ({how}; 1: the model's own distribution)")
    return res
