"""Modern generators at equal CPU budget (issue: a style-based generator and Diffusion-GAN).

Fashion-MNIST at 32 px. Each row trains its preset in its own single-threaded worker process for
``--budget`` CPU-seconds (``train.max_seconds``, ``train.clock=cpu``), ``--jobs`` side by side, then
scores ``--n`` samples of the EMA generator with the Fashion-MNIST classifier's features: FID, KID,
precision, recall [classifier:fashion-mnist], against the real test split, whose own FID to the training
split (the floor) is printed with the table. Every number is computed here from runs made here.

    python benchmarks/modern.py                               # the issue's protocol: 4 rows x 1,800 CPU-s
    python benchmarks/modern.py --budget 600 --rows stylegan,dcgan
    python benchmarks/modern.py --speed-only                  # img/s of the style-based G: float32 and bf16

The speed section trains ``stylegan-fashion-mnist`` (32 px, batch 32) for ``--speed-steps`` steps after 5
warm-up steps, under ``train.precision=fp32`` and ``bf16`` (autocast on the CPU), with 1 thread and with
all cores, each in its own process; the median of ``--repeats`` runs.

Rows (``--rows``): dcgan (``dcgan-fashion-mnist``), sngan (``sngan-fashion-mnist``), stylegan
(``stylegan-fashion-mnist``), diffusion-gan (``diffusion-gan-fashion-mnist``); all at ``data.resolution=32``
with ``train.ema_decay=0.999`` (the style preset's own) so that every row samples from an average.
A row left out keeps its last results (benchmarks/results/modern.json) in the report.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROWS = {"dcgan": "dcgan-fashion-mnist", "sngan": "sngan-fashion-mnist", "stylegan": "stylegan-fashion-mnist",
        "diffusion-gan": "diffusion-gan-fashion-mnist"}
COMMON = ["train.progress=false", "train.tensorboard=false", "data.resolution=32", "train.ema_decay=0.999",
          "train.steps=10000000", "train.clock=cpu", "train.threads=1", "train.checkpoint_every=0",
          "train.sample_every=0", "train.log_every=50"]
METRICS = ["fid", "kid", "pr"]


def worker(row: str, budget: float, n: int, seed: int, out: Path, score_only: bool = False) -> dict:
    """Train one row to its CPU budget (unless ``score_only``: its finished run is scored again) and score it."""
    from gankit.api import evaluate_run, sample, train
    from gankit.train.checkpoint import load_checkpoint
    from gankit.utils.images import save_image_grid

    run = out / f"{row}-seed{seed}"
    if not score_only:
        shutil.rmtree(run, ignore_errors=True)
        train(ROWS[row], COMMON + [f"seed={seed}", f"train.max_seconds={budget}"], out=run)
    state = load_checkpoint(run)
    res = evaluate_run(run, METRICS, n=n, extractor="classifier", seed=seed)
    save_image_grid(sample(run, 64, seed=0), out / f"{row}-seed{seed}.png")
    return {"row": row, "preset": ROWS[row], "seed": seed, "budget": budget, "n": n, "steps": int(state["step"]),
            "kimg": int(state["images_seen"]) / 1000, "cpu_seconds": float(state["cpu_seconds"]),
            "wall_seconds": float(state["train_seconds"]), "scores": res.scores, "notes": res.notes}


def speed_worker(precision: str, threads: int, steps: int, out: Path) -> dict:
    from gankit.api import prepare_training

    run = out / f"speed-{precision}-{threads}"
    shutil.rmtree(run, ignore_errors=True)
    sets = ["train.progress=false", "train.tensorboard=false", "data.resolution=32", "train.checkpoint_every=0",
            "train.sample_every=0", f"train.threads={threads}", f"train.precision={precision}", "train.steps=5"]
    trainer = prepare_training("stylegan-fashion-mnist", sets, out=run)
    trainer.fit()  # warm-up (allocator, first lazy regularisation steps)
    trainer.cfg.train.steps = 5 + steps
    summary = trainer.fit()
    return {"precision": precision, "threads": threads, "steps": steps, "img_per_s": summary["img_per_s"]}


def _shown(argv: list[str]) -> list[str]:
    """The command's arguments as a results file shows them: no paths of this machine, no report-only switches."""
    from gankit.utils.machine import shown_args

    return shown_args(argv, drop=("--collect", "--score-only"))


def _score(r: dict, name: str) -> float | None:
    return next((v for k, v in r["scores"].items() if k.split("[")[0] == name), None)


def report(args, rows: list[dict], results: Path, started: str) -> Path:
    from gankit.utils.machine import describe_machine

    fmt = lambda v, f: "–" if v is None else format(v, f)  # noqa: E731
    lines = ["# Modern generators at equal CPU budget", "",
             f"Command: `python benchmarks/modern.py {' '.join(_shown(args.argv))}`"
             + (" (this report: the rows' results collected or scored again from their finished runs with "
                "`--collect` / `--score-only`)" if getattr(args, "collect", False) or getattr(args, "score_only", False)
                else "") + f"; report written {started}.", "",
             f"Machine: {describe_machine()}. Fashion-MNIST at 32 px; every row in its own 1-thread process for the "
             f"same CPU-seconds, then {rows[0]['n'] if rows else args.n} samples of the EMA generator scored with the "
             f"Fashion-MNIST classifier's features against the real test split.", "",
             "| row | preset | seed | G steps | kimg | CPU s | FID ↓ | KID ↓ | precision ↑ | recall ↑ | samples |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in sorted(rows, key=lambda r: (list(ROWS).index(r["row"]), r["seed"])):
        lines.append(f"| {r['row']} | `{r['preset']}` | {r['seed']} | {r['steps']} | {r['kimg']:.0f} | "
                     f"{r['cpu_seconds']:.0f} | {fmt(_score(r, 'fid'), '.2f')} | "
                     f"{fmt(_score(r, 'kid'), '.3f')} | {fmt(_score(r, 'precision'), '.3f')} | "
                     f"{fmt(_score(r, 'recall'), '.3f')} | [grid](modern/{r['row']}-seed{r['seed']}.png) |")
    floor = next((_score(r, "fid_floor") for r in rows if _score(r, "fid_floor") is not None), None)
    if floor is not None:
        lines += ["", f"Real-data floor: FID {floor:.2f} (the test split against the training split)."]
    speed = getattr(args, "speed_rows", None)
    if speed:
        lines += ["", "## Speed of the style-based G", "",
                  f"`stylegan-fashion-mnist` at 32 px, batch 32, {speed[0]['steps']} training steps after 5 warm-up "
                  f"steps (lazy regularisation included), median of {speed[0]['repeats']} processes; {speed[0]['date']}.",
                  "", "| precision | threads | img/s |", "| --- | ---: | ---: |"]
        lines += [f"| {r['precision']} | {r['threads']} | {r['img_per_s']:.1f} |" for r in speed]
    md = results / "modern.md"
    old = md.read_text() if md.is_file() else ""
    if not speed and "## Speed of the style-based G" in old:  # a table run keeps the last speed section
        section = old[old.index("## Speed of the style-based G"):]
        section = section[:section.index("## Reading the results")] if "## Reading the results" in section else section
        lines += ["", section.rstrip()]
    kept = old[old.index("## Reading the results"):] if "## Reading the results" in old else ""
    md.write_text("\n".join(lines) + "\n" + ("\n" + kept if kept else ""))
    (results / "modern.json").write_text(json.dumps(rows, indent=1) + "\n")
    return md


def measure_speed(args, out: Path) -> list[dict]:
    """img/s of the style-based G per (precision, threads), each measurement in its own process."""
    import statistics

    rows = []
    for precision in ("fp32", "bf16"):
        for threads in sorted({1, os.cpu_count() or 1}):
            rates = []
            for _ in range(args.repeats):
                cmd = [sys.executable, __file__, "--worker", f"speed:{precision}:{threads}", "0", *args.argv]
                proc = subprocess.run(cmd, env=dict(os.environ, OMP_NUM_THREADS=str(threads), GANKIT_SHARE_CORES="0"),
                                      capture_output=True, text=True)
                if proc.returncode != 0:
                    raise SystemExit(f"speed {precision} {threads} failed:\n{proc.stderr[-2000:]}")
                rates.append(json.loads((out / f"speed-{precision}-{threads}-0.json").read_text())["img_per_s"])
            rows.append({"precision": precision, "threads": threads, "steps": args.speed_steps, "repeats": args.repeats,
                         "img_per_s": statistics.median(rates), "date": time.strftime("%Y-%m-%d %H:%M")})
            print(f"speed {precision} x{threads}: {rows[-1]['img_per_s']:.1f} img/s", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated: {', '.join(ROWS)}")
    ap.add_argument("--budget", type=float, default=1800.0, help="training CPU-seconds per row")
    ap.add_argument("--seeds", default="0", help="comma-separated seeds per row")
    ap.add_argument("--n", type=int, default=5000, help="samples scored per row")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default="benchmarks/out/modern")
    ap.add_argument("--results", default="benchmarks/results")
    ap.add_argument("--collect", action="store_true",
                    help="report the rows' results already written by their workers in --out (no training, no scoring)")
    ap.add_argument("--score-only", action="store_true",
                    help="score the rows' finished runs in --out again instead of training them")
    ap.add_argument("--speed-only", action="store_true", help="only measure the style-based G's img/s")
    ap.add_argument("--speed", action="store_true", help="also measure the style-based G's img/s")
    ap.add_argument("--speed-steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--worker", nargs=2, metavar=("ROW", "SEED"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.argv = [a for a in sys.argv[1:]]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.worker:
        import torch

        torch.set_num_threads(1)
        row, seed = args.worker
        if row.startswith("speed:"):
            _, precision, threads = row.split(":")
            torch.set_num_threads(int(threads))
            result = speed_worker(precision, int(threads), args.speed_steps, out)
        else:
            result = worker(row, args.budget, args.n, int(seed), out, args.score_only)
        (out / f"{row.replace(':', '-')}-{seed}.json").write_text(json.dumps(result))
        return
    results = Path(args.results)
    args.speed_rows = measure_speed(args, out) if args.speed or args.speed_only else None
    if args.speed_only:
        saved = results / "modern.json"
        print(report(args, json.loads(saved.read_text()) if saved.is_file() else [], results,
                     time.strftime("%Y-%m-%d %H:%M")))
        return
    rows = [r for r in args.rows.split(",") if r]
    bad = [r for r in rows if r not in ROWS]
    if bad:
        raise SystemExit(f"unknown rows {bad}; choose from {', '.join(ROWS)}")
    from gankit.config import DataConfig
    from gankit.metrics.classifier import classifier_for

    classifier_for(DataConfig(name="fashion-mnist", resolution=32))  # trained or read from the cache once
    started = time.strftime("%Y-%m-%d %H:%M")

    def launch(task: tuple[str, str]) -> dict:
        row, seed = task
        cmd = [sys.executable, __file__, "--worker", row, seed, *args.argv]
        (out / f"{row}-{seed}.json").unlink(missing_ok=True)
        proc = subprocess.run(cmd, env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True, text=True)
        if proc.returncode != 0:  # reported, and the other rows still land
            print(f"{row} seed {seed} failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}", flush=True)
            return None
        result = json.loads((out / f"{row}-{seed}.json").read_text())
        print(f"{row} seed {seed}: {json.dumps(result['scores'])}", flush=True)
        return result

    tasks = [(r, s) for r in rows for s in args.seeds.split(",")]
    if args.collect:
        fresh = [json.loads((out / f"{r}-{s}.json").read_text()) for r, s in tasks if (out / f"{r}-{s}.json").is_file()]
    else:
        with ThreadPoolExecutor(args.jobs) as pool:
            fresh = [r for r in pool.map(launch, tasks) if r is not None]
    (results / "modern").mkdir(parents=True, exist_ok=True)
    for r in fresh:
        shutil.copy(out / f"{r['row']}-seed{r['seed']}.png", results / "modern" / f"{r['row']}-seed{r['seed']}.png")
    saved = results / "modern.json"
    done = {(r["row"], r["seed"]) for r in fresh}
    kept = [r for r in (json.loads(saved.read_text()) if saved.is_file() else []) if (r["row"], r["seed"]) not in done]
    print(report(args, kept + fresh, results, started))


if __name__ == "__main__":
    main()
