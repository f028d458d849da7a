"""What the unconditional noise-driven games (EBGAN, BEGAN, InfoGAN) share: one generator G(z) of a
noise family, trained against a game-specific D; previews, sampling and drawing from z ~ N(0, I)."""
from __future__ import annotations

from typing import Mapping

import torch
import torch.nn as nn

from ..config import Config, ConfigError, NetConfig
from ..errors import GankitError
from ..nets import build_generator
from .base import GAN_ONLY, Batch, DataInfo, Game, eval_mode, module_device, require_default


def image_shape(info: DataInfo, game: str) -> tuple[int, ...]:
    """The (C, H, W) of a one-image-set source, or a ConfigError naming the game."""
    if "x" not in info.shapes:
        raise ConfigError(f"game.name: {game!r} learns one image set, but data.name={info.source!r} yields "
                          f"{'/'.join(info.shapes)}")
    return tuple(info.shapes["x"])


def check_unconditional(cfg: Config, game: str, noise_d: bool) -> None:
    """ConfigErrors for a G that is not a noise family (and, with ``noise_d``, a D that is not one);
    class conditioning is refused for every game but gan by the config itself."""
    from ..nets import DISCRIMINATORS, GENERATORS

    if not isinstance(cfg.model.g, NetConfig):
        raise ConfigError(f"model.g.name: {cfg.model.g.name!r} is not a noise-to-image network of game {game!r} "
                          f"({', '.join(GENERATORS.names())})")
    if noise_d and not isinstance(cfg.model.d, NetConfig):
        raise ConfigError(f"model.d.name: {cfg.model.d.name!r} is not a discriminator of game {game!r} "
                          f"({', '.join(DISCRIMINATORS.names())})")
    require_default(cfg, [*GAN_ONLY, "model.num_classes"], game)


class NoiseGame(Game):
    """An unconditional game drawn from z ~ N(0, I) of ``model.latent_dim`` dimensions through ``G``."""

    kind = "noise"

    def __init__(self, cfg: Config, shape: tuple[int, ...], codes: int = 0):
        """``codes``: inputs of G besides the noise (InfoGAN's), appended to z by :meth:`latent`."""
        import dataclasses

        super().__init__()
        self.latent_dim = cfg.model.latent_dim
        self.G = build_generator(dataclasses.replace(cfg.model, latent_dim=self.latent_dim + codes), shape)
        self._batch_size = cfg.train.batch_size

    @property
    def averaged(self) -> tuple[str, ...]:
        return ("G",)

    def noise(self, n: int, device=None, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, self.latent_dim, device=device, generator=generator)

    def bn_inputs(self, name: str, n: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        return (self.noise(n, generator=generator),)

    def preview_inputs(self, data, heldout, n: int, generator: torch.Generator) -> Batch:
        return {"z": self.noise(n, generator=generator)}

    def sample_inputs(self, n: int, seed: int, labels=None) -> Batch:
        if labels is not None:
            raise GankitError("this generator is unconditional; it takes no class labels")
        return {"z": self.noise(n, generator=torch.Generator().manual_seed(seed))}

    @torch.no_grad()
    def generate(self, inputs: Batch, players: Mapping[str, nn.Module] | None = None) -> torch.Tensor:
        """G's images, clipped to [-1, 1] (a no-op for a tanh output; BEGAN's generator is linear)."""
        G = (players or {}).get("G", self.G)
        with eval_mode(G):
            return G(self.latent(inputs).to(module_device(G))).clamp(-1, 1)

    def latent(self, inputs: Batch) -> torch.Tensor:
        """G's input vector for ``inputs`` (here the noise itself)."""
        return inputs["z"]

