"""The cross-entropy GAN game: D's loss and the three generator costs of Goodfellow's NIPS 2016
tutorial (§3.2, fig. 16), checked on values and on gradients against hand-derived formulas."""
from __future__ import annotations

import math

import pytest
import torch
from torch.testing import assert_close

from gankit.config import LossConfig
from gankit.errors import ConfigError
from gankit.losses import (CrossEntropyGAN, G_COSTS, build_objective, d_cross_entropy, g_max_likelihood,
                           g_minimax, g_non_saturating)
from gankit.losses.gan import MAX_LOGIT

P = torch.tensor([0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99], dtype=torch.float64)


def logit(p: torch.Tensor) -> torch.Tensor:
    return torch.log(p / (1 - p))


# Each generator cost as a function of p = D(G(z)), and dJ/dp per sample (before the mean over N).
G_VALUE = {
    "minimax": lambda p: torch.log(1 - p).mean(),
    "non-saturating": lambda p: -torch.log(p).mean(),
    "max-likelihood": lambda p: -0.5 * (p / (1 - p)).mean(),
}
G_DJDP = {
    "minimax": lambda p: -1 / (1 - p),
    "non-saturating": lambda p: -1 / p,
    "max-likelihood": lambda p: -1 / (2 * (1 - p) ** 2),
}


def test_g_costs_registry_names_the_three_costs():
    assert G_COSTS == {"minimax": g_minimax, "non-saturating": g_non_saturating,
                       "max-likelihood": g_max_likelihood}


@pytest.mark.parametrize("name", sorted(G_COSTS))
def test_g_cost_value_at_known_probabilities(name):
    got = G_COSTS[name](fake_out=logit(P))
    assert_close(got, G_VALUE[name](P), rtol=1e-10, atol=1e-12)


def test_g_cost_values_by_hand():
    # A single D(G(z)) = 0.2: log 0.8, -log 0.2, -0.5 * 0.25.
    l = torch.tensor([math.log(0.2 / 0.8)], dtype=torch.float64)
    assert_close(g_minimax(fake_out=l).item(), math.log(0.8))
    assert_close(g_non_saturating(fake_out=l).item(), -math.log(0.2))
    assert_close(g_max_likelihood(fake_out=l).item(), -0.125)


@pytest.mark.parametrize("name", sorted(G_COSTS))
def test_g_cost_derivative_wrt_d_output_autograd(name):
    p = P.clone().requires_grad_(True)
    G_COSTS[name](fake_out=logit(p)).backward()
    # The cost is a mean over N samples, so each sample's derivative carries 1/N.
    assert_close(p.grad, G_DJDP[name](P) / len(P), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("name", sorted(G_COSTS))
def test_g_cost_derivative_chain_rule_through_logit(name):
    # dJ/dp = dJ/dl * dl/dp, with dl/dp = 1 / (p (1 - p)).
    l = logit(P).requires_grad_(True)
    G_COSTS[name](fake_out=l).backward()
    djdp = l.grad * len(P) / (P * (1 - P))
    assert_close(djdp, G_DJDP[name](P), rtol=1e-8, atol=1e-10)


def _grad_wrt_logit(fn, p: float) -> float:
    l = logit(torch.tensor([p], dtype=torch.float64)).requires_grad_(True)
    fn(fake_out=l).backward()
    return l.grad.item()


@pytest.mark.parametrize("p", [1e-2, 1e-4, 1e-6])
def test_minimax_saturates_when_d_rejects_samples(p):
    # Fig. 16 of the tutorial: at D(G(z)) -> 0 the minimax cost's slope w.r.t. the logit is -p -> 0 ...
    g = _grad_wrt_logit(g_minimax, p)
    assert g < 0
    assert_close(g, -p, rtol=1e-6, atol=0.0)
    if p <= 1e-4:
        assert abs(g) < 1e-3
    # ... while the non-saturating cost keeps a slope of p - 1 -> -1.
    ns = _grad_wrt_logit(g_non_saturating, p)
    assert_close(ns, p - 1, rtol=1e-9, atol=1e-12)
    assert ns < -0.98
    assert abs(ns) / abs(g) > 0.9 / p


def test_max_likelihood_slope_wrt_logit_is_minus_half_odds():
    for p in (1e-4, 0.5, 0.9):
        assert_close(_grad_wrt_logit(g_max_likelihood, p), -0.5 * p / (1 - p), rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("name", sorted(G_COSTS))
def test_every_g_cost_rewards_higher_fake_logits(name):
    cost = G_COSTS[name]
    l = torch.linspace(-8.0, 8.0, 33, dtype=torch.float64)
    # Per-sample value is strictly decreasing in the logit ...
    vals = torch.stack([cost(fake_out=v.view(1)) for v in l])
    assert (vals[1:] < vals[:-1]).all()
    # ... so every gradient is negative, and a gradient step on G raises D(G(z)).
    x = l.clone().requires_grad_(True)
    cost(fake_out=x).backward()
    assert (x.grad < 0).all()
    stepped = (x - 0.5 * x.grad).detach()
    assert (stepped > l).all()
    assert cost(fake_out=stepped) < cost(fake_out=l)


# ----------------------------------------------------------------------------------------------
# Discriminator
# ----------------------------------------------------------------------------------------------

def test_d_loss_value_by_hand():
    r = torch.tensor([2.0, -1.0, 0.5], dtype=torch.float64)
    f = torch.tensor([-3.0, 0.0, 1.5, 4.0], dtype=torch.float64)
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    want = (-sum(math.log(sig(v)) for v in r.tolist()) / 3
            - sum(math.log(1 - sig(v)) for v in f.tolist()) / 4)
    assert_close(d_cross_entropy(real_out=r, fake_out=f).item(), want, rtol=1e-12, atol=1e-12)


def test_d_loss_at_chance_is_two_log_two():
    z = torch.zeros(5)
    assert_close(d_cross_entropy(real_out=z, fake_out=z), torch.tensor(2 * math.log(2)))


def test_d_loss_gradient_pushes_real_up_and_fake_down():
    r = torch.tensor([-2.0, 0.0, 3.0], dtype=torch.float64, requires_grad=True)
    f = torch.tensor([-3.0, 0.0, 2.0], dtype=torch.float64, requires_grad=True)
    d_cross_entropy(real_out=r, fake_out=f).backward()
    # dJ/dr = (sigmoid(r) - 1) / N < 0 (descent raises r); dJ/df = sigmoid(f) / N > 0 (descent lowers f).
    assert_close(r.grad, (torch.sigmoid(r.detach()) - 1) / 3)
    assert_close(f.grad, torch.sigmoid(f.detach()) / 3)
    assert (r.grad < 0).all() and (f.grad > 0).all()


def test_d_loss_is_small_for_a_confident_correct_d_and_large_for_a_wrong_one():
    good = d_cross_entropy(real_out=torch.full((4,), 10.0), fake_out=torch.full((4,), -10.0))
    bad = d_cross_entropy(real_out=torch.full((4,), -10.0), fake_out=torch.full((4,), 10.0))
    assert_close(good, torch.tensor(2 * math.log1p(math.exp(-10.0))))
    assert_close(bad, torch.tensor(2 * (10.0 + math.log1p(math.exp(-10.0)))))


# ----------------------------------------------------------------------------------------------
# Extreme logits
# ----------------------------------------------------------------------------------------------

EXTREME = torch.tensor([-100.0, -30.0, 0.0, 30.0, 100.0])


def _finite_value_and_grad(fn, **kw):
    leaves = {k: v.clone().requires_grad_(True) for k, v in kw.items()}
    out = fn(**leaves)
    out.backward()
    assert torch.isfinite(out), out
    for k, v in leaves.items():
        assert torch.isfinite(v.grad).all(), (k, v.grad)
    return out, leaves


def test_d_loss_finite_at_extreme_logits():
    out, leaves = _finite_value_and_grad(d_cross_entropy, real_out=EXTREME, fake_out=EXTREME.flip(0))
    # softplus(100) = 100 exactly in float32; the loss is dominated by the two wrong calls.
    assert_close(out, torch.tensor((100 + 30 + math.log(2) + 0 + 0) / 5 * 2), rtol=1e-5, atol=1e-5)
    assert_close(leaves["real_out"].grad[0], torch.tensor(-0.2))
    assert_close(leaves["fake_out"].grad[0], torch.tensor(0.2))


@pytest.mark.parametrize("name", sorted(G_COSTS))
def test_g_costs_finite_at_extreme_logits(name):
    out, leaves = _finite_value_and_grad(G_COSTS[name], fake_out=EXTREME)
    assert (leaves["fake_out"].grad <= 0).all()


def test_minimax_and_non_saturating_at_extreme_logits_by_value():
    assert_close(g_minimax(fake_out=torch.tensor([-100.0])), torch.tensor(0.0), atol=1e-30, rtol=0)
    assert_close(g_minimax(fake_out=torch.tensor([100.0])), torch.tensor(-100.0))
    assert_close(g_non_saturating(fake_out=torch.tensor([-100.0])), torch.tensor(100.0))
    assert_close(g_non_saturating(fake_out=torch.tensor([100.0])), torch.tensor(0.0), atol=1e-30, rtol=0)


def test_max_likelihood_clamps_its_exponent():
    assert MAX_LOGIT == 50.0
    at_cap = g_max_likelihood(fake_out=torch.tensor([MAX_LOGIT]))
    assert torch.isfinite(at_cap)
    # Logits beyond the cap all give the capped value, and no gradient flows through the clamp.
    for v in (60.0, 100.0, 1e4):
        l = torch.tensor([v], requires_grad=True)
        out = g_max_likelihood(fake_out=l)
        out.backward()
        assert_close(out, at_cap)
        assert l.grad.item() == 0.0
    assert_close(at_cap, torch.tensor(-0.5 * math.exp(50.0)), rtol=1e-5, atol=0)


# ----------------------------------------------------------------------------------------------
# The objective object and its registry
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(G_COSTS))
def test_cross_entropy_gan_dispatches_g_cost(name):
    fake = torch.tensor([-2.0, 0.3, 1.7])
    real = torch.tensor([1.0, -0.5, 2.0])
    for obj in (CrossEntropyGAN(g_cost=name), CrossEntropyGAN(LossConfig(g_cost=name)),
                build_objective(LossConfig(name="gan", g_cost=name))):
        assert obj.g_cost == name
        assert_close(obj.g_loss(fake_out=fake), G_COSTS[name](fake_out=fake))
        assert_close(obj.g_loss(fake_out=fake, real_out=real), G_COSTS[name](fake_out=fake))
        assert_close(obj.d_loss(real_out=real, fake_out=fake), d_cross_entropy(real_out=real, fake_out=fake))


def test_cross_entropy_gan_costs_differ():
    fake = torch.tensor([-2.0, 0.3, 1.7])
    values = {n: CrossEntropyGAN(g_cost=n).g_loss(fake_out=fake).item() for n in G_COSTS}
    assert len(set(values.values())) == 3


def test_cross_entropy_gan_default_is_non_saturating():
    assert CrossEntropyGAN().g_cost == "non-saturating"
    assert LossConfig().g_cost == "non-saturating"


def test_prob_is_sigmoid():
    obj = CrossEntropyGAN()
    out = torch.tensor([-100.0, -2.0, 0.0, 0.5, 3.0, 100.0])
    assert_close(obj.prob(out), 1 / (1 + torch.exp(-out)))
    assert obj.prob(torch.tensor([0.0])).item() == 0.5


def test_losses_take_keyword_arguments_only():
    x = torch.zeros(2)
    with pytest.raises(TypeError):
        d_cross_entropy(x, x)  # type: ignore[misc]
    for fn in G_COSTS.values():
        with pytest.raises(TypeError):
            fn(x)  # type: ignore[misc]


def test_unknown_objective_is_a_config_error():
    with pytest.raises(ConfigError, match=r"loss\.name") as e:
        build_objective(LossConfig(name="nope"))
    assert "'nope'" in str(e.value) and "gan" in str(e.value)
