"""Unpaired and multi-domain translation on the built-in tasks: CycleGAN's ablation on mnist2fonts,
CycleGAN (and its relatives) on mnist2color, StarGAN on mnist-attributes.

Every row trains a shipped preset with at most a few settings changed, from the same seed (but the rows
that change it), one row after another in this process, then scores it with ``gankit.api.evaluate_run``
on the first ``--n`` held-out inputs of each direction, with the classifiers trained on each dataset (cached):

- mnist2fonts (A = MNIST digits, B = font digits): the MNIST classifier's accuracy on font digits
  translated into the MNIST domain (``BtoA/class_acc[classifier:mnist]``) against its accuracy on the
  untranslated font digits (``class_acc_inputs``: the baseline) and on real held-out MNIST digits
  (``class_acc_real``: the ceiling); the same for the other way with the fonts classifier; FID in the
  target domain; the cycle L1. Rows: the paper's ablation (Zhu et al. 2017, Table 4) — GAN alone, cycle
  alone, GAN + cycle (the preset), + identity — and the DiscoGAN and DualGAN presets.
- mnist2color (A = MNIST digits, B = the same recipe's coloured digits, trained on disjoint halves): L1
  and SSIM to the hidden true counterpart of every held-out input, FID and label accuracy, both ways.
- mnist-attributes: the domain classifier's error on translations read as their target domains
  (``domain_err``) next to its error on real held-out images (``domain_err_real``; StarGAN's protocol,
  Choi et al. 2018, Table 3), the digit classifier's accuracy on the translations (digit preservation),
  and L1/SSIM to the known true target. Rows: the preset (U-Net G) on three seeds, a narrower U-Net, and
  the paper's ResNet translator in its place (``--rows stargan-resnet``, not a default row: about 40 CPU
  minutes).

Each row's training CPU time (user + system, all threads) is recorded next to its wall time. Resumable:
a row whose folder (``--out``/ROW) holds a finished run with the same settings is not retrained, and a
scored row (ROW/benchmark.json) is not scored again; ``--fresh`` retrains the rows asked for. The
results file lists every scored row found under ``--out``, the commands, the machine and the date, and
links each row's last progress grid (copied next to it).

    python benchmarks/translation.py                                   # the default rows (about 1.5 h on 2 cores)
    python benchmarks/translation.py --rows fonts-gan,fonts-cycle      # some rows
    python benchmarks/translation.py --steps 20 --n 100 --out runs/tr-smoke --results /tmp/tr-smoke
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
import time
from pathlib import Path
from typing import NamedTuple

if __name__ == "__main__":  # idle OpenMP threads sleep (see benchmarks/pix2pix.py); numbers unchanged
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent / "src"))

RESULTS_NAME = "translation"
READING = "## Reading the results"


class Row(NamedTuple):
    task: str                      # the section of the results file
    label: str
    preset: str
    overrides: tuple[str, ...]
    what: str


ROWS: dict[str, Row] = {
    "fonts-gan": Row("mnist2fonts", "GAN alone", "cyclegan-mnist2fonts", ("game.lambda_cycle=0",),
                     "no cycle loss"),
    "fonts-cycle": Row("mnist2fonts", "Cycle alone", "cyclegan-mnist2fonts", ("game.adversarial=false",),
                       "no discriminators"),
    "fonts-gan+cycle": Row("mnist2fonts", "GAN + cycle (the preset)", "cyclegan-mnist2fonts", (),
                           "the preset as is"),
    "fonts-cyclegan": Row("mnist2fonts", "GAN + cycle + identity", "cyclegan-mnist2fonts",
                          ("game.lambda_identity=0.5",), "the identity loss of §5.2 added, 0.5·λ"),
    "fonts-discogan": Row("mnist2fonts", "DiscoGAN (the preset, reconstruction × 10)", "discogan-mnist2fonts", (),
                          "the preset as is"),
    "fonts-discogan-paper": Row("mnist2fonts", "DiscoGAN, reconstruction × 1 (the paper's sum)", "discogan-mnist2fonts",
                                ("game.lambda_cycle=1",), "the paper's unweighted sum of the losses"),
    "fonts-dualgan": Row("mnist2fonts", "DualGAN", "dualgan-mnist2fonts", (), "the preset as is"),
    "color-cyclegan": Row("mnist2color", "CycleGAN", "cyclegan-mnist2color", (), "the preset as is"),
    "color-discogan": Row("mnist2color", "DiscoGAN (the preset, reconstruction × 100)", "discogan-mnist2color", (),
                          "the preset as is"),
    "color-discogan-10": Row("mnist2color", "DiscoGAN, reconstruction × 10", "discogan-mnist2color",
                             ("game.lambda_cycle=10",), "the weight of the mnist2fonts preset"),
    "color-dualgan": Row("mnist2color", "DualGAN", "dualgan-mnist2color", (), "the preset as is"),
    "stargan": Row("mnist-attributes", "StarGAN (the preset: U-Net G, 28 px)", "stargan-mnist-attributes", (),
                   "the preset as is"),
    "stargan-seed1": Row("mnist-attributes", "StarGAN (the preset), seed 1", "stargan-mnist-attributes", ("seed=1",),
                         "the preset, another seed"),
    "stargan-seed2": Row("mnist-attributes", "StarGAN (the preset), seed 2", "stargan-mnist-attributes", ("seed=2",),
                         "the preset, a third seed"),
    "stargan-narrow": Row("mnist-attributes", "StarGAN, U-Net width 32", "stargan-mnist-attributes",
                          ("model.g.width=32",), "a generator half as wide"),
    "stargan-resnet": Row("mnist-attributes", "StarGAN with the paper's ResNet translator", "stargan-mnist-attributes",
                          ("model.g.name=resnet-translator", "model.g.width=32", "model.g.blocks=3"),
                          "the paper's G (width 32, 3 residual blocks at 7x7) in place of the U-Net"),
}
DEFAULT_ROWS = ["fonts-gan", "fonts-cycle", "fonts-gan+cycle", "fonts-cyclegan", "color-cyclegan", "stargan",
                "stargan-seed1", "stargan-seed2", "stargan-narrow"]
METRICS = {"mnist2fonts": ["accuracy", "cycle", "fid"], "mnist2color": ["l1", "ssim", "accuracy", "cycle", "fid"],
           "mnist-attributes": ["domains", "accuracy", "l1", "ssim", "cycle", "fid"]}


def parse_rows(text: str) -> list[str]:
    rows = [r.strip() for r in text.split(",") if r.strip()]
    if rows == ["all"]:
        return list(ROWS)
    bad = [r for r in rows if r not in ROWS]
    if bad or not rows:
        raise SystemExit(f"--rows: unknown row(s) {', '.join(bad) or '(none)'}; choose from {', '.join(ROWS)} or all")
    return rows


def score(scores: dict, name: str) -> float | None:
    """The score whose name (without the extractor) is ``name``, e.g. ``BtoA/class_acc``."""
    return next((v for k, v in scores.items() if k.split("[", 1)[0] == name), None)


def fmt(v: float | None, kind: str) -> str:
    if v is None:
        return "–"
    if kind == "pct":
        return f"{100 * v:.1f}%"
    if kind == "err":
        return f"{100 * v:.2f}%"
    return f"{v:.3f}" if kind == "l1" else f"{v:.2f}"


#: per task: (column title, score name, format)
COLUMNS = {
    "mnist2fonts": [("fonts→MNIST acc", "BtoA/class_acc", "pct"), ("untranslated", "BtoA/class_acc_inputs", "pct"),
                    ("real MNIST", "BtoA/class_acc_real", "pct"), ("MNIST→fonts acc", "AtoB/class_acc", "pct"),
                    ("FID →MNIST", "BtoA/fid", "f"), ("FID →fonts", "AtoB/fid", "f"),
                    ("cycle L1 (A, B)", ("AtoB/cycle_l1", "BtoA/cycle_l1"), "l1")],
    "mnist2color": [("L1 →colour", "AtoB/l1", "l1"), ("L1 →grey", "BtoA/l1", "l1"), ("SSIM →colour", "AtoB/ssim", "f"),
                    ("SSIM →grey", "BtoA/ssim", "f"), ("FID →colour", "AtoB/fid", "f"), ("FID →grey", "BtoA/fid", "f"),
                    ("acc →colour", "AtoB/class_acc", "pct"), ("untranslated", "AtoB/class_acc_inputs", "pct"),
                    ("acc →grey", "BtoA/class_acc", "pct"), ("untranslated", "BtoA/class_acc_inputs", "pct")],
    "mnist-attributes": [("domain error", "domain_err", "err"), ("on real images", "domain_err_real", "err"),
                         ("digit acc", "class_acc", "pct"), ("untranslated", "class_acc_inputs", "pct"),
                         ("on true targets", "class_acc_targets", "pct"),
                         ("L1 to true target", "l1", "l1"), ("SSIM", "ssim", "f"), ("FID", "fid", "f"),
                         ("cycle L1", "cycle_l1", "l1")],
}


def table(task: str, records: list[dict]) -> list[str]:
    cols = COLUMNS[task]
    head = ["row", "settings"] + [c[0] for c in cols] + ["steps", "CPU min (train)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in records:
        cells = [r["label"], " ".join(f"`{o}`" for o in r["overrides"]) or "(preset)"]
        for _, name, kind in cols:
            if isinstance(name, tuple):
                cells.append(" / ".join(fmt(score(r["scores"], n), kind) for n in name))
            else:
                cells.append(fmt(score(r["scores"], name), kind))
        cells += [str(r["steps"]), f"{r['cpu_seconds'] / 60:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def machine() -> str:
    from gankit.utils.machine import describe_machine

    return describe_machine(threads=True)


def train_row(key: str, run: Path, overrides: list[str], fresh: bool) -> dict:
    """Train (or reuse / resume) one row; returns its training record."""
    from gankit.api import train

    from gankit.config import load_config

    row = ROWS[key]
    record_path = run / "train.json"
    # what the row trains: the resolved config (a preset edited since is a different row), its description aside
    config = {k: v for k, v in load_config(row.preset, overrides).to_dict().items() if k != "description"}
    wanted = json.loads(json.dumps({"preset": row.preset, "overrides": overrides, "config": config}))  # as stored
    if fresh and run.exists():
        shutil.rmtree(run)
    if record_path.is_file():
        rec = json.loads(record_path.read_text())
        if rec.get("settings") == wanted:
            return rec
        shutil.rmtree(run)  # other settings: start over
    settings = run / "settings.json"  # written before training starts: an interrupted row resumes if they match
    resume = (run / "checkpoints" / "last.pt").is_file() and settings.is_file() \
        and json.loads(settings.read_text()) == wanted
    if not resume and run.exists():
        shutil.rmtree(run)
    run.mkdir(parents=True, exist_ok=True)
    settings.write_text(json.dumps(wanted))
    t0, c0 = time.perf_counter(), time.process_time()
    if resume:
        summary = train(resume=run, overrides=overrides)
    else:
        summary = train(row.preset, overrides, out=run)
    # the trainer's clocks count every session of the run (an interrupted row resumed here included)
    rec = {"settings": wanted, "steps": summary["steps"], "wall_seconds": summary["train_seconds"],
           "cpu_seconds": summary["cpu_seconds"], "resumed": resume,
           "this_session_seconds": time.perf_counter() - t0, "this_session_cpu": time.process_time() - c0}
    record_path.write_text(json.dumps(rec, indent=1))
    return rec


def score_row(key: str, run: Path, n: int) -> dict:
    from gankit.api import evaluate_run

    path = run / "benchmark.json"
    if path.is_file():
        return json.loads(path.read_text())
    t0 = time.perf_counter()
    res = evaluate_run(run, metrics=METRICS[ROWS[key].task], n=n, extractor="classifier")
    out = {"scores": res.scores, "notes": res.notes, "n": n, "eval_seconds": time.perf_counter() - t0}
    path.write_text(json.dumps(out, indent=1))
    return out


def last_grid(run: Path) -> Path | None:
    final = run / "samples" / "final.png"
    grids = sorted((run / "samples").glob("step-*.png"))
    return final if final.is_file() else (grids[-1] if grids else None)


def write_report(results_dir: Path, out: Path, records: list[dict], command: str) -> Path:
    path = results_dir / f"{RESULTS_NAME}.md"
    kept = ""
    if path.is_file():
        text = path.read_text()
        if READING in text:
            kept = text[text.index(READING):]
    grid_dir = results_dir / RESULTS_NAME
    grid_dir.mkdir(parents=True, exist_ok=True)
    lines = ["# Unpaired and multi-domain translation: CycleGAN, DiscoGAN, DualGAN, StarGAN", "",
             f"Produced by `{command}` on {time.strftime('%Y-%m-%d')}, {machine()}. Every row is a shipped "
             "preset with at most a few settings changed (benchmarks/translation.py says how each is scored); "
             f"scores on up to {records[0]['n'] if records else '?'} held-out inputs of each direction (every one of these "
             "tasks' test splits). CPU minutes: the trainer's clock (all threads), on a machine shared with other "
             "jobs, so only roughly comparable between rows.", ""]
    for task in COLUMNS:
        rows = [r for r in records if ROWS[r["row"]].task == task]
        if not rows:
            continue
        lines += [f"## {task}", ""] + table(task, rows) + [""]
        for r in rows:
            src = last_grid(out / r["row"])
            if src is not None:
                dst = grid_dir / f"{r['row']}.png"
                shutil.copyfile(src, dst)
                lines.append(f"- {r['label']}: [{dst.name}]({RESULTS_NAME}/{dst.name}) (step {r['steps']})")
        lines.append("")
    lines += [kept or f"{READING}\n\n(to be written after reading the grids and numbers)\n"]
    path.write_text("\n".join(lines))
    return path


def main() -> None:
    import torch

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", default=",".join(DEFAULT_ROWS), help=f"comma-separated rows or all ({', '.join(ROWS)})")
    ap.add_argument("--steps", type=int, default=None, help="override every preset's train.steps (smoke tests)")
    ap.add_argument("--n", type=int, default=1000, help="held-out inputs scored per direction (1,000: every one of the tasks)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="runs/translation-benchmark")
    ap.add_argument("--results", default=str(ROOT / "results"))
    ap.add_argument("--fresh", action="store_true", help="retrain the rows asked for")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    out, results = Path(args.out), Path(args.results)
    results.mkdir(parents=True, exist_ok=True)
    common = [f"seed={args.seed}", f"train.threads={args.threads}", "train.progress=false", "train.tensorboard=false"]
    if args.steps is not None:
        common.append(f"train.steps={args.steps}")
    for key in parse_rows(args.rows):
        overrides = common + list(ROWS[key].overrides)
        print(f"== {key}: {ROWS[key].preset} {' '.join(overrides)}", flush=True)
        rec = train_row(key, out / key, overrides, args.fresh)
        sc = score_row(key, out / key, args.n)
        print(f"   {rec['steps']} steps, {rec['cpu_seconds'] / 60:.1f} CPU min; "
              + ", ".join(f"{k}={v:.4g}" for k, v in sc["scores"].items()), flush=True)
    records = []
    for key in ROWS:  # every scored row under --out, in table order
        run = out / key
        if (run / "train.json").is_file() and (run / "benchmark.json").is_file():
            rec, sc = json.loads((run / "train.json").read_text()), json.loads((run / "benchmark.json").read_text())
            records.append({"row": key, "label": ROWS[key].label, "overrides": list(ROWS[key].overrides),
                            "steps": rec["steps"], "cpu_seconds": rec["cpu_seconds"], **sc})
    argv, shown = sys.argv[1:], []
    for i, a in enumerate(argv):  # folders of this machine stay out of the committed results
        shown.append("DIR" if i and argv[i - 1] in ("--out", "--results") else shlex.quote(a))
    command = "python benchmarks/translation.py " + " ".join(shown)
    print(f"wrote {write_report(results, out, records, command.strip())}")


if __name__ == "__main__":
    main()
