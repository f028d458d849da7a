"""Scatter plots of 2-D samples over a mixture's true modes (matplotlib, headless)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)  # no display needed; keeps an interactive backend if one is set
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, out_path: str | Path, dpi: int = 100) -> Path:
    """Lay out ``fig``, write it to ``out_path`` (PNG; its folder is created) and close it."""
    try:
        fig.tight_layout()
        out_path = Path(out_path)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out_path, dpi=dpi)
        return out_path
    finally:
        _pyplot().close(fig)


def draw_points(ax, samples: torch.Tensor, means: torch.Tensor | None = None, std: float | None = None,
                title: str | None = None, color: str = "#1f77b4") -> None:
    """Samples (N, 2) as small dots; the true means as red crosses with a 3-std circle (the
    high-quality radius of the mode metrics) when ``std`` is given."""
    x = samples.detach().float().cpu().numpy()
    ax.scatter(x[:, 0], x[:, 1], s=3, alpha=0.5, color=color, linewidths=0, zorder=3)  # above the modes' marks
    if means is not None:
        m = means.detach().float().cpu().numpy()
        ax.scatter(m[:, 0], m[:, 1], s=30, marker="x", color="#d62728", linewidths=1, zorder=2)
        if std is not None:
            for c in m:
                ax.add_patch(_circle(c, 3 * std))
        span = np.abs(m).max() * 1.35 + 0.1
        ax.set_xlim(-span, span)
        ax.set_ylim(-span, span)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=8)


def _circle(centre, radius):
    from matplotlib.patches import Circle

    return Circle(tuple(centre), radius, fill=False, color="#d62728", linewidth=0.6)


def scatter_array(samples: torch.Tensor, means: torch.Tensor | None = None, std: float | None = None,
                  size: int = 256) -> np.ndarray:
    """The scatter plot as a uint8 (size, size, 3) array (for TensorBoard and PNG files)."""
    plt = _pyplot()
    dpi = 100
    fig = plt.figure(figsize=(size / dpi, size / dpi), dpi=dpi)
    try:
        ax = fig.add_axes((0.02, 0.02, 0.96, 0.96))
        draw_points(ax, samples, means, std)
        fig.canvas.draw()
        return np.asarray(fig.canvas.buffer_rgba())[:, :, :3].copy()
    finally:
        plt.close(fig)


def save_scatter(samples: torch.Tensor, path: str | Path, means: torch.Tensor | None = None,
                 std: float | None = None, size: int = 256) -> Path:
    """Write the scatter plot as a PNG (atomically)."""
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    Image.fromarray(scatter_array(samples, means, std, size)).save(tmp, format="PNG")
    os.replace(tmp, path)
    return path
