"""``training-2d``: a 2-D GAN learning the 8-Gaussian ring, drawn at several steps of real training.

The figure is made by ``gankit.utils.training_2d.training_2d_figure``: the ``toy-ring8`` preset is
trained by gankit's own Trainer, and at each snapshot step one panel shows D's output over the plane
(filled contours), the true means and G's samples from one fixed noise batch. It shows the game the
seeds describe: D's surface rises on the data and falls on G's samples, and G's points move up its
slope until they sit on the modes.
"""
from __future__ import annotations

from pathlib import Path

from ..utils.training_2d import training_2d_figure
from . import DEMOS


@DEMOS.register("training-2d")
def figure(out_path: Path) -> Path:
    """A 2-D GAN's samples and D's decision surface over training (toy-ring8, about 1.5 CPU-minutes)."""
    return training_2d_figure(out_path, preset="toy-ring8")
