"""Streaming mean and covariance in float64, so 50k samples never sit in memory at once."""
from __future__ import annotations

import numpy as np
import torch


class RunningStats:
    """Accumulates the mean and the (ddof=1, like ``np.cov``) covariance of feature batches.

    Sums are taken around a shift (the first batch's mean), which keeps the float64 sums well
    conditioned even when features have a large common offset.
    """

    def __init__(self):
        self.n = 0
        self._shift: np.ndarray | None = None
        self._sum: np.ndarray | None = None
        self._outer: np.ndarray | None = None

    def update(self, features) -> "RunningStats":
        x = features.detach().cpu().double().numpy() if isinstance(features, torch.Tensor) else np.asarray(features, np.float64)
        if x.ndim != 2:
            raise ValueError(f"features must be (N, d), got shape {x.shape}")
        if self._shift is None:
            self._shift = x.mean(0)
            d = x.shape[1]
            self._sum, self._outer = np.zeros(d), np.zeros((d, d))
        elif x.shape[1] != self._shift.shape[0]:
            raise ValueError(f"feature size changed from {self._shift.shape[0]} to {x.shape[1]}")
        xc = x - self._shift
        self._sum += xc.sum(0)
        self._outer += xc.T @ xc
        self.n += x.shape[0]
        return self

    @property
    def mean(self) -> np.ndarray:
        self._need(1)
        return self._shift + self._sum / self.n

    @property
    def cov(self) -> np.ndarray:
        self._need(2)
        m = self._sum / self.n
        return (self._outer - self.n * np.outer(m, m)) / (self.n - 1)

    def _need(self, k: int) -> None:
        if self.n < k:
            raise ValueError(f"statistics need at least {k} samples, have {self.n}")
