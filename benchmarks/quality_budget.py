"""Quality per CPU-second: how good are the samples after 1, 5 and 15 minutes of one core (issue: Quality
per CPU-second)?

Every row × budget × seed trains in its own single-threaded worker process (``OMP_NUM_THREADS=1``,
``torch.set_num_threads(1)``), ``--jobs`` side by side, until the CPU time of its training loop reaches
the budget, then ``--n`` samples are scored with the dataset classifier's features against the training
split: FID, precision, recall and the classes found [classifier:DATASET] (the metrics ``fid``, ``pr`` and
``classes`` of ``gankit eval``), and the **recognisable share**: the fraction of samples the dataset
classifier reads with a maximum softmax probability ≥ 0.9, next to the same share of the real test images
(the ceiling). Samples come from the EMA generator where the run keeps one; a conditional preset is
sampled with balanced classes (sample i of class i mod K), as ``gankit.api.evaluate_run`` does. The real
data's own FID (the test split against the training split) is each dataset's floor. Every number is
computed here from runs made here.

Rows (``--rows``):

- a gankit preset (default ``acgan-mnist``, the default job of ``gankit train``, ``dcgan-mnist``, ``gan-mnist`` on MNIST and
  ``dcgan-fashion-mnist`` on Fashion-MNIST): ``gankit.api.train`` with the preset's own settings and
  ``train.max_seconds=BUDGET``, ``train.clock=cpu``, ``train.threads=1`` (sampling, checkpoints and
  TensorBoard off during training);
- ``seed-loop``: the reference, the loop a student copies, written here from its published
  architecture (the seed's PyTorch-GAN ``gan.py``, as in benchmarks/throughput.py): its MLP G and D as
  published (``BatchNorm1d(n, 0.8)``, D ending in a Sigmoid), torchvision's MNIST with
  ``Compose([Resize(28), ToTensor(), Normalize([0.5], [0.5])])`` per item (throughput.py's one-for-one
  rewrite of those operations), a shuffling ``DataLoader`` of batch 64, noise from ``np.random.normal``,
  ``nn.BCELoss``, Adam 2e-4 (0.5, 0.999), the G step first, then the D step on real and
  ``gen_imgs.detach()``, and the per-batch print of both losses (to ``os.devnull``; the sample image
  it saves every 400 batches is left out). Same data as ``gan-mnist`` (the MNIST subset); its CPU time
  is ``time.process_time`` of its training loop, and it stops at the budget. Its samples are drawn as
  gankit draws its own (G in eval mode: BatchNorm's running statistics).

    python benchmarks/quality_budget.py                                    # the issue's protocol
    python benchmarks/quality_budget.py --rows gan-mnist,seed-loop --budgets 60 --seeds 0
    python benchmarks/quality_budget.py --collect                          # report the finished rows again

The report (benchmarks/results/quality_budget.md and .json) has a row per preset × budget with means ±
standard deviations over the seeds, the ratio of gankit's best unconditional preset's FID to the
seed-style loop's at each budget (the issue's goal: ≤ 0.3), and a FID-against-CPU-seconds figure
(benchmarks/results/quality_budget/). A row × budget × seed left out keeps its last results in the report.
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
REFERENCE = "seed-loop"
PRESETS = ("acgan-mnist", "dcgan-mnist", "gan-mnist", "dcgan-fashion-mnist")  # acgan-mnist: the default job
COMMON = ["train.progress=false", "train.tensorboard=false", "train.steps=10000000", "train.clock=cpu",
          "train.threads=1", "train.checkpoint_every=0", "train.sample_every=0", "train.log_every=50"]
METRICS = ["fid", "pr", "classes"]
CONFIDENT = 0.9  # the recognisable share's threshold on the classifier's maximum softmax probability
GOAL = 0.3       # gankit's best unconditional preset's FID over the seed-style loop's, at every budget
DEFAULT_GOAL = {"budget": 300.0, "fid": 3.0, "recognisable": 0.85}  # the default job's, at this budget, every seed
DATASETS = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}
FIGURE = "fid_vs_cpu_seconds.png"


def recognisable_share(logits=None, *, probs=None, threshold: float = CONFIDENT) -> float:
    """The fraction of images the dataset classifier reads with confidence: its maximum softmax probability
    ≥ ``threshold``. Give the classifier's ``logits`` (N, K), or its class ``probs`` (N, K)."""
    import torch

    if (logits is None) == (probs is None):
        raise ValueError("give the classifier's logits or its probabilities, one of them")
    p = torch.as_tensor(logits).double().softmax(1) if probs is None else torch.as_tensor(probs).double()
    if p.ndim != 2 or len(p) == 0:
        raise ValueError(f"expected (N, K) scores of N >= 1 images, got shape {tuple(p.shape)}")
    return float((p.max(1).values >= threshold).double().mean())


def _name(row: str, budget: float, seed: int) -> str:
    return f"{row}-{budget:g}-seed{seed}"


# -- the reference loop: the seed's gan.py ----------------------------------------------------------

def _seed_nets(latent_dim: int, img_shape: tuple[int, int, int]):
    """G and D of PyTorch-GAN's gan.py (the seed), as published."""
    import numpy as np
    import torch.nn as nn

    class Generator(nn.Module):
        def __init__(self):
            super().__init__()

            def block(in_feat, out_feat, normalize=True):
                layers = [nn.Linear(in_feat, out_feat)]
                if normalize:
                    layers.append(nn.BatchNorm1d(out_feat, 0.8))  # (0.8 is eps: the seed's code, as published)
                layers.append(nn.LeakyReLU(0.2, inplace=True))
                return layers

            self.model = nn.Sequential(*block(latent_dim, 128, normalize=False), *block(128, 256), *block(256, 512),
                                       *block(512, 1024), nn.Linear(1024, int(np.prod(img_shape))), nn.Tanh())

        def forward(self, z):
            img = self.model(z)
            return img.view(img.size(0), *img_shape)

    class Discriminator(nn.Module):
        def __init__(self):
            super().__init__()
            self.model = nn.Sequential(nn.Linear(int(np.prod(img_shape)), 512), nn.LeakyReLU(0.2, inplace=True),
                                       nn.Linear(512, 256), nn.LeakyReLU(0.2, inplace=True),
                                       nn.Linear(256, 1), nn.Sigmoid())

        def forward(self, img):
            return self.model(img.view(img.size(0), -1))

    return Generator(), Discriminator()


def seed_loop(budget: float, seed: int, data_cfg, latent_dim: int = 100, batch_size: int = 64,
              lr: float = 2e-4, b1: float = 0.5, b2: float = 0.999):
    """The seed's training loop until its CPU time reaches ``budget`` seconds: (G, iterations, CPU s, wall s)."""
    import numpy as np
    import torch

    from gankit.data import load_data

    sys.path.insert(0, str(HERE))
    from throughput import SeedStyleMNIST  # torchvision's MNIST with the seed's transforms, one for one

    torch.manual_seed(seed)
    np.random.seed(seed)
    img_shape = (data_cfg.channels, data_cfg.resolution, data_cfg.resolution)
    generator, discriminator = _seed_nets(latent_dim, img_shape)
    adversarial_loss = torch.nn.BCELoss()
    optimizer_G = torch.optim.Adam(generator.parameters(), lr=lr, betas=(b1, b2))
    optimizer_D = torch.optim.Adam(discriminator.parameters(), lr=lr, betas=(b1, b2))
    dataloader = torch.utils.data.DataLoader(SeedStyleMNIST(load_data(data_cfg).images, data_cfg.resolution),
                                             batch_size=batch_size, shuffle=True)
    terminal = open(os.devnull, "w")  # the seed prints both losses every batch: to the cheapest terminal there is
    done, epoch = 0, 0
    t0, w0 = time.process_time(), time.perf_counter()
    while time.process_time() - t0 < budget:
        for i, (imgs, _) in enumerate(dataloader):
            valid = torch.ones(imgs.size(0), 1)
            fake = torch.zeros(imgs.size(0), 1)
            real_imgs = imgs.type(torch.FloatTensor)

            optimizer_G.zero_grad()
            z = torch.tensor(np.random.normal(0, 1, (imgs.shape[0], latent_dim)), dtype=torch.float32)
            gen_imgs = generator(z)
            g_loss = adversarial_loss(discriminator(gen_imgs), valid)
            g_loss.backward()
            optimizer_G.step()

            optimizer_D.zero_grad()
            real_loss = adversarial_loss(discriminator(real_imgs), valid)
            fake_loss = adversarial_loss(discriminator(gen_imgs.detach()), fake)
            d_loss = (real_loss + fake_loss) / 2
            d_loss.backward()
            optimizer_D.step()
            print(f"[Epoch {epoch}] [Batch {i}/{len(dataloader)}] [D loss: {d_loss.item():f}] "
                  f"[G loss: {g_loss.item():f}]", file=terminal)
            done += 1
            if time.process_time() - t0 >= budget:
                break
        epoch += 1
    cpu, wall = time.process_time() - t0, time.perf_counter() - w0
    terminal.close()
    return generator, done, cpu, wall


# -- scoring and the workers -------------------------------------------------------------------------

def real_share(data_cfg, extractor) -> tuple[float, int]:
    """The recognisable share of the real test images (the ceiling), and their count. Their class
    probabilities come from the cached reference statistics the FID floor computed."""
    from gankit.data import load_heldout
    from gankit.metrics.evaluate import reference

    held = load_heldout(data_cfg)
    ref = reference(extractor, held, f"{data_cfg.name}-{data_cfg.resolution}px{data_cfg.channels}-test")
    return recognisable_share(probs=ref.probs), len(held)


def _scores(res, data_cfg) -> tuple[dict, int]:
    """``res``'s scores with the recognisable share of its samples and of the real test images, and the
    count of those."""
    from gankit.metrics.extractors import build_extractor

    share, n_real = real_share(data_cfg, build_extractor("classifier", data_cfg))
    return {**res.scores, f"recognisable[{res.extractor}]": recognisable_share(probs=res.fake_features[1]),
            f"recognisable_real[{res.extractor}]": share}, n_real


def worker(row: str, budget: float, n: int, seed: int, out: Path) -> dict:
    """Train one row to its CPU budget, score it and draw its grid (``out/NAME.png``)."""
    import dataclasses

    import torch

    from gankit.config import load_config
    from gankit.utils.images import save_image_grid

    name = _name(row, budget, seed)
    run = out / name
    shutil.rmtree(run, ignore_errors=True)
    if row == REFERENCE:
        from gankit.metrics.evaluate import evaluate
        from gankit.metrics.extractors import build_extractor
        from gankit.sampling import BareGenerator, draw

        cfg = load_config("gan-mnist")  # the same data: the MNIST subset at 28 px
        data_cfg = dataclasses.replace(cfg.data, split="train")
        G, steps, cpu, wall = seed_loop(budget, seed, data_cfg)
        run.mkdir(parents=True)
        torch.save(G.state_dict(), run / "seed_generator.pt")
        bare = BareGenerator(G, 100)
        res = evaluate(draw(bare, n, seed=seed), data_cfg, build_extractor("classifier", data_cfg), METRICS,
                       seed=seed)
        grid = draw(bare, 64, seed=0)
        preset, family, conditional, ema = None, "mlp", False, False
    else:
        from gankit.api import evaluate_run, sample, train
        from gankit.train.checkpoint import load_checkpoint

        cfg = load_config(row)
        data_cfg = cfg.data
        train(row, COMMON + [f"seed={seed}", f"train.max_seconds={budget:g}"], out=run)
        state = load_checkpoint(run)
        steps, cpu, wall = int(state["step"]), float(state["cpu_seconds"]), float(state["train_seconds"])
        res = evaluate_run(run, METRICS, n=n, extractor="classifier", seed=seed)
        grid = sample(run, 64, seed=0)
        preset, family = row, cfg.model.g.name
        conditional, ema = cfg.model.g.conditioning != "none", cfg.train.ema_decay > 0
    save_image_grid(grid, out / f"{name}.png")
    scores, n_real = _scores(res, data_cfg)
    return {"row": row, "preset": preset, "dataset": data_cfg.name, "family": family, "conditional": conditional,
            "ema": ema, "seed": seed, "budget": budget, "n": n, "steps": steps, "cpu_seconds": cpu,
            "wall_seconds": wall, "scores": scores, "real_n": n_real, "notes": res.notes}


# -- the report ------------------------------------------------------------------------------------

def _shown(argv: list[str]) -> list[str]:
    """The command's arguments as a results file shows them: no paths of this machine, no report-only switches."""
    from gankit.utils.machine import shown_args

    return shown_args(argv, drop=("--collect",))


def _score(r: dict, name: str) -> float | None:
    return next((v for k, v in r["scores"].items() if k.split("[")[0] == name), None)


def _stats(values: list) -> tuple[float, float | None] | None:
    """Mean and sample standard deviation (None for one value) of the values that are not None."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    m = sum(values) / len(values)
    sd = (sum((v - m) ** 2 for v in values) / (len(values) - 1)) ** 0.5 if len(values) > 1 else None
    return m, sd


def _mean_sd(values: list, fmt: str) -> str:
    s = _stats(values)
    if s is None:
        return "–"
    return format(s[0], fmt) if s[1] is None else f"{format(s[0], fmt)} ± {format(s[1], fmt)}"


def _default_job() -> str:
    from gankit.config import DEFAULT_PRESET

    return DEFAULT_PRESET


def _tags(row: str, conditional: bool) -> str:
    tags = (["conditional"] if conditional else []) + (["the default job"] if row == _default_job() else [])
    return f" ({'; '.join(tags)})" if tags else ""


def default_job(rows: list[dict]) -> dict | None:
    """The default job's seeds at the goal's budget, each against the goal: ``{"row", "budget", "seeds": [(seed,
    fid, recognisable, met)], "met": k}``; None when the rows hold no such results."""
    row, goal = _default_job(), DEFAULT_GOAL
    rs = sorted((r for r in rows if r["row"] == row and r["budget"] == goal["budget"]), key=lambda r: r["seed"])
    if not rs:
        return None
    seeds = []
    for r in rs:
        fid, rec = _score(r, "fid"), _score(r, "recognisable")
        ok = fid is not None and rec is not None and fid <= goal["fid"] and rec >= goal["recognisable"]
        seeds.append((r["seed"], fid, rec, ok))
    return {"row": row, "budget": goal["budget"], "seeds": seeds, "met": sum(s[3] for s in seeds)}


def _row_order(rows: list[dict]) -> list[str]:
    names = dict.fromkeys(r["row"] for r in rows)
    known = [REFERENCE, *PRESETS]
    return [r for r in known if r in names] + sorted(r for r in names if r not in known)


def _groups(rows: list[dict]) -> dict[tuple[str, float], list[dict]]:
    """The rows' results by (row, budget), in the report's order, each group's seeds ascending."""
    out: dict[tuple[str, float], list[dict]] = {}
    for row in _row_order(rows):
        for b in sorted({r["budget"] for r in rows if r["row"] == row}):
            out[(row, b)] = sorted((r for r in rows if r["row"] == row and r["budget"] == b), key=lambda r: r["seed"])
    return out


def _fid(rs: list[dict]) -> tuple[float, float | None] | None:
    return _stats([_score(r, "fid") for r in rs])


def ratios(rows: list[dict]) -> list[dict]:
    """At every budget of the seed-style loop: its mean FID, gankit's best unconditional preset on the same
    data (lowest mean FID) and the ratio, and the same for the best preset of the loop's network family."""
    groups = _groups(rows)
    out = []
    for (row, b), ref in groups.items():
        if row != REFERENCE or _fid(ref) is None:
            continue
        ref_fid, dataset, family = _fid(ref)[0], ref[0]["dataset"], ref[0]["family"]
        cands = [(_fid(rs)[0], name, rs[0]["family"]) for (name, bb), rs in groups.items()
                 if name != REFERENCE and bb == b and rs[0]["dataset"] == dataset and not rs[0]["conditional"]
                 and _fid(rs) is not None]
        best = min(cands, default=None)
        same = min((c for c in cands if c[2] == family), default=None)
        out.append({"budget": b, "reference_fid": ref_fid, "family": family,
                    "best": None if best is None else {"row": best[1], "fid": best[0], "ratio": best[0] / ref_fid},
                    "same_family": None if same is None else {"row": same[1], "fid": same[0],
                                                              "ratio": same[0] / ref_fid}})
    return out


def figure(rows: list[dict], path: Path) -> Path | None:
    """FID (mean ± sd over the seeds) against the CPU budget, log-log, a line per row, a panel per dataset,
    each with its real-data floor."""
    groups = _groups(rows)
    datasets = list(dict.fromkeys(rs[0]["dataset"] for rs in groups.values() if _fid(rs) is not None))
    if not datasets:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(datasets), figsize=(5.6 * len(datasets), 4.2), squeeze=False)
    for ax, dataset in zip(axes[0], datasets):
        budgets = set()
        for row in _row_order(rows):
            pts = [(b, _fid(rs)) for (name, b), rs in groups.items()
                   if name == row and rs[0]["dataset"] == dataset and _fid(rs) is not None]
            if not pts:
                continue
            budgets |= {b for b, _ in pts}
            ref = row == REFERENCE
            conditional = any(r["conditional"] for r in rows if r["row"] == row)
            label = "seed-style loop (reference)" if ref else row + (" (conditional)" if conditional else "")
            ax.errorbar([b for b, _ in pts], [s[0] for _, s in pts], yerr=[s[1] or 0.0 for _, s in pts],
                        marker="s" if ref else "o", linestyle="--" if ref else "-", capsize=3,
                        color="k" if ref else None, label=label)
        floor = next((_score(r, "fid_floor") for r in rows if r["dataset"] == dataset
                      and _score(r, "fid_floor") is not None), None)
        if floor is not None:
            ax.axhline(floor, color="grey", linestyle=":", label=f"real data (floor {floor:.2f})")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(sorted(budgets))
        ax.set_xticklabels([f"{b:g}" for b in sorted(budgets)])
        ax.minorticks_off()
        ax.set_xlabel("training budget (CPU-seconds, 1 thread)")
        ax.set_ylabel(f"FID[classifier:{dataset}] (lower is better)")
        ax.set_title(f"{DATASETS.get(dataset, dataset)}: FID against CPU time")
        ax.legend(fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def report(args, rows: list[dict], results: Path, started: str) -> Path:
    from gankit.utils.machine import describe_machine

    n = rows[0]["n"] if rows else args.n
    lines = ["# Quality per CPU-second", "",
             f"Command: `python benchmarks/quality_budget.py {' '.join(_shown(args.argv))}`"
             + (" (this report: the rows' results collected from their finished workers with `--collect`)"
                if getattr(args, "collect", False) else "") + f"; report written {started}.", "",
             f"Machine: {describe_machine()}. Every row × budget × seed trained in its own 1-thread process until "
             f"the CPU time of its training loop reached the budget; then {n:,} samples (of the EMA generator where "
             f"the preset keeps one; conditional presets: balanced classes) were scored with the dataset "
             f"classifier's features against the training split. Cells: mean ± standard deviation over the seeds. "
             f"Recognisable: the share of samples the dataset classifier reads with a maximum softmax probability "
             f"≥ {CONFIDENT:g} (a classifier can be sure of images that show no digit at all, e.g. the noise of a "
             f"collapsed G: read it with the classes and precision). `{REFERENCE}`: the seed's PyTorch-GAN gan.py "
             f"loop (its MLP, torchvision-style per-item transforms, BCE, G then D), written in the benchmark.", ""]
    groups = _groups(rows)
    for dataset in dict.fromkeys(rs[0]["dataset"] for rs in groups.values()):  # the rows' order
        lines += [f"## {DATASETS.get(dataset, dataset)}", "",
                  "| row | G | budget (CPU s) | seeds | G steps | CPU s | FID ↓ | precision ↑ | recall ↑ | "
                  "classes ↑ | recognisable ↑ | samples |",
                  "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
        for (row, b), rs in groups.items():
            if rs[0]["dataset"] != dataset:
                continue
            label = (f"{REFERENCE} (reference)" if row == REFERENCE
                     else f"`{row}`" + _tags(row, rs[0].get("conditional")))
            family = rs[0].get("family", "") + (" + EMA" if rs[0].get("ema") else "")
            grids = " ".join(f"[{r['seed']}](quality_budget/{_name(row, b, r['seed'])}.png)" for r in rs)
            lines.append(f"| {label} | {family} | {b:g} | {len(rs)} | {_mean_sd([r['steps'] for r in rs], '.0f')} | "
                         f"{_mean_sd([r['cpu_seconds'] for r in rs], '.0f')} | "
                         f"{_mean_sd([_score(r, 'fid') for r in rs], '.2f')} | "
                         f"{_mean_sd([_score(r, 'precision') for r in rs], '.3f')} | "
                         f"{_mean_sd([_score(r, 'recall') for r in rs], '.3f')} | "
                         f"{_mean_sd([_score(r, 'classes_hit') for r in rs], '.1f')} | "
                         f"{_mean_sd([_score(r, 'recognisable') for r in rs], '.3f')} | {grids} |")
        real = [r for r in rows if r["dataset"] == dataset]
        floor = next((_score(r, "fid_floor") for r in real if _score(r, "fid_floor") is not None), None)
        ceiling = next((r for r in real if _score(r, "recognisable_real") is not None), None)
        lines.append("")
        if floor is not None:
            lines.append(f"Real-data floor: FID {floor:.2f} (the test split against the training split).")
        if ceiling is not None:
            lines.append(f"Recognisable share of the real test images (the ceiling): "
                         f"{_score(ceiling, 'recognisable_real'):.3f} (of {ceiling['real_n']:,}).")
        lines.append("")
    job = default_job(rows)
    if job is not None:
        g = DEFAULT_GOAL
        cells = "; ".join(f"seed {seed}: FID {'–' if fid is None else f'{fid:.2f}'}, recognisable "
                          f"{'–' if rec is None else f'{rec:.3f}'} ({'met' if ok else 'missed'})"
                          for seed, fid, rec, ok in job["seeds"])
        lines += ["## The default job", "",
                  f"`gankit train` trains `{job['row']}`. The issue's goal at {g['budget']:g} CPU-s: FID ≤ "
                  f"{g['fid']:g} and recognisable share ≥ {g['recognisable']:g}, in every seed. Measured: {cells}. "
                  f"**Met in {job['met']} of {len(job['seeds'])} seeds.**", ""]
    rs = ratios(rows)
    if rs:
        lines += ["## Against the seed-style loop", "",
                  f"gankit's best unconditional preset on the same data (lowest mean FID at that budget) over "
                  f"`{REFERENCE}`'s mean FID; the issue's goal is ≤ {GOAL:g}× at every budget. The last columns: the "
                  f"best preset of the loop's own network family ({rs[0]['family']}).", "",
                  f"| budget (CPU s) | `{REFERENCE}` FID | best unconditional preset | its FID | ratio | "
                  f"goal ≤ {GOAL:g}× | best {rs[0]['family']} preset | its FID | ratio |",
                  "| ---: | ---: | --- | ---: | ---: | --- | --- | ---: | ---: |"]
        for r in rs:
            best, same = r["best"], r["same_family"]
            cells = ([f"`{best['row']}`", f"{best['fid']:.2f}", f"**{best['ratio']:.2f}×**",
                      "met" if best["ratio"] <= GOAL else "MISSED"] if best else ["–"] * 4)
            cells += [f"`{same['row']}`", f"{same['fid']:.2f}", f"{same['ratio']:.2f}×"] if same else ["–"] * 3
            lines.append(f"| {r['budget']:g} | {r['reference_fid']:.2f} | " + " | ".join(cells) + " |")
        lines.append("")
    fig = figure(rows, results / "quality_budget" / FIGURE)
    if fig is not None:
        lines += ["![FID against CPU-seconds](quality_budget/" + FIGURE + ")", ""]
    md = results / "quality_budget.md"
    old = md.read_text() if md.is_file() else ""
    kept = old[old.index("## Reading the results"):] if "## Reading the results" in old else ""
    md.write_text("\n".join(lines).rstrip() + "\n" + ("\n" + kept if kept else ""))
    (results / "quality_budget.json").write_text(json.dumps(rows, indent=1) + "\n")
    return md


# -- the driver ------------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", default=",".join(PRESETS + (REFERENCE,)),
                    help=f"comma-separated gankit presets and {REFERENCE} (the reference loop)")
    ap.add_argument("--budgets", default="60,300,900", help="comma-separated training budgets in CPU-seconds")
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated seeds per row and budget")
    ap.add_argument("--n", type=int, default=5000, help="samples scored per run")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes side by side (1 thread each)")
    ap.add_argument("--out", default="benchmarks/out/quality_budget")
    ap.add_argument("--results", default="benchmarks/results")
    ap.add_argument("--collect", action="store_true",
                    help="report the results already written by the workers in --out (no training, no scoring)")
    ap.add_argument("--worker", nargs=3, metavar=("ROW", "BUDGET", "SEED"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.argv = list(sys.argv[1:])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.worker:
        import torch

        torch.set_num_threads(1)
        row, budget, seed = args.worker
        result = worker(row, float(budget), args.n, int(seed), out)
        (out / f"{_name(row, float(budget), int(seed))}.json").write_text(json.dumps(result))
        return
    rows = [r for r in args.rows.split(",") if r]
    budgets = [float(b) for b in args.budgets.split(",") if b]
    seeds = [int(s) for s in args.seeds.split(",") if s]
    from gankit.config import load_config
    from gankit.errors import GankitError

    datasets = {}
    for row in rows:
        try:
            datasets[row] = load_config("gan-mnist" if row == REFERENCE else row).data
        except GankitError as e:
            raise SystemExit(f"--rows: {row!r} is neither {REFERENCE} nor a preset gankit knows ({e})") from None
    started = time.strftime("%Y-%m-%d %H:%M")
    if not args.collect:
        from gankit.metrics.classifier import classifier_for

        for cfg in {d.name: d for d in datasets.values()}.values():
            classifier_for(cfg)  # trained or read from the cache once, before the workers read it

    def launch(task: tuple[str, float, int]) -> dict | None:
        row, budget, seed = task
        name = _name(row, budget, seed)
        (out / f"{name}.json").unlink(missing_ok=True)
        cmd = [sys.executable, __file__, "--worker", row, f"{budget:g}", str(seed), *args.argv]
        proc = subprocess.run(cmd, env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True, text=True)
        if proc.returncode != 0:  # reported, and the other rows still land
            print(f"{name} failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}", flush=True)
            return None
        result = json.loads((out / f"{name}.json").read_text())
        print(f"{name}: {result['steps']} steps in {result['cpu_seconds']:.0f} CPU s, "
              f"{json.dumps({k: round(v, 4) for k, v in result['scores'].items()})}", flush=True)
        return result

    # the largest budgets first, so that the jobs end together
    tasks = sorted([(r, b, s) for r in rows for b in budgets for s in seeds], key=lambda t: -t[1])
    if args.collect:
        fresh = [json.loads((out / f"{_name(*t)}.json").read_text()) for t in tasks
                 if (out / f"{_name(*t)}.json").is_file()]
    else:
        with ThreadPoolExecutor(args.jobs) as pool:
            fresh = [r for r in pool.map(launch, tasks) if r is not None]
    results = Path(args.results)
    (results / "quality_budget").mkdir(parents=True, exist_ok=True)
    for r in fresh:
        grid = out / f"{_name(r['row'], r['budget'], r['seed'])}.png"
        if grid.is_file():
            shutil.copy(grid, results / "quality_budget" / grid.name)
    saved = results / "quality_budget.json"
    done = {(r["row"], r["budget"], r["seed"]) for r in fresh}
    kept = [r for r in (json.loads(saved.read_text()) if saved.is_file() else [])
            if (r["row"], r["budget"], r["seed"]) not in done]
    print(report(args, kept + fresh, results, started))


if __name__ == "__main__":
    main()
