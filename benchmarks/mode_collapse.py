"""Mode collapse, measured with the protocols of VEEGAN and PacGAN, next to the published numbers.

For each dataset (ring8, grid25, stacked-mnist), method and seed: train with gankit's Trainer,
draw the protocol's samples (2,500 on the 2-D mixtures, 26,000 on stacked MNIST) from one fixed
noise seed, and score them with ``gankit.metrics.modes``. Writes
``benchmarks/results/mode_collapse.md`` (mean ± standard error over seeds, and the published rows
with their sources), the per-seed numbers as JSON, and one picture per method (seed 0's samples
over the true modes) under ``benchmarks/results/mode_collapse/``.

Methods share the dataset's preset and differ only in what they name: ``GAN`` is the preset without
packing, ``PacGAN2``/``PacGAN4`` pack 2/4 samples per D decision, ``gankit`` is the preset as
shipped. Every method sees ``train.batch_size`` real and generated samples per D step (a packed D
makes batch_size/m decisions on each side).

    python benchmarks/mode_collapse.py                       # 10 seeds, ring8 + grid25, 4 methods
    python benchmarks/mode_collapse.py --seeds 3 --datasets ring8 --methods GAN,gankit --steps 500
    python benchmarks/mode_collapse.py --seed-list 3,7 --datasets ring8 --methods gankit --set penalty.r1=0.5

A run trained elsewhere (for instance continued with ``gankit train --resume RUN --set train.steps=N``)
is scored with the same protocol from its checkpoint and added as a row; its settings are read from the
checkpoint and shown as overrides of the current preset:

    python benchmarks/mode_collapse.py --score RUN/checkpoints/step-0192000.pt --append \
        --trained "gankit train --resume RUN --set train.steps=192000"
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent / "src"))

from gankit.api import load_run  # noqa: E402
from gankit.config import load_config  # noqa: E402
from gankit.data import load_data  # noqa: E402
from gankit.metrics.modes import (evaluate_modes, mean_and_stderr, POINTS_N, read_stacked_digits,  # noqa: E402
                                  stacked_mode_stats, STACKED_N)
from gankit.sampling import draw  # noqa: E402
from gankit.train.checkpoint import load_checkpoint  # noqa: E402
from gankit.train.trainer import Trainer  # noqa: E402
from gankit.utils.images import save_image_grid  # noqa: E402

PRESETS = {"ring8": "toy-ring8", "grid25": "toy-grid25", "stacked-mnist": "stacked-mnist"}
METHODS = {  # overrides on top of the dataset's preset
    "GAN": ["tricks.pack=1"],
    "PacGAN2": ["tricks.pack=2"],
    "PacGAN4": ["tricks.pack=4"],
    "gankit": [],
}
# On stacked MNIST the papers' baselines are DCGANs: GAN / PacGAN2 / PacGAN4 run with DCGAN's G whatever the
# preset's G is; "gankit" is the preset as shipped.
STACKED_BASELINE_G = ["model.g.name=dcgan", "model.g.width=64"]
STACKED_NAMES = {"GAN": "DCGAN", "PacGAN2": "PacDCGAN2", "PacGAN4": "PacDCGAN4", "gankit": "the preset"}


def method_overrides(dataset: str, method: str) -> list[str]:
    extra = STACKED_BASELINE_G if dataset == "stacked-mnist" and method != "gankit" else []
    return [*METHODS[method], *extra]


GOAL_VALUES = {"ring8": (98.0, 0.02), "grid25": (97.0, 0.02)}  # high quality % at least, reverse KL at most

# Published rows: (method, modes, high quality %, reverse KL) for the 2-D sets; (method, modes, KL) for stacked MNIST.
VEEGAN = "Srivastava et al. 2017 (VEEGAN), Table 1"
PACGAN = "Lin et al. 2018 (PacGAN), Table 1"
PACGAN_STACKED = "Lin et al. 2018 (PacGAN), Table 3 (DCGAN and VEEGAN rows from Srivastava et al. 2017)"
PUBLISHED = {
    "ring8": [("GAN", 1, 99.3, None, VEEGAN), ("ALI", 2.8, 0.13, None, VEEGAN), ("Unrolled GAN", 7.6, 35.6, None, VEEGAN),
              ("VEEGAN", 8, 52.9, None, VEEGAN), ("GAN", 6.3, 98.2, 0.45, PACGAN), ("PacGAN2", 7.9, 95.6, 0.07, PACGAN),
              ("PacGAN4", 7.8, 95.9, 0.07, PACGAN)],
    "grid25": [("GAN", 3.3, 0.5, None, VEEGAN), ("ALI", 15.8, 1.6, None, VEEGAN), ("Unrolled GAN", 23.6, 16, None, VEEGAN),
               ("VEEGAN", 24.6, 40, None, VEEGAN), ("GAN", 17.3, 94.8, 0.70, PACGAN), ("ALI", 24.1, 95.7, 0.14, PACGAN),
               ("PacGAN4", 24.8, 93.6, 0.04, PACGAN)],
    "stacked-mnist": [("DCGAN", 99, None, 3.4, PACGAN_STACKED), ("VEEGAN", 150, None, 2.95, PACGAN_STACKED),
                      ("PacDCGAN2", 1000, None, 0.06, PACGAN_STACKED)],
}
GOALS = {"ring8": "8/8 modes in every seed, >= 98% high quality, reverse KL <= 0.02",
         "grid25": "25/25 modes in every seed, >= 97% high quality, reverse KL <= 0.02",
         "stacked-mnist": "1,000 modes, KL <= 0.05"}


def run_one(dataset: str, method: str, seed: int, args) -> dict:
    overrides = [f"seed={seed}", f"train.threads={args.threads}", "train.progress=false", "train.tensorboard=false",
                 "train.sample_every=0", "train.checkpoint_every=0", *method_overrides(dataset, method), *args.set]
    if args.steps:
        overrides.append(f"train.steps={args.steps}")
    cfg = load_config(PRESETS[dataset], overrides)
    run_dir = Path(args.runs) / dataset / method / f"seed{seed}"
    trainer = Trainer(cfg, run_dir)
    t0 = time.perf_counter()
    trainer.fit()
    seconds = time.perf_counter() - t0
    n = POINTS_N if dataset != "stacked-mnist" else STACKED_N
    players = trainer.sampling_players()  # the EMA generator where the run keeps one
    keep = cfg.sample.jacobian_keep

    def scores_of(keep: float):
        fake = draw(trainer.game, n, seed=10_000 + seed, players=players, keep=keep,
                    directions=cfg.sample.jacobian_directions, batch_size=1000)
        return evaluate_modes(fake, trainer.data)[0], fake

    scores, fake = scores_of(keep)
    row = {"dataset": dataset, "method": method, "seed": seed, "steps": trainer.step, "seconds": seconds,
           "cpu_seconds": trainer.cpu_seconds,
           "command": "python benchmarks/mode_collapse.py " + " ".join(args.argv), "load": os.getloadavg()[0],
           "started": args.started, "machine": _machine(), "threads": args.threads,
           "batch_size": cfg.train.batch_size, "pack": cfg.tricks.pack, "scores": scores}
    if keep < 1:  # the same generator without truncation, for the report's comparison row
        row["jacobian_keep"] = keep
        row["scores_untruncated"] = scores_of(1.0)[0]
    if seed == args.picture_seed:
        pic = Path(args.results) / "mode_collapse" / f"{dataset}-{method}.png"
        show = fake[:POINTS_N] if fake.dim() == 2 else fake[:64]
        save_image_grid(show, pic, reference=trainer.data, min_size=200)
    return row


# how a run is driven, not what it learns: left out of a scored checkpoint's overrides
RUN_KEYS = {"description", "seed", "train.steps", "train.threads", "train.progress", "train.tensorboard",
            "train.sample_every", "train.checkpoint_every", "train.keep_checkpoints", "train.log_every",
            "train.device", "train.grid_size", "train.malloc_tuning", "eval.every"}


def _override_text(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_override_text(v) for v in value) + "]"
    return "null" if value is None else str(value)


def checkpoint_overrides(cfg, dataset: str) -> list[str]:
    """The settings of a run's config that differ from the dataset's current preset, as KEY=VALUE."""
    from gankit.config import flatten

    mine, preset = flatten(cfg.to_dict()), flatten(load_config(PRESETS[dataset]).to_dict())
    return [f"{k}={_override_text(v)}" for k, v in mine.items() if k not in RUN_KEYS and preset.get(k) != v]


def score_checkpoint(path: str, args) -> dict:
    """A results row for a run trained elsewhere: its generator (EMA, as the benchmark samples) scored
    with the protocol on the noise seed ``run_one`` uses for the run's seed."""
    state = load_checkpoint(path)
    run = load_run(path)
    cfg = run.cfg
    dataset = cfg.data.name
    if dataset not in PRESETS:
        raise SystemExit(f"--score {path}: its data.name {dataset!r} is none of {', '.join(PRESETS)}")
    data = load_data(cfg.data)
    n = POINTS_N if dataset != "stacked-mnist" else STACKED_N
    fake = draw(run.game, n, seed=10_000 + cfg.seed, players=run.players, keep=cfg.sample.jacobian_keep,
                directions=cfg.sample.jacobian_directions, batch_size=1000)
    how = f"{args.trained}; " if args.trained else ""
    method = args.methods[0] if "--methods" in args.argv else "gankit"  # gankit: the preset, settings as overrides
    return {"dataset": dataset, "method": method, "seed": cfg.seed, "steps": int(state["step"]),
            "seconds": float(state.get("train_seconds", 0.0)), "cpu_seconds": float(state.get("cpu_seconds", 0.0)),
            "command": f"{how}scored with python benchmarks/mode_collapse.py --score {Path(path).name}",
            "load": os.getloadavg()[0], "started": args.started, "batch_size": cfg.train.batch_size,
            "machine": _machine(), "threads": cfg.train.threads or os.cpu_count(),  # scored here; assumed trained here too
            "pack": cfg.tricks.pack, "scores": evaluate_modes(fake, data)[0],
            "as_overrides": checkpoint_overrides(cfg, dataset)}


def _real_stacked_scores() -> dict[str, float]:
    """The protocol applied to real stacked-MNIST images: what a perfect generator would score (its KL
    is the multinomial noise of 26,000 samples over 1,000 bins, about 999 / (2 * 26,000) = 0.019)."""
    data = load_data(load_config(PRESETS["stacked-mnist"]).data)
    digits, _ = read_stacked_digits(data.images[:STACKED_N].float() / 127.5 - 1.0)
    return stacked_mode_stats(digits)


def _machine() -> str:
    from gankit.utils.machine import describe_machine

    return describe_machine()


def _rows_machines(rows: list[dict]) -> str:
    """The machines the rows were measured on, as recorded with each row (not the one writing the report)."""
    return " and ".join(dict.fromkeys(r.get("machine", "not recorded") for r in rows))


def _rows_threads(rows: list[dict]) -> str:
    counts = sorted({int(r["threads"]) for r in rows if "threads" in r})
    return ", ".join(map(str, counts)) if counts else "not recorded"


def _settings(dataset: str) -> str:
    c = load_config(PRESETS[dataset])
    return (f"Settings of every gankit row: preset `{PRESETS[dataset]}` ({c.loss.name} objective, "
            f"{c.loss.g_cost} G cost; G {c.model.g.name} width {c.model.g.width} norm {c.model.g.norm}, D "
            f"{c.model.d.name} width {c.model.d.width}, latent {c.model.latent_dim}; pack {c.tricks.pack}, batch "
            f"{c.train.batch_size}, {c.train.steps} steps, d_steps {c.train.d_steps}; Adam G {c.optim.g.lr:g} / D "
            f"{c.optim.d.lr:g} betas {tuple(c.optim.g.betas)}"
            + (f", ramped linearly to 0 over the last {c.optim.default.ramp_down:.0%} of the steps"
               if c.optim.default.ramp_down else "") + f"; EMA of G {c.train.ema_decay:g} (used for sampling); "
            f"penalties gp {c.penalty.gp:g}, r1 {c.penalty.r1:g}"
            + (f" every {c.penalty.r1_every} D steps" if c.penalty.r1 and c.penalty.r1_every > 1 else "")
            + (f" during the first {c.penalty.r1_steps} steps" if c.penalty.r1 and c.penalty.r1_steps else "")
            + (f"; samples drawn with Jacobian-based truncation (Tanielian et al. 2020): of 1/{c.sample.jacobian_keep:g} "
               f"latent draws per sample, the {c.sample.jacobian_keep:.0%} with the smallest ||dG/dz|| are kept "
               f"(`sample.jacobian_keep={c.sample.jacobian_keep:g}`; the rows marked sample.jacobian_keep=1 score the "
               f"same generators without it)" if c.sample.jacobian_keep < 1 else "")
            + ") with the row's pack and overrides.")


def _groups(rows: list[dict]) -> dict[tuple, list[dict]]:
    """Rows grouped into the report's table rows: one per method, budget and extra overrides."""
    out: dict[tuple, list[dict]] = {}
    for r in rows:
        out.setdefault((r["method"], r["steps"], tuple(_overrides(r))), []).append(r)
    return out


def _verdict(dataset: str, rows: list[dict]) -> str:
    if dataset not in GOAL_VALUES:
        best = (min(rows, key=lambda r: (-r["scores"]["modes[classifier:mnist]"], r["scores"]["kl[classifier:mnist]"]))
                if rows else None)
        if best is None:
            return "Goal not met: not run."
        modes, kl = best["scores"]["modes[classifier:mnist]"], best["scores"]["kl[classifier:mnist]"]
        verdict = "Goal met by the best run" if modes >= 1000 and kl <= 0.05 else "Goal not met; best run"
        return f"{verdict}: {modes:.0f} modes, KL {kl:.3f} ({best['steps']} steps, seed {best['seed']})."
    hq_goal, kl_goal = GOAL_VALUES[dataset]
    met, closest = [], None
    for (method, _, over), rs in _groups(rows).items():
        name = method + "".join(f", {o}" for o in over)
        hq = mean_and_stderr(r["scores"]["hq_percent"] for r in rs)[0]
        kl = mean_and_stderr(r["scores"]["reverse_kl"] for r in rs)[0]
        full = sum(r["scores"]["modes"] == r["scores"]["modes_total"] for r in rs)
        checks = [full == len(rs), hq >= hq_goal, kl <= kl_goal]
        if all(checks):
            met.append(f"{name} ({len(rs)} seeds)")
        text = (f"{name} ({len(rs)} seeds): all modes in {full}/{len(rs)} seeds ({'met' if checks[0] else 'missed'}), "
                f"high quality {hq:.2f}% ({'met' if checks[1] else 'missed'}), reverse KL {kl:.3f} "
                f"({'met' if checks[2] else 'missed'})")
        closest = min(closest or (3, 0, ""), (-sum(checks), -hq, text))
    return ("Goal met by: " + ", ".join(met) if met else
            f"Goal not met by any method run; closest: {closest[2]}.")


def _with_untruncated(rows: list[dict]) -> list[dict]:
    """The rows, each row sampled with Jacobian-based truncation followed by a copy that carries the
    same generator's scores without it (an extra override ``sample.jacobian_keep=1``)."""
    out = []
    for r in rows:
        out.append(r)
        if "scores_untruncated" in r:
            out.append({**r, "scores": r["scores_untruncated"],
                        "as_overrides": _overrides(r) + ["sample.jacobian_keep=1"]})
    return out


def _overrides(row: dict) -> list[str]:
    """A row's settings as overrides of the current preset: the --set KEY=VALUE words of its command,
    or, for a row run before the preset changed, the ``as_overrides`` recorded with it."""
    if "as_overrides" in row:
        return list(row["as_overrides"])
    words = row["command"].split()
    return [words[i + 1] for i, w in enumerate(words[:-1]) if w == "--set"]


def _same_run(a: dict, b: dict) -> bool:
    """Whether rows ``a`` and ``b`` measure the same thing: dataset, method, seed, steps and settings."""
    return (a["dataset"], a["method"], a["seed"], a["steps"], _overrides(a)) == \
        (b["dataset"], b["method"], b["seed"], b["steps"], _overrides(b))


def _fmt(values, digits=1, scale=1.0):
    mean, se = mean_and_stderr(v * scale for v in values)
    return f"{mean:.{digits}f} ± {se:.{digits}f}"


def write_report(rows: list[dict], args, path: Path) -> None:
    loads = [r["load"] for r in rows]
    commands = list(dict.fromkeys(r["command"] for r in rows))
    lines = ["# Mode collapse: gankit against the published numbers", "",
             "Command(s): " + "; ".join(f"`{c.rstrip()}`" for c in commands), "",
             f"Machine: {_rows_machines(rows)}; {_rows_threads(rows)} torch thread(s) per run; 1-minute load average "
             f"{min(loads):.1f}-{max(loads):.1f} at the end of the runs (the machine was shared by other jobs). "
             f"Runs started {', '.join(dict.fromkeys(r['started'] for r in rows))}.", "",
             "Protocol (VEEGAN and PacGAN): 2,500 samples on the 2-D mixtures, a sample is high quality within "
             "3 std of its nearest mean, a mode is captured when a high-quality sample is nearest to it, reverse KL "
             "= KL(histogram of high-quality samples over the modes ‖ uniform). Stacked MNIST: 26,000 samples, "
             "each channel read by gankit's MNIST classifier, KL of the 1,000-bin histogram to uniform; the KL splits "
             "into the sum of the three channels' digit histograms' KLs to uniform (the column 'of which the "
             "channels' digits', where recorded) plus the dependence between the channels. "
             "gankit rows: mean ± standard error over the seeds that ran.", ""]
    datasets = list(dict.fromkeys([r["dataset"] for r in rows] + args.datasets))
    for dataset in datasets:
        mine = _with_untruncated([r for r in rows if r["dataset"] == dataset])
        methods = list(dict.fromkeys(r["method"] for r in mine))
        stacked = dataset == "stacked-mnist"
        lines += [f"## {dataset}", "", f"Goal: {GOALS[dataset]}.", ""]
        if stacked:
            lines += ["| method | modes (of 1,000) | KL | of which the channels' digits | seeds | steps | wall s / seed | "
                      "CPU s / seed | source |", "|---|---|---|---|---|---|---|---|---|"]
            for name, modes, _, kl, src in PUBLISHED[dataset]:
                lines.append(f"| {name} | {modes} | {kl} | | | | | | {src} |")
            real = _real_stacked_scores()
            lines.append(f"| real stacked images (the floor) | {real['modes']} | {real['kl']:.3f} | "
                         f"{real['kl_digits']:.3f} | | | | | measured: the first {STACKED_N:,} training images, read by the "
                         f"classifier as trained on the machine that wrote this report ({_machine()}) |")
        else:
            lines += ["| method | modes | high quality % | reverse KL | seeds with all modes | seeds | steps | "
                      "wall s / seed | CPU s / seed | source |", "|---|---|---|---|---|---|---|---|---|---|"]
            for name, modes, hq, rkl, src in PUBLISHED[dataset]:
                lines.append(f"| {name} | {modes} | {hq} | {'' if rkl is None else rkl} | | | | | | {src} |")
        # one table row per method, budget and extra overrides
        for (method, n_steps, over), rs in _groups(mine).items():
            label = STACKED_NAMES[method] if stacked else method
            pack = rs[0]["pack"]
            extra = "".join(f", {o}" for o in _overrides(rs[0]))
            name = f"{label} (gankit, pack {pack}, batch {rs[0]['batch_size']}{extra})"
            secs = _fmt([r["seconds"] for r in rs], 0) + " | " + (
                _fmt([r["cpu_seconds"] for r in rs], 0) if all("cpu_seconds" in r for r in rs) else "")
            steps = rs[0]["steps"]
            if stacked:
                digits = [r["scores"].get("kl_digits[classifier:mnist]") for r in rs]
                lines.append(f"| {name} | {_fmt([r['scores']['modes[classifier:mnist]'] for r in rs])} | "
                             f"{_fmt([r['scores']['kl[classifier:mnist]'] for r in rs], 3)} | "
                             f"{_fmt(digits, 3) if None not in digits else ''} | {len(rs)} | {steps} | "
                             f"{secs} | measured |")
            else:
                total = rs[0]["scores"]["modes_total"]
                full = sum(r["scores"]["modes"] == total for r in rs)
                lines.append(f"| {name} | {_fmt([r['scores']['modes'] for r in rs])} | "
                             f"{_fmt([r['scores']['hq_percent'] for r in rs])} | "
                             f"{_fmt([r['scores']['reverse_kl'] for r in rs], 3)} | {full}/{len(rs)} | {len(rs)} | "
                             f"{steps} | {secs} | measured |")
        lines += ["", _settings(dataset), "", _verdict(dataset, mine)]
        for n in dict.fromkeys(r["note"] for r in mine if r.get("note")):
            lines += ["", f"Note: {n}"]
        shown = [m for m in methods if (path.parent / "mode_collapse" / f"{dataset}-{m}.png").is_file()]
        if shown:
            lines += ["", f"Samples of seed {args.picture_seed}" + (" over the true modes (red)" if not stacked else "")
                      + f", one picture per method ({', '.join(shown)}):", "",
                      " ".join(f"![{dataset} {m}](mode_collapse/{dataset}-{m}.png)" for m in shown)]
        lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    path.with_suffix(".json").write_text(json.dumps(rows, indent=1) + "\n")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1 per method (default 10)")
    p.add_argument("--seed-list", default="", metavar="S,S,...",
                   help="run exactly these seeds, e.g. 3,7 (instead of 0..N-1 from --seeds)")
    p.add_argument("--steps", type=int, default=0, help="training steps per run (default: the preset's)")
    p.add_argument("--methods", default="GAN,PacGAN2,PacGAN4", help=f"any of {', '.join(METHODS)}")
    p.add_argument("--datasets", default="ring8,grid25", help=f"any of {', '.join(PRESETS)}")
    p.add_argument("--threads", type=int, default=1, help="torch threads per run (default 1)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="extra override for every run")
    p.add_argument("--picture-seed", type=int, default=0)
    p.add_argument("--runs", default=str(ROOT / "out" / "mode_collapse"), help="run directories (ignored by git)")
    p.add_argument("--results", default=str(ROOT / "results"))
    p.add_argument("--report-only", action="store_true", help="rewrite the report from the results JSON, run nothing")
    p.add_argument("--score", default="", metavar="CKPT,CKPT,...",
                   help="train nothing: score these checkpoints of runs trained elsewhere and add them as rows "
                        "(with --append, to the rows already in the results JSON)")
    p.add_argument("--trained", default="", metavar="TEXT",
                   help="with --score: how the checkpoints were trained, recorded as the rows' command")
    p.add_argument("--append", action="store_true",
                   help="add the new rows to those already in the results JSON (a row of the same dataset, "
                        "method, seed, steps and settings is replaced; every other row is kept)")
    args = p.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    args.methods = [m for m in args.methods.split(",") if m]
    args.datasets = [d for d in args.datasets.split(",") if d]
    try:
        args.seed_list = [int(s) for s in args.seed_list.split(",") if s.strip()] or list(range(args.seeds))
    except ValueError:
        p.error(f"--seed-list: expected comma-separated integers, got {args.seed_list!r}")
    bad = [m for m in args.methods if m not in METHODS] + [d for d in args.datasets if d not in PRESETS]
    if bad:
        p.error(f"unknown method/dataset: {', '.join(bad)}")
    torch.set_num_threads(args.threads)  # sampling and scoring too, not only the training loops
    out = Path(args.results) / "mode_collapse.md"
    args.started, rows = time.strftime("%Y-%m-%d %H:%M"), []
    if args.report_only:
        rows = json.loads(out.with_suffix(".json").read_text())
        args.datasets = []
        write_report(rows, args, out)
        print(f"wrote {out}")
        return
    if args.score:
        rows = json.loads(out.with_suffix(".json").read_text()) if args.append and out.with_suffix(".json").is_file() else []
        args.datasets = []
        for path in [c for c in args.score.split(",") if c]:
            row = score_checkpoint(path, args)
            rows.append(row)
            print(f"{path}: {row['dataset']} seed {row['seed']}, {row['steps']} steps: "
                  + "  ".join(f"{k} {v:.4g}" for k, v in row["scores"].items()), flush=True)
        write_report(rows, args, out)
        print(f"wrote {out}")
        return
    if args.append and out.with_suffix(".json").is_file():
        rows = json.loads(out.with_suffix(".json").read_text())
    for dataset in args.datasets:
        for method in args.methods:
            for seed in args.seed_list:
                row = run_one(dataset, method, seed, args)
                rows = [r for r in rows if not _same_run(r, row)] + [row]
                s = row["scores"]
                print(f"{dataset} {method} seed {seed}: {row['seconds']:.0f} s  "
                      + "  ".join(f"{k} {v:.3g}" for k, v in s.items()), flush=True)
                write_report(rows, args, out)  # partial results survive an interrupted run
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
