"""The built-in translation tasks (gankit.data.tasks): fonts, mnist-color, mnist2fonts, mnist2color and
mnist-attributes, the new fields of ImageData/UnpairedData/Source they fill, and the domain codes of
the ``domains`` source. Each split is loaded once per module (a few seconds in all)."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.config import DataConfig
from gankit.data import SOURCES, ImageData, UnpairedData, data_info, load_data
from gankit.data import tasks
from gankit.data.tasks import (ATTRIBUTE_GROUPS, ATTRIBUTE_NAMES, FONT_FACES, _render_fonts, colorize,
                               side_source_names)
from gankit.errors import DataError

RES = 32


def _cfg(name: str, split: str = "train", channels: int = 1, **kw) -> DataConfig:
    return DataConfig(name=name, split=split, resolution=RES, channels=channels, **kw)


_loaded: dict[tuple, object] = {}


def _load(name: str, split: str = "train", channels: int = 1):
    """Each (source, split, channels) loaded once for the whole module."""
    key = (name, split, channels)
    if key not in _loaded:
        _loaded[key] = load_data(_cfg(name, split, channels))
    return _loaded[key]


def _keys(images: torch.Tensor) -> set[bytes]:
    return {x.numpy().tobytes() for x in images}


# ----------------------------------------------------------------------------------------------
# Registration
# ----------------------------------------------------------------------------------------------

def test_the_tasks_are_registered_with_their_sides(monkeypatch):
    for name in ("fonts", "mnist-color", "mnist-attributes"):
        src = SOURCES.get(name)
        assert src.sides == ("x",) and src.side_sources is None and src.description
    for name, sides in (("mnist2fonts", ("mnist", "fonts")), ("mnist2color", ("mnist", "mnist-color"))):
        src = SOURCES.get(name)
        assert src.sides == ("A", "B") and src.side_sources == sides and src.target == sides[1]
        assert side_source_names(DataConfig(name=name)) == sides
        assert side_source_names(DataConfig(name=name, direction="BtoA")) == sides[::-1]
        assert "mnist_5k.csv.gz" in src.locate(DataConfig(name=name))
    assert side_source_names(DataConfig(name="mnist")) is None
    assert SOURCES.get("fonts").locate(DataConfig(name="fonts")).endswith(f"({len(FONT_FACES)} faces)")
    assert data_info(_cfg("mnist2color", channels=3))[0] == {"A": (3, RES, RES), "B": (3, RES, RES)}
    with pytest.raises(DataError, match=r"fonts: a built-in dataset; data.path \('x'\) is not used"):
        load_data(_cfg("fonts", path="x"))
    monkeypatch.setattr(tasks, "FONT_FACES", FONT_FACES + ("NoSuchFace",))
    with pytest.raises(DataError, match=r"fonts: the installed matplotlib lacks NoSuchFace.ttf in '.*'; reinstall"):
        SOURCES.get("mnist2fonts").locate(DataConfig(name="mnist2fonts"))


# ----------------------------------------------------------------------------------------------
# fonts
# ----------------------------------------------------------------------------------------------

def test_fonts_splits_are_balanced_different_draws_of_mnist_like_digits():
    train, test = _load("fonts", "train"), _load("fonts", "test")
    for d, n in ((train, 5000), (test, 1000)):
        assert isinstance(d, ImageData) and d.images.shape == (n, 1, RES, RES) and d.images.dtype == torch.uint8
        assert d.num_classes == 10 and d.labels.dtype == torch.int64
        assert torch.bincount(d.labels).tolist() == [n // 10] * 10
        assert (d.images.flatten(1).amax(1) >= 200).all()  # every digit is drawn
    assert not _keys(train.images) & _keys(test.images)  # different augmentation draws
    # Deterministic: a fresh render (bypassing the in-process cache) gives the same images.
    x, y = _render_fonts.__wrapped__("test")
    native = load_data(DataConfig(name="fonts", split="test"))  # 28 px, the render itself
    assert torch.equal(native.images, x) and torch.equal(native.labels, y)
    assert (x.flatten(1).amax(1) == 255).all()  # in full white at the native 28 px
    # Like MNIST: centred by centre of mass, about as much ink (within a factor 1.5 on average).
    rows = torch.arange(28, dtype=torch.float32)
    mass = x.float().sum((1, 2, 3))
    cy = (x.float().sum((1, 3)) * rows).sum(1) / mass
    cx = (x.float().sum((1, 2)) * rows).sum(1) / mass
    assert (cy - 13.5).abs().max() < 3 and (cx - 13.5).abs().max() < 3
    mnist = load_data(DataConfig(name="mnist", split="test"))
    ratio = (x.float().mean() / mnist.images.float().mean()).item()
    assert 0.67 < ratio < 1.5, ratio
    three = load_data(DataConfig(name="fonts", split="test", channels=3))
    assert three.images.shape[1] == 3 and torch.equal(three.images[:, 1:2], native.images)


def test_mnist2fonts_sides_are_the_mnist_and_fonts_splits():
    for split in ("train", "test"):
        data = _load("mnist2fonts", split)
        assert isinstance(data, UnpairedData)
        mnist, fonts = load_data(_cfg("mnist", split)), _load("fonts", split)
        assert torch.equal(data.a.images, mnist.images) and torch.equal(data.a.labels, mnist.labels)
        assert torch.equal(data.b.images, fonts.images) and torch.equal(data.b.labels, fonts.labels)
        assert data.counterpart("A") is None and data.counterpart("B") is None
    data = _load("mnist2fonts", "test")
    batch = data.take({"A": torch.tensor([0, 1]), "B": torch.tensor([5, 6])})
    assert set(batch) == {"A", "B", "y_A", "y_B"} and batch["y_B"].tolist() == [5, 6]
    swapped = load_data(_cfg("mnist2fonts", "test", direction="BtoA"))
    assert torch.equal(swapped.a.images, data.b.images) and torch.equal(swapped.b.images, data.a.images)


# ----------------------------------------------------------------------------------------------
# mnist-color and mnist2color
# ----------------------------------------------------------------------------------------------

def test_mnist_color_is_mnist_m_of_the_mnist_split():
    for split, n in (("train", 4500), ("test", 500)):
        d = _load("mnist-color", split, 3)
        assert d.images.shape == (n, 3, RES, RES) and d.images.dtype == torch.uint8 and d.num_classes == 10
        assert torch.equal(d.labels, load_data(_cfg("mnist", split)).labels)
    again = load_data(_cfg("mnist-color", "test", 3))
    assert torch.equal(again.images, _load("mnist-color", "test", 3).images)
    with pytest.raises(DataError, match=r"mnist-color is RGB: set data.channels=3 \(got data.channels=1\)"):
        load_data(_cfg("mnist-color", "test", 1))


def test_colorize_blends_each_digit_with_its_own_patch():
    gray = load_data(DataConfig(name="mnist", split="test")).images[:40]
    rows = np.arange(1000, 1040)
    out = colorize(gray, rows)
    assert out.shape == (40, 3, 28, 28) and out.dtype == torch.uint8
    # The patch of a digit depends on its row alone, not on the other digits.
    perm = torch.randperm(40, generator=torch.Generator().manual_seed(0))
    assert torch.equal(colorize(gray[perm], rows[perm.numpy()]), out[perm])
    assert torch.equal(colorize(gray[7:9], rows[7:9]), out[7:9])
    # |patch - digit|: the patch shows where the digit is black, and is inverted under white ink.
    patch = colorize(torch.zeros_like(gray), rows)
    assert ((out.int() - (patch.int() - gray.int()).abs()).abs() <= 1).all()
    assert patch.float().std() > 20 and not torch.equal(patch[0], patch[1])  # textured, varied patches
    assert not torch.equal(colorize(gray[:1], [5]), colorize(gray[:1], [6]))


def test_mnist2color_train_halves_are_disjoint_and_test_counterparts_known():
    mnist = load_data(_cfg("mnist", "train", 3))
    color = _load("mnist-color", "train", 3)
    train = _load("mnist2color", "train", 3)
    assert len(train.a) == len(train.b) == 2250 and train.a.shape == train.b.shape == (3, RES, RES)
    assert torch.bincount(train.a.labels).tolist() == torch.bincount(train.b.labels).tolist() == [225] * 10
    assert train.counterpart("A") is None and train.counterpart("B") is None
    # A: gray mnist digits; B: mnist-color images; no A digit's colour version is in B.
    where = {k: i for i, k in enumerate(x.numpy().tobytes() for x in mnist.images)}
    a_items = torch.tensor([where[x.numpy().tobytes()] for x in train.a.images])
    assert len(set(a_items.tolist())) == 2250 and torch.equal(train.a.labels, mnist.labels[a_items])
    b_keys = _keys(train.b.images)
    assert b_keys <= _keys(color.images)
    assert not _keys(color.images[a_items]) & b_keys
    assert len(b_keys | _keys(color.images[a_items])) == 4500  # the halves cover the split
    test = _load("mnist2color", "test", 3)
    mnist_test, color_test = load_data(_cfg("mnist", "test", 3)), _load("mnist-color", "test", 3)
    assert torch.equal(test.a.images, mnist_test.images) and torch.equal(test.b.images, color_test.images)
    assert torch.equal(test.counterpart("A"), color_test.images)
    assert torch.equal(test.counterpart("B"), mnist_test.images)
    assert torch.equal(test.to("cpu").a_counterpart, test.a_counterpart)
    swapped = load_data(_cfg("mnist2color", "test", 3, direction="BtoA"))
    assert torch.equal(swapped.a.images, color_test.images) and torch.equal(swapped.counterpart("A"), mnist_test.images)
    assert "a_counterpart" not in test.take({"A": torch.tensor([0]), "B": torch.tensor([0])})
    with pytest.raises(DataError, match=r"mnist2color is RGB: set data.channels=3"):
        load_data(_cfg("mnist2color", "test", 1))


# ----------------------------------------------------------------------------------------------
# mnist-attributes
# ----------------------------------------------------------------------------------------------

def test_mnist_attributes_codes_and_sizes():
    for split, n in (("train", 4500), ("test", 500)):
        d = _load("mnist-attributes", split, 3)
        assert d.images.shape == (n, 3, RES, RES) and d.images.dtype == torch.uint8
        assert d.num_classes == 10 and d.label_key == "y"
        assert torch.equal(d.labels, load_data(_cfg("mnist", split)).labels)
        assert d.attribute_names == ATTRIBUTE_NAMES == ("red", "green", "blue", "thick")
        assert d.attribute_groups == ATTRIBUTE_GROUPS == ((0, 1, 2), (3,))
        a = d.attributes
        assert a.shape == (n, 4) and a.dtype == torch.float32 and set(a.unique().tolist()) == {0.0, 1.0}
        assert (a[:, :3].sum(1) == 1).all()  # exactly one colour per image
        domains = torch.bincount((a[:, :3].argmax(1) * 2 + a[:, 3]).long(), minlength=6)
        assert domains.min() >= n / 6 * 0.85, domains.tolist()
        # The colour is the lit channel.
        lit = d.images.flatten(2).amax(2).argmax(1)
        assert torch.equal(lit, a[:, :3].argmax(1))
    test = _load("mnist-attributes", "test", 3)
    assert torch.equal(load_data(_cfg("mnist-attributes", "test", 3)).images, test.images)
    batch = test.batch(torch.tensor([3, 1]))
    assert set(batch) == {"x", "y", "attrs"} and torch.equal(batch["attrs"], test.attributes[[3, 1]])
    with pytest.raises(DataError, match=r"mnist-attributes is RGB: set data.channels=3 \(got data.channels=1\)"):
        load_data(_cfg("mnist-attributes", "test", 1))


def test_mnist_attributes_render_is_the_true_translation():
    d = _load("mnist-attributes", "train", 3)
    idx = torch.tensor([4000, 3, 17, 250, 9, 1234])
    own = d.render(idx, d.attributes[idx])
    assert own.dtype == torch.uint8 and torch.equal(own, d.images[idx])
    every = d.render(torch.arange(len(d)), d.attributes)
    assert torch.equal(every, d.images)
    # Another colour changes the colour only: the per-pixel maximum over channels stays.
    for colour in range(3):
        codes = d.attributes[idx].clone()
        codes[:, :3] = 0
        codes[:, colour] = 1
        x = d.render(idx, codes)
        assert torch.equal(x.amax(1), own.amax(1))
        assert (x[:, colour] == x.amax(1)).all() and x[:, [c for c in range(3) if c != colour]].sum() == 0
    # Thick strokes are clearly thicker than thin ones, for every digit.
    codes = d.attributes.clone()
    codes[:, 3] = 0
    thin = d.render(torch.arange(len(d)), codes).float().amax(1)
    codes[:, 3] = 1
    thick = d.render(torch.arange(len(d)), codes).float().amax(1)
    assert ((thick > 127).sum((1, 2)) > (thin > 127).sum((1, 2))).all()
    assert (thick.sum((1, 2)) / thin.sum((1, 2))).min() > 1.6
    # The stroke is normalised: thin digits vary less in ink than the MNIST digits they come from.
    mnist = load_data(_cfg("mnist", "train")).images.float().sum((1, 2, 3))
    assert (thin.sum((1, 2)).std() / thin.sum((1, 2)).mean()) < (mnist.std() / mnist.mean())
    # render follows subset() and to()
    sub = d.subset(idx)
    assert torch.equal(sub.render(torch.tensor([1, 0]), sub.attributes[[1, 0]]), own[[1, 0]])
    moved = sub.to("cpu")
    assert torch.equal(moved.render(torch.arange(6), moved.attributes), own)
    assert torch.equal(moved.attributes, sub.attributes) and moved.attribute_groups == ATTRIBUTE_GROUPS


def test_image_data_checks_its_attributes():
    images = torch.zeros((3, 1, 4, 4), dtype=torch.uint8)
    with pytest.raises(ValueError, match="attributes float32"):
        ImageData("t", images, attributes=torch.zeros((2, 2)))
    with pytest.raises(ValueError, match="1 attribute names for 2 attributes"):
        ImageData("t", images, attributes=torch.zeros((3, 2)), attribute_names=("a",))
    with pytest.raises(ValueError, match="attribute_groups"):
        ImageData("t", images, attributes=torch.zeros((3, 2)), attribute_groups=((0, 2),))
    d = ImageData("t", images, attributes=torch.eye(3)[:, :2],
                  render=lambda i, c: images[i] + c[:, :1, None, None].byte())
    assert torch.equal(d.subset(torch.tensor([2, 0])).attributes, torch.tensor([[0.0, 0.0], [1.0, 0.0]]))
    assert d.subset(torch.tensor([False, True, True])).render(torch.tensor([0]), torch.ones((1, 2))).sum() == 16
    with pytest.raises(ValueError, match=re.escape("a_counterpart must be uint8 (3, 1, 4, 4)")):
        UnpairedData("u", d, d, a_counterpart=torch.zeros((2, 1, 4, 4), dtype=torch.uint8))
    with pytest.raises(ValueError, match="which must be 'A' or 'B'"):
        UnpairedData("u", d, d).counterpart("x")


# ----------------------------------------------------------------------------------------------
# domains
# ----------------------------------------------------------------------------------------------

def _save(path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (8, 8), dtype=np.uint8)).save(path)


def test_domains_attributes_are_one_hot_domains(tmp_path):
    for i, (dom, n) in enumerate((("b", 2), ("a", 3), ("c", 2))):
        for k in range(n):
            _save(tmp_path / dom / f"{k}.png", 10 * i + k)
    d = load_data(DataConfig(name="domains", path=str(tmp_path), resolution=8))
    assert d.labels.tolist() == [0, 0, 0, 1, 1, 2, 2]
    assert torch.equal(d.attributes, torch.nn.functional.one_hot(d.labels, 3).float())
    assert d.attribute_names == ("a", "b", "c") and d.attribute_groups == ((0, 1, 2),)
    assert set(d.batch(torch.tensor([0]))) == {"x", "domain", "attrs"}
    (tmp_path / "b" / "1.png").unlink()
    with pytest.raises(DataError, match=re.escape(f"domains: {str(tmp_path / 'b')!r} holds 1 image; a domain needs "
                                                  "at least 2 images")):
        load_data(DataConfig(name="domains", path=str(tmp_path), resolution=8))
