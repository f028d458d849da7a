"""Auto-encoder discriminators (EBGAN, BEGAN) and BEGAN's generator.

An auto-encoder D maps an image to a code and back; how well it reconstructs an image is its energy
(low on real data, high elsewhere). Two block styles, for any resolution 4·2^k or 7·2^k:

- ``dcgan`` (EBGAN, Zhao et al. 2017, whose MNIST D is a DCGAN-like conv auto-encoder): encoder =
  stride-2 4x4 convolutions with LeakyReLU(0.2) (BatchNorm after the first), a linear map to the
  code; decoder = a linear map from the code, then stride-2 4x4 transposed convolutions with ReLU;
- ``began`` (Berthelot, Schumm & Metz 2017, fig. 1): 3x3 convolutions with ELU, two per scale; the
  encoder halves the resolution with a stride-2 convolution while adding ``width`` channels per scale,
  the decoder doubles it by nearest-neighbour upsampling and keeps ``width`` channels; a linear map to
  and from the code h. BEGAN's generator is the decoder alone (:class:`BEGANGenerator`, family
  ``began``), taking z in place of h.

The ``dcgan`` decoder ends in tanh; the ``began`` decoder, and so BEGAN's generator, end in a plain
convolution as the paper's: with a tanh, G's first move under BEGAN (k_0 = 0, so G only seeks images D
reconstructs well) is to an all-black image, where the tanh saturates and G's gradient vanishes for
good (seen on MNIST, whose background is exactly -1). A noise game's ``generate`` clips its images to
[-1, 1], as the reference code clips when it saves them; D sees G's raw outputs in training.
``forward(x)`` returns ``(reconstruction, code)``: the energy is computed by the game from both.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from . import GENERATORS
from ._util import unconditional
from .dcgan import _layout, dcgan_init


def _bn(channels: int, on: bool) -> list[nn.Module]:
    return [nn.BatchNorm2d(channels)] if on else []


def _check_square(shape: tuple[int, int, int], who: str) -> tuple[int, int, int]:
    c, h, w = shape
    if h != w:
        raise ValueError(f"{who} wants square images, got {h}x{w}")
    return c, h, w


class _BEGANDecoder(nn.Module):
    """h -> (base x base x width) -> [conv3 ELU, conv3 ELU, upsample x2] per stage -> conv3 ELU x2 ->
    conv3 to C (linear, as the paper's)."""

    def __init__(self, code: int, shape: tuple[int, int, int], width: int, norm: bool):
        super().__init__()
        c, h, _ = _check_square(shape, "the BEGAN decoder")
        base, stages = _layout(h)
        self.width, self.base = width, base
        self.fc = nn.Linear(code, width * base * base)

        def pair() -> list[nn.Module]:
            return [nn.Conv2d(width, width, 3, 1, 1), *_bn(width, norm), nn.ELU(inplace=True),
                    nn.Conv2d(width, width, 3, 1, 1), *_bn(width, norm), nn.ELU(inplace=True)]

        layers: list[nn.Module] = []
        for _ in range(stages):
            layers += [*pair(), nn.Upsample(scale_factor=2, mode="nearest")]
        layers += [*pair(), nn.Conv2d(width, c, 3, 1, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(self.fc(h).view(h.shape[0], self.width, self.base, self.base))


class _BEGANEncoder(nn.Module):
    """conv3 ELU, then per stage [conv3 ELU x2, stride-2 conv3 adding ``width`` channels], conv3 ELU x2,
    linear to the code."""

    def __init__(self, code: int, shape: tuple[int, int, int], width: int, norm: bool):
        super().__init__()
        c, h, _ = _check_square(shape, "the BEGAN encoder")
        base, stages = _layout(h)
        layers: list[nn.Module] = [nn.Conv2d(c, width, 3, 1, 1), nn.ELU(inplace=True)]
        ch = width
        for _ in range(stages):
            layers += [nn.Conv2d(ch, ch, 3, 1, 1), *_bn(ch, norm), nn.ELU(inplace=True),
                       nn.Conv2d(ch, ch, 3, 1, 1), *_bn(ch, norm), nn.ELU(inplace=True),
                       nn.Conv2d(ch, ch + width, 3, 2, 1), *_bn(ch + width, norm), nn.ELU(inplace=True)]
            ch += width
        layers += [nn.Conv2d(ch, ch, 3, 1, 1), *_bn(ch, norm), nn.ELU(inplace=True),
                   nn.Conv2d(ch, ch, 3, 1, 1), *_bn(ch, norm), nn.ELU(inplace=True)]
        self.net = nn.Sequential(*layers)
        self.fc = nn.Linear(ch * base * base, code)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.net(x).flatten(1))


class _DCGANEncoder(nn.Module):
    def __init__(self, code: int, shape: tuple[int, int, int], width: int, norm: bool):
        super().__init__()
        c, h, _ = _check_square(shape, "the DCGAN encoder")
        base, stages = _layout(h)
        layers: list[nn.Module] = [nn.Conv2d(c, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        ch = width
        for _ in range(stages - 1):
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=not norm), *_bn(ch * 2, norm), nn.LeakyReLU(0.2, True)]
            ch *= 2
        self.net = nn.Sequential(*layers)
        self.fc = nn.Linear(ch * base * base, code)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.net(x).flatten(1))


class _DCGANDecoder(nn.Module):
    def __init__(self, code: int, shape: tuple[int, int, int], width: int, norm: bool):
        super().__init__()
        c, h, _ = _check_square(shape, "the DCGAN decoder")
        base, stages = _layout(h)
        ch = width * 2 ** (stages - 1)
        self.ch, self.base = ch, base
        self.fc = nn.Linear(code, ch * base * base)
        layers: list[nn.Module] = [*_bn(ch, norm), nn.ReLU(True)]
        for _ in range(stages - 1):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=not norm), *_bn(ch // 2, norm), nn.ReLU(True)]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, c, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(self.fc(h).view(h.shape[0], self.ch, self.base, self.base))


BLOCKS = {"dcgan": (_DCGANEncoder, _DCGANDecoder), "began": (_BEGANEncoder, _BEGANDecoder)}


class AutoEncoder(nn.Module):
    """An auto-encoder discriminator: ``forward(x) -> (reconstruction (B, C, H, W), code (B, code))``."""

    def __init__(self, shape: tuple[int, int, int], width: int = 64, code: int = 64, blocks: str = "dcgan",
                 norm: str = "batch"):
        super().__init__()
        if blocks not in BLOCKS:
            raise ValueError(f"blocks {blocks!r} is not one of {', '.join(BLOCKS)}")
        if code < 1:
            raise ValueError(f"code must be >= 1, got {code}")
        self.shape = tuple(shape)
        enc, dec = BLOCKS[blocks]
        self.encoder = enc(code, self.shape, width, norm == "batch")
        self.decoder = dec(code, self.shape, width, norm == "batch")
        if blocks == "dcgan":
            dcgan_init(self)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        code = self.encoder(x)
        return self.decoder(code), code


@GENERATORS.register("began")
class BEGANGenerator(nn.Module):
    """BEGAN's generator: the auto-encoder's decoder (its own weights) taking z in place of the code."""

    def __init__(self, latent_dim: int, shape: tuple[int, int, int], width: int = 64, norm: str = "none"):
        super().__init__()
        self.latent_dim, self.shape = latent_dim, tuple(shape)
        self.net = _BEGANDecoder(latent_dim, self.shape, width, norm == "batch")

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        unconditional(y, "BEGANGenerator")
        return self.net(z.view(z.shape[0], self.latent_dim))
