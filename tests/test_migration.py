"""Checkpoints of format 1 (written before the game protocol) still load, draw the same samples and resume."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from gankit.api import load_run, sample, train
from gankit.errors import CheckpointError
from gankit.train.checkpoint import FORMAT_VERSION, load_checkpoint, save_checkpoint

V1 = Path(__file__).parent / "golden" / "v1"


@pytest.mark.parametrize("name, n", [("mlp-ema", 4), ("cgan", 10)])
def test_format_1_checkpoints_draw_the_samples_they_drew_before(name, n):
    want = torch.load(V1 / f"{name}-samples-seed1.pt", weights_only=True)
    torch.testing.assert_close(sample(V1 / f"{name}.pt", n, seed=1), want, rtol=0, atol=0)


def test_format_1_is_migrated_on_load():
    raw = torch.load(V1 / "mlp-ema.pt", weights_only=True)
    assert raw["format"] == 1 and raw["config"]["game"] == "gan" and raw["config"]["train"]["lr_ramp_down"] == 0.5
    state = load_checkpoint(V1 / "mlp-ema.pt")
    assert state["format"] == FORMAT_VERSION == 2
    assert state["config"]["game"] == {"name": "gan"} and "lr_ramp_down" not in state["config"]["train"]
    assert state["config"]["optim"]["default"]["ramp_down"] == 0.5
    assert state["sampler"] == {"data": raw["sampler"]}
    run = load_run(V1 / "mlp-ema.pt")
    assert run.cfg.optim.g.ramp_down == 0.5 and run.cfg.optim.g.lr == raw["config"]["optim"]["g"]["lr"]
    assert set(run.players) == {"G"}  # the EMA generator draws


def test_a_format_1_run_resumes_and_continues_in_format_2(tmp_path):
    run = tmp_path / "old"
    (run / "checkpoints").mkdir(parents=True)
    shutil.copy(V1 / "mlp-ema.pt", run / "checkpoints" / "last.pt")
    summary = train(resume=run, overrides=["train.steps=9", "train.progress=false", "train.tensorboard=false"])
    assert summary["steps"] == 9
    state = load_checkpoint(run)
    assert state["format"] == 2 and state["step"] == 9 and state["images_seen"] == 9 * 16
    raw = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    assert raw["format"] == 2 and raw["config"]["optim"]["default"]["ramp_down"] == 0.5


def test_a_newer_format_is_refused_with_a_clear_message(tmp_path):
    state = load_checkpoint(V1 / "mlp-ema.pt")
    save_checkpoint({**state, "format": FORMAT_VERSION + 1}, tmp_path / "new.pt")
    with pytest.raises(CheckpointError, match="written by a newer gankit"):
        load_checkpoint(tmp_path / "new.pt")
