"""GANs for discrete sequences against maximum likelihood (issue: GANs for discrete sequences).

Two tasks, each row its preset trained to its steps in its own single-threaded worker process
(``--jobs`` side by side), with its CPU time:

- ``oracle`` (Yu et al. 2017's synthetic benchmark): rows mle, seqgan, gumbel, wgan-gp (presets
  ``<row>-oracle``), scored by the oracle's NLL of 5,000 samples (NLL_oracle, nats per token; published:
  MLE 9.038, SeqGAN 8.736, Yu et al. 2017 Table 1), the generator's NLL of the oracle's held-out
  sequences (NLL_test: coverage) and self-BLEU-4 (diversity). The adversarial rows start from G
  pre-trained by maximum likelihood (``game.pretrain_steps``); their checkpoint at the end of
  pre-training is scored too, so every row shows what its adversarial stage changed.
- ``names`` (first names): the same four rows (``<row>-names``), scored by held-out NLL, n-gram JSD,
  novelty, validity, BLEU-4 against the held-out names (quality) and self-BLEU-4 (diversity).

Every row is scored at the temperatures ``--temperatures`` (Caccia et al. 2020: a lower temperature
trades diversity for quality, so compare models along that curve, not at one point); the MLE row also
along ``--mle-sweep`` for the quality-diversity figure (``benchmarks/results/sequences/names-quality-
diversity.png``). Every number is computed here from runs made here.

    python benchmarks/sequences.py                          # both tasks, 3 seeds (the issue's protocol)
    python benchmarks/sequences.py --tasks names --seeds 0  # one seed of the names table
    python benchmarks/sequences.py --collect                # report the finished rows again
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

ROWS = ("mle", "seqgan", "gumbel", "wgan-gp")
TASKS = ("oracle", "names")
COMMON = ["train.progress=false", "train.tensorboard=false", "train.threads=1", "train.sample_every=0",
          "train.log_every=20"]
METRICS = {"oracle": ["oracle_nll", "heldout_nll", "self_bleu"],
           "names": ["heldout_nll", "ngram_jsd", "novelty", "validity", "bleu", "self_bleu"]}
PUBLISHED = {"mle": 9.038, "seqgan": 8.736}  # NLL_oracle, Yu et al. 2017, Table 1


def _temps(text: str) -> list[float]:
    return [float(t) for t in text.split(",") if t]


def worker(task: str, row: str, seed: int, out: Path, temps: list[float], sweep: list[float], n: int,
           collect_only: bool = False) -> dict:
    from gankit.api import evaluate_run, sample_text, train
    from gankit.train.checkpoint import load_checkpoint

    preset = f"{row}-{task}"
    run = out / f"{task}-{row}-seed{seed}"
    from gankit.config import load_config

    cfg = load_config(preset)
    pre = int(getattr(cfg.game, "pretrain_steps", 0))
    if not collect_only:
        shutil.rmtree(run, ignore_errors=True)
        sets = COMMON + [f"seed={seed}", f"train.checkpoint_every={pre or cfg.train.steps}"]
        train(preset, sets, out=run)
    state = load_checkpoint(run)
    t_all = list(dict.fromkeys([*temps, *(sweep if row == "mle" else [])]))
    res = evaluate_run(run, METRICS[task], n=n, seed=seed, temperature=t_all)
    result = {"task": task, "row": row, "preset": preset, "seed": seed, "n": n, "steps": int(state["step"]),
              "pretrain_steps": pre, "cpu_seconds": float(state["cpu_seconds"]),
              "wall_seconds": float(state["train_seconds"]), "sweep": {f"{t:g}": s for t, s in res.sweep.items()},
              "samples": sample_text(run, 12, seed=0, temperature=1.0)}
    if pre and (run / "checkpoints" / f"step-{pre:07d}.pt").is_file():  # the G the adversarial stage started from
        start = evaluate_run(run / "checkpoints" / f"step-{pre:07d}.pt", METRICS[task], n=n, seed=seed,
                             temperature=temps)
        result["pretrained"] = {f"{t:g}": s for t, s in start.sweep.items()}
    return result


def _shown(argv: list[str]) -> list[str]:
    from gankit.utils.machine import shown_args

    return shown_args(argv, drop=("--collect",))


def _mean_sd(values: list[float]) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    m = sum(values) / len(values)
    if len(values) == 1:
        return f"{m:.3f}"
    sd = (sum((v - m) ** 2 for v in values) / (len(values) - 1)) ** 0.5
    return f"{m:.3f} ± {sd:.3f}"


def _get(r: dict, t: str, key: str, where: str = "sweep"):
    return (r.get(where) or {}).get(t, {}).get(key)


def report(args, rows: list[dict], results: Path, started: str) -> Path:
    from gankit.utils.machine import describe_machine

    temps = [f"{t:g}" for t in _temps(args.temperatures)]
    lines = ["# Sequence GANs against maximum likelihood", "",
             f"Command: `python benchmarks/sequences.py {' '.join(_shown(args.argv))}`; report written {started}.", "",
             f"Machine: {describe_machine()}. Every row trains its preset in its own 1-thread process (CPU time: that "
             f"process's); scores are means ± standard deviations over the seeds, from {args.n:,} samples per run.", ""]
    by = lambda task, row: [r for r in rows if r["task"] == task and r["row"] == row]  # noqa: E731
    if any(r["task"] == "oracle" for r in rows):
        floor = next((_get(r, "1", "oracle_nll_floor") for r in rows if r["task"] == "oracle"), None)
        lines += ["## Oracle (Yu et al. 2017)", "",
                  "NLL_oracle: the oracle's NLL of the samples (nats per token, lower = the samples are likelier under "
                  "the true model; " + (f"the oracle's own entropy rate, the value a perfect generator scores, is "
                                        f"{floor:.3f}" if floor is not None else "") + "). NLL_test: the generator's "
                  "NLL of held-out oracle sequences (lower = it covers the data). Published NLL_oracle at T = 1: "
                  "MLE 9.038, SeqGAN 8.736 (Table 1).", "",
                  "| row | seeds | G steps (pre-trained) | CPU min | " + " | ".join(f"NLL_oracle T={t}" for t in temps)
                  + " | NLL_oracle at the end of pre-training (T=1) | NLL_test | self-BLEU-4 T=1 |",
                  "| --- | ---: | ---: | ---: | " + " | ".join("---:" for _ in temps) + " | ---: | ---: | ---: |"]
        for row in ROWS:
            rs = by("oracle", row)
            if not rs:
                continue
            lines.append(f"| {row} | {len(rs)} | {rs[0]['steps']} ({rs[0]['pretrain_steps']}) | "
                         f"{_mean_sd([r['cpu_seconds'] / 60 for r in rs])} | "
                         + " | ".join(_mean_sd([_get(r, t, "oracle_nll") for r in rs]) for t in temps)
                         + f" | {_mean_sd([_get(r, '1', 'oracle_nll', 'pretrained') for r in rs])} | "
                         f"{_mean_sd([_get(r, temps[0], 'heldout_nll') for r in rs])} | "
                         f"{_mean_sd([_get(r, '1', 'self_bleu') for r in rs])} |")
        mle = by("oracle", "mle")
        sweep = sorted({t for r in mle for t in r["sweep"]}, key=float)
        if len(sweep) > len(temps):
            lines += ["", "MLE along the temperature (the same model, sampled colder or hotter):", "",
                      "| T | " + " | ".join(sweep) + " |", "| --- | " + " | ".join("---:" for _ in sweep) + " |",
                      "| NLL_oracle | " + " | ".join(_mean_sd([_get(r, t, "oracle_nll") for r in mle]) for t in sweep)
                      + " |",
                      "| self-BLEU-4 | " + " | ".join(_mean_sd([_get(r, t, "self_bleu") for r in mle]) for t in sweep)
                      + " |"]
        lines.append("")
    if any(r["task"] == "names" for r in rows):
        lines += ["## First names", "",
                  "n-gram JSD: mean of the 1- to 4-gram Jensen-Shannon divergences to the held-out names (lower = "
                  "closer). Validity: share of samples that are held-out names (real, never trained on). BLEU-4 "
                  "against the held-out names (quality, higher) and self-BLEU-4 (higher = less diverse).", "",
                  "| row | T | CPU min | held-out NLL | n-gram JSD | novelty | validity | BLEU-4 | self-BLEU-4 |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for row in ROWS:
            rs = by("names", row)
            for t in temps:
                if rs:
                    lines.append(f"| {row} | {t} | {_mean_sd([r['cpu_seconds'] / 60 for r in rs])} | "
                                 + " | ".join(_mean_sd([_get(r, t, k) for r in rs]) for k in
                                              ("heldout_nll", "ngram_jsd", "novelty", "validity", "bleu", "self_bleu"))
                                 + " |")
        real = next((r for r in rows if r["task"] == "names"), None)
        if real is not None:
            t0 = next(iter(real["sweep"]))
            lines += ["", f"Real names (training names against the held-out ones, as many as the samples): n-gram JSD "
                          f"{_get(real, t0, 'ngram_jsd_floor'):.3f}, BLEU-4 {_get(real, t0, 'bleu_real'):.3f}, "
                          f"self-BLEU-4 {_get(real, t0, 'self_bleu_real'):.3f}.", "", "Samples (seed 0, T = 1):", ""]
            for row in ROWS:
                r = next((r for r in by("names", row) if r["seed"] == 0), None)
                if r is not None:
                    lines.append(f"- {row}: " + ", ".join(s or "(empty)" for s in r["samples"]))
        figure = quality_diversity(rows, results / "sequences" / "names-quality-diversity.png")
        if figure is not None:
            lines += ["", f"![quality against diversity](sequences/{figure.name})"]
        lines.append("")
    md = results / "sequences.md"
    old = md.read_text() if md.is_file() else ""
    kept = old[old.index("## Reading the results"):] if "## Reading the results" in old else ""
    md.write_text("\n".join(lines) + ("\n" + kept if kept else ""))
    (results / "sequences.json").write_text(json.dumps(rows, indent=1) + "\n")
    return md


def quality_diversity(rows: list[dict], path: Path) -> Path | None:
    """BLEU-4 (quality) against self-BLEU-4 (diversity) on names: each row at each temperature it was
    scored at (seed means), MLE's temperature sweep as a line (Caccia et al. 2020's figure)."""
    names = [r for r in rows if r["task"] == "names"]
    if not names:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    for row, marker in zip(ROWS, "os^D"):
        rs = [r for r in names if r["row"] == row]
        if not rs:
            continue
        temps = sorted({t for r in rs for t in r["sweep"]}, key=float)
        pts = []
        for t in temps:
            xs = [_get(r, t, "self_bleu") for r in rs]
            ys = [_get(r, t, "bleu") for r in rs]
            if all(v is not None for v in xs + ys):
                pts.append((t, sum(xs) / len(xs), sum(ys) / len(ys)))
        if not pts:
            continue
        ax.plot([p[1] for p in pts], [p[2] for p in pts], marker=marker, label=row,
                linestyle="-" if row == "mle" else ":")
        for t, x, y in pts:
            ax.annotate(f"T={t}", (x, y), textcoords="offset points", xytext=(4, 3), fontsize=7)
    real = names[0]["sweep"][next(iter(names[0]["sweep"]))]
    if "bleu_real" in real and "self_bleu_real" in real:
        ax.plot([real["self_bleu_real"]], [real["bleu_real"]], marker="*", markersize=12, color="k", linestyle="",
                label="real names")
    ax.set_xlabel("self-BLEU-4 (lower = more diverse)")
    ax.set_ylabel("BLEU-4 against held-out names (higher = better)")
    ax.set_title("First names: quality against diversity")
    ax.legend(fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", default=",".join(TASKS), help=f"comma-separated: {', '.join(TASKS)}")
    ap.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated: {', '.join(ROWS)}")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--temperatures", default="0.7,1.0", help="every row is scored at each")
    ap.add_argument("--mle-sweep", default="0.5,0.6,0.7,0.8,0.9,1.0,1.1,1.2",
                    help="the MLE row is also scored at each (the figure's curve)")
    ap.add_argument("--n", type=int, default=5000, help="samples scored per run and temperature")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default="benchmarks/out/sequences")
    ap.add_argument("--results", default="benchmarks/results")
    ap.add_argument("--collect", action="store_true",
                    help="report the rows' results already written by their workers in --out (no training)")
    ap.add_argument("--worker", nargs=3, metavar=("TASK", "ROW", "SEED"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.argv = list(sys.argv[1:])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.worker:
        import torch

        torch.set_num_threads(1)
        task, row, seed = args.worker
        result = worker(task, row, int(seed), out, _temps(args.temperatures), _temps(args.mle_sweep), args.n)
        (out / f"{task}-{row}-{seed}.json").write_text(json.dumps(result))
        return
    tasks = [t for t in args.tasks.split(",") if t]
    rows = [r for r in args.rows.split(",") if r]
    bad = [t for t in tasks if t not in TASKS] + [r for r in rows if r not in ROWS]
    if bad:
        raise SystemExit(f"unknown tasks or rows {bad}; tasks: {', '.join(TASKS)}; rows: {', '.join(ROWS)}")
    started = time.strftime("%Y-%m-%d %H:%M")
    if "oracle" in tasks and not args.collect:
        from gankit.data.tokens import _oracle_split

        _oracle_split("train"), _oracle_split("test")  # drawn and cached once, before the workers read them

    def launch(job: tuple[str, str, str]) -> dict | None:
        task, row, seed = job
        cmd = [sys.executable, __file__, "--worker", task, row, seed, *args.argv]
        (out / f"{task}-{row}-{seed}.json").unlink(missing_ok=True)
        proc = subprocess.run(cmd, env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"{task} {row} seed {seed} failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}", flush=True)
            return None
        result = json.loads((out / f"{task}-{row}-{seed}.json").read_text())
        print(f"{task} {row} seed {seed}: {result['cpu_seconds'] / 60:.1f} CPU min, "
              f"{json.dumps(result['sweep'].get('1'))}", flush=True)
        return result

    # the longest rows first, so that the jobs end together
    order = {"seqgan": 0, "wgan-gp": 1, "gumbel": 2, "mle": 3}
    jobs = sorted([(t, r, s) for t in tasks for r in rows for s in args.seeds.split(",")],
                  key=lambda j: (j[0] != "oracle", order[j[1]]))
    if args.collect:
        fresh = [json.loads((out / f"{t}-{r}-{s}.json").read_text()) for t, r, s in jobs
                 if (out / f"{t}-{r}-{s}.json").is_file()]
    else:
        with ThreadPoolExecutor(args.jobs) as pool:
            fresh = [r for r in pool.map(launch, jobs) if r is not None]
    results = Path(args.results)
    saved = results / "sequences.json"
    done = {(r["task"], r["row"], r["seed"]) for r in fresh}
    kept = [r for r in (json.loads(saved.read_text()) if saved.is_file() else [])
            if (r["task"], r["row"], r["seed"]) not in done]
    print(report(args, kept + fresh, results, started))


if __name__ == "__main__":
    main()
