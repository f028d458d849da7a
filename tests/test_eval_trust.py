"""Evaluation under misuse: every metric declares the samples it needs, images without a classifier of
their own get a sensible extractor (or one line saying how to score them), and the bad calls of
``gankit eval`` end in one line, before any classifier is trained."""
from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.api import train
from gankit.cli import main
from gankit.config import DataConfig
from gankit.data import load_data
from gankit.errors import GankitError
from gankit.metrics import classifier as classifier_module
from gankit.metrics import extractors
from gankit.metrics.evaluate import Context, EvalResult, evaluate, save_closest_pairs
from gankit.metrics.registry import METRICS, SampleCountWarning
from helpers.cli import one_line_error

DIGITS = DataConfig(name="digits", resolution=16, channels=1)
FAST = ["train.progress=false", "train.tensorboard=false", "train.sample_every=0"]


@pytest.fixture(autouse=True)
def no_inception(tmp_path, monkeypatch):
    """No FID Inception weights anywhere (a machine that has them would otherwise pick Inception), and
    every note said afresh."""
    monkeypatch.setenv("GANKIT_INCEPTION_WEIGHTS", str(tmp_path / "no-inception.pth"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.setattr(extractors, "_said", set())


@pytest.fixture
def no_training(tmp_path, monkeypatch):
    """An empty classifier cache in which training a classifier fails the test: a call that must fail on
    its inputs fails before it trains anything."""
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "empty-cache"))

    def boom(*a, **k):
        raise AssertionError("a classifier was trained before the inputs were checked")

    monkeypatch.setattr(classifier_module, "_fit", boom)


def unit(images: torch.Tensor) -> torch.Tensor:
    return images.float() / 127.5 - 1


def digits_test(n: int) -> torch.Tensor:
    return unit(load_data(DataConfig(name="digits", resolution=16, split="test")).images[:n])


def write_pngs(folder, n: int, size: int, channels: int = 1, seed: int = 0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        shape = (size, size) if channels == 1 else (size, size, channels)
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(folder / f"{i:03d}.png")
    return folder




# ----------------------------------------------------------------------------------------------------
# the metric contract: every registered metric declares its sample counts, and evaluate keeps them


def _inputs(name: str, n: int, ext):
    """(fake, data_cfg, extractor, keyword inputs) under which metric ``name`` applies, with n samples."""
    needs = METRICS.get(name).needs
    if "modes" in needs:
        return torch.randn(n, 2), DataConfig(name="ring8"), None, {}
    x = digits_test(n)
    kw = {}
    if "targets" in needs:
        kw["targets"] = x
    if "reconstructions" in needs:
        kw.update(sources=x, reconstructions=x)
    if "labels" in needs:
        kw["labels"] = torch.arange(n) % 10  # conditional samples: class i mod K
    if "codes" in needs:
        kw["codes"] = torch.zeros(n, 4)
    return x, DIGITS, ext, kw


def test_every_registered_metric_declares_its_sample_counts_and_evaluate_keeps_them(digits_classifier):
    for name in METRICS.names():
        metric = METRICS.get(name)
        low, rec = metric.minimum(), metric.recommended_for()
        assert isinstance(low, int) and low >= 0 and rec >= low, name
        doc = metric.compute.__doc__ or ""
        assert "Minimum" in doc or "No sample count" in doc, f"{name}: say why its counts are what they are"
        if "encoder" in metric.needs:  # reads the real test split, not samples
            assert low == 0
            continue
        if "generator" in metric.needs:  # draws its own images from a run's game (ppl): tests/test_ppl.py
            continue
        if "tokens" in metric.kinds:  # a sequence metric: its counts are checked in tests/test_sequences.py
            continue
        # below the minimum (in its context): one line naming the metric, the count and the minimum
        fake, cfg, ext, kw = _inputs(name, 30, digits_classifier)
        real = load_data(DataConfig(**{**cfg.__dict__, "split": "train"}))
        ctx = Context(fake, cfg, ext, real, None, kw.get("labels"), kw.get("targets"), 0, True, EvalResult(),
                      kw.get("sources"), kw.get("reconstructions"), kw.get("codes"))
        low = metric.minimum(ctx)
        assert low >= 1, name
        fake, cfg, ext, kw = _inputs(name, low - 1, digits_classifier)
        with pytest.raises(GankitError) as e:
            evaluate(fake, cfg, ext, [name], **kw)
        msg = str(e.value)
        assert msg.startswith(f"{name}: {low - 1} sample") and f"at least {low}" in msg and "\n" not in msg, msg
        # the defaults skip it, saying why
        if not metric.explicit_only:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SampleCountWarning)
                res = evaluate(fake, cfg, ext, None, **kw)
            assert any(n.startswith(f"{name} skipped: {low - 1} sample") for n in res.notes), (name, res.notes)
        if name == "domains":  # computing it trains the domain classifier of a multi-domain dataset
            continue
        # at the minimum: computed, with a warning when that is below the recommended count
        fake, cfg, ext, kw = _inputs(name, low, digits_classifier)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = evaluate(fake, cfg, ext, [name], **kw)
        assert res.scores, name
        few = [w for w in caught if issubclass(w.category, SampleCountWarning)]
        if low < metric.recommended_for(ctx):
            assert len(few) == 1 and f"{name} from {low:,} samples" in str(few[0].message), (name, few)
            assert f"recommended {metric.recommended_for(ctx):,}+" in str(few[0].message)
        else:
            assert not few, name


def test_recommended_counts_follow_the_extractor():
    fid, is_ = METRICS.get("fid"), METRICS.get("is")

    class Ctx:
        def __init__(self, dim, k):
            self.extractor = type("E", (), {"dim": dim, "num_classes": k})()

    assert fid.recommended_for(Ctx(128, 10)) == 640           # the dataset classifiers' 128-d features
    assert fid.recommended_for(Ctx(2048, 1008)) == 10_240     # Inception: TTUR's 10,000 for 2,048-d
    assert is_.recommended_for(Ctx(128, 10)) == 1000
    assert is_.recommended_for(Ctx(2048, 1008)) == 50_000     # Salimans et al.'s protocol
    assert METRICS.get("pr").minimum() == 4 and METRICS.get("dc").minimum() == 6


def test_a_score_from_few_samples_warns_and_a_metric_that_cannot_be_computed_is_skipped(digits_classifier):
    with pytest.warns(SampleCountWarning, match=r"fid from 3 samples \(recommended 640\+\)"):
        res = evaluate(digits_test(3), DIGITS, digits_classifier)
    assert "fid[classifier:digits]" in res.scores and "kid[classifier:digits]" in res.scores
    assert not any(k.startswith(("precision", "density")) for k in res.scores)
    assert "pr skipped: 3 samples; it needs at least 4 (the k = 3 nearest neighbours of a point, itself excluded)" \
        in res.notes
    with warnings.catch_warnings():
        warnings.simplefilter("error", SampleCountWarning)  # enough samples: no warning
        evaluate(digits_test(179), DIGITS, digits_classifier, ["memorization"])


# ----------------------------------------------------------------------------------------------------
# the extractor for images without a classifier of their own


def test_auto_picks_the_mnist_classifier_for_28px_greyscale_folders_and_npz_files(tmp_path):
    folder = write_pngs(tmp_path / "mine", 3, 28)
    spec, note = extractors.choose_spec("auto", DataConfig(name="folder", path=str(folder), resolution=28, channels=1))
    assert spec == "classifier:mnist"
    assert note.startswith("scoring with classifier:mnist features: the FID Inception weights are not here")
    assert "--inception-weights PATH" in note and "classifier:fashion-mnist" in note and "\n" not in note
    # eval.extractor's default, classifier, on a folder run: the same choice, without the Inception part
    spec, note = extractors.choose_spec("classifier", DataConfig(name="npz", path="x.npz", resolution=28, channels=1))
    assert spec == "classifier:mnist" and "Inception" not in note
    assert extractors.choose_spec("auto", DataConfig(name="folder", path=str(folder), resolution=16))[0] == \
        "classifier:digits"
    # datasets with a classifier of their own keep it; an explicit extractor is never second-guessed
    assert extractors.choose_spec("classifier", DIGITS) == ("classifier", None)
    assert extractors.choose_spec("classifier:fashion-mnist", DataConfig(name="folder", path=str(folder))) == \
        ("classifier:fashion-mnist", None)


def test_auto_prefers_inception_when_its_weights_are_here(tmp_path, monkeypatch):
    weights = tmp_path / "pt_inception-2015-12-05-6726825d.pth"
    weights.write_bytes(b"stand-in")  # choosing only looks for the file
    monkeypatch.setenv("GANKIT_INCEPTION_WEIGHTS", str(weights))
    cfg = DataConfig(name="folder", path=str(tmp_path), resolution=28, channels=1)
    assert extractors.choose_spec("auto", cfg) == ("inception-v3", None)
    with pytest.raises(GankitError, match="does not exist"):  # a path typed wrong is not silently replaced
        extractors.choose_spec("auto", cfg, weights=str(tmp_path / "typo.pth"))


def test_images_no_classifier_reads_get_one_line_naming_the_ways_to_score_them(tmp_path, capsys, no_training):
    write_pngs(tmp_path / "rgb", 4, 32, channels=3)
    line = one_line_error(capsys, ["eval", "--real", str(tmp_path / "rgb"), "--fake", str(tmp_path / "rgb")],
                          "no feature extractor for 3x32x32 images", "no held-out split",
                          "--inception-weights PATH", "--extractor classifier:mnist|fashion-mnist|digits")
    assert "Inception weights are not here" in line


def test_gankit_eval_scores_a_28px_folder_with_the_mnist_classifier_and_says_so(tmp_path, capsys, monkeypatch):
    from gankit.metrics.classifier import SmallCNN, TrainedClassifier

    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))  # reference statistics of the stand-in
    built = []

    def stand_in(data_cfg, device="cpu", verbose=True):  # an untrained network: the choice is under test
        built.append(data_cfg.name)
        return TrainedClassifier(data_cfg.name, SmallCNN(1, 10, 28).eval().requires_grad_(False), 0.5, 10, "x")

    monkeypatch.setattr(classifier_module, "classifier_for", stand_in)
    write_pngs(tmp_path / "real", 12, 28)
    np.savez(tmp_path / "fake.npz", x=np.random.default_rng(1).integers(0, 256, (10, 28, 28), dtype=np.uint8))
    with pytest.warns(SampleCountWarning, match="fid from 10 samples"):
        assert main(["eval", "--real", str(tmp_path / "real"), "--fake", str(tmp_path / "fake.npz"),
                     "--metrics", "fid"]) == 0
    out, err = capsys.readouterr()
    assert built == ["mnist"] and "fid[classifier:mnist]" in out
    notes = [line for line in err.splitlines() if line.startswith("note: scoring with classifier:mnist")]
    assert len(notes) == 1 and "Traceback" not in err


def test_gankit_eval_on_a_16px_folder_uses_the_digits_classifier(tmp_path, capsys, digits_classifier):
    folder = tmp_path / "real"
    folder.mkdir()
    for i, img in enumerate(load_data(DataConfig(name="digits", resolution=16, split="test")).images[:40]):
        Image.fromarray(img[0].numpy()).save(folder / f"{i:03d}.png")
    with pytest.warns(SampleCountWarning):
        assert main(["eval", "--real", str(folder), "--fake", str(folder), "--metrics", "fid,pr"]) == 0
    out, err = capsys.readouterr()
    assert "fid[classifier:digits]" in out and "precision[classifier:digits]" in out
    assert [line[:45] for line in err.splitlines()] == ["note: scoring with classifier:digits features"]


# ----------------------------------------------------------------------------------------------------
# gankit eval's bad calls: one line, exit 2, before any classifier is trained


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("trust") / "run"
    train("gan-digits", FAST + ["train.steps=2"], out=out)
    return out


def test_too_few_samples_for_a_metric_asked_for_by_name_fail_before_anything_is_trained(tiny_run, tmp_path, capsys,
                                                                                       no_training):
    one_line_error(capsys, ["eval", str(tiny_run), "--n", "2", "--metrics", "pr"],
                   "pr: 2 samples; it needs at least 4")
    one_line_error(capsys, ["eval", str(tiny_run), "--n", "5", "--metrics", "fid,dc"], "dc: 5 samples", "at least 6")
    np.save(tmp_path / "three.npy", np.zeros((3, 1, 16, 16), np.uint8))
    one_line_error(capsys, ["eval", "--real", "digits", "--fake", str(tmp_path / "three.npy"), "--metrics", "pr"],
                   "pr: 3 samples")
    np.save(tmp_path / "eight.npy", np.zeros((8, 1, 16, 16), np.uint8))
    write_pngs(tmp_path / "two", 2, 16)  # the real side counts too
    one_line_error(capsys, ["eval", "--real", str(tmp_path / "two"), "--fake", str(tmp_path / "eight.npy"),
                            "--metrics", "dc"], "dc: 2 real images; it needs at least 6")


def test_empty_inputs_fail_before_a_classifier_is_trained(tmp_path, capsys, no_training):
    (tmp_path / "empty").mkdir()
    write_pngs(tmp_path / "real", 5, 28)
    one_line_error(capsys, ["eval", "--real", str(tmp_path / "real"), "--fake", str(tmp_path / "empty")], "no images")
    one_line_error(capsys, ["eval", "--real", "mnist", "--fake", str(tmp_path / "empty")], "no images")
    one_line_error(capsys, ["eval", "--real", str(tmp_path / "empty"), "--fake", str(tmp_path / "real")], "no images")
    np.save(tmp_path / "none.npy", np.zeros((0, 1, 16, 16), np.uint8))
    line = one_line_error(capsys, ["eval", "--real", "digits", "--fake", str(tmp_path / "none.npy")])
    assert "none.npy" in line


def test_cuda_on_a_cpu_only_torch_is_one_line(tiny_run, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.cuda, "is_built", lambda: False)
    for argv in (["eval", str(tiny_run)], ["eval", "--real", "digits", "--fake", str(tiny_run)]):
        one_line_error(capsys, argv + ["--device", "cuda"],
                       "--device cuda: CUDA is not available in this PyTorch build")
    one_line_error(capsys, ["eval", str(tiny_run), "--device", "gpu"], "'gpu' is not a device")


def test_two_samples_or_three_images_with_the_default_metrics_score_what_they_can(tiny_run, tmp_path, capsys,
                                                                                  digits_classifier):
    with pytest.warns(SampleCountWarning, match="fid from 2 samples"):
        assert main(["eval", str(tiny_run), "--n", "2"]) == 0
    out, err = capsys.readouterr()
    assert "fid[classifier:digits]" in out and "Traceback" not in err
    assert "note: pr skipped: 2 samples; it needs at least 4" in err
    assert "note: dc skipped: 2 samples; it needs at least 6" in err
    np.save(tmp_path / "three.npy", np.zeros((3, 1, 16, 16), np.uint8))
    with pytest.warns(SampleCountWarning, match="fid from 3 samples"):
        assert main(["eval", "--real", "digits", "--fake", str(tmp_path / "three.npy")]) == 0
    out, err = capsys.readouterr()
    assert "kid[classifier:digits]" in out and "note: pr skipped: 3 samples" in err and "Traceback" not in err


# ----------------------------------------------------------------------------------------------------
# what gankit eval says along the way


def test_the_inception_note_is_said_once_per_process(capsys):
    for _ in range(3):  # training evaluates every eval.every steps; a two-way translation run, per view
        assert extractors.resolve_spec("auto") == "classifier"
    err = capsys.readouterr().err
    assert err.count("note: FID Inception weights") == 1


def test_a_classifier_is_announced_before_it_trains_with_a_progress_bar(tmp_path, capsys, monkeypatch):
    from gankit.data import ImageData
    from gankit.metrics.classifier import SmallCNN, _cached_or_trained

    seen = {}
    real_fit = classifier_module._fit

    def fit(model, data, device, **kw):
        seen["before"] = capsys.readouterr().err  # what the user saw before training began
        seen["kw"] = kw
        real_fit(model, data, device, steps=2, **kw)

    monkeypatch.setattr(classifier_module, "_fit", fit)
    g = torch.Generator().manual_seed(0)
    data = ImageData("toy", torch.randint(0, 256, (20, 1, 16, 16), dtype=torch.uint8, generator=g),
                     torch.arange(20) % 10, 10)
    path = tmp_path / "clf.pt"
    _cached_or_trained(path, SmallCNN(1, 10, 16), data, data, "cpu", "classifier:toy", "toy", True)
    assert seen["before"].strip() == f"training classifier:toy on 20 images, once (it is cached in {path}) ..."
    assert seen["kw"]["progress"] is True
    assert capsys.readouterr().out == ""  # the table's stream stays the table's

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    term = Terminal()
    monkeypatch.setattr("sys.stderr", term)
    real_fit(SmallCNN(1, 10, 16), data, torch.device("cpu"), steps=3, progress=True, desc="classifier:toy")
    assert "training classifier:toy:" in term.getvalue() and "/3 [" in term.getvalue()  # (cleared when done)


def test_the_closest_pairs_picture_is_labelled(tmp_path):
    fake, real = torch.rand(4, 1, 16, 16) * 2 - 1, torch.rand(4, 1, 16, 16) * 2 - 1
    res = EvalResult(closest_pairs=(fake, real, torch.tensor([1.5, 2.25, 3.0, 4.125])))
    path = save_closest_pairs(res, tmp_path / "pairs.png")
    img = np.asarray(Image.open(path).convert("L"))
    unlabelled = np.asarray(Image.open(_unlabelled(fake, real, tmp_path)).convert("L"))
    assert img.shape[0] > unlabelled.shape[0] + 30  # caption lines above each row
    assert (img[:12] < 128).sum() > 50  # dark text on the white band above the samples


def _unlabelled(fake, real, tmp_path):
    from gankit.utils.images import save_image_grid

    return save_image_grid(torch.cat([fake, real]), tmp_path / "plain.png", nrow=len(fake))
