"""Decoding a user's images faithfully: the value range of array files (detected, or set with
data.range / value_range=), 16-bit image files scaled rather than clipped, and transparency
composited onto data.background rather than dropped. Every test checks pixel values."""
from __future__ import annotations

import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch

from gankit.api import load_images
from gankit.config import DataConfig, load_config
from gankit.data import load_data
from gankit.data.sources import fit_pil
from gankit.errors import ConfigError, DataError


def _npz(tmp_path: Path, arr: np.ndarray, name: str = "a.npz") -> str:
    path = tmp_path / name
    np.savez(path, x=arr)
    return str(path)


def _load(path: str, **data) -> torch.Tensor:
    return load_data(DataConfig(name="npz", path=path, resolution=8, channels=1, **data)).images


@contextmanager
def _no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# ----------------------------------------------------------------------------------------------
# npz: one picture in every encoding decodes to the same uint8 images
# ----------------------------------------------------------------------------------------------

@pytest.fixture
def pixels() -> np.ndarray:
    u = np.random.default_rng(0).integers(0, 256, (5, 1, 8, 8), dtype=np.uint8)
    u[0, 0, 0, :2] = 0, 255  # the full range, as real images have
    return u


ENCODINGS = {  # name -> (encode uint8 -> array, the range a warning names; None: no warning)
    "float32 [0, 1]": (lambda u: (u / 255.0).astype(np.float32), r"\[0, 1\]"),
    "float32 [-1, 1]": (lambda u: (u / 127.5 - 1.0).astype(np.float32), None),  # gankit's own: unambiguous
    "float64 [0, 255]": (lambda u: u.astype(np.float64), r"\[0, 255\]"),
    "float16 [0, 1]": (lambda u: (u / 255.0).astype(np.float16), r"\[0, 1\]"),
    "uint16": (lambda u: u.astype(np.uint16) * 257, r"\[0, 65535\]"),
}


def test_uint8_npz_reads_as_is_without_a_warning(tmp_path, pixels):
    path = _npz(tmp_path, pixels)
    with _no_warnings():
        assert torch.equal(_load(path), torch.from_numpy(pixels))
        assert torch.equal(load_images(path).images, torch.from_numpy(pixels))


@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_every_encoding_decodes_to_the_same_uint8(tmp_path, pixels, encoding):
    encode, named = ENCODINGS[encoding]
    path = _npz(tmp_path, encode(pixels))
    if named is None:
        with _no_warnings():
            via_source, via_api = _load(path), load_images(path)
    else:
        with pytest.warns(UserWarning, match=rf"as {named} \(their values span") as rec:
            via_source = _load(path)
        assert "data.range" in str(rec[0].message) and len(rec) == 1
        with pytest.warns(UserWarning, match="value_range"):
            via_api = load_images(path)  # what `gankit eval --fake x.npz` reads
    assert torch.equal(via_source, torch.from_numpy(pixels))
    assert torch.equal(via_api.images, torch.from_numpy(pixels))


def test_float_unit_range_is_not_read_as_signed(tmp_path, pixels):
    # The reported bug: [0, 1] floats read as [-1, 1] came out as a grey background (0 -> 128).
    black = np.zeros((2, 8, 8), np.float32)
    black[:, 4, 4] = 1.0
    with pytest.warns(UserWarning, match=r"\[0, 1\]"):
        x = _load(_npz(tmp_path, black))
    assert x[:, 0, 0, 0].tolist() == [0, 0] and x[:, 0, 4, 4].tolist() == [255, 255]


def test_nhwc_rgb_floats_decode_like_uint8(tmp_path):
    u = np.random.default_rng(1).integers(0, 256, (3, 6, 6, 3), dtype=np.uint8)
    u[0, 0, 0] = 0, 255, 7
    with pytest.warns(UserWarning):
        d = load_data(DataConfig(name="npz", path=_npz(tmp_path, u / 255.0), resolution=6, channels=3))
    assert torch.equal(d.images, torch.from_numpy(u.transpose(0, 3, 1, 2)))


def test_floats_within_rounding_of_the_range_are_clipped(tmp_path, pixels):
    f = pixels / 255.0
    f[0, 0, 0, :2] = -2e-4, 1 + 2e-4
    with pytest.warns(UserWarning, match=r"\[0, 1\]"):
        assert torch.equal(_load(_npz(tmp_path, f)), torch.from_numpy(pixels))


# ----------------------------------------------------------------------------------------------
# npz: arrays that fit no range, or two, are refused; data.range / value_range= say which
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("arr,fragments", [
    (np.full((2, 8, 8), 0.5, np.float32), ["about 0.5", "data.range=unit, signed or 8bit"]),
    (np.zeros((2, 8, 8), np.float64), ["about 0", "data.range"]),
    (np.linspace(0, 1.3, 128).reshape(2, 8, 8), ["[0, 1.3]", "data.range=8bit"]),
    (np.linspace(-3, 7, 128).reshape(2, 8, 8), ["[0, 1], [-1, 1] or [0, 255]", "[-3, 7]"]),
    (np.linspace(-1, 1.5, 128).reshape(2, 8, 8), ["[0, 1], [-1, 1] or [0, 255]", "[-1, 1.5]"]),
    (np.linspace(0, 300, 128).reshape(2, 8, 8), ["[0, 1], [-1, 1] or [0, 255]", "[0, 300]"]),
    (np.arange(128, dtype=np.uint16).reshape(2, 8, 8), ["uint16", "[0, 127]", "data.range=8bit or 16bit"]),
    (np.arange(128, dtype=np.int32).reshape(2, 8, 8) * 3, ["int32", "[0, 381]", "data.range=8bit or 16bit"]),
    (np.arange(128, dtype=np.int64).reshape(2, 8, 8), ["int64", "[0, 127]", "data.range=8bit or 16bit"]),
    (np.ones((2, 8, 8), bool), ["integers or floats", "holds bool"]),
])
def test_ambiguous_or_out_of_range_arrays_are_refused(tmp_path, arr, fragments):
    path = _npz(tmp_path, arr)
    with pytest.raises(DataError) as e:
        _load(path)
    msg = str(e.value)
    assert "\n" not in msg and path in msg
    for f in fragments:
        assert f in msg, msg


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_infinity_are_refused_whatever_the_range(tmp_path, bad):
    f = np.zeros((2, 8, 8), np.float32)
    f[1, 2, 3] = bad
    path = _npz(tmp_path, f)
    for value_range in ("auto", "unit", "signed"):
        with pytest.raises(DataError, match="NaN or infinite"):
            _load(path, range=value_range)
        with pytest.raises(DataError, match="NaN or infinite"):
            load_images(path, value_range=value_range)


def test_the_range_setting_decides_what_detection_cannot(tmp_path, pixels):
    flat = _npz(tmp_path, np.full((2, 8, 8), 0.5, np.float32))
    with _no_warnings():  # a range the user gave is not announced
        assert _load(flat, range="unit").unique().tolist() == [128]
        assert _load(flat, range="signed").unique().tolist() == [191]  # (0.5 + 1) * 127.5 = 191.25
        assert _load(flat, range="8bit").unique().tolist() == [0]   # 0.5 of 255: rounds to black
        assert load_images(flat, value_range="signed").images.unique().tolist() == [191]
        small = _npz(tmp_path, np.arange(128, dtype=np.uint16).reshape(2, 8, 8), "small.npz")
        assert torch.equal(_load(small, range="8bit").flatten(), torch.arange(128, dtype=torch.uint8))
        assert _load(small, range="16bit").max().item() == 0  # 127 / 257 rounds to 0
        ints = _npz(tmp_path, pixels.astype(np.int64), "ints.npz")
        assert torch.equal(_load(ints, range="8bit"), torch.from_numpy(pixels))
        pil16 = _npz(tmp_path, pixels.astype(np.int32) * 257, "pil16.npz")  # PIL's mode I of a 16-bit PNG
        assert torch.equal(_load(pil16, range="16bit"), torch.from_numpy(pixels))


def test_the_range_setting_overrides_detection(tmp_path, pixels):
    signed = _npz(tmp_path, pixels / 127.5 - 1.0)
    with _no_warnings():  # negative values: [-1, 1], nothing to say
        assert torch.equal(_load(signed), torch.from_numpy(pixels))
    unit = _npz(tmp_path, pixels / 255.0, "unit.npz")
    # [0, 1] data the user declares [-1, 1]: the declared reading wins (no pixel darker than mid-grey)
    x = _load(unit, range="signed")
    assert x.min().item() == 128 and x.max().item() == 255
    # uint8 data declared as [0, 1] must hold only 0 and 1, which become black and white
    binary = _npz(tmp_path, (pixels > 127).astype(np.uint8), "binary.npz")
    assert torch.equal(_load(binary, range="unit"), torch.from_numpy((pixels > 127).astype(np.uint8) * 255))


@pytest.mark.parametrize("arr,value_range,span", [
    (lambda u: u / 127.5 - 1.0, "unit", "[-1, 1]"),
    (lambda u: u.astype(np.float32), "signed", "[0, 255]"),
    (lambda u: u.astype(np.float32), "unit", "[0, 255]"),
    (lambda u: u, "unit", "[0, 255]"),
    (lambda u: u.astype(np.int32) - 1, "8bit", "[-1, 254]"),
])
def test_values_outside_the_given_range_are_refused(tmp_path, pixels, arr, value_range, span):
    path = _npz(tmp_path, arr(pixels))
    with pytest.raises(DataError) as e:
        _load(path, range=value_range)
    assert f"spans {span}, outside data.range={value_range}" in str(e.value)
    with pytest.raises(DataError, match=f"outside value_range={value_range}"):
        load_images(path, value_range=value_range)


def test_range_and_background_are_checked_config_keys(tmp_path):
    cfg = load_config(None, ["data.range=signed", "data.background=black"])
    assert cfg.data.range == "signed" and cfg.data.background == "black"
    assert "range: signed" in cfg.to_yaml() and "background: black" in cfg.to_yaml()
    assert load_config(None, ["data.range=8bit"]).data.range == "8bit"
    defaults = load_config(None).data
    assert defaults.range == "auto" and defaults.background == "white"
    with pytest.raises(ConfigError, match="data.range: '0-100' is not one of auto, unit, signed, 8bit, 16bit"):
        load_config(None, ["data.range=0-100"])
    with pytest.raises(ConfigError, match="data.background: 'grey' is not one of white, black"):
        load_config(None, ["data.background=grey"])
    with pytest.raises(ConfigError, match="value_range: '0-100'"):
        load_images(_npz(tmp_path, np.zeros((2, 8, 8), np.uint8)), value_range="0-100")


# ----------------------------------------------------------------------------------------------
# image files: 16-bit greyscale is scaled, not clipped to white
# ----------------------------------------------------------------------------------------------

def _save(path: Path, im) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path)
    return path


@pytest.fixture
def sixteen_bit(tmp_path) -> tuple[Path, Path, np.ndarray]:
    """The same pictures as 16-bit and as 8-bit PNG folders, and the 16-bit values."""
    from PIL import Image

    rng = np.random.default_rng(2)
    pictures = [np.linspace(0, 65535, 24 * 24).reshape(24, 24).astype(np.uint16),       # a full ramp
                rng.integers(0, 65536, (24, 24)).astype(np.uint16),                       # noise
                np.full((24, 24), 32768, np.uint16)]                                      # mid-grey
    for i, p in enumerate(pictures):
        im16 = Image.fromarray(p)
        assert im16.mode == "I;16"
        _save(tmp_path / "16" / f"{i}.png", im16)
        _save(tmp_path / "8" / f"{i}.png", Image.fromarray(np.rint(p / 257.0).astype(np.uint8)))
    with Image.open(tmp_path / "16" / "0.png") as im:
        assert im.mode.startswith("I")  # (Pillow opens 16-bit greyscale PNGs as I;16, older ones as I)
    return tmp_path / "16", tmp_path / "8", np.stack(pictures)


@pytest.mark.parametrize("resolution,channels", [(24, 1), (24, 3), (16, 1), (32, 3)])
def test_16bit_png_folder_decodes_like_the_8bit_one(sixteen_bit, resolution, channels):
    deep, shallow, values = sixteen_bit
    a = load_data(DataConfig(name="folder", path=str(deep), resolution=resolution, channels=channels)).images
    b = load_data(DataConfig(name="folder", path=str(shallow), resolution=resolution, channels=channels)).images
    assert a.shape == b.shape == (3, channels, resolution, resolution)
    assert (a.int() - b.int()).abs().max() <= 1
    assert (a[2].int() - 128).abs().max() <= 1  # mid-grey, not clipped to white
    if resolution == 24:
        want = torch.from_numpy(np.rint(values / 257.0).astype(np.uint8))[:, None].expand_as(a)
        assert (a.int() - want.int()).abs().max() <= 1
        assert a[0].min().item() == 0 and a[0].max().item() == 255


def test_16bit_png_folder_through_the_api(sixteen_bit):
    deep, shallow, _ = sixteen_bit
    a, b = load_images(deep), load_images(shallow)
    assert a.shape == b.shape == (1, 24, 24)  # a 16-bit greyscale image is greyscale
    assert (a.images.int() - b.images.int()).abs().max() <= 1


def test_wide_pil_modes_are_scaled():
    from PIL import Image

    values = np.linspace(0, 65535, 64).reshape(8, 8)
    want = np.rint(values / 257.0)
    wide = [Image.fromarray(values.astype(np.uint16)),                 # 16-bit, as PNGs open
            Image.fromarray(values.astype(np.uint16)).convert("I"),    # 32-bit integer, as older Pillows open them
            Image.fromarray(values.astype(">u2"))]                     # big-endian 16-bit (TIFF)
    assert [im.mode for im in wide] == ["I;16", "I", "I;16B"]
    for im in wide:
        assert np.abs(fit_pil(im, 8, 1)[0].astype(int) - want).max() <= 1, im.mode
    unit, byte = Image.fromarray((want / 255.0).astype(np.float32)), Image.fromarray(want.astype(np.float32))
    assert unit.mode == byte.mode == "F"
    assert np.abs(fit_pil(unit, 8, 1)[0].astype(int) - want).max() <= 1  # float in [0, 1]
    assert np.abs(fit_pil(byte, 8, 1)[0].astype(int) - want).max() <= 1  # float in [0, 255]


# ----------------------------------------------------------------------------------------------
# image files: transparency is composited onto data.background
# ----------------------------------------------------------------------------------------------

@pytest.fixture
def strokes(tmp_path) -> Path:
    """Black strokes on a transparent sheet whose hidden colour is red, and a half-transparent dot."""
    from PIL import Image

    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[..., 0] = 255                    # transparent pixels that happen to store red
    rgba[4:12, 7:9] = 0, 0, 0, 255        # an opaque black vertical stroke
    rgba[2, 2] = 0, 0, 0, 128             # a half-transparent black dot
    return _save(tmp_path / "strokes" / "a.png", Image.fromarray(rgba))


def test_black_strokes_on_transparency_become_black_on_white(strokes):
    for channels in (1, 3):
        x = load_data(DataConfig(name="folder", path=str(strokes.parent), resolution=16, channels=channels))
        img = x.images[0]
        assert img.shape == (channels, 16, 16)
        assert img[:, 4:12, 7:9].unique().tolist() == [0]        # the stroke stays black
        sheet = torch.ones(16, 16, dtype=torch.bool)
        sheet[4:12, 7:9] = False
        sheet[2, 2] = False
        assert img[:, sheet].unique().tolist() == [255]          # the sheet is white, not red or black
        assert (img[:, 2, 2].int() - 127).abs().max() <= 1       # half black over white: mid-grey


def test_transparency_onto_a_black_background(tmp_path):
    from PIL import Image

    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., :3] = 200                   # hidden colour of the transparent pixels
    rgba[2:6, 3] = 255, 255, 255, 255     # white stroke (MNIST's convention once on black)
    _save(tmp_path / "w" / "a.png", Image.fromarray(rgba))
    x = load_data(DataConfig(name="folder", path=str(tmp_path / "w"), resolution=8, background="black")).images[0, 0]
    want = torch.zeros(8, 8, dtype=torch.uint8)
    want[2:6, 3] = 255
    assert torch.equal(x, want)
    assert torch.equal(load_images(tmp_path / "w", background="black").images[0, 0], want)
    assert load_images(tmp_path / "w").images[0, 0].unique().tolist() == [255]  # white on white by default


def test_la_and_palette_transparency(tmp_path):
    from PIL import Image

    la = np.zeros((4, 4, 2), np.uint8)
    la[1, :] = 0, 255                                        # one opaque black row
    _save(tmp_path / "la" / "a.png", Image.fromarray(la, "LA"))
    got = load_data(DataConfig(name="folder", path=str(tmp_path / "la"), resolution=4)).images[0, 0]
    assert got[1].tolist() == [0] * 4 and got[[0, 2, 3]].unique().tolist() == [255]

    index = np.ones((4, 4), np.uint8)
    index[:, 0] = 0                                          # column 0: the transparent palette entry
    pal = Image.fromarray(index, "P")
    pal.putpalette([0, 255, 0, 0, 0, 255] + [0] * 762)      # 0: green (hidden), 1: blue
    pal.info["transparency"] = 0
    _save(tmp_path / "p" / "a.png", pal)
    got = load_data(DataConfig(name="folder", path=str(tmp_path / "p"), resolution=4, channels=3)).images[0]
    assert got[:, :, 0].unique().tolist() == [255]           # transparent: white, not green
    assert got[:, :, 1:].reshape(3, -1).T.unique(dim=0).tolist() == [[0, 0, 255]]


def test_opaque_rgba_reads_as_its_rgb(tmp_path):
    from PIL import Image

    rgb = np.random.default_rng(3).integers(0, 256, (12, 12, 3), dtype=np.uint8)
    _save(tmp_path / "rgb" / "a.png", Image.fromarray(rgb))
    _save(tmp_path / "rgba" / "a.png", Image.fromarray(np.dstack([rgb, np.full((12, 12), 255, np.uint8)])))
    for channels in (1, 3):
        a, b = (load_data(DataConfig(name="folder", path=str(tmp_path / d), resolution=8, channels=channels)).images
                for d in ("rgb", "rgba"))
        assert torch.equal(a, b)
