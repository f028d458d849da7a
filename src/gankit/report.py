"""``gankit report``: one self-contained HTML page of a run, or of several side by side.

The page holds everything it shows: preview grids as ``data:`` URIs (base64 PNG), curves as inline
SVG drawn here, inline CSS, no script, no font, no link to fetch. A Content-Security-Policy in the
page (``default-src 'none'``) makes the browser refuse any request it might still try, so the file
opens the same from a file:// URL, from a mail attachment or on a machine without network.

What it reads from a run directory (see train/trainer.py):

- ``config.yaml``: shown as it is (collapsed), and read for the game, data and ``eval.n``;
- ``metrics.jsonl``: one JSON row per logged step; every numeric key is a curve, grouped by prefix
  (``loss/*``, ``D_out/*``, ``D(x)``/``D(G(z))``, ``penalty/*``, ``began/*``, ``seqgan/*``, ...), one small
  chart per group; the training-time evaluation rows (``eval/<score>``) also make the evaluation table;
- ``samples/step-NNNNNNN.png`` (at most 12, evenly spaced, first and last kept) and ``samples/final.png``;
  sequence runs: the same as ``.txt``, shown as text;
- ``*.json`` and ``eval/*.json`` that ``gankit eval --json`` wrote (a dict with ``scores``), and
  ``eval/closest_pairs.png``.

Python: ``build_report([run, ...]) -> str`` and ``write_report(run, out=None, compare=()) -> Path``.
"""
from __future__ import annotations

import base64
import html
import json
import math
import os
import re
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from .config import flatten
from .errors import GankitError

#: preview grids shown over training (besides the final one)
MAX_STRIP = 12
#: points a curve is drawn with at most (longer series are averaged in buckets)
MAX_POINTS = 600
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
#: one colour per key (single run) or per run (--compare): matplotlib's tab10
COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf"]
#: one dash pattern per key when the colours tell the runs apart
DASHES = ["", "6 3", "2 3", "8 3 2 3", "1 2", "10 4"]
_STEP_FILE = re.compile(r"^step-(\d+)\.(png|txt)$")


# -- reading a run ---------------------------------------------------------------------------------
@dataclass
class RunData:
    path: Path
    name: str = ""
    config_text: str | None = None
    config: dict = field(default_factory=dict)
    rows: list[dict] = field(default_factory=list)
    grids: list[tuple[int, Path]] = field(default_factory=list)   # (step, samples/step-N.png), all of them
    final: Path | None = None
    texts: list[tuple[int, Path]] = field(default_factory=list)   # sequence runs: (step, samples/step-N.txt)
    final_text: Path | None = None
    eval_files: list[tuple[Path, dict]] = field(default_factory=list)
    closest_pairs: Path | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def game(self) -> str:
        return str((self.config.get("game") or {}).get("name", "?"))

    @property
    def data(self) -> str:
        return str((self.config.get("data") or {}).get("name", "?"))

    def series(self) -> dict[str, list[tuple[float, float]]]:
        """Every numeric key of metrics.jsonl -> its (step, value) points, in the order logged."""
        out: dict[str, list[tuple[float, float]]] = {}
        for row in self.rows:
            step = row["step"]
            for k, v in row.items():
                if k != "step" and isinstance(v, (int, float)) and not isinstance(v, bool):
                    out.setdefault(k, []).append((float(step), float(v)))
        return out

    def last_step(self) -> int | None:
        return max((r["step"] for r in self.rows), default=None)


def resolve_run(path: str | Path) -> Path:
    """The run directory of ``path`` (a run directory, or a checkpoint in its checkpoints/ folder)."""
    p = Path(path)
    if p.is_file() and p.suffix == ".pt" and p.parent.name == "checkpoints":
        p = p.parent.parent
    if not p.exists():
        raise GankitError(f"{str(path)!r}: no such run directory")
    if not p.is_dir():
        raise GankitError(f"{str(path)!r} is not a run directory (give the folder gankit train wrote)")
    if not ((p / "config.yaml").is_file() or (p / "metrics.jsonl").is_file() or (p / "checkpoints").is_dir()):
        raise GankitError(f"{str(path)!r} is not a run directory: it holds no config.yaml, metrics.jsonl or "
                          f"checkpoints/")
    return p


def read_run(path: str | Path) -> RunData:
    import yaml

    run = RunData(resolve_run(path))
    d = run.path
    run.name = d.resolve().name
    cfg = d / "config.yaml"
    if cfg.is_file():
        run.config_text = cfg.read_text(encoding="utf-8", errors="replace")
        try:
            loaded = yaml.safe_load(run.config_text)
            run.config = loaded if isinstance(loaded, dict) else {}
        except yaml.YAMLError:
            run.notes.append("config.yaml could not be parsed; it is shown as it is")
    else:
        run.notes.append("no config.yaml (training had not started writing this run)")
    metrics = d / "metrics.jsonl"
    if metrics.is_file():
        bad = 0
        for line in metrics.read_text(encoding="utf-8", errors="replace").splitlines():
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                bad += 1  # a torn last line of a run being written or killed
                continue
            if isinstance(row, dict) and isinstance(row.get("step"), int):
                run.rows.append(row)
        if bad:
            run.notes.append(f"{bad} unreadable line{'s' if bad > 1 else ''} of metrics.jsonl left out")
    else:
        run.notes.append("no metrics.jsonl: no curves")
    samples = d / "samples"
    if samples.is_dir():
        for f in samples.iterdir():
            m = _STEP_FILE.match(f.name)
            if m and f.is_file():
                (run.grids if m.group(2) == "png" else run.texts).append((int(m.group(1)), f))
        run.grids.sort()
        run.texts.sort()
        run.final = samples / "final.png" if (samples / "final.png").is_file() else None
        run.final_text = samples / "final.txt" if (samples / "final.txt").is_file() else None
    for f in sorted(d.glob("*.json")) + sorted((d / "eval").glob("*.json")):
        try:
            doc = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict) and isinstance(doc.get("scores"), dict):  # what gankit eval --json writes
            run.eval_files.append((f, doc))
    pairs = d / "eval" / "closest_pairs.png"
    run.closest_pairs = pairs if pairs.is_file() else None
    return run


def spread(items: Sequence, k: int) -> list:
    """At most ``k`` of ``items``, evenly spaced, the first and the last kept."""
    n = len(items)
    if n <= k:
        return list(items)
    if k <= 1:
        return [items[-1]]
    return [items[i] for i in sorted({round(i * (n - 1) / (k - 1)) for i in range(k)})]


# -- images ---------------------------------------------------------------------------------------
def png_data_uri(path: Path) -> tuple[str, int, int] | None:
    """``(data:image/png;base64,..., width, height)`` of an image file (converted to PNG if it is not
    one); None where it cannot be read."""
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    if not (raw.startswith(PNG_MAGIC) and len(raw) > 24 and raw[12:16] == b"IHDR"):
        try:
            import io

            from PIL import Image

            with Image.open(io.BytesIO(raw)) as im:
                buf = io.BytesIO()
                im.convert("RGBA" if "A" in im.getbands() else "RGB").save(buf, format="PNG")
            raw = buf.getvalue()
        except Exception:  # (PIL raises many kinds for a torn or foreign file)
            return None
    w, h = struct.unpack(">II", raw[16:24])
    return "data:image/png;base64," + base64.b64encode(raw).decode("ascii"), w, h


def _img(path: Path | None, caption: str, cls: str = "", notes: list[str] | None = None) -> str:
    if path is None:
        return ""
    got = png_data_uri(path)
    if got is None:
        if notes is not None:
            notes.append(f"{path.name} could not be read as an image and is left out")
        return ""
    uri, w, h = got
    return (f'<figure class="{cls}"><img src="{uri}" width="{w}" height="{h}" alt="{_e(caption)}">'
            f"<figcaption>{_e(caption)}</figcaption></figure>")


# -- curves ---------------------------------------------------------------------------------------
_FIRST = ["loss/*", "D_out/*", "D as a probability", "penalty/*"]


def group_of(key: str) -> str | None:
    """The chart a metrics.jsonl key is drawn in (None: not drawn)."""
    if key in ("step", "kimg"):
        return None  # (the x axis, and its image count)
    if key.startswith("eval/"):
        base = key[len("eval/"):].split("[", 1)[0]
        parts = base.split("/")
        if len(parts) > 1 and parts[-1].isdigit():  # per-class scores: one chart for the classes
            return "eval: " + "/".join(parts[:-1]) + "/*"
        last = parts[-1]
        for suffix in ("_floor", "_std", "_real"):
            last = last.removesuffix(suffix)
        return "eval: " + "/".join(parts[:-1] + [last])
    if key == "img_per_s":
        return "speed (img/s)"
    if "/" in key:
        return key.split("/", 1)[0] + "/*"
    if key.startswith("D("):
        return "D as a probability"
    return "other"


def _group_order(title: str) -> tuple:
    if title in _FIRST:
        return (0, _FIRST.index(title), title)
    if title.startswith("eval: "):
        return (2, 0, title)
    if title in ("speed (img/s)", "other"):
        return (3, 0, title)
    return (1, 0, title)


def group_keys(keys: Iterable[str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for k in keys:
        g = group_of(k)
        if g is not None and k not in groups.setdefault(g, []):
            groups[g].append(k)
    return {g: groups[g] for g in sorted(groups, key=_group_order)}


def _thin(points: list[tuple[float, float]], limit: int = MAX_POINTS) -> list[tuple[float, float]]:
    """At most ``limit`` points: bucket means of the finite ones, the non-finite ones kept as gaps."""
    if len(points) <= limit:
        return points
    size = len(points) / limit
    out = []
    for i in range(limit):
        chunk = points[int(i * size): int((i + 1) * size)] or points[int(i * size): int(i * size) + 1]
        finite = [p for p in chunk if math.isfinite(p[1])]
        if not finite:
            out.append((chunk[0][0], math.nan))
            continue
        out.append((sum(p[0] for p in finite) / len(finite), sum(p[1] for p in finite) / len(finite)))
    return out


def nice_ticks(lo: float, hi: float, target: int = 5, integer: bool = False) -> list[float]:
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(1, target)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    if integer:  # (steps)
        step = max(1.0, math.ceil(step))
    first = math.ceil(lo / step - 1e-9) * step
    ticks, t = [], first
    while t <= hi + step * 1e-9 and len(ticks) < 50:
        ticks.append(0.0 if abs(t) < step * 1e-9 else t)
        t += step
    return ticks


def _fmt(v: float) -> str:
    a = abs(v)
    if not math.isfinite(v) or a == 0:
        return str(v) if a else "0"
    if a >= 1e6 or a < 1e-3:
        return f"{v:.3g}"
    if a >= 1000:
        return f"{v:.0f}"
    return f"{v:.4g}"


def _quantile(sorted_values: list[float], q: float) -> float:
    i = q * (len(sorted_values) - 1)
    lo = math.floor(i)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (i - lo)


@dataclass
class Line:
    label: str
    colour: str
    dash: str
    points: list[tuple[float, float]]


def svg_chart(title: str, lines: list[Line], width: int = 420, height: int = 230) -> tuple[str, list[str]]:
    """An inline SVG line chart of ``lines`` (x: step); (the svg, notes for its caption)."""
    notes = []
    lines = [Line(ln.label, ln.colour, ln.dash, _thin(ln.points)) for ln in lines]
    xs = [x for ln in lines for x, _ in ln.points]
    ys = sorted(y for ln in lines for _, y in ln.points if math.isfinite(y))
    if any(not math.isfinite(y) for ln in lines for _, y in ln.points):
        notes.append("non-finite values left out")
    left, right, top, bottom = 58, 12, 10, 34
    pw, ph = width - left - right, height - top - bottom
    if not ys or not xs:
        body = (f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" class="ax">no finite values</text>')
        return (f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{_e(title)}">{body}</svg>', notes)
    x0, x1 = min(xs), max(xs)
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    y0, y1 = ys[0], ys[-1]
    if len(ys) >= 20:  # a few early spikes would flatten the rest: show the 2-98 % range when they do
        q0, q1 = _quantile(ys, 0.02), _quantile(ys, 0.98)
        if q1 > q0 and (y1 - y0) > 20 * (q1 - q0):
            y0, y1 = q0, q1
            notes.append("y axis clipped to the 2-98 % range of the values")
    if y1 == y0:
        pad = abs(y0) * 0.1 or 1.0
        y0, y1 = y0 - pad, y1 + pad
    else:
        pad = (y1 - y0) * 0.05
        y0, y1 = y0 - pad, y1 + pad

    def px(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * pw

    def py(y: float) -> float:
        return top + (1 - (min(max(y, y0), y1) - y0) / (y1 - y0)) * ph

    parts = [f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" class="plot"/>']
    for t in nice_ticks(y0, y1):
        parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{py(t):.1f}" y2="{py(t):.1f}" class="grid"/>'
                     f'<text x="{left - 5}" y="{py(t) + 4:.1f}" text-anchor="end" class="ax">{_fmt(t)}</text>')
    for t in nice_ticks(x0, x1, integer=True):
        if x0 <= t <= x1:
            parts.append(f'<line x1="{px(t):.1f}" x2="{px(t):.1f}" y1="{top}" y2="{top + ph}" class="grid"/>'
                         f'<text x="{px(t):.1f}" y="{top + ph + 15}" text-anchor="middle" class="ax">'
                         f"{_fmt(t)}</text>")
    parts.append(f'<text x="{left + pw / 2}" y="{height - 3}" text-anchor="middle" class="ax">step</text>')
    for ln in lines:
        dash = f' stroke-dasharray="{ln.dash}"' if ln.dash else ""
        segments, seg = [], []
        for x, y in ln.points:
            if math.isfinite(y):
                seg.append(f"{px(x):.1f},{py(y):.1f}")
            elif seg:
                segments.append(seg)
                seg = []
        if seg:
            segments.append(seg)
        for s in segments:
            parts.append(f'<polyline points="{" ".join(s)}" fill="none" stroke="{ln.colour}" stroke-width="1.6"'
                         f'{dash}><title>{_e(ln.label)}</title></polyline>')
        if len(ln.points) <= 40:  # few points: mark each one
            parts.extend(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="2.4" fill="{ln.colour}">'
                         f"<title>{_e(ln.label)}: step {_fmt(x)}, {_fmt(y)}</title></circle>"
                         for x, y in ln.points if math.isfinite(y))
    svg = (f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{_e(title)}">{"".join(parts)}</svg>')
    return svg, notes


def _swatch(colour: str, dash: str) -> str:
    d = f' stroke-dasharray="{dash}"' if dash else ""
    return (f'<svg class="sw" width="24" height="8" viewBox="0 0 24 8"><line x1="0" y1="4" x2="24" y2="4" '
            f'stroke="{colour}" stroke-width="2"{d}/></svg>')


def charts_html(runs: list[RunData]) -> str:
    per_run = [r.series() for r in runs]
    keys: list[str] = []
    for s in per_run:
        keys.extend(k for k in s if k not in keys)
    groups = group_keys(keys)
    if not groups:
        return "<p class=note>No curves: metrics.jsonl holds no logged rows yet.</p>"
    compare = len(runs) > 1
    cells = []
    for title, members in groups.items():
        lines, legend = [], []
        for j, key in enumerate(members):
            for i, (run, s) in enumerate(zip(runs, per_run)):
                if key not in s:
                    continue
                colour = COLOURS[(i if compare else j) % len(COLOURS)]
                dash = DASHES[j % len(DASHES)] if compare else ""
                label = f"{run.name}: {key}" if compare else key
                lines.append(Line(label, colour, dash, s[key]))
                if not compare:
                    legend.append(f'<span class="key">{_swatch(colour, dash)}{_e(key)}</span>')
        if compare:  # colours are the runs, dashes the keys
            present = [i for i, s in enumerate(per_run) if any(k in s for k in members)]
            legend += [f'<span class="key">{_swatch(COLOURS[i % len(COLOURS)], "")}{_e(runs[i].name)}</span>'
                       for i in present]
            if len(members) > 1:
                legend += [f'<span class="key">{_swatch("#444", DASHES[j % len(DASHES)])}{_e(k)}</span>'
                           for j, k in enumerate(members)]
        svg, notes = svg_chart(title, lines)
        note = f'<div class="note">{_e("; ".join(notes))}</div>' if notes else ""
        cells.append(f'<div class="chart"><h3>{_e(title)}</h3>{svg}<div class="legend">{"".join(legend)}</div>'
                     f"{note}</div>")
    return f'<div class="charts">{"".join(cells)}</div>'


# -- evaluation -----------------------------------------------------------------------------------
def _metric_of(score: str):
    """The registered metric that writes ``score`` (``fid[classifier:mnist]``, ``BtoA/l1[pixels]``), or None."""
    try:
        from .metrics.registry import METRICS
    except Exception:  # (the page is still worth having without the registry's words)
        return None
    base = score.split("[", 1)[0].split(" @", 1)[0]
    parts = base.split("/")
    if len(parts) > 1 and parts[-1].isdigit():
        parts = parts[:-1]
    base = parts[-1]
    for candidate in dict.fromkeys([base] + [base.removesuffix(s) for s in ("_std", "_floor", "_real")]):
        for name in METRICS.names():
            m = METRICS.get(name)
            if candidate in m.better or candidate == m.name:
                return m
    return None


def score_facts(score: str) -> tuple[str, str, str]:
    """(extractor, compared with, better) of a score name such as ``fid_floor[classifier:mnist]``."""
    m = re.search(r"\[([^\]]*)\]", score)
    extractor = m.group(1) if m else "-"
    metric = _metric_of(score)
    base = score.split("[", 1)[0].split(" @", 1)[0].rsplit("/", 1)[-1]
    if metric is None:
        return extractor, "-", ""
    needs = metric.needs
    if "oracle" in needs:
        ref = "the oracle's own samples" if base.endswith("_floor") else "the oracle LSTM"
    elif base.endswith("_floor"):
        ref = "real test split vs train split"
    elif base.endswith("_real"):
        ref = "real test split (baseline)"
    elif metric.name == "memorization":
        ref = "train vs test split"
    elif metric.counts_real or "train_labels" in needs or metric.name == "novelty":
        ref = "train split"
    elif "targets" in needs:
        ref = "held-out pairs' targets"
    elif "reconstructions" in needs:
        ref = "the inputs (translated back)"
    elif "heldout" in needs:
        ref = "test split"
    elif "modes" in needs:
        ref = "the data's modes"
    elif "labels" in needs:
        ref = "the intended classes"
    elif "codes" in needs:
        ref = "the target domains"
    else:
        ref = "-"
    try:
        from .metrics.registry import score_direction

        higher = score_direction(score.split(" @", 1)[0])
    except Exception:
        higher = None
    return extractor, ref, "" if higher is None else ("higher" if higher else "lower")


def _eval_n(run: RunData) -> str:
    n = (run.config.get("eval") or {}).get("n")
    return f"{n:,} (eval.n)" if isinstance(n, int) else "eval.n (see config)"


def eval_html(run: RunData, notes: list[str]) -> str:
    series = run.series()
    keys = [k for k in series if k.startswith("eval/")]
    out = []
    if keys:
        rows = []
        for k in keys:
            pts = [(s, v) for s, v in series[k] if math.isfinite(v)]
            score = k[len("eval/"):]
            ext, ref, better = score_facts(score)
            if not pts:
                continue
            last_s, last_v = pts[-1]
            best = ""
            if better and len(pts) > 1:
                bs, bv = (max if better == "higher" else min)(pts, key=lambda p: p[1])
                best = f"{_fmt(bv)} (step {int(bs):,})"
            arrow = {"higher": " &#8593;", "lower": " &#8595;"}.get(better, "")
            rows.append(f"<tr><td>{_e(score)}{arrow}</td><td class=num>{_fmt(last_v)}</td><td class=num>"
                        f"{int(last_s):,}</td><td class=num>{best}</td><td>{_e(ext)}</td><td>{_e(_eval_n(run))}</td>"
                        f"<td>{_e(ref)}</td></tr>")
        out.append("<h3>During training (metrics.jsonl)</h3><table><tr><th>score</th><th>last</th><th>at step</th>"
                   "<th>best (step)</th><th>extractor</th><th>samples</th><th>compared with</th></tr>"
                   + "".join(rows) + "</table>"
                   + "<p class=note>&#8593; higher is better, &#8595; lower is better. Numbers from different "
                     "extractors are not comparable.</p>")
    for path, doc in run.eval_files:
        rows = []
        for score, v in doc["scores"].items():
            if not isinstance(v, (int, float)) or isinstance(v, bool):
                continue
            ext, ref, better = score_facts(score)
            ext = ext if ext != "-" else str(doc.get("extractor") or "-")
            arrow = {"higher": " &#8593;", "lower": " &#8595;"}.get(better, "")
            rows.append(f"<tr><td>{_e(score)}{arrow}</td><td class=num>{_fmt(float(v))}</td><td>{_e(ext)}</td>"
                        f"<td>not recorded</td><td>{_e(ref)}</td></tr>")
        info = doc.get("extractor_info") or {}
        extra = ""
        if isinstance(info, dict) and info:
            extra += ("<p class=note>extractor " + _e(str(doc.get("extractor", ""))) + ": "
                      + _e(", ".join(f"{k} {_fmt(v) if isinstance(v, float) else v}" for k, v in info.items()))
                      + "</p>")
        for note in doc.get("notes") or []:
            extra += f"<p class=note>note: {_e(str(note))}</p>"
        rel = path.relative_to(run.path).as_posix()
        out.append(f"<h3>gankit eval --json ({_e(rel)})</h3><table><tr><th>score</th><th>value</th>"
                   f"<th>extractor</th><th>samples</th><th>compared with</th></tr>{''.join(rows)}</table>{extra}")
    if run.closest_pairs is not None:
        out.append(_img(run.closest_pairs, "gankit eval: the samples closest to the training set", "wide", notes))
    if not out:
        return ("<p class=note>No evaluation: train with <code>--set eval.every=N</code> for scores in "
                "metrics.jsonl, or run <code>gankit eval RUN --json RUN/eval/scores.json</code>.</p>")
    return "".join(out)


def compare_table(runs: list[RunData]) -> str:
    """One table: a column per run, a row per fact, final (last logged) value and evaluation score."""
    per_run = [r.series() for r in runs]
    head = "<tr><th></th>" + "".join(f"<th>{_e(r.name)}</th>" for r in runs) + "</tr>"
    rows = []

    def row(label: str, cells: list[str], cls: str = "") -> None:
        rows.append(f"<tr{cls}><td>{label}</td>" + "".join(cells) + "</tr>")

    row("game", [f"<td>{_e(r.game)}</td>" for r in runs])
    row("data", [f"<td>{_e(r.data)}</td>" for r in runs])
    row("last step", [f"<td class=num>{'-' if r.last_step() is None else f'{r.last_step():,}'}</td>" for r in runs])
    flat = [flatten(r.config) for r in runs]
    for key in dict.fromkeys(k for f in flat for k in f):  # the settings in which the runs differ
        values = [f.get(key, "-") for f in flat]
        if key not in ("description", "game.name", "data.name") and len({json.dumps(v) for v in values}) > 1:
            row(f"<span class=cfg>{_e(key)}</span>", [f"<td>{_e(_short(v))}</td>" for v in values])
    keys: list[str] = []
    for s in per_run:
        keys.extend(k for k in s if k not in keys and k != "step")
    keys.sort(key=lambda k: (k.startswith("eval/"), _group_order(group_of(k) or "other"), k))
    for k in keys:
        last = []
        for s in per_run:
            pts = [v for _, v in s.get(k, []) if math.isfinite(v)]
            last.append(pts[-1] if pts else None)
        better = ""
        label = _e(k)
        if k.startswith("eval/"):
            _, _, better = score_facts(k[len("eval/"):])
            label += {"higher": " &#8593;", "lower": " &#8595;"}.get(better, "")
        known = [v for v in last if v is not None]
        best = (max(known) if better == "higher" else min(known)) if better and len(set(known)) > 1 else None
        row(label, [("<td class=num>-</td>" if v is None else
                     f"<td class=\"num{' best' if v == best else ''}\">{_fmt(v)}</td>") for v in last])
    for i, r in enumerate(runs):
        for path, doc in r.eval_files:
            for score, v in doc["scores"].items():
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    cells = ["<td class=num>-</td>"] * len(runs)
                    cells[i] = f"<td class=num>{_fmt(float(v))}</td>"
                    row(_e(f"{score} ({path.name})"), cells)
    return (f"<table class=compare>{head}{''.join(rows)}</table><p class=note>The settings in which the runs "
            f"differ (<i>italic</i>), then the last logged value of every key; eval/ rows: &#8593; higher / "
            f"&#8595; lower is better, the best of the runs in bold.</p>")


def _short(v) -> str:
    text = v if isinstance(v, str) else json.dumps(v)
    return text if len(text) <= 60 else text[:57] + "..."


# -- the page -------------------------------------------------------------------------------------
CSS = """
:root{color-scheme:light}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;padding:20px 28px;
color:#1b1b1b;background:#fff;max-width:1320px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 10px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:14px;margin:12px 0 6px}.sub{color:#555;font-size:13px;margin:0 0 8px}
.note{color:#666;font-size:12px;margin:4px 0}code{font-size:12px;background:#f3f3f3;padding:1px 3px}
figure{margin:0 10px 10px 0;display:inline-block;vertical-align:top}
figcaption{font-size:12px;color:#444;text-align:center}
img{image-rendering:pixelated;image-rendering:crisp-edges;height:auto;max-width:100%;border:1px solid #ddd}
.strip{display:flex;flex-wrap:wrap;align-items:flex-start}.strip img{width:150px}
figure.final img{width:min(100%,420px)}figure.wide img{width:auto;image-rendering:auto}
.runs{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:14px}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(380px,1fr));gap:14px}
.chart{border:1px solid #e3e3e3;border-radius:4px;padding:6px 8px}.chart h3{margin:2px 0 4px}
.chart>svg{width:100%;height:auto;display:block}
svg .plot{fill:#fcfcfc;stroke:#bbb}svg .grid{stroke:#e8e8e8}svg .ax{font-size:10px;fill:#555}
.legend{font-size:11px;line-height:1.6}.key{margin-right:10px;white-space:nowrap}.sw{vertical-align:middle;margin-right:3px}
table{border-collapse:collapse;font-size:13px;margin:4px 0}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}th{background:#f5f5f5}
.cfg{font-style:italic}td.num{text-align:right;font-variant-numeric:tabular-nums}td.best{font-weight:700}
pre{background:#f7f7f7;border:1px solid #e3e3e3;padding:8px;font-size:12px;overflow:auto;max-height:420px}
details{margin:6px 0}summary{cursor:pointer;font-size:13px}
"""
#: the page asks the browser to fetch nothing: images come from data: URIs, styles are inline
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def _e(text: str) -> str:
    return html.escape(str(text), quote=True)


def _translation_caption(run: RunData) -> str | None:
    """A translation game's words for its preview grids (its ``picture`` docstring), else None."""
    try:
        import inspect

        from .games import GAMES

        cls = GAMES.get(run.game)
        if getattr(cls, "kind", None) != "translation":
            return None
        doc = inspect.getdoc(cls.picture) or ""
        return doc.split("\n\n", 1)[0].replace("\n", " ") or None
    except Exception:  # an unknown or unimportable game: no caption
        return None


def samples_html(run: RunData, notes: list[str], final_only: bool = False) -> str:
    parts = []
    if run.final_text is not None or run.texts:  # a sequence run: text samples
        if run.final_text is not None:
            parts.append(f"<h3>final samples (samples/final.txt)</h3><pre>{_e(_read_text(run.final_text))}</pre>")
        if run.texts and not final_only:
            shown = spread(run.texts, MAX_STRIP)
            inner = "".join(f"<h3>step {s:,}</h3><pre>{_e(_read_text(p))}</pre>" for s, p in shown)
            parts.append(f"<details><summary>samples over training ({len(shown)} of {len(run.texts)} saved)"
                         f"</summary>{inner}</details>")
    if run.final is not None or run.grids:
        caption = _translation_caption(run)
        if caption:
            parts.append(f"<p class=note>A translation run: {_e(caption[:1].lower() + caption[1:])}</p>")
        parts.append(_img(run.final, "final (samples/final.png)", "final", notes))
        if run.grids and not final_only:
            shown = spread(run.grids, MAX_STRIP)
            figs = "".join(_img(p, f"step {s:,}", "", notes) for s, p in shown)
            more = f" ({len(shown)} of {len(run.grids)} saved grids)" if len(shown) < len(run.grids) else ""
            parts.append(f"<h3>over training{more}</h3><div class=strip>{figs}</div>")
    if not parts:
        return "<p class=note>No samples: samples/ holds no preview grids (train.sample_every=0?).</p>"
    return "".join(parts)


def _read_text(path: Path, max_lines: int = 200) -> str:
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    more = [f"... ({len(lines) - max_lines} more lines)"] if len(lines) > max_lines else []
    return "\n".join(lines[:max_lines] + more)


def _summary(run: RunData) -> str:
    bits = [f"game <b>{_e(run.game)}</b>", f"data <b>{_e(run.data)}</b>"]
    last = run.last_step()
    steps = (run.config.get("train") or {}).get("steps")
    if last is not None:
        bits.append(f"step {last:,}" + (f" of {steps:,}" if isinstance(steps, int) else ""))
    kimg = [r["kimg"] for r in run.rows if isinstance(r.get("kimg"), (int, float))]
    if kimg:
        bits.append(f"{kimg[-1]:,.1f}k images seen")
    desc = run.config.get("description")
    return (f'<p class=sub>{" &middot; ".join(bits)}</p>'
            + (f"<p class=sub>{_e(desc)}</p>" if isinstance(desc, str) and desc else ""))


def _config_html(run: RunData) -> str:
    if run.config_text is None:
        return "<p class=note>no config.yaml</p>"
    return f"<details><summary>config.yaml</summary><pre>{_e(run.config_text)}</pre></details>"


def _names(runs: list[RunData]) -> None:
    """Unique names: the directory name, with its parent where two runs share one."""
    seen: dict[str, int] = {}
    for r in runs:
        seen[r.name] = seen.get(r.name, 0) + 1
    for r in runs:
        if seen[r.name] > 1:
            r.name = f"{r.path.resolve().parent.name}/{r.name}"


def build_report(paths: Sequence[str | Path]) -> str:
    """The HTML page of the runs at ``paths`` (one: that run; several: side by side, the first one first)."""
    if not paths:
        raise GankitError("give a run directory")
    resolved = [resolve_run(p).resolve() for p in paths]
    for i, p in enumerate(resolved):
        if p in resolved[:i]:
            raise GankitError(f"{str(paths[i])!r} is given twice")
    runs = [read_run(p) for p in paths]
    _names(runs)
    from . import __version__

    notes: list[str] = []
    compare = len(runs) > 1
    title = ("gankit report: " + " vs ".join(r.name for r in runs)) if compare else f"gankit report: {runs[0].name}"
    body = [f"<h1>{_e(title)}</h1>"]
    if compare:
        body.append("<p class=sub>" + " &middot; ".join(f"{_e(r.name)}: {_e(r.game)} on {_e(r.data)}" for r in runs)
                    + "</p>")
        body.append("<h2>Final values</h2>" + compare_table(runs))
        body.append("<h2>Samples</h2><div class=runs>" + "".join(
            f"<div><h3>{_e(r.name)}</h3>{samples_html(r, notes, final_only=True)}</div>" for r in runs) + "</div>")
        body.append("".join(f"<details><summary>{_e(r.name)}: samples over training</summary>"
                            f"{samples_html(r, notes)}</details>" for r in runs))
        body.append("<h2>Curves</h2>" + charts_html(runs))
        body.append("<h2>Evaluation</h2>" + "".join(f"<h3>{_e(r.name)}</h3>{eval_html(r, notes)}" for r in runs))
        body.append("<h2>Config</h2>" + "".join(f"<h3>{_e(r.name)}</h3>{_config_html(r)}" for r in runs))
    else:
        run = runs[0]
        body.append(_summary(run))
        body.append("<h2>Samples</h2>" + samples_html(run, notes))
        body.append("<h2>Curves</h2>" + charts_html(runs))
        body.append("<h2>Evaluation</h2>" + eval_html(run, notes))
        body.append("<h2>Config</h2>" + _config_html(run))
    for r in runs:
        notes.extend(f"{r.name}: {n}" for n in r.notes)
    if notes:
        body.append("<h2>Notes</h2>" + "".join(f"<p class=note>{_e(n)}</p>" for n in notes))
    stamp = time.strftime("%Y-%m-%d %H:%M")
    body.append(f"<p class=note>Written by gankit {__version__} on {stamp} from "
                + ", ".join(f"<code>{_e(str(r.path))}</code>" for r in runs)
                + ". This page is self-contained: it loads nothing from anywhere.</p>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)}</title><style>{CSS}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def write_report(run: str | Path, out: str | Path | None = None, compare: Sequence[str | Path] = ()) -> Path:
    """Write the report of ``run`` (and the runs of ``compare``, side by side) to ``out`` (default
    RUN/report.html; a folder: FOLDER/report.html); returns its path."""
    first = resolve_run(run)
    target = first / "report.html" if out is None else Path(out)
    if target.is_dir():
        target = target / "report.html"
    if target.suffix.lower() not in (".html", ".htm"):
        raise GankitError(f"--out {str(out)!r}: give a file name ending in .html")
    for p in (target.parent, *target.parent.parents):
        if p.exists():
            if not p.is_dir():
                raise GankitError(f"--out {str(out)!r}: {str(p)!r} is a file, not a folder")
            break
    page = build_report([run, *compare])
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target
