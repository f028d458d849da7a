"""A style-based generator (Karras et al. 2019, StyleGAN; 2020, StyleGAN2), small enough for a CPU.

``z`` goes through a **mapping network** (``mapping_layers`` fully connected layers, leaky ReLU, their
learning rate scaled by ``mapping_lr_mul`` = 0.01 as in the paper) to an intermediate latent ``w``; a
running average of ``w`` (``w_avg``) is kept during training for the truncation trick. The **synthesis
network** starts from a learned constant (``channels[0]`` x base x base) and doubles the resolution per
stage; every layer is a **modulated convolution** whose input channels are scaled by a style
``s = A(w)`` (a learned affine map, bias 1) and whose weights are then **demodulated** (divided by the
norm of each output channel's effective weights, which keeps activations near unit variance; StyleGAN2
§2.2) followed by **per-pixel noise** with a learned strength per layer, a bias and a leaky ReLU. Each
stage adds its own RGB output (a 1x1 modulated convolution without demodulation) to the upsampled
output of the stage below: the **skip** architecture of StyleGAN2.

Every layer (the convolutions and the RGB outputs) takes its own copy of ``w``: ``num_ws`` of them.
During training, **style mixing** (probability ``mixing``, a setting of the game) switches to the ``w`` of
a second ``z`` from a random layer on. ``synthesis(ws)`` takes one ``w`` per layer, which is how a
style-mixing grid takes coarse styles from one latent and fine ones from another.

All weights use the **equalised learning rate** (Karras et al. 2018): parameters drawn from N(0, 1)
and scaled by He's constant at run time, so Adam's steps are the same size for every layer. In eval
mode the noise inputs are fixed buffers (StyleGAN2's ``noise_mode='const'``), so the same z gives the
same image. The output is linear (no tanh, as in the paper); pictures clip it to [-1, 1].
Upsampling is bilinear, not the paper's FIR filter (a simplification that changes no mechanism here).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import GENERATORS
from ._util import unconditional
from .dcgan import _layout

_GAIN = math.sqrt(2.0)  # leaky ReLU's gain, so that activations keep unit variance


class EqualLinear(nn.Module):
    """A linear layer with the equalised learning rate: y = x (W c)^T + b·lr_mul, W ~ N(0, 1/lr_mul²),
    c = lr_mul / sqrt(in)."""

    def __init__(self, cin: int, cout: int, bias_init: float = 0.0, lr_mul: float = 1.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin) / lr_mul)
        self.bias = nn.Parameter(torch.full((cout,), float(bias_init) / lr_mul))
        self.scale, self.lr_mul = lr_mul / math.sqrt(cin), lr_mul

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)


class MappingNetwork(nn.Module):
    """z -> w: pixel norm, then ``layers`` x (equalised linear, leaky ReLU 0.2 · sqrt 2)."""

    def __init__(self, z_dim: int, w_dim: int, layers: int, lr_mul: float):
        super().__init__()
        dims = [z_dim] + [w_dim] * layers
        self.fcs = nn.ModuleList(EqualLinear(a, b, lr_mul=lr_mul) for a, b in zip(dims[:-1], dims[1:]))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = z * torch.rsqrt(z.square().mean(1, keepdim=True) + 1e-8)
        for fc in self.fcs:
            x = F.leaky_relu(fc(x), 0.2) * _GAIN
        return x


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, demodulate: bool = True,
                     padding: int = 0) -> torch.Tensor:
    """StyleGAN2's convolution: ``weight`` (O, I, k, k) scaled per sample by ``styles`` (B, I) on its
    input channels, then (``demodulate``) divided by each output channel's norm. x: (B, I, H, W) ->
    (B, O, H', W').

    Computed as StyleGAN2's non-fused path: scaling the input channels by the style, one ordinary
    convolution with the shared weight, and scaling the output channels by the demodulation
    coefficients 1 / sqrt(sum_{i,k} (w_oik s_i)^2) is the same linear map as convolving with the
    per-sample modulated weights, and much faster on a CPU than a grouped convolution."""
    out = F.conv2d(x * styles[:, :, None, None].to(x.dtype), weight.to(x.dtype), padding=padding)
    if demodulate:
        coef = torch.rsqrt(styles.float().square() @ weight.float().square().sum((2, 3)).t() + 1e-8)  # (B, O)
        out = out * coef[:, :, None, None].to(out.dtype)
    return out


class StyleLayer(nn.Module):
    """Modulated 3x3 convolution (optionally after a 2x upsampling), noise, bias, leaky ReLU."""

    def __init__(self, cin: int, cout: int, w_dim: int, resolution: int, up: bool, noise: bool):
        super().__init__()
        self.up = up
        self.affine = EqualLinear(w_dim, cin, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(cout, cin, 3, 3))
        self.scale = 1.0 / math.sqrt(cin * 9)
        self.bias = nn.Parameter(torch.zeros(cout))
        self.use_noise = noise
        if noise:
            self.noise_strength = nn.Parameter(torch.zeros(()))
            self.register_buffer("noise_const", torch.randn(1, 1, resolution, resolution))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        if self.up:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        x = modulated_conv2d(x, self.weight * self.scale, self.affine(w), padding=1)
        if self.use_noise:
            noise = (torch.randn(x.shape[0], 1, *x.shape[2:], device=x.device, dtype=x.dtype) if self.training
                     else self.noise_const.to(x.dtype))
            x = x + noise * self.noise_strength
        return F.leaky_relu(x + self.bias[None, :, None, None], 0.2) * _GAIN


class ToRGB(nn.Module):
    """A 1x1 modulated convolution to the image channels, without demodulation, plus a bias."""

    def __init__(self, cin: int, channels: int, w_dim: int):
        super().__init__()
        self.affine = EqualLinear(w_dim, cin, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(channels, cin, 1, 1))
        self.scale = 1.0 / math.sqrt(cin)
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        out = modulated_conv2d(x, self.weight, self.affine(w) * self.scale, demodulate=False)
        return out + self.bias[None, :, None, None]


def parse_channels(text: str, stages: int) -> list[int]:
    """``model.g.channels`` ("128,128,64,32": base resolution first, one per stage) for ``stages``
    doublings: a shorter list repeats its last entry, a longer one is cut."""
    try:
        values = [int(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"channels {text!r}: comma-separated integers, e.g. 128,128,64,32") from None
    if not values or min(values) < 1:
        raise ValueError(f"channels {text!r}: at least one positive integer")
    return (values + [values[-1]] * (stages + 1))[: stages + 1]


@GENERATORS.register("style")
class StyleGenerator(nn.Module):
    """The style-based G: ``forward(z, psi=1, mixing=0)``; ``mapping``, ``synthesis(ws)``, ``w_avg``.

    ``shape`` (C, R, R) with R = 4·2^k or 7·2^k (the constant is R / 2^k pixels wide)."""

    def __init__(self, latent_dim: int, shape: tuple[int, int, int], w_dim: int = 128, mapping_layers: int = 4,
                 mapping_lr_mul: float = 0.01, channels: str = "128,128,64,32", noise: bool = True,
                 w_avg_beta: float = 0.995):
        super().__init__()
        c, h, w = shape
        if h != w:
            raise ValueError(f"the style-based G wants square images, got {h}x{w}")
        self.latent_dim, self.shape, self.w_dim, self.w_avg_beta = latent_dim, tuple(shape), w_dim, w_avg_beta
        self.base, stages = _layout(h)
        ch = parse_channels(channels, stages)
        self.mapping = MappingNetwork(latent_dim, w_dim, mapping_layers, mapping_lr_mul)
        self.register_buffer("w_avg", torch.zeros(w_dim))
        self.const = nn.Parameter(torch.randn(ch[0], self.base, self.base))
        res = [self.base * 2 ** i for i in range(stages + 1)]
        # layer order (one w each): conv@base, rgb@base, then per stage: conv-up, conv, rgb
        self.convs = nn.ModuleList([StyleLayer(ch[0], ch[0], w_dim, res[0], up=False, noise=noise)])
        self.rgbs = nn.ModuleList([ToRGB(ch[0], c, w_dim)])
        for i in range(1, stages + 1):
            self.convs.append(StyleLayer(ch[i - 1], ch[i], w_dim, res[i], up=True, noise=noise))
            self.convs.append(StyleLayer(ch[i], ch[i], w_dim, res[i], up=False, noise=noise))
            self.rgbs.append(ToRGB(ch[i], c, w_dim))
        self.num_ws = len(self.convs) + len(self.rgbs)
        #: the resolution each w index acts at (style mixing grids split coarse from fine with it)
        self.ws_resolution = [res[0], res[0]] + [r for r in res[1:] for _ in range(3)]

    # -- the two halves ----------------------------------------------------------------------
    def ws(self, z: torch.Tensor, psi: float = 1.0, update_avg: bool = True) -> torch.Tensor:
        """(B, num_ws, w_dim): w of ``z`` for every layer, truncated toward ``w_avg`` by ``psi``
        (1: none; 0: every z gives the average w). In training mode (and ``update_avg``), updates ``w_avg``."""
        w = self.mapping(z)
        if self.training and update_avg:
            with torch.no_grad():
                self.w_avg.copy_(w.detach().float().mean(0).lerp(self.w_avg, self.w_avg_beta))
        if torch.is_tensor(psi) or psi != 1.0:  # a number, or one per sample (B, 1)
            w = self.w_avg.to(w.dtype).lerp(w, psi.to(w.dtype) if torch.is_tensor(psi) else psi)
        return w[:, None].expand(-1, self.num_ws, -1)

    def synthesis(self, ws: torch.Tensor) -> torch.Tensor:
        """Images (B, C, R, R) from one w per layer, (B, num_ws, w_dim)."""
        x = self.const[None].expand(ws.shape[0], -1, -1, -1)
        x = self.convs[0](x, ws[:, 0])
        img = self.rgbs[0](x, ws[:, 1])
        k = 2
        for i in range(1, len(self.rgbs)):
            x = self.convs[2 * i - 1](x, ws[:, k])
            x = self.convs[2 * i](x, ws[:, k + 1])
            img = F.interpolate(img, scale_factor=2, mode="bilinear", align_corners=False) + self.rgbs[i](x, ws[:, k + 2])
            k += 3
        return img

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None, psi: float | torch.Tensor = 1.0,
                mixing: float = 0.0, return_ws: bool = False):
        """Images (B, C, R, R) of ``z``; with ``return_ws`` also the per-layer w (B, num_ws, w_dim) they
        were drawn from (path-length regularisation differentiates the images with respect to it)."""
        unconditional(y, "StyleGenerator")
        ws = self.ws(z, psi)
        if mixing > 0 and self.training:  # style mixing regularisation: a second latent from a random layer on
            if float(torch.rand(())) < mixing:
                cut = int(torch.randint(1, self.num_ws, ()))
                ws2 = self.ws(torch.randn_like(z), psi, update_avg=False)  # (the average follows the main z only)
                ws = torch.cat([ws[:, :cut], ws2[:, cut:]], 1)
        images = self.synthesis(ws)
        return (images, ws) if return_ws else images
