"""Jacobian-based truncation (gankit.sampling): the norms, which samples are kept, and the commands."""
import math

import pytest
import torch
import torch.nn as nn
from torch.testing import assert_close

from gankit.errors import GankitError
from gankit.sampling import EXACT_MAX_DIM, BareGenerator, draw, jacobian_norms


class Steep(nn.Module):
    """G(z) = tanh(k z) elementwise (2-D points): two flat modes per axis joined by a steep ramp at 0."""

    def __init__(self, k: float = 5.0):
        super().__init__()
        self.k = nn.Parameter(torch.tensor(k))

    def forward(self, z, y=None):
        x = torch.tanh(self.k * z)
        return x if y is None else torch.cat([x, y[:, None].float()], 1)  # the label as a last column


def _autograd_norms(G, z):
    return torch.stack([torch.autograd.functional.jacobian(lambda v: G(v[None])[0], zi).norm() for zi in z])


def test_exact_norms_match_autograd_and_a_linear_map():
    lin = nn.Linear(3, 4, bias=True)
    z = torch.randn(6, 3)
    assert_close(jacobian_norms(lin, z), lin.weight.detach().norm().expand(6))  # J = W everywhere
    G = Steep()
    z = torch.randn(20, 2)
    assert_close(jacobian_norms(G, z), _autograd_norms(G, z))
    # d tanh(kz)/dz = k (1 - tanh^2): largest at z = 0, the bridge between the modes
    n = jacobian_norms(G, torch.tensor([[0.0, 0.0], [1.0, 1.0]]))
    assert n[0] == pytest.approx(5 * math.sqrt(2)) and n[1] < 0.01


def test_estimated_norms_for_a_large_latent_are_close_and_reproducible():
    dim = EXACT_MAX_DIM + 16
    lin = nn.Linear(dim, 5, bias=False)
    z = torch.randn(400, dim)
    est = jacobian_norms(lin, z, directions=64, generator=torch.Generator().manual_seed(0))
    exact = lin.weight.detach().norm()
    assert abs(est.mean() / exact - 1) < 0.05  # E ||J v||^2 = ||J||_F^2
    assert est.std() > 0  # an estimate: it varies with the directions
    again = jacobian_norms(lin, z, directions=64, generator=torch.Generator().manual_seed(0))
    assert torch.equal(est, again)
    with pytest.raises(GankitError, match="directions"):
        jacobian_norms(lin, z, directions=0)


def test_draw_without_truncation_is_g_of_the_seeded_noise():
    G = Steep()
    z = torch.randn(50, 2, generator=torch.Generator().manual_seed(7))
    assert torch.equal(draw(BareGenerator(G, 2), 50, seed=7, batch_size=16), G(z).detach())


def test_draw_keeps_the_candidates_with_the_smallest_jacobian():
    G, n, keep = Steep(), 300, 0.8
    m = math.ceil(n / keep)
    z = torch.randn(m, 2, generator=torch.Generator().manual_seed(3))
    norms = _autograd_norms(G, z)
    expected = G(z[norms.argsort()[:n].sort().values]).detach()
    got = draw(BareGenerator(G, 2), n, seed=3, keep=keep, batch_size=64)
    assert_close(got, expected)
    # what it is for: fewer samples on the ramp between the modes at -1 and +1
    on_modes = lambda x: (x.abs() > 0.9).all(1).float().mean()  # noqa: E731
    plain = draw(BareGenerator(G, 2), n, seed=3)
    assert on_modes(got) > on_modes(plain) + 0.1


def test_draw_keeps_the_asked_labels_in_order_and_restores_training_mode():
    G = Steep().train()
    labels = torch.tensor([2, 0, 1, 1, 2, 0, 0, 2, 1, 1])
    out = draw(BareGenerator(G, 2, 3), 10, seed=0, labels=labels, keep=0.5)
    assert torch.equal(out[:, -1], labels.float())  # sample i has class labels[i]
    assert G.training
    # class c, asked for q times, gets ceil(q / keep) candidates (class blocks in order) and keeps its q best
    quota = torch.bincount(labels, minlength=3)  # 3, 4, 3 -> 6, 8, 6 candidates
    y = torch.repeat_interleave(torch.arange(3), torch.tensor([6, 8, 6]))
    z = torch.randn(20, 2, generator=torch.Generator().manual_seed(0))
    norms = jacobian_norms(G, z, y)
    for c in range(3):
        idx = (y == c).nonzero().flatten()
        best = idx[norms[idx].argsort()[:int(quota[c])]].sort().values
        assert_close(out[labels == c, :2], torch.tanh(5 * z[best]).detach())
    # every sample of one class (gankit sample --class K): that class gets all the candidates
    one = draw(BareGenerator(G, 2, 3), 12, seed=0, labels=torch.full((12,), 1), keep=0.6)
    assert torch.equal(one[:, -1], torch.ones(12))
    z = torch.randn(20, 2, generator=torch.Generator().manual_seed(0))
    kept = jacobian_norms(G, z).argsort()[:12].sort().values
    assert_close(one[:, :2], torch.tanh(5 * z[kept]).detach())
    with pytest.raises(GankitError, match="keep"):
        draw(BareGenerator(G, 2), 10, keep=0.0)


def test_eval_and_sample_commands_take_the_keep_fraction(tmp_path, capsys):
    from gankit.cli import main

    quiet = ["train.progress=false", "train.tensorboard=false", "train.sample_every=0",
             "train.checkpoint_every=0", "train.steps=3", "train.batch_size=20", "model.g.width=16",
             "model.d.width=16", "sample.jacobian_keep=0.5"]
    run = tmp_path / "D"
    assert main(["train", "toy-ring8", "--out", str(run), *[a for s in quiet for a in ("--set", s)]]) == 0
    capsys.readouterr()
    assert main(["eval", str(run), "--metrics", "modes"]) == 0
    assert "Jacobian-based truncation: the 0.5 fraction" in capsys.readouterr().err  # the run's setting
    assert main(["eval", str(run), "--metrics", "modes", "--jacobian-keep", "1"]) == 0
    assert "Jacobian" not in capsys.readouterr().err
    from gankit import api

    G = api.load_run(run).players["G"]  # the run's EMA generator, as sampling uses it
    z = torch.randn(80, 2, generator=torch.Generator().manual_seed(1))
    norms = jacobian_norms(G, z)
    with torch.no_grad():
        assert_close(api.sample(run, 40, seed=1), G(z[norms.argsort()[:40].sort().values]))
        assert_close(api.sample(run, 40, seed=1, jacobian_keep=1.0), G(z[:40]))
    assert main(["sample", str(run), "--n", "5", "--out", str(tmp_path / "s.npy"), "--jacobian-keep", "2"]) == 2
    assert "keep fraction must lie in (0, 1]" in capsys.readouterr().err


def test_mode_collapse_report_shows_truncated_and_untruncated_rows(tmp_path, benchmark_module):
    import argparse

    bench = benchmark_module("mode_collapse")

    def row(seed, hq, hq_raw, machine, threads):
        return {"dataset": "ring8", "method": "gankit", "seed": seed, "steps": 6000, "seconds": 200.0,
                "machine": machine, "threads": threads,
                "cpu_seconds": 199.0, "command": "python benchmarks/mode_collapse.py --datasets ring8",
                "load": 2.0, "started": "2026-12-01 23:40", "batch_size": 500, "pack": 1, "jacobian_keep": 0.95,
                "scores": {"modes": 8.0, "modes_total": 8.0, "hq_percent": hq, "reverse_kl": 0.004},
                "scores_untruncated": {"modes": 8.0, "modes_total": 8.0, "hq_percent": hq_raw, "reverse_kl": 0.005}}

    args = argparse.Namespace(threads=1, picture_seed=0, datasets=[])
    out = tmp_path / "mode_collapse.md"
    bench.write_report([row(0, 99.6, 97.6, "Box A", 1), row(1, 100.0, 98.0, "Box B", 2)], args, out)
    text = out.read_text()
    # the header names the machines and threads recorded with the rows, not the machine writing the report
    assert "Machine: Box A and Box B; 1, 2 torch thread(s) per run;" in text
    lines = [line for line in text.splitlines() if line.startswith("| gankit")]
    assert len(lines) == 2, text
    assert "sample.jacobian_keep=1" not in lines[0] and "99.8 ± 0.2" in lines[0]
    assert "sample.jacobian_keep=1" in lines[1] and "97.8 ± 0.2" in lines[1]
    assert "Goal met by: gankit (2 seeds)" in text  # judged on the preset's own sampler
    assert "gankit, sample.jacobian_keep=1" not in text.split("Goal met by:")[1].splitlines()[0]
    assert len(__import__("json").loads(out.with_suffix(".json").read_text())) == 2  # copies not stored


def test_no_gans_land_split_is_what_sampling_keeps_and_the_demo_draws(tmp_path):
    from PIL import Image

    from gankit.demos import describe_demos
    from gankit.demos.no_gans_land import no_gans_land_figure, truncation_split

    G = Steep()
    x, kept, norms = truncation_split(G, 2, 90, 0.75, seed=4)
    assert len(x) == 120 and int(kept.sum()) == 90
    assert norms[kept].max() <= norms[~kept].min()  # the dropped ones stretch the plane most
    assert_close(x[kept], draw(BareGenerator(G, 2), 90, seed=4, keep=0.75))
    out = no_gans_land_figure(tmp_path / "f.png", steps=3, n=200, run_dir=tmp_path / "run",
                              overrides=["model.g.width=8", "model.d.width=8", "train.batch_size=20"])
    assert Image.open(out).size[0] > 2 * Image.open(out).size[1]  # three panels side by side
    assert (tmp_path / "run" / "checkpoints" / "last.pt").is_file()
    # the finished run gives the same figure's numbers when loaded back
    no_gans_land_figure(tmp_path / "g.png", run=tmp_path / "run", n=200)
    assert (tmp_path / "g.png").is_file()
    assert "no-gans-land" in dict(describe_demos())


def test_mode_collapse_scores_a_checkpoint_trained_elsewhere(tmp_path, benchmark_module):
    """``--score`` rates a run trained outside the benchmark exactly as ``gankit eval`` does on the
    benchmark's noise seed, and records its settings as overrides of the current preset."""
    import json

    from gankit.api import evaluate_run, train

    bench = benchmark_module("mode_collapse")

    run = tmp_path / "run"
    train("toy-ring8", ["seed=3", "train.steps=1000", "train.batch_size=128", "train.ema_decay=0.99", "model.g.width=64", "model.d.width=64",
                        "optim.g.lr=0.001", "optim.d.lr=0.002", "train.sample_every=0", "train.threads=1", "train.progress=false"], out=run)
    ckpt = run / "checkpoints" / "last.pt"
    bench.main(["--score", str(ckpt), "--trained", "by the test", "--results", str(tmp_path / "res")])
    rows = json.loads((tmp_path / "res" / "mode_collapse.json").read_text())
    assert len(rows) == 1
    row = rows[0]
    assert (row["dataset"], row["method"], row["seed"], row["steps"]) == ("ring8", "gankit", 3, 1000)
    assert row["command"].startswith("by the test; ")
    assert row["threads"] == 1 and "torch" in row["machine"]  # recorded with the row, for the report's header
    over = row["as_overrides"]
    assert {"optim.g.lr=0.001", "optim.d.lr=0.002", "model.g.width=64", "model.d.width=64", "train.batch_size=128", "train.ema_decay=0.99"} <= set(over)
    assert not any(o.startswith(("train.steps=", "seed=", "train.threads=")) for o in over)  # run keys, not settings
    expected = evaluate_run(ckpt, metrics=["modes"], seed=10_003).scores  # the benchmark's noise seed for seed 3
    # a generator that has started to find the modes (G at 1e-3 with the preset's D rate found none on
    # some CPUs: keep D ahead of G, as the preset does)
    assert row["scores"]["hq_percent"] > 5 and row["scores"]["modes"] >= 4
    for key in ("modes", "hq_percent", "reverse_kl"):
        assert abs(row["scores"][key] - expected[key]) < 1e-9, key
    assert "optim.g.lr=0.001" in (tmp_path / "res" / "mode_collapse.md").read_text()


def test_mode_collapse_stacked_baselines_are_dcgans_whatever_the_preset_g(benchmark_module):
    """The papers' stacked-MNIST baselines (DCGAN, PacDCGAN2/4) run with DCGAN's G even though the
    shipped preset's G is a ResNet; the "gankit" method is the preset as shipped."""
    from gankit.config import load_config

    bench = benchmark_module("mode_collapse")
    assert load_config("stacked-mnist").model.g.name == "resnet"
    for method, pack in (("GAN", 1), ("PacGAN2", 2), ("PacGAN4", 4)):
        cfg = load_config("stacked-mnist", bench.method_overrides("stacked-mnist", method))
        assert (cfg.model.g.name, cfg.model.g.width, cfg.tricks.pack) == ("dcgan", 64, pack)
    assert bench.method_overrides("stacked-mnist", "gankit") == []
    assert bench.method_overrides("ring8", "GAN") == ["tricks.pack=1"]  # the 2-D baselines keep the toy nets


def test_mode_collapse_append_replaces_only_the_same_run(tmp_path, monkeypatch, benchmark_module):
    """``--append`` adds a new seed to the rows already there: only a row of the same dataset, method,
    seed, steps and settings is replaced (it used to drop every row of the dataset and method)."""
    import json

    bench = benchmark_module("mode_collapse")

    def row(dataset, seed, steps, kl, command="python benchmarks/mode_collapse.py"):
        return {"dataset": dataset, "method": "gankit", "seed": seed, "steps": steps, "command": command,
                "seconds": 1.0, "scores": {"kl": kl}}

    old = [row("stacked-mnist", 0, 64000, 0.04), row("stacked-mnist", 2, 64000, 0.09),
           row("stacked-mnist", 2, 8000, 0.1), row("stacked-mnist", 2, 64000, 0.2, "x --set penalty.r1=0"),
           row("ring8", 2, 6000, 0.01)]
    res = tmp_path / "res"
    res.mkdir()
    (res / "mode_collapse.json").write_text(json.dumps(old))
    new = row("stacked-mnist", 2, 64000, 0.045)
    monkeypatch.setattr(bench, "run_one", lambda dataset, method, seed, args: dict(new))
    written = []
    monkeypatch.setattr(bench, "write_report", lambda rows, args, out: written.append(list(rows)))
    bench.main(["--datasets", "stacked-mnist", "--methods", "gankit", "--seed-list", "2", "--append",
                "--results", str(res)])
    assert written[-1] == [old[0], old[2], old[3], old[4], new]
