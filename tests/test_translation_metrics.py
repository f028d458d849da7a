"""Scores of translation runs: label preservation against the untranslated baseline and the real
ceiling, StarGAN's domain-classification error, and scores prefixed by direction."""
from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.config import DataConfig, load_config
from gankit.data import load_data
from gankit.errors import GankitError
from gankit.games import DataInfo
from gankit.games.stargan import StarGANGame
from gankit.metrics import classifier as clf
from gankit.metrics.evaluate import EvalResult, evaluate, format_table
from gankit.metrics.registry import score_direction

DIGITS = DataConfig(name="digits", resolution=16, channels=1)


def unit(images: torch.Tensor) -> torch.Tensor:
    return images.float() / 127.5 - 1


def test_translation_accuracy_reports_the_baseline_and_the_ceiling(digits_classifier):
    held = load_data(DataConfig(name="digits", resolution=16, split="test"))
    real, labels = unit(held.images), held.labels
    noise = torch.rand_like(real) * 2 - 1
    name = digits_classifier.name
    # "translations" that are the real images, from inputs that are noise: the translator helped
    res = evaluate(real, DIGITS, digits_classifier, ["accuracy"], heldout=held, labels=labels, sources=noise)
    s = res.scores
    acc = digits_classifier.info["accuracy"]  # the classifier's own held-out accuracy
    assert s[f"class_acc[{name}]"] == pytest.approx(acc, abs=1e-9)
    assert s[f"class_acc_real[{name}]"] == pytest.approx(acc, abs=1e-9)  # the ceiling: real output-domain images
    assert s[f"class_acc_inputs[{name}]"] < 0.3  # the baseline: noise reads as any class
    assert f"class_acc_targets[{name}]" not in s and f"intra_fid[{name}]" not in s
    # the other way round: a translator that destroys the digits scores below its inputs
    res = evaluate(noise, DIGITS, digits_classifier, ["accuracy"], heldout=held, labels=labels, sources=real)
    assert res.scores[f"class_acc[{name}]"] < 0.3 < res.scores[f"class_acc_inputs[{name}]"]
    # with true targets, their accuracy is the ceiling instead
    res = evaluate(real, DIGITS, digits_classifier, ["accuracy"], heldout=held, labels=labels, sources=noise,
                   targets=real)
    assert res.scores[f"class_acc_targets[{name}]"] == pytest.approx(acc, abs=1e-9)
    assert f"class_acc_real[{name}]" not in res.scores


def test_a_cycle_without_reconstructions_is_an_error_when_asked_for(digits_classifier):
    held = load_data(DataConfig(name="digits", resolution=16, split="test"))
    with pytest.raises(GankitError, match="cycle: needs a translation run with a way back"):
        evaluate(unit(held.images), DIGITS, digits_classifier, ["cycle"], heldout=held)
    x = unit(held.images[:10])
    res = evaluate(x, DIGITS, None, ["cycle"], heldout=held, sources=x, reconstructions=x.flip(0))
    assert res.scores["cycle_l1[pixels]"] == pytest.approx(float((x.flip(0) - x).abs().mean()))


def test_view_prefixed_scores_keep_their_direction_and_table():
    assert score_direction("BtoA/class_acc[classifier:mnist]") is True
    assert score_direction("AtoB/fid[classifier:fonts]") is False
    assert score_direction("AtoB/cycle_l1[pixels]") is False
    res = EvalResult(scores={"AtoB/fid[x]": 1.0}, extractor="classifier:fonts, classifier:mnist",
                     info={"AtoB/classifier:fonts accuracy": 0.99})
    table = format_table(res)
    assert "AtoB/classifier:fonts accuracy" in table and "classifier:mnist AtoB" not in table


RGB = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (40, 50, 230)}


@pytest.fixture(scope="module")
def colour_domains(tmp_path_factory):
    root = tmp_path_factory.mktemp("colours")
    rng = np.random.default_rng(0)
    for split, n in (("train", 40), ("test", 10)):
        for name, rgb in RGB.items():
            (root / split / name).mkdir(parents=True)
            for i in range(n):
                img = np.clip(np.array(rgb)[None, None] + rng.normal(0, 20, (16, 16, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(img).save(root / split / name / f"{i}.png")
    return root


def test_domain_error_reads_outputs_as_their_target_domains(colour_domains, monkeypatch, tmp_path):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))  # a fresh cache: this test trains its classifier
    monkeypatch.setattr(clf, "_fit", functools.partial(clf._fit, steps=60))  # colours: a few steps suffice
    cfg = load_config("stargan-mnist-attributes", ["data.name=domains", f"data.path={colour_domains}",
                                                   "data.resolution=16", "model.g.width=4", "model.d.width=4"])
    game = StarGANGame(cfg, DataInfo({"x": (3, 16, 16)}, 3, "domains", (("blue", "green", "red"),)))
    held = load_data(DataConfig(name="domains", path=str(colour_domains), resolution=16, channels=3, split="test"))
    x, own = unit(held.images), held.attributes
    res = evaluate(x, cfg.data, None, ["domains"], heldout=held, codes=own, game=game)
    tag = "classifier-domains:domains"
    assert res.scores[f"domain_err_real[{tag}]"] == 0.0  # three colours: the classifier reads them all
    assert res.scores[f"domain_err[{tag}]"] == 0.0  # real images "translated" to their own domain
    other = own.roll(1, dims=1)  # every image asked to be another colour, but unchanged: all wrong
    res = evaluate(x, cfg.data, None, ["domains"], heldout=held, codes=other, game=game)
    assert res.scores[f"domain_err[{tag}]"] == 1.0
    assert list((tmp_path / "cache" / "classifiers").glob("domains-domains-*.pt"))  # cached for the next call
