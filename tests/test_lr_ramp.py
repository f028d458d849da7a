"""optim.<player>.ramp_down: a learning rate falls linearly to 0 over the last fraction of the run."""
from __future__ import annotations

import pytest
import torch
from torch.testing import assert_close

from gankit.config import load_config
from gankit.errors import ConfigError
from gankit.train.trainer import Trainer

SMALL = ["train.progress=false", "train.tensorboard=false", "train.threads=1", "train.sample_every=0",
         "train.checkpoint_every=0", "model.g.width=8", "model.d.width=8", "train.batch_size=8", "train.grid_size=4"]


def test_lr_factor_by_hand_and_the_lr_of_the_last_step(tmp_path):
    cfg = load_config("toy-ring8", SMALL + ["train.steps=10", "optim.default.ramp_down=0.4"])
    tr = Trainer(cfg, tmp_path / "run")
    # ramp over the last 4 of 10 steps: (10 - step) / 4 from step 6 on
    assert [tr.lr_factor(s) for s in range(10)] == [1, 1, 1, 1, 1, 1, 1.0, 0.75, 0.5, 0.25]
    tr.fit()
    for name in ("G", "D"):  # the last update (step index 9) ran at a quarter of the configured rate
        assert_close(tr.optimizers[name].param_groups[0]["lr"], 0.25 * getattr(cfg.optim, name.lower()).lr)


def test_no_ramp_keeps_the_lr_and_bad_values_are_errors(tmp_path):
    cfg = load_config("toy-ring8", SMALL + ["train.steps=3", "optim.default.ramp_down=0"])
    tr = Trainer(cfg, tmp_path / "run")
    tr.fit()
    assert tr.optimizers["G"].param_groups[0]["lr"] == cfg.optim.g.lr
    with pytest.raises(ConfigError, match="optim.default.ramp_down"):
        load_config("toy-ring8", ["optim.default.ramp_down=1.5"])


def test_ramped_run_resumes_exactly(tmp_path):
    from gankit.train.checkpoint import load_checkpoint

    sets = SMALL + ["optim.default.ramp_down=0.5", "seed=3", "train.steps=6", "train.checkpoint_every=3",
                    "train.keep_checkpoints=-1"]
    whole = Trainer(load_config("toy-ring8", sets), tmp_path / "a")
    whole.fit()
    state = load_checkpoint(tmp_path / "a" / "checkpoints" / "step-0000003.pt")
    assert state["step"] == 3
    resumed = Trainer(load_config("toy-ring8", sets), tmp_path / "b", resume_state=state)
    resumed.fit()  # steps 3..5 at the ramp's rates, as in the uninterrupted run
    assert_close(dict(resumed.game.G.state_dict()), dict(whole.game.G.state_dict()))
    assert resumed.optimizers["D"].param_groups[0]["lr"] == whole.optimizers["D"].param_groups[0]["lr"]


def test_a_time_budget_ramps_too(tmp_path):
    # train.max_seconds ends this run long before its 10^6 steps: the ramp follows the time spent
    cfg = load_config("toy-ring8", SMALL + ["train.steps=1000000", "train.max_seconds=3", "optim.default.ramp_down=0.5"])
    tr = Trainer(cfg, tmp_path / "run")
    # by hand: whichever budget is closer to running out sets the fraction left
    assert tr.lr_factor(0, 0.0) == 1.0
    assert tr.lr_factor(0, 1.5) == 1.0              # half the time left: the ramp starts here
    assert tr.lr_factor(0, 2.25) == pytest.approx(0.5)
    assert tr.lr_factor(750_000, 0.0) == pytest.approx(0.5)  # the steps' budget, as before
    assert tr.lr_factor(0, 4.0) == 0.0
    tr.fit()
    assert tr.step < 1_000_000
    # the last update started less than a step before the budget's end: well into the ramp
    # (below half the rate unless that step took more than 0.75 s)
    assert tr.optimizers["G"].param_groups[0]["lr"] < 0.5 * cfg.optim.g.lr
