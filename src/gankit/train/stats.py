"""One collector for every scalar a run reports; it writes metrics.jsonl and TensorBoard.

Scalars arrive as (possibly device) tensors and are summed without synchronising; they become
Python floats only when a window is flushed (every ``train.log_every`` steps).
"""
from __future__ import annotations

import json
import os
import math
import warnings
from pathlib import Path

import torch


class Collector:
    def __init__(self):
        self._sums: dict[str, torch.Tensor | float] = {}
        self._counts: dict[str, int] = {}

    def report(self, name: str, value: torch.Tensor | float) -> None:
        v = value.detach().float() if isinstance(value, torch.Tensor) else float(value)
        self._sums[name] = self._sums[name] + v if name in self._sums else v
        self._counts[name] = self._counts.get(name, 0) + 1

    def nonfinite(self) -> list[str]:
        """Names whose running sum is NaN or infinite (forces a sync on GPU)."""
        return [k for k, v in self._sums.items() if not math.isfinite(float(v))]

    def flush(self) -> dict[str, float]:
        out = {k: float(v) / self._counts[k] for k, v in self._sums.items()}
        self._sums.clear()
        self._counts.clear()
        return out


class MetricsWriter:
    """Appends one JSON object per line to metrics.jsonl; mirrors scalars and images to TensorBoard."""

    def __init__(self, run_dir: Path, tensorboard: bool, resume_step: int | None = None):
        self.path = run_dir / "metrics.jsonl"
        if self.path.exists():  # a resumed run keeps its rows up to the checkpoint; a new run starts empty
            self._truncate_after(resume_step if resume_step is not None else -1)  # (a run that died unsaved)
        self._file = open(self.path, "a", buffering=1)
        self.tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard is a dependency, but keep training without it
                warnings.warn("tensorboard is not installed; writing metrics.jsonl only (pip install tensorboard)",
                              stacklevel=2)
            else:
                self.tb = SummaryWriter(str(run_dir / "tensorboard"),
                                        purge_step=resume_step + 1 if resume_step is not None else None)

    def _truncate_after(self, step: int) -> None:
        """A resumed run continues from its checkpoint: drop rows logged after it by the interrupted run."""
        keep = []
        for line in self.path.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a torn last line from a killed run
            if isinstance(row, dict) and row.get("step", 0) <= step:
                keep.append(line)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")  # a kill mid-write loses no row
        tmp.write_text("".join(line + "\n" for line in keep))
        os.replace(tmp, self.path)

    def scalars(self, step: int, values: dict[str, float]) -> None:
        self._file.write(json.dumps({"step": step, **values}) + "\n")
        if self.tb is not None:
            for k, v in values.items():
                if k != "step":
                    self.tb.add_scalar(k, v, step)

    def image(self, tag: str, grid_hwc, step: int) -> None:
        if self.tb is not None:
            self.tb.add_image(tag, grid_hwc, step, dataformats="HWC")

    def close(self) -> None:
        self._file.close()
        if self.tb is not None:
            self.tb.close()
