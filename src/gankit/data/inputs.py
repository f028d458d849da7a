"""Reading a user's images to translate (``gankit translate``): one file, a folder, or a paired folder."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from .core import to_unit_range
from .sources import IMAGE_EXTENSIONS, _decode


def _images_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())


def _read(files: list[Path], root: Path, resolution: int, channels: int) -> tuple[list[str], np.ndarray, list[str]]:
    from PIL import UnidentifiedImageError

    out = np.empty((len(files), channels, resolution, resolution), dtype=np.uint8)
    names, bad = [], []
    for f in files:
        try:
            out[len(names)] = _decode(f, resolution, channels)
            names.append(str(f.relative_to(root)) if f != root else f.name)
        except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as e:
            bad.append(f"{f.name} ({type(e).__name__})")
    return names, out[:len(names)], bad


def read_translation_inputs(path: str | Path, resolution: int, channels: int, target_channels: int | None = None
                            ) -> tuple[list[str], torch.Tensor, torch.Tensor | None]:
    """(relative names, images in [-1, 1] (N, C, H, W), targets or None) for ``gankit translate``.

    ``path``: an image file, a folder of images (recursive), or a paired folder with ``A/`` and ``B/``
    subfolders of matching names (A is translated; B, where every name has a partner, holds the targets,
    read with ``target_channels``, default ``channels``).
    Unreadable images are skipped with one warning naming them; none readable is a DataError."""
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"--input {str(path)!r} does not exist")
    targets = None
    if p.is_file():
        names, x, bad = _read([p], p, resolution, channels)
    elif (p / "A").is_dir() and (p / "B").is_dir():
        names, x, bad = _read(_images_under(p / "A"), p / "A", resolution, channels)
        b_files = {str(f.relative_to(p / "B")): f for f in _images_under(p / "B")}
        if names and all(n in b_files for n in names):
            _, y, bad_b = _read([b_files[n] for n in names], p / "B", resolution, target_channels or channels)
            if not bad_b:
                targets = to_unit_range(torch.from_numpy(y))
    else:
        files = _images_under(p)
        if not files:
            raise DataError(f"--input {str(path)!r}: no images ({', '.join(sorted(IMAGE_EXTENSIONS))}) in it")
        names, x, bad = _read(files, p, resolution, channels)
    if bad:
        warnings.warn(f"translate: skipped {len(bad)} unreadable image(s): " + ", ".join(bad[:5])
                      + (" ..." if len(bad) > 5 else ""), stacklevel=2)
    if not names:
        raise DataError(f"--input {str(path)!r}: none of its images could be read")
    return names, to_unit_range(torch.from_numpy(x)), targets
