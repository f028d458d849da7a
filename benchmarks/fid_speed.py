"""How fast is gankit's FID, and does it agree with the usual scipy.linalg.sqrtm formula?

    OMP_NUM_THREADS=1 python benchmarks/fid_speed.py [--repeats 3]

Goal: on 2048-d statistics, ``gankit.metrics.functional.frechet_distance`` is at least 10x faster
than the scipy-sqrtm FID (the pytorch-fid formula, tr sqrtm(Σ1 Σ2)) when the reference root √Σ1 is
cached, at least 5x faster without the cache, and agrees with it to 1e-6 relative.

Statistics: mean and covariance of 5,000 seeded 2048-d feature vectors with a decaying (power-law)
spectrum and a positive offset, like Inception pool features; "fake" statistics come from a different
mixing matrix, a steeper spectrum and a shift. The three timings are interleaved in each repeat and
the median is reported. As a second check the 2048-d golden case of tests/golden (FID computed with
pytorch-fid) is recomputed. Results go to benchmarks/results/fid_speed.md. scipy is needed here
only; gankit does not depend on it. The exit status is 1 when a goal is missed.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import scipy
import scipy.linalg
import torch

from gankit.metrics.functional import frechet_distance, sqrtm_psd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "golden"))
import metric_inputs  # noqa: E402

D, N = 2048, 5000
GOAL_CACHED, GOAL_PLAIN, GOAL_AGREE = 10.0, 5.0, 1e-6


def feature_stats(seed: int, decay: float, shift: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.RandomState(seed)
    mix = np.eye(D) + 0.5 * rng.randn(D, D) / np.sqrt(D)
    spectrum = (1.0 + np.arange(D)) ** -decay
    x = (rng.randn(N, D) * spectrum) @ mix + 0.4 + shift
    return x.mean(0), np.cov(x, rowvar=False)


def fid_scipy(mu1, s1, mu2, s2) -> float:
    """The textbook formula: tr sqrtm(Σ1 Σ2) with scipy's Schur-based square root (real part)."""
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean).real)


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "fid_speed.md"))
    args = ap.parse_args()

    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    mu1, s1 = feature_stats(0, decay=0.75, shift=0.0)
    mu2, s2 = feature_stats(1, decay=0.8, shift=0.01)
    build_s = time.perf_counter() - t0
    root_s, root1 = timed(lambda: sqrtm_psd(s1))  # once, as for cached reference statistics

    times = {"gankit_cached": [], "gankit": [], "scipy_sqrtm": []}
    values = {}
    for r in range(args.repeats):
        for name, fn in (("gankit_cached", lambda: frechet_distance(mu1, s1, mu2, s2, sqrt_sigma1=root1)),
                         ("gankit", lambda: frechet_distance(mu1, s1, mu2, s2)),
                         ("scipy_sqrtm", lambda: fid_scipy(mu1, s1, mu2, s2))):
            dt, v = timed(fn)
            times[name].append(dt)
            values[name] = v
            print(f"repeat {r + 1}/{args.repeats} {name:14s} {dt:8.3f} s  fid={v:.12g}", file=sys.stderr)
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio_cached, ratio_plain = med["scipy_sqrtm"] / med["gankit_cached"], med["scipy_sqrtm"] / med["gankit"]
    ref = values["scipy_sqrtm"]
    agree = max(abs(values["gankit"] - ref), abs(values["gankit_cached"] - ref)) / abs(ref)

    golden = json.loads((ROOT / "tests" / "golden" / "metrics_golden.json").read_text())
    case = "fid_d2048_n3000"
    g_entry = golden["fid"][case]
    g_time, g_ours = timed(lambda: frechet_distance(*metric_inputs.fid_inputs(g_entry["params"])))
    g_agree = abs(g_ours - g_entry["fid"]) / abs(g_entry["fid"])

    goals = {f">= {GOAL_CACHED:g}x faster with cached root": ratio_cached >= GOAL_CACHED,
             f">= {GOAL_PLAIN:g}x faster without": ratio_plain >= GOAL_PLAIN,
             f"agreement with scipy <= {GOAL_AGREE:g} relative": agree <= GOAL_AGREE,
             f"agreement with the pytorch-fid golden value <= {GOAL_AGREE:g} relative": g_agree <= GOAL_AGREE}
    cmd = " ".join(f"{k}={os.environ[k]}" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
                   if k in os.environ)
    cmd = (cmd + " " if cmd else "") + "python " + " ".join([os.path.relpath(__file__, ROOT)] + sys.argv[1:])
    load = f"{load_before:.2f} / {os.getloadavg()[0]:.2f}"
    lines = [
        "# FID speed: gankit (eigh / eigvalsh) vs scipy.linalg.sqrtm",
        "",
        f"Command (from the repository root): `{cmd}`",
        "",
        f"- machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
        f"os.cpu_count()={os.cpu_count()}, 1-minute load average before / after the run: {load}",
        f"- python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"torch {torch.__version__} (torch threads {torch.get_num_threads()})",
        f"- statistics: d={D}, mean/covariance of N={N} seeded feature vectors each "
        f"(built in {build_s:.1f} s); sqrtm_psd(Σ1) for the cache took {root_s:.3f} s",
        f"- {args.repeats} interleaved repeats, median wall time",
        "",
        "| method | median s | all runs s | speed-up vs scipy | FID |",
        "|---|---|---|---|---|",
    ]
    for name, label in (("gankit_cached", "gankit, cached √Σ1"), ("gankit", "gankit"),
                        ("scipy_sqrtm", "scipy sqrtm(Σ1Σ2)")):
        lines.append(f"| {label} | {med[name]:.3f} | {', '.join(f'{t:.3f}' for t in times[name])} | "
                     f"{med['scipy_sqrtm'] / med[name]:.1f}x | {values[name]:.12g} |")
    lines += [
        "",
        f"Agreement with the scipy formula (max relative difference of the two gankit values): {agree:.2e}",
        "",
        f"Golden case `{case}` (d=2048, FID from pytorch-fid {golden['libraries']['pytorch-fid']}): "
        f"reference {g_entry['fid']:.12g}, gankit {g_ours:.12g}, relative difference {g_agree:.2e} "
        f"({g_time:.1f} s including building the statistics)",
        "",
        "Goals:",
        "",
    ]
    lines += [f"- {k}: {'met' if ok else 'NOT MET'}" for k, ok in goals.items()]
    lines.append("")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))
    print("\n".join(lines))
    print(f"wrote {out}", file=sys.stderr)
    return 0 if all(goals.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
