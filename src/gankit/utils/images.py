"""Image grids as PNG files, without torchvision."""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch


def make_grid(images: torch.Tensor, nrow: int | None = None, padding: int = 2, pad_value: float = 1.0,
              upscale: int = 1, reference=None) -> np.ndarray:
    """(B, C, H, W) in [-1, 1] -> uint8 (H', W', C) grid; ``nrow`` images per row (default: square).

    2-D points (B, 2) give a scatter plot instead, over ``reference``'s true modes when it is given
    (any object with ``means`` and ``std``, e.g. the run's PointData)."""
    if images.dim() == 2:
        from .plots import scatter_array

        return scatter_array(images, getattr(reference, "means", None), getattr(reference, "std", None))
    x = images.detach().float().cpu().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)
    if upscale > 1:
        x = x.repeat_interleave(upscale, 2).repeat_interleave(upscale, 3)
    b, c, h, w = x.shape
    nrow = nrow or max(1, math.ceil(math.sqrt(b)))
    rows = math.ceil(b / nrow)
    fill = int(round((pad_value + 1) * 127.5))
    grid = torch.full((c, rows * (h + padding) + padding, nrow * (w + padding) + padding), fill, dtype=torch.uint8)
    for i in range(b):
        r, col = divmod(i, nrow)
        top, left = padding + r * (h + padding), padding + col * (w + padding)
        grid[:, top:top + h, left:left + w] = x[i]
    return grid.permute(1, 2, 0).numpy()


def save_image_grid(images: torch.Tensor, path: str | Path, nrow: int | None = None, min_size: int = 256,
                    reference=None) -> Path:
    """Write a grid PNG; small images are upscaled (nearest) so the grid is at least ``min_size`` wide.

    2-D points (B, 2) are drawn as a scatter plot over ``reference``'s modes (see ``make_grid``)."""
    from PIL import Image

    if images.dim() == 2:
        from .plots import save_scatter

        return save_scatter(images, path, getattr(reference, "means", None), getattr(reference, "std", None),
                            size=max(min_size, 256))

    per_row = nrow or max(1, math.ceil(math.sqrt(images.shape[0])))
    upscale = max(1, math.ceil(min_size / max(1, per_row * images.shape[-1])))
    arr = make_grid(images, nrow, upscale=upscale)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    Image.fromarray(arr[:, :, 0] if arr.shape[2] == 1 else arr).save(tmp, format="PNG")
    os.replace(tmp, path)
    return path


def save_images(images: torch.Tensor, folder: str | Path) -> list[Path]:
    """One PNG per image (000000.png, ...) in ``folder``: (B, C, H, W) in [-1, 1]."""
    from PIL import Image

    if images.dim() != 4:
        from ..errors import GankitError

        raise GankitError(f"samples of shape {tuple(images.shape[1:])} are points, not images: "
                          f"write them to a .npy array or a .png scatter plot")

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    x = images.detach().float().cpu().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)
    width = max(6, len(str(len(x) - 1)))
    paths = []
    for i, img in enumerate(x):
        arr = img[0].numpy() if img.shape[0] == 1 else img.permute(1, 2, 0).numpy()
        path = folder / f"{i:0{width}d}.png"
        Image.fromarray(arr).save(path)
        paths.append(path)
    return paths


def save_named_images(images: torch.Tensor, folder: str | Path, names: list[str]) -> list[Path]:
    """One image per name (relative paths, sub-folders kept; the format follows each name's extension)
    in ``folder``: (B, C, H, W) in [-1, 1]."""
    from PIL import Image

    folder = Path(folder)
    x = images.detach().float().cpu().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)
    paths = []
    for img, name in zip(x, names, strict=True):
        arr = img[0].numpy() if img.shape[0] == 1 else img.permute(1, 2, 0).numpy()
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(arr).save(path)
        paths.append(path)
    return paths
