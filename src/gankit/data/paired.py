"""Image-to-image data: ``edges2fashion``, ``edges2digits``, ``paired``, ``unpaired`` and ``domains``.

- ``edges2fashion`` / ``edges2digits``: the small analogue of pix2pix's edges2shoes. B is a
  Fashion-MNIST image (the ``fashion-mnist`` source) or an MNIST-subset digit (the ``mnist`` source:
  4,500 train / 500 test) at ``data.resolution``; A is its edge map from :func:`edge_map`, black
  edges on white like the paper's HED edge maps. The classes are kept as the pairs' labels (for
  evaluation only). Splits are those of the underlying source.
- ``paired``: a user's aligned pairs, either ``DIR/A`` and ``DIR/B`` with matching file names, or
  side-by-side ``A|B`` images as pix2pix ships them; optionally split into ``DIR/train``,
  ``DIR/test`` or ``DIR/val`` (or ``DIR/A/train`` and ``DIR/B/train``, the layout of pix2pix's
  ``combine_A_and_B.py``).
- ``unpaired``: two image sets, ``DIR/A`` and ``DIR/B`` or CycleGAN's ``trainA``/``trainB``/
  ``testA``/``testB``.
- ``domains``: ``DIR/<domain>/...``, one folder per domain (StarGAN-style) of at least 2 images,
  optionally inside ``DIR/train``, ``DIR/test`` or ``DIR/val``. Labels are the domain indices (in
  sorted folder order), and the attributes their one-hot codes, one group of exclusive attributes
  named by the folders.

``data.direction=BtoA`` swaps the two sides of the paired and unpaired sources. Everything is held
in memory as uint8 (N, C, H, W), in sorted path order, centre-cropped and resized to
``data.resolution`` with ``data.channels`` channels.

Split folders (``paired`` and ``domains``): ``data.split=train`` reads ``train/``; ``test`` reads
``test/``, or ``val/`` if there is no ``test/``; ``all`` reads every one of ``train/``, ``val/``,
``test/`` that exists (and names the pairs ``train/...``, ``test/...``). Without split folders,
``train`` and ``all`` read the whole folder and ``test`` is an error. A folder named ``train``,
``test`` or ``val`` is therefore always taken as a split, never as a domain or as part of a name.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ..config import DataConfig
from ..errors import DataError
from .core import ImageData, PairedData, UnpairedData
from .sources import (_UNREADABLE, IMAGE_EXTENSIONS, SOURCES, Source, _decode, _load_fashion, _load_mnist,
                      _locate_fashion, _locate_mnist, _progress, decode_files, fit_pil)

__all__ = ["edge_map", "edge_sigma", "domain_names", "EDGE_SIGMA", "EDGE_LOW", "EDGE_HIGH"]

# ----------------------------------------------------------------------------------------------
# The edge detector
# ----------------------------------------------------------------------------------------------

#: Gaussian blur (pixels) at 32 px; the sources scale it with the resolution (:func:`edge_sigma`).
EDGE_SIGMA = 1.0
#: Hysteresis thresholds as fractions of each image's strongest (non-maximum-suppressed) gradient:
#: a pixel is an edge if its gradient is above EDGE_HIGH x that maximum, or above EDGE_LOW x it and
#: connected (8-neighbourhood) to such a pixel through such pixels. Chosen by eye on Fashion-MNIST and
#: the MNIST subset at 32 px: closed outlines of every garment and digit, plus the inner detail that
#: stands out (collars, zips, the upper/sole line of shoes, prints), without speckle on flat areas.
#: Lower values add speckle inside textured garments; higher ones drop collars and zips.
EDGE_LOW, EDGE_HIGH = 0.05, 0.15
#: Gradients within this of each other (in [0, 1] intensity per pixel) count as equal, so the
#: float rounding of mirror-symmetric gradients cannot decide which pixel survives suppression.
_TIE = 1e-5
_STEPS = 4  # hysteresis dilations between convergence checks
_TAN_22_5 = math.tan(math.pi / 8)
_LUMA = (0.299, 0.587, 0.114)


def edge_sigma(resolution: int) -> float:
    """The blur the edge sources use at ``resolution``: :data:`EDGE_SIGMA` at 32 px, proportional to
    the resolution (the same outlines at any size), at least 0.5 px."""
    return max(0.5, EDGE_SIGMA * resolution / 32)


def _gaussian_taps(sigma: float) -> list[float]:
    """A normalised 1-D Gaussian truncated at ±ceil(2.5 sigma) (at least ±1)."""
    r = max(1, math.ceil(2.5 * sigma))
    k = [math.exp(-(i * i) / (2 * sigma * sigma)) for i in range(-r, r + 1)]
    s = sum(k)
    return [v / s for v in k]


def _correlate(x: torch.Tensor, taps: list[float], dim: int) -> torch.Tensor:
    """Valid 1-D correlation of ``x`` along ``dim`` with ``taps`` (shrinks that dim by len-1).
    Shifted slices and fused multiply-adds: several times faster than conv2d for such small kernels."""
    n = x.shape[dim] - len(taps) + 1
    out = x.narrow(dim, 0, n) * taps[0]
    for i, t in enumerate(taps[1:], 1):
        if t != 0:
            out.add_(x.narrow(dim, i, n), alpha=t)
    return out


def _edges(x: torch.Tensor, sigma: float, low: float, high: float) -> torch.Tensor:
    """Canny on float (n, 1, h, w) in [0, 1] -> bool edges (n, 1, h, w)."""
    n, _, h, w = x.shape
    g = _gaussian_taps(sigma)
    r = len(g) // 2
    # Replicate padding: the image border itself is never an edge (an object cut by it stays open).
    x = F.pad(x, (r + 1, r + 1, r + 1, r + 1), mode="replicate")
    x = _correlate(_correlate(x, g, 3), g, 2)                       # blurred, (h + 2, w + 2)
    # Sobel, scaled to intensity per pixel: derivative [-1, 0, 1]/2, smoothing [1, 2, 1]/4.
    gx = _correlate(_correlate(x, [-0.5, 0.0, 0.5], 3), [0.25, 0.5, 0.25], 2)
    gy = _correlate(_correlate(x, [0.25, 0.5, 0.25], 3), [-0.5, 0.0, 0.5], 2)
    mag = torch.sqrt(gx * gx + gy * gy)

    # Non-maximum suppression across the edge, the gradient direction quantised to 0, 45, 90, 135
    # degrees (y down). A pixel survives if its gradient is at least that of both neighbours along
    # the gradient and strictly above the one on the brighter side: of the two equal pixels that
    # straddle a sharp step, the bright one is kept, so an object's outline is its own border pixels.
    ax, ay = gx.abs(), gy.abs()
    horizontal = ay <= ax * _TAN_22_5          # gradient along x: compare left/right
    vertical = ax < ay * _TAN_22_5             # gradient along y: compare up/down
    diagonal = ~(horizontal | vertical)
    falling = (gx * gy) > 0                    # gradient towards (+x, +y) or (-x, -y)
    bins = ((horizontal, (0, 1), gx > 0), (vertical, (1, 0), gy > 0),
            (diagonal & falling, (1, 1), (gx + gy) > 0), (diagonal & ~falling, (1, -1), (gy - gx) > 0))
    padded = F.pad(mag, (1, 1, 1, 1))
    keep = torch.zeros_like(horizontal)
    for in_bin, (dy, dx), brighter_ahead in bins:
        ahead = padded[:, :, 1 + dy:1 + dy + h, 1 + dx:1 + dx + w]
        behind = padded[:, :, 1 - dy:1 - dy + h, 1 - dx:1 - dx + w]
        d_ahead, d_behind = mag - ahead, mag - behind
        over_ahead, over_behind = d_ahead > _TIE, d_behind > _TIE
        ge_ahead, ge_behind = d_ahead >= -_TIE, d_behind >= -_TIE
        # (bool algebra, not torch.where: where() on bool tensors is ~100x slower on CPU)
        keep |= in_bin & ((brighter_ahead & over_ahead & ge_behind) | (~brighter_ahead & over_behind & ge_ahead))
    thin = mag * keep

    # Double threshold relative to each image's strongest gradient, then hysteresis: grow the strong
    # edges into the weak ones by repeated 3x3 dilation until nothing changes. Every few steps the
    # images that stopped changing are set aside, so long chains in a few images cost little.
    top = thin.amax(dim=(1, 2, 3), keepdim=True)
    weak = thin > torch.clamp(low * top, min=_TIE)
    strong = thin > torch.clamp(high * top, min=_TIE)
    edges = strong.clone()
    active = torch.arange(n)
    while len(active):
        before = strong
        grid = torch.zeros((len(active), 1, h + 2, w + 2), dtype=torch.bool)
        for _ in range(_STEPS):
            grid[:, :, 1:-1, 1:-1] = strong
            rows = grid[:, :, :, :-2] | grid[:, :, :, 1:-1] | grid[:, :, :, 2:]
            strong = (rows[:, :, :-2] | rows[:, :, 1:-1] | rows[:, :, 2:]) & weak
        edges[active] = strong
        # Growth is monotone: no change over _STEPS steps means none in the first, so converged.
        moving = (strong != before).flatten(1).any(1).nonzero()[:, 0]
        active, strong, weak = active[moving], strong[moving], weak[moving]
    return edges


def edge_map(images: torch.Tensor, sigma: float = EDGE_SIGMA, low: float = EDGE_LOW, high: float = EDGE_HIGH,
             chunk: int = 512) -> torch.Tensor:
    """Canny edges of uint8 images (N, C, H, W), C = 1 or 3 -> uint8 (N, C, H, W): 0 on edges, 255
    elsewhere (black lines on white, like pix2pix's edge maps). Deterministic.

    Gaussian blur (``sigma`` px), Sobel gradients, non-maximum suppression in 4 directions, double
    threshold at ``low``/``high`` x each image's strongest gradient, hysteresis by repeated dilation
    restricted to the weak edges (:data:`EDGE_LOW`, :data:`EDGE_HIGH` say how they were chosen). RGB
    images are reduced to luminance (ITU-R 601) and the edges replicated over the 3 channels. An image
    without any gradient has no edges, and the image border is never an edge. Vectorised over
    ``chunk`` images at a time, on one CPU thread (see below): about 2.5 s for 70,000 32x32 images.
    The result of each image does not depend on the others or on ``chunk``."""
    if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"edge_map wants uint8 (N, 1 or 3, H, W), got {images.dtype} {tuple(images.shape)}")
    if not (sigma > 0 and 0 <= low <= high <= 1):
        raise ValueError(f"edge_map wants sigma > 0 and 0 <= low <= high <= 1, got {sigma}, {low}, {high}")
    n, c, h, w = images.shape
    out = torch.empty((n, 1, h, w), dtype=torch.uint8)
    luma = torch.tensor(_LUMA).view(1, 3, 1, 1)
    # One intra-op thread: each of the ~150 small, memory-bound tensor ops per chunk gains little from
    # a second thread on an idle machine, and with more busy processes than cores the threads'
    # barriers make it 10-50x slower. The caller's setting is restored.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.no_grad():
            for s in range(0, n, chunk):
                x = images[s:s + chunk].cpu().float().div_(255.0)
                if c == 3:
                    x = (x * luma).sum(1, keepdim=True)
                out[s:s + chunk] = (~_edges(x, sigma, low, high)).to(torch.uint8).mul_(255)
    finally:
        torch.set_num_threads(threads)
    return out.expand(-1, c, -1, -1).contiguous().to(images.device)


def _source(name: str, description: str, load, locate, **extra) -> None:
    SOURCES.register(name)(Source(name, description, load, locate, **extra))


def _orient(data: PairedData, cfg: DataConfig) -> PairedData:
    if cfg.direction == "BtoA":
        return PairedData(data.name, data.b, data.a, data.labels, data.num_classes, data.names)
    return data


def _register_edges(name: str, base: str, base_load: Callable[[DataConfig], ImageData],
                    base_locate: Callable[[DataConfig], str], what: str) -> None:
    def locate(cfg: DataConfig) -> str:
        return base_locate(replace(cfg, name=base))

    def load(cfg: DataConfig) -> PairedData:
        images = base_load(replace(cfg, name=base))
        edges = edge_map(images.images, sigma=edge_sigma(cfg.resolution))
        return _orient(PairedData(name, edges, images.images, images.labels, images.num_classes), cfg)

    _source(name, f"edge map -> image pairs of {what}: A = Canny edges of the {base!r} source's images, black "
            "on white, B = the images; its splits, classes kept as labels; direction=BtoA swaps", load, locate,
            sides=("A", "B"), target=base)


_register_edges("edges2fashion", "fashion-mnist", _load_fashion, _locate_fashion,
                "Fashion-MNIST garments (60,000 train / 10,000 test)")
_register_edges("edges2digits", "mnist", _load_mnist, _locate_mnist,
                "MNIST digits (the embedded subset, 4,500 train / 500 test)")


# ----------------------------------------------------------------------------------------------
# Folders: shared helpers
# ----------------------------------------------------------------------------------------------

_SPLITS = ("train", "val", "test")
_EXTS = ", ".join(sorted(IMAGE_EXTENSIONS))


def _root(cfg: DataConfig, what: str) -> Path:
    if not cfg.path:
        raise DataError(f"{what}: set data.path to {_LAYOUTS[what]}")
    root = Path(cfg.path).expanduser()
    if not root.is_dir():
        raise DataError(f"{what}: data.path {cfg.path!r} is not a folder; point it at {_LAYOUTS[what]}")
    return root


def _images(folder: Path) -> list[Path]:
    """Image files under ``folder`` (recursive), sorted."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())


def _split_folders(base: Path, cfg: DataConfig, what: str) -> tuple[list[Path], bool]:
    """The folders to read for ``cfg.split``, and whether ``base`` has split folders at all."""
    present = [s for s in _SPLITS if (base / s).is_dir()]
    if not present:
        if cfg.split == "test":
            raise DataError(f"{what}: {str(base)!r} has no test split (no test/ or val/ folder); use data.split=train "
                            f"or all, or move the held-out images into {str(base / 'test')!r}")
        return [base], False
    if cfg.split == "all":
        return [base / s for s in present], True
    wanted = ["train"] if cfg.split == "train" else ["test", "val"]
    for s in wanted:
        if s in present:
            return [base / s], True
    raise DataError(f"{what}: {str(base)!r} has {', '.join(s + '/' for s in present)} but no "
                    f"{' or '.join(s + '/' for s in wanted)} for data.split={cfg.split}; "
                    "add it or choose another split")


_fit = fit_pil  # the folder source's conversion, for images already in memory (AB halves)


def _warn_skipped(what: str, bad: list[str], total: int, pairs: bool) -> None:
    """One warning naming (up to 5 of) the skipped files, like the folder source's."""
    if bad:
        head = (f"skipped {len(bad)} of {total} pairs with unreadable images" if pairs
                else f"skipped {len(bad)} unreadable image(s) of {total}")
        warnings.warn(f"{what}: {head}: " + ", ".join(bad[:5]) + (" ..." if len(bad) > 5 else ""), stacklevel=4)


_decode_files = decode_files


# ----------------------------------------------------------------------------------------------
# paired: DIR/A + DIR/B with matching names, or side-by-side A|B images
# ----------------------------------------------------------------------------------------------

_LAYOUTS = {
    "paired": "a folder of image pairs: A/ and B/ with matching file names, or side-by-side A|B images "
              "(width = 2 x height), optionally in train/ and test/ (or val/)",
    "unpaired": "a folder holding A/ and B/, or CycleGAN's trainA/, trainB/, testA/, testB/",
    "domains": "a folder with one subfolder of images per domain (at least 2 domains of at least 2 images), "
               "optionally in train/ and test/ (or val/)",
}


def _keyed(folder: Path) -> dict[str, Path]:
    """Images under ``folder`` by relative path without extension; two files sharing one is an error."""
    out: dict[str, Path] = {}
    for p in _images(folder):
        key = p.relative_to(folder).with_suffix("").as_posix()
        if key in out:
            raise DataError(f"paired: {str(folder)!r} holds two images named {key!r} "
                            f"({out[key].name!r} and {p.name!r}); keep one, pairs are matched by name")
        out[key] = p
    return out


def _match(a_dir: Path, b_dir: Path) -> list[tuple[str, Path, Path]]:
    """(name, A file, B file) of the pairs of ``a_dir`` and ``b_dir``, sorted by name."""
    a, b = _keyed(a_dir), _keyed(b_dir)
    if not a and not b:
        raise DataError(f"paired: no images ({_EXTS}) in {str(a_dir)!r} or {str(b_dir)!r}; "
                        "put the inputs in A/ and their targets in B/ under the same file names")
    for this, this_dir, other_dir in ((a, a_dir, b_dir), (b, b_dir, a_dir)):
        if not this:
            raise DataError(f"paired: no images ({_EXTS}) in {str(this_dir)!r}; put the partner of each image "
                            f"of {str(other_dir)!r} there under the same file name")
    for this, other, this_dir, other_dir in ((a, b, a_dir, b_dir), (b, a, b_dir, a_dir)):
        lonely = [k for k in this if k not in other]
        if lonely:
            raise DataError(f"paired: {len(lonely)} of {len(this)} images in {str(this_dir)!r} have no partner in "
                            f"{str(other_dir)!r} (first: {this[lonely[0]].relative_to(this_dir).as_posix()!r}); "
                            "partners must have the same file name (the extension may differ)")
    return [(k, a[k], b[k]) for k in sorted(a)]


def _plan_paired(cfg: DataConfig) -> tuple[Path, list[tuple[str, Path, Path | None]]]:
    """What the ``paired`` source reads: (root, [(name prefix, A folder, B folder) or
    (name prefix, folder of AB images, None)])."""
    root = _root(cfg, "paired")
    if (root / "A").is_dir() or (root / "B").is_dir():
        a_root, b_root = root / "A", root / "B"
        side_with_splits = next((d for d in (a_root, b_root) if any((d / s).is_dir() for s in _SPLITS)), None)
        if side_with_splits is None:
            if cfg.split == "test":
                raise DataError(f"paired: {str(root)!r} has A/ and B/ but no test split (no A/test/ or test/A/); "
                                "use data.split=train or all, or put the held-out pairs in test/A/ and test/B/")
            return root, [("", a_root, b_root)]
        # pix2pix's combine_A_and_B.py layout: A/train, B/train, A/test, ...
        folders, _ = _split_folders(side_with_splits, cfg, "paired")
        prefix = cfg.split == "all"
        return root, [(f"{f.name}/" if prefix else "", a_root / f.name, b_root / f.name) for f in folders]
    folders, has_splits = _split_folders(root, cfg, "paired")
    units: list[tuple[str, Path, Path | None]] = []
    for f in folders:
        prefix = f"{f.name}/" if has_splits and cfg.split == "all" else ""
        if (f / "A").is_dir() or (f / "B").is_dir():
            units.append((prefix, f / "A", f / "B"))
        else:
            units.append((prefix, f, None))
    return root, units


def _locate_paired(cfg: DataConfig) -> str:
    root, units = _plan_paired(cfg)
    n = 0
    for _, a_dir, b_dir in units:
        n += len(_match(a_dir, b_dir)) if b_dir is not None else len(_images(a_dir))
    if n == 0:
        raise DataError(f"paired: no images ({_EXTS}) under {str(root)!r}; expected {_LAYOUTS['paired']}")
    return f"{root} ({n} pairs)"


def _load_ab_folder(folder: Path, root: Path, prefix: str, cfg: DataConfig, bad: list[str]):
    """Side-by-side A|B images of ``folder`` -> (A, B, names, number of files)."""
    from PIL import Image

    files = _images(folder)
    res, ch = cfg.resolution, cfg.channels
    a = np.empty((len(files), ch, res, res), dtype=np.uint8)
    b = np.empty_like(a)
    names: list[str] = []
    wrong: list[tuple[str, int, int]] = []
    progress = _progress(len(files), f"decoding {len(files)} A|B images")
    for f in files:
        rel = f.relative_to(folder)
        try:
            with Image.open(f) as im:
                w, h = im.size
                if w != 2 * h:
                    wrong.append((rel.as_posix(), w, h))
                else:
                    im.load()
                    i = len(names)
                    a[i] = _fit(im.crop((0, 0, h, h)), res, ch)
                    b[i] = _fit(im.crop((h, 0, w, h)), res, ch)
                    names.append(prefix + rel.with_suffix("").as_posix())
        except _UNREADABLE as e:
            bad.append(f"{f.relative_to(root).as_posix()} ({type(e).__name__})")
        progress.update(1)
    progress.close()
    if wrong:
        first, w, h = wrong[0]
        raise DataError(f"paired: {len(wrong)} of {len(files)} images in {str(folder)!r} are not side-by-side A|B "
                        f"pairs, whose width is twice the height (first: {first!r}, {w}x{h}); crop or pad them to "
                        "2:1, or put the two sides in A/ and B/ with matching names")
    return a[:len(names)], b[:len(names)], names, len(files)


def _load_ab_pairs(pairs: list[tuple[str, Path, Path]], root: Path, prefix: str, cfg: DataConfig,
                   bad: list[str]):
    res, ch = cfg.resolution, cfg.channels
    a = np.empty((len(pairs), ch, res, res), dtype=np.uint8)
    b = np.empty_like(a)
    names: list[str] = []
    progress = _progress(len(pairs), f"decoding {len(pairs)} pairs")
    for name, fa, fb in pairs:
        i = len(names)
        failed = []
        for f, out in ((fa, a), (fb, b)):
            try:
                out[i] = _decode(f, res, ch)
            except _UNREADABLE as e:
                failed.append(f"{f.relative_to(root).as_posix()} ({type(e).__name__})")
        if failed:
            bad.append(" and ".join(failed))
        else:
            names.append(prefix + name)
        progress.update(1)
    progress.close()
    return a[:len(names)], b[:len(names)], names, len(pairs)


def _load_paired(cfg: DataConfig) -> PairedData:
    root, units = _plan_paired(cfg)
    parts, bad, total = [], [], 0
    for prefix, a_dir, b_dir in units:
        if b_dir is None:
            part = _load_ab_folder(a_dir, root, prefix, cfg, bad)
        else:
            part = _load_ab_pairs(_match(a_dir, b_dir), root, prefix, cfg, bad)
        parts.append(part)
        total += part[3]
    if total == 0:
        raise DataError(f"paired: no images ({_EXTS}) under {str(root)!r}; expected {_LAYOUTS['paired']}")
    _warn_skipped("paired", bad, total, pairs=True)
    names = [n for p in parts for n in p[2]]
    if not names:
        raise DataError(f"paired: none of the {total} pairs under {str(root)!r} could be read")
    a = torch.from_numpy(np.concatenate([p[0] for p in parts]))
    b = torch.from_numpy(np.concatenate([p[1] for p in parts]))
    return _orient(PairedData("paired", a, b, names=names), cfg)


_source("paired", "your aligned image pairs in data.path: A/ and B/ with matching file names, or side-by-side "
        "A|B images as pix2pix ships them; split folders train/, test/ (or val/) optional; direction=BtoA swaps",
        _load_paired, _locate_paired, sides=("A", "B"))


# ----------------------------------------------------------------------------------------------
# unpaired: DIR/A + DIR/B, or CycleGAN's trainA/trainB/testA/testB
# ----------------------------------------------------------------------------------------------

def _plan_unpaired(cfg: DataConfig) -> tuple[Path, list[Path], list[Path]]:
    root = _root(cfg, "unpaired")
    if (root / "A").is_dir() or (root / "B").is_dir():
        if cfg.split == "test":
            raise DataError(f"unpaired: {str(root)!r} has A/ and B/ but no test split; use data.split=train or all, "
                            "or use CycleGAN's layout trainA/, trainB/, testA/, testB/")
        return root, [root / "A"], [root / "B"]
    cyclegan = [f"{s}{side}" for s in ("train", "test") for side in "AB"]
    listed = ", ".join(d + "/" for d in cyclegan)
    if not any((root / d).is_dir() for d in cyclegan):
        raise DataError(f"unpaired: {str(root)!r} holds neither A/ and B/ nor CycleGAN's {listed}; "
                        "put one image set in each")
    splits = {"train": ["train"], "test": ["test"], "all": ["train", "test"]}[cfg.split]
    if cfg.split == "all":  # everything there is (a dataset may ship without test sets)
        splits = [s for s in splits if (root / f"{s}A").is_dir() or (root / f"{s}B").is_dir()]
    return root, [root / f"{s}A" for s in splits], [root / f"{s}B" for s in splits]


def _side_files(dirs: list[Path]) -> list[Path]:
    files = [f for d in dirs for f in _images(d)]
    if not files:
        where = " or ".join(repr(str(d)) for d in dirs)
        missing = [d for d in dirs if not d.is_dir()]
        raise DataError(f"unpaired: {where} " + ("does not exist" if len(missing) == len(dirs) else
                        f"holds no images ({_EXTS})") + "; put that side's images there")
    return files


def _locate_unpaired(cfg: DataConfig) -> str:
    root, a_dirs, b_dirs = _plan_unpaired(cfg)
    return f"{root} ({len(_side_files(a_dirs))} A, {len(_side_files(b_dirs))} B images)"


def _load_unpaired(cfg: DataConfig) -> UnpairedData:
    root, a_dirs, b_dirs = _plan_unpaired(cfg)
    sides = []
    for dirs in (a_dirs, b_dirs):
        files = _side_files(dirs)
        x, good = _decode_files(files, root, cfg, "unpaired")
        if not good:
            raise DataError(f"unpaired: none of the {len(files)} images in "
                            f"{' or '.join(repr(str(d)) for d in dirs)} could be read")
        sides.append(ImageData(f"unpaired:{dirs[0].name}", torch.from_numpy(x)))
    a, b = sides if cfg.direction == "AtoB" else sides[::-1]
    return UnpairedData("unpaired", a, b)


_source("unpaired", "two unaligned image sets in data.path: A/ and B/, or CycleGAN's trainA/, trainB/, testA/, "
        "testB/ by split; any names and counts; direction=BtoA swaps", _load_unpaired, _locate_unpaired,
        sides=("A", "B"))


# ----------------------------------------------------------------------------------------------
# domains: DIR/<domain>/... -> labels = domain index
# ----------------------------------------------------------------------------------------------

def _plan_domains(cfg: DataConfig) -> tuple[Path, list[Path], list[str]]:
    root = _root(cfg, "domains")
    folders, has_splits = _split_folders(root, cfg, "domains")
    # Domains of every split, so a domain has the same index whichever split is read.
    scan = [root / s for s in _SPLITS if (root / s).is_dir()] if has_splits else [root]
    names = sorted({d.name for f in scan for d in f.iterdir() if d.is_dir() and not d.name.startswith(".")})
    if len(names) < 2:
        raise DataError(f"domains: {str(root)!r} holds {len(names)} domain folder(s)"
                        + (f" ({names[0]!r})" if names else "")
                        + "; put the images of each domain in its own subfolder, at least 2 domains")
    return root, folders, names


def domain_names(cfg: DataConfig) -> list[str]:
    """The domains of the ``domains`` source, in the order of their labels (sorted folder names)."""
    return _plan_domains(cfg)[2]


def _locate_domains(cfg: DataConfig) -> str:
    root, folders, names = _plan_domains(cfg)
    n = sum(len(_images(f / d)) for f in folders for d in names)
    return f"{root} ({n} images in {len(names)} domains)"


def _load_domains(cfg: DataConfig) -> ImageData:
    root, folders, names = _plan_domains(cfg)
    files: list[Path] = []
    labels: list[int] = []
    for f in folders:
        loose = [p for p in f.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
        if loose:
            warnings.warn(f"domains: ignored {len(loose)} image(s) directly in {str(f)!r} (first: {loose[0].name!r}); "
                          "put every image in its domain's folder", stacklevel=2)
        for i, d in enumerate(names):
            if not (f / d).is_dir():
                continue  # a domain absent from this split
            found = _images(f / d)
            if not found:
                raise DataError(f"domains: no images ({_EXTS}) in {str(f / d)!r}; add some or remove the folder")
            if len(found) < 2:
                raise DataError(f"domains: {str(f / d)!r} holds {len(found)} image; a domain needs at least 2 "
                                "images (add more or remove the folder)")
            files += found
            labels += [i] * len(found)
    if not files:
        raise DataError(f"domains: no images ({_EXTS}) in the domain folders of {str(root)!r}")
    x, good = _decode_files(files, root, cfg, "domains")
    if not good:
        raise DataError(f"domains: none of the {len(files)} images under {str(root)!r} could be read")
    kept = set(good)
    y = torch.tensor([lab for f, lab in zip(files, labels) if f in kept], dtype=torch.int64)
    # The domain as StarGAN's code: one-hot, one group of mutually exclusive attributes.
    attributes = F.one_hot(y, len(names)).to(torch.float32)
    return ImageData("domains", torch.from_numpy(x), y, len(names), label_key="domain", attributes=attributes,
                     attribute_names=tuple(names), attribute_groups=(tuple(range(len(names))),))


_source("domains", "images of several domains in data.path, one subfolder each (recursive, at least 2 domains of "
        "at least 2 images): labels = domain index in sorted folder order, attributes = its one-hot code; split "
        "folders train/, test/ (or val/) optional", _load_domains, _locate_domains)
