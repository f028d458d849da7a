"""Perceptual path length and the truncation sweep of ``gankit eval``, checked by value.

PPL: 0 for a generator that ignores its latent; 4x for a generator whose output (and so, under identity
features, the features) is 2x; exactly |(w2 - w1) M|² for a linear synthesis in W; the 1%/99% trim of
StyleGAN2's code; the EMA players a run is scored with; deterministic in the seed; runs only. The sweep:
at psi = 0 every sample is the same image (recall 0), one row per score and psi, in the JSON too.
"""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
import torch.nn as nn

from gankit.api import evaluate_run, load_run, train
from gankit.cli import main
from gankit.config import DataConfig
from gankit.errors import GankitError
from gankit.metrics import extractors
from gankit.metrics.evaluate import EvalResult, evaluate, merge_sweep, parse_psis
from gankit.metrics.extractors import Extractor
from gankit.metrics.ppl import path_lengths, perceptual_path_length, slerp, trim_percentiles
from gankit.metrics.registry import METRICS, SampleCountWarning
from gankit.sampling import BareGenerator

FAST = ["train.progress=false", "train.tensorboard=false", "train.log_every=2", "train.sample_every=0",
        "train.checkpoint_every=0", "data.resolution=16", "model.g.channels=16,16,8", "model.g.w_dim=16",
        "model.latent_dim=16", "model.d.width=8", "train.batch_size=8", "game.pl_every=2", "penalty.r1_every=2"]


class Identity(Extractor):
    """The images themselves as features (a stand-in: no classifier is trained)."""
    name, key, has_classes, dim = "identity", "identity-test", False, 256

    def __init__(self, *a, **k):
        self.info = {}

    def __call__(self, images):
        return images.float().flatten(1), None


def pixels(x: torch.Tensor) -> torch.Tensor:
    return x.flatten(1)


@pytest.fixture
def identity(monkeypatch):
    monkeypatch.setattr(extractors, "build_extractor", lambda *a, **k: Identity())
    monkeypatch.setattr(extractors, "_said", set())


@pytest.fixture(scope="module")
def style_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ppl") / "run"
    train("stylegan-mnist", FAST + ["train.steps=4", "train.ema_decay=0.9"], out=out)
    return out


# ----------------------------------------------------------------------------------------------------
# the helpers


def test_the_trim_keeps_the_1st_to_99th_percentiles_as_stylegan2_does():
    v = np.arange(1, 1001, dtype=float)  # 1..1000: the 1st percentile 'lower' is 10, the 99th 'higher' 991
    kept = trim_percentiles(np.random.default_rng(0).permutation(v))
    np.testing.assert_array_equal(np.sort(kept), np.arange(10, 992))
    rng = np.random.default_rng(1)
    clean = rng.exponential(1.0, 2000)
    dirty = np.r_[clean, np.full(10, 1e9), np.full(5, -1e9), [np.nan, np.inf]]  # outliers (and junk) dropped
    assert np.abs(trim_percentiles(dirty)).max() < 100
    assert trim_percentiles(dirty).mean() == pytest.approx(trim_percentiles(clean).mean(), rel=0.02)
    assert dirty[np.isfinite(dirty)].mean() > 1e6  # the untrimmed mean is ruined by them
    np.testing.assert_array_equal(trim_percentiles(np.arange(100.0)), np.arange(100.0))  # < 101: none dropped
    np.testing.assert_array_equal(trim_percentiles(np.arange(101.0)), np.arange(1.0, 100.0))


def test_slerp_follows_the_great_circle_at_a_constant_rate_and_interpolates_the_length():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(5, 16, generator=g, dtype=torch.float64)
    b = 3 * torch.randn(5, 16, generator=g, dtype=torch.float64)
    torch.testing.assert_close(slerp(a, b, torch.zeros(5)), a)
    torch.testing.assert_close(slerp(a, b, torch.ones(5)), b)
    omega = torch.acos(torch.nn.functional.cosine_similarity(a, b))
    for t in (0.25, 0.5, 0.9):
        p = slerp(a, b, torch.full((5,), t))
        torch.testing.assert_close(torch.acos(torch.nn.functional.cosine_similarity(a, p)), t * omega)
        torch.testing.assert_close(p.norm(dim=1), a.norm(dim=1) + t * (b.norm(dim=1) - a.norm(dim=1)))


# ----------------------------------------------------------------------------------------------------
# the metric, by value


class Scaled(nn.Module):
    def __init__(self, net: nn.Module, scale: float):
        super().__init__()
        self.net, self.scale = net, scale

    def forward(self, z):
        return self.scale * self.net(z)


def _mlp(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 64), nn.Unflatten(1, (1, 8, 8)))


class Constant(nn.Module):
    def __init__(self):
        super().__init__()
        self.image = nn.Parameter(torch.randn(1, 1, 8, 8))

    def forward(self, z):
        return self.image.expand(len(z), -1, -1, -1)


class LinearStyle(nn.Module):
    """A style-based G with a linear synthesis: image = scale · (w M), every layer the same w."""

    def __init__(self, scale: float = 1.0, constant: bool = False):
        super().__init__()
        torch.manual_seed(0)
        self.mapping = nn.Sequential(nn.Linear(8, 4), nn.LeakyReLU(0.2))
        self.register_buffer("w_avg", torch.randn(4))
        self.M = nn.Parameter(0.02 * torch.randn(4, 64) * (0 if constant else 1))
        self.num_ws, self.scale = 3, scale

    def synthesis(self, ws):
        return (self.scale * ws[:, 0] @ self.M + 0.1).view(-1, 1, 8, 8)


def test_a_generator_that_ignores_its_latent_has_path_length_zero():
    const = BareGenerator(Constant(), 8)
    lengths, space = path_lengths(const, None, pixels, 300, seed=0)
    assert space == "Z" and np.abs(lengths).max() == 0
    assert perceptual_path_length(const, None, pixels, 300)[0] == 0
    flat = BareGenerator(LinearStyle(constant=True), 8)
    assert perceptual_path_length(flat, None, pixels, 300)[:2] == (0.0, "W")


def test_twice_the_output_has_four_times_the_path_length():
    one, two = BareGenerator(_mlp(), 8), BareGenerator(Scaled(_mlp(), 2.0), 8)
    l1, space, kept = perceptual_path_length(one, None, pixels, 400, seed=3)
    l2, _, _ = perceptual_path_length(two, None, pixels, 400, seed=3)
    assert space == "Z" and kept == 400 - 2 * 3 and l1 > 0  # 400 pairs: 3 below the 1st percentile, 3 above
    assert l2 / l1 == pytest.approx(4.0, rel=1e-4)
    w1 = perceptual_path_length(BareGenerator(LinearStyle(1.0), 8), None, pixels, 400, seed=3)[0]
    w2 = perceptual_path_length(BareGenerator(LinearStyle(2.0), 8), None, pixels, 400, seed=3)[0]
    assert w2 / w1 == pytest.approx(4.0, rel=1e-4)


def test_in_w_a_linear_synthesis_has_the_exact_length_of_its_lerp_step():
    G = LinearStyle()
    game = BareGenerator(G, 8)
    lengths, space = path_lengths(game, None, pixels, 200, seed=7)
    # the same pairs, by hand: w = mapping(z); a step eps along (w2 - w1) moves the image by eps (w2 - w1) M
    from gankit.metrics.ppl import _pair_seed

    z1 = game.sample_inputs(200, 7)["z"]
    z2 = torch.randn(z1.shape, generator=torch.Generator().manual_seed(_pair_seed(7)))
    with torch.no_grad():
        expected = ((G.mapping(z2) - G.mapping(z1)) @ G.M).square().sum(1).double().numpy()
    assert space == "W"
    # (float32 images 1e-4 apart, as in the paper: each pair's length is good to about 1%, their mean better)
    np.testing.assert_allclose(lengths, expected, rtol=3e-2)
    assert lengths.mean() == pytest.approx(expected.mean(), rel=2e-3)
    # truncation is linear in w: psi scales the step, and the length by psi²
    half, _ = path_lengths(game, None, pixels, 200, seed=7, psi=0.5)
    assert half.mean() == pytest.approx(0.25 * expected.mean(), rel=2e-3)


class Game(BareGenerator):
    """A bare G as a game that draws with the players it is given (as the games do: the EMA copies)."""

    def generate(self, inputs, players=None):
        with torch.no_grad():
            return (players or {}).get("G", self.G)(inputs["z"])


def test_the_players_given_are_the_ones_measured():
    game = Game(Constant(), 8)
    moving = {"G": _mlp()}
    assert perceptual_path_length(game, None, pixels, 100)[0] == 0
    assert perceptual_path_length(game, moving, pixels, 100)[0] == \
        perceptual_path_length(BareGenerator(moving["G"], 8), None, pixels, 100)[0] > 0
    style = {"G": LinearStyle()}  # in W: the players' mapping, average w and synthesis
    assert perceptual_path_length(BareGenerator(LinearStyle(constant=True), 8), style, pixels, 100)[0] == \
        perceptual_path_length(BareGenerator(style["G"], 8), None, pixels, 100)[0] > 0


def test_classes_stay_fixed_along_a_conditional_path():
    class Cond(nn.Module):  # the image is the class alone: no path length, whatever the noise does
        def forward(self, z, y):
            return y.float()[:, None, None, None].expand(-1, 1, 4, 4)

    game = BareGenerator(Cond(), 8, num_classes=10)
    assert np.abs(path_lengths(game, None, pixels, 50)[0]).max() == 0


# ----------------------------------------------------------------------------------------------------
# the registered metric on runs


def test_ppl_of_a_style_run_is_in_w_with_the_ema_players_deterministic_and_named(style_run, identity):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SampleCountWarning)
        res = evaluate_run(style_run, ["ppl"], n=120, seed=1)
        again = evaluate_run(style_run, ["ppl"], n=120, seed=1)
        other = evaluate_run(style_run, ["ppl"], n=120, seed=2)
        live = evaluate_run(style_run, ["ppl"], n=120, seed=1, ema=False)
        flat = evaluate_run(style_run, ["ppl"], n=120, seed=1, truncation=0.0)
    assert list(res.scores) == ["ppl[identity]"] and res.scores["ppl[identity]"] > 0
    assert again.scores == res.scores and other.scores != res.scores and live.scores != res.scores
    assert flat.scores["ppl[identity]"] == 0  # psi = 0: every w is the average w
    note = next(n for n in res.notes if n.startswith("ppl[identity]"))
    assert "lerp in W" in note and "not the VGG16/LPIPS PPL" in note and "118 of 120 pairs" in note
    run = load_run(style_run)  # the EMA players, as evaluate_run scores with
    value, space, _ = perceptual_path_length(run.game, run.players, pixels, 120, seed=1)
    assert space == "W" and value == pytest.approx(res.scores["ppl[identity]"], rel=1e-9)
    assert METRICS.get("ppl").explicit_only and METRICS.get("ppl").better == {"ppl": False}


def test_ppl_warns_below_its_recommended_count_and_applies_to_runs_only(style_run, identity, tmp_path, capsys):
    with pytest.warns(SampleCountWarning, match=r"ppl from 10 samples \(recommended 5,000\+\)"):
        evaluate_run(style_run, ["ppl"], n=10)
    with pytest.raises(GankitError, match=r"^ppl: 0 samples; it needs at least 1$"):
        evaluate_run(style_run, ["ppl"], n=0)
    with pytest.raises(GankitError, match=r"^ppl: needs a run drawn from noise \(gankit eval RUN\)"):
        evaluate(torch.zeros(4, 1, 16, 16), DataConfig(name="digits", resolution=16), Identity(), ["ppl"])
    np.save(tmp_path / "x.npy", np.zeros((4, 1, 16, 16), np.uint8))
    assert main(["eval", "--real", "digits", "--fake", str(tmp_path / "x.npy"), "--metrics", "ppl"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "ppl: needs a run" in err[0]


def test_ppl_of_a_non_style_run_is_in_z(tmp_path, identity):
    train("gan-digits", ["train.progress=false", "train.tensorboard=false", "train.steps=1"], out=tmp_path / "r")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SampleCountWarning)
        res = evaluate_run(tmp_path / "r", ["ppl"], n=50)
    assert res.scores["ppl[identity]"] > 0 and any("slerp in Z" in n for n in res.notes)
    with pytest.raises(GankitError, match=r"^--truncation-sweep: .* is a 'gan' run; truncation pulls w toward"):
        evaluate_run(tmp_path / "r", None, n=50, truncation=[0.5, 1.0])


# ----------------------------------------------------------------------------------------------------
# the truncation sweep


def test_the_truncation_sweep_scores_every_psi_and_psi_zero_is_one_image(style_run, identity, tmp_path, capsys):
    out = tmp_path / "sweep.json"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SampleCountWarning)
        assert main(["eval", str(style_run), "--truncation-sweep", "0,0.5,1", "--n", "40", "--json", str(out)]) == 0
        plain = evaluate_run(style_run, ["fid", "pr"], n=40)
    table = capsys.readouterr().out
    doc = json.loads(out.read_text())
    for score in ("fid[identity]", "precision[identity]", "recall[identity]"):
        for psi in ("0", "0.5", "1"):
            assert f"{score} @psi={psi}" in table and f"{score} @psi={psi}" in doc["scores"]
            assert doc["truncation_sweep"][psi][score] == doc["scores"][f"{score} @psi={psi}"]
    assert "fid_floor[identity]" in doc["scores"] and "fid_floor[identity] @psi=0" not in doc["scores"]
    # psi = 0: forty copies of the average image, a manifold of radius 0 that no real image lies in
    assert doc["scores"]["recall[identity] @psi=0"] == 0
    assert doc["scores"]["precision[identity] @psi=0"] in (0.0, 1.0)
    assert doc["scores"]["fid[identity] @psi=0"] != doc["scores"]["fid[identity] @psi=1"]
    # psi = 1 is no truncation: the plain evaluation's scores, exactly
    for k, v in plain.scores.items():
        assert doc["scores"][k if k.startswith("fid_floor") else f"{k} @psi=1"] == v
    rows = [line.split()[0] + " " + line.split()[1] for line in table.splitlines() if "@psi=" in line]
    assert rows[:3] == ["fid[identity] @psi=0", "fid[identity] @psi=0.5", "fid[identity] @psi=1"]


def test_the_sweeps_bad_calls_are_one_line(style_run, identity, tmp_path, capsys):
    for argv, fragment in ((["--truncation-sweep", "a,b"], "comma-separated psi values"),
                           (["--truncation-sweep", "0.5,3"], "psi must lie in [-1, 2]"),
                           (["--truncation-sweep", "0.5", "--jacobian-keep", "0.5"], "two truncations")):
        assert main(["eval", str(style_run), *argv]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and fragment in err[0], err
    assert main(["eval", "--real", "digits", "--fake", str(tmp_path), "--truncation-sweep", "0.5"]) == 2
    assert "--fake images have no psi" in capsys.readouterr().err
    assert parse_psis("1, 0.5,1") == [1.0, 0.5]


def test_merging_a_sweep_keeps_the_floor_once_and_the_notes_once():
    a = EvalResult({"fid[x]": 3.0, "fid_floor[x]": 1.0}, "x", notes=["n"])
    b = EvalResult({"fid[x]": 2.0, "fid_floor[x]": 1.0}, "x", notes=["n"])
    m = merge_sweep([(0.5, a), (1.0, b)])
    assert m.scores == {"fid[x] @psi=0.5": 3.0, "fid[x] @psi=1": 2.0, "fid_floor[x]": 1.0} and m.notes == ["n"]
