"""Image-to-image networks (pix2pix U-Net and PatchGAN, CycleGAN ResNet translator, StarGAN's D): parameter
counts of the reference implementation, receptive fields by gradient probes, skip connections, dropout,
shapes and size checks, gradients. Tiny widths (full-size nets only on the meta device): a few seconds on 2 cores."""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.testing import assert_close

from gankit.nets.translate import (PatchGANDiscriminator, ResNetTranslator, StarGANDiscriminator, UNetGenerator,
                                   auto_layers, min_resolution, receptive_field, stargan_layers, whole_image_layers)

NORM_LAYERS = (nn.BatchNorm2d, nn.InstanceNorm2d)


def _count(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def _convs(net: nn.Module) -> list[nn.Module]:
    return [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]


# --- parameter counts of the reference implementation (pytorch-CycleGAN-and-pix2pix) ----------------

def test_parameter_counts_match_the_reference():
    with torch.device("meta"):  # no memory, no init cost
        unet_256 = UNetGenerator((3, 256, 256), 3, width=64, norm="batch", depth=8)
        unet_auto = UNetGenerator((3, 256, 256), 3, width=64, norm="batch")
        unet_256_in = UNetGenerator((3, 256, 256), 3, width=64, norm="instance")
        resnet_9 = ResNetTranslator((3, 256, 256), 3, width=64, blocks=9, norm="instance")
        basic_d6 = PatchGANDiscriminator(6, width=64, layers=3, norm="batch")
        basic_d3_in = PatchGANDiscriminator(3, width=64, layers=3, norm="instance")
        basic_d3 = PatchGANDiscriminator(3, width=64, layers=3, norm="batch")
    # unet_256 with BatchNorm, printed "54.414 M" by the reference: convs 54,408,192, ConvT out bias 3,
    # BatchNorm 2 x (128+256+512x4 | 512x4+256+128+64) = 5,760.
    assert _count(unet_256) == 54_413_955
    assert unet_auto.depth == 8 and _count(unet_auto) == 54_413_955
    # Instance norm (affine=False): no norm parameters, but every conv has a bias.
    assert _count(unet_256_in) == 54_409_603
    assert _count(resnet_9) == 11_378_179          # CycleGAN's resnet_9blocks: "11.378 M"
    assert _count(basic_d6) == 2_768_705           # pix2pix D on input+output: "2.769 M"
    assert _count(basic_d3_in) == 2_764_737        # CycleGAN's D (instance norm): "2.765 M"
    assert _count(basic_d3) == 2_768_705 - 3 * 64 * 16


def test_bias_and_norm_layout():
    # With BatchNorm only the output layer of G (and D's first and last layers) have biases.
    g = UNetGenerator((3, 64, 64), 3, width=4, norm="batch")
    assert [c.bias is not None for c in _convs(g)] == [False] * 11 + [True]
    assert sum(isinstance(m, nn.BatchNorm2d) for m in g.modules()) == 2 * g.depth - 3  # not first/innermost down
    d = PatchGANDiscriminator(3, width=4, layers=3, norm="batch")
    assert [c.bias is not None for c in _convs(d)] == [True, False, False, False, True]
    assert [c.out_channels for c in _convs(d)] == [4, 8, 16, 32, 1]
    assert [c.stride[0] for c in _convs(d)] == [2, 2, 2, 1, 1]
    d5 = PatchGANDiscriminator(3, width=4, layers=5, norm="none")
    assert [c.out_channels for c in _convs(d5)] == [4, 8, 16, 32, 32, 32, 1]  # capped at 8 x width
    assert all(c.bias is not None for c in _convs(d5))
    assert not any(isinstance(m, NORM_LAYERS) for m in d5.modules())
    # U-Net encoder C4-C8-C16-C32-C32-C32 (width·min(2^i, 8)); decoder inputs concatenate the skips.
    assert [blk[-1 if i == 0 else 1].out_channels for i, blk in enumerate(g.down)] == [4, 8, 16, 32, 32, 32]
    assert [blk[1].in_channels for blk in g.up] == [32, 64, 64, 32, 16, 8]
    assert [blk[1].out_channels for blk in g.up] == [32, 32, 16, 8, 4, 3]
    # Instance norm as the reference: affine=False, no running statistics.
    for net in (UNetGenerator((1, 16, 16), 1, width=2), ResNetTranslator((1, 16, 16), 1, 2),
                PatchGANDiscriminator(1, 2, norm="instance")):
        inorms = [m for m in net.modules() if isinstance(m, nn.InstanceNorm2d)]
        assert inorms and not any(m.affine or m.track_running_stats for m in inorms)


def test_normal_init():
    torch.manual_seed(0)
    d = PatchGANDiscriminator(3, width=16, layers=3, norm="batch")
    big = _convs(d)[3].weight  # 64 -> 128 channels, 4x4: 131,072 weights
    assert_close(big.mean().item(), 0.0, atol=1e-3, rtol=0)
    assert_close(big.std().item(), 0.02, atol=5e-4, rtol=0)
    bn = torch.cat([m.weight for m in d.modules() if isinstance(m, nn.BatchNorm2d)]).detach()
    assert_close(bn.mean().item(), 1.0, atol=0.01, rtol=0)
    assert 0.01 < bn.std().item() < 0.03
    biases = [m.bias for m in d.modules() if getattr(m, "bias", None) is not None]
    assert all(torch.equal(b, torch.zeros_like(b)) for b in biases)


# --- PatchGAN receptive field ------------------------------------------------------------------------

def test_receptive_field_values():
    assert [receptive_field(n) for n in range(6)] == [1, 16, 34, 70, 142, 286]
    assert [min_resolution(n) for n in range(4)] == [1, 6, 12, 24]
    assert [auto_layers(r) for r in (28, 32, 64, 128, 256, 512)] == [1, 1, 1, 2, 3, 4]
    assert auto_layers(4) == 0  # only the PixelGAN fits
    # ImageGAN: the fewest layers seeing the whole image (the paper's 286x286 at 256 px).
    assert [whole_image_layers(r) for r in (1, 16, 17, 32, 70, 71, 256)] == [0, 1, 2, 2, 3, 4, 5]
    with pytest.raises(ValueError, match="fits"):
        whole_image_layers(4)
    with pytest.raises(ValueError):
        receptive_field(-1)


@pytest.mark.parametrize("layers,size", [(0, 8), (1, 32), (2, 64), (3, 96), (4, 192), (5, 352)])
def test_receptive_field_gradient_probe(layers, size):
    """Backprop from the central logit: the input pixels with a nonzero gradient form a solid square
    of side receptive_field(layers), away from the border (so the zero padding did not clip it)."""
    torch.manual_seed(layers)
    d = PatchGANDiscriminator(2, width=2, layers=layers, norm="none").double()
    x = torch.randn(1, 2, size, size, dtype=torch.float64, requires_grad=True)
    out = d(x)
    out[0, 0, out.shape[2] // 2, out.shape[3] // 2].backward()
    seen = x.grad[0].abs().sum(0) != 0                              # (size, size)
    rows, cols = seen.any(1).nonzero().flatten(), seen.any(0).nonzero().flatten()
    r0, r1, c0, c1 = rows.min().item(), rows.max().item(), cols.min().item(), cols.max().item()
    assert (r1 - r0 + 1, c1 - c0 + 1) == (receptive_field(layers),) * 2
    assert seen[r0:r1 + 1, c0:c1 + 1].all()
    if layers:
        assert r0 > 0 and c0 > 0 and r1 < size - 1 and c1 < size - 1


def test_patchgan_output_shapes():
    x = torch.randn(2, 4, 32, 32)
    assert PatchGANDiscriminator(4, width=2, layers=1)(x).shape == (2, 1, 14, 14)
    assert PatchGANDiscriminator(4, width=2, layers=0)(x).shape == (2, 1, 32, 32)
    assert PatchGANDiscriminator(4, width=2, layers=3)(x).shape == (2, 1, 2, 2)
    with torch.device("meta"):
        d = PatchGANDiscriminator(6)
        assert d(torch.empty(1, 6, 256, 256)).shape == (1, 1, 30, 30)  # the paper's 30x30 map of 70x70 patches
    assert PatchGANDiscriminator(1, width=2, layers=2)(torch.randn(1, 1, 12, 12)).shape == (1, 1, 1, 1)
    with pytest.raises(ValueError, match=r"at least 24x24, got 16x16") as e:
        PatchGANDiscriminator(1, width=2, layers=3)(torch.randn(1, 1, 16, 16))
    assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="norm must be one of"):
        PatchGANDiscriminator(1, norm="layer")


# --- StarGAN's two-headed D ----------------------------------------------------------------------------

@pytest.mark.parametrize("res,layers,side", [(128, 6, 2), (32, 4, 2), (28, 3, 3), (16, 3, 2), (7, 1, 3), (4, 1, 2)])
def test_stargan_discriminator_halves_down_to_a_side_of_two_or_three(res, layers, side):
    """The reference D takes 128 px down to 2x2 in 6 stride-2 layers; any other size halves (flooring)
    while the side stays >= 2 (28 -> 14 -> 7 -> 3), and the domain head reads the whole last map: every
    input pixel of an image moves its domain logits, and no other image's."""
    assert stargan_layers(res) == layers
    torch.manual_seed(0)
    d = StarGANDiscriminator(3, 4, res, width=4).double()
    assert sum(isinstance(m, nn.Conv2d) and m.stride == (2, 2) for m in d.modules()) == layers
    x = torch.randn(2, 3, res, res, dtype=torch.float64, requires_grad=True)
    src, cls = d(x)
    assert src.shape == (2, 1, side, side) and cls.shape == (2, 4)
    cls[0, 1].backward()
    assert (x.grad[0].abs().sum(0) != 0).all() and (x.grad[1] == 0).all()
    with pytest.raises(ValueError, match=r"judges 28x28 images, got 32x32"):
        StarGANDiscriminator(3, 4, 28, width=4)(torch.randn(1, 3, 32, 32))
    with pytest.raises(ValueError, match=r"at least 4x4, got 3"):
        stargan_layers(3)


# --- U-Net -------------------------------------------------------------------------------------------

def _tiny_unet(**kw) -> UNetGenerator:
    torch.manual_seed(0)
    kw = {"width": 2, "norm": "none", "dropout": 0.0, **kw}
    return UNetGenerator((1, 16, 16), 1, **kw).double().eval()


def _changes(net: nn.Module, x: torch.Tensor, at: tuple[int, int], probe: tuple[int, int]) -> float:
    """|change of the output at ``probe``| when the input pixel ``at`` is raised by 1."""
    y = x.clone()
    y[0, 0, at[0], at[1]] += 1.0
    with torch.no_grad():
        return (net(y) - net(x))[0, 0, probe[0], probe[1]].abs().item()


def test_unet_skips_and_bottleneck():
    g = _tiny_unet()
    assert g.depth == 4
    x = torch.randn(1, 1, 16, 16, dtype=torch.float64)
    centre, corner = (8, 8), (0, 15)
    assert _changes(g, x, centre, centre) > 0
    assert _changes(g, x, corner, centre) > 0   # through the 1x1 bottleneck every pixel sees every pixel

    # Cut every path but the outermost skip: the block feeding the last concatenation outputs zeros.
    with torch.no_grad():
        g.up[-2][1].weight.zero_()
        g.up[-2][1].bias.zero_()
    with torch.no_grad():
        enc0 = F.conv2d(x, g.down[0][0].weight, g.down[0][0].bias, 2, 1)       # (1, 2, 8, 8)
        skip_only = torch.tanh(F.conv_transpose2d(F.relu(torch.cat([enc0, torch.zeros_like(enc0)], 1)),
                                                  g.up[-1][1].weight, g.up[-1][1].bias, 2, 1))
        assert_close(g(x), skip_only)
    assert _changes(g, x, centre, centre) > 1e-6    # the skip carries the pixel itself
    assert _changes(g, x, corner, centre) == 0.0    # and only its neighbourhood


def test_unet_dropout_placement():
    g = _tiny_unet(dropout=0.3)
    holds = [any(isinstance(m, nn.Dropout) for m in blk) for blk in g.up]
    assert holds == [True, True, True, False]       # the first three decoder blocks, not the output
    assert all(m.p == 0.3 for m in g.modules() if isinstance(m, nn.Dropout))
    g2 = UNetGenerator((1, 8, 8), 1, width=2, depth=2)
    assert [any(isinstance(m, nn.Dropout) for m in blk) for blk in g2.up] == [True, False]
    with torch.device("meta"):
        g8 = UNetGenerator((3, 256, 256), 3)        # the paper: CD512-CD1024-CD1024-C1024-...
    assert [any(isinstance(m, nn.Dropout) for m in blk) for blk in g8.up] == [True] * 3 + [False] * 5
    assert not any(isinstance(m, nn.Dropout) for m in _tiny_unet().modules())


def test_unet_dropout_acts_only_in_train_mode():
    torch.manual_seed(0)
    x = torch.randn(2, 1, 16, 16)
    g = UNetGenerator((1, 16, 16), 1, width=2, norm="instance", dropout=0.5).train()
    with torch.no_grad():
        a, b = g(x), g(x)
        assert (a - b).abs().max() > 1e-4
        g.eval()
        assert_close(g(x), g(x), rtol=0, atol=0)
    g0 = UNetGenerator((1, 16, 16), 1, width=2, norm="instance", dropout=0.0).train()
    with torch.no_grad():
        assert_close(g0(x), g0(x), rtol=0, atol=0)


@pytest.mark.parametrize("out_channels", [1, 3])
def test_unet_shapes(out_channels):
    x = torch.randn(2, 1, 32, 32)
    g = UNetGenerator((1, 32, 32), out_channels, width=2)
    assert g.depth == 5
    y = g(x)
    assert y.shape == (2, out_channels, 32, 32) and y.abs().max() <= 1
    assert UNetGenerator((1, 32, 32), out_channels, width=2, depth=3)(x).shape == (2, out_channels, 32, 32)
    g_rect = UNetGenerator((1, 16, 32), out_channels, width=2)  # depth log2(16): a 1x2 bottleneck
    assert g_rect.depth == 4 and g_rect(torch.randn(2, 1, 16, 32)).shape == (2, out_channels, 16, 32)
    assert UNetGenerator((1, 48, 48), out_channels, width=2, depth=4)(torch.randn(2, 1, 48, 48)).shape \
        == (2, out_channels, 48, 48)


@pytest.mark.parametrize("shape,depth,message", [
    ((1, 30, 30), 0, r"depth=0 .* powers of two \(4, 8, 16, \.\.\., 256, \.\.\.\), got 30x30"),
    ((1, 48, 48), 0, r"powers of two .* got 48x48"),
    ((1, 2, 2), 0, r"powers of two .* got 2x2"),
    ((1, 48, 40), 4, r"depth=4 needs H and W multiples of 2\*\*4 = 16 \(16, 32, 48, \.\.\.\), got 48x40"),
    ((1, 16, 16), 5, r"multiples of 2\*\*5 = 32 .* got 16x16"),
    ((1, 16, 16), 1, r"depth must be 0 \(automatic\) or >= 2"),
])
def test_unet_bad_sizes(shape, depth, message):
    with pytest.raises(ValueError, match=message) as e:
        UNetGenerator(shape, 1, width=2, depth=depth)
    assert "\n" not in str(e.value)


def test_unet_forward_checks_the_size():
    g = UNetGenerator((1, 16, 16), 1, width=2)  # built with 4 levels; any multiple of 16 runs
    assert g(torch.randn(1, 1, 32, 48)).shape == (1, 1, 32, 48)
    with pytest.raises(ValueError, match=r"depth=4 needs H and W multiples of 2\*\*4 = 16 .* got 24x24"):
        g(torch.randn(1, 1, 24, 24))


# --- ResNet translator -------------------------------------------------------------------------------

def test_resnet_layout_reflection_padding():
    blocks = 3
    g = ResNetTranslator((1, 16, 16), 3, width=4, blocks=blocks)
    pads = [m for m in g.modules() if isinstance(m, nn.ReflectionPad2d)]
    assert [p.padding for p in pads] == [(3, 3, 3, 3)] + [(1, 1, 1, 1)] * (2 * blocks) + [(3, 3, 3, 3)]
    convs = [m for m in g.modules() if isinstance(m, nn.Conv2d)]
    # c7s1-4, d8, d16, 3 x R16 (two convs each), c7s1-3; only the stride-2 ones zero pad
    assert [(c.kernel_size[0], c.stride[0], c.padding[0], c.out_channels) for c in convs] == \
        [(7, 1, 0, 4), (3, 2, 1, 8), (3, 2, 1, 16)] + [(3, 1, 0, 16)] * (2 * blocks) + [(7, 1, 0, 3)]
    ups = [m for m in g.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [(u.out_channels, u.stride[0], u.output_padding[0]) for u in ups] == [(8, 2, 1), (4, 2, 1)]
    assert [c.out_channels for c in ResNetTranslator((1, 32, 32), 1, 2, 1, downsamplings=4).head
            if isinstance(c, nn.Conv2d)] == [2, 4, 8, 16, 16]  # capped at 8 x width


@pytest.mark.parametrize("out_channels", [1, 3])
def test_resnet_shapes_and_range(out_channels):
    torch.manual_seed(0)
    g = ResNetTranslator((1, 32, 32), out_channels, width=4, blocks=2)
    x = torch.randn(2, 1, 32, 32)
    assert g(x).shape == (2, out_channels, 32, 32)
    with torch.no_grad():
        g.tail[-2].weight.mul_(1000)        # drive tanh into saturation
        y = g(x)
    assert y.abs().max() <= 1 and y.abs().max() > 0.99
    assert ResNetTranslator((1, 24, 40), out_channels, 2, 1)(torch.randn(1, 1, 24, 40)).shape \
        == (1, out_channels, 24, 40)


def test_resnet_blocks_are_residual():
    """With each block's last conv zeroed the blocks are identities: the net equals one without blocks."""
    torch.manual_seed(0)
    g = ResNetTranslator((1, 16, 16), 2, width=4, blocks=2, norm="none").double()
    g0 = ResNetTranslator((1, 16, 16), 2, width=4, blocks=0, norm="none").double()
    g0.head.load_state_dict(g.head.state_dict())
    g0.tail.load_state_dict(g.tail.state_dict())
    x = torch.randn(2, 1, 16, 16, dtype=torch.float64)
    with torch.no_grad():
        assert (g(x) - g0(x)).abs().max() > 0
        for blk in g.blocks:
            blk.body[-1].weight.zero_()
            blk.body[-1].bias.zero_()
        assert_close(g(x), g0(x), rtol=0, atol=0)


def test_resnet_dropout():
    torch.manual_seed(0)
    g = ResNetTranslator((1, 16, 16), 1, width=4, blocks=2, dropout=0.5)
    assert sum(isinstance(m, nn.Dropout) for m in g.modules()) == 2
    x = torch.randn(2, 1, 16, 16)
    with torch.no_grad():
        assert (g(x) - g(x)).abs().max() > 1e-4
        g.eval()
        assert_close(g(x), g(x), rtol=0, atol=0)


@pytest.mark.parametrize("shape,kw,message", [
    ((1, 30, 30), {}, r"downsamplings=2 needs H and W multiples of 2\*\*2 = 4, at least 8 \(8, 12, 16, \.\.\.\), "
                      r"got 30x30"),
    ((1, 4, 4), {}, r"at least 8 .* got 4x4"),
    ((1, 24, 20), {"downsamplings": 3}, r"multiples of 2\*\*3 = 8, at least 16 .* got 24x20"),
])
def test_resnet_bad_sizes(shape, kw, message):
    with pytest.raises(ValueError, match=message) as e:
        ResNetTranslator(shape, 1, width=2, **kw)
    assert "\n" not in str(e.value)


# --- gradients ---------------------------------------------------------------------------------------

def _before_instance_norm(net: nn.Module) -> set[str]:
    """Biases of convs followed by InstanceNorm: the norm subtracts their effect, so no gradient."""
    names = set()
    for mod_name, mod in net.named_modules():
        if isinstance(mod, nn.Sequential):
            kids = list(mod.named_children())
            for (n1, m1), (_, m2) in zip(kids, kids[1:]):
                if isinstance(m2, nn.InstanceNorm2d) and getattr(m1, "bias", None) is not None:
                    names.add(f"{mod_name}.{n1}.bias" if mod_name else f"{n1}.bias")
    return names


NORMS = ("batch", "instance", "none")
GRAD_CASES = ([("unet", n) for n in NORMS] + [("resnet", n) for n in NORMS]
              + [(f"patch{k}", n) for k in range(4) for n in NORMS])


@pytest.mark.parametrize("net,norm", GRAD_CASES, ids=[f"{a}-{b}" for a, b in GRAD_CASES])
def test_finite_gradients_for_every_parameter(net, norm):
    torch.manual_seed(0)
    if net == "unet":
        m = UNetGenerator((1, 32, 32), 3, width=2, norm=norm)
    elif net == "resnet":
        m = ResNetTranslator((1, 32, 32), 3, width=2, blocks=2, norm=norm, dropout=0.2)
    else:
        m = PatchGANDiscriminator(4, width=2, layers=int(net[-1]), norm=norm)
    x = torch.randn(4, 4 if net.startswith("patch") else 1, 32, 32)
    m(x).square().mean().backward()
    silent = _before_instance_norm(m)
    assert bool(silent) == (norm == "instance")
    for name, p in m.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        if name in silent:
            assert p.grad.abs().max() < 1e-6, name
        else:
            assert p.grad.abs().max() > 0, name
