"""Class conditioning for any network family: ``G(z, y)`` and ``D(x, y)`` around an unconditional net.

Each mode wraps a network built by its family, so every family gains every mode without a line of
its own code. ``y`` is a (B,) tensor of int64 class labels in [0, num_classes).

Generator modes (``model.g.conditioning``):

- ``concat``: z and the one-hot label go in side by side, [z, onehot(y)] (Mirza & Osindero 2014).
- ``hadamard``: z is multiplied elementwise by a learned class embedding, z * e(y) (the fusion of
  several cGAN/ACGAN implementations, e.g. PyTorch-GAN's acgan.py).
- ``cbn``: conditional BatchNorm (de Vries et al. 2017; Miyato & Koyama 2018 use it in G): every
  BatchNorm of the family normalises without its own affine and takes a class-dependent gain and
  bias, gamma_y * x_hat + beta_y (gains start at 1, biases at 0).

Discriminator modes (``model.d.conditioning``):

- ``concat``: the one-hot label, broadcast to constant maps, joins the image channels (cGAN).
- ``projection``: D(x, y) = psi(phi(x)) + <e(y), phi(x)> with phi the family's ``features`` and psi a
  linear head (Miyato & Koyama 2018, eq. 3).
- ``ac``: D returns (adversarial logit, class logits), both linear in phi(x) (ACGAN, Odena et al. 2017);
  the game adds the cross-entropy of the class logits.

For ``projection`` and ``ac`` the family's own output layer is removed (its features feed the new heads).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..registry import Registry

G_CONDITIONING: Registry = Registry("generator conditioning")
D_CONDITIONING: Registry = Registry("discriminator conditioning")


def _check_labels(y: torch.Tensor | None, who: str) -> torch.Tensor:
    if y is None:
        raise ValueError(f"{who} is conditional; it needs class labels y")
    return y


# -- generators ---------------------------------------------------------------------------------
@G_CONDITIONING.register("concat")
class ConcatG(nn.Module):
    """G([z, onehot(y)]): the family is built with latent_dim + num_classes inputs."""

    def __init__(self, build, latent_dim: int, num_classes: int):
        super().__init__()
        self.num_classes, self.latent_dim = num_classes, latent_dim
        self.net = build(latent_dim + num_classes)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        y = _check_labels(y, "this generator")
        return self.net(torch.cat([z, F.one_hot(y, self.num_classes).to(z.dtype)], 1))


@G_CONDITIONING.register("hadamard")
class HadamardG(nn.Module):
    """G(z * e(y)) with a learned embedding e: (num_classes, latent_dim), initialised N(0, 1)."""

    def __init__(self, build, latent_dim: int, num_classes: int):
        super().__init__()
        self.num_classes, self.latent_dim = num_classes, latent_dim
        self.embed = nn.Embedding(num_classes, latent_dim)
        self.net = build(latent_dim)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        y = _check_labels(y, "this generator")
        return self.net(z * self.embed(y).to(z.dtype))


class ConditionalBatchNorm(nn.Module):
    """BatchNorm without affine, then gamma[y] * x_hat + beta[y] per class.

    The labels of the current forward pass are set by the enclosing :class:`CBNG` (``self.y``), so the
    family's own ``forward`` needs no label argument.
    """

    def __init__(self, bn: nn.modules.batchnorm._BatchNorm, num_classes: int):
        super().__init__()
        self.bn = type(bn)(bn.num_features, eps=bn.eps, momentum=bn.momentum, affine=False)
        self.gain = nn.Embedding(num_classes, bn.num_features)
        self.bias = nn.Embedding(num_classes, bn.num_features)
        nn.init.ones_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)
        self.y: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = _check_labels(self.y, "ConditionalBatchNorm")
        shape = (x.shape[0], -1) + (1,) * (x.dim() - 2)  # (B, C, 1, 1) for maps, (B, C) for vectors
        return self.gain(y).view(shape) * self.bn(x) + self.bias(y).view(shape)


def _replace_batchnorm(module: nn.Module, num_classes: int) -> int:
    count = 0
    for name, child in module.named_children():
        if isinstance(child, nn.modules.batchnorm._BatchNorm):
            setattr(module, name, ConditionalBatchNorm(child, num_classes))
            count += 1
        else:
            count += _replace_batchnorm(child, num_classes)
    return count


@G_CONDITIONING.register("cbn")
class CBNG(nn.Module):
    """The family's generator with every BatchNorm made class-conditional."""

    def __init__(self, build, latent_dim: int, num_classes: int):
        super().__init__()
        self.num_classes, self.latent_dim = num_classes, latent_dim
        self.net = build(latent_dim)
        if _replace_batchnorm(self.net, num_classes) == 0:
            raise ValueError("conditioning=cbn needs BatchNorm layers in G (model.g.norm=batch)")
        self._cbn = [m for m in self.net.modules() if isinstance(m, ConditionalBatchNorm)]

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        y = _check_labels(y, "this generator")
        for m in self._cbn:
            m.y = y
        try:
            return self.net(z)
        finally:
            for m in self._cbn:
                m.y = None


# -- discriminators -----------------------------------------------------------------------------
@D_CONDITIONING.register("concat")
class ConcatD(nn.Module):
    """D([x, onehot(y) as constant maps]): the family is built with C + num_classes input channels."""

    def __init__(self, build, shape: tuple[int, ...], num_classes: int):
        super().__init__()
        self.num_classes = num_classes
        self.net = build((shape[0] + num_classes, *shape[1:]))

    def _input(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        y = _check_labels(y, "this discriminator")
        maps = F.one_hot(y, self.num_classes).to(x.dtype).view(x.shape[0], -1, *([1] * (x.dim() - 2)))
        return torch.cat([x, maps.expand(-1, -1, *x.shape[2:])], 1)  # (B, C + K, H, W)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(self._input(x, y))

    def features(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.net.features(self._input(x, y))


def _remove_output_layer(D: nn.Module) -> None:
    """Replace a family's final linear/conv layer (``net[-1]`` or ``linear``) by the identity."""
    if isinstance(getattr(D, "linear", None), nn.Linear):
        D.linear = nn.Identity()
    elif isinstance(getattr(D, "net", None), nn.Sequential):
        D.net[-1] = nn.Identity()
    else:
        raise ValueError(f"{type(D).__name__} has no output layer that a conditional head can replace")


class _HeadD(nn.Module):
    """phi = the family's features (B, F); subclasses add heads on phi."""

    def __init__(self, build, shape: tuple[int, ...], num_classes: int):
        super().__init__()
        self.num_classes = num_classes
        self.net = build(tuple(shape))
        self.net.eval()
        with torch.no_grad():  # the feature width, from one probe sample
            width = self.net.features(torch.zeros(2, *shape)).shape[1]
        self.net.train()
        _remove_output_layer(self.net)
        self.adv = nn.Linear(width, 1)

    def features(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.net.features(x)


@D_CONDITIONING.register("projection")
class ProjectionD(_HeadD):
    """D(x, y) = w . phi(x) + b + e(y) . phi(x) (Miyato & Koyama 2018)."""

    def __init__(self, build, shape: tuple[int, ...], num_classes: int):
        super().__init__(build, shape, num_classes)
        self.embed = nn.Embedding(num_classes, self.adv.in_features)
        nn.init.xavier_uniform_(self.embed.weight)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        y = _check_labels(y, "this discriminator")
        phi = self.net.features(x)                                        # (B, F)
        return self.adv(phi).squeeze(1) + (self.embed(y).to(phi.dtype) * phi).sum(1)  # (B,)


@D_CONDITIONING.register("ac")
class AuxClassifierD(_HeadD):
    """D(x) = (adversarial logit (B,), class logits (B, K)) (ACGAN); ``y`` is accepted and unused."""

    def __init__(self, build, shape: tuple[int, ...], num_classes: int):
        super().__init__(build, shape, num_classes)
        self.cls = nn.Linear(self.adv.in_features, num_classes)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        phi = self.net.features(x)
        return self.adv(phi).squeeze(1), self.cls(phi)
