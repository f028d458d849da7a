"""Deterministic random weights for the FID Inception-v3, shared by ``make_inception_golden.py`` (run in
the reference virtualenv) and ``tests/test_inception.py`` (run in gankit's).

The real ``pt_inception-2015-12-05-6726825d.pth`` is never downloaded in tests, so both sides build the
network from the same seeded numpy weights instead. One ``RandomState`` stream is consumed over the
state-dict keys in sorted order, so only the key names and shapes decide the values; these are the
same in both environments (the test checks the names against a hash stored in the golden file).

Scales keep activations of order one through the ~95 conv/BN/ReLU layers: He-scaled conv weights,
BN weight near 1, small BN bias and running mean, running variance in [0.5, 1.5].

Plain numpy only: this module must import in both environments.
"""
from __future__ import annotations

import hashlib

import numpy as np

SEED = 20151205


def key_hash(keys) -> str:
    """sha256 of the sorted key names joined by newlines."""
    return hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()


def random_state_dict(shapes: dict[str, tuple[int, ...]], seed: int = SEED) -> dict[str, np.ndarray]:
    """Arrays for every key of ``shapes`` (name -> shape); float32, ``num_batches_tracked`` int64 zero."""
    rs = np.random.RandomState(seed)
    out: dict[str, np.ndarray] = {}
    for name in sorted(shapes):
        shape = tuple(int(s) for s in shapes[name])
        leaf = name.rsplit(".", 1)[-1]
        if name.endswith(".bn.num_batches_tracked"):
            out[name] = np.zeros(shape, dtype=np.int64)
            continue
        if name.endswith(".conv.weight"):
            fan_in = int(np.prod(shape[1:]))
            a = rs.randn(*shape) * np.sqrt(2.0 / fan_in)
        elif name.endswith(".bn.weight"):
            a = rs.uniform(0.8, 1.2, size=shape)
        elif name.endswith(".bn.bias"):
            a = 0.05 * rs.randn(*shape)
        elif name.endswith(".bn.running_mean"):
            a = 0.05 * rs.randn(*shape)
        elif name.endswith(".bn.running_var"):
            a = rs.uniform(0.5, 1.5, size=shape)
        elif name == "fc.weight":
            a = rs.randn(*shape) / np.sqrt(shape[1])
        elif name == "fc.bias":
            a = 0.01 * rs.randn(*shape)
        else:
            raise KeyError(f"no rule for state-dict key {name!r} (leaf {leaf!r})")
        out[name] = a.astype(np.float32)
    return out


def images(n: int, channels: int, size: int, seed: int) -> np.ndarray:
    """(n, channels, size, size) float32 images in [-1, 1]: smooth blobs plus pixel noise, clipped."""
    rs = np.random.RandomState(seed)
    yy, xx = np.mgrid[0:size, 0:size] / max(size - 1, 1)
    base = np.zeros((n, channels, size, size))
    for i in range(n):
        for c in range(channels):
            for _ in range(3):
                cy, cx = rs.uniform(0, 1, 2)
                w = rs.uniform(0.1, 0.4)
                base[i, c] += rs.uniform(-1, 1) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * w * w))
    x = base + 0.3 * rs.randn(n, channels, size, size)
    return np.clip(x, -1.0, 1.0).astype(np.float32)
