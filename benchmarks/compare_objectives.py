"""Train every objective of the stabilised family on equal terms and compare them.

Same data (the MNIST subset), same DCGAN generator, batch 32, EMA 0.999 for sampling, and the same
CPU budget per objective: each objective trains in its own single-threaded process until that process
has used ``--budget`` CPU-seconds (``train.clock=cpu``), so the comparison stays fair when the machine
is shared (wall time would hand a busy moment's losses to whichever objective ran then). ``--jobs``
processes run side by side (2 on a 2-core machine). Each preset keeps its paper's optimiser, critic
and D steps per G step. Scored with the dataset classifier: FID (with the real test split's floor),
precision/recall, classes hit. Writes benchmarks/results/objectives.md and one sample grid per objective.

    python benchmarks/compare_objectives.py                      # 540 CPU-s each, 2 jobs: ~1 h on 2 idle cores
    python benchmarks/compare_objectives.py --budget 60 --only gan,wgan-gp
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

OBJECTIVES = {  # label -> preset
    "gan (non-saturating)": "dcgan-mnist",
    "wgan-clip": "wgan-clip-mnist",
    "wgan-gp": "wgan-gp-mnist",
    "sngan (SN + hinge)": "sngan-mnist",
    "hinge": "hinge-mnist",
    "lsgan": "lsgan-mnist",
    **{f"fgan-{d}": f"fgan-{d}-mnist" for d in ("kl", "reverse-kl", "pearson", "squared-hellinger", "js", "gan")},
}


def run_one(preset: str, budget: float, threads: int, n: int, out: Path) -> dict:
    """Train and score one preset in this process; returns the row as a dict."""
    import torch

    from gankit.api import evaluate_run, train

    torch.set_num_threads(threads)
    run = out / preset
    shutil.rmtree(run, ignore_errors=True)
    t0 = time.perf_counter()
    summary = train(preset, ["train.steps=1000000", f"train.max_seconds={budget}", "train.clock=cpu",
                             f"train.threads={threads}", "train.progress=false", "train.checkpoint_every=0",
                             "train.sample_every=0", "train.batch_size=32", "train.ema_decay=0.999"], out=run)
    wall = time.perf_counter() - t0
    res = evaluate_run(run, ["fid", "pr", "classes"], n=n, extractor="classifier")
    return {"preset": preset, "steps": summary["steps"], "images_seen": summary["images_seen"],
            "cpu_seconds": summary["cpu_seconds"], "wall": wall,
            "scores": {k.split("[")[0]: v for k, v in res.scores.items()}, "info": res.info}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budget", type=float, default=540.0, help="training CPU-seconds per objective")
    ap.add_argument("--jobs", type=int, default=2, help="objectives trained side by side")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per objective")
    ap.add_argument("--n", type=int, default=5000, help="samples scored per objective")
    ap.add_argument("--only", help="comma-separated labels or presets to run")
    ap.add_argument("--out", default="benchmarks/out/objectives", help="where the runs go")
    ap.add_argument("--results", default="benchmarks/results")
    ap.add_argument("--worker", metavar="PRESET", help=argparse.SUPPRESS)
    args = ap.parse_args()
    out = Path(args.out)

    if args.worker:  # one objective, in its own process
        row = run_one(args.worker, args.budget, args.threads, args.n, out)
        (out / f"{args.worker}.json").write_text(json.dumps(row))
        return

    chosen = OBJECTIVES
    if args.only:
        want = set(args.only.split(","))
        chosen = {k: v for k, v in OBJECTIVES.items() if k in want or v in want or k.split(" ")[0] in want}
    out.mkdir(parents=True, exist_ok=True)
    results = Path(args.results)
    grids = results / "objectives"
    grids.mkdir(parents=True, exist_ok=True)

    from gankit.config import DataConfig
    from gankit.metrics.classifier import classifier_for
    classifier_for(DataConfig(name="mnist"))  # train/cache the scoring classifier once, before the workers

    def launch(preset: str) -> dict:
        (out / f"{preset}.json").unlink(missing_ok=True)
        cmd = [sys.executable, __file__, "--worker", preset, "--budget", str(args.budget), "--threads",
               str(args.threads), "--n", str(args.n), "--out", str(out)]
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"{preset} failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
        row = json.loads((out / f"{preset}.json").read_text())
        s = row["scores"]
        print(f"{preset:30s} steps {row['steps']:6d}  fid {s['fid']:.2f}  precision {s['precision']:.3f}  "
              f"recall {s['recall']:.3f}  classes {s['classes_hit']:.0f}", flush=True)
        return row

    t0, t_wall0 = time.perf_counter(), time.time()
    with ThreadPoolExecutor(args.jobs) as pool:
        rows = dict(zip(chosen, pool.map(launch, chosen.values())))
    total = time.perf_counter() - t0
    for row in rows.values():
        shutil.copy(out / row["preset"] / "samples" / "final.png", grids / f"{row['preset']}.png")

    first = next(iter(rows.values()), None)
    lines = [
        "# Objectives compared on equal terms",
        "",
        f"Command: `python benchmarks/compare_objectives.py --budget {args.budget:g} --jobs {args.jobs} "
        f"--threads {args.threads} --n {args.n}" + (f" --only {args.only}" if args.only else "")
        + f"` ({total / 60:.0f} min in all, started {time.strftime('%Y-%m-%d %H:%M', time.localtime(t_wall0))}).",
        "",
    ]
    if first:
        import torch
        lines += [
            f"Machine: {platform.platform()}, {os.cpu_count()} CPU cores, torch {torch.__version__}. "
            f"Each objective: the MNIST subset (4,500 training images, 28 px), DCGAN generator (width 64), "
            f"batch 32, EMA 0.999 for sampling, trained in its own {args.threads}-thread process until it had "
            f"used {args.budget:g} CPU-seconds ({args.jobs} such processes side by side); each preset keeps its "
            f"paper's optimiser, critic and D steps per G step. Scores from {args.n} samples with the dataset "
            f"classifier (classifier:mnist, held-out accuracy {100 * first['info']['accuracy']:.1f}%): FID "
            f"against the train split (the real test split scores {first['scores'].get('fid_floor', float('nan')):.2f}, "
            f"the floor), precision/recall (k = 3), classes hit of 10, KL of the class histogram to uniform.",
            "",
        ]
    lines += [
        "| objective | preset | G steps | kimg | CPU s | wall s | FID ↓ | precision ↑ | recall ↑ | classes | class KL ↓ | samples |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for label, r in rows.items():
        s = r["scores"]
        lines.append(f"| {label} | `{r['preset']}` | {r['steps']} | {r['images_seen'] / 1000:.0f} | "
                     f"{r['cpu_seconds']:.0f} | {r['wall']:.0f} | {s['fid']:.2f} | {s['precision']:.3f} | "
                     f"{s['recall']:.3f} | {s['classes_hit']:.0f} | {s['class_kl']:.3f} | "
                     f"[grid](objectives/{r['preset']}.png) |")
    (results / "objectives.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {results / 'objectives.md'}", file=sys.stderr)


if __name__ == "__main__":
    main()
