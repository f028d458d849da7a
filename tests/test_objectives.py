"""One contract for every objective, then the penalties, constraints and the disjoint-supports point."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn

from gankit.config import LossConfig, load_config
from gankit.losses import OBJECTIVES, build_objective
from gankit.losses.fgan import DIVERGENCES
from gankit.losses.penalties import clip_weights, gradient_penalty, r1_penalty

sp = lambda v: math.log1p(math.exp(v))  # noqa: E731  softplus
sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731

# Textbook forms, written independently of the implementation: (L_D(r, f), L_G(f)) per sample.
# f-GAN rows use t = g_f(v) and the conjugate f*(t) exactly as in Nowozin et al. (2016), Table 6.
FGAN_TEXTBOOK = {
    "kl": (lambda v: v, lambda t: math.exp(t - 1)),
    "reverse-kl": (lambda v: -math.exp(-v), lambda t: -1 - math.log(-t)),
    "pearson": (lambda v: v, lambda t: t * t / 4 + t),
    "squared-hellinger": (lambda v: 1 - math.exp(-v), lambda t: t / (1 - t)),
    "js": (lambda v: math.log(2) - math.log(1 + math.exp(-v)), lambda t: -math.log(2 - math.exp(t))),
    "gan": (lambda v: -math.log(1 + math.exp(-v)), lambda t: -math.log(1 - math.exp(t))),
}


def textbook(name: str, div: str | None, g_cost: str | None):
    if name == "gan":
        g = {"minimax": lambda f: math.log(1 - sig(f)), "non-saturating": lambda f: -math.log(sig(f)),
             "max-likelihood": lambda f: -0.5 * sig(f) / (1 - sig(f))}[g_cost]
        return (lambda r, f: -math.log(sig(r)) - math.log(1 - sig(f))), g
    if name == "wasserstein":
        return (lambda r, f: f - r), (lambda f: -f)
    if name == "hinge":
        return (lambda r, f: max(0, 1 - r) + max(0, 1 + f)), (lambda f: -f)
    if name == "lsgan":
        return (lambda r, f: 0.5 * (r - 1) ** 2 + 0.5 * f ** 2), (lambda f: 0.5 * (f - 1) ** 2)
    act, conj = FGAN_TEXTBOOK[div]
    return (lambda r, f: -(act(r) - conj(act(f)))), (lambda f: -act(f))


CASES = ([("gan", None, c) for c in ("minimax", "non-saturating", "max-likelihood")]
         + [(n, None, None) for n in ("wasserstein", "hinge", "lsgan")]
         + [("fgan", d, None) for d in DIVERGENCES])


def make(name, div, g_cost):
    return build_objective(LossConfig(name=name, divergence=div or "js", g_cost=g_cost or "non-saturating"))


def test_every_registered_objective_is_under_contract():
    assert {c[0] for c in CASES} == set(OBJECTIVES.names())


@pytest.mark.parametrize("name,div,g_cost", CASES, ids=[f"{n}-{d or c or ''}" for n, d, c in CASES])
class TestObjectiveContract:
    real = [0.7, -0.3, 0.2]
    fake = [-0.4, 0.1, 0.6]

    def test_values_at_hand_computed_outputs(self, name, div, g_cost):
        obj = make(name, div, g_cost)
        ld, lg = textbook(name, div, g_cost)
        want_d = sum(ld(r, f) for r, f in zip(self.real, self.fake, strict=True)) / 3
        want_g = sum(lg(f) for f in self.fake) / 3
        r, f = torch.tensor(self.real, dtype=torch.float64), torch.tensor(self.fake, dtype=torch.float64)
        torch.testing.assert_close(obj.d_loss(real_out=r, fake_out=f).item(), want_d, rtol=1e-9, atol=1e-12)
        torch.testing.assert_close(obj.g_loss(fake_out=f).item(), want_g, rtol=1e-9, atol=1e-12)

    def test_gradient_directions(self, name, div, g_cost):
        obj = make(name, div, g_cost)
        r = torch.full((4,), 0.5, requires_grad=True)
        f = torch.full((4,), 0.5, requires_grad=True)
        obj.d_loss(real_out=r, fake_out=f).backward()
        assert (r.grad < 0).all(), "descending L_D must raise D's output on real data"
        assert (f.grad > 0).all(), "descending L_D must lower D's output on fakes"
        f2 = torch.full((4,), 0.5, requires_grad=True)
        obj.g_loss(fake_out=f2).backward()
        assert (f2.grad < 0).all(), "descending L_G must raise D's output on fakes"

    def test_no_nan_at_extreme_outputs(self, name, div, g_cost):
        obj = make(name, div, g_cost)
        v = torch.tensor([100.0, -100.0, 0.0, 30.0, -30.0])
        r, f = v.clone().requires_grad_(True), v.flip(0).clone().requires_grad_(True)
        loss = obj.d_loss(real_out=r, fake_out=f) + obj.g_loss(fake_out=f)
        loss.backward()
        assert not torch.isnan(loss) and torch.isfinite(loss)
        assert torch.isfinite(r.grad).all() and torch.isfinite(f.grad).all()


def test_fgan_bound_is_tight_at_the_optimal_discriminator():
    """At v* = f'(p/q) mapped through g_f^-1, F equals D_f(P || Q); check KL and Pearson on two Bernoullis."""
    p, q = torch.tensor([0.8, 0.2], dtype=torch.float64), torch.tensor([0.4, 0.6], dtype=torch.float64)
    ratio = p / q
    from gankit.losses.fgan import FGAN

    cases = {"kl": (1 + ratio.log(), (p * (p / q).log()).sum()),           # f'(u) = 1 + log u, g_f(v) = v
             "pearson": (2 * (ratio - 1), ((p - q) ** 2 / q).sum())}        # f'(u) = 2(u - 1), g_f(v) = v
    for div, (v_star, true) in cases.items():
        obj = FGAN(divergence=div)
        bound = (p * obj.activation(v_star)).sum() - (q * obj.conjugate(v_star)).sum()
        torch.testing.assert_close(bound, true)


# -- penalties and constraints on tiny critics ------------------------------------------------------

class Linear(nn.Module):
    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w, dtype=torch.float64))

    def forward(self, x):
        return x.flatten(1) @ self.w


def test_gradient_penalty_on_a_linear_critic():
    D = Linear([3.0, 4.0])  # grad_x D = w everywhere: GP = (||w|| - 1)^2 = 16
    real, fake = torch.randn(8, 2, dtype=torch.float64), torch.randn(8, 2, dtype=torch.float64)
    gp = gradient_penalty(D, real, fake)
    torch.testing.assert_close(gp.item(), 16.0)
    gp.backward()  # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w|| = [4.8, 6.4]
    torch.testing.assert_close(D.w.grad, torch.tensor([4.8, 6.4], dtype=torch.float64))


def test_gradient_penalty_interpolates_per_sample_over_all_dims():
    class Quadratic(nn.Module):  # D(x) = 1/2 ||x||^2, grad_x D = x
        def forward(self, x):
            return 0.5 * x.flatten(1).pow(2).sum(1)

    real = torch.randn(5, 2, 3, 3, dtype=torch.float64)
    fake = torch.randn(5, 2, 3, 3, dtype=torch.float64)
    torch.manual_seed(7)
    gp = gradient_penalty(Quadratic(), real, fake)
    torch.manual_seed(7)
    eps = torch.rand(5, 1, 1, 1, dtype=torch.float64)
    x_hat = eps * real + (1 - eps) * fake
    torch.testing.assert_close(gp, (x_hat.flatten(1).norm(dim=1) - 1).pow(2).mean())


def test_r1_penalty_by_hand():
    D = Linear([3.0, 4.0])
    torch.testing.assert_close(r1_penalty(D, torch.randn(6, 2, dtype=torch.float64)).item(), 25.0)


def test_weight_clipping_bounds_every_parameter_after_a_step(tmp_path):
    from gankit.api import prepare_training

    tr = prepare_training("gan-digits", ["loss=wasserstein", "penalty.clip=0.01", "optim.d.name=rmsprop",
                                         "optim.d.lr=5e-5", "train.steps=3", "train.progress=false",
                                         "train.tensorboard=false"], out=tmp_path / "run")
    tr.fit()
    for p in tr.game.D.parameters():
        assert p.abs().max().item() <= 0.01
    assert any(p.abs().max().item() == pytest.approx(0.01) for p in tr.game.D.parameters())


@pytest.mark.parametrize("net", ["mlp", "dcgan"])
def test_spectral_norm_keeps_each_weight_at_unit_norm(tmp_path, net):
    from gankit.api import prepare_training

    tr = prepare_training("gan-digits", [f"model.d.name={net}", "model.d.width=8", "model.d.spectral_norm=true",
                                         "loss=hinge", "train.steps=10", "train.progress=false",
                                         "train.tensorboard=false"], out=tmp_path / "run")
    tr.fit()
    wrapped = [m for m in tr.game.D.modules() if hasattr(m, "parametrizations")]
    assert wrapped
    for m in wrapped:
        w = m.weight.detach()  # the normalised weight
        dim = 1 if isinstance(m, nn.ConvTranspose2d) else 0
        sigma = torch.linalg.matrix_norm(w.transpose(0, dim).flatten(1), ord=2).item()
        assert abs(sigma - 1) < 0.05, (m, sigma)


# -- the seed's point: disjoint supports --------------------------------------------------------------

def test_disjoint_supports_js_is_flat_while_wasserstein_still_points_home():
    """P = delta_0 (data), Q = delta_theta (generator). With a (near-)optimal discriminator the JS game
    sits at JS = log 2 whatever theta is and gives G no gradient; a Lipschitz critic's W1 = |theta| falls
    smoothly as theta -> 0 and its gradient pulls the generator toward the data."""
    gan, wgan = build_objective(LossConfig(name="gan", g_cost="minimax")), build_objective(LossConfig(name="wasserstein"))
    for theta in (1.0, 2.0, 4.0):
        real = torch.zeros(1, 1)
        g = torch.tensor([[theta]], requires_grad=True)

        torch.manual_seed(0)
        D = nn.Sequential(nn.Linear(1, 16), nn.Tanh(), nn.Linear(16, 1))
        opt = torch.optim.Adam(D.parameters(), lr=0.05)
        for _ in range(400):
            opt.zero_grad()
            gan.d_loss(real_out=D(real).flatten(), fake_out=D(g.detach()).flatten()).backward()
            opt.step()
        d_loss = gan.d_loss(real_out=D(real).flatten(), fake_out=D(g).flatten())
        js = math.log(2) - d_loss.item() / 2  # -L_D = 2 JS - 2 log 2 at the optimum
        assert js == pytest.approx(math.log(2), abs=0.01)
        (grad_js,) = torch.autograd.grad(gan.g_loss(fake_out=D(g).flatten()), g)
        assert abs(grad_js.item()) < 1e-3

        critic = Linear([0.0])  # 1-Lipschitz by clipping to [-1, 1]: f(x) = w x
        copt = torch.optim.SGD(critic.parameters(), lr=0.1)
        for _ in range(50):
            copt.zero_grad()
            wgan.d_loss(real_out=critic(real.double()), fake_out=critic(g.detach().double())).backward()
            copt.step()
            clip_weights(critic, 1.0)
        w1 = critic(real.double()).mean() - critic(g.double()).mean()
        assert w1.item() == pytest.approx(theta)
        (grad_w,) = torch.autograd.grad(wgan.g_loss(fake_out=critic(g.double())), g)
        assert grad_w.item() == pytest.approx(1.0)  # descending moves theta toward the data at 0


# -- every preset trains --------------------------------------------------------------------------

from gankit.config import preset_names  # noqa: E402


@pytest.mark.parametrize("preset", preset_names())
def test_every_preset_trains_five_steps_at_tiny_width(preset, tmp_path):
    from gankit.api import train
    from gankit.data.sources import FASHION_MNIST_DIR

    cfg = load_config(preset)
    if "fashion" in cfg.data.name and not __import__("os").path.isdir(FASHION_MNIST_DIR):  # also edges2fashion
        pytest.skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
    g = cfg.model.g  # tiny in the family's own terms
    tiny_g = (["model.g.width=4"] if hasattr(g, "width") else ["model.g.channels=4", "model.g.w_dim=8"]
              if hasattr(g, "channels") else ["model.g.hidden=8", "model.g.embedding=8"])
    d = cfg.model.d
    tiny_d = ["model.d.width=4"] if hasattr(d, "width") else ["model.d.embedding=8", "model.d.counts=" + ",".join(
        "4" for _ in d.widths.split(","))]
    # the sequence GANs reach their adversarial stage, and their G phase reads a batch (for pre-training)
    staged = hasattr(cfg.game, "pretrain_steps")
    stages = ["game.pretrain_steps=2", "game.pretrain_d_steps=1"] if staged else []
    if getattr(cfg.game, "rollouts", 0):
        stages.append("game.rollouts=2")
    summary = train(preset, [*tiny_g, *tiny_d, *stages, "train.steps=5", "train.batch_size=16",
                             "train.progress=false", "train.tensorboard=false", "train.sample_every=0"],
                    out=tmp_path / "run")
    assert summary["steps"] == 5 and summary["images_seen"] == 5 * 16 * (cfg.train.d_steps + staged)


# -- training tricks --------------------------------------------------------------------------------

def test_one_sided_label_smoothing_value():
    from gankit.losses.gan import d_cross_entropy

    r, f = torch.tensor([1.5], dtype=torch.float64), torch.tensor([-0.5], dtype=torch.float64)
    want = -(0.9 * math.log(sig(1.5)) + 0.1 * math.log(1 - sig(1.5))) - math.log(1 - sig(-0.5))
    torch.testing.assert_close(d_cross_entropy(real_out=r, fake_out=f, real_target=0.9).item(), want)
    with pytest.raises(Exception, match="tricks.label_smoothing"):
        load_config("gan-digits", ["loss=hinge", "tricks.label_smoothing=0.1"])


def test_diffaugment_ops_are_exact_and_differentiable():
    from gankit.augment import cutout, diff_augment, parse_policy, shift

    x = torch.arange(16.0).view(1, 1, 4, 4)
    moved = shift(x, torch.tensor([0]), torch.tensor([1]), pad=1)  # content down by 1 row, not across
    torch.testing.assert_close(moved[0, 0, 1:], x[0, 0, :3])
    torch.testing.assert_close(moved[0, 0, 0], torch.zeros(4))
    torch.manual_seed(0)
    holes = cutout(torch.ones(64, 1, 8, 8))
    zeros = (holes == 0).flatten(1).sum(1)
    assert zeros.max().item() == 16 and zeros.min().item() >= 4  # a 4x4 square, clipped at the border
    img = torch.rand(8, 3, 8, 8, requires_grad=True)
    out = diff_augment(img, parse_policy("color,translation,cutout"))
    out.sum().backward()
    assert img.grad is not None and img.grad.abs().sum() > 0
    with pytest.raises(Exception, match="tricks.diffaugment"):
        load_config("gan-digits", ["tricks.diffaugment=color,blur"])


def test_instance_noise_anneals_to_zero(tmp_path):
    from gankit.api import prepare_training

    tr = prepare_training("gan-digits", ["tricks.instance_noise=0.5", "tricks.instance_noise_steps=10",
                                         "train.progress=false"], out=tmp_path / "run")
    game = tr.game
    seen = []
    game._wrapped["D"] = lambda x: seen.append(x.std().item()) or x.flatten(1).mean(1)  # noqa: E731
    zeros = torch.zeros(256, 1, 16, 16)
    for it, want in ((0, 0.5), (5, 0.25), (10, 0.0)):
        game._iterations = it
        game._D(zeros)
        assert seen[-1] == pytest.approx(want, rel=0.05, abs=1e-9)


def test_feature_matching_matches_mean_hidden_features(tmp_path):
    from gankit.api import prepare_training

    tr = prepare_training("gan-digits", ["tricks.feature_matching=true", "train.progress=false"], out=tmp_path / "r")
    game = tr.game
    phases = game.phases()
    assert phases[1].data  # the G phase takes a real batch
    real = tr._batch()["x"]
    torch.manual_seed(3)
    game.run_phase(phases[0], {"x": real}, phases[1])
    fake = game._fake.detach()
    d_grads = [p.grad.clone() for p in game.D.parameters()]
    want = (game.D.features(real).mean(0) - game.D.features(fake).mean(0)).pow(2).sum()
    stats = game.run_phase(phases[1], {"x": real}, None)
    torch.testing.assert_close(stats["loss/G"], want.detach())
    for before, p in zip(d_grads, game.D.parameters(), strict=True):  # the G phase adds nothing to D's grads
        torch.testing.assert_close(p.grad, before, rtol=0, atol=0)
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in game.G.parameters() if p.requires_grad)
