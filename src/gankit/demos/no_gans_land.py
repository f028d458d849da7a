"""``no-gans-land``: why a generator puts samples between disconnected modes, and what truncation does.

G maps a connected latent plane continuously onto the 25 Gaussians of the grid, so the plane is cut
into cells, one per mode, and along every border G must cross from one mode to the next; the latent
mass near the borders lands between the modes (Khayatkhoei et al. 2018; Tanielian et al. 2020 call it
the "no GAN's land"). Those borders are exactly where G stretches the plane most, i.e. where the
Jacobian norm ||dG/dz|| is large, which is what Jacobian-based truncation (``gankit.sampling``) uses.

The figure trains ``toy-grid25`` with gankit's own Trainer (or loads a finished run) and draws three
panels: the latent plane coloured by log ||dG/dz|| (bright lines: the borders between cells); G's
samples over the true modes, the ones truncation drops in red; and the samples it keeps, each with its
high-quality share under the VEEGAN/PacGAN protocol.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import torch

from ..metrics.modes import mode_stats
from ..sampling import BareGenerator, jacobian_norms, truncation_candidates
from ..utils.plots import _pyplot, draw_points, save_figure
from . import DEMOS


@torch.no_grad()
def truncation_split(G, latent_dim: int, n: int, keep: float, seed: int = 0):
    """(all samples (m, 2), kept mask (m,), Jacobian norms (m,)) for the candidates that
    ``gankit.sampling.draw`` chooses from; the kept ones are the n it returns."""
    G.eval()
    game = BareGenerator(G, latent_dim)
    cand, _, norms, idx = truncation_candidates(game, game.sample_inputs(n, seed), n, seed, keep)
    z = cand["z"]
    kept = torch.zeros(len(z), dtype=torch.bool)
    kept[idx] = True
    return G(z).float(), kept, norms


def no_gans_land_figure(out_path: str | Path, run: str | Path | None = None, steps: int = 4000, keep: float = 0.9,
                        n: int = 2500, seed: int = 0, overrides=(), run_dir: str | Path | None = None) -> Path:
    """Draw the figure for the generator of ``run`` (a run directory of a 2-D mixture), or train
    ``toy-grid25`` for ``steps`` steps first (into ``run_dir``, default a temporary folder)."""
    from ..api import load_run
    from ..config import load_config
    from ..data import load_data
    from ..train.trainer import Trainer

    plt = _pyplot()
    with tempfile.TemporaryDirectory() as tmp:
        if run is None:
            cfg = load_config("toy-grid25", [*overrides, f"seed={seed}", f"train.steps={steps}", "train.sample_every=0",
                                             "train.checkpoint_every=0", "eval.every=0", "train.progress=false",
                                             "train.tensorboard=false"])
            trainer = Trainer(cfg, run_dir if run_dir is not None else Path(tmp) / "run")
            trainer.fit()
            G, data = trainer.sampling_players().get("G", trainer.game.G), trainer.data
        else:
            r = load_run(run)
            G, cfg = r.players.get("G", r.game.G), r.cfg
            data = load_data(cfg.data)
        if not hasattr(data, "means") or cfg.model.latent_dim != 2:
            raise ValueError("no_gans_land_figure: needs a 2-D mixture run with a 2-D latent (toy-ring8, toy-grid25)")
        x, kept, norms = truncation_split(G, 2, n, keep, seed=10_000 + seed)
        hq_all = mode_stats(x[:n].double(), data.means, data.std)["hq_percent"]
        hq_kept = mode_stats(x[kept].double(), data.means, data.std)["hq_percent"]
        r = torch.linspace(-3, 3, 241)
        zz = torch.stack(torch.meshgrid(r, r, indexing="xy"), -1).reshape(-1, 2)
        plane = jacobian_norms(G, zz).log10().reshape(len(r), len(r))
        fig, axes = plt.subplots(1, 3, figsize=(9, 3.5))
        try:
            axes[0].imshow(plane.numpy(), origin="lower", extent=(-3, 3, -3, 3), cmap="magma")
            axes[0].set_title(f"{cfg.data.name}, latent plane z: log10 ||dG/dz||\n(bright: borders between modes' cells)", fontsize=8)
            axes[0].set_xticks([])
            axes[0].set_yticks([])
            draw_points(axes[1], x[kept], data.means, data.std, color="#1f77b4")
            draw_points(axes[1], x[~kept], None, None, color="#d62728",
                        title=f"all {n:,} samples: {hq_all:.1f}% high quality\nred: the {1 - keep:.0%} with the largest ||dG/dz||")
            draw_points(axes[2], x[kept], data.means, data.std,
                        title=f"kept {keep:.0%} (sample.jacobian_keep={keep:g})\n{hq_kept:.1f}% high quality")
        except BaseException:
            plt.close(fig)
            raise
    return save_figure(fig, out_path)


@DEMOS.register("no-gans-land")
def figure(out_path: Path) -> Path:
    """Samples between disconnected modes sit where ||dG/dz|| is large; truncation drops them (toy-grid25, ~2 CPU-min)."""
    return no_gans_land_figure(out_path)
