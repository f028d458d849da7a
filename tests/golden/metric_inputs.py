"""Seeded inputs for the metric golden values, shared by ``make_metric_golden.py`` (run in the
reference virtualenv) and ``tests/test_metrics.py`` (run in gankit's), so only seeds and shapes are
stored. numpy's legacy ``RandomState`` streams are stable across numpy versions.

Plain numpy only: this module must import in both environments.
"""
from __future__ import annotations

import numpy as np


def features(n: int, d: int, seed: int, shift: float = 0.0, decay: float = 0.5, dist_seed: int = 0) -> np.ndarray:
    """(n, d) float64 samples of a Gaussian with a decaying, well-conditioned covariance spectrum.

    x = z · diag(s) · (I + 0.5·G/√d) + shift, z and G standard normal, s_j = (1 + j)^-decay. G (the
    distribution) comes from ``dist_seed``, z (the sample) from ``seed``.
    """
    mix = np.eye(d) + 0.5 * np.random.RandomState(dist_seed).randn(d, d) / np.sqrt(d)
    scales = (1.0 + np.arange(d)) ** -decay
    z = np.random.RandomState(seed).randn(n, d)
    return (z * scales) @ mix + shift


def stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (ddof=1) covariance, as pytorch-fid computes them."""
    return x.mean(0), np.cov(x, rowvar=False)


def logits(n: int, k: int, seed: int, scale: float) -> np.ndarray:
    """(n, k) float64 logits: scaled standard normals plus a per-row favourite class boost."""
    rng = np.random.RandomState(seed)
    out = scale * rng.randn(n, k)
    out[np.arange(n), rng.randint(0, k, n)] += scale
    return out


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def fid_inputs(p: dict):
    """(mu1, sigma1, mu2, sigma2) of one FID case."""
    a = features(p["n1"], p["d"], p["seed1"], p.get("shift1", 0.0), p.get("decay1", 0.5), p.get("dist_seed1", 0))
    b = features(p["n2"], p["d"], p["seed2"], p.get("shift2", 0.0), p.get("decay2", 0.5), p.get("dist_seed2", 0))
    return (*stats(a), *stats(b))


def pair_inputs(p: dict):
    """(real, fake) features of one KID / PRDC case: two samples of one distribution, the fake one
    shifted by ``shift_fake``."""
    return (features(p["n_real"], p["d"], p["seed_real"], p.get("shift_real", 0.0)),
            features(p["n_fake"], p["d"], p["seed_fake"], p.get("shift_fake", 0.0)))


def is_inputs(p: dict) -> np.ndarray:
    """Logits of one IS case (the reference gets the logits, gankit their softmax)."""
    return logits(p["n"], p["k"], p["seed"], p["scale"])


# The generation parameters of every golden case. The 2048-d FID case takes seconds (minutes on a
# loaded machine with oversubscribed BLAS threads): tests/test_metrics.py checks it only with
# GANKIT_SLOW_TESTS=1; benchmarks/fid_speed.py checks it on every run.
FID_CASES = {
    "fid_d64_n500": dict(d=64, n1=500, n2=500, seed1=1, seed2=2, dist_seed1=1, dist_seed2=2, shift2=0.1, decay2=0.4),
    "fid_d256_n1000": dict(d=256, n1=1000, n2=800, seed1=5, seed2=6, dist_seed1=5, dist_seed2=6,
                           shift2=0.05, decay1=0.6),
    "fid_d2048_n3000": dict(d=2048, n1=3000, n2=3000, seed1=3, seed2=4, dist_seed1=3, dist_seed2=4,
                            shift2=0.02, decay2=0.45),
}
KID_CASES = {
    "kid_shifted": dict(d=64, n_real=600, n_fake=500, seed_real=11, seed_fake=12, shift_fake=0.2,
                        subsets=50, subset_size=200, rng_seed=7),
    "kid_same": dict(d=64, n_real=500, n_fake=450, seed_real=13, seed_fake=14,
                     subsets=50, subset_size=150, rng_seed=2020),
}
IS_CASES = {
    "is_n1003_k10": dict(n=1003, k=10, seed=21, scale=3.0, splits=10),
    "is_n600_k1000": dict(n=600, k=1000, seed=22, scale=1.5, splits=7),
}
PRDC_CASES = {
    "prdc_shifted": dict(d=32, n_real=800, n_fake=700, seed_real=31, seed_fake=32, shift_fake=0.15, ks=[3, 5]),
    "prdc_same": dict(d=16, n_real=500, n_fake=500, seed_real=33, seed_fake=34, ks=[1, 3, 5]),
}
