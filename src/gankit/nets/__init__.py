"""Networks: plain ``nn.Module``s. They know nothing of losses, optimizers or training.

- noise families (mlp, dcgan, resnet, toy): ``G(z, y=None) -> images`` and ``D(x, y=None) -> logits (B,)``,
  registered under one name, built from the image shape (C, H, W) and the shared ``NetConfig`` keys;
- the style-based generator (style: StyleGAN2-lite): ``G(z, psi=1, mixing=0) -> images``, with its own settings;
- auto-encoder discriminators (autoencoder: EBGAN, BEGAN): ``D(x) -> (reconstruction, code)``;
- sequence generators (lstm, nets/sequence.py): teacher-forced ``G(tokens) -> logits (B, L, V)`` and
  ``G.sample(u, temperature) -> tokens (B, L)``, built from a vocabulary by :func:`build_sequence_generator`;
- translators (unet, resnet-translator): ``G(x) -> images`` of the same size, and the PatchGAN
  discriminator ``D(x) -> logits (B, 1, h, w)``, one per patch; each has its own settings class
  (config.NET_SETTINGS).
"""
from __future__ import annotations

import torch.nn as nn

from ..config import ModelConfig
from ..errors import ConfigError
from ..registry import Registry

GENERATORS: Registry = Registry("generator")
DISCRIMINATORS: Registry = Registry("discriminator")
SEQUENCE_GENERATORS: Registry = Registry("sequence generator")  # model.g of the sequence games (nets/sequence.py)
SEQUENCE_DISCRIMINATORS: Registry = Registry("sequence discriminator")  # model.d of the sequence GANs (nets/sequence.py)

from . import autoencoder, dcgan, infogan, mlp, resnet, sequence, style, toy  # noqa: E402,F401  (registers the families)
from .dcgan import DCGANDiscriminator, DCGANGenerator  # noqa: E402
from .mlp import MLPDiscriminator, MLPGenerator  # noqa: E402
from .resnet import ResNetDiscriminator, ResNetGenerator  # noqa: E402
from .toy import ToyDiscriminator, ToyGenerator  # noqa: E402
from .conditioning import D_CONDITIONING, G_CONDITIONING  # noqa: E402


def _classes(num_classes: int | None, key: str) -> int:
    if not num_classes or num_classes < 2:
        raise ConfigError(f"{key}: class conditioning needs a labelled dataset with >= 2 classes "
                          f"(this one has {num_classes or 'no labels'})")
    return num_classes


def spectral_normalize(module: nn.Module) -> nn.Module:
    """Wrap the weight of every convolution and linear layer in spectral normalisation (one power
    iteration per forward pass, as in Miyato et al. 2018), using torch's parametrization."""
    from torch.nn.utils.parametrizations import spectral_norm

    for m in list(module.modules()):
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            spectral_norm(m)
    return module


def _own_settings(net) -> dict | None:
    """The keyword arguments of a family whose settings class is its own (not NetConfig)."""
    import dataclasses

    from ..config import NetConfig

    if isinstance(net, NetConfig):
        return None
    return {f.name: getattr(net, f.name) for f in dataclasses.fields(net) if f.name not in ("name", "spectral_norm")}


def build_generator(model: ModelConfig, shape: tuple[int, ...], num_classes: int | None = None) -> nn.Module:
    """The family's G; with ``model.g.conditioning`` (and ``num_classes``) wrapped as G(z, y)."""
    family = GENERATORS.get(model.g.name, key="model.g.name")
    own = _own_settings(model.g)

    def build(latent_dim: int) -> nn.Module:
        if own is not None:  # a family with its own settings class (config.NET_SETTINGS) takes all of them
            return family(latent_dim=latent_dim, shape=shape, **own)
        return family(latent_dim=latent_dim, shape=shape, width=model.g.width, norm=model.g.norm)

    try:
        if getattr(model.g, "conditioning", "none") != "none":
            mode = G_CONDITIONING.get(model.g.conditioning, key="model.g.conditioning")
            G = mode(build, model.latent_dim, _classes(num_classes, "model.g.conditioning"))
        else:
            G = build(model.latent_dim)
    except ValueError as e:  # e.g. a resolution the family cannot build
        raise ConfigError(f"model.g ({model.g.name}): {e}") from None
    return spectral_normalize(G) if model.g.spectral_norm else G


def build_discriminator(model: ModelConfig, shape: tuple[int, ...], num_classes: int | None = None) -> nn.Module:
    """The family's D; with ``model.d.conditioning`` (and ``num_classes``) wrapped as D(x, y)."""
    family = DISCRIMINATORS.get(model.d.name, key="model.d.name")
    extra = {"minibatch_std": True} if model.d.minibatch_std else {}

    def build(shape: tuple[int, ...]) -> nn.Module:
        return family(shape=shape, width=model.d.width, norm=model.d.norm, **extra)

    try:
        if model.d.conditioning != "none":
            mode = D_CONDITIONING.get(model.d.conditioning, key="model.d.conditioning")
            D = mode(build, tuple(shape), _classes(num_classes, "model.d.conditioning"))
        else:
            D = build(shape)
    except ValueError as e:
        raise ConfigError(f"model.d ({model.d.name}): {e}") from None
    return spectral_normalize(D) if model.d.spectral_norm else D


def build_sequence_generator(net, vocab_size: int, length: int, pad: int | None, end: int | None) -> nn.Module:
    """A sequence G from ``model.g`` (a family of SEQUENCE_GENERATORS: lstm) for ``vocab_size`` ids and
    ``length`` positions."""
    family = SEQUENCE_GENERATORS.get(net.name, key="model.g.name")
    try:
        return family(vocab_size, length, embedding=net.embedding, hidden=net.hidden, layers=net.layers,
                      pad=pad, end=end)
    except ValueError as e:
        raise ConfigError(f"model.g ({net.name}): {e}") from None


def build_sequence_discriminator(net, vocab_size: int, length: int) -> nn.Module:
    """A sequence D from ``model.d`` (a family of SEQUENCE_DISCRIMINATORS: cnn) for ``vocab_size`` ids
    and ``length`` positions."""
    family = SEQUENCE_DISCRIMINATORS.get(net.name, key="model.d.name")
    try:
        return family(vocab_size, length, embedding=net.embedding, widths=net.widths, counts=net.counts,
                      dropout=net.dropout, highway=net.highway)
    except ValueError as e:
        raise ConfigError(f"model.d ({net.name}): {e}") from None


def build_translator(net, in_shape: tuple[int, int, int], out_channels: int, pad: str = "reflect") -> nn.Module:
    """An image-to-image G from ``model.g`` (a translator family: unet, resnet-translator); ``pad``: the
    ResNet translator's first padding (zeros for inputs with constant channels, StarGAN's)."""
    from . import translate

    if net.name not in ("unet", "resnet-translator"):
        raise ConfigError(f"model.g.name: {net.name!r} is not an image-to-image network; use unet or resnet-translator")
    try:
        if net.name == "unet":
            G = translate.UNetGenerator(in_shape, out_channels, width=net.width, norm=net.norm,
                                        dropout=net.dropout, depth=net.depth, skips=net.skips)
        else:
            G = translate.ResNetTranslator(in_shape, out_channels, width=net.width, blocks=net.blocks,
                                           norm=net.norm, dropout=net.dropout, pad=pad)
    except ValueError as e:
        raise ConfigError(f"model.g ({net.name}): {e}") from None
    return spectral_normalize(G) if net.spectral_norm else G


def build_patch_discriminator(net, in_channels: int, resolution: int) -> nn.Module:
    """A PatchGAN D from ``model.d`` (``patch``: auto, pixel or image; ``layers`` > 0 overrides)."""
    from . import translate

    if net.name != "patchgan":
        raise ConfigError(f"model.d.name: {net.name!r} does not judge patches; use patchgan")
    layers = (net.layers if net.layers > 0 else 0 if net.patch == "pixel" else
              translate.whole_image_layers(resolution) if net.patch == "image" else translate.auto_layers(resolution))
    try:
        D = translate.PatchGANDiscriminator(in_channels, width=net.width, layers=layers, norm=net.norm)
    except ValueError as e:
        raise ConfigError(f"model.d ({net.name}): {e}") from None
    return spectral_normalize(D) if net.spectral_norm else D


def build_stargan_discriminator(net, in_channels: int, num_domains: int, resolution: int) -> nn.Module:
    """StarGAN's two-headed D from ``model.d`` (family stargan)."""
    from . import translate

    if net.name != "stargan":
        raise ConfigError(f"model.d.name: {net.name!r} has no domain-classification head; use stargan")
    try:
        D = translate.StarGANDiscriminator(in_channels, num_domains, resolution, width=net.width, layers=net.layers)
    except ValueError as e:
        raise ConfigError(f"model.d ({net.name}): {e}") from None
    return spectral_normalize(D) if net.spectral_norm else D


def build_autoencoder(net, shape: tuple[int, int, int]) -> nn.Module:
    """An auto-encoder discriminator (EBGAN, BEGAN) from ``model.d`` (family autoencoder)."""
    from .autoencoder import AutoEncoder

    if net.name != "autoencoder":
        raise ConfigError(f"model.d.name: {net.name!r} is not an auto-encoder; use autoencoder")
    try:
        D = AutoEncoder(tuple(shape), width=net.width, code=net.code, blocks=net.blocks, norm=net.norm)
    except ValueError as e:
        raise ConfigError(f"model.d ({net.name}): {e}") from None
    return spectral_normalize(D) if net.spectral_norm else D


__all__ = ["build_sequence_generator", "SEQUENCE_GENERATORS", "build_sequence_discriminator", "SEQUENCE_DISCRIMINATORS", "build_autoencoder", "build_translator", "build_patch_discriminator", "build_stargan_discriminator", "GENERATORS", "DISCRIMINATORS", "build_generator", "build_discriminator", "MLPGenerator",
           "MLPDiscriminator", "DCGANGenerator", "DCGANDiscriminator", "ResNetGenerator",
           "ResNetDiscriminator", "ToyGenerator", "ToyDiscriminator", "spectral_normalize"]
