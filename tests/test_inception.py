"""gankit's FID Inception-v3 against pytorch-fid's, and the weight-file lookup.

The reference outputs in ``golden/inception_golden.npz`` come from pytorch-fid's own network
(``golden/make_inception_golden.py``, run in a virtualenv with pytorch-fid and torchvision) with seeded
random weights that ``golden/inception_weights.py`` regenerates here, so no download is needed.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gankit.errors import GankitError
from gankit.metrics.inception import (WEIGHTS_ENV, WEIGHTS_NAME, FIDInceptionV3, find_inception_weights,
                                      load_fid_inception)

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
sys.path.insert(0, str(GOLDEN_DIR))
import inception_weights as W  # noqa: E402

GOLDEN = np.load(GOLDEN_DIR / "inception_golden.npz")
CASES = json.loads(str(GOLDEN["about"]))["cases"]
TOL = 1e-4


def _inputs(name: str) -> torch.Tensor:
    c = CASES[name]
    return torch.from_numpy(W.images(c["n"], c["channels"], c["size"], c["seed"]))


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """One intra-op thread: on a shared 2-core machine a 2-thread Inception forward can be ~8x slower
    than a 1-thread one when another process keeps a core busy (OpenMP threads wait on each other)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory) -> Path:
    shapes = {k: tuple(v.shape) for k, v in FIDInceptionV3().state_dict().items()}
    state = {k: torch.from_numpy(v) for k, v in W.random_state_dict(shapes).items()}
    path = tmp_path_factory.mktemp("inception") / WEIGHTS_NAME
    torch.save(state, path)
    return path


@pytest.fixture(scope="module")
def model(weights_file) -> FIDInceptionV3:
    return load_fid_inception(weights_file)  # strict=True load of pytorch-fid's key names


@pytest.fixture(scope="module")
def outputs(model) -> dict[str, dict[str, np.ndarray]]:
    with torch.no_grad():
        return {name: {k: v.numpy() for k, v in model(_inputs(name)).items()} for name in CASES}


def test_key_names_match_pytorch_fid():
    keys = sorted(FIDInceptionV3().state_dict())
    assert len(keys) == int(GOLDEN["n_keys"]) == 566
    assert W.key_hash(keys) == str(GOLDEN["key_hash"])
    assert {"Conv2d_1a_3x3.conv.weight", "Conv2d_1a_3x3.bn.running_mean", "Mixed_5b.branch5x5_1.conv.weight",
            "Mixed_7c.branch_pool.bn.num_batches_tracked", "fc.weight", "fc.bias"} <= set(keys)
    assert not any(k.startswith("AuxLogits") for k in keys)


def test_loaded_model_is_frozen_eval(model):
    assert not model.training
    assert not any(p.requires_grad for p in model.parameters())
    assert all(m.eps == 0.001 for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert all(m.bias is None for m in model.modules() if isinstance(m, torch.nn.Conv2d))


@pytest.mark.parametrize("name", ["rgb64", "gray28", "rgb384"])
def test_matches_pytorch_fid(outputs, name):
    # gray28 is given to gankit with 1 channel; pytorch-fid got it repeated to 3.
    out = outputs[name]
    n = CASES[name]["n"]
    assert out["pool"].shape == (n, 2048) and out["logits"].shape == (n, 1008)
    ref_pool, ref_logits = GOLDEN[f"{name}_pool"], GOLDEN[f"{name}_logits"]
    assert ref_pool.std() > 0.5  # activations neither vanished nor exploded in the reference
    assert np.abs(out["pool"] - ref_pool).max() <= TOL
    assert np.abs(out["logits"] - ref_logits).max() <= TOL


def test_reference_images_differ():
    """The golden features tell images apart, so matching them is not matching a constant."""
    for name in ("rgb64", "gray28"):
        pool = GOLDEN[f"{name}_pool"]
        assert np.abs(pool[0] - pool[1]).max() > 1000 * TOL


def test_max_pool_in_last_block_matters(model, outputs):
    """The golden comparison detects a one-block structural slip (average instead of max pool)."""
    x = _inputs("rgb64")[:1]
    model.Mixed_7c.pool = "avg"
    try:
        with torch.no_grad():
            pool = model(x)["pool"].numpy()
    finally:
        model.Mixed_7c.pool = "max"
    assert np.abs(pool - GOLDEN["rgb64_pool"][:1]).max() > 100 * TOL


def test_grayscale_equals_repeated_rgb(model, outputs):
    gray = _inputs("gray28")
    with torch.no_grad():
        rgb = model(gray.repeat(1, 3, 1, 1))
    np.testing.assert_allclose(rgb["pool"].numpy(), outputs["gray28"]["pool"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(rgb["logits"].numpy(), outputs["gray28"]["logits"], rtol=0, atol=1e-6)


def test_rejects_bad_channel_count(model):
    with pytest.raises(ValueError, match="1 or 3"):
        model(torch.zeros(1, 2, 32, 32))


@pytest.fixture
def no_weights(tmp_path, monkeypatch) -> Path:
    """An empty torch hub folder and no environment variable: nowhere to find the weights."""
    hub = tmp_path / "hub"
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(hub))
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    return hub


def test_missing_weights_error_names_every_place(no_weights, tmp_path, monkeypatch):
    hub_file = no_weights / "checkpoints" / WEIGHTS_NAME
    with pytest.raises(GankitError) as e:
        find_inception_weights()
    msg = str(e.value)
    assert "\n" not in msg
    assert str(hub_file) in msg and WEIGHTS_ENV in msg and "--inception-weights" in msg and WEIGHTS_NAME in msg

    env = tmp_path / "env.pth"
    monkeypatch.setenv(WEIGHTS_ENV, str(env))
    with pytest.raises(GankitError) as e:
        load_fid_inception()
    msg = str(e.value)
    assert "\n" not in msg
    assert str(env) in msg and str(hub_file) in msg and msg.index(str(env)) < msg.index(str(hub_file))

    given = tmp_path / "given.pth"  # a path typed by the user must exist: no silent fall-back
    env.write_bytes(b"x")
    with pytest.raises(GankitError, match="given.pth' does not exist"):
        find_inception_weights(given)


def test_search_order(no_weights, tmp_path, monkeypatch):
    hub_file = no_weights / "checkpoints" / WEIGHTS_NAME
    hub_file.parent.mkdir(parents=True)
    hub_file.write_bytes(b"x")
    assert find_inception_weights() == hub_file
    env = tmp_path / "env.pth"
    env.write_bytes(b"x")
    monkeypatch.setenv(WEIGHTS_ENV, str(env))
    assert find_inception_weights() == env
    given = tmp_path / "given.pth"
    given.write_bytes(b"x")
    assert find_inception_weights(given) == given
    assert find_inception_weights(str(given)) == given


def test_explicit_file_found_without_env_or_hub(no_weights, weights_file):
    assert find_inception_weights(weights_file) == weights_file


def test_bad_weight_files(no_weights, tmp_path):
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a torch file at all")
    with pytest.raises(GankitError) as e:
        load_fid_inception(garbage)
    assert str(garbage) in str(e.value) and "\n" not in str(e.value)

    full = FIDInceptionV3().state_dict()
    partial = tmp_path / "partial.pth"
    torch.save({k: v for k, v in full.items() if k != "fc.bias"}, partial)
    with pytest.raises(GankitError) as e:
        load_fid_inception(partial)
    msg = str(e.value)
    assert str(partial) in msg and "fc.bias" in msg and "\n" not in msg

    wrong_shape = tmp_path / "wrong_shape.pth"
    torch.save({**full, "fc.weight": torch.zeros(1000, 2048), "fc.bias": torch.zeros(1000)}, wrong_shape)
    with pytest.raises(GankitError) as e:
        load_fid_inception(wrong_shape)
    msg = str(e.value)
    assert str(wrong_shape) in msg and "fc." in msg and "\n" not in msg

    not_a_dict = tmp_path / "list.pth"
    torch.save([torch.zeros(3)], not_a_dict)
    with pytest.raises(GankitError, match="state dict"):
        load_fid_inception(not_a_dict)
