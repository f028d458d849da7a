"""The ``training-2d`` figure: a 2-D GAN's samples and D's decision surface over training.

Trained by gankit's own Trainer on a 2-D mixture preset (``toy-ring8`` by default). At each
snapshot step the figure shows, in one panel: D's output over the plane as a filled contour (its
probability "real" for objectives that have one, else its raw score; higher means more real), the
true means (red crosses), and samples of G from one fixed noise batch (dots). With packing
(``tricks.pack`` = m) D judges m points at once; the surface then shows D on m copies of the point.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Sequence

import torch

from .plots import _pyplot, draw_points, save_figure

DEFAULT_SNAPSHOTS = (0, 100, 300, 1000, 3000)


@torch.no_grad()
def decision_surface(game, span: float, resolution: int = 150) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(xx, yy, D's output) on a resolution² mesh over [-span, span]²; probabilities where the
    objective defines them."""
    from ..games.packing import pack

    axis = torch.linspace(-span, span, resolution)
    xx, yy = torch.meshgrid(axis, axis, indexing="xy")
    pts = torch.stack([xx.flatten(), yy.flatten()], 1).to(next(game.D.parameters()).device)
    m = getattr(game, "pack", 1)
    was = game.D.training
    game.D.eval()
    try:
        out = game.D(pack(pts.repeat_interleave(m, 0), m)).float().cpu()  # m copies of each point per pack
    finally:
        game.D.train(was)
    p = game.objective.prob(out)
    return xx, yy, (p if p is not None else out).view(resolution, resolution)


def training_2d_figure(out_path: str | Path, preset: str = "toy-ring8", snapshots: Sequence[int] = DEFAULT_SNAPSHOTS,
                       seed: int = 0, overrides: Sequence[str] = (), n: int = 1000,
                       run_dir: str | Path | None = None) -> Path:
    """Train ``preset`` (with ``overrides``) up to each step of ``snapshots`` and draw a strip of
    panels, one per snapshot, to ``out_path`` (PNG). The run itself goes to ``run_dir`` (default:
    a temporary folder). Returns the figure's path."""
    from ..config import load_config
    from ..train.trainer import Trainer

    snapshots = sorted(set(int(s) for s in snapshots))
    if not snapshots or snapshots[0] < 0:
        raise ValueError("snapshots: give one or more steps >= 0")
    # trained in pieces (one fit per snapshot), so the learning rate stays constant (no ramp-down)
    cfg = load_config(preset, [*overrides, f"seed={seed}", f"train.steps={max(snapshots[-1], 1)}", "optim.default.ramp_down=0",
                               "train.sample_every=0", "train.checkpoint_every=0", "eval.every=0",
                               "train.progress=false", "train.tensorboard=false"])
    plt = _pyplot()
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, run_dir if run_dir is not None else Path(tmp) / "run")
        data, game = trainer.data, trainer.game
        if not hasattr(data, "means"):
            raise ValueError(f"training_2d_figure: {cfg.data.name!r} is not a 2-D mixture (use ring8 or grid25)")
        z = game.noise(n, generator=torch.Generator().manual_seed(seed + 1)).to(trainer.device)
        span = float(data.means.abs().max()) * 1.35 + 0.1
        fig, axes = plt.subplots(1, len(snapshots), figsize=(2.4 * len(snapshots), 2.6), squeeze=False)
        try:
            for ax, step in zip(axes[0], snapshots):
                if step > trainer.step:
                    trainer.cfg.train.steps = step
                    trainer.fit()
                xx, yy, surface = decision_surface(game, span)
                ax.contourf(xx.numpy(), yy.numpy(), surface.numpy(), levels=20, cmap="RdBu_r", alpha=0.8)
                draw_points(ax, game.generate({"z": z}).cpu(), data.means, None, title=f"step {step}", color="black")
            fig.suptitle(f"{preset}: G's samples (dots) over the true modes (x); D's output, red = real",
                         fontsize=8)
        except BaseException:
            plt.close(fig)
            raise
    return save_figure(fig, out_path)
