"""Evaluation plumbing: streaming statistics, the dataset classifier, memorisation, `gankit eval`."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from gankit.api import train
from gankit.cli import main
from gankit.config import DataConfig
from gankit.data import load_data
from gankit.metrics import RunningStats, memorization, nearest_neighbours
from gankit.metrics.evaluate import evaluate
from gankit.metrics.extractors import build_extractor

DIGITS = DataConfig(name="digits", resolution=16, channels=1)


def unit(images: torch.Tensor) -> torch.Tensor:
    return images.float() / 127.5 - 1


def test_running_stats_match_numpy_for_any_batching():
    rng = np.random.RandomState(0)
    x = rng.randn(1000, 7) * 3 + 100  # a large common offset stresses naive sums
    for batch in (1000, 333, 64, 1):
        rs = RunningStats()
        for s in range(0, len(x), batch):
            rs.update(torch.from_numpy(x[s:s + batch]))
        np.testing.assert_allclose(rs.mean, x.mean(0), rtol=1e-12)
        np.testing.assert_allclose(rs.cov, np.cov(x, rowvar=False), rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match="at least 2"):
        RunningStats().update(x[:1]).cov


def test_nearest_neighbours_match_brute_force():
    g = torch.Generator().manual_seed(0)
    q, r = torch.randn(50, 9, generator=g), torch.randn(80, 9, generator=g)
    d, i = nearest_neighbours(q, r, chunk=7)
    full = torch.cdist(q.double(), r.double())
    torch.testing.assert_close(d, full.min(1).values)
    torch.testing.assert_close(i, full.argmin(1))


def test_memorization_flags_copies_and_not_new_images():
    train = unit(load_data(DataConfig(name="digits", resolution=8, split="train")).images)
    test = unit(load_data(DataConfig(name="digits", resolution=8, split="test")).images)
    copies = memorization(train[:200], train, test)
    assert copies.near_copies == 1.0 and copies.nn_ratio == 0.0
    fresh = memorization(test[:100], train, test[100:])  # real images the training set never saw
    assert fresh.near_copies < 0.1 and 0.7 < fresh.nn_ratio < 1.4


def test_dataset_classifier_is_accurate_cached_and_leaves_the_rng_alone(digits_classifier, tmp_path):
    assert digits_classifier.name == "classifier:digits"
    assert digits_classifier.info["accuracy"] >= 0.95
    state = torch.get_rng_state()
    again = build_extractor("classifier", DIGITS)  # from the cache
    assert again.key == digits_classifier.key and again.info == digits_classifier.info
    assert torch.equal(torch.get_rng_state(), state)
    test = load_data(DataConfig(name="digits", resolution=16, split="test"))
    _, probs = again.extract(unit(test.images))
    assert (probs.argmax(1) == test.labels).double().mean().item() == pytest.approx(again.info["accuracy"])
    torch.testing.assert_close(probs.sum(1), torch.ones(len(test), dtype=torch.float64))


def test_classifier_trains_even_when_the_caller_holds_no_grad(tmp_path, monkeypatch):
    """The mode metric reads stacked-MNIST digits under torch.no_grad(); on a fresh machine (empty
    cache) that call trains the classifier first, which needs autograd."""
    from gankit.metrics.classifier import classifier_for

    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path))
    with torch.no_grad():
        clf = classifier_for(DIGITS, verbose=False)
    assert clf.accuracy >= 0.95
    assert list((tmp_path / "classifiers").glob("digits-*.pt"))


def test_real_images_score_like_real_and_noise_does_not(digits_classifier):
    test = load_data(DataConfig(name="digits", resolution=16, split="test"))
    real = evaluate(unit(test.images), DIGITS, digits_classifier)
    s = real.scores
    name = "classifier:digits"
    # the held-out split against the train split is the floor by definition
    assert s[f"fid[{name}]"] == pytest.approx(s[f"fid_floor[{name}]"], rel=1e-6)  # float32 features: batch-size round-off
    assert s[f"classes_hit[{name}]"] == 10 and s[f"class_kl[{name}]"] < 0.05
    assert s[f"precision[{name}]"] > 0.6 and s[f"recall[{name}]"] > 0.6  # k=3 on only 179 points
    assert s[f"is[{name}]"] > 5
    noise = evaluate(torch.rand(300, 1, 16, 16) * 2 - 1, DIGITS, digits_classifier, ["fid", "pr", "kid"])
    n = noise.scores
    assert n[f"fid[{name}]"] > 5 * s[f"fid[{name}]"]
    assert n[f"precision[{name}]"] < 0.05 and n[f"kid[{name}]"] > 10 * abs(s[f"kid[{name}]"])


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "digits"
    train("gan-digits", ["train.steps=60", "train.progress=false", "train.tensorboard=false",
                         "eval.every=30", "eval.n=300", "eval.metrics=fid,classes"], out=out)
    return out


def test_training_time_evaluation_and_best_checkpoint(digits_run):
    rows = [json.loads(line) for line in (digits_run / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in rows if "eval/fid[classifier:digits]" in r]
    assert [r["step"] for r in evals] == [30, 60]
    assert all(r["eval/classes_hit[classifier:digits]"] >= 1 for r in evals)
    best = torch.load(digits_run / "checkpoints" / "best.pt", weights_only=True)
    fids = {r["step"]: r["eval/fid[classifier:digits]"] for r in evals}
    assert best["best"]["step"] == min(fids, key=fids.get) == best["step"]
    assert best["best"]["value"] == pytest.approx(min(fids.values()))


def test_evaluation_during_training_keeps_resume_exact(tmp_path):
    extra = ["train.progress=false", "train.tensorboard=false", "eval.every=10", "eval.n=200"]
    train("gan-digits", extra + ["train.steps=20"], out=tmp_path / "a")
    train("gan-digits", extra + ["train.steps=10"], out=tmp_path / "b")
    train(resume=tmp_path / "b", overrides=["train.steps=20"])
    a = torch.load(tmp_path / "a" / "checkpoints" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "b" / "checkpoints" / "last.pt", weights_only=True)
    for k, v in a["players"]["G"].items():
        torch.testing.assert_close(v, b["players"]["G"][k], rtol=0, atol=0)


def test_gankit_eval_on_a_run_and_on_image_files(digits_run, tmp_path, capsys):
    js = tmp_path / "scores.json"
    assert main(["eval", str(digits_run), "--n", "400", "--extractor", "classifier", "--json", str(js)]) == 0
    out = capsys.readouterr().out
    for key in ("fid[classifier:digits]", "fid_floor[classifier:digits]", "kid[classifier:digits]",
                "is[classifier:digits]", "precision[classifier:digits]", "coverage[classifier:digits]",
                "classes_hit[classifier:digits]", "near_copies[pixels]", "classifier:digits accuracy"):
        assert key in out
    scores = json.loads(js.read_text())["scores"]
    assert scores["classes_hit[classifier:digits]"] >= 1
    assert (digits_run / "eval" / "closest_pairs.png").is_file()

    # the same samples written as PNGs, and as an array, score the same through --fake
    assert main(["sample", str(digits_run), "--n", "400", "--out", str(tmp_path / "pngs") + "/"]) == 0
    assert len(list((tmp_path / "pngs").glob("*.png"))) == 400
    assert main(["sample", str(digits_run), "--n", "400", "--out", str(tmp_path / "s.npy")]) == 0
    capsys.readouterr()
    for fake in (tmp_path / "pngs", tmp_path / "s.npy"):
        assert main(["eval", "--real", "digits", "--fake", str(fake), "--extractor", "classifier", "--metrics",
                     "fid", "--json", str(tmp_path / "f.json")]) == 0
        fid = json.loads((tmp_path / "f.json").read_text())["scores"]["fid[classifier:digits]"]
        assert fid == pytest.approx(scores["fid[classifier:digits]"], rel=0.02)  # PNG/npy are 8-bit: tiny rounding


def test_gankit_eval_errors(digits_run, tmp_path, capsys, monkeypatch):
    def one_line(argv, *fragments):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert err.startswith("gankit: error:"), err
        for f in fragments:
            assert f in err, err

    one_line(["eval", str(digits_run), "--metrics", "fid,sharpness"], "sharpness")
    monkeypatch.setenv("GANKIT_INCEPTION_WEIGHTS", str(tmp_path / "none.pth"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    one_line(["eval", str(digits_run), "--extractor", "inception-v3"], "pt_inception")
    one_line(["eval", "--real", "digits"], "--fake")
    one_line(["eval", "--real", "digits", "--fake", str(tmp_path / "missing.npz")], "missing.npz")
