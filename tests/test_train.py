"""The trainer end to end: run directory, exact resume, NaN stop, checkpoints, schedule."""
from __future__ import annotations

import hashlib
import json

import pytest
import torch
import yaml

from gankit.api import prepare_training, sample, train
from gankit.config import from_dict, load_config
from gankit.errors import CheckpointError, ConfigError, TrainingDiverged
from gankit.games import Phase
from gankit.train.checkpoint import load_checkpoint, save_checkpoint

DCGAN_TINY = ["model.g.name=dcgan", "model.d.name=dcgan", "model.g.width=8", "model.d.width=8"]


def _states_equal(a: dict, b: dict) -> None:
    for who in ("players", "optimizers"):
        for name in a[who]:
            sa, sb = a[who][name], b[who][name]
            if who == "optimizers":
                sa, sb = sa["state"], sb["state"]
                assert sa.keys() == sb.keys()
                for k in sa:
                    for kk in sa[k]:
                        torch.testing.assert_close(sa[k][kk], sb[k][kk], rtol=0, atol=0)
            else:
                assert sa.keys() == sb.keys()
                for k in sa:
                    torch.testing.assert_close(sa[k], sb[k], rtol=0, atol=0, msg=f"{name}.{k}")


def test_run_directory_contents(tmp_path, fast):
    out = tmp_path / "run"
    summary = train("gan-digits", fast + ["train.steps=20", "train.sample_every=10", "train.checkpoint_every=10",
                                          "train.keep_checkpoints=1", "train.tensorboard=true"], out=out)
    assert summary["steps"] == 20 and summary["images_seen"] == 20 * 32
    # config.yaml is the fully resolved config and reads back to the same tree
    cfg = load_config("gan-digits", fast + ["train.steps=20", "train.sample_every=10", "train.checkpoint_every=10",
                                            "train.keep_checkpoints=1", "train.tensorboard=true"])
    assert from_dict(yaml.safe_load((out / "config.yaml").read_text())) == cfg
    # checkpoints: last.pt plus the newest periodic one (retention 1)
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["last.pt", "step-0000020.pt"]
    state = torch.load(out / "checkpoints" / "last.pt", weights_only=True)
    assert state["step"] == 20 and state["images_seen"] == 640 and state["config"] == cfg.to_dict()
    assert set(state["players"]) == {"G", "D"} and set(state["optimizers"]) == {"G", "D"}
    assert {"torch", "numpy", "python"} <= set(state["rng"])
    # pictures: the fixed-noise grid at 0 and every 10 steps, then the final one
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["final.png", "step-0000000.png",
                                                                  "step-0000010.png"]
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [5, 10, 15, 20]
    for r in rows:
        assert {"loss/D", "loss/G", "D(x)", "D(G(z))", "kimg", "img_per_s"} <= set(r)
        assert 0 < r["D(x)"] < 1 and 0 < r["D(G(z))"] < 1
        assert r["kimg"] == pytest.approx(r["step"] * 32 / 1000)
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))


@pytest.mark.parametrize("net", ["mlp", "dcgan", "dcgan-ema"])
def test_resume_equals_uninterrupted_run(tmp_path, fast, net):
    extra = fast + (DCGAN_TINY if net.startswith("dcgan") else []) + ["train.checkpoint_every=0", "train.sample_every=0"]
    if net.endswith("ema"):
        extra.append("train.ema_decay=0.9")
    n = 12
    train("gan-digits", extra + [f"train.steps={2 * n}"], out=tmp_path / "straight")
    train("gan-digits", extra + [f"train.steps={n}"], out=tmp_path / "split")
    train(resume=tmp_path / "split", overrides=[f"train.steps={2 * n}"])
    a, b = load_checkpoint(tmp_path / "straight"), load_checkpoint(tmp_path / "split")
    assert a["step"] == b["step"] == 2 * n
    _states_equal(a, b)
    for k in a["ema"]:
        for name in a["ema"][k]:
            torch.testing.assert_close(a["ema"][k][name], b["ema"][k][name], rtol=0, atol=0)
    torch.testing.assert_close(sample(tmp_path / "straight", 16, seed=3), sample(tmp_path / "split", 16, seed=3),
                               rtol=0, atol=0)
    steps = [json.loads(line)["step"] for line in (tmp_path / "split" / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[-1] == 2 * n


def test_resume_after_crash_drops_rows_logged_after_the_checkpoint(tmp_path, fast, monkeypatch):
    extra = fast + ["train.checkpoint_every=10", "train.sample_every=0"]
    train("gan-digits", extra + ["train.steps=30"], out=tmp_path / "straight")

    trainer = prepare_training("gan-digits", extra + ["train.steps=30"], out=tmp_path / "crash")
    real_run_phase = trainer.game.run_phase

    def crash_at_step_27(phase, batch, next_phase=None):
        if trainer.step == 26 and phase.name == "G":
            raise RuntimeError("simulated crash")
        return real_run_phase(phase, batch, next_phase)

    monkeypatch.setattr(trainer.game, "run_phase", crash_at_step_27)
    with pytest.raises(RuntimeError, match="simulated crash"):
        trainer.fit()
    assert load_checkpoint(tmp_path / "crash")["step"] == 20
    logged = [json.loads(line)["step"] for line in (tmp_path / "crash" / "metrics.jsonl").read_text().splitlines()]
    assert logged[-1] == 25

    train(resume=tmp_path / "crash")  # the config's train.steps (30) is still ahead of the checkpoint
    _states_equal(load_checkpoint(tmp_path / "straight"), load_checkpoint(tmp_path / "crash"))
    logged = [json.loads(line)["step"] for line in (tmp_path / "crash" / "metrics.jsonl").read_text().splitlines()]
    assert logged == [5, 10, 15, 20, 25, 30]


def test_nan_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path, fast, monkeypatch):
    # on CPU every step is checked (a check costs no synchronisation there); on a GPU the check waits
    # for the next log step, so the exact step below holds for the CPU
    trainer = prepare_training("gan-digits", fast + ["train.steps=40", "train.checkpoint_every=10",
                                                     "train.sample_every=0", "train.device=cpu"], out=tmp_path / "run")
    D = trainer.game.D
    real_forward = D.forward

    def poisoned(x, y=None):
        out = real_forward(x, y)
        return out * float("nan") if trainer.step >= 13 else out

    monkeypatch.setattr(D, "forward", poisoned)
    last = tmp_path / "run" / "checkpoints" / "last.pt"
    digest_at_10 = {}
    real_save = trainer.save

    def save_and_hash(periodic=False):
        path = real_save(periodic)
        digest_at_10[trainer.step] = hashlib.sha256(last.read_bytes()).hexdigest()
        return path

    monkeypatch.setattr(trainer, "save", save_and_hash)
    with pytest.raises(TrainingDiverged, match=r"loss/D.*NaN or infinite by step 14"):
        trainer.fit()
    assert list(digest_at_10) == [10]
    assert hashlib.sha256(last.read_bytes()).hexdigest() == digest_at_10[10]
    assert load_checkpoint(last)["step"] == 10


def test_save_checkpoint_is_atomic(tmp_path):
    path = tmp_path / "ck.pt"
    save_checkpoint({"format": 1, "config": {}, "x": torch.arange(3)}, path)
    before = path.read_bytes()

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("boom while writing")

    with pytest.raises(RuntimeError, match="boom"):
        save_checkpoint({"format": 1, "config": {}, "x": torch.zeros(10_000), "bad": Unpicklable()}, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ck.pt"]  # no temp file left behind


def test_bad_checkpoints_are_named(tmp_path, fast):
    train("gan-digits", fast + ["train.steps=5"], out=tmp_path / "run")
    last = tmp_path / "run" / "checkpoints" / "last.pt"
    data = last.read_bytes()
    last.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        load_checkpoint(tmp_path / "run")
    with pytest.raises(CheckpointError, match="no such run directory"):
        load_checkpoint(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="no checkpoints/last.pt"):
        load_checkpoint(tmp_path / "empty")
    torch.save({"weights": torch.ones(2)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a gankit checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


def test_existing_run_is_not_overwritten_and_resume_needs_more_steps(tmp_path, fast):
    train("gan-digits", fast + ["train.steps=5"], out=tmp_path / "run")
    with pytest.raises(ConfigError, match="already holds a run"):
        prepare_training("gan-digits", fast + ["train.steps=5"], out=tmp_path / "run")
    with pytest.raises(ConfigError, match="already at step 5"):
        prepare_training(resume=tmp_path / "run", overrides=["train.steps=5"])


def test_d_steps_schedule(tmp_path, fast):
    summary = train("gan-digits", fast + ["train.steps=6", "train.d_steps=3"], out=tmp_path / "run")
    assert summary["images_seen"] == 6 * 3 * 32
    state = load_checkpoint(tmp_path / "run")
    d_steps = {float(s["step"]) for s in state["optimizers"]["D"]["state"].values()}
    g_steps = {float(s["step"]) for s in state["optimizers"]["G"]["state"].values()}
    assert d_steps == {18.0} and g_steps == {6.0}


@pytest.mark.parametrize("net", ["mlp", "dcgan"])
def test_lean_step_one_generator_pass_and_no_discriminator_gradients(tmp_path, fast, net):
    trainer = prepare_training("gan-digits", fast + (DCGAN_TINY if net == "dcgan" else []) + ["train.d_steps=2"],
                               out=tmp_path / "run")
    game = trainer.game
    calls = []
    game.G.register_forward_hook(lambda m, i, o: calls.append(o.requires_grad))
    phases = game.phases()
    assert phases == [Phase("D", ("D",), True), Phase("D", ("D",), True), Phase("G", ("G",), False)]
    batch = trainer._batch()
    game.run_phase(phases[0], batch, phases[1])
    game.run_phase(phases[1], batch, phases[2])
    for p in game.G.parameters():
        assert p.grad is None  # D phases compute no generator gradients
    for p in game.D.parameters():
        p.grad = None
    game.run_phase(phases[2], None, None)
    # two G forwards in three phases: the last D phase's output (with autograd) is reused by the G phase
    assert calls == [False, True]
    assert all(p.grad is None for p in game.D.parameters())
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in game.G.parameters())


def test_ema_tracks_the_generator_with_warmup():
    import torch.nn as nn

    from gankit.train.ema import EMA

    net = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    ema = EMA(net, decay=0.99)
    start = [p.detach().clone() for p in net.parameters()]
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)
    net(torch.randn(8, 3))  # changes BatchNorm's running statistics
    ema.update(net, step=0)  # warm-up decay min(0.99, 1/10) = 0.1
    for e, s, p in zip(ema.module.parameters(), start, net.parameters()):
        torch.testing.assert_close(e, 0.1 * s + 0.9 * p)
    torch.testing.assert_close(ema.module[1].running_mean, net[1].running_mean)  # buffers are copied
    for _ in range(3):
        ema.update(net, step=10_000)  # decay 0.99 from here on
    for e, p in zip(ema.module.parameters(), net.parameters()):
        assert not e.requires_grad
        # the gap to the live weights (1.0 after the +1 shift, 0.1 after warm-up) shrinks by 0.99 per update
        torch.testing.assert_close(p - e, torch.full_like(p, 0.1 * 0.99**3))


def test_sampling_uses_the_averaged_generator(tmp_path, fast):
    from gankit.api import load_run

    train("gan-digits", fast + ["train.steps=20", "train.ema_decay=0.95"], out=tmp_path / "run")
    state = load_checkpoint(tmp_path / "run")
    G_ema = load_run(tmp_path / "run").players["G"]
    G_live = load_run(tmp_path / "run", ema=False).game.players["G"]
    assert load_run(tmp_path / "run", ema=False).players == {}  # drawing then uses the live players
    for name, t in G_ema.named_parameters():  # (its BatchNorm statistics are re-estimated: test_ema_bn.py)
        torch.testing.assert_close(t, state["ema"]["G"][name])
    for name, t in G_live.state_dict().items():
        torch.testing.assert_close(t, state["players"]["G"][name])
    assert any(not torch.equal(state["ema"]["G"][k], state["players"]["G"][k]) for k in state["ema"]["G"])


def test_time_budget_stops_with_a_final_checkpoint(tmp_path, fast):
    summary = train("gan-digits", fast + ["train.steps=100000", "train.max_seconds=0.5"], out=tmp_path / "run")
    assert 1 <= summary["steps"] < 100000 and summary["train_seconds"] >= 0.5
    assert load_checkpoint(tmp_path / "run")["step"] == summary["steps"]
    assert (tmp_path / "run" / "samples" / "final.png").is_file()


def test_train_threads_apply_while_training_and_the_callers_count_comes_back(tmp_path, fast):
    """train.threads sets torch's thread count for the training loop only: an API caller gets its own
    count back afterwards, also when the run fails."""
    seen = []
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(3)
        trainer = prepare_training("gan-digits", fast + ["train.steps=2", "train.threads=1"], out=tmp_path / "a")
        assert torch.get_num_threads() == 3  # building a trainer changes nothing yet
        run_phase = trainer.game.run_phase
        trainer.game.run_phase = lambda *a, **k: (seen.append(torch.get_num_threads()), run_phase(*a, **k))[1]
        trainer.fit()
        assert seen and set(seen) == {1}
        assert torch.get_num_threads() == 3
        bad = prepare_training("gan-digits", fast + ["train.steps=2", "train.threads=1"], out=tmp_path / "b")
        bad.game.run_phase = lambda *a, **k: 1 / 0
        with pytest.raises(ZeroDivisionError):
            bad.fit()
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)


def test_cpu_clock_budget_counts_process_cpu_time(tmp_path, fast):
    summary = train("gan-digits", fast + ["train.steps=100000", "train.max_seconds=0.4", "train.clock=cpu"],
                    out=tmp_path / "run")
    assert 1 <= summary["steps"] < 100000 and summary["cpu_seconds"] >= 0.4
    assert load_checkpoint(tmp_path / "run")["cpu_seconds"] >= 0.4


def test_fp16_on_cpu_is_a_clear_config_error(tmp_path, fast):
    with pytest.raises(ConfigError, match="train.precision: 'fp16' needs a CUDA device"):
        train("gan-digits", fast + ["train.precision=fp16", "train.device=cpu"], out=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_bf16_autocast_and_channels_last_train_on_cpu(tmp_path, fast):
    summary = train("gan-digits", fast + ["train.steps=3", "train.precision=bf16", "train.channels_last=true",
                                          "model.g.name=dcgan", "model.d.name=dcgan", "model.g.width=8",
                                          "model.d.width=8"], out=tmp_path / "run")
    assert summary["steps"] == 3
    G = load_checkpoint(tmp_path / "run")["players"]["G"]
    assert all(torch.isfinite(t).all() and t.dtype == torch.float32 for t in G.values() if t.is_floating_point())


def test_malloc_tuning_stops_the_page_faults_of_a_reallocated_buffer():
    import subprocess
    import sys
    code = (
        "import resource, torch\n"
        "from gankit.utils.malloc import tune_malloc\n"
        "def faults():\n"
        "    r0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
        "    for _ in range(20):\n"
        "        torch.empty(4_000_000).fill_(1.0)\n"  # 16 MB: above glibc's default mmap threshold
        "    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - r0\n"
        "before = faults()\n"
        "ok = tune_malloc()\n"
        "faults()\n"  # the first allocation after tuning grows the heap once
        "print(ok, before, faults())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    if out[0] != "True":
        pytest.skip("not glibc")
    before, after = int(out[1]), int(out[2])
    assert before > 2000 and after < before / 20, (before, after)
