"""The few matplotlib helpers the demos share. Figures are drawn on the Agg canvas directly (no pyplot,
no global backend switch), so demos run on machines without a display and leave matplotlib's state alone."""
from __future__ import annotations

from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def new_figure(title: str, caption: str, ncols: int = 2, size: tuple[float, float] = (11.0, 4.4)):
    """A figure of ``ncols`` panels side by side, with a title on top and a one-line caption below."""
    fig = Figure(figsize=size, dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols)
    fig.suptitle(title, fontsize=13)
    fig.text(0.5, 0.015, caption, ha="center", va="bottom", fontsize=9, style="italic", wrap=True)
    fig.subplots_adjust(left=0.07, right=0.98, top=0.84, bottom=0.2, wspace=0.25)
    return fig, axes


def save(fig: Figure, out_path: Path) -> Path:
    fig.savefig(out_path, dpi=100)
    return out_path
