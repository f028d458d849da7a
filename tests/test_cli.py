"""The ``gankit`` command: end to end on the embedded digits, exit codes, one-line errors, Ctrl-C."""
from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.cli import main

FAST = ["--set", "train.progress=false", "--set", "train.tensorboard=false"]


def gankit(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "gankit", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def test_train_then_sample_end_to_end(tmp_path):
    run = tmp_path / "run"
    r = gankit("train", "gan-digits", "--out", run, "--set", "train.steps=40", *FAST)
    assert r.returncode == 0, r.stderr
    assert "done: 40 steps" in r.stdout
    assert (run / "checkpoints" / "last.pt").is_file() and (run / "samples" / "final.png").is_file()

    r = gankit("sample", run, "--n", 10, "--seed", 0, "--out", tmp_path / "a.npy")
    assert r.returncode == 0, r.stderr
    a = np.load(tmp_path / "a.npy")
    assert a.shape == (10, 1, 16, 16) and a.dtype == np.float32
    assert a.min() >= -1 and a.max() <= 1 and a.std() > 0.05
    # same checkpoint and seed, same images (both in fresh processes: a test that ran a trainer in this
    # process may have changed torch's thread count, and products split over other thread counts round
    # differently in the last bit)
    r = gankit("sample", run / "checkpoints" / "last.pt", "--n", 10, "--seed", 0, "--out", tmp_path / "b.npy")
    assert r.returncode == 0, r.stderr
    np.testing.assert_array_equal(a, np.load(tmp_path / "b.npy"))
    assert main(["sample", str(run / "checkpoints" / "last.pt"), "--n", "10", "--seed", "0",
                 "--out", str(tmp_path / "b2.npy")]) == 0
    np.testing.assert_allclose(a, np.load(tmp_path / "b2.npy"), rtol=0, atol=1e-5)
    assert main(["sample", str(run), "--n", "10", "--seed", "1", "--out", str(tmp_path / "c.npy")]) == 0
    assert np.abs(a - np.load(tmp_path / "c.npy")).max() > 0.1
    assert main(["sample", str(run), "--n", "12", "--out", str(tmp_path / "grid.png")]) == 0
    with Image.open(tmp_path / "grid.png") as im:
        assert im.size[0] >= 256


def test_resume_via_cli_gives_identical_samples(tmp_path):
    n = 15
    assert gankit("train", "gan-digits", "--out", tmp_path / "a", "--set", f"train.steps={2 * n}", *FAST).returncode == 0
    assert gankit("train", "gan-digits", "--out", tmp_path / "b", "--set", f"train.steps={n}", *FAST).returncode == 0
    r = gankit("train", "--resume", tmp_path / "b", "--set", f"train.steps={2 * n}")
    assert r.returncode == 0, r.stderr
    for run in ("a", "b"):
        assert main(["sample", str(tmp_path / run), "--n", "32", "--seed", "0", "--out", str(tmp_path / f"{run}.npy")]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))


def test_listings():
    r = gankit("presets")
    assert r.returncode == 0
    for name in ("gan-mnist", "dcgan-mnist", "dcgan-fashion-mnist", "gan-digits"):
        assert name in r.stdout
    r = gankit("datasets")
    assert r.returncode == 0
    for name in ("mnist", "digits", "fashion-mnist", "folder", "npz"):
        assert name in r.stdout
    assert re.search(r"^digits +available", r.stdout, re.M)


def _one_line_error(capsys, argv, *fragments, code=2):
    assert main(argv) == code
    err = capsys.readouterr().err.strip()
    assert err.startswith("gankit: error:") and "\n" not in err and "Traceback" not in err, err
    for f in fragments:
        assert f in err, err
    return err


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    out = ["--out", str(tmp_path / "r")]
    _one_line_error(capsys, ["train", "no-such-preset", *out], "unknown preset 'no-such-preset'", "gan-digits")
    _one_line_error(capsys, ["train", "gan-digits", "--set", "train.stepz=3", *out], "train.stepz", "train.steps")
    _one_line_error(capsys, ["train", "gan-digits", "--set", "train.steps=many", *out], "train.steps",
                    "expected an integer")
    _one_line_error(capsys, ["train", "gan-digits", "--set", "loss.g_cost=best", *out], "loss.g_cost")
    _one_line_error(capsys, ["train", "gan-digits", "--set", "data.name=folder", "--set",
                             f"data.path={tmp_path / 'nowhere'}", *out], "nowhere", "is not a folder")
    (tmp_path / "empty").mkdir()
    _one_line_error(capsys, ["train", "gan-digits", "--set", "data.name=folder", "--set",
                             f"data.path={tmp_path / 'empty'}", *out], "no images")
    _one_line_error(capsys, ["train", "gan-digits", "--set", "data.name=npz", *out], "data.path")
    _one_line_error(capsys, ["train", "--resume", str(tmp_path / "missing")], "no such run directory")
    _one_line_error(capsys, ["sample", str(tmp_path / "missing"), "--n", "4", "--out", str(tmp_path / "x.npy")],
                    "no such run directory")
    assert not (tmp_path / "r").exists()  # nothing was created for a run that never started


def test_truncated_checkpoint_for_resume_and_sample(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "gan-digits", "--out", str(run), "--set", "train.steps=5", *FAST]) == 0
    capsys.readouterr()
    last = run / "checkpoints" / "last.pt"
    last.write_bytes(last.read_bytes()[:1000])
    _one_line_error(capsys, ["train", "--resume", str(run), "--set", "train.steps=10"], "truncated")
    _one_line_error(capsys, ["sample", str(run), "--n", "4", "--out", str(tmp_path / "x.npy")], "truncated")
    _one_line_error(capsys, ["sample", str(run), "--n", "4", "--out", str(tmp_path / "x.jpg")], ".png", ".npy")


def test_ctrl_c_saves_a_checkpoint_and_the_run_resumes(tmp_path):
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "gankit", "train", "gan-digits", "--out", str(run),
                             "--set", "train.steps=1000000", "--set", "train.checkpoint_every=0", *FAST],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    metrics = run / "metrics.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and not (metrics.exists() and metrics.read_text().count("\n") >= 2):
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "--resume" in err and "Traceback" not in err
    state = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    assert 0 < state["step"] < 1_000_000
    r = gankit("train", "--resume", run, "--set", f"train.steps={state['step'] + 7}")
    assert r.returncode == 0, r.stderr
    assert torch.load(run / "checkpoints" / "last.pt", weights_only=True)["step"] == state["step"] + 7
    steps = [json.loads(line)["step"] for line in metrics.read_text().splitlines()]
    assert steps == sorted(set(steps))


def test_a_closed_pipe_is_not_an_error():
    """gankit presets | head -1: the reader leaves early; no traceback, exit 0."""
    proc = subprocess.Popen([sys.executable, "-m", "gankit", "presets"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.readline()
    proc.stdout.close()  # head -1 exits
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and b"Traceback" not in err and err == b""


@pytest.mark.parametrize("args,message", [
    (["train", "gan-digits", "--set", "train.steps=1e30"], "train.steps: '1e30' is out of range"),
    (["train", "gan-digits", "--set", "seed=99999999999999999999"], "seed: 99999999999999999999 is out of range"),
    (["sample", "RUN", "--seed", "99999999999999999999", "--out", "x.png"], "--seed 99999999999999999999: must lie"),
])
def test_absurd_integers_are_one_line_errors(tmp_path, args, message):
    args = [str(tmp_path / "r") if a == "RUN" else a for a in args]
    r = gankit(*args, "--out" if args[0] == "train" else "--device", tmp_path / "run" if args[0] == "train" else "cpu")
    assert r.returncode == 2 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def _running(run, *sets):
    proc = subprocess.Popen([sys.executable, "-m", "gankit", "train", "gan-digits", "--out", str(run),
                             "--set", "train.steps=1000000", *sets, *FAST],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc


def _wait_for(path, proc):
    deadline = time.time() + 120
    while time.time() < deadline and not path.exists() and proc.poll() is None:
        time.sleep(0.2)
    assert path.exists()


@pytest.mark.parametrize("second", ["new", "resume"])
def test_a_second_process_on_a_running_run_directory_refuses(tmp_path, second):
    """Two trainings on one directory: the second refuses (one line, exit 2) and changes nothing; once
    the first is gone (kill -9 included), the run resumes."""
    run = tmp_path / "run"
    proc = _running(run, "--set", f"train.checkpoint_every={0 if second == 'new' else 5}")
    try:
        _wait_for(run / ("metrics.jsonl" if second == "new" else "checkpoints/last.pt"), proc)
        config = (run / "config.yaml").read_bytes()
        args = (["gan-digits", "--out", run, "--set", "train.steps=10", "--set", "model.g.width=8"] if second == "new"
                else ["--resume", run, "--set", "train.steps=2000000"])
        r = gankit("train", *args, *FAST)
        assert r.returncode == 2, r.stderr
        assert f"in use by another gankit process (pid {proc.pid})" in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
        assert (run / "config.yaml").read_bytes() == config
    finally:
        proc.kill()  # kill -9: the lock goes with the process
        proc.wait()
    if second == "resume":
        r = gankit("train", "--resume", run, "--set", "train.steps=2000000", "--set", "train.max_seconds=1", *FAST)
        assert r.returncode == 0, r.stderr


def test_the_default_job(tmp_path):
    """`gankit train` without a preset trains config.DEFAULT_PRESET, and the help and the README say which."""
    from pathlib import Path

    import yaml

    from gankit.config import DEFAULT_PRESET, load_config

    r = gankit("train", "--help")
    assert r.returncode == 0 and f"(default: {DEFAULT_PRESET})" in " ".join(r.stdout.split())
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert f"`gankit train` (the `{DEFAULT_PRESET}` preset)" in readme
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--set", "train.steps=3", "--set", "train.sample_every=0", *FAST]) == 0
    saved = yaml.safe_load((run / "config.yaml").read_text())
    expected = load_config(DEFAULT_PRESET).to_dict()
    expected["model"]["num_classes"] = 10  # the run records the dataset's class count
    for section in ("model", "loss", "optim", "data"):
        assert saved[section] == expected[section], section
    assert saved["train"]["batch_size"] == expected["train"]["batch_size"]
