"""Crash safety: a training process killed with SIGKILL at any moment, a checkpoint write included,
leaves a ``last.pt`` that loads, and the run resumes from it (bit-exactly, and tidying the torn write).

Two kinds of test:

* the kill-resume cycle: ``gankit train`` writing a checkpoint every step, SIGKILLed at random (seeded)
  moments, resumed, killed again, ..., then finished; after every kill ``last.pt`` must load and never go
  back in steps, and at the end the run directory must be clean and whole;
* kills at chosen instants of ``save_checkpoint`` (half-way through ``torch.save``, just before the
  rename, between the periodic copy's link and its rename), made deterministic by a child process that
  kills itself there; the run then resumes to the same weights as a run that was never interrupted.
"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
import yaml

from gankit.errors import CheckpointError
from gankit.train.checkpoint import load_checkpoint

pytestmark = pytest.mark.skipif(os.name != "posix" or not hasattr(signal, "SIGKILL"),
                                reason="SIGKILL and flock are POSIX")

SETTINGS = ["train.checkpoint_every=1", "train.progress=false", "train.tensorboard=false", "train.sample_every=0",
            "train.threads=1"]
LOG_EVERY = 10  # gan-digits' train.log_every
BIG = 10_000_000  # train.steps of a run that is to be killed, never to finish
DEADLINE = 120.0  # seconds any one wait may take before the test fails (a hung process, not slowness)


def _sets(settings):
    return [a for s in settings for a in ("--set", s)]


def _spawn(args, log: Path) -> subprocess.Popen:
    with open(log, "w") as f:  # a file, not a pipe: a killed child never blocks on a full pipe
        return subprocess.Popen([sys.executable, "-m", "gankit", "train", *map(str, args)], stdout=f,
                                stderr=subprocess.STDOUT)


def _log(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:] if log.exists() else "(no output)"


def _identity(path: Path):
    """What changes whenever ``path`` is replaced by rename (``None`` while it does not exist)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def _kill(proc: subprocess.Popen, log: Path) -> None:
    if proc.poll() is not None:
        pytest.fail(f"the trainer exited by itself (code {proc.returncode}) before it was killed:\n{_log(log)}")
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=DEADLINE) == -signal.SIGKILL


def _wait_for_new_checkpoint(proc: subprocess.Popen, last: Path, before, log: Path) -> None:
    """Until ``last`` differs from ``before`` (a new checkpoint was renamed into place)."""
    deadline = time.monotonic() + DEADLINE
    while _identity(last) in (before, None):
        if proc.poll() is not None:
            pytest.fail(f"the trainer exited (code {proc.returncode}) before writing a checkpoint:\n{_log(log)}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"no new checkpoint within {DEADLINE} s:\n{_log(log)}")
        time.sleep(0.005)


def _orphans(ckpt_dir: Path) -> list[str]:
    return sorted(p.name for p in ckpt_dir.glob("*.tmp")) if ckpt_dir.is_dir() else []


def _check_checkpoints(run: Path) -> int:
    """``last.pt`` loads; so does every periodic copy, none of them later than it. Returns its step."""
    last = load_checkpoint(run)["step"]
    for p in sorted((run / "checkpoints").glob("step-*.pt")):
        step = load_checkpoint(p)["step"]
        assert step == int(p.stem.split("-")[1]) and step <= last, (p.name, step, last)
    return last


def _kept(run: Path, copied: list[int]) -> list[str]:
    """The files of checkpoints/ once a run has ended, having made periodic copies at steps ``copied``:
    last.pt and the newest train.keep_checkpoints copies."""
    keep = load_checkpoint(run)["config"]["train"]["keep_checkpoints"]
    assert keep > 0
    return ["last.pt", *(f"step-{s:07d}.pt" for s in sorted(copied)[-keep:])]


def _metric_steps(run: Path) -> list[int]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]  # every line whole: a torn one was dropped on resume
    return [r["step"] for r in rows]


def test_sigkill_at_random_moments_then_resume(tmp_path):
    """Kill-resume cycles: a checkpoint every step (so most moments are in or near a write), SIGKILL at
    seeded random delays, the first kill possibly before any checkpoint exists."""
    rng = random.Random(20240611)
    run = tmp_path / "run"
    ckpt_dir, last = run / "checkpoints", run / "checkpoints" / "last.pt"
    fresh = ["gan-digits", "--out", run, *_sets(SETTINGS + [f"train.steps={BIG}"])]
    history = []  # (trial, how, step after the kill, orphans the kill left)

    # 1. a new run killed early, anywhere from interpreter start-up to its first steps
    log = tmp_path / "train-0.log"
    proc = _spawn(fresh, log)
    time.sleep(rng.uniform(0.5, 3.0))
    _kill(proc, log)
    if last.exists():
        step = _check_checkpoints(run)
        history.append((0, "early", step, _orphans(ckpt_dir)))
    else:  # killed before its first checkpoint: nothing to resume; the same command starts the run afresh
        history.append((0, "early", None, _orphans(ckpt_dir)))
        log = tmp_path / "train-0b.log"
        proc = _spawn(fresh, log)
        _wait_for_new_checkpoint(proc, last, None, log)
        time.sleep(rng.uniform(0.0, 0.15))
        _kill(proc, log)
        step = _check_checkpoints(run)
        history.append((0, "fresh", step, _orphans(ckpt_dir)))

    # 2. resumed, and killed again: either anywhere from start-up on (loading, tidying, truncating
    #    metrics.jsonl, training) or after the resumed run has written a checkpoint of its own
    for trial in range(1, 7):
        prev = step
        how = "anytime" if trial % 3 == 0 else "training"
        log = tmp_path / f"train-{trial}.log"
        before = _identity(last)
        proc = _spawn(["--resume", run, *_sets([f"train.steps={prev + BIG}"])], log)
        if how == "training":
            _wait_for_new_checkpoint(proc, last, before, log)
            time.sleep(rng.uniform(0.0, 0.15))
        else:
            time.sleep(rng.uniform(0.2, 4.0))
        _kill(proc, log)
        step = _check_checkpoints(run)
        history.append((trial, how, step, _orphans(ckpt_dir)))
        assert step >= prev, history
        if how == "training":
            assert step > prev, history
        leftovers = _orphans(ckpt_dir)  # at most the one write the kill cut short (last.pt's or a periodic copy)
        assert len(leftovers) <= 1 and all(n.startswith(".last.pt.") or n.endswith(".pt.tmp") for n in leftovers), \
            history

    print("kills (trial, how, step of last.pt, temp files left):", *history, sep="\n  ")

    # 3. the last resume runs to its end
    final = step + 15
    log = tmp_path / "train-final.log"
    proc = _spawn(["--resume", run, *_sets([f"train.steps={final}"])], log)
    assert proc.wait(timeout=DEADLINE) == 0, _log(log)
    assert f"done: {final} steps" in log.read_text(), _log(log)
    assert _check_checkpoints(run) == final
    assert load_checkpoint(run)["images_seen"] == final * 32
    assert _orphans(ckpt_dir) == [], history  # the torn writes of the killed processes were removed
    assert sorted(p.name for p in ckpt_dir.iterdir()) == _kept(run, list(range(1, final + 1)))
    # one row per log_every steps and one at the end, each once: the rows a killed process logged after
    # its last checkpoint were dropped on resume, and logged again
    expected = [s for s in range(LOG_EVERY, final + 1, LOG_EVERY)] + ([final] if final % LOG_EVERY else [])
    assert _metric_steps(run) == expected, history
    assert yaml.safe_load((run / "config.yaml").read_text())["train"]["steps"] == final


# ------------------------------------------------------------------------------------------------
# a kill at a chosen instant of a checkpoint write
# ------------------------------------------------------------------------------------------------

KILL_AT = 4  # the step whose checkpoint write is killed
STEPS = 6
EXACT = SETTINGS + ["train.log_every=1"]

# The child trains like `gankit train`, and SIGKILLs itself at one instant of step KILL_AT's write.
CHILD = textwrap.dedent("""
    import io, os, signal, sys
    import torch
    from gankit.api import train
    from gankit.train import checkpoint, trainer

    run, where, kill_at, overrides = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]

    def die():
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    armed = False
    real_save, real_replace, real_link = checkpoint.save_checkpoint, os.replace, os.link
    real_torch_save = torch.save

    def save_checkpoint(state, path):
        global armed
        armed = state["step"] == kill_at and os.path.basename(path) == "last.pt"
        try:
            return real_save(state, path)
        finally:
            armed = False

    def torch_save(obj, f, *a, **k):
        if not (armed and where == "torch.save"):
            return real_torch_save(obj, f, *a, **k)
        buf = io.BytesIO()
        real_torch_save(obj, buf, *a, **k)
        data = buf.getvalue()
        f.write(data[: len(data) // 2])  # half the file is on disk when the process dies
        f.flush()
        die()

    def replace(src, dst, *a, **k):
        if armed and where == "replace":
            die()  # the temp file is complete and synced; last.pt is still the previous one
        return real_replace(src, dst, *a, **k)

    def link(src, dst, *a, **k):
        real_link(src, dst, *a, **k)
        if where == "link" and str(dst).endswith(f"step-{kill_at:07d}.pt.tmp"):
            die()  # last.pt is the new one; the periodic copy is not yet renamed into place

    trainer.save_checkpoint = save_checkpoint
    torch.save, os.replace, os.link = torch_save, replace, link
    train("gan-digits", overrides, out=run)
    print("the child was not killed")
    sys.exit(3)
""")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The weights and metrics of a run of STEPS steps that nothing interrupted."""
    from gankit.api import train

    run = tmp_path_factory.mktemp("straight") / "run"
    train("gan-digits", EXACT + [f"train.steps={STEPS}"], out=run)
    return load_checkpoint(run), _metric_steps(run)


@pytest.mark.parametrize("where", ["torch.save", "replace", "link"])
def test_kill_during_a_checkpoint_write(tmp_path, uninterrupted, where):
    from gankit.api import train

    run = tmp_path / "run"
    ckpt_dir = run / "checkpoints"
    r = subprocess.run([sys.executable, "-c", CHILD, str(run), where, str(KILL_AT), *EXACT, f"train.steps={STEPS}"],
                       capture_output=True, text=True, timeout=DEADLINE)
    assert r.returncode == -signal.SIGKILL, r.stdout + r.stderr

    state = load_checkpoint(run)
    orphans = _orphans(ckpt_dir)
    assert len(orphans) == 1, orphans
    orphan = ckpt_dir / orphans[0]
    if where == "link":  # last.pt was written; its periodic copy was cut between link and rename
        assert state["step"] == KILL_AT
        assert orphans == [f"step-{KILL_AT:07d}.pt.tmp"]
        assert not (ckpt_dir / f"step-{KILL_AT:07d}.pt").exists()
    else:  # the write of last.pt was cut: the previous last.pt is untouched
        assert state["step"] == KILL_AT - 1
        assert orphan.name.startswith(".last.pt.") and orphan.name.endswith(".tmp")
        if where == "torch.save":  # the orphan really is a torn file, and is recognised as one
            with pytest.raises(CheckpointError):
                load_checkpoint(orphan)
        else:  # the orphan is complete: the kill came between the write and the rename
            assert load_checkpoint(orphan)["step"] == KILL_AT
    assert _check_checkpoints(run) == state["step"]
    assert _metric_steps(run) == list(range(1, KILL_AT + 1))  # rows up to the killed step's were logged

    summary = train(resume=run, overrides=[f"train.steps={STEPS}"])
    assert summary["steps"] == STEPS
    assert _orphans(ckpt_dir) == []  # the resumed run removed the torn write
    # (the periodic copy the kill cut short is not made again: the run had gone past that step)
    copied = [s for s in range(1, STEPS + 1) if not (where == "link" and s == KILL_AT)]
    assert sorted(p.name for p in ckpt_dir.iterdir()) == _kept(run, copied)
    resumed = load_checkpoint(run)
    straight, straight_rows = uninterrupted
    assert resumed["step"] == straight["step"] == STEPS
    assert resumed["images_seen"] == straight["images_seen"]
    for who in ("G", "D"):  # bit-exact: the kill cost nothing but time
        assert resumed["players"][who].keys() == straight["players"][who].keys()
        for k, v in straight["players"][who].items():
            assert torch.equal(resumed["players"][who][k], v), f"{who}.{k}"
    assert _metric_steps(run) == straight_rows == list(range(1, STEPS + 1))
