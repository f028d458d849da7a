"""Diffusion-GAN (gankit/diffusion.py, tricks.diffusion): the forward diffusion, the timestep
distributions, the adaptation of T, G's gradient through the diffusion, and training with exact resume."""
from __future__ import annotations

import json
import math

import pytest
import torch

from gankit.api import prepare_training, train
from gankit.config import load_config
from gankit.diffusion import AdaptiveDiffusion, adapt_T, alphas_cumprod, decision_boundary, timestep_probs
from gankit.errors import ConfigError
from gankit.train.checkpoint import load_checkpoint
from helpers.state import assert_same

FAST = ["train.progress=false", "train.tensorboard=false", "train.log_every=1", "train.sample_every=0",
        "train.checkpoint_every=0", "model.g.width=8", "model.d.width=8"]
ON = ["tricks.diffusion=true"]


# -- the forward diffusion ---------------------------------------------------------------------------

def test_schedule_matches_a_hand_computation():
    # T_max = 3: beta = 1e-4, (1e-4 + 2e-2) / 2, 2e-2
    b = [1e-4, 0.01005, 2e-2]
    want = [1.0, 1 - b[0], (1 - b[0]) * (1 - b[1]), (1 - b[0]) * (1 - b[1]) * (1 - b[2])]
    got = alphas_cumprod(3)
    assert got.dtype == torch.float64 and got.tolist() == pytest.approx(want, rel=1e-12, abs=0)
    # T_max = 500 (the paper's): abar_T = prod (1 - beta_s), about exp(-sum beta) = exp(-5.025)
    betas = [1e-4 + (2e-2 - 1e-4) * i / 499 for i in range(500)]
    assert alphas_cumprod(500)[-1].item() == pytest.approx(math.prod(1 - b for b in betas), rel=1e-10)
    assert alphas_cumprod(500)[-1].item() == pytest.approx(math.exp(-5.025), rel=0.05)


def test_diffusion_at_t0_is_the_identity_and_its_moments_follow_the_schedule():
    torch.manual_seed(0)
    diff = AdaptiveDiffusion(t_min=5, t_max=5000, sigma=0.05)
    x = torch.rand(4000, 1, 8, 8) * 2 - 1
    assert torch.equal(diff.diffuse(x, torch.zeros(len(x), dtype=torch.long)), x)
    abar = alphas_cumprod(5000)
    for t in (50, 500, 5000):
        xt = diff.diffuse(x, torch.full((len(x),), t))
        a = abar[t].item()
        # x_t - sqrt(abar) x is the noise alone: mean 0, variance (1 - abar) sigma^2
        noise = xt - math.sqrt(a) * x
        assert noise.var().item() == pytest.approx((1 - a) * 0.05 ** 2, rel=0.02)
        assert xt.var().item() == pytest.approx(a * x.var().item() + (1 - a) * 0.05 ** 2, rel=0.02)
    # at the end of a long schedule the signal is gone: the variance approaches sigma^2
    assert abar[5000].item() < 1e-20
    assert diff.diffuse(x, torch.full((len(x),), 5000)).var().item() == pytest.approx(0.05 ** 2, rel=0.02)


def test_diffusion_is_differentiable_with_gradient_sqrt_abar():
    diff = AdaptiveDiffusion(t_max=100)
    x = torch.randn(3, 2, 4, 4, requires_grad=True)
    t = torch.tensor([0, 10, 100])
    diff.diffuse(x, t).sum().backward()
    want = alphas_cumprod(100)[t].sqrt().float().view(3, 1, 1, 1).expand_as(x)
    torch.testing.assert_close(x.grad, want)


def test_timestep_channel_is_t_over_t_max_and_follows_packs():
    diff = AdaptiveDiffusion(t_max=200)
    x, t = torch.randn(4, 3, 5, 5), torch.tensor([0, 50, 100, 200])
    out = diff.condition(x, t)
    assert out.shape == (4, 4, 5, 5) and torch.equal(out[:, :3], x)
    torch.testing.assert_close(out[:, 3], (t / 200.0).view(4, 1, 1).expand(4, 5, 5))
    packed = diff.condition(x.reshape(2, 6, 5, 5), t, pack=2)  # packing after conditioning, sample by sample
    assert torch.equal(packed, out.reshape(2, 8, 5, 5))
    points = diff.condition(torch.randn(4, 2), t)  # 2-D points: one more feature
    assert points.shape == (4, 3) and torch.equal(points[:, 2], t / 200.0)


# -- the timestep distributions ----------------------------------------------------------------------

@pytest.mark.parametrize("ts_dist", ["priority", "uniform"])
def test_timestep_frequencies_match_the_distribution(ts_dist):
    torch.manual_seed(0)
    diff = AdaptiveDiffusion(t_min=10, t_max=10, ts_dist=ts_dist)
    n, T = 200_000, 10
    counts = torch.bincount(diff.sample_t(n), minlength=T + 1).double()
    assert len(counts) == T + 1  # never beyond T
    p = torch.arange(T + 1, dtype=torch.float64) / (T * (T + 1) / 2) if ts_dist == "priority" \
        else torch.full((T + 1,), 1 / (T + 1), dtype=torch.float64)
    torch.testing.assert_close(timestep_probs(T, ts_dist), p)
    if ts_dist == "priority":
        assert counts[0] == 0  # p(0) = 0
    keep = p > 0
    chi2 = ((counts[keep] - n * p[keep]) ** 2 / (n * p[keep])).sum().item()
    assert chi2 < 30.0  # chi-square with 9 or 10 degrees of freedom: P(> 30) < 0.001


def test_timesteps_follow_T_rounded():
    torch.manual_seed(0)
    diff = AdaptiveDiffusion(t_min=5, t_max=500, ts_dist="uniform")
    diff.T = 7.4
    assert diff.T_int == 7 and diff.sample_t(5000).max().item() == 7
    diff.T = 7.5
    assert diff.T_int == 8 and diff.sample_t(5000).max().item() == 8


# -- adaptive T --------------------------------------------------------------------------------------

def test_adapt_T_steps_by_the_sign_and_clips():
    assert adapt_T(100.0, 0.9, 0.6, 2.5, 5, 500) == 102.5
    assert adapt_T(100.0, 0.1, 0.6, 2.5, 5, 500) == 97.5
    assert adapt_T(100.0, 0.6, 0.6, 2.5, 5, 500) == 100.0  # sign(0) = 0
    assert adapt_T(499.0, 1.0, 0.6, 2.5, 5, 500) == 500.0
    assert adapt_T(6.0, -1.0, 0.6, 2.5, 5, 500) == 5.0


def test_T_rises_while_D_is_overconfident_on_real_and_falls_otherwise():
    diff = AdaptiveDiffusion(t_min=5, t_max=500, target=0.6, every=4, ada_kimg=1.0)
    assert diff.T == 5.0
    step = 495 * 4 * 64 / 1000  # C = (T_max - T_min) * images per adjustment / (ada_kimg * 1000)
    for i in range(4):  # D says "real" to every real sample: r_d = 1 > 0.6
        stats = diff.observe(torch.full((64,), 3.0), 64)
        assert stats["diffusion/r_d"].item() == 1.0 and stats["diffusion/T"] == 5.0
    assert diff.T == pytest.approx(5.0 + step)  # adjusted once, after the 4th step
    # r_d = 0.5 (3/4 of the decisions positive) < 0.6: T falls back
    out = torch.tensor([1.0, 1.0, 1.0, -1.0]).repeat(16)
    for _ in range(4):
        diff.observe(out, 64)
    assert diff.T == pytest.approx(5.0)
    for _ in range(40):  # clipped to [T_min, T_max]
        diff.observe(torch.full((64,), -1.0), 64)
    assert diff.T == 5.0
    for _ in range(40):
        diff.observe(torch.full((64,), 1.0), 64)
    assert diff.T == 500.0


def test_the_sign_is_taken_about_the_objectives_decision_boundary():
    lsgan = load_config("gan-digits", ["loss.name=lsgan", "loss.ls_targets=[0, 1, 1]"]).loss
    assert decision_boundary(lsgan) == 0.5
    assert decision_boundary(load_config("gan-digits").loss) == 0.0
    diff = AdaptiveDiffusion(target=0.6, every=1, ada_kimg=1.0, boundary=0.5)
    stats = diff.observe(torch.tensor([0.4, 0.6, 0.7, 0.8]), 4)  # 3 above 0.5, 1 below: r_d = 0.5
    assert stats["diffusion/r_d"].item() == 0.5 and diff.T == 5.0


def test_adaptive_state_round_trips():
    diff = AdaptiveDiffusion(every=4, ada_kimg=1.0)
    for _ in range(6):
        diff.observe(torch.full((8,), 2.0), 8)
    other = AdaptiveDiffusion(every=4, ada_kimg=1.0)
    other.load_state_dict(diff.state_dict())
    assert_same(other.state_dict(), diff.state_dict())
    for d in (diff, other):
        for _ in range(2):
            d.observe(torch.full((8,), 2.0), 8)
    assert other.T == diff.T > 5.0


# -- in the game -------------------------------------------------------------------------------------

def test_d_takes_one_more_channel_and_g_gets_a_gradient_through_the_diffusion(tmp_path):
    trainer = prepare_training("gan-digits", FAST + ON + ["train.steps=1"], out=tmp_path / "run")
    game = trainer.game
    first = next(m for m in game.D.modules() if isinstance(m, torch.nn.Linear))
    assert first.in_features == 2 * 16 * 16  # (C + 1) x H x W
    game.diffusion.T = 500.0  # noisy timesteps: the gradient still reaches G
    torch.manual_seed(0)
    fake = game.G(game.noise(16))
    x = game._view(fake)
    assert x.shape == (16, 2, 16, 16)
    t = (x[:, 1, 0, 0] * 500).round()
    torch.testing.assert_close(x[:, 1], (t / 500).view(16, 1, 1).expand(16, 16, 16))
    assert t.max() > 100  # drawn up to T
    game.D(x).sum().backward()
    grads = torch.cat([p.grad.flatten() for p in game.G.parameters() if p.grad is not None])
    assert len(grads) > 0 and torch.isfinite(grads).all() and grads.abs().sum() > 0


def test_training_logs_T_and_resume_is_bit_exact(tmp_path):
    # a fast D (lr 2e-3) soon says "real" to real data (r_d > 0), and T moves 495 * 64 / 1000 per adjustment;
    # the split falls between two adjustments (every 2 D steps), so pending statistics are checkpointed
    sets = FAST + ON + ["tricks.diffusion_every=2", "tricks.diffusion_ada_kimg=1", "tricks.diffusion_target=0",
                        "optim.d.lr=2e-3", "train.ema_decay=0.9"]
    train("gan-digits", sets + ["train.steps=6"], out=tmp_path / "straight")
    train("gan-digits", sets + ["train.steps=3"], out=tmp_path / "split")
    train(resume=tmp_path / "split", overrides=["train.steps=6"])
    rows = [json.loads(line) for line in (tmp_path / "straight" / "metrics.jsonl").read_text().splitlines()]
    Ts = [r["diffusion/T"] for r in rows]
    assert len(Ts) == 6 and all("diffusion/r_d" in r for r in rows)
    assert Ts[0] == 5.0 and max(Ts) > 5.0
    assert all(T == 5.0 or (T - 5.0) / (495 * 64 / 1000) == pytest.approx(round((T - 5.0) / (495 * 64 / 1000)))
               for T in Ts)  # whole steps of C
    a, b = load_checkpoint(tmp_path / "straight"), load_checkpoint(tmp_path / "split")
    for who in ("players", "ema"):
        for name in a[who]:
            for k in a[who][name]:
                torch.testing.assert_close(a[who][name][k], b[who][name][k], rtol=0, atol=0, msg=f"{who}.{name}.{k}")
    assert "diffusion" in a["game"] and a["game"]["diffusion"]["T"] > 5.0
    assert_same(a["game"], b["game"])
    split_rows = [json.loads(line) for line in (tmp_path / "split" / "metrics.jsonl").read_text().splitlines()]
    assert [r["diffusion/T"] for r in split_rows] == Ts


@pytest.mark.parametrize("preset, sets", [
    ("gan-digits", ["tricks.pack=2", "penalty.gp=10"]),
    ("gan-digits", ["penalty.r1=1", "tricks.diffaugment=color,translation", "tricks.instance_noise=0.1"]),
    ("gan-digits", ["tricks.feature_matching=true"]),
    ("cgan-mnist", ["data.resolution=16", "train.batch_size=8"]),
    ("acgan-mnist", ["data.resolution=16", "train.batch_size=8"]),
])
def test_composes_with_the_other_tricks(tmp_path, preset, sets):
    summary = train(preset, FAST + ON + sets + ["train.steps=2", "tricks.diffusion_every=1"], out=tmp_path / "run")
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert summary["steps"] == 2 and all(math.isfinite(v) for r in rows for v in r.values())
    assert "diffusion/T" in rows[-1]


@pytest.mark.parametrize("sets, key", [
    (["game.name=ebgan", "model.d.name=autoencoder"], "tricks.diffusion"),
    (["loss.name=wasserstein"], "tricks.diffusion"),
    (["tricks.diffusion_t_min=0"], "tricks.diffusion_t_min"),
    (["tricks.diffusion_t_max=4"], "tricks.diffusion_t_max"),
    (["tricks.diffusion_target=1"], "tricks.diffusion_target"),
    (["tricks.diffusion_every=0"], "tricks.diffusion_every"),
    (["tricks.diffusion_ada_kimg=0"], "tricks.diffusion_ada_kimg"),
    (["tricks.diffusion_sigma=0"], "tricks.diffusion_sigma"),
    (["tricks.diffusion_ts_dist=gaussian"], "tricks.diffusion_ts_dist"),
])
def test_bad_settings_name_the_key(sets, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config("gan-digits", ON + sets)


def test_a_fixed_T_needs_no_decision_boundary():
    cfg = load_config("gan-digits", ON + ["loss.name=wasserstein", "tricks.diffusion_t_min=50",
                                          "tricks.diffusion_t_max=50"])
    assert cfg.tricks.diffusion


def test_the_preset():
    cfg = load_config("diffusion-gan-fashion-mnist")
    t = cfg.tricks
    assert t.diffusion and (t.diffusion_t_min, t.diffusion_t_max, t.diffusion_target) == (5, 500, 0.6)
    assert (t.diffusion_every, t.diffusion_ts_dist, t.diffusion_sigma) == (4, "priority", 0.05)
    assert cfg.model.d.name == "dcgan" and cfg.data.resolution == 28
