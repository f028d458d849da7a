"""Networks: plain ``nn.Module``s, ``G(z, y=None) -> images`` and ``D(x, y=None) -> logits (B,)``.

They know nothing of losses, optimizers or training. Families register a generator and a
discriminator under one name, built from the image shape (C, H, W) and a base width.
"""
from __future__ import annotations

import torch.nn as nn

from ..config import ModelConfig
from ..registry import Registry

GENERATORS: Registry = Registry("generator")
DISCRIMINATORS: Registry = Registry("discriminator")

from . import dcgan, mlp  # noqa: E402,F401  (registers the families)
from .dcgan import DCGANDiscriminator, DCGANGenerator  # noqa: E402
from .mlp import MLPDiscriminator, MLPGenerator  # noqa: E402


def build_generator(model: ModelConfig, shape: tuple[int, int, int]) -> nn.Module:
    return GENERATORS.get(model.g.name, key="model.g.name")(latent_dim=model.latent_dim, shape=shape,
                                                             width=model.g.width)


def build_discriminator(model: ModelConfig, shape: tuple[int, int, int]) -> nn.Module:
    return DISCRIMINATORS.get(model.d.name, key="model.d.name")(shape=shape, width=model.d.width)


__all__ = ["GENERATORS", "DISCRIMINATORS", "build_generator", "build_discriminator", "MLPGenerator",
           "MLPDiscriminator", "DCGANGenerator", "DCGANDiscriminator"]
