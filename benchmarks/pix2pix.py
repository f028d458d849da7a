"""pix2pix's loss ablation (Isola et al. 2017, Table 1; Table 3's patch sizes) on edges2fashion at 32 px.

Every row trains the preset ``pix2pix-edges2fashion`` as shipped (4,000 steps, batch 32, U-Net width 32,
16x16 PatchGAN, λ = 100, the learning rates ramped down over the second half) with one setting changed,
from the same seed, one row after another in this process. Each is then scored on the first ``--n``
held-out pairs (Fashion-MNIST's test split) with ``gankit.api.evaluate_run`` and the dataset classifier:
L1, SSIM and PSNR against the paired targets; FID[classifier:fashion-mnist] of the translations against
the train split's garments (with its floor, the real test split's FID); and the classifier's accuracy on
the translations read as their targets' classes (``class_acc``, this toolkit's analogue of the paper's
FCN-score: does a recogniser trained on real images see the right thing?) next to its accuracy on the
real targets (``class_acc_targets``, the ceiling). The real targets themselves are scored the same
way as a reference row (FID at the same n: the finite-sample part of every FID in the table).

Rows (``--rows``, comma-separated; the default is Table 1's three):

    l1        L1 alone                      game.adversarial=false
    cgan      the conditional GAN alone     game.lambda_l1=0
    l1+cgan   L1 + cGAN, λ = 100            (the preset as is)
    l1+gan    L1 + unconditional GAN        game.conditional_d=false
    pixelgan  L1 + cGAN, 1x1 D (PixelGAN)   model.d.patch=pixel
    imagegan  L1 + cGAN, whole-image D      model.d.patch=image

Resumable: a row whose run folder (``--out``/ROW) holds checkpoints/last.pt at the full step count
with the same settings is reused, an interrupted one is resumed from its last checkpoint, and a row
already scored (ROW/benchmark.json) is not scored again; ``--fresh`` retrains the rows asked for.
The results file reports every row finished under ``--out`` with these settings (rows run earlier,
e.g. the extra ones, stay in the table), the commands that produced them, the time each took, one
grid of the same 8 held-out inputs (input | L1 | cGAN | L1+cGAN | target; with extra rows also a
second grid with every row), and the verdict against the goal. A section "## Reading the results"
already in the results file is kept (it is written by hand: re-read it after rerunning).

    python benchmarks/pix2pix.py                                    # Table 1's three rows: ~15 min on 2 cores
    python benchmarks/pix2pix.py --rows l1+gan,pixelgan,imagegan    # add the extra rows to the same table
    python benchmarks/pix2pix.py --steps 20 --n 200 --out runs/pix2pix-smoke --results /tmp/pix2pix-smoke
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import shutil
import sys
import time
from pathlib import Path
from typing import NamedTuple

# Idle OpenMP threads sleep instead of spinning (before torch starts its OpenMP runtime). On a shared
# 2-core machine a 2-thread run otherwise burns its time slices spinning at every barrier while the
# other process holds a core: measured here with another 2-thread process running, 32 img/s for the
# preset's step with the default policy against 395 img/s with PASSIVE. It changes no numbers, only
# the scheduling; an OMP_WAIT_POLICY already in the environment is kept. (Only when run as a script: the
# tests import this file into their own process.)
if __name__ == "__main__":
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent / "src"))

PRESET = "pix2pix-edges2fashion"
METRICS = ["l1", "ssim", "psnr", "fid", "accuracy"]
GRID_INPUTS = 8
RESULTS_NAME = "pix2pix"
READING = "## Reading the results"


class Row(NamedTuple):  # (not a dataclass: the tests load this script without registering it as a module)
    label: str                     # the paper's name for the row
    overrides: tuple[str, ...]     # on top of the preset
    what: str                      # one line for the table's notes


ROWS: dict[str, Row] = {
    "l1": Row("L1", ("game.adversarial=false",), "L1 alone, no discriminator"),
    "cgan": Row("cGAN", ("game.lambda_l1=0",), "the conditional GAN alone (λ = 0)"),
    "l1+cgan": Row("L1+cGAN", (), "the preset as is (λ = 100, conditional 16x16 PatchGAN)"),
    "l1+gan": Row("L1+GAN", ("game.conditional_d=false",), "D judges the output alone (Table 1's unconditional GAN)"),
    "pixelgan": Row("L1+cGAN, 1x1 D", ("model.d.patch=pixel",), "Table 3's PixelGAN: D judges single pixels"),
    "imagegan": Row("L1+cGAN, image D", ("model.d.patch=image",), "Table 3's ImageGAN: D's field covers the whole image"),
}
MAIN_ROWS = ("l1", "cgan", "l1+cgan")


# ---------------------------------------------------------------------------------------------------
# Pure helpers (tested in tests/test_pix2pix_benchmark.py)
# ---------------------------------------------------------------------------------------------------

def parse_rows(text: str) -> list[str]:
    keys = [k.strip().lower() for k in text.split(",") if k.strip()]
    bad = [k for k in keys if k not in ROWS]
    if bad or not keys:
        raise SystemExit(f"--rows: unknown row(s) {', '.join(bad) or '(none)'}; choose from {', '.join(ROWS)}")
    return list(dict.fromkeys(keys))


def grid_indices(labels: torch.Tensor, k: int = GRID_INPUTS) -> list[int]:
    """The first ``k`` held-out pairs of distinct classes, in the split's order (a fixed rule, chosen
    before any result: the first 8 pairs of the test split hold three pairs of trousers); topped up
    with the earliest remaining pairs if there are fewer than ``k`` classes."""
    seen, picked = set(), []
    for i, y in enumerate(labels.tolist()):
        if y not in seen:
            seen.add(y)
            picked.append(i)
            if len(picked) == k:
                return picked
    rest = [i for i in range(len(labels)) if i not in set(picked)]
    return (picked + rest)[:k]


def grid_columns(inputs: torch.Tensor, outputs: list[torch.Tensor], targets: torch.Tensor) -> torch.Tensor:
    """One row per input, columns input | outputs... | target: (N * (len(outputs) + 2), C, H, W) in
    row-major order (for save_image_grid with nrow = len(outputs) + 2); single-channel columns are
    repeated to the widest column's channels."""
    cols = [inputs, *outputs, targets]
    n = len(inputs)
    if any(len(c) != n for c in cols):
        raise ValueError(f"every column needs {n} images, got {[len(c) for c in cols]}")
    c = max(col.shape[1] for col in cols)
    cols = [col.float().cpu().expand(-1, c, -1, -1) if col.shape[1] != c else col.float().cpu() for col in cols]
    return torch.stack(cols, 1).flatten(0, 1)


def correctness(probs: torch.Tensor, labels: torch.Tensor) -> str:
    """Per pair, whether the classifier's top class is the target's: "0"/"1" characters (compact in JSON)."""
    if len(probs) != len(labels):
        raise ValueError(f"{len(probs)} predictions for {len(labels)} labels")
    return "".join("1" if c else "0" for c in (probs.argmax(1).cpu() == labels.cpu()).tolist())


def bootstrap(correct: dict[str, str], draws: int = 2000, seed: int = 0) -> dict[str, torch.Tensor]:
    """Resamples of the held-out pairs (the same pairs for every row: the rows are paired): each row's
    class accuracy over ``draws`` resamples of its per-pair correctness strings (one length for all)."""
    lengths = {len(v) for v in correct.values()}
    if len(lengths) != 1:
        raise ValueError(f"correctness strings of different lengths: {sorted(lengths)}")
    n = lengths.pop()
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, n, (draws, n), generator=g)
    out = {}
    for k, v in correct.items():
        c = torch.tensor([ch == "1" for ch in v], dtype=torch.float64)
        out[k] = c[idx].mean(1)
    return out


def interval(values: torch.Tensor, level: float = 0.95) -> tuple[float, float]:
    """The central ``level`` percentile interval of bootstrap ``values``."""
    lo, hi = torch.quantile(values, torch.tensor([(1 - level) / 2, (1 + level) / 2], dtype=values.dtype)).tolist()
    return lo, hi


def _score(scores: dict, name: str) -> float:
    """``scores[name]`` whatever its bracketed extractor tag (``fid[classifier:fashion-mnist]``), or NaN."""
    for k, v in scores.items():
        if k.split("[")[0] == name:
            return float(v)
    return float("nan")


def _fmt(v: float, digits: int) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if math.isinf(v):
        return "∞"
    return f"{v:.{digits}f}"


TABLE_HEAD = ("| row | Table 1/3 name | overrides | steps | CPU s | wall s | eval s | L1 ↓ | SSIM ↑ | PSNR dB ↑ | "
              "FID ↓ | class acc ↑ | of real targets' |")
TABLE_RULE = "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"


def format_table(results: list[dict], reference: dict | None = None) -> list[str]:
    """Markdown table lines: one row per finished variant (``results``: benchmark.json contents, in
    order), then the real targets scored the same way (``reference``), if given. A failed row shows
    its failure instead of scores."""
    lines = [TABLE_HEAD, TABLE_RULE]
    for r in results:
        over = ", ".join(f"`{o}`" for o in r["overrides"]) or "(preset)"
        head = f"| {r['row']} | {r['label']} | {over} | {r.get('steps') or '–'} | "
        if r.get("status", "ok") != "ok":
            lines.append(head + f"{_fmt(r.get('cpu_seconds'), 0)} | {_fmt(r.get('train_seconds'), 0)} | – | "
                         f"**{r['status']}** | – | – | – | – | – |")
            continue
        s = r["scores"]
        acc, ceil = _score(s, "class_acc"), _score(s, "class_acc_targets")
        lines.append(head + f"{_fmt(r['cpu_seconds'], 0)} | {_fmt(r['train_seconds'], 0)} | "
                     f"{_fmt(r['eval_seconds'], 0)} | {_fmt(_score(s, 'l1'), 4)} | {_fmt(_score(s, 'ssim'), 4)} | "
                     f"{_fmt(_score(s, 'psnr'), 2)} | {_fmt(_score(s, 'fid'), 2)} | {_fmt(100 * acc, 1)}% | "
                     f"{_fmt(100 * acc / ceil, 1) if ceil > 0 else '–'}% |")
    if reference is not None:
        s = reference["scores"]
        lines.append(f"| real targets | ground truth | – | – | – | – | – | 0 | 1 | ∞ | {_fmt(_score(s, 'fid'), 2)} | "
                     f"{_fmt(100 * _score(s, 'class_acc'), 1)}% | 100% |")
    return lines


def _pct_interval(values: torch.Tensor, signed: bool = False) -> str:
    lo, hi = interval(values)
    return f"{100 * lo:+.1f} to {100 * hi:+.1f}" if signed else f"{100 * lo:.1f}–{100 * hi:.1f}%"


def verdict(by_row: dict[str, dict], reference: dict | None = None) -> list[str]:
    """The goal, checked on the numbers: "L1 + cGAN has a lower FID than L1 only and a classifier
    accuracy of at least 90% of the real targets'", and the paper's ordering (L1+cGAN best on the
    recognition score, here class_acc; FID alongside). Lines of markdown. With per-pair correctness
    in every main row and in ``reference`` (the real targets), the accuracy claims carry 95% bootstrap
    intervals over the held-out pairs (not over training seeds)."""
    ok = {k: r for k, r in by_row.items() if r.get("status", "ok") == "ok"}
    missing = [k for k in MAIN_ROWS if k not in ok]
    if missing:
        return [f"- Not judged: row(s) {', '.join(missing)} missing or failed."]
    sc = {k: r["scores"] for k, r in ok.items()}
    fid = {k: _score(s, "fid") for k, s in sc.items()}
    acc = {k: _score(s, "class_acc") for k, s in sc.items()}
    ceil = _score(sc["l1+cgan"], "class_acc_targets")
    lower = fid["l1+cgan"] < fid["l1"]
    ratio = acc["l1+cgan"] / ceil if ceil > 0 else float("nan")
    enough = ratio >= 0.9
    met = lower and enough
    boot = None
    if reference is not None and "correct" in reference and all("correct" in ok[k] for k in MAIN_ROWS):
        boot = bootstrap({**{k: ok[k]["correct"] for k in MAIN_ROWS}, "targets": reference["correct"]})
    ratio_ci = f" (95% interval over the held-out pairs {_pct_interval(boot['l1+cgan'] / boot['targets'])})" \
        if boot is not None else ""
    out = [
        f"- FID: L1+cGAN {fid['l1+cgan']:.2f} vs L1 alone {fid['l1']:.2f}: "
        + ("lower, **met**." if lower else "not lower, **not met**."),
        f"- Classifier accuracy of L1+cGAN: {100 * acc['l1+cgan']:.1f}% against {100 * ceil:.1f}% on the real targets "
        f"= {100 * ratio:.1f}% of the ceiling{ratio_ci} (goal ≥ 90%): " + ("**met**." if enough else "**not met**."),
        f"- Goal (both): **{'met' if met else 'not met'}**.",
    ]
    main = {k: acc[k] for k in MAIN_ROWS}
    best_acc = max(main, key=main.get)
    best_fid = min(MAIN_ROWS, key=lambda k: fid[k])
    order_acc = " > ".join(f"{ROWS[k].label} {100 * main[k]:.1f}%" for k in sorted(main, key=main.get, reverse=True))
    order_fid = " < ".join(f"{ROWS[k].label} {fid[k]:.2f}" for k in sorted(MAIN_ROWS, key=lambda k: fid[k]))
    paper = best_acc == "l1+cgan"
    if paper:
        judged = "L1+cGAN is best on class accuracy: **reproduced**"
    else:
        judged = f"{ROWS[best_acc].label} beats L1+cGAN on class accuracy: **not reproduced**"
    judged += ", and best on FID too." if best_fid == "l1+cgan" else f"; on FID {ROWS[best_fid].label} is best."
    out.append(f"- The paper's ordering (L1+cGAN best on the recognition score): class accuracy {order_acc}; "
               f"FID {order_fid}. {judged}")
    if boot is not None:
        diffs = "; ".join(f"L1+cGAN − {ROWS[k].label} {100 * (acc['l1+cgan'] - acc[k]):+.1f} points "
                          f"({_pct_interval(boot['l1+cgan'] - boot[k], signed=True)})" for k in ("cgan", "l1"))
        out.append(f"- Class-accuracy differences on the same pairs, with 95% bootstrap intervals over the "
                   f"{len(reference['correct'])} held-out pairs (one training seed: seed-to-seed spread not included): "
                   f"{diffs}.")
    return out


# ---------------------------------------------------------------------------------------------------
# Training and scoring
# ---------------------------------------------------------------------------------------------------

def common_overrides(steps: int | None, seed: int, threads: int) -> list[str]:
    out = [f"seed={seed}", f"train.threads={threads}", "train.sample_every=0", "train.progress=false",
           "train.tensorboard=false"]
    return out + ([f"train.steps={steps}"] if steps is not None else [])


def _normal_config(cfg_dict: dict) -> dict:
    from gankit.config import from_dict, load_config

    d = load_config(None, base=from_dict(cfg_dict)).to_dict()
    d["train"].pop("threads", None)  # how fast, not what: a run resumed with other threads is the same run
    return d


def _diff(a: dict, b: dict, prefix: str = "") -> list[str]:
    keys = sorted(set(a) | set(b))
    out = []
    for k in keys:
        va, vb = a.get(k), b.get(k)
        if isinstance(va, dict) and isinstance(vb, dict):
            out += _diff(va, vb, f"{prefix}{k}.")
        elif va != vb:
            out.append(f"{prefix}{k}: {va!r} (run) vs {vb!r} (asked)")
    return out


def _recent_losses(run: Path, fraction: float = 0.1) -> dict[str, float]:
    """Means of the logged training scalars over the last ``fraction`` of the run (what the players
    were doing at the end: a D that wins outright, an L1 that stopped falling)."""
    path = run / "metrics.jsonl"
    if not path.is_file():
        return {}
    recs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    recs = [r for r in recs if "loss/G" in r]
    if not recs:
        return {}
    tail = recs[-max(1, int(len(recs) * fraction)):]
    keys = [k for k in ("loss/L1", "loss/G_adv", "loss/D", "D(real)", "D(fake)") if k in tail[-1]]
    return {k: sum(float(r[k]) for r in tail if k in r) / len(tail) for k in keys}


def train_row(key: str, run: Path, overrides: list[str], fresh: bool) -> dict:
    """Train (or reuse, or resume) one row; returns its training record."""
    from gankit.api import train
    from gankit.config import load_config
    from gankit.errors import TrainingDiverged
    from gankit.train.checkpoint import load_checkpoint

    asked = load_config(PRESET, overrides)
    last = run / "checkpoints" / "last.pt"
    if fresh and run.exists():
        shutil.rmtree(run)
    t0, c0 = time.perf_counter(), time.process_time()
    status, resumed = "ok", False
    if last.is_file():
        state = load_checkpoint(last)
        diff = _diff(_normal_config(state["config"]), _normal_config(asked.to_dict()))
        if diff:
            raise SystemExit(f"{key}: {run} holds a run with other settings ({'; '.join(diff[:4])}); "
                             f"use --fresh to retrain it, or another --out")
        if int(state["step"]) >= asked.train.steps:
            print(f"[{key}] reusing {run} (step {state['step']})", flush=True)
            return {"reused": True, "status": "ok", "steps": int(state["step"]),
                    "cpu_seconds": float(state.get("cpu_seconds", float("nan"))),
                    "train_seconds": float(state.get("train_seconds", float("nan"))), "setup_seconds": None}
        print(f"[{key}] resuming {run} from step {state['step']}", flush=True)
        resumed = True
    elif run.exists():
        shutil.rmtree(run)  # a run that died before its first checkpoint: nothing to keep
    print(f"[{key}] training {PRESET} {' '.join(overrides)} -> {run}", flush=True)
    try:
        summary = train(resume=run, overrides=[o for o in overrides if o.startswith("train.threads")]) if resumed \
            else train(PRESET, overrides, out=run)
    except TrainingDiverged as e:
        status, summary = "diverged", None
        print(f"[{key}] {e}", flush=True)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    if summary is None:
        return {"reused": False, "status": status, "error": "training diverged (NaN/inf loss)", "steps": None,
                "cpu_seconds": cpu, "train_seconds": wall, "setup_seconds": None}
    return {"reused": False, "resumed": resumed, "status": status, "steps": int(summary["steps"]),
            "cpu_seconds": float(summary["cpu_seconds"]), "train_seconds": float(summary["train_seconds"]),
            # data loading and model building around the training loop (this session only)
            "setup_seconds": max(0.0, wall - float(summary["seconds"]))}


def score_row(run: Path, n: int) -> dict:
    from gankit.api import evaluate_run

    t0, c0 = time.perf_counter(), time.process_time()
    res = evaluate_run(run, metrics=METRICS, n=n, extractor="classifier")
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"scores": dict(res.scores), "info": dict(res.info), "notes": list(res.notes),
            "eval_seconds": seconds, "eval_cpu_seconds": cpu,
            "correct": correctness(res.fake_features[1], heldout_labels(run, n))}


def heldout_labels(run: Path, n: int) -> torch.Tensor:
    """The classes of the first ``n`` held-out pairs: the pairs evaluate_run scores, in its order."""
    import dataclasses

    from gankit.config import from_dict, load_config
    from gankit.data import load_data
    from gankit.train.checkpoint import load_checkpoint

    cfg = load_config(None, base=from_dict(load_checkpoint(run / "checkpoints" / "last.pt")["config"]))
    return load_data(dataclasses.replace(cfg.data, split="test")).labels[:n]


def score_real_targets(run: Path, n: int) -> dict:
    """The first ``n`` held-out targets scored as if they were a row's translations (FID and class
    accuracy at the same n, through the same code as evaluate_run)."""
    import dataclasses

    from gankit.api import load_run
    from gankit.data import load_data
    from gankit.metrics.evaluate import evaluate
    from gankit.metrics.extractors import build_extractor

    r = load_run(run)
    cfg, game = r.cfg, r.game
    train = load_data(dataclasses.replace(cfg.data, split="train"))
    held = load_data(dataclasses.replace(cfg.data, split="test"))
    _, extra = game.eval_inputs(held, n, 0)
    ref_cfg = dataclasses.replace(cfg.data, name=game.output_source(cfg.data))
    ext = build_extractor("classifier", ref_cfg, "cpu")
    res = evaluate(extra["targets"], ref_cfg, ext, ["fid", "accuracy"], train=game.output_data(train),
                   heldout=game.output_data(held), labels=extra["labels"], targets=extra["targets"])
    return {"n": len(extra["targets"]), "scores": dict(res.scores), "info": dict(res.info),
            "correct": correctness(res.fake_features[1], extra["labels"])}


def heldout_grid_inputs(cfg) -> tuple[torch.Tensor, torch.Tensor, list[int], list[int]]:
    """The grid's held-out pairs: inputs, targets, their indices in the test split and their classes."""
    import dataclasses

    from gankit.data import load_data

    held = load_data(dataclasses.replace(cfg.data, split="test"))
    idx = grid_indices(held.labels)
    b = held.batch(torch.tensor(idx))
    return b["A"], b["B"], idx, b["y"].tolist()


# ---------------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------------

def machine() -> str:
    from gankit.utils.machine import describe_machine

    return describe_machine()


def d_fields(resolution: int) -> str:
    """The PatchGAN's receptive field for each ``model.d.patch`` at ``resolution`` (what Table 3's rows vary)."""
    from gankit.nets import translate as T

    layers = {"auto": T.auto_layers(resolution), "pixel": 0, "image": T.whole_image_layers(resolution)}
    f = {k: T.receptive_field(v) for k, v in layers.items()}
    return (f"D's receptive field {f['auto']}x{f['auto']} px (`patch=auto`, the preset), {f['pixel']}x{f['pixel']} "
            f"(`pixel`), {f['image']}x{f['image']} (`image`: covers the {resolution} px image)")


def write_report(path: Path, grid_dir: Path, results: list[dict], reference: dict | None, grids: list[str],
                 grid_idx: list[int], grid_labels: list[int], n: int, steps: int, started: str, total: float) -> None:
    from gankit.config import load_config

    c = load_config(PRESET)
    by_row = {r["row"]: r for r in results}
    cmds = list(dict.fromkeys(r["command"] for r in results))
    finished = sorted(r["finished"] for r in results if r.get("finished"))
    span = f"{finished[0][:16]} to {finished[-1][:16]}" if len(finished) > 1 else (finished[0][:16] if finished else "–")
    busy = sum((r.get("train_seconds") or 0) + (r.get("setup_seconds") or 0) + (r.get("eval_seconds") or 0)
               for r in results)
    machines = list(dict.fromkeys(r["machine"] for r in results))
    threads = sorted({r["threads"] for r in results})
    ok = [r for r in results if r.get("status", "ok") == "ok"]
    first = ok[0] if ok else None
    floor = _score(first["scores"], "fid_floor") if first else float("nan")
    clf = first["info"] if first else {}
    lines = [
        "# pix2pix: the loss ablation (Table 1 of Isola et al. 2017) on edges2fashion at 32 px",
        "",
        "Command" + ("s" if len(cmds) > 1 else "") + ": " + ", then ".join(f"`{c_}`" for c_ in cmds)
        + f". Rows finished {span}; their training and scoring took {busy / 60:.0f} min of wall time in all "
        f"({len(results)} row{'s' if len(results) != 1 else ''}, one at a time). This report written "
        f"{time.strftime('%Y-%m-%d %H:%M')} by an invocation that started {started} and took {total / 60:.0f} min "
        "(rows already finished are reused, not retrained).",
        "",
        f"Machine: {'; '.join(machines)}; torch threads per row: {', '.join(map(str, threads))}, OpenMP wait "
        f"policy {', '.join(sorted({str(r.get('omp_wait_policy')) for r in results}))} (idle threads sleep rather "
        "than spin: see the script). Rows ran one after another in one process; the machine was shared with "
        "another engineer's test runs, so wall time (and CPU time, somewhat) depends on the moment; the load "
        "average at each row's start and end is in its benchmark.json.",
        "",
        f"Every row: preset `{PRESET}` ({c.data.name} {c.data.resolution} px: Fashion-MNIST garments from their "
        f"edge maps; U-Net G width {c.model.g.width}, {c.model.g.norm} norm, dropout {c.model.g.dropout} (off when "
        f"translating); PatchGAN D width {c.model.d.width}; {c.loss.name} loss with the {c.loss.g_cost} G cost; "
        f"{d_fields(c.data.resolution)}; "
        f"Adam {c.optim.default.lr:g}, betas {tuple(c.optim.default.betas)}, ramped down over the last "
        f"{100 * c.optim.default.ramp_down:.0f}%; batch {c.train.batch_size}; {steps} steps; seed "
        f"{results[0]['seed'] if results else 0}) with one setting changed, scored with "
        f"`gankit.api.evaluate_run(run, metrics={METRICS}, n={n}, extractor=\"classifier\")` on the first {n} "
        "held-out pairs (the test split's edge maps → garments). L1 (mean |error| in [-1, 1] units), SSIM and "
        "PSNR are against the paired targets; FID[classifier:fashion-mnist] compares the translations with the "
        "60,000 training garments in the dataset classifier's feature space"
        + (f" (the real test split scores {floor:.2f}: the floor at n = 10,000)" if first else "")
        + "; class acc is that classifier's accuracy on the translations read as their targets' classes"
        + (f" (the classifier: {100 * clf.get('accuracy', float('nan')):.1f}% on the real test split at its own "
           "28 px; the 32 px targets score lower, see the ceiling)" if clf else "")
        + ", the toolkit's analogue of the paper's FCN-score; \"of real targets'\" divides it by the same "
        "classifier's accuracy on the real targets (the ceiling). CPU s and wall s: the training loop "
        "(process CPU time over all threads, and elapsed time); eval s: the scoring's elapsed time (the first "
        "scoring on a fresh machine also trains and caches the classifier and the reference statistics).",
        "",
        *format_table(results, reference),
        "",
    ]
    if reference is not None:
        lines += [f"The last row scores the first {reference['n']} real held-out targets themselves with the same code: "
                  f"FID {_score(reference['scores'], 'fid'):.2f} is what a perfect translator would get at n = "
                  f"{reference['n']} (the finite-sample part of every FID above).", ""]
    failed = [r for r in results if r.get("status", "ok") != "ok"]
    for r in failed:
        lines += [f"Row {r['row']} **failed**: {r.get('error', r['status'])}.", ""]
    lines += ["End of training (means of the logged values over the last 10% of the steps; D(·) is D's mean "
              "probability of \"real\" over its patches):", "",
              "| row | L1 (train batch) | G adversarial | D loss | D(real) | D(fake) |",
              "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in ok:
        e = r.get("end_of_training", {})
        lines.append(f"| {r['row']} | " + " | ".join(_fmt(e.get(k, float("nan")), 3) for k in
                                                      ("loss/L1", "loss/G_adv", "loss/D", "D(real)", "D(fake)")) + " |")
    lines.append("")
    for r in ok:
        for note in r.get("notes", []):
            lines.append(f"Note ({r['row']}): {note}")
    names = {0: "T-shirt/top", 1: "trouser", 2: "pullover", 3: "dress", 4: "coat", 5: "sandal", 6: "shirt",
             7: "sneaker", 8: "bag", 9: "ankle boot"}
    picked = ", ".join(f"#{i} ({names.get(y, y)})" for i, y in zip(grid_idx, grid_labels))
    lines += ["", "## Grids", "",
              f"The same {len(grid_idx)} held-out pairs in every column: the first pair of each new class in the test "
              f"split's order ({picked}). Translations are deterministic (G in eval mode, dropout off).", ""]
    for g in grids:
        rel = (grid_dir / g).relative_to(path.parent)
        cols = "input | L1 | cGAN | L1+cGAN | target" if g == "table1.png" else \
            "input | " + " | ".join(ROWS[r["row"]].label for r in ok) + " | target"
        lines += [f"Columns {cols}:", "", f"![{g}]({rel.as_posix()})", ""]
    lines += ["## Verdict", "",
              "Goal: \"L1 + cGAN has a lower FID than L1 only and a classifier accuracy of at least 90% of the real "
              "targets'; the paper's ordering (L1+cGAN best on its FCN-score) reproduced or the difference explained\".",
              "", *verdict(by_row, reference), ""]
    kept = ""
    if path.is_file():
        old = path.read_text()
        if READING in old:
            kept = old[old.index(READING):]
    text = "\n".join(lines) + ("\n" + kept if kept else "")
    path.write_text(text.rstrip("\n") + "\n")


# ---------------------------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", default=",".join(MAIN_ROWS), help=f"comma-separated rows to run, of {', '.join(ROWS)}")
    ap.add_argument("--steps", type=int, default=None, help="training steps per row (default: the preset's 4000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2, help="torch threads (train.threads)")
    ap.add_argument("--n", type=int, default=2000, help="held-out pairs scored per row")
    ap.add_argument("--fresh", action="store_true", help="retrain the rows asked for, discarding their runs")
    ap.add_argument("--out", default="runs/pix2pix-ablation", help="where the run folders go (one per row)")
    ap.add_argument("--results", default=str(ROOT / "results"), help="folder of pix2pix.md and pix2pix/*.png")
    args = ap.parse_args()
    keys = parse_rows(args.rows)
    if args.steps is not None and args.steps < 1:
        raise SystemExit("--steps must be >= 1")
    torch.set_num_threads(args.threads)

    from gankit.api import load_run
    from gankit.config import load_config
    from gankit.utils.images import save_image_grid

    out, results_dir = Path(args.out), Path(args.results)
    out.mkdir(parents=True, exist_ok=True)
    grid_dir = results_dir / RESULTS_NAME
    steps = args.steps if args.steps is not None else load_config(PRESET).train.steps
    command = shlex.join(["python", "benchmarks/pix2pix.py", *sys.argv[1:]])
    started, t_start = time.strftime("%Y-%m-%d %H:%M"), time.perf_counter()

    for key in keys:
        row = ROWS[key]
        run = out / key
        overrides = common_overrides(args.steps, args.seed, args.threads) + list(row.overrides)
        record_path = run / "benchmark.json"
        old = json.loads(record_path.read_text()) if record_path.is_file() and not args.fresh else None
        if old and old.get("steps_asked") == steps and old.get("seed") == args.seed and old.get("n") == args.n:
            if old.get("status") != "ok":
                print(f"[{key}] recorded as {old['status']} (rerun it with --fresh)", flush=True)
                continue
            ckpt = run / "checkpoints" / "last.pt"
            if ckpt.is_file() and old.get("steps") == steps and "correct" in old:
                print(f"[{key}] already trained and scored: {record_path}", flush=True)
                continue
        load0 = os.getloadavg()[0]
        rec = train_row(key, run, overrides, args.fresh)
        record = {"row": key, "label": row.label, "overrides": list(row.overrides), "seed": args.seed,
                  "steps_asked": steps, "n": args.n, "threads": args.threads, "command": command,
                  "machine": machine(), "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"), "load_start": load0,
                  **rec}
        if rec["status"] == "ok":
            print(f"[{key}] trained: {rec['steps']} steps, {rec['cpu_seconds']:.0f} CPU s, "
                  f"{rec['train_seconds']:.0f} s wall; scoring {args.n} held-out pairs", flush=True)
            record.update(score_row(run, args.n))
            record["end_of_training"] = _recent_losses(run)
            s = record["scores"]
            bad = [k for k, v in s.items() if isinstance(v, float) and math.isnan(v)]
            if bad:
                record["status"], record["error"] = "NaN scores", f"NaN in {', '.join(bad)}"
            print(f"[{key}] L1 {_score(s, 'l1'):.4f}  SSIM {_score(s, 'ssim'):.4f}  PSNR {_score(s, 'psnr'):.2f}  "
                  f"FID {_score(s, 'fid'):.2f}  class acc {100 * _score(s, 'class_acc'):.1f}% "
                  f"(targets {100 * _score(s, 'class_acc_targets'):.1f}%)  [{record['eval_seconds']:.0f} s]", flush=True)
        record["load_end"] = os.getloadavg()[0]
        record["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
        if rec.get("reused") and old and old.get("steps") == rec["steps"]:
            # rescored only: keep how and when it was trained (command, machine, load, setup time)
            for k in ("command", "machine", "omp_wait_policy", "threads", "load_start", "load_end", "setup_seconds",
                      "finished", "resumed"):
                if k in old:
                    record[k] = old[k]
            record["rescored"] = time.strftime("%Y-%m-%d %H:%M:%S")
        run.mkdir(parents=True, exist_ok=True)
        record_path.write_text(json.dumps(record, indent=1))

    # every row finished under --out with these settings, in the table's order
    results = []
    for key in ROWS:
        p = out / key / "benchmark.json"
        if p.is_file():
            r = json.loads(p.read_text())
            if r.get("steps_asked") == steps and r.get("seed") == args.seed and r.get("n") == args.n:
                results.append(r)
    ok = [r for r in results if r.get("status", "ok") == "ok"]
    if not results:
        raise SystemExit("no finished rows to report")

    reference = None
    ref_path = out / f"real-targets-n{args.n}.json"
    if ok:
        if ref_path.is_file():
            reference = json.loads(ref_path.read_text())
        if reference is None or "correct" not in reference:
            reference = score_real_targets(out / ok[0]["row"], args.n)
            ref_path.write_text(json.dumps(reference, indent=1))

    grids, grid_idx, grid_labels = [], [], []
    if ok:
        cfg = load_run(out / ok[0]["row"]).cfg
        inputs, targets, grid_idx, grid_labels = heldout_grid_inputs(cfg)
        translated = {r["row"]: load_run(out / r["row"]).generate({"A": inputs}) for r in ok}
        grid_dir.mkdir(parents=True, exist_ok=True)
        if all(k in translated for k in MAIN_ROWS):
            save_image_grid(grid_columns(inputs, [translated[k] for k in MAIN_ROWS], targets),
                            grid_dir / "table1.png", nrow=len(MAIN_ROWS) + 2, min_size=512)
            grids.append("table1.png")
        if set(translated) != set(MAIN_ROWS):
            save_image_grid(grid_columns(inputs, list(translated.values()), targets), grid_dir / "all-rows.png",
                            nrow=len(translated) + 2, min_size=512)
            grids.append("all-rows.png")
    results_dir.mkdir(parents=True, exist_ok=True)
    report = results_dir / f"{RESULTS_NAME}.md"
    write_report(report, grid_dir, results, reference, grids, grid_idx, grid_labels, args.n, steps, started,
                 time.perf_counter() - t_start)
    print(f"wrote {report}", file=sys.stderr)


if __name__ == "__main__":
    main()
