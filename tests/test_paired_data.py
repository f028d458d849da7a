"""Image-to-image data sources (gankit.data.paired): the Canny edge detector, edges2digits and
edges2fashion on real data, and the folder sources paired, unpaired and domains built from small
PNG folders in tmp_path, including every error message."""
from __future__ import annotations

import re
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.config import DataConfig
from gankit.data import PairedData, SOURCES, UnpairedData, load_data
from gankit.data.paired import EDGE_HIGH, EDGE_LOW, _fit, domain_names, edge_map, edge_sigma
from gankit.data.sources import FASHION_MNIST_DIR, _decode
from gankit.errors import DataError


# ----------------------------------------------------------------------------------------------
# edge_map
# ----------------------------------------------------------------------------------------------

def _square(inverted: bool = False) -> torch.Tensor:
    x = torch.zeros((1, 1, 32, 32), dtype=torch.uint8)
    x[..., 8:24, 6:26] = 255  # rows 8..23, columns 6..25
    return 255 - x if inverted else x


def _ring(top: int, bottom: int, left: int, right: int) -> torch.Tensor:
    """bool (32, 32): the one-pixel border of rows top..bottom x columns left..right (inclusive)."""
    m = torch.zeros((32, 32), dtype=torch.bool)
    m[top, left:right + 1] = m[bottom, left:right + 1] = True
    m[top:bottom + 1, left] = m[top:bottom + 1, right] = True
    return m


def test_white_square_edges_lie_exactly_on_its_border():
    e = edge_map(_square())
    assert e.dtype == torch.uint8 and e.shape == (1, 1, 32, 32)
    assert set(e.unique().tolist()) == {0, 255}
    # Exactly the square's own border pixels: nothing inside, nothing outside, no gaps.
    assert torch.equal(e[0, 0] == 0, _ring(8, 23, 6, 25))


def test_dark_square_on_white_gives_one_closed_outline_at_its_border():
    e = edge_map(_square(inverted=True))[0, 0] == 0
    band = _ring(8, 23, 6, 25) | _ring(7, 24, 5, 26)  # the square's border and the ring just outside
    assert e.any() and not (e & ~band).any()
    # One crossing per side along every row and column through the square's middle part.
    assert all(int(e[r].sum()) == 2 for r in range(11, 21))
    assert all(int(e[:, c].sum()) == 2 for c in range(9, 23))


def test_edge_map_flat_images_thresholds_and_rgb():
    flat = torch.full((3, 1, 16, 16), 77, dtype=torch.uint8)
    assert torch.equal(edge_map(flat), torch.full_like(flat, 255))  # no gradient: no edges
    assert 0 < EDGE_LOW < EDGE_HIGH < 1 and edge_sigma(32) == 1.0 and edge_sigma(64) == 2.0
    # A coloured square: edges of its luminance, replicated on the 3 channels.
    rgb = torch.zeros((1, 3, 32, 32), dtype=torch.uint8)
    rgb[0, :, 8:24, 6:26] = torch.tensor([200, 30, 90], dtype=torch.uint8).view(3, 1, 1)
    e = edge_map(rgb)
    assert e.shape == (1, 3, 32, 32)
    assert torch.equal(e[:, :1], e[:, 1:2]) and torch.equal(e[:, :1], e[:, 2:])
    assert torch.equal(e[0, 0] == 0, _ring(8, 23, 6, 25))
    with pytest.raises(ValueError, match="uint8"):
        edge_map(rgb.float())
    with pytest.raises(ValueError, match="low <= high"):
        edge_map(rgb, low=0.5, high=0.2)


def test_edge_map_is_deterministic_and_independent_of_the_chunking():
    g = torch.Generator().manual_seed(0)
    x = (torch.rand((37, 1, 24, 24), generator=g) * 255).to(torch.uint8)
    x = torch.nn.functional.avg_pool2d(x.float(), 3, 1, 1).to(torch.uint8)  # some structure
    a = edge_map(x)
    assert torch.equal(a, edge_map(x))
    assert torch.equal(a, edge_map(x, chunk=5))
    assert torch.equal(a[7:8], edge_map(x[7:8]))  # an image's edges do not depend on the others


# ----------------------------------------------------------------------------------------------
# edges2digits / edges2fashion
# ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def digits32():
    return {s: load_data(DataConfig(name="edges2digits", split=s, resolution=32)) for s in ("train", "test")}


def test_edges2digits_pairs_the_mnist_subset_with_its_edge_maps(digits32):
    train, test = digits32["train"], digits32["test"]
    assert isinstance(train, PairedData) and (len(train), len(test)) == (4500, 500)
    mnist = load_data(DataConfig(name="mnist", split="test", resolution=32))
    assert torch.equal(test.b, mnist.images) and torch.equal(test.labels, mnist.labels)
    assert test.num_classes == 10 and torch.bincount(train.labels).tolist() == [450] * 10
    assert test.shapes == {"A": (1, 32, 32), "B": (1, 32, 32)} and test.name == "edges2digits"
    assert torch.equal(test.a, edge_map(test.b))
    assert set(train.a.unique().tolist()) == {0, 255}
    edges = train.a == 0
    assert edges.flatten(1).any(1).all()  # every digit has an outline
    assert (train.b[edges] > 0).float().mean() > 0.97  # ... on the digit's own border pixels
    assert 0.05 < edges.float().mean() < 0.2  # thin lines, not filled shapes
    batch = test.batch(torch.tensor([0, 3]))
    assert set(batch) == {"A", "B", "y"} and batch["A"].min() == -1 and batch["A"].max() == 1


def test_edges2digits_direction_and_resolution(digits32):
    swapped = load_data(DataConfig(name="edges2digits", split="test", resolution=32, direction="BtoA"))
    assert torch.equal(swapped.a, digits32["test"].b) and torch.equal(swapped.b, digits32["test"].a)
    assert torch.equal(swapped.labels, digits32["test"].labels)
    rgb28 = load_data(DataConfig(name="edges2digits", split="test", resolution=28, channels=3))
    mnist = load_data(DataConfig(name="mnist", split="test", resolution=28, channels=3))
    assert torch.equal(rgb28.b, mnist.images)
    assert torch.equal(rgb28.a, edge_map(mnist.images, sigma=edge_sigma(28)))
    assert rgb28.shapes == {"A": (3, 28, 28), "B": (3, 28, 28)}


@pytest.mark.skipif(not Path(FASHION_MNIST_DIR).is_dir(),
                    reason=f"Fashion-MNIST is not installed in {FASHION_MNIST_DIR} "
                           "(apt-get install dataset-fashion-mnist)")
def test_edges2fashion_sizes_and_speed():
    t0 = time.perf_counter()
    train = load_data(DataConfig(name="edges2fashion", split="train", resolution=32))
    seconds = time.perf_counter() - t0
    test = load_data(DataConfig(name="edges2fashion", split="test", resolution=32))
    assert (len(train), len(test)) == (60_000, 10_000)
    assert seconds < 12, f"60,000 edge maps took {seconds:.1f} s"
    assert train.num_classes == 10 and torch.bincount(test.labels).tolist() == [1000] * 10
    fashion = load_data(DataConfig(name="fashion-mnist", split="test", resolution=32))
    assert torch.equal(test.b, fashion.images)
    assert torch.equal(test.a[:100], edge_map(fashion.images[:100]))
    assert set(test.a.unique().tolist()) == {0, 255}
    assert (test.a == 0).flatten(1).any(1).all()


def test_edge_sources_are_registered_with_their_sides():
    for name in ("edges2fashion", "edges2digits", "paired", "unpaired", "domains"):
        assert name in SOURCES and SOURCES.get(name).description
    assert SOURCES.get("edges2digits").locate(DataConfig(name="edges2digits")).endswith("mnist_5k.csv.gz")


# ----------------------------------------------------------------------------------------------
# Folder helpers
# ----------------------------------------------------------------------------------------------

def _img(seed: int, h: int = 8, w: int = 8, c: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (h, w) if c == 1 else (h, w, c), dtype=np.uint8)


def _save(path: Path, arr: np.ndarray) -> np.ndarray:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return arr


def _chw(arr: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1).copy())


def _paired(path, **kw):
    return load_data(DataConfig(name="paired", path=str(path), resolution=kw.pop("resolution", 8), **kw))


# ----------------------------------------------------------------------------------------------
# paired: A/ and B/
# ----------------------------------------------------------------------------------------------

def test_paired_a_b_folders_match_by_name(tmp_path):
    want = {}
    for i, name in enumerate(["b", "a", "sub/c"]):
        # The extension may differ between the sides; lossless formats only.
        want[name] = (_save(tmp_path / "A" / f"{name}.png", _img(i)),
                      _save(tmp_path / "B" / f"{name}.bmp", _img(10 + i)))
    d = _paired(tmp_path)
    assert isinstance(d, PairedData) and d.names == ["a", "b", "sub/c"] and d.labels is None
    for k, name in enumerate(d.names):
        assert torch.equal(d.a[k], _chw(want[name][0])) and torch.equal(d.b[k], _chw(want[name][1]))
    swapped = _paired(tmp_path, direction="BtoA")
    assert torch.equal(swapped.a, d.b) and torch.equal(swapped.b, d.a) and swapped.names == d.names
    assert SOURCES.get("paired").locate(DataConfig(name="paired", path=str(tmp_path))) == f"{tmp_path} (3 pairs)"
    with pytest.raises(DataError, match=r"paired: .* has A/ and B/ but no test split"):
        _paired(tmp_path, split="test")


def test_paired_resizes_and_converts_like_the_folder_source(tmp_path):
    fa = tmp_path / "A" / "x.png"
    _save(fa, _img(1, 20, 30, 3))
    _save(tmp_path / "B" / "x.png", _img(2, 30, 20))
    for res, ch in ((8, 1), (8, 3), (40, 3)):
        d = _paired(tmp_path, resolution=res, channels=ch)
        assert d.shapes == {"A": (ch, res, res), "B": (ch, res, res)}
        assert np.array_equal(d.a[0].numpy(), _decode(fa, res, ch))
        with Image.open(fa) as im:  # the helper used for A|B halves does what _decode does
            assert np.array_equal(_fit(im, res, ch), _decode(fa, res, ch))


def test_paired_name_mismatches_are_reported_both_ways(tmp_path):
    for name in ["a", "b", "c"]:
        _save(tmp_path / "A" / f"{name}.png", _img(0))
    for name in ["a", "b"]:
        _save(tmp_path / "B" / f"{name}.png", _img(0))
    a, b = str(tmp_path / "A"), str(tmp_path / "B")
    with pytest.raises(DataError, match=re.escape(f"paired: 1 of 3 images in {a!r} have no partner in {b!r} "
                                                  "(first: 'c.png'); partners must have the same file name")):
        _paired(tmp_path)
    (tmp_path / "A" / "c.png").unlink()
    for name in ["d", "e"]:
        _save(tmp_path / "B" / f"{name}.jpg", _img(0))
    with pytest.raises(DataError, match=re.escape(f"paired: 2 of 4 images in {b!r} have no partner in {a!r} "
                                                  "(first: 'd.jpg')")):
        _paired(tmp_path)
    _save(tmp_path / "A" / "d.bmp", _img(0))
    _save(tmp_path / "A" / "d.png", _img(0))
    with pytest.raises(DataError, match=re.escape(f"paired: {a!r} holds two images named 'd' ('d.bmp' and 'd.png')")):
        _paired(tmp_path)


def test_paired_empty_sides_and_no_images(tmp_path):
    _save(tmp_path / "A" / "x.png", _img(0))
    (tmp_path / "B").mkdir()
    b = str(tmp_path / "B")
    with pytest.raises(DataError, match=re.escape("paired: no images (.bmp, ") + ".*" +
                       re.escape(f") in {b!r}; put the partner of each image of {str(tmp_path / 'A')!r} there")):
        _paired(tmp_path)
    (tmp_path / "A" / "x.png").rename(tmp_path / "B" / "x.png")
    with pytest.raises(DataError, match=r"paired: no images \(.*\) in '.*A'; put the partner of each image of '.*B'"):
        _paired(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match=re.escape("paired: no images (") + ".*"
                       + re.escape(f") under {str(empty)!r}")):
        _paired(empty)
    with pytest.raises(DataError, match=r"paired: set data\.path"):
        load_data(DataConfig(name="paired"))
    with pytest.raises(DataError, match=r"paired: data\.path '.*nowhere' is not a folder"):
        _paired(tmp_path / "nowhere")


def test_paired_corrupt_file_skips_its_pair_with_a_warning(tmp_path):
    for i, name in enumerate(["a", "b", "c"]):
        _save(tmp_path / "A" / f"{name}.png", _img(i))
        _save(tmp_path / "B" / f"{name}.png", _img(5 + i))
    (tmp_path / "B" / "b.png").write_bytes(b"not a png")
    with pytest.warns(UserWarning, match=r"paired: skipped 1 of 3 pairs with unreadable images: B/b\.png "
                                         r"\(UnidentifiedImageError\)"):
        d = _paired(tmp_path)
    assert d.names == ["a", "c"] and len(d) == 2
    assert torch.equal(d.b[1], _chw(_img(7)))
    for name in ["a", "c"]:
        (tmp_path / "A" / f"{name}.png").write_bytes(b"\x89PNG broken")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(DataError, match=r"paired: none of the 3 pairs under '.*' could be read"):
            _paired(tmp_path)


# ----------------------------------------------------------------------------------------------
# paired: side-by-side A|B images, split folders
# ----------------------------------------------------------------------------------------------

def _ab(path: Path, seed: int, h: int = 8, c: int = 3):
    left, right = _img(seed, h, h, c), _img(seed + 100, h, h, c)
    _save(path, np.concatenate([left, right], axis=1))
    return left, right


def test_paired_side_by_side_images_with_split_folders(tmp_path):
    want = {}
    for split, names in (("train", ["1", "2", "3"]), ("test", ["9", "8"]), ("val", ["7"])):
        for name in names:
            want[f"{split}/{name}"] = _ab(tmp_path / split / f"{name}.png", seed=int(name))
    train = _paired(tmp_path, channels=3)
    assert train.names == ["1", "2", "3"] and train.shapes == {"A": (3, 8, 8), "B": (3, 8, 8)}
    for k, name in enumerate(train.names):
        left, right = want[f"train/{name}"]
        assert torch.equal(train.a[k], _chw(left)) and torch.equal(train.b[k], _chw(right))
    test = _paired(tmp_path, split="test", channels=3)  # test/ is preferred to val/
    assert test.names == ["8", "9"] and torch.equal(test.b[0], _chw(want["test/8"][1]))
    everything = _paired(tmp_path, split="all", channels=3)
    assert everything.names == ["train/1", "train/2", "train/3", "val/7", "test/8", "test/9"]
    assert torch.equal(everything.a[3], _chw(want["val/7"][0]))
    swapped = _paired(tmp_path, split="test", channels=3, direction="BtoA")
    assert torch.equal(swapped.a, test.b) and torch.equal(swapped.b, test.a)
    # Without test/, the test split is val/.
    for f in (tmp_path / "test").iterdir():
        f.unlink()
    (tmp_path / "test").rmdir()
    assert _paired(tmp_path, split="test", channels=3).names == ["7"]


def test_paired_side_by_side_without_splits_and_resizing(tmp_path):
    root = tmp_path / "ab"
    left, right = _ab(root / "x.png", seed=3, h=20, c=1)
    _save(tmp_path / "ref" / "left.png", left)
    _save(tmp_path / "ref" / "right.png", right)
    for split in ("train", "all"):
        d = _paired(root, resolution=8, split=split)
        assert d.names == ["x"]
        assert np.array_equal(d.a[0].numpy(), _decode(tmp_path / "ref" / "left.png", 8, 1))
        assert np.array_equal(d.b[0].numpy(), _decode(tmp_path / "ref" / "right.png", 8, 1))
    with pytest.raises(DataError,
                       match=re.escape(f"paired: {str(root)!r} has no test split (no test/ or val/ folder)")):
        _paired(root, split="test")


def test_paired_side_by_side_wrong_aspect_ratio(tmp_path):
    _ab(tmp_path / "train" / "good.png", seed=1)
    _save(tmp_path / "train" / "square.png", _img(2, 8, 8))
    _save(tmp_path / "train" / "wide.png", _img(3, 10, 30))
    folder = str(tmp_path / "train")
    with pytest.raises(DataError, match=re.escape(
            f"paired: 2 of 3 images in {folder!r} are not side-by-side A|B pairs, whose width is twice the height "
            "(first: 'square.png', 8x8)")):
        _paired(tmp_path)


def test_paired_split_folder_missing_and_a_b_inside_splits(tmp_path):
    for split in ("train", "test"):
        for name in ("p", "q"):
            _save(tmp_path / split / "A" / f"{name}.png", _img(ord(name)))
            _save(tmp_path / split / "B" / f"{name}.png", _img(ord(name) + 1))
    assert _paired(tmp_path, split="test").names == ["p", "q"]
    assert _paired(tmp_path, split="all").names == ["train/p", "train/q", "test/p", "test/q"]
    only_test = tmp_path / "only_test"
    _ab(only_test / "test" / "z.png", seed=4)
    with pytest.raises(DataError, match=re.escape(f"paired: {str(only_test)!r} has test/ but no train/ "
                                                  "for data.split=train")):
        _paired(only_test)
    # pix2pix's combine_A_and_B.py layout: A/train, B/train, A/test, B/test.
    combo = tmp_path / "combo"
    for split in ("train", "test"):
        _save(combo / "A" / split / "k.png", _img(1))
        _save(combo / "B" / split / "k.png", _img(2))
    assert _paired(combo, split="test").names == ["k"]
    assert _paired(combo, split="all").names == ["train/k", "test/k"]


# ----------------------------------------------------------------------------------------------
# unpaired
# ----------------------------------------------------------------------------------------------

def test_unpaired_a_and_b(tmp_path):
    a = [_save(tmp_path / "A" / f"{n}.png", _img(i)) for i, n in enumerate(["x", "y", "z"])]
    b = [_save(tmp_path / "B" / f"{n}.png", _img(10 + i)) for i, n in enumerate(["k", "l", "m", "n", "o"])]
    d = load_data(DataConfig(name="unpaired", path=str(tmp_path), resolution=8))
    assert isinstance(d, UnpairedData) and d.streams == {"A": 3, "B": 5}
    assert torch.equal(d.a.images, torch.stack([_chw(x) for x in a]))
    assert torch.equal(d.b.images, torch.stack([_chw(x) for x in b]))
    batch = d.take({"A": torch.tensor([0]), "B": torch.tensor([4, 1])})
    assert set(batch) == {"A", "B"} and batch["B"].shape == (2, 1, 8, 8)
    swapped = load_data(DataConfig(name="unpaired", path=str(tmp_path), resolution=8, direction="BtoA"))
    assert swapped.streams == {"A": 5, "B": 3} and torch.equal(swapped.a.images, d.b.images)
    with pytest.raises(DataError, match=r"unpaired: '.*' has A/ and B/ but no test split"):
        load_data(DataConfig(name="unpaired", path=str(tmp_path), split="test"))
    for f in (tmp_path / "B").iterdir():
        f.unlink()
    with pytest.raises(DataError, match=re.escape(f"unpaired: {str(tmp_path / 'B')!r} holds no images")):
        load_data(DataConfig(name="unpaired", path=str(tmp_path), resolution=8))


def test_unpaired_cyclegan_layout_by_split(tmp_path):
    for split, n in (("train", 4), ("test", 2)):
        for side in "AB":
            for i in range(n + (side == "B")):
                _save(tmp_path / f"{split}{side}" / f"{i}.png", _img(i))
    counts = {s: load_data(DataConfig(name="unpaired", path=str(tmp_path), split=s, resolution=8)).streams
              for s in ("train", "test", "all")}
    assert counts == {"train": {"A": 4, "B": 5}, "test": {"A": 2, "B": 3}, "all": {"A": 6, "B": 8}}
    (tmp_path / "testB" / "0.png").write_bytes(b"junk")
    with pytest.warns(UserWarning,
                      match=r"unpaired: skipped 1 unreadable image\(s\) of 3: testB/0\.png \(UnidentifiedImageError\)"):
        d = load_data(DataConfig(name="unpaired", path=str(tmp_path), split="test", resolution=8))
    assert d.streams == {"A": 2, "B": 2}
    for f in (tmp_path / "testA").iterdir():
        f.unlink()
    with pytest.raises(DataError, match=re.escape(f"unpaired: {str(tmp_path / 'testA')!r} holds no images")):
        load_data(DataConfig(name="unpaired", path=str(tmp_path), split="test"))
    with pytest.raises(DataError, match=r"unpaired: '.*' holds neither A/ and B/ nor CycleGAN's trainA/"):
        load_data(DataConfig(name="unpaired", path=str(tmp_path / "testA")))


# ----------------------------------------------------------------------------------------------
# domains
# ----------------------------------------------------------------------------------------------

def test_domains_labels_are_sorted_folder_indices(tmp_path):
    imgs = {}
    for dom, names in (("zebra", ["1", "2"]), ("cat", ["a", "deep/b"]), ("dog", ["x", "y"])):
        for i, n in enumerate(names):
            imgs[(dom, n)] = _save(tmp_path / dom / f"{n}.png", _img(len(imgs)))
    d = load_data(DataConfig(name="domains", path=str(tmp_path), resolution=8))
    assert d.num_classes == 3 and d.label_key == "domain" and d.labels.tolist() == [0, 0, 1, 1, 2, 2]
    assert torch.equal(d.images[1], _chw(imgs[("cat", "deep/b")]))
    assert torch.equal(d.images[5], _chw(imgs[("zebra", "2")]))
    assert set(d.batch(torch.tensor([0, 2]))) == {"x", "domain", "attrs"}
    assert domain_names(DataConfig(name="domains", path=str(tmp_path))) == ["cat", "dog", "zebra"]
    with pytest.raises(DataError, match=r"domains: '.*' has no test split"):
        load_data(DataConfig(name="domains", path=str(tmp_path), split="test"))
    _save(tmp_path / "loose.png", _img(0))
    with pytest.warns(UserWarning, match=r"domains: ignored 1 image\(s\) directly in"):
        load_data(DataConfig(name="domains", path=str(tmp_path), resolution=8))
    (tmp_path / "loose.png").unlink()
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=re.escape("domains: no images (") + ".*" +
                       re.escape(f") in {str(tmp_path / 'empty')!r}; add some or remove the folder")):
        load_data(DataConfig(name="domains", path=str(tmp_path), resolution=8))


def test_domains_need_two_and_keep_indices_across_splits(tmp_path):
    _save(tmp_path / "one" / "only" / "a.png", _img(0))
    with pytest.raises(DataError, match=r"domains: '.*one' holds 1 domain folder\(s\) \('only'\); .* at least 2"):
        load_data(DataConfig(name="domains", path=str(tmp_path / "one")))
    root = tmp_path / "split"
    for dom in ("a", "b", "c"):
        for i in range(2):
            _save(root / "train" / dom / f"{i}.png", _img(i))
    for i in range(2):
        _save(root / "test" / "c" / f"{i}.png", _img(2 + i))  # a test split with one domain only
    test = load_data(DataConfig(name="domains", path=str(root), split="test", resolution=8))
    assert test.labels.tolist() == [2, 2] and test.num_classes == 3
    everything = load_data(DataConfig(name="domains", path=str(root), split="all", resolution=8))
    assert everything.labels.tolist() == [0, 0, 1, 1, 2, 2, 2, 2]
