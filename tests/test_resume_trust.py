"""Resuming never loses or silently rewinds a run: rewinding and branching from an earlier checkpoint,
torn writes cleaned up, checkpoints checked against their schema, clear messages when weights do not fit;
and the cores of one machine shared among its training processes."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from gankit.api import prepare_training, train
from gankit.errors import CheckpointError, ConfigError
from gankit.train.checkpoint import load_checkpoint, mismatch_message, save_checkpoint, validate

FAST = ["train.progress=false", "train.tensorboard=false", "train.log_every=1", "train.sample_every=0",
        "train.threads=1"]


@pytest.fixture
def run10(tmp_path):
    """gan-digits trained to step 10 with checkpoints every 5 steps."""
    run = tmp_path / "run"
    train("gan-digits", FAST + ["train.steps=10", "train.checkpoint_every=5"], out=run)
    return run


def _weights(path) -> dict[str, torch.Tensor]:
    state = load_checkpoint(path)
    return {f"{p}.{k}": v for p, w in state["players"].items() for k, v in w.items()}


def _same(a, b) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _steps(path: Path) -> list[int]:
    return [json.loads(line)["step"] for line in path.read_text().splitlines()]


def test_rewinding_keeps_the_later_run_aside_and_replays_it_exactly(run10):
    original = _weights(run10)
    early = run10 / "checkpoints" / "step-0000005.pt"
    with pytest.raises(ConfigError, match="would rewind the run"):
        prepare_training(resume=early, overrides=["train.steps=10"])
    with pytest.warns(UserWarning, match="rewinding the run to step 5"):
        trainer = prepare_training(resume=early, overrides=["train.steps=10"], rewind=True)
    # already before training, last.pt is the rewind's checkpoint: a kill now resumes where it was rewound to
    assert load_checkpoint(run10)["step"] == 5
    trainer.fit()
    assert _same(_weights(run10), original)  # steps 6-10 replayed bit-exactly
    aside, = (run10 / "rewound").iterdir()
    assert aside.name.startswith("step-0000010-")
    assert sorted(p.name for p in aside.rglob("*") if p.is_file()) == ["last.pt", "metrics.jsonl", "step-0000010.pt"]
    assert _same(_weights(aside / "checkpoints" / "last.pt"), original)
    assert load_checkpoint(aside)["step"] == 10  # the aside folder is shaped like a run
    assert _steps(aside / "metrics.jsonl") == list(range(1, 11))  # the rows the rewind replaced
    assert _steps(run10 / "metrics.jsonl") == list(range(1, 11))  # rows 6-10 once, not twice
    assert sorted(p.name for p in (run10 / "checkpoints").glob("step-*.pt")) == ["step-0000005.pt",
                                                                               "step-0000010.pt"]


def test_a_damaged_last_checkpoint_is_recovered_by_rewinding(run10):
    last = run10 / "checkpoints" / "last.pt"
    last.write_bytes(last.read_bytes()[:1000])
    early = run10 / "checkpoints" / "step-0000005.pt"
    with pytest.raises(ConfigError, match="its last.pt is damaged"):
        prepare_training(resume=early, overrides=["train.steps=7"])
    with pytest.warns(UserWarning, match="rewinding"):
        train(resume=early, overrides=["train.steps=7"], rewind=True)
    assert load_checkpoint(run10)["step"] == 7
    aside, = (run10 / "rewound").iterdir()
    assert (aside / "checkpoints" / "last.pt").stat().st_size == 1000  # the damaged file is kept, not lost


def test_a_checkpoint_outside_a_run_continues_only_in_a_directory_of_its_own(run10, tmp_path):
    loose = tmp_path / "model.pt"
    loose.write_bytes((run10 / "checkpoints" / "last.pt").read_bytes())
    with pytest.raises(ConfigError, match="not in a run's checkpoints/ folder.*--out"):
        prepare_training(resume=loose, overrides=["train.steps=12"])
    assert prepare_training(resume=loose, out=tmp_path / "new", overrides=["train.steps=12"]).fit()["steps"] == 12


def test_branching_leaves_the_run_as_it_was(run10, tmp_path):
    before = {p: p.read_bytes() for p in run10.rglob("*") if p.is_file() and p.name != ".lock"}
    new = tmp_path / "branch"
    trainer = prepare_training(resume=run10 / "checkpoints" / "step-0000005.pt", out=new,
                               overrides=["train.steps=12"])
    assert trainer.step == 5
    trainer.fit()
    assert {p: p.read_bytes() for p in run10.rglob("*") if p.is_file() and p.name != ".lock"} == before
    assert _steps(new / "metrics.jsonl") == list(range(1, 13))
    assert (new / "BRANCHED_FROM").read_text().strip().endswith("at step 5")
    assert load_checkpoint(new)["step"] == 12
    with pytest.raises(ConfigError, match="already holds a run"):
        prepare_training(resume=run10, out=new, overrides=["train.steps=20"])
    with pytest.raises(ConfigError, match="give one of them"):
        prepare_training(resume=run10, out=tmp_path / "b2", overrides=["train.steps=20"], rewind=True)


def test_a_resume_removes_the_temp_files_of_killed_writes(run10):
    ckpts = run10 / "checkpoints"
    (ckpts / ".last.pt.abc123.tmp").write_bytes(b"half a checkpoint")
    (ckpts / "step-0000015.pt.tmp").write_bytes(b"")
    (ckpts / "notes.txt").write_text("mine")  # not a checkpoint write: kept
    train(resume=run10, overrides=["train.steps=11"])
    assert sorted(p.name for p in ckpts.iterdir()) == ["last.pt", "notes.txt", "step-0000005.pt", "step-0000010.pt"]


def test_a_new_run_does_not_append_to_the_metrics_of_a_run_that_died_unsaved(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text("".join(json.dumps({"step": s, "loss/D": 1.0}) + "\n" for s in (1, 2, 3)))
    train("gan-digits", FAST + ["train.steps=4"], out=run)
    assert _steps(run / "metrics.jsonl") == [1, 2, 3, 4]
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert all(r["loss/D"] != 1.0 for r in rows)  # the new run's rows only


def test_a_checkpoint_is_checked_against_its_schema(run10, tmp_path):
    state = load_checkpoint(run10)
    assert validate(state) is state
    for key in ("step", "rng", "images_seen", "sampler"):
        save_checkpoint({k: v for k, v in state.items() if k != key}, tmp_path / f"no-{key}.pt")
        with pytest.raises(CheckpointError, match=f"damaged or incomplete .*missing {key}"):
            load_checkpoint(tmp_path / f"no-{key}.pt")
    save_checkpoint({**state, "players": {"G": [1, 2]}}, tmp_path / "players.pt")
    with pytest.raises(CheckpointError, match="players"):
        load_checkpoint(tmp_path / "players.pt")
    save_checkpoint({**state, "images_seen": -3}, tmp_path / "negative.pt")
    with pytest.raises(CheckpointError, match="negative"):
        load_checkpoint(tmp_path / "negative.pt")


def test_a_shape_mismatch_names_the_setting_that_changed():
    err = RuntimeError("Error(s) in loading state_dict for MLPGenerator:\n\tsize mismatch for net.0.weight: "
                       "copying a param with shape torch.Size([128, 100]) from checkpoint, the shape in current "
                       "model is torch.Size([128, 64]).")
    saved = {"model": {"latent_dim": 100, "g": {"width": 128}}, "train": {"steps": 10}}
    now = {"model": {"latent_dim": 64, "g": {"width": 128}}, "train": {"steps": 20}}
    msg = mismatch_message(err, saved, now)
    assert msg.startswith("settings changed since it was written: model.latent_dim 100 -> 64; size mismatch for "
                          "net.0.weight")
    assert "train.steps" not in msg and "\n" not in msg


def test_the_cores_are_shared_among_the_trainers_of_a_machine(tmp_path, monkeypatch):
    from gankit.utils import cores

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", None)
    monkeypatch.setattr(cores, "_REGISTERED", None)
    assert cores.live_trainers() == 1
    child = subprocess.Popen([sys.executable, "-c", "import time; from gankit.utils import cores; cores.register(); "
                              "print('ready', flush=True); time.sleep(60)"],
                             stdout=subprocess.PIPE, text=True, env={**os.environ, "TMPDIR": str(tmp_path)})
    try:
        assert child.stdout.readline().strip() == "ready"
        cores.register()
        assert cores.live_trainers() == 2
        assert cores.fair_share(8) == (4, 2) and cores.fair_share(1) == (1, 2)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    time.sleep(0.05)
    assert cores.live_trainers() == 1  # the dead one's lock went with it, and its file is removed
    assert [p.name for p in cores._folder().iterdir()] == [str(os.getpid())]
    cores.unregister()
    assert list(cores._folder().iterdir()) == [] and cores.live_trainers() == 1
