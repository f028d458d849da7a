"""Networks: the seed's MLP layout, DCGAN's architecture rules, and forward/backward at every
supported resolution and channel count (tiny widths, so the whole file runs in seconds)."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.testing import assert_close

from gankit.config import ModelConfig, NetConfig
from gankit.errors import ConfigError
from gankit.nets import (DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator, build_discriminator,
                         build_generator)

FAMILIES = {"mlp": (MLPGenerator, MLPDiscriminator), "dcgan": (DCGANGenerator, DCGANDiscriminator)}
LATENT = 8
WIDTH = 4
B = 4


def _feeds_batchnorm(net: nn.Module) -> set[str]:
    """Names of the biases of layers whose output goes straight into a BatchNorm."""
    names = set()
    for mod_name, mod in net.named_modules():
        if isinstance(mod, nn.Sequential):
            kids = list(mod.named_children())
            for (n1, m1), (_, m2) in zip(kids, kids[1:]):
                if isinstance(m2, (nn.BatchNorm1d, nn.BatchNorm2d)) and getattr(m1, "bias", None) is not None:
                    names.add(f"{mod_name}.{n1}.bias" if mod_name else f"{n1}.bias")
    return names


def _check_grads(net: nn.Module, train_mode: bool) -> None:
    cancelled = _feeds_batchnorm(net) if train_mode else set()
    grads = {n: p.grad for n, p in net.named_parameters()}
    assert grads, "network has no parameters"
    biggest = max(g.norm().item() for g in grads.values() if g is not None)
    for name, g in grads.items():
        assert g is not None, f"{name} got no gradient"
        assert torch.isfinite(g).all(), f"{name} has a non-finite gradient"
        if name in cancelled:
            # Batch normalisation subtracts the batch mean, so the bias before it gets no gradient
            # in training mode (up to rounding); it is the seed's layout, kept for parity.
            assert g.norm().item() <= 1e-4 * biggest, name
        else:
            assert g.norm().item() > 0, f"{name} has a zero gradient"


CASES = ([(f, r, c, True) for f in sorted(FAMILIES) for r in (16, 28, 32, 64) for c in (1, 3)]
         # Eval mode (running statistics): every bias, even one before a BatchNorm, gets a gradient.
         + [(f, 16, c, False) for f in sorted(FAMILIES) for c in (1, 3)])


@pytest.mark.parametrize("family,resolution,channels,train_mode", CASES,
                         ids=[f"{f}-{r}px-{c}ch-{'train' if t else 'eval'}" for f, r, c, t in CASES])
def test_forward_backward(family, resolution, channels, train_mode):
    torch.manual_seed(0)
    G_cls, D_cls = FAMILIES[family]
    shape = (channels, resolution, resolution)
    G, D = G_cls(latent_dim=LATENT, shape=shape, width=WIDTH), D_cls(shape=shape, width=WIDTH)
    G.train(train_mode)
    D.train(train_mode)

    z = torch.randn(B, LATENT)
    x = G(z)
    assert x.shape == (B, channels, resolution, resolution)
    assert x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1
    assert x.std() > 0  # not a constant image
    assert not torch.equal(x[0], x[1])  # depends on z

    out = D(x)
    assert out.shape == (B,)
    assert torch.isfinite(out).all()

    # A scalar with random weights, so no symmetry (e.g. a plain sum after BatchNorm) cancels gradients.
    w = torch.randn(B)
    (out * w).sum().backward()
    _check_grads(G, train_mode)
    _check_grads(D, train_mode)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_discriminator_scores_each_image_independently_in_eval_mode(family):
    torch.manual_seed(1)
    D = FAMILIES[family][1](shape=(1, 16, 16), width=WIDTH).eval()
    x = torch.rand(5, 1, 16, 16) * 2 - 1
    whole = D(x)
    one_by_one = torch.cat([D(x[i:i + 1]) for i in range(5)])
    assert_close(whole, one_by_one, rtol=1e-5, atol=1e-6)
    assert whole.unique().numel() == 5


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_labels_are_refused(family):
    G_cls, D_cls = FAMILIES[family]
    G, D = G_cls(latent_dim=LATENT, shape=(1, 16, 16), width=WIDTH), D_cls(shape=(1, 16, 16), width=WIDTH)
    y = torch.zeros(B, dtype=torch.long)
    with pytest.raises(ValueError, match="unconditional"):
        G(torch.randn(B, LATENT), y)
    with pytest.raises(ValueError, match="unconditional"):
        D(torch.randn(B, 1, 16, 16), y)


# ----------------------------------------------------------------------------------------------
# MLP: the seed's exact layout
# ----------------------------------------------------------------------------------------------

def _linears(net: nn.Module) -> list[tuple[int, int]]:
    return [(m.in_features, m.out_features) for m in net.modules() if isinstance(m, nn.Linear)]


def test_mlp_generator_seed_layout():
    G = MLPGenerator(latent_dim=100, shape=(1, 28, 28))  # default width 128
    assert _linears(G) == [(100, 128), (128, 256), (256, 512), (512, 1024), (1024, 784)]
    assert [m.num_features for m in G.modules() if isinstance(m, nn.BatchNorm1d)] == [256, 512, 1024]
    bns = [m for m in G.modules() if isinstance(m, nn.BatchNorm1d)]
    assert all(m.eps == 1e-5 for m in bns)  # BatchNorm's default eps, not PyTorch-GAN's 0.8
    slopes = [m.negative_slope for m in G.modules() if isinstance(m, nn.LeakyReLU)]
    assert slopes == [0.2] * 4
    assert isinstance(list(G.modules())[-1], nn.Tanh)
    # Order: Linear, [BN], LeakyReLU for each hidden layer; the 128-wide first layer has no BN.
    kinds = [type(m).__name__ for m in G.net]
    assert kinds == ["Linear", "LeakyReLU",
                     "Linear", "BatchNorm1d", "LeakyReLU",
                     "Linear", "BatchNorm1d", "LeakyReLU",
                     "Linear", "BatchNorm1d", "LeakyReLU",
                     "Linear", "Tanh"]
    assert sum(p.numel() for p in G.parameters()) == 1_510_032


def test_mlp_discriminator_seed_layout():
    D = MLPDiscriminator(shape=(1, 28, 28))
    assert _linears(D) == [(784, 512), (512, 256), (256, 1)]
    assert not any(isinstance(m, (nn.BatchNorm1d, nn.Sigmoid)) for m in D.modules())
    assert [m.negative_slope for m in D.modules() if isinstance(m, nn.LeakyReLU)] == [0.2, 0.2]
    assert sum(p.numel() for p in D.parameters()) == 784 * 512 + 512 + 512 * 256 + 256 + 256 + 1


def test_mlp_width_scales_layers_and_handles_non_square_rgb():
    G = MLPGenerator(latent_dim=10, shape=(3, 6, 5), width=8)
    assert _linears(G) == [(10, 8), (8, 16), (16, 32), (32, 64), (64, 90)]
    D = MLPDiscriminator(shape=(3, 6, 5), width=8)
    assert _linears(D) == [(90, 32), (32, 16), (16, 1)]
    x = G(torch.randn(3, 10))
    assert x.shape == (3, 3, 6, 5)
    assert D(x).shape == (3,)


def test_mlp_discriminator_returns_logits_not_probabilities():
    torch.manual_seed(0)
    D = MLPDiscriminator(shape=(1, 4, 4), width=2)
    with torch.no_grad():
        for m in D.modules():
            if isinstance(m, nn.Linear):
                m.weight.fill_(1.0)
                m.bias.zero_()
    # All-ones weights, zero bias: each layer sums its input (LeakyReLU keeps positives).
    x = torch.full((2, 1, 4, 4), 0.5)
    x[1] = -0.5
    # 16 pixels * 0.5 = 8 per unit of the 8-wide layer -> 64 per unit of the 4-wide layer -> 256.
    # Negatives: -8 -> LeakyReLU -1.6; 8 * -1.6 = -12.8 -> -2.56; 4 * -2.56 = -10.24.
    assert_close(D(x), torch.tensor([256.0, -10.24]))


# ----------------------------------------------------------------------------------------------
# DCGAN: Radford et al.'s rules
# ----------------------------------------------------------------------------------------------

POOLING = (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.LPPool2d,
           nn.FractionalMaxPool2d)


@pytest.mark.parametrize("resolution", [16, 28, 32, 64])
def test_dcgan_architecture_rules(resolution):
    shape = (3, resolution, resolution)
    G, D = DCGANGenerator(LATENT, shape, width=WIDTH), DCGANDiscriminator(shape, width=WIDTH)
    for net in (G, D):
        assert not any(isinstance(m, POOLING) for m in net.modules())
        assert not any(isinstance(m, (nn.Linear, nn.Upsample)) for m in net.modules())

    g = list(G.net)
    convs = [i for i, m in enumerate(g) if isinstance(m, nn.ConvTranspose2d)]
    # Every transposed conv but the last is followed by BatchNorm and ReLU; the last by tanh alone.
    for i in convs[:-1]:
        assert isinstance(g[i + 1], nn.BatchNorm2d) and type(g[i + 2]) is nn.ReLU
        assert g[i].bias is None  # redundant before BatchNorm
    assert convs[-1] == len(g) - 2 and isinstance(g[-1], nn.Tanh)
    assert g[convs[-1]].out_channels == 3
    assert not any(isinstance(m, nn.LeakyReLU) for m in g)
    # Stride-2 4x4 upsampling after the projection.
    assert all(g[i].stride == (2, 2) and g[i].kernel_size == (4, 4) for i in convs[1:])

    d = list(D.net)
    convs = [i for i, m in enumerate(d) if isinstance(m, nn.Conv2d)]
    assert convs[0] == 0 and isinstance(d[1], nn.LeakyReLU)  # no BatchNorm on the input layer
    assert d[0].in_channels == 3 and d[0].out_channels == WIDTH
    for i in convs[1:-1]:
        assert isinstance(d[i + 1], nn.BatchNorm2d) and isinstance(d[i + 2], nn.LeakyReLU)
    assert convs[-1] == len(d) - 1 and d[-1].out_channels == 1  # a logit, no sigmoid
    slopes = [m.negative_slope for m in d if isinstance(m, nn.LeakyReLU)]
    assert slopes and all(s == 0.2 for s in slopes)
    assert not any(type(m) is nn.ReLU for m in d)
    # G and D mirror each other: same number of resolution changes.
    assert len(convs) == len([m for m in g if isinstance(m, nn.ConvTranspose2d)])


def test_dcgan_64px_generator_channels_halve():
    G = DCGANGenerator(100, (3, 64, 64), width=64)
    outs = [m.out_channels for m in G.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert outs == [512, 256, 128, 64, 3]
    first = G.net[0]
    assert first.in_channels == 100 and first.kernel_size == (4, 4)
    D = DCGANDiscriminator((3, 64, 64), width=64)
    assert [m.out_channels for m in D.modules() if isinstance(m, nn.Conv2d)] == [64, 128, 256, 512, 1]


def test_dcgan_28px_projects_to_7x7():
    G = DCGANGenerator(LATENT, (1, 28, 28), width=WIDTH)
    assert G.net[0].kernel_size == (7, 7)
    assert [m.out_channels for m in G.modules() if isinstance(m, nn.ConvTranspose2d)] == [8, 4, 1]
    with torch.no_grad():
        assert G.net[:3](torch.randn(2, LATENT, 1, 1)).shape == (2, 8, 7, 7)
    D = DCGANDiscriminator((1, 28, 28), width=WIDTH)
    assert list(D.net)[-1].kernel_size == (7, 7)


@pytest.mark.parametrize("resolution", [30, 12, 4, 7])
def test_dcgan_rejects_unsupported_resolution(resolution):
    with pytest.raises(ValueError, match=str(resolution)):
        DCGANGenerator(LATENT, (1, resolution, resolution), width=WIDTH)
    with pytest.raises(ValueError, match=str(resolution)):
        DCGANDiscriminator((1, resolution, resolution), width=WIDTH)


def test_dcgan_rejects_non_square():
    with pytest.raises(ValueError, match="square"):
        DCGANGenerator(LATENT, (1, 32, 16), width=WIDTH)
    with pytest.raises(ValueError, match="square"):
        DCGANDiscriminator((1, 32, 16), width=WIDTH)


def test_dcgan_init_is_normal_0_02():
    torch.manual_seed(0)
    G = DCGANGenerator(100, (3, 64, 64), width=64)
    D = DCGANDiscriminator((3, 64, 64), width=64)
    big_g = G.net[0].weight  # 100 x 512 x 4 x 4 = 819,200 weights
    big_d = [m for m in D.modules() if isinstance(m, nn.Conv2d)][-2].weight  # 512 x 256 x 4 x 4
    for w in (big_g, big_d):
        assert w.numel() > 500_000
        assert 0.015 < w.std().item() < 0.025
        assert abs(w.mean().item()) < 1e-3
    for net in (G, D):
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                assert 0.01 < m.weight.std().item() < 0.03 or m.weight.numel() < 200
                if m.bias is not None:
                    assert torch.count_nonzero(m.bias) == 0
            elif isinstance(m, nn.BatchNorm2d):
                assert abs(m.weight.mean().item() - 1.0) < 0.02
                assert 0.005 < m.weight.std().item() < 0.05
                assert torch.count_nonzero(m.bias) == 0
    # Default PyTorch init (kaiming-uniform) would give std ~ 1/sqrt(3 fan_in); make sure it was replaced.
    fan_in = 512 * 4 * 4
    assert abs(big_d.std().item() - 1 / math.sqrt(3 * fan_in)) > 0.005


# ----------------------------------------------------------------------------------------------
# Building from config
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("g_name,d_name", [("mlp", "mlp"), ("dcgan", "dcgan"), ("mlp", "dcgan")])
def test_build_from_model_config(g_name, d_name):
    model = ModelConfig(latent_dim=6, g=NetConfig(name=g_name, width=4), d=NetConfig(name=d_name, width=2))
    shape = (1, 16, 16)
    G, D = build_generator(model, shape), build_discriminator(model, shape)
    assert isinstance(G, FAMILIES[g_name][0]) and isinstance(D, FAMILIES[d_name][1])
    assert G.latent_dim == 6 and G.shape == shape and D.shape == shape
    if g_name == "mlp":
        assert _linears(G)[0] == (6, 4)
    else:
        assert G.net[0].out_channels == 4 * 2  # 16 px: 2 stages, widest = width * 2
    first_d = next(m for m in D.modules() if isinstance(m, (nn.Linear, nn.Conv2d)))
    assert (first_d.out_features if d_name == "mlp" else first_d.out_channels) == (4 * 2 if d_name == "mlp" else 2)
    out = D(G(torch.randn(3, 6)))
    assert out.shape == (3,)


def test_build_unknown_network_is_a_config_error():
    with pytest.raises(ConfigError, match=r"model\.g\.name") as e:
        build_generator(ModelConfig(g=NetConfig(name="stylegan")), (1, 28, 28))
    assert "'stylegan'" in str(e.value) and "dcgan" in str(e.value) and "mlp" in str(e.value)
    with pytest.raises(ConfigError, match=r"model\.d\.name"):
        build_discriminator(ModelConfig(d=NetConfig(name="mpl")), (1, 28, 28))
    with pytest.raises(ConfigError, match="did you mean 'mlp'"):
        build_discriminator(ModelConfig(d=NetConfig(name="mpl")), (1, 28, 28))


# -- ResNet (SNGAN / WGAN-GP) ---------------------------------------------------------------------

@pytest.mark.parametrize("resolution", [28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_resnet_forward_backward_at_tiny_width(resolution, channels):
    from gankit.nets import ResNetDiscriminator, ResNetGenerator, spectral_normalize

    torch.manual_seed(0)
    G = ResNetGenerator(16, (channels, resolution, resolution), width=8)
    D = spectral_normalize(ResNetDiscriminator((channels, resolution, resolution), width=8))
    x = G(torch.randn(3, 16))
    assert x.shape == (3, channels, resolution, resolution) and x.abs().max() <= 1
    out = D(x)
    assert out.shape == (3,)
    out.square().sum().backward()
    for name, p in [*G.named_parameters(), *D.named_parameters()]:
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.norm() > 0, name


def test_resnet_matches_sngan_cifar_sizes():
    """SNGAN's CIFAR-10 ResNets (Miyato et al. 2018, Table 4): G 256 channels, D 128: ~4.3 M and ~1.0 M weights."""
    from gankit.nets import ResNetDiscriminator, ResNetGenerator

    g = sum(p.numel() for p in ResNetGenerator(128, (3, 32, 32), width=256).parameters())
    d = sum(p.numel() for p in ResNetDiscriminator((3, 32, 32), width=128).parameters())
    assert g == 4_276_739 and d == 1_053_825
    with pytest.raises(ValueError, match="norm=none"):
        ResNetDiscriminator((1, 28, 28), width=8, norm="batch")


def test_minibatch_std_values_by_hand():
    from gankit.nets._util import MinibatchStd

    x = torch.tensor([[0.0, 2.0], [2.0, 2.0], [1.0, 5.0], [1.0, 1.0]])  # groups of 2 (not 4: shape check below)
    out = MinibatchStd(group=2)(x)
    # group g takes samples g, g+2 (view (G, B/G, F)): stds per feature (0.5, 1.5) and (0.5, 0.5)
    assert_close(out[:, 2], torch.tensor([1.0, 0.5, 1.0, 0.5]), atol=1e-6, rtol=0)
    assert_close(out[:, :2], x)
    img = torch.randn(6, 3, 4, 4)  # 6 does not divide by 4: one group of the whole batch
    out = MinibatchStd()(img)
    assert out.shape == (6, 4, 4, 4)
    assert_close(out[:, 3], img.std(0, unbiased=False).mean().expand(6, 4, 4), atol=1e-5, rtol=0)
    identical = MinibatchStd()(torch.ones(8, 2, 3, 3))  # a collapsed batch has no spread
    assert identical[:, 2].abs().max() < 1e-3


# -- the contract every registered family runs ------------------------------------------------------

def _family_shape(name: str) -> tuple[int, ...]:
    return (2,) if name == "toy" else (1, 16, 16)


@pytest.mark.parametrize("name", __import__("gankit.nets", fromlist=["GENERATORS"]).GENERATORS.names())
def test_every_registered_generator_family(name):
    """G(z) has the data's shape, images stay in [-1, 1] (tanh), every weight gets a finite gradient."""
    from gankit.nets import GENERATORS

    from gankit.config import NET_SETTINGS, ModelConfig
    from gankit.nets import build_generator

    torch.manual_seed(0)
    shape = _family_shape(name)
    if name in NET_SETTINGS:  # a family with its own settings: built from them, small
        small = {"width": WIDTH, "norm": "none", "channels": "8,8,4", "w_dim": 8}
        settings = NET_SETTINGS[name](name=name)
        for k, v in small.items():
            if hasattr(settings, k):
                setattr(settings, k, v)
        G = build_generator(ModelConfig(latent_dim=LATENT, g=settings), shape)
    else:
        G = GENERATORS.get(name)(latent_dim=LATENT, shape=shape, width=WIDTH, norm="none")
    assert isinstance(G, GENERATORS.get(name))
    out = G(torch.randn(B, LATENT))
    assert out.shape == (B, *shape)
    if len(shape) == 3 and name not in ("began", "style"):  # linear outputs, as the papers'; their games clip
        assert out.abs().max() <= 1
    out.square().sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in G.parameters())


@pytest.mark.parametrize("name", __import__("gankit.nets", fromlist=["DISCRIMINATORS"]).DISCRIMINATORS.names())
def test_every_registered_discriminator_family(name):
    """D(x) -> (B,) logits, one per sample in eval mode, and forward == head(features) (what InfoGAN's
    Q head shares); every weight gets a finite gradient."""
    from gankit.nets import DISCRIMINATORS

    torch.manual_seed(0)
    shape = _family_shape(name)
    D = DISCRIMINATORS.get(name)(shape=shape, width=WIDTH, norm="none")
    x = torch.randn(B, *shape)
    out = D(x)
    assert out.shape == (B,)
    out.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in D.parameters())
    D.eval()
    assert_close(D.head(D.features(x)), D(x))
    assert_close(D(x[:1]), D(x)[:1], rtol=1e-5, atol=1e-6)


def _sequence_settings(name: str, registry: str):
    from gankit.config import NET_SETTINGS

    settings = NET_SETTINGS[name](name=name)
    small = {"embedding": 8, "hidden": 16, "widths": "1,2,3", "counts": "4,4,4"}
    for k, v in small.items():
        if hasattr(settings, k):
            setattr(settings, k, v)
    return settings


@pytest.mark.parametrize("name", __import__("gankit.nets", fromlist=["SEQUENCE_GENERATORS"]).SEQUENCE_GENERATORS.names())
def test_every_registered_sequence_generator_family(name):
    """Teacher-forced logits (B, L, V) that never give padding mass; sampling is a function of the
    uniforms (same u, same ids; temperature 0 = greedy), never draws padding, ends every sequence and pads
    after the end; the free-running relaxations' soft tokens are distributions that carry gradient to G."""
    from gankit.nets import build_sequence_generator

    torch.manual_seed(0)
    V, L = 9, 6
    G = build_sequence_generator(_sequence_settings(name, "g"), V, L, pad=0, end=1)
    tokens = torch.randint(2, V, (B, L))
    logits = G(tokens)
    assert logits.shape == (B, L, V) and (F.softmax(logits, -1)[..., 0] == 0).all()
    u = torch.rand(B, L)
    a, b = G.sample(u, 1.0), G.sample(u.clone(), 1.0)
    assert torch.equal(a, b) and (a[:, 0] != 0).all()
    for row in a.tolist():
        k = row.index(1)  # every sequence has an end ...
        assert all(i >= 2 for i in row[:k]) and all(i == 0 for i in row[k + 1:])  # ... symbols before, padding after
    assert torch.equal(G.sample(u, 0.0), G.sample(torch.rand(B, L), 0.0))  # greedy ignores the uniforms
    for mode in ("gumbel", "softmax"):
        ids, soft = G.relaxed(B, mode, 0.5)
        assert soft.shape == (B, L, V) and torch.allclose(soft.sum(-1), torch.ones(B, L), atol=1e-5)
        G.zero_grad()
        (soft * torch.randn(V)).sum().backward()
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in G.parameters())


@pytest.mark.parametrize("name", __import__("gankit.nets", fromlist=["SEQUENCE_DISCRIMINATORS"]).SEQUENCE_DISCRIMINATORS.names())
def test_every_registered_sequence_discriminator_family(name):
    """D(ids) -> (B,) logits, the same as D(one-hot ids) (relaxed games feed distributions); one logit
    per sequence in eval mode; every weight gets a finite gradient; a gradient w.r.t. soft inputs exists
    (what the gradient penalty and the relaxed G need)."""
    from gankit.nets import build_sequence_discriminator

    torch.manual_seed(0)
    V, L = 9, 6
    D = build_sequence_discriminator(_sequence_settings(name, "d"), V, L)
    ids = torch.randint(0, V, (B, L))
    out = D(ids)
    assert out.shape == (B,)
    out.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in D.parameters())
    D.eval()
    soft = F.one_hot(ids, V).float().requires_grad_(True)
    assert_close(D(soft), D(ids), rtol=1e-5, atol=1e-6)
    assert_close(D(ids[:1]), D(ids)[:1], rtol=1e-5, atol=1e-6)
    (grad,) = torch.autograd.grad(D(soft).sum(), soft)
    assert grad.abs().sum() > 0
