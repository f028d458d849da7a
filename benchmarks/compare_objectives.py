"""Train every objective of the stabilised family on equal terms and compare them.

Same data (the MNIST subset), same DCGAN generator, same wall-clock budget per objective on this
machine; each preset keeps its paper's optimiser, critic and D steps. Scored with the dataset
classifier: FID (with the real test split's floor), precision/recall, classes hit. Writes
benchmarks/results/objectives.md and one sample grid per objective next to it.

    python benchmarks/compare_objectives.py --budget 300          # seconds per objective (default ~1 h total)
    python benchmarks/compare_objectives.py --budget 30 --only gan,wgan-gp
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import torch

from gankit.api import evaluate_run, train

OBJECTIVES = {  # label -> preset
    "gan (non-saturating)": "dcgan-mnist",
    "wgan-clip": "wgan-clip-mnist",
    "wgan-gp": "wgan-gp-mnist",
    "sngan (SN + hinge)": "sngan-mnist",
    "hinge": "hinge-mnist",
    "lsgan": "lsgan-mnist",
    **{f"fgan-{d}": f"fgan-{d}-mnist" for d in ("kl", "reverse-kl", "pearson", "squared-hellinger", "js", "gan")},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budget", type=float, default=270.0, help="training seconds per objective")
    ap.add_argument("--n", type=int, default=5000, help="samples scored per objective")
    ap.add_argument("--only", help="comma-separated labels or presets to run")
    ap.add_argument("--out", default="benchmarks/out/objectives", help="where the runs go")
    ap.add_argument("--results", default="benchmarks/results")
    args = ap.parse_args()

    chosen = OBJECTIVES
    if args.only:
        want = set(args.only.split(","))
        chosen = {k: v for k, v in OBJECTIVES.items() if k in want or v in want or k.split(" ")[0] in want}
    out, results = Path(args.out), Path(args.results)
    grids = results / "objectives"
    grids.mkdir(parents=True, exist_ok=True)
    rows = []
    for label, preset in chosen.items():
        run = out / preset
        shutil.rmtree(run, ignore_errors=True)
        t0 = time.perf_counter()
        summary = train(preset, ["train.steps=1000000", f"train.max_seconds={args.budget}", "train.progress=false",
                                 "train.checkpoint_every=0", "train.sample_every=0", "train.batch_size=32",
                                 "train.ema_decay=0.999"], out=run)
        wall = time.perf_counter() - t0
        res = evaluate_run(run, ["fid", "pr", "classes"], n=args.n, extractor="classifier")
        s = {k.split("[")[0]: v for k, v in res.scores.items()}
        shutil.copy(run / "samples" / "final.png", grids / f"{preset}.png")
        rows.append((label, preset, summary["steps"], summary["images_seen"], wall, s, res.info))
        print(f"{label:24s} steps {summary['steps']:6d}  fid {s['fid']:.2f}  precision {s['precision']:.3f}  "
              f"recall {s['recall']:.3f}  classes {s['classes_hit']:.0f}", flush=True)

    acc = rows[0][6]["accuracy"] if rows else float("nan")
    lines = [
        "# Objectives compared on equal terms",
        "",
        f"Command: `python benchmarks/compare_objectives.py --budget {args.budget:g} --n {args.n}"
        + (f" --only {args.only}" if args.only else "") + "`",
        "",
        f"Machine: {platform.platform()}, {os.cpu_count()} CPU cores, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads. Each objective: the MNIST subset (4,500 training images, 28 px), "
        f"DCGAN generator (width 64), batch 32, EMA 0.999 for sampling, {args.budget:g} s of training; "
        "each preset keeps its paper's optimiser, critic and D steps per G step. "
        f"Scores from {args.n} samples with the dataset classifier (classifier:mnist, held-out accuracy "
        f"{100 * acc:.1f}%): FID against the train split (the real test split scores "
        f"{rows[0][5].get('fid_floor', float('nan')):.2f}, the floor), precision/recall (k = 3), classes hit of 10."
        if rows else "",
        "",
        "| objective | preset | G steps | kimg | wall s | FID ↓ | precision ↑ | recall ↑ | classes | class KL ↓ | samples |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for label, preset, steps, seen, wall, s, _ in rows:
        lines.append(f"| {label} | `{preset}` | {steps} | {seen / 1000:.0f} | {wall:.0f} | {s['fid']:.2f} | "
                     f"{s['precision']:.3f} | {s['recall']:.3f} | {s['classes_hit']:.0f} | {s['class_kl']:.3f} | "
                     f"[grid](objectives/{preset}.png) |")
    (results / "objectives.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {results / 'objectives.md'}", file=sys.stderr)


if __name__ == "__main__":
    main()
