"""Mode collapse: the 2-D mixtures and stacked MNIST, the mode metrics on hand-built samples,
packing (shapes, what each decision sees, penalties per decision), the toy networks, the presets
and the CLI path ``gankit train toy-ring8`` -> ``gankit eval --metrics modes``."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image
from torch.testing import assert_close

from gankit.cli import main
from gankit.config import DataConfig, load_config
from gankit.data import MIXTURES, PointData, data_shape, load_data
from gankit.errors import ConfigError, DataError, GankitError
from gankit.games import DataInfo
from gankit.games.gan import GANGame
from gankit.games.packing import pack, packed_shape
from gankit.metrics.evaluate import evaluate
from gankit.metrics.modes import kl_to_uniform, mean_and_stderr, mode_stats, stacked_mode_stats
from gankit.nets import ToyDiscriminator, ToyGenerator
from gankit.utils.images import save_image_grid

RING, GRID = MIXTURES["ring8"], MIXTURES["grid25"]
QUIET = ["train.progress=false", "train.tensorboard=false", "train.threads=1"]


# -- the mixtures ---------------------------------------------------------------------------------

def test_mixture_means_are_the_papers():
    angles = torch.tensor([2 * math.pi * k / 8 for k in range(8)], dtype=torch.float64)
    assert_close(RING.means, torch.stack([angles.cos(), angles.sin()], 1))
    assert RING.std == 0.01 and GRID.std == 0.05
    assert sorted({tuple(m) for m in GRID.means.tolist()}) == [(a, b) for a in (-4., -2., 0., 2., 4.)
                                                               for b in (-4., -2., 0., 2., 4.)]


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_point_sources_draw_each_mode_with_its_std(name):
    data = load_data(DataConfig(name=name))
    m = MIXTURES[name]
    assert isinstance(data, PointData) and data.shape == (2,) == data_shape(DataConfig(name=name))
    assert data.num_classes == m.num_modes and len(data) == 100_000
    b = data.batch(torch.arange(len(data)))
    x, y = b["x"], b["y"]
    # every point lies near the mean of the mode it was drawn from, with the mixture's std
    resid = x.double() - m.means[y]
    assert_close(resid.std().item(), m.std, rtol=0.02, atol=0)
    counts = torch.bincount(y, minlength=m.num_modes).double()
    assert counts.min() > 0.9 * len(data) / m.num_modes  # equal weights
    again = load_data(DataConfig(name=name))
    assert torch.equal(again.points, data.points)  # seeded: the same set every time
    test = load_data(DataConfig(name=name, split="test"))
    assert not torch.equal(test.points[:10], data.points[:10])


def test_stacked_mnist_stacks_three_real_digits():
    mnist = load_data(DataConfig(name="mnist"))
    data = load_data(DataConfig(name="stacked-mnist", channels=3))
    assert data.shape == (3, 28, 28) and data.num_classes == 1000 and len(data) == 50_000
    assert data.labels.unique().numel() > 990  # 50,000 draws of 1,000 equally likely modes
    # each channel of an image is an MNIST image whose label is the matching digit of the mode
    lookup = {mnist.images[i, 0].numpy().tobytes(): int(mnist.labels[i]) for i in range(len(mnist))}
    for i in range(5):
        digits = [lookup[data.images[i, c].numpy().tobytes()] for c in range(3)]
        assert int(data.labels[i]) == 100 * digits[0] + 10 * digits[1] + digits[2]
    with pytest.raises(DataError, match="data.channels=3"):
        load_data(DataConfig(name="stacked-mnist", channels=1))


# -- the metrics ----------------------------------------------------------------------------------

def test_kl_to_uniform_by_hand():
    assert kl_to_uniform([5, 5, 5, 5]) == 0.0
    assert_close(kl_to_uniform([7, 0, 0, 0]), math.log(4))
    # p = (3/4, 1/4, 0): 3/4 log(9/4) + 1/4 log(3/4)
    assert_close(kl_to_uniform([3, 1, 0]), 0.75 * math.log(2.25) + 0.25 * math.log(0.75))
    assert math.isnan(kl_to_uniform([0, 0]))


@pytest.mark.parametrize("m", [RING, GRID], ids=["ring8", "grid25"])
def test_mode_metrics_on_hand_built_samples(m):
    k = m.num_modes
    at_means = m.means.repeat(10, 1)  # every mode, 10 samples each
    assert mode_stats(at_means, m.means, m.std) == {"modes": k, "hq_percent": 100.0, "reverse_kl": 0.0}
    one_mode = m.means[3].expand(50, 2)
    s = mode_stats(one_mode, m.means, m.std)
    assert s["modes"] == 1 and s["hq_percent"] == 100.0
    assert_close(s["reverse_kl"], math.log(k))
    # 4 std away from a mean (and nearer to it than to any other mean): not high quality, so the
    # mode is not captured; 2.9 std away: high quality
    far = m.means + torch.tensor([4 * m.std, 0.0], dtype=torch.float64)
    s = mode_stats(far, m.means, m.std)
    assert s["modes"] == 0 and s["hq_percent"] == 0.0 and math.isnan(s["reverse_kl"])  # no histogram
    near = m.means + torch.tensor([0.0, 2.9 * m.std], dtype=torch.float64)
    assert mode_stats(near, m.means, m.std) == {"modes": k, "hq_percent": 100.0, "reverse_kl": 0.0}
    # half the samples bad, the good half in two modes at 3:1
    mixed = torch.cat([m.means[[0, 0, 0, 1]], far[:4]])
    s = mode_stats(mixed, m.means, m.std)
    assert s["modes"] == 2 and s["hq_percent"] == 50.0
    assert_close(s["reverse_kl"], 0.75 * math.log(0.75 * k) + 0.25 * math.log(0.25 * k))


def test_stacked_mode_stats_and_standard_error():
    digits = torch.tensor([[1, 2, 3], [1, 2, 3], [0, 0, 0], [9, 9, 9]])
    s = stacked_mode_stats(digits)
    assert s["modes"] == 3
    p = np.array([0.5, 0.25, 0.25])
    assert_close(s["kl"], float((p * np.log(p * 1000)).sum()))
    # channel 0 reads 1,1,0,9 -> (0.5, 0.25, 0.25) over 10 digits; the same for the other two channels
    assert_close(s["kl_digits"], 3 * float((p * np.log(p * 10)).sum()))
    # independent channels: the joint KL is the sum of the channels' KLs (no dependence left)
    g = torch.Generator().manual_seed(0)
    indep = torch.stack([torch.multinomial(torch.tensor(w), 200_000, True, generator=g) for w in
                         ([4.0, 1, 1, 1, 1, 1, 1, 1, 1, 1], [1.0] * 10, [1.0, 2] * 5)], 1)
    s = stacked_mode_stats(indep)
    assert s["modes"] == 1000 and s["kl_digits"] > 0.1
    assert s["kl"] == pytest.approx(s["kl_digits"], abs=5e-3)  # 200 samples per bin: ~2.5e-3 of noise
    # fully dependent channels (the same digit three times): 10 modes, KL log 100, digits uniform
    same = torch.arange(10).repeat(100)[:, None].expand(-1, 3)
    s = stacked_mode_stats(same)
    assert s["modes"] == 10 and s["kl_digits"] == pytest.approx(0.0, abs=1e-12)
    assert s["kl"] == pytest.approx(math.log(100))
    mean, se = mean_and_stderr([1.0, 2.0, 3.0])
    assert mean == 2.0 and se == pytest.approx(1.0 / math.sqrt(3))


def test_evaluate_modes_on_points_and_what_does_not_apply():
    data_cfg = DataConfig(name="ring8")
    fake = RING.means.float().repeat(400, 1)  # 3,200 samples: the protocol uses the first 2,500
    res = evaluate(fake, data_cfg, None, ["modes"])
    # the first 2,500 cycle through the modes: 313 samples in modes 0-3, 312 in modes 4-7
    assert res.scores == {"modes": 8.0, "modes_total": 8.0, "hq_percent": 100.0,
                          "reverse_kl": kl_to_uniform([313] * 4 + [312] * 4)}
    assert evaluate(fake, data_cfg, None, None).scores["modes"] == 8.0  # the default on points
    with pytest.raises(GankitError, match="fid: not defined for 2-D point data"):
        evaluate(fake, data_cfg, None, ["fid", "modes"])
    res = evaluate(fake[:100], data_cfg, None, ["modes"])
    assert "2,500" in res.notes[0]


# -- packing --------------------------------------------------------------------------------------

def test_pack_shapes_and_order():
    x = torch.arange(6 * 2 * 3 * 3, dtype=torch.float32).view(6, 2, 3, 3)
    p = pack(x, 3)
    assert p.shape == (2, 6, 3, 3) and packed_shape((2, 3, 3), 3) == (6, 3, 3)
    for i in range(2):
        for j in range(3):
            assert torch.equal(p[i, 2 * j:2 * j + 2], x[3 * i + j])  # images along channels
    pts = torch.randn(8, 2)
    assert torch.equal(pack(pts, 4), pts.view(2, 8)) and packed_shape((2,), 4) == (8,)
    with pytest.raises(ValueError, match="packs of 3"):
        pack(torch.zeros(4, 2), 3)


class Recorder(nn.Module):
    """A linear D on packed 2-D points that remembers every input it is shown."""

    def __init__(self, dim: int):
        super().__init__()
        self.lin = nn.Linear(dim, 1)
        self.seen: list[torch.Tensor] = []

    def forward(self, x, y=None):
        self.seen.append(x.detach().clone())
        return self.lin(x).squeeze(1)


def _toy_game(m: int, batch: int, extra=()):
    cfg = load_config("toy-ring8", [f"tricks.pack={m}", f"train.batch_size={batch}", "model.g.width=8",
                                    "model.d.width=8", *extra])
    return GANGame(cfg, DataInfo({"x": (2,)}))


@pytest.mark.parametrize("m", [1, 2, 4])
def test_packed_d_sees_m_distinct_samples_per_decision(m):
    torch.manual_seed(0)
    game = _toy_game(m, 8)
    assert game.D.net[1].in_features == 2 * m  # the D builder got the packed input shape
    game.players["D"] = game.D = Recorder(2 * m)
    real = torch.randn(8, 2)
    stats = game.run_phase(game.phases()[0], {"x": real})
    (seen,) = game.D.seen  # one joint batch (no BatchNorm in D): B/m real packs then B/m fake packs
    assert seen.shape == (2 * 8 // m, 2 * m)
    real_packs, fake_packs = seen[:8 // m].view(-1, m, 2), seen[8 // m:].view(-1, m, 2)
    assert torch.equal(real_packs.reshape(8, 2), real)  # every real sample in exactly one pack
    for packs in (real_packs, fake_packs):
        for p in packs:  # m distinct samples per decision
            assert torch.cdist(p, p).add(torch.eye(m) * 1e9).min() > 1e-6
    assert fake_packs.reshape(8, 2).unique(dim=0).shape[0] == 8
    assert stats["D_out/real"].shape == ()  # averaged over the B/m decisions


def test_penalties_are_per_packed_decision():
    """With a linear D(x) = w·x on packs of m points, every decision's input gradient is w (2m
    numbers), so R1's E||∇D||² is ||w||² and the gradient penalty is (||w|| - 1)²."""
    for key, expected in (("r1", lambda w: w.pow(2).sum()), ("gp", lambda w: (w.norm() - 1) ** 2)):
        torch.manual_seed(0)
        game = _toy_game(4, 8, [f"penalty.{key}=1"])
        game.players["D"] = game.D = Recorder(8)
        stats = game.run_phase(game.phases()[0], {"x": torch.randn(8, 2)})
        assert_close(stats[f"penalty/{key}"], expected(game.D.lin.weight.detach()))


def test_r1_schedule_lazy_interval_and_first_steps_only():
    """Lazy R1 runs on every r1_every-th D step; with penalty.r1_steps=N only while fewer than N
    G iterations have run (the penalty's weight is then exactly what it was before)."""
    torch.manual_seed(0)
    game = _toy_game(1, 8, ["penalty.r1=1", "penalty.r1_every=2", "penalty.r1_steps=3"])
    seen = []
    for _ in range(6):  # one D and one G phase per iteration
        stats = game.run_phase(game.phases()[0], {"x": torch.randn(8, 2)})
        seen.append("penalty/r1" in stats)
        game.run_phase(game.phases()[1], None)
    assert seen == [True, False, True, False, False, False]
    with pytest.raises(ConfigError, match="penalty.r1_steps"):
        load_config("toy-ring8", ["penalty.r1_steps=-1"])


def test_topk_g_loss_uses_the_decisions_d_rates_most_real():
    """Top-k training (Sinha et al. 2020): G's non-saturating loss is the mean of softplus(-D) over
    the k fakes with the highest D output; the others get no gradient. k anneals from the whole
    batch to tricks.topk of it over tricks.topk_steps."""
    torch.manual_seed(0)
    game = _toy_game(1, 8, ["tricks.topk=0.25"])
    game.players["D"] = game.D = Recorder(2)
    game._wrapped = {}
    fake = {}

    def keep(mod, inp, out):  # the fakes the G phase differentiates through, with their gradient
        if out.requires_grad:
            out.retain_grad()
            fake["x"] = out

    game.G.register_forward_hook(keep)
    game.run_phase(game.phases()[0], {"x": torch.randn(8, 2)})  # keeps its fakes for the G phase
    stats = game.run_phase(game.phases()[1], None)  # runs G's backward
    x = fake["x"]
    out = game.D.lin(x.detach()).squeeze(1)
    top = out.topk(2).indices
    assert_close(stats["loss/G"], F.softplus(-out[top]).mean())
    assert stats["topk"] == 2
    # only the two chosen samples move: G's backward left a zero gradient on the other six fakes
    moved = x.grad.abs().sum(1) > 0
    assert moved.sum() == 2 and moved[top].all()

    annealed = _toy_game(1, 8, ["tricks.topk=0.5", "tricks.topk_steps=4"])
    ks = []
    for iterations in (0, 1, 2, 4, 9):
        annealed._iterations = iterations
        ks.append(annealed._topk(8))
    assert ks == [8, 7, 6, 4, 4]
    with pytest.raises(ConfigError, match="tricks.topk"):
        load_config("toy-ring8", ["tricks.topk=0"])


def test_pack_must_divide_the_batch():
    with pytest.raises(ConfigError, match="train.batch_size.*multiple of tricks.pack"):
        load_config("toy-ring8", ["tricks.pack=3", "train.batch_size=100"])


def test_packing_with_image_families():
    cfg = load_config("dcgan-mnist", ["tricks.pack=2", "train.batch_size=4", "model.g.width=4", "model.d.width=4"])
    game = GANGame(cfg, DataInfo({"x": (1, 28, 28)}))
    stats = game.run_phase(game.phases()[0], {"x": torch.rand(4, 1, 28, 28) * 2 - 1})
    first_conv = next(m for m in game.D.modules() if isinstance(m, nn.Conv2d))
    assert first_conv.in_channels == 2  # two grayscale images per decision, along channels
    assert torch.isfinite(stats["loss/D"])
    assert game.run_phase(game.phases()[1], None)["loss/G"].isfinite()


# -- networks, pictures, presets, CLI -------------------------------------------------------------

def test_toy_networks_forward_backward():
    torch.manual_seed(0)
    G, D = ToyGenerator(3, (2,), width=16), ToyDiscriminator((2,), width=16, minibatch_std=True)
    assert sum(isinstance(l, nn.BatchNorm1d) for l in G.net) == 4 and sum(isinstance(l, nn.Linear) for l in D.net) == 4
    x = G(torch.randn(5, 3))
    assert x.shape == (5, 2)
    with torch.no_grad():  # a linear output: it reaches the grid's corners at ±4
        G.net[-1].bias.fill_(4.0)
    assert G.eval()(torch.zeros(2, 3)).min() > 1.0
    G.train()
    out = D(G(torch.randn(6, 3)))
    assert out.shape == (6,) and D.features(torch.randn(6, 2)).shape == (6, 16)
    out.sum().backward()
    for n, p in list(G.named_parameters()) + list(D.named_parameters()):
        assert p.grad is not None and torch.isfinite(p.grad).all(), n


def test_points_are_drawn_as_a_scatter_over_the_modes(tmp_path):
    data = load_data(DataConfig(name="ring8"))
    pts = data.points[:200]
    with_modes = np.asarray(Image.open(save_image_grid(pts, tmp_path / "a.png", reference=data)).convert("RGB"))
    plain = np.asarray(Image.open(save_image_grid(pts, tmp_path / "b.png")).convert("RGB"))
    assert with_modes.shape == plain.shape == (256, 256, 3)
    red = lambda a: ((a[..., 0] > 180) & (a[..., 1] < 80) & (a[..., 2] < 80)).sum()  # noqa: E731
    assert red(with_modes) > 20 and red(plain) == 0  # the true modes are marked in red


def test_train_toy_ring8_then_eval_modes(tmp_path, capsys):
    run = tmp_path / "D"
    sets = [a for s in QUIET + ["train.steps=3", "train.batch_size=20", "model.g.width=16", "model.d.width=16"]
            for a in ("--set", s)]
    assert main(["train", "toy-ring8", "--out", str(run), *sets]) == 0
    assert (run / "samples" / "final.png").is_file()
    capsys.readouterr()
    assert main(["eval", str(run), "--metrics", "modes", "--json", str(tmp_path / "s.json")]) == 0
    out = capsys.readouterr().out
    for key in ("modes", "hq_percent", "reverse_kl"):
        assert any(line.split()[0] == key for line in out.splitlines() if line.strip()), out
    import json
    scores = json.loads((tmp_path / "s.json").read_text())["scores"]
    assert 0 <= scores["modes"] <= 8 and scores["modes_total"] == 8 and 0 <= scores["hq_percent"] <= 100
    assert main(["sample", str(run), "--n", "10", "--out", str(tmp_path / "s.npy")]) == 0
    assert np.load(tmp_path / "s.npy").shape == (10, 2)
    assert main(["sample", str(run), "--n", "10", "--out", str(tmp_path / "pngs") + "/"]) == 2
    assert "are points, not images" in capsys.readouterr().err


@pytest.mark.parametrize("preset", ["toy-ring8", "toy-grid25", "stacked-mnist"])
def test_presets_train_five_steps(preset, tmp_path):
    from gankit.api import train

    small = ["model.g.width=8", "model.d.width=8", "train.batch_size=8", "train.grid_size=16"]
    r = train(preset, QUIET + small + ["train.steps=5"], out=tmp_path / "run")
    assert r["steps"] == 5
    assert load_config(preset).description


def test_training_2d_figure_from_the_real_trainer(tmp_path):
    from gankit.utils.training_2d import decision_surface, training_2d_figure

    out = training_2d_figure(tmp_path / "t.png", snapshots=(0, 2), n=50, run_dir=tmp_path / "run",
                             overrides=QUIET + ["model.g.width=8", "model.d.width=8", "train.batch_size=8"])
    img = Image.open(out)
    assert img.size[0] > 2 * img.size[1] * 0.8  # a strip of two panels
    assert (tmp_path / "run" / "checkpoints" / "last.pt").is_file()  # trained by the Trainer: 2 steps
    from gankit.train.checkpoint import load_checkpoint
    assert load_checkpoint(tmp_path / "run")["step"] == 2
    # D's surface: a packed linear D with weights summing the m copies: D(x, x) = 2 w·x + b
    game = _toy_game(2, 8)
    game.players["D"] = game.D = Recorder(4)
    with torch.no_grad():
        game.D.lin.weight.copy_(torch.tensor([[1.0, 0.0, 1.0, 0.0]]))
        game.D.lin.bias.zero_()
    xx, yy, s = decision_surface(game, span=1.0, resolution=3)
    assert_close(s, torch.sigmoid(2 * xx))  # probability "real" of the cross-entropy objective


def test_evaluation_during_training_on_points_scores_modes_and_bad_metrics_stop_first(tmp_path):
    from gankit.api import prepare_training
    from gankit.errors import GankitError

    common = ["train.steps=20", "train.batch_size=50", "model.g.width=16", "model.d.width=16",
              "train.progress=false", "train.tensorboard=false", "train.sample_every=0", "eval.every=10"]
    tr = prepare_training("toy-ring8", [*common, "eval.metrics=[modes]"], out=tmp_path / "ok")
    tr.fit()
    rows = [json.loads(line) for line in (tmp_path / "ok" / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in rows if "eval/modes" in r]
    assert [r["step"] for r in evals] == [10, 20]
    assert all(0 <= r["eval/modes"] <= 8 and 0 <= r["eval/hq_percent"] <= 100 for r in evals)
    with pytest.raises(GankitError, match="fid: not defined for 2-D point data"):
        prepare_training("toy-ring8", [*common, "eval.metrics=[fid]"], out=tmp_path / "bad")
    assert not (tmp_path / "bad").exists()
