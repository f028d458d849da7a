"""Pictures to share (gankit/visuals.py): interpolate, arithmetic, film, and their commands."""
import contextlib
import math
import shutil
import warnings

import numpy as np
import pytest
import torch
import torch.nn as nn
from PIL import Image

from gankit import visuals
from gankit.api import Run, load_run, train
from gankit.cli import main
from gankit.errors import GankitError
from gankit.visuals import arithmetic, film, interpolate, lerp, save_interpolation, slerp
from helpers.cli import one_line_error

TINY = ["model.g.width=8", "model.d.width=8", "train.steps=4", "train.progress=false", "train.tensorboard=false",
        "train.sample_every=2", "train.checkpoint_every=0"]


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """A tiny unconditional MLP GAN on the 8x8 digits (16 px), 4 steps: previews at steps 0, 2 and final."""
    out = tmp_path_factory.mktemp("visuals") / "gan"
    with _quiet():
        train("gan-digits", TINY, out=out)
    return out


@contextlib.contextmanager
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the trainer's note on sharing the cores with other runs)
        yield


def _memory_run(preset: str, *sets: str, shape=(1, 16, 16), source="digits") -> Run:
    """A run built in memory (untrained players), for games too slow to train here."""
    from gankit.config import load_config
    from gankit.games import GAMES, DataInfo

    torch.manual_seed(0)
    cfg = load_config(preset, list(sets))
    game = GAMES.get(cfg.game.name)(cfg, DataInfo({"x": shape}, 10, source))
    return Run(game, {}, cfg, 0)




# ----------------------------------------------------------------------------------------------------
# paths


def test_slerp_keeps_the_norm_where_lerp_cuts_the_corner():
    a, b = torch.tensor([3.0, 0.0, 0.0]), torch.tensor([0.0, 3.0, 0.0])  # orthogonal, equal norms
    t = torch.linspace(0, 1, 11)
    s, li = slerp(a, b, t), lerp(a, b, t)
    assert s.shape == li.shape == (11, 3)
    assert torch.equal(s[0], a) and torch.equal(s[-1], b) and torch.equal(li[0], a) and torch.equal(li[-1], b)
    torch.testing.assert_close(s.norm(dim=1), torch.full((11,), 3.0))
    assert li[5].norm().item() == pytest.approx(3 / math.sqrt(2), rel=1e-6)  # the straight line's midpoint dips
    torch.testing.assert_close(s[5], torch.tensor([3 / math.sqrt(2), 3 / math.sqrt(2), 0.0]))  # on the arc, halfway

    g = torch.Generator().manual_seed(0)
    za, zb = torch.randn(16, 100, generator=g), torch.randn(16, 100, generator=g)  # Gaussian latents, batched
    path = slerp(za, zb, t)
    assert path.shape == (16, 11, 100)
    assert torch.equal(path[:, 0], za) and torch.equal(path[:, -1], zb)
    lo = torch.minimum(za.norm(dim=1), zb.norm(dim=1))[:, None]
    hi = torch.maximum(za.norm(dim=1), zb.norm(dim=1))[:, None]
    norms = path.norm(dim=2)
    assert (norms >= lo * 0.99).all() and (norms <= hi * 1.01).all()  # (a slight bulge between unequal norms)
    mid = lerp(za, zb, t)[:, 5].norm(dim=1)
    assert (mid < 0.8 * (lo + hi)[:, 0] / 2).all()  # ~1/sqrt(2) of the norms for near-orthogonal 100-d draws
    assert (norms[:, 5] > 0.95 * (lo + hi)[:, 0] / 2).all()
    same = slerp(za[:1], za[:1], t)  # parallel endpoints: no division by sin(0)
    assert torch.isfinite(same).all() and torch.allclose(same, za[:1, None].expand(-1, 11, -1))


# ----------------------------------------------------------------------------------------------------
# interpolate


def test_interpolate_png_is_a_rows_by_steps_grid_whose_ends_are_the_endpoints(digits_run, tmp_path):
    run = load_run(digits_run)
    res = interpolate(run, steps=5, rows=3, seed=7)
    assert res.method == "slerp" and res.space == "z"
    assert res.images.shape == (15, 1, 16, 16) and res.latents.shape == (3, 5, run.game.latent_dim)
    z = run.game.sample_inputs(6, 7)["z"]  # row i walks from draw i to draw 3 + i of the seed
    assert torch.equal(res.latents[:, 0], z[:3]) and torch.equal(res.latents[:, -1], z[3:])
    ends = run.generate({"z": z})
    grid = res.images.view(3, 5, 1, 16, 16)
    torch.testing.assert_close(grid[:, 0], ends[:3], atol=1e-5, rtol=0)
    torch.testing.assert_close(grid[:, -1], ends[3:], atol=1e-5, rtol=0)
    torch.testing.assert_close(grid[:, 2], run.generate({"z": slerp(z[:3], z[3:], torch.tensor([0.5]))[:, 0]}),
                               atol=1e-5, rtol=0)
    assert not torch.allclose(grid[:, 1], grid[:, 3])  # it moves

    assert main(["interpolate", str(digits_run), "--steps", "5", "--rows", "3", "--seed", "7",
                 "--out", str(tmp_path / "i.png")]) == 0
    with Image.open(tmp_path / "i.png") as im:
        up = math.ceil(256 / (5 * 16))  # save_image_grid's upscaling to >= 256 px wide, 2 px padding
        assert im.size == (5 * (16 * up + 2) + 2, 3 * (16 * up + 2) + 2)
        arr = np.asarray(im)
    first = ((ends[0, 0].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()
    assert np.array_equal(arr[2:2 + 16 * up:up, 2:2 + 16 * up:up], first)  # cell (0, 0) is the first endpoint


def test_interpolate_gif_plays_forward_then_back_one_frame_per_step(digits_run, tmp_path):
    run = load_run(digits_run)
    res = interpolate(run, steps=6, rows=4, seed=1)
    path = save_interpolation(res, tmp_path / "walk.gif", fps=5)
    with Image.open(path) as im:
        assert im.format == "GIF" and im.n_frames == 2 * 6 - 2
        assert im.info["loop"] == 0 and im.info["duration"] == 200
        frames = []
        for i in range(im.n_frames):
            im.seek(i)
            frames.append(np.asarray(im.convert("L")))
    # frame s shows step s of every row: 0 1 2 3 4 5 4 3 2 1; the grid part of frame 4 (step 4) equals frame 6's
    grid_h = frames[0].shape[0] - 6  # (a 6 px progress bar under the grid)
    assert np.array_equal(frames[4][:grid_h], frames[6][:grid_h])
    assert not np.array_equal(frames[0][:grid_h], frames[5][:grid_h])
    assert main(["interpolate", str(digits_run), "--steps", "2", "--rows", "1", "--lerp",
                 "--out", str(tmp_path / "two.gif")]) == 0
    with Image.open(tmp_path / "two.gif") as im:
        assert im.n_frames == 2


def test_interpolate_keeps_each_rows_class_in_a_conditional_run():
    run = _memory_run("cgan-mnist", "data.name=digits", "data.resolution=16", "model.g.width=8", "model.d.width=8")
    assert run.game.conditional
    res = interpolate(run, steps=4, rows=12, seed=3)
    y = res.endpoints["y"]
    assert torch.equal(y, (torch.arange(12) % 10).repeat(2))  # start and end of row i: class i mod 10
    assert torch.equal(res.endpoints["z"], run.game.sample_inputs(24, 3, labels=y)["z"])
    ends = run.generate(res.endpoints)
    grid = res.images.view(12, 4, *res.images.shape[1:])
    torch.testing.assert_close(grid[:, 0], ends[:12], atol=1e-5, rtol=0)
    torch.testing.assert_close(grid[:, -1], ends[12:], atol=1e-5, rtol=0)
    z2 = slerp(res.endpoints["z"][:12], res.endpoints["z"][12:], torch.tensor([1 / 3]))[:, 0]
    torch.testing.assert_close(grid[:, 1], run.generate({"z": z2, "y": y[:12]}), atol=1e-5, rtol=0)


def test_interpolate_walks_w_linearly_in_a_style_based_run():
    sets = ["data.resolution=16", "model.g.channels=16,16,8", "model.g.w_dim=16", "model.latent_dim=16",
            "model.d.width=8"]
    run = _memory_run("stylegan-mnist", *sets, source="mnist")
    res = interpolate(run, steps=5, rows=2, seed=0)
    assert res.space == "w" and res.method == "lerp" and res.latents.shape == (2, 5, 16)
    G = run.game.G.eval()
    with torch.no_grad():
        w = G.ws(res.endpoints["z"])[:, 0]
    torch.testing.assert_close(res.latents[:, 0], w[:2])
    torch.testing.assert_close(res.latents[:, -1], w[2:])
    torch.testing.assert_close(res.latents[:, 2], (w[:2] + w[2:]) / 2)  # a straight line in W
    ends = run.generate(res.endpoints)
    grid = res.images.view(2, 5, *res.images.shape[1:])
    torch.testing.assert_close(grid[:, 0], ends[:2], atol=1e-5, rtol=0)
    torch.testing.assert_close(grid[:, -1], ends[2:], atol=1e-5, rtol=0)
    assert interpolate(run, steps=3, rows=1, method="slerp").method == "slerp"  # asked for: given


def test_interpolate_refuses_a_translation_run_in_one_line(tmp_path, capsys):
    with _quiet():
        train("pix2pix-edges2digits", ["train.steps=1", "data.resolution=16", "model.g.width=4", "model.d.width=4",
                                       "train.batch_size=8", "train.progress=false", "train.tensorboard=false",
                                       "train.sample_every=0", "train.checkpoint_every=0"], out=tmp_path / "p2p")
    one_line_error(capsys, ["interpolate", tmp_path / "p2p", "--out", tmp_path / "x.png"],
                   "interpolate: not available for game pix2pix", "no latent to walk")
    assert not (tmp_path / "x.png").exists()
    one_line_error(capsys, ["arithmetic", tmp_path / "p2p", "--out", tmp_path / "x.png", "--a", "1", "--b", "2",
                            "--c", "3"], "no latent to walk")


def test_interpolate_checks_its_arguments_before_loading(digits_run, tmp_path, capsys):
    one_line_error(capsys, ["interpolate", digits_run, "--out", tmp_path / "x.jpg"], ".png or .gif")
    one_line_error(capsys, ["interpolate", digits_run, "--steps", "1", "--out", tmp_path / "x.png"], "--steps 1")
    one_line_error(capsys, ["interpolate", digits_run, "--fps", "0", "--out", tmp_path / "x.gif"], "--fps 0")
    assert main(["interpolate", str(digits_run), "--slerp", "--lerp", "--out", str(tmp_path / "x.png")]) == 2
    capsys.readouterr()


# ----------------------------------------------------------------------------------------------------
# arithmetic


class _Reader(nn.Module):
    """A stand-in for the dataset classifier (no training in the tests): class j is the j-th tenth of a
    fixed random projection of the image, tenths taken from a reference draw of the run, so every
    class is read about equally often; confidence falls with the distance from the tenth's centre."""

    def __init__(self, reference: torch.Tensor):
        super().__init__()
        self.num_classes = 10
        self.register_buffer("v", torch.randn(reference[0].numel(), generator=torch.Generator().manual_seed(0)))
        s = reference.flatten(1) @ self.v
        self.register_buffer("q", torch.quantile(s, (torch.arange(10) + 0.5) / 10))
        self.register_buffer("width", s.std() * 0.1)

    def forward(self, x):
        s = x.flatten(1).float() @ self.v
        return s[:, None], -((s[:, None] - self.q[None]) / self.width) ** 2


@pytest.fixture
def stand_in(monkeypatch, digits_run):
    from gankit.metrics import classifier as classifier_module
    from gankit.metrics.classifier import TrainedClassifier

    run = load_run(digits_run)
    reader = _Reader(run.generate(run.game.sample_inputs(1000, 12345))).eval()
    calls = []

    def classifier_for(data_cfg, device="cpu", verbose=True):
        calls.append(data_cfg.name)
        return TrainedClassifier(data_cfg.name, reader, 0.5, 10, "stand-in")

    monkeypatch.setattr(classifier_module, "classifier_for", classifier_for)
    return reader, calls


def test_arithmetic_averages_the_most_confident_latents_and_reads_the_result(digits_run, stand_in, tmp_path):
    reader, calls = stand_in
    run = load_run(digits_run)
    res = arithmetic(run, a="8", b="3", c="5", n=300, k=3, seed=4)
    assert calls == ["digits"] and res.classes == ("8", "3", "5") and res.space == "z"
    z = run.game.sample_inputs(300, 4)["z"]
    probs = reader(run.generate({"z": z}))[1].softmax(1)
    for i, (letter, cls) in enumerate(zip("ABC", (8, 3, 5))):
        idx = res.picked[letter]
        assert len(idx) == 3 and (probs[idx].argmax(1) == cls).all()  # read as the class ...
        rest = (probs.argmax(1) == cls) & ~torch.isin(torch.arange(300), idx)
        assert probs[idx, cls].min() >= probs[rest, cls].max()  # ... more confidently than any other sample
        assert torch.equal(res.latents[letter], z[idx])
        assert torch.equal(res.means[i], z[idx].mean(0))
    assert torch.equal(res.result, res.means[0] - res.means[1] + res.means[2])
    eps = torch.randn(8, z.shape[1], generator=torch.Generator().manual_seed(5))
    assert torch.equal(res.neighbours, res.result + 0.25 * eps)  # the DCGAN paper's neighbours
    images = run.generate({"z": torch.cat([res.means, res.result[None], res.neighbours])})
    torch.testing.assert_close(res.images, images, atol=1e-5, rtol=0)
    p = reader(images)[1].softmax(1)
    assert [r.label for r in res.readings] == p.argmax(1).tolist()
    assert [r.prob for r in res.readings] == pytest.approx(p.max(1).values.tolist(), abs=1e-5)
    assert len(res.result_readings) == 9 and sum(res.tally().values()) == 9

    path = visuals.save_arithmetic_figure(res, tmp_path / "a.png")
    with Image.open(path) as im:
        assert im.mode == "RGB" and im.size[0] > 6 * 16 and im.size[1] > 4 * 16


def test_gankit_arithmetic_prints_the_readings(digits_run, stand_in, tmp_path, capsys):
    assert main(["arithmetic", str(digits_run), "--a", "8", "--b", "3", "--c", "5", "--n", "300",
                 "--out", str(tmp_path / "a.png")]) == 0
    out = capsys.readouterr().out
    assert "8 - 3 + 5 in z" in out and "A - B + C reads as" in out and "of the 9:" in out
    assert (tmp_path / "a.png").is_file()


def test_arithmetic_errors_are_one_line(digits_run, stand_in, tmp_path, capsys):
    reader, calls = stand_in
    out = ["--out", tmp_path / "a.png"]
    one_line_error(capsys, ["arithmetic", digits_run, "--a", "eleven", "--b", "3", "--c", "5", *out],
                   "--a 'eleven': not a class", "0, 1, 2, 3, 4, 5, 6, 7, 8, 9")
    one_line_error(capsys, ["arithmetic", digits_run, *out], "give --a, --b, --c", "no default", "0, 1, 2")
    assert calls == []  # class names are checked before a classifier is loaded
    one_line_error(capsys, ["arithmetic", digits_run, "--a", "8", "--b", "3", "--c", "5", "--n", "20", "--k", "5",
                            *out], "5 needed")
    run = _memory_run("cgan-mnist", "data.name=digits", "data.resolution=16", "model.g.width=8", "model.d.width=8")
    with pytest.raises(GankitError, match="class-conditional"):
        arithmetic(run, a="1", b="2", c="3")


def test_arithmetic_without_a_classifier_says_so(tmp_path, capsys):
    folder = tmp_path / "imgs"  # unlabelled images without a held-out split: no classifier
    folder.mkdir()
    for i in range(8):
        Image.fromarray(np.random.default_rng(i).integers(0, 256, (16, 16), dtype=np.uint8)).save(folder / f"{i}.png")
    quick = ["train.steps=1", "train.batch_size=4", "train.progress=false", "train.tensorboard=false",
             "train.sample_every=0", "train.checkpoint_every=0", "model.g.width=8", "model.d.width=8"]
    with _quiet():
        train("gan-digits", ["data.name=folder", f"data.path={folder}", *quick], out=tmp_path / "folder")
        train("toy-ring8", quick[:5], out=tmp_path / "toy")
    abc = ["--a", "0", "--b", "1", "--c", "1", "--out", tmp_path / "a.png"]
    one_line_error(capsys, ["arithmetic", tmp_path / "folder", *abc], "no classifier of the run's data (folder)")
    one_line_error(capsys, ["arithmetic", tmp_path / "toy", *abc], "draws points of 2 coordinates, not images")
    one_line_error(capsys, ["interpolate", tmp_path / "toy", "--out", tmp_path / "i.png"], "points")


def test_fashion_classes_take_names_and_have_a_default_triple():
    from gankit.config import DataConfig

    names = visuals.class_names(DataConfig(name="fashion-mnist"))
    assert len(names) == 10 and names[7] == "sneaker" and names[9] == "ankle boot"
    assert visuals.find_class("Ankle_Boot", names) == 9 and visuals.find_class("t-shirt", names) == 0
    assert visuals.find_class("7", names) == 7
    assert visuals._triple(None, None, None, names, "fashion-mnist") == (9, 7, 5)
    with pytest.raises(GankitError, match="sandal, shirt"):
        visuals.find_class("boot", names)


# ----------------------------------------------------------------------------------------------------
# film


def test_film_has_one_captioned_frame_per_preview(digits_run, tmp_path, capsys):
    previews = sorted((digits_run / "samples").glob("*.png"))
    assert [p.name for p in previews] == ["final.png", "step-0000000.png", "step-0000002.png"]
    res = film(digits_run, tmp_path / "f.gif", fps=4)
    assert res.captions == ["step 0", "step 2", "final"]
    with Image.open(res.path) as im:
        assert im.n_frames == len(previews) and im.info["duration"] == 250
        assert im.size == res.size
    # a preview of another size (a resumed run with other settings) is resized to the first's
    run_dir = tmp_path / "copy"
    shutil.copytree(digits_run / "samples", run_dir / "samples")
    Image.new("L", (100, 60), 128).save(run_dir / "samples" / "step-0000003.png")
    assert main(["film", str(run_dir), "--out", str(tmp_path / "g.gif"), "--fps", "2"]) == 0
    assert "wrote 4 frames (step 0 .. final)" in capsys.readouterr().out
    with Image.open(tmp_path / "g.gif") as im:
        assert im.n_frames == 4 and im.size == res.size
    assert film(run_dir, tmp_path / "h.gif", every=2).captions == ["step 0", "step 3", "final"]


def test_film_without_previews_names_the_folder(tmp_path, capsys):
    (tmp_path / "run").mkdir()
    line = one_line_error(capsys, ["film", tmp_path / "run", "--out", tmp_path / "f.gif"], "film: no preview grids")
    assert str(tmp_path / "run" / "samples") in line
    one_line_error(capsys, ["film", tmp_path / "run", "--out", tmp_path / "f.mp4"], ".gif")
