"""The theory figures (``gankit demo``): the numbers behind each figure, checked against hand-computed
values, then the command itself."""
from __future__ import annotations

import math

import pytest
import torch
from PIL import Image

from gankit.cli import main
from gankit.demos import DEMOS, make_demo
from gankit.demos.costs import generator_costs
from gankit.demos.disjoint_supports import disjoint_supports
from gankit.demos.kl_asymmetry import fit_gaussian, kl_on_grid, mixture_log_pdf


def test_generator_costs_and_gradients_match_the_tutorial_formulas():
    d = torch.tensor([0.001, 0.1, 0.5, 0.9], dtype=torch.float64)
    curves = generator_costs(d)
    # Costs of one sample with D(G(z)) = d, and their gradients w.r.t. D's logit l (d = sigmoid(l)):
    want = {"minimax": (torch.log(1 - d), -d),                              # log(1 - D),  -sigmoid(l)
            "non-saturating": (-torch.log(d), d - 1),                       # -log D,      sigmoid(l) - 1
            "max-likelihood": (-0.5 * d / (1 - d), -0.5 * d / (1 - d))}     # -exp(l)/2,   -exp(l)/2
    assert set(curves) == set(want)
    for name, (cost, grad) in curves.items():
        torch.testing.assert_close(cost, want[name][0], msg=name)
        torch.testing.assert_close(grad, want[name][1], msg=name)
    # The tutorial's point: where D rejects G's samples, minimax (and ML) saturate, non-saturating does not.
    (_, g_mm), (_, g_ns) = curves["minimax"], curves["non-saturating"]
    assert abs(g_mm[0]) < 2e-3 and abs(g_ns[0]) > 0.99


def test_kl_on_grid_of_two_gaussians_matches_the_closed_form():
    x = torch.linspace(-12, 12, 4801, dtype=torch.float64)
    norm = lambda m, s: -0.5 * ((x - m) / s) ** 2 - math.log(s) - 0.5 * math.log(2 * math.pi)  # noqa: E731
    kl = kl_on_grid(norm(0.0, 1.0), norm(1.0, 2.0), dx=0.005)
    want = math.log(2.0 / 1.0) + (1.0 + 1.0) / (2 * 4.0) - 0.5  # log(s2/s1) + (s1^2 + dmu^2)/(2 s2^2) - 1/2
    assert kl.item() == pytest.approx(want, abs=1e-6)
    assert (mixture_log_pdf(x).exp().sum() * 0.005).item() == pytest.approx(1.0, abs=1e-6)


def test_forward_kl_covers_both_modes_and_reverse_kl_locks_onto_one():
    fwd, rev = fit_gaussian("forward"), fit_gaussian("reverse")
    # Forward KL to a Gaussian family matches the mixture's moments: mean 0, variance 0.5^2 + 2^2.
    assert fwd["mu"] == pytest.approx(0.0, abs=0.02)
    assert fwd["sigma"] == pytest.approx(math.sqrt(4.25), abs=0.02)
    # Reverse KL sits on the mode it started nearest (+2) with about that mode's width, paying
    # KL ~ log 2 for ignoring the other half of the data.
    assert rev["mu"] == pytest.approx(2.0, abs=0.02)
    assert rev["sigma"] == pytest.approx(0.5, abs=0.02)
    assert rev["kl"] == pytest.approx(math.log(2), abs=0.01)
    with pytest.raises(ValueError, match="direction"):
        fit_gaussian("sideways")


def test_disjoint_supports_js_stays_at_log2_while_w1_tracks_theta():
    thetas = torch.tensor([-1.0, 0.0, 0.3, 1.5])
    r = disjoint_supports(thetas)
    disjoint = thetas != 0
    torch.testing.assert_close(r["js"][disjoint], torch.full((3,), math.log(2), dtype=torch.float64),
                               atol=0.01, rtol=0)
    assert abs(r["js"][1].item()) < 1e-6                 # same distribution: D can do nothing, JS = 0
    torch.testing.assert_close(r["w1"], thetas.abs().double(), atol=1e-4, rtol=0)
    # G's gradient: the Wasserstein critic points toward the data with size 1; the JS game gives ~0.
    torch.testing.assert_close(r["w1_grad"][disjoint], thetas[disjoint].sign().double())
    assert r["js_grad"][disjoint].abs().max() < 0.01
    assert r["js_grad"][[0, 3]].abs().max() < 1e-3      # and less the farther apart the supports


def test_demo_command_writes_a_png_and_lists_the_demos(tmp_path, capsys):
    out = tmp_path / "figs" / "costs.png"
    assert main(["demo", "costs", "--out", str(out)]) == 0
    with Image.open(out) as im:
        assert im.format == "PNG" and im.width >= 800 and im.height >= 300
    assert main(["demo", "--list"]) == 0
    listed = capsys.readouterr().out
    for name in ("costs", "kl-asymmetry", "disjoint-supports", "training-2d"):
        assert name in listed and name in DEMOS


def test_demo_command_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["demo", "cost", "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "unknown demo 'cost'" in err
    assert "costs, disjoint-supports, kl-asymmetry" in err
    assert main(["demo", "costs", "--out", str(tmp_path / "x.jpg")]) == 2
    assert ".png" in capsys.readouterr().err
    assert main(["demo", "costs"]) == 2
    assert "--out" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
    with pytest.raises(Exception, match="unknown demo"):
        make_demo("nope", tmp_path / "y.png")
