"""EBGAN, BEGAN and InfoGAN measured as their papers claim (issue: auto-encoder discriminators and
information in the latent). Three studies, each run in its own single-threaded worker process, ``--jobs``
side by side; every number is computed here from runs made here.

- **InfoGAN**: ``infogan-mnist`` trained with ``--seeds`` seeds for ``--info-budget`` CPU-seconds each,
  as shipped (``infogan``, the paper's game) and with the invariance term (``infogan-inv``,
  ``game.lambda_aug=1``).
  Per seed: the accuracy of the categorical code as an unsupervised digit classifier of the MNIST
  subset's real test split (Q's category of each image, categories matched to digits by the Hungarian
  method; the ``cluster`` metric), the mutual-information bound ``info/mi_cat`` at the end of training
  (ln 10 = 2.303 nats is the most it can be), FID/precision/recall [classifier]; traversal grids of the
  best seed (each continuous code swept from -2 to 2 along the rows).
- **BEGAN**: ``began-mnist`` with gamma in ``--gammas``, ``--began-steps`` steps each, a checkpoint every
  ``--began-every`` steps. The convergence measure M (mean over the steps before each checkpoint) against
  FID [classifier] of the live generator at that checkpoint: Spearman's rank correlation per gamma (the
  paper's claim: M tracks quality). Final precision/recall per gamma (the claim: recall rises and
  precision falls with gamma) and a figure of both.
- **EBGAN**: ``ebgan-mnist`` under the protocol of benchmarks/compare_objectives.py (``--budget`` CPU-s,
  batch 32, EMA 0.999, 5,000 samples, classifier features), next to that table's DCGAN row.

    python benchmarks/energy_info.py                       # all three: ~45 min on 2 idle cores
    python benchmarks/energy_info.py --only infogan --seeds 2 --info-budget 60

A study left out by ``--only`` keeps its last results (benchmarks/results/energy_info.json) in the report.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
FAST = ["train.progress=false", "train.tensorboard=false"]


# ---------------------------------------------------------------------------------------------------
# workers (one run each, in their own process)


def _rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]


# InfoGAN's studies: the preset as shipped (the paper's game) and with the invariance term added
INFO_KINDS = {"infogan": (), "infogan-inv": ("game.lambda_aug=1",)}


def infogan_worker(seed: int, budget: float, n: int, out: Path, kind: str = "infogan") -> dict:
    from gankit.api import evaluate_run, train

    run = out / f"{kind}-seed{seed}"
    shutil.rmtree(run, ignore_errors=True)
    summary = train("infogan-mnist", FAST + [f"seed={seed}", "train.steps=1000000", f"train.max_seconds={budget}",
                                             "train.clock=cpu", "train.threads=1", "train.checkpoint_every=0",
                                             "train.sample_every=0", *INFO_KINDS[kind]], out=run)
    res = evaluate_run(run, ["cluster", "fid", "pr"], n=n, extractor="classifier")
    rows = _rows(run)
    tail = rows[-max(1, len(rows) // 10):]
    return {"seed": seed, "budget": budget, "n": n, "steps": summary["steps"], "cpu_seconds": summary["cpu_seconds"],
            "mi_cat": sum(r["info/mi_cat"] for r in tail) / len(tail),
            "cat_acc_fake": sum(r["info/cat_acc"] for r in tail) / len(tail),
            "scores": {k.split("[")[0]: v for k, v in res.scores.items()}}


def began_worker(gamma: float, steps: int, every: int, n: int, out: Path) -> dict:
    from gankit.api import evaluate_run, train

    run = out / f"began-gamma{gamma:g}"
    shutil.rmtree(run, ignore_errors=True)
    summary = train("began-mnist", FAST + [f"game.gamma={gamma}", f"train.steps={steps}", "train.threads=1",
                                           f"train.checkpoint_every={every}", "train.keep_checkpoints=-1",
                                           "train.sample_every=0", "train.log_every=1"], out=run)
    rows = _rows(run)
    points = []
    for ckpt in sorted((run / "checkpoints").glob("step-*.pt")):
        step = int(re.findall(r"\d+", ckpt.stem)[0])
        window = [r["began/M"] for r in rows if step - every < r["step"] <= step]
        res = evaluate_run(ckpt, ["fid", "pr"], n=n, extractor="classifier", ema=False)
        s = {k.split("[")[0]: v for k, v in res.scores.items()}
        points.append({"step": step, "M": sum(window) / len(window), "k": rows[step - 1]["began/k"], **s})
    final = evaluate_run(run, ["fid", "pr"], n=5000, extractor="classifier", ema=False)
    return {"gamma": gamma, "every": every, "n": n, "steps": summary["steps"], "cpu_seconds": summary["cpu_seconds"],
            "points": points,
            "final": {k.split("[")[0]: v for k, v in final.scores.items()}}


def ebgan_worker(budget: float, n: int, out: Path) -> dict:
    sys.path.insert(0, str(HERE))
    from compare_objectives import run_one  # the objectives table's protocol, unchanged

    return {**run_one("ebgan-mnist", budget, 1, n, out), "budget": budget, "n": n}


# ---------------------------------------------------------------------------------------------------
# the report


def spearman(a: list[float], b: list[float]) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic) if len(a) >= 3 else float("nan")


def dcgan_row(results: Path) -> dict | None:
    """DCGAN's row of objectives.md (same protocol as the EBGAN row), or None."""
    path = results / "objectives.md"
    if not path.is_file():
        return None
    for line in path.read_text().splitlines():
        if "`dcgan-mnist`" in line:
            cells = [c.strip() for c in line.strip("|").split("|")]
            return {"steps": cells[2], "fid": cells[6], "precision": cells[7], "recall": cells[8], "classes": cells[9]}
    return None


def figures(began: list[dict], out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = []
    fig, axes = plt.subplots(1, len(began), figsize=(4.2 * len(began), 3.4), squeeze=False)
    for ax, r in zip(axes[0], began):
        steps = [p["step"] for p in r["points"]]
        ax.plot(steps, [p["M"] for p in r["points"]], "o-", color="tab:blue", label="M")
        ax.set_xlabel("step")
        ax.set_ylabel("M (convergence measure)", color="tab:blue")
        ax2 = ax.twinx()
        ax2.plot(steps, [p["fid"] for p in r["points"]], "s--", color="tab:red", label="FID")
        ax2.set_ylabel("FID [classifier]", color="tab:red")
        ax2.set_yscale("log")
        rho = spearman([p["M"] for p in r["points"]], [p["fid"] for p in r["points"]])
        ax.set_title(f"BEGAN gamma={r['gamma']:g}: Spearman rho = {rho:.2f}")
    fig.tight_layout()
    fig.savefig(out / "began_m_vs_fid.png", dpi=80)
    names.append("began_m_vs_fid.png")
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(4.5, 3.4))
    gammas = [r["gamma"] for r in began]
    ax.plot(gammas, [r["final"]["precision"] for r in began], "o-", label="precision")
    ax.plot(gammas, [r["final"]["recall"] for r in began], "s-", label="recall")
    ax.set_xlabel("gamma (diversity ratio)")
    ax.set_ylabel("[classifier]")
    ax.set_xticks(gammas)
    ax.legend()
    ax.set_title("BEGAN: precision and recall against gamma")
    fig.tight_layout()
    fig.savefig(out / "began_gamma_pr.png", dpi=80)
    names.append("began_gamma_pr.png")
    plt.close(fig)
    return names


def traversal_grids(run: Path, out: Path, kind: str = "infogan") -> list[str]:
    """The best seed's pictures, drawn from its run; a study kept from an earlier invocation whose runs
    are not under ``--out`` keeps the pictures it made then."""
    from gankit.api import traversal
    from gankit.utils.images import save_image_grid

    stem = kind.replace("-", "_")
    kept = [f"{stem}_traverse_cont0.png", f"{stem}_traverse_cont1.png", f"{stem}_categories.png"]
    if not run.is_dir() and all((out / name).is_file() for name in kept):
        return kept
    names = []
    for code in ("cont0", "cont1"):
        save_image_grid(traversal(run, code, rows=10, steps=10), out / f"{stem}_traverse_{code}.png", nrow=10)
        names.append(f"{stem}_traverse_{code}.png")
    shutil.copy(run / "samples" / "final.png", out / f"{stem}_categories.png")
    names.append(f"{stem}_categories.png")
    return names


def _shown(argv: list[str]) -> list[str]:
    """The command line without the values of --out/--results (paths of this machine)."""
    from gankit.utils.machine import shown_args

    return shown_args(argv)


def report(args, rows: dict, results: Path, started: str) -> Path:
    from gankit.utils.machine import describe_machine

    out = results / "energy_info"
    out.mkdir(parents=True, exist_ok=True)

    def made(rs: list[dict]) -> str:
        r = rs[0]
        return (f"Made by `{r.get('command', 'python benchmarks/energy_info.py')}` (started "
                f"{r.get('date', started)}).")

    lines = ["# Energy and information: EBGAN, BEGAN, InfoGAN", "",
             "Each study below names the command that made it (`--only` reruns some studies and keeps the "
             "others'; `--report-only` rewrites this page from energy_info.json).", "",
             f"Machine: {describe_machine()}; every run in its own 1-thread process (budgets count that process's "
             "own CPU time). "
             "Scores use the dataset classifier's features (classifier:mnist) on the MNIST subset (4,500 training "
             "images, 500 test images, 28 px).", ""]
    for kind, title, what in (
            ("infogan", "InfoGAN: the categorical code as an unsupervised digit classifier",
             "`infogan-mnist` as shipped, the paper's game (z 62 uniform on [-1, 1] + 10-way categorical + 2 "
             "continuous codes, the paper's MNIST nets, Q head on D's 1024 hidden units, batch 128)"),
            ("infogan-inv", "InfoGAN with the invariance term",
             "`infogan-mnist` with `game.lambda_aug=1`: Q must also read G's category from a randomly rotated, "
             "scaled, sheared and shifted copy of each fake (not in the paper)")):
        info = sorted(rows.get(kind, []), key=lambda r: r["seed"])
        if not info:
            continue
        accs = [r["scores"]["cluster_acc"] for r in info]
        hit = sum(a >= 0.95 for a in accs)
        lines += [f"## {title}", "",
                  made(info) + f" {what}, {info[0]['budget']:g} CPU-seconds per seed. *cluster acc*: Q's category of "
                  f"each of the 500 real test images, categories matched to digits by the Hungarian method (paper: "
                  f"~95%, 5% error). *MI bound*: ln 10 - CE of Q on G's categories over the last 10% of training "
                  f"(at most ln 10 = 2.303 nats). FID/precision/recall from {info[0]['n']} samples.", "",
                  "| seed | G steps | CPU s | cluster acc ↑ | MI bound (nats) | Q acc on fakes | FID ↓ | precision ↑ | recall ↑ |",
                  "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for r in info:
            sc = r["scores"]
            lines.append(f"| {r['seed']} | {r['steps']} | {r['cpu_seconds']:.0f} | {100 * sc['cluster_acc']:.1f}% | "
                         f"{r['mi_cat']:.3f} | {100 * r['cat_acc_fake']:.1f}% | {sc['fid']:.2f} | "
                         f"{sc['precision']:.3f} | {sc['recall']:.3f} |")
        ran = "" if len(info) == 5 else f", of the {len(info)} seeds run here"
        lines += ["", f"Goal (>= 95% in at least 3 of 5 seeds): **{hit} of {len(info)}**{ran} "
                      f"({'met' if hit >= 3 else 'not met'}); median {100 * sorted(accs)[len(accs) // 2]:.1f}%.", ""]
        best = max(info, key=lambda r: r["scores"]["cluster_acc"])
        grids = traversal_grids(Path(args.out) / f"{kind}-seed{best['seed']}", out, kind)
        lines += [f"Best seed ({best['seed']}): categories (row k: category k, each column one z and "
                  f"continuous codes) ![categories](energy_info/{grids[2]}); continuous code 0 swept from -2 to 2 "
                  f"along each row (row i: category i) ![cont0](energy_info/{grids[0]}) and code 1 "
                  f"![cont1](energy_info/{grids[1]})", ""]
    began = sorted(rows.get("began", []), key=lambda r: r["gamma"])
    if began:
        figs = figures(began, out)
        lines += ["## BEGAN: does M track quality, and what does gamma trade?", "",
                  made(began) + f" `began-mnist` ({began[0]['steps']} steps, batch 16), a checkpoint every {began[0]['every']} steps; "
                  f"M = mean of `began/M` over the {began[0]['every']} steps before each checkpoint; FID of the live "
                  f"generator there ({began[0]['n']} samples). rho: Spearman's rank correlation of M and FID over "
                  "the checkpoints (+1: M falls exactly when FID falls). Final precision/recall from 5,000 samples.", "",
                  "| gamma | steps | CPU s | final M | final k | rho(M, FID) | final FID ↓ | precision ↑ | recall ↑ |",
                  "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for r in began:
            p, f = r["points"], r["final"]
            rho = spearman([q["M"] for q in p], [q["fid"] for q in p])
            lines.append(f"| {r['gamma']:g} | {r['steps']} | {r['cpu_seconds']:.0f} | {p[-1]['M']:.4f} | "
                         f"{p[-1]['k']:.4f} | {rho:+.2f} | {f['fid']:.2f} | {f['precision']:.3f} | {f['recall']:.3f} |")
        pooled_m = [q["M"] for r in began for q in r["points"]]
        pooled_f = [q["fid"] for r in began for q in r["points"]]
        lines += ["", f"Pooled over all gammas' checkpoints: rho = {spearman(pooled_m, pooled_f):+.2f} "
                      f"({len(pooled_m)} checkpoints).", "",
                  f"![M against FID](energy_info/{figs[0]}) ![precision and recall against gamma](energy_info/{figs[1]})",
                  "", "Per checkpoint:", "", "| gamma | step | M | k | FID | precision | recall |",
                  "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for r in began:
            for q in r["points"]:
                lines.append(f"| {r['gamma']:g} | {q['step']} | {q['M']:.4f} | {q['k']:.4f} | {q['fid']:.2f} | "
                             f"{q['precision']:.3f} | {q['recall']:.3f} |")
        lines.append("")
    eb = rows.get("ebgan")
    if eb:
        eb = eb[0]
        s = eb["scores"]
        dc = dcgan_row(results)
        grid = Path(args.out) / "ebgan-mnist" / "samples" / "final.png"
        if grid.is_file() or not (out / "ebgan-mnist.png").is_file():  # a kept study keeps its picture
            shutil.copy(grid, out / "ebgan-mnist.png")
        lines += ["## EBGAN at the objectives table's budget", "",
                  made([eb]) + f" Protocol of [objectives.md](objectives.md): {eb['budget']:g} CPU-seconds in a 1-thread process, "
                  f"batch 32, EMA 0.999, {eb['n']} samples scored with the classifier features.", "",
                  "| game | preset | G steps | FID ↓ | precision ↑ | recall ↑ | classes | samples |",
                  "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
                  f"| EBGAN-PT | `ebgan-mnist` | {eb['steps']} | {s['fid']:.2f} | {s['precision']:.3f} | "
                  f"{s['recall']:.3f} | {s['classes_hit']:.0f} | [grid](energy_info/ebgan-mnist.png) |"]
        if dc:
            lines.append(f"| GAN (from objectives.md) | `dcgan-mnist` | {dc['steps']} | {dc['fid']} | {dc['precision']} | "
                         f"{dc['recall']} | {dc['classes']} | [grid](objectives/dcgan-mnist.png) |")
        lines.append("")
    path = results / "energy_info.md"
    old = path.read_text() if path.is_file() else ""
    keep = old[old.index("## Reading the results"):] if "## Reading the results" in old else ""
    path.write_text("\n".join(lines) + ("\n" + keep if keep else ""))
    (results / "energy_info.json").write_text(json.dumps(rows, indent=1))
    return path


# ---------------------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="infogan,infogan-inv,began,ebgan",
                    help="comma-separated: infogan (the preset), infogan-inv (+ game.lambda_aug=1), began, ebgan")
    ap.add_argument("--seeds", type=int, default=5, help="InfoGAN seeds")
    ap.add_argument("--info-budget", type=float, default=480.0, help="InfoGAN training CPU-seconds per seed")
    ap.add_argument("--gammas", default="0.3,0.5,0.7")
    ap.add_argument("--began-steps", type=int, default=4000)
    ap.add_argument("--began-every", type=int, default=500)
    ap.add_argument("--began-n", type=int, default=2000, help="samples scored per BEGAN checkpoint")
    ap.add_argument("--budget", type=float, default=540.0, help="EBGAN training CPU-seconds (objectives.md's)")
    ap.add_argument("--n", type=int, default=5000, help="samples scored per final run")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default="benchmarks/out/energy_info")
    ap.add_argument("--results", default="benchmarks/results")
    ap.add_argument("--report-only", action="store_true",
                    help="only rewrite the report from benchmarks/results/energy_info.json and the runs in --out")
    ap.add_argument("--worker", nargs=2, metavar=("KIND", "ARG"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.argv = sys.argv[1:]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    if args.worker:
        kind, arg = args.worker
        import torch

        torch.set_num_threads(1)
        row = (infogan_worker(int(arg), args.info_budget, args.n, out, kind) if kind in INFO_KINDS else
               began_worker(float(arg), args.began_steps, args.began_every, args.began_n, out) if kind == "began" else
               ebgan_worker(args.budget, args.n, out))
        (out / f"{kind}-{arg}.json").write_text(json.dumps(row))
        return

    if args.report_only:
        saved = Path(args.results) / "energy_info.json"
        print(report(args, json.loads(saved.read_text()), Path(args.results), time.strftime("%Y-%m-%d %H:%M")))
        return
    only = set(args.only.split(","))
    tasks = [(k, str(s)) for k in INFO_KINDS if k in only for s in range(args.seeds)] \
        + ([("began", g) for g in args.gammas.split(",")] if "began" in only else []) \
        + ([("ebgan", "0")] if "ebgan" in only else [])
    from gankit.config import DataConfig
    from gankit.metrics.classifier import classifier_for

    classifier_for(DataConfig(name="mnist"))  # trained (or read from the cache) once, before the workers

    def launch(task: tuple[str, str]) -> tuple[str, dict]:
        kind, arg = task
        (out / f"{kind}-{arg}.json").unlink(missing_ok=True)
        cmd = [sys.executable, __file__, "--worker", kind, arg, *args.argv]
        proc = subprocess.run(cmd, env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"{kind} {arg} failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
        row = json.loads((out / f"{kind}-{arg}.json").read_text())
        row["command"] = " ".join(["python benchmarks/energy_info.py", *_shown(args.argv)])
        row["date"] = started
        print(f"{kind} {arg}: {json.dumps(row.get('scores', row.get('final')))}", flush=True)
        return kind, row

    t0, started = time.perf_counter(), time.strftime("%Y-%m-%d %H:%M")
    fresh: dict[str, list[dict]] = {}
    with ThreadPoolExecutor(args.jobs) as pool:
        for kind, row in pool.map(launch, tasks):
            fresh.setdefault(kind, []).append(row)
    saved = Path(args.results) / "energy_info.json"  # studies not rerun keep their last results
    rows = {**(json.loads(saved.read_text()) if saved.is_file() else {}), **fresh}
    print(report(args, rows, Path(args.results), started))
    print(f"{(time.perf_counter() - t0) / 60:.0f} min")


if __name__ == "__main__":
    main()
