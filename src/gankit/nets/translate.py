"""Image-to-image networks: pix2pix's U-Net and PatchGAN (Isola, Zhu, Zhou & Efros 2017) and the
ResNet translator of Johnson, Alahi & Fei-Fei 2016 as used by CycleGAN (Zhu, Park, Isola & Efros 2017).

``UNetGenerator``: x (B, C, H, W) -> (B, C', H, W) in [-1, 1]. Encoder of ``depth`` stride-2 4x4
convolutions with width·min(2^i, 8) channels (C64-C128-C256-C512-C512-... at width 64), LeakyReLU(0.2)
and norm, except no norm on the first and the innermost layer. Decoder of stride-2 4x4 transposed
convolutions, each ReLU -> conv -> norm, whose output is concatenated with the mirrored encoder features;
then ReLU, a transposed convolution to C' channels and tanh. ``depth=0`` goes down to 1 pixel (log2 H
levels; H, W powers of two), else H, W must divide by 2^depth (depth >= 2). Dropout(``dropout``) follows
the first min(3, depth - 1) decoder blocks, as the paper's CD512-CD1024-CD1024 at 256 px (the reference
code instead spares the innermost block and drops the next three; the parameters are the same).
``skips=False`` drops the concatenations: the plain encoder-decoder pix2pix compares with, and DiscoGAN's
generator (Kim et al. 2017: 4x4 stride-2 convolutions down, LeakyReLU and BatchNorm; transposed ones up).

``ResNetTranslator``: c7s1-w, d2w, d4w (stride-2 3x3, zero padding), ``blocks`` residual blocks
x + F(x) of two reflection-padded 3x3 convolutions (norm, ReLU, [dropout] between them, norm after the
second, no ReLU after the sum), u2w, uw (stride-2 3x3 transposed, output_padding 1), c7s1-C' and tanh;
the 7x7 convolutions are reflection padded (the first zero padded with ``pad="zeros"``, as StarGAN's: with
reflection, constant input channels such as a tiled domain code stay constant, and the norm after the
convolution removes them); c7s1-w, d and u layers are followed by norm and ReLU. Channels
width·min(2^i, 8) over ``downsamplings`` levels (2 in the papers); H, W must divide by 2^downsamplings.

``PatchGANDiscriminator``: one logit per overlapping patch, (B, 1, H/2^n - 2, W/2^n - 2) for n =
``layers`` >= 1 (30x30 at 256 px, n = 3). n stride-2 4x4 convolutions (width·min(2^i, 8) channels, no
norm on the first), a stride-1 4x4 one with width·min(2^n, 8) channels, and a stride-1 4x4 one to 1
channel, all with padding 1, LeakyReLU(0.2) between. Receptive field 9·2^n - 2 pixels (16, 34, 70, 142,
286; the paper's 70x70 PatchGAN is n = 3, its 286x286 "ImageGAN" n = 5). ``layers=0`` is the PixelGAN:
1x1 convolutions width -> 2·width (norm) -> 1.

``StarGANDiscriminator`` (Choi et al. 2018): ``layers`` stride-2 4x4 convolutions (width·min(2^i, 8)
channels, LeakyReLU(0.01), no norm; the paper's 6 at 128 px; ``layers=0``: halve while the side stays
>= 2, so 2x2 at powers of two and 3x3 at 28 px), then two heads on the last features: D_src, a 3x3
convolution to one logit per cell of that map (real or fake), and D_cls, a convolution over the whole map
to one logit per domain attribute.

``norm``: "batch", "instance" (InstanceNorm2d, affine=False, no running statistics) or "none". Biases as
in the reference code, so the parameter counts match its printouts: with "batch" only the output layer
and the discriminator's first layer have one (the U-Net's first and innermost convolutions, though not
followed by a norm, have none); otherwise every convolution has one. unet_256 (3 -> 3, batch): 54,413,955
parameters; resnet_9blocks (3 -> 3, instance): 11,378,179; the basic D (n = 3): 2,768,705 on 6 channels
(batch), 2,764,737 on 3 (instance). Weights N(0, 0.02), BatchNorm weights N(1, 0.02), biases 0 (the
reference's "normal" init).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn

from .dcgan import dcgan_init

NORMS = ("batch", "instance", "none")
_PATCH_FRACTION = 70 / 256  # the paper's 70x70 patches on 256x256 images


def _check_norm(norm: str) -> None:
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {', '.join(NORMS)}, not {norm!r}")


def _norm(norm: str, channels: int) -> list[nn.Module]:
    if norm == "batch":
        return [nn.BatchNorm2d(channels)]
    if norm == "instance":
        return [nn.InstanceNorm2d(channels)]
    return []


normal_init = dcgan_init  # pix2pix's "normal" init: weights N(0, 0.02), BatchNorm weights N(1, 0.02), biases 0


def _channels(width: int, level: int) -> int:
    return width * min(2 ** level, 8)


# ---------------------------------------------------------------------------------------------------
# U-Net


def _unet_depth(h: int, w: int, depth: int) -> int:
    """The number of levels for an (h, w) image, or ValueError naming the sizes allowed."""
    if depth < 0 or depth == 1:
        raise ValueError(f"UNetGenerator depth must be 0 (automatic) or >= 2, not {depth}")
    if depth == 0:
        if min(h, w) < 4 or h & (h - 1) or w & (w - 1):
            raise ValueError(f"UNetGenerator with depth=0 (down to 1 pixel) needs H and W powers of two "
                             f"(4, 8, 16, ..., 256, ...), got {h}x{w}")
        return int(math.log2(min(h, w)))
    step = 2 ** depth
    if h < step or w < step or h % step or w % step:
        raise ValueError(f"UNetGenerator with depth={depth} needs H and W multiples of 2**{depth} = {step} "
                         f"({step}, {2 * step}, {3 * step}, ...), got {h}x{w}")
    return depth


class UNetGenerator(nn.Module):
    def __init__(self, in_shape: tuple[int, int, int], out_channels: int, width: int = 64,
                 norm: str = "instance", dropout: float = 0.5, depth: int = 0, skips: bool = True):
        super().__init__()
        _check_norm(norm)
        c, h, w = in_shape
        self.in_shape, self.out_channels, self.skips = tuple(in_shape), out_channels, skips
        k = 2 if skips else 1  # decoder inputs: the level's features beside the mirrored encoder's, or alone
        self.depth = d = _unet_depth(h, w, depth)
        bias = norm != "batch"
        enc = [_channels(width, i) for i in range(d)]  # encoder level i output channels

        # down[i]: level i, outermost first; its output is kept (pre-activation) for the skip.
        down: list[nn.Module] = [nn.Sequential(nn.Conv2d(c, enc[0], 4, 2, 1, bias=bias))]
        for i in range(1, d):
            inner = i == d - 1
            down.append(nn.Sequential(nn.LeakyReLU(0.2), nn.Conv2d(enc[i - 1], enc[i], 4, 2, 1, bias=bias),
                                      *([] if inner else _norm(norm, enc[i]))))
        # up[j]: decoder block j, innermost first (level i = d - 1 - j), mapping level i to level i - 1.
        self.dropout_blocks = min(3, d - 1) if dropout > 0 else 0
        up: list[nn.Module] = []
        for j in range(d - 1):
            i = d - 1 - j
            cin = enc[i] if j == 0 else k * enc[i]  # the innermost block has no skip to concatenate
            up.append(nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(cin, enc[i - 1], 4, 2, 1, bias=bias),
                                    *_norm(norm, enc[i - 1]),
                                    *([nn.Dropout(dropout)] if j < self.dropout_blocks else [])))
        up.append(nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(k * enc[0], out_channels, 4, 2, 1), nn.Tanh()))
        self.down, self.up = nn.ModuleList(down), nn.ModuleList(up)
        normal_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _unet_depth(x.shape[-2], x.shape[-1], self.depth)
        feats = []
        for block in self.down:
            x = block(x)
            feats.append(x)  # level i: (B, enc[i], H/2^(i+1), W/2^(i+1))
        y = self.up[0](feats[-1])
        for j in range(1, self.depth):
            y = self.up[j](torch.cat([feats[self.depth - 1 - j], y], 1) if self.skips else y)
        return y  # (B, out_channels, H, W)


# ---------------------------------------------------------------------------------------------------
# ResNet translator


class ResidualBlock(nn.Module):
    """x + F(x), F = reflect-pad, 3x3 conv, norm, ReLU, [dropout], reflect-pad, 3x3 conv, norm."""

    def __init__(self, channels: int, norm: str, dropout: float = 0.0):
        super().__init__()
        bias = norm != "batch"
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, 1, 0, bias=bias), *_norm(norm, channels),
            nn.ReLU(), *([nn.Dropout(dropout)] if dropout > 0 else []),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, 1, 0, bias=bias), *_norm(norm, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResNetTranslator(nn.Module):
    def __init__(self, in_shape: tuple[int, int, int], out_channels: int, width: int = 64, blocks: int = 6,
                 norm: str = "instance", dropout: float = 0.0, downsamplings: int = 2, pad: str = "reflect"):
        super().__init__()
        _check_norm(norm)
        c, h, w = in_shape
        if downsamplings < 0 or blocks < 0:
            raise ValueError(f"ResNetTranslator needs downsamplings >= 0 and blocks >= 0, "
                             f"got {downsamplings} and {blocks}")
        step = 2 ** downsamplings
        # 7x7 reflection padding needs >= 4 pixels, the blocks' 1-pixel reflection >= 2 at the bottleneck.
        least = max(4, 2 * step if blocks else step)
        if h % step or w % step or min(h, w) < least:
            raise ValueError(f"ResNetTranslator with downsamplings={downsamplings} needs H and W multiples of "
                             f"2**{downsamplings} = {step}, at least {least} ({least}, {least + step}, "
                             f"{least + 2 * step}, ...), got {h}x{w}")
        self.in_shape, self.out_channels = tuple(in_shape), out_channels
        bias = norm != "batch"
        ch = [_channels(width, i) for i in range(downsamplings + 1)]
        if pad not in ("reflect", "zeros"):
            raise ValueError(f"ResNetTranslator pad must be reflect or zeros, not {pad!r}")
        # pad="zeros" for inputs with constant channels (StarGAN's tiled domain code): reflection keeps them
        # constant, and the InstanceNorm after this convolution would subtract their whole contribution
        head: list[nn.Module] = [nn.ReflectionPad2d(3) if pad == "reflect" else nn.ZeroPad2d(3),
                                 nn.Conv2d(c, ch[0], 7, 1, 0, bias=bias),
                                 *_norm(norm, ch[0]), nn.ReLU()]
        for i in range(downsamplings):
            head += [nn.Conv2d(ch[i], ch[i + 1], 3, 2, 1, bias=bias), *_norm(norm, ch[i + 1]), nn.ReLU()]
        tail: list[nn.Module] = []
        for i in reversed(range(downsamplings)):
            tail += [nn.ConvTranspose2d(ch[i + 1], ch[i], 3, 2, 1, output_padding=1, bias=bias),
                     *_norm(norm, ch[i]), nn.ReLU()]
        tail += [nn.ReflectionPad2d(3), nn.Conv2d(ch[0], out_channels, 7, 1, 0), nn.Tanh()]
        self.head = nn.Sequential(*head)   # (B, C, H, W) -> (B, ch[-1], H/step, W/step)
        self.blocks = nn.Sequential(*[ResidualBlock(ch[-1], norm, dropout) for _ in range(blocks)])
        self.tail = nn.Sequential(*tail)   # -> (B, out_channels, H, W)
        normal_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.tail(self.blocks(self.head(x)))


# ---------------------------------------------------------------------------------------------------
# PatchGAN


def receptive_field(layers: int) -> int:
    """Side in pixels of the input patch behind one PatchGAN logit: 1 for the PixelGAN (layers=0), else
    9·2^layers - 2 (two stride-1 4x4 convolutions see 7 pixels; each stride-2 one maps r to 2r + 2)."""
    if layers < 0:
        raise ValueError(f"PatchGAN layers must be >= 0, not {layers}")
    return 1 if layers == 0 else 9 * 2 ** layers - 2


def min_resolution(layers: int) -> int:
    """The smallest input side that leaves a PatchGAN with ``layers`` a 1x1 output map."""
    if layers < 0:
        raise ValueError(f"PatchGAN layers must be >= 0, not {layers}")
    return 1 if layers == 0 else 3 * 2 ** layers


def auto_layers(resolution: int) -> int:
    """The layers whose receptive field, as a fraction of the image side, is closest to the paper's
    70/256 (in log ratio, so the 1-pixel PixelGAN is not picked at 28 px): 1 at 32 px, 2 at 128, 3 at 256,
    4 at 512. Only layer counts that fit the image (min_resolution) compete; ties go to fewer layers."""
    if resolution < 1:
        raise ValueError(f"resolution must be >= 1, not {resolution}")
    best, n = 0, 0
    target = math.log(_PATCH_FRACTION)
    while min_resolution(n) <= resolution:
        if abs(math.log(receptive_field(n) / resolution) - target) < \
                abs(math.log(receptive_field(best) / resolution) - target):
            best = n
        n += 1
    return best


def whole_image_layers(resolution: int) -> int:
    """The fewest layers whose receptive field covers the whole image (the paper's ImageGAN): 5 at 256 px
    (286x286), 2 at 32 px. ValueError if that net does not fit the image (below 6 px)."""
    if resolution < 1:
        raise ValueError(f"resolution must be >= 1, not {resolution}")
    n = 0
    while receptive_field(n) < resolution:
        n += 1
    if min_resolution(n) > resolution:
        raise ValueError(f"no PatchGAN covers a {resolution} px image and fits it: {n} layers need "
                         f">= {min_resolution(n)} px")
    return n


class PatchGANDiscriminator(nn.Module):
    def __init__(self, in_channels: int, width: int = 64, layers: int = 3, norm: str = "batch"):
        super().__init__()
        _check_norm(norm)
        if layers < 0:
            raise ValueError(f"PatchGAN layers must be >= 0, not {layers}")
        self.in_channels, self.layers = in_channels, layers
        bias = norm != "batch"
        if layers == 0:  # PixelGAN: every logit sees one pixel
            seq: list[nn.Module] = [nn.Conv2d(in_channels, width, 1), nn.LeakyReLU(0.2),
                                    nn.Conv2d(width, 2 * width, 1, bias=bias), *_norm(norm, 2 * width),
                                    nn.LeakyReLU(0.2), nn.Conv2d(2 * width, 1, 1)]
        else:
            seq = [nn.Conv2d(in_channels, width, 4, 2, 1), nn.LeakyReLU(0.2)]
            for n in range(1, layers):
                seq += [nn.Conv2d(_channels(width, n - 1), _channels(width, n), 4, 2, 1, bias=bias),
                        *_norm(norm, _channels(width, n)), nn.LeakyReLU(0.2)]
            top = _channels(width, layers)
            seq += [nn.Conv2d(_channels(width, layers - 1), top, 4, 1, 1, bias=bias), *_norm(norm, top),
                    nn.LeakyReLU(0.2), nn.Conv2d(top, 1, 4, 1, 1)]
        self.net = nn.Sequential(*seq)
        normal_init(self)

    @property
    def receptive_field(self) -> int:
        return receptive_field(self.layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        least = min_resolution(self.layers)
        if min(x.shape[-2:]) < least:
            raise ValueError(f"PatchGANDiscriminator with layers={self.layers} needs inputs of at least "
                             f"{least}x{least}, got {x.shape[-2]}x{x.shape[-1]}")
        return self.net(x)  # (B, 1, H/2^layers - 2, W/2^layers - 2) logits, (B, 1, H, W) for layers=0


# ---------------------------------------------------------------------------------------------------
# StarGAN's discriminator: an adversarial head and a domain-classification head


def stargan_layers(resolution: int) -> int:
    """Stride-2 layers that take a ``resolution`` px image down to a side of 2 or 3 (6 at 128 px, 4 at 32,
    3 at 28: 28 -> 14 -> 7 -> 3)."""
    if resolution < 4:
        raise ValueError(f"StarGANDiscriminator needs images of at least 4x4, got {resolution}")
    return resolution.bit_length() - 2  # the most halvings that leave resolution >> layers >= 2


class StarGANDiscriminator(nn.Module):
    def __init__(self, in_channels: int, num_domains: int, resolution: int, width: int = 64, layers: int = 0):
        super().__init__()
        if num_domains < 1:
            raise ValueError(f"StarGANDiscriminator needs at least one domain attribute, got {num_domains}")
        layers = layers or stargan_layers(resolution)
        side = resolution >> layers  # each 4x4 stride-2 convolution (padding 1) floors the side to half
        if layers < 1 or side < 1:
            raise ValueError(f"StarGANDiscriminator with layers={layers} needs a resolution of at least "
                             f"2**{layers}, got {resolution}")
        self.in_channels, self.num_domains, self.resolution, self.layers = in_channels, num_domains, resolution, layers
        seq: list[nn.Module] = []
        c = in_channels
        for i in range(layers):
            seq += [nn.Conv2d(c, _channels(width, i), 4, 2, 1), nn.LeakyReLU(0.01)]
            c = _channels(width, i)
        self.trunk = nn.Sequential(*seq)
        self.src = nn.Conv2d(c, 1, 3, 1, 1, bias=False)               # (B, 1, side, side) logits
        self.cls = nn.Conv2d(c, num_domains, side, 1, 0, bias=False)  # (B, k, 1, 1) logits
        normal_init(self)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(adversarial logits (B, 1, s, s), domain logits (B, k))."""
        if x.shape[-1] != self.resolution or x.shape[-2] != self.resolution:
            raise ValueError(f"StarGANDiscriminator judges {self.resolution}x{self.resolution} images, "
                             f"got {x.shape[-2]}x{x.shape[-1]}")
        h = self.trunk(x)
        return self.src(h), self.cls(h).flatten(1)
