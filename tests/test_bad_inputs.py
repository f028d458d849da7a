"""The bad-input corpus: what a user can get wrong, across every command.

Every case runs the real command line (``gankit.cli.main``, in-process) and must end in exactly one
stderr line naming the problem, the documented exit code, no traceback, and an existing run directory
left byte for byte as it was. A few cases run as real processes to check the same end to end, and the
last ones check the boundary itself: an unexpected exception is one "internal error" line and a log
file with its traceback; an operating-system refusal is one line naming the file.
"""
from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gankit.api import train
from gankit.cli import main
from gankit.train.checkpoint import FORMAT_VERSION

FAST = ["train.progress=false", "train.tensorboard=false", "train.log_every=5", "train.sample_every=0"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A trained run (10 steps, checkpoints at 5 and 10) and the bad files the cases point at."""
    root = tmp_path_factory.mktemp("bad-inputs")
    run = root / "run"
    train("gan-digits", FAST + ["train.steps=10", "train.checkpoint_every=5"], out=run)
    (root / "run2" / "checkpoints").mkdir(parents=True)
    shutil.copy(run / "checkpoints" / "last.pt", root / "run2" / "checkpoints" / "last.pt")
    (root / "afile").write_text("not a folder")
    (root / "empty").mkdir()
    (root / "corrupt").mkdir()
    (root / "corrupt" / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    np.save(root / "nan.npy", np.full((4, 8, 8), np.nan, np.float32))
    np.save(root / "shape.npy", np.zeros((4, 5, 8, 8), np.uint8))
    np.save(root / "three.npy", np.zeros((3, 1, 8, 8), np.uint8))
    (root / "bad.yaml").write_text("train: [unclosed\n")
    (root / "unknown.yaml").write_text("game:\n  name: gan\nwarp_drive: 9\n")
    data = (run / "checkpoints" / "last.pt").read_bytes()
    (root / "torn.pt").write_bytes(data[: len(data) // 2])
    state = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    torch.save({k: v for k, v in state.items() if k != "sampler"}, root / "nosampler.pt")
    torch.save({**state, "step": "ten"}, root / "badstep.pt")
    torch.save({**state, "format": FORMAT_VERSION + 1}, root / "future.pt")
    torch.save({"weights": torch.ones(2)}, root / "foreign.pt")
    return root


def _snapshot(folder: Path) -> dict[str, str]:
    """Every file's bytes (as a hash) under ``folder``; the advisory lock file is not data."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != ".lock"}


T = ["--set", "train.progress=false", "--set", "train.tensorboard=false"]

#: (id, argv with {R} = the run, {W} = the folder of bad files, exit code, what the line must say)
CASES = [
    # --- gankit (no or unknown command, flags) ---
    ("no-command", [], 2, r"required: COMMAND"),
    ("unknown-command", ["fly"], 2, r"invalid choice: 'fly'"),
    ("unknown-flag", ["train", "--warp"], 2, r"unrecognized arguments: --warp"),
    # --- train: presets and settings ---
    ("unknown-preset", ["train", "no-such-preset", *T], 2, r"no-such-preset"),
    ("unknown-key", ["train", "gan-digits", "--set", "warp.drive=9", "--out", "{W}/x", *T], 2,
     r"unknown config key 'warp'"),
    ("not-key-value", ["train", "gan-digits", "--set", "train.steps", "--out", "{W}/x", *T], 2, r"KEY=VALUE|key=value"),
    ("wrong-type", ["train", "gan-digits", "--set", "train.steps=lots", "--out", "{W}/x", *T], 2, r"train\.steps"),
    ("huge-steps", ["train", "gan-digits", "--set", "train.steps=1e30", "--out", "{W}/x", *T], 2, r"train\.steps"),
    ("zero-batch", ["train", "gan-digits", "--set", "train.batch_size=0", "--out", "{W}/x", *T], 2,
     r"train\.batch_size"),
    ("batch-one-batchnorm", ["train", "gan-mnist", "--set", "train.batch_size=1", "--out", "{W}/x", *T], 2,
     r"BatchNorm.*2 samples"),
    ("unknown-loss", ["train", "gan-digits", "--set", "loss.name=magic", "--out", "{W}/x", *T], 2, r"loss\.name"),
    ("malformed-yaml", ["train", "{W}/bad.yaml", "--out", "{W}/x", *T], 2, r"bad\.yaml"),
    ("yaml-unknown-key", ["train", "{W}/unknown.yaml", "--out", "{W}/x", *T], 2, r"warp_drive"),
    ("device-not-a-device", ["train", "gan-digits", "--device", "tpu9", "--out", "{W}/x", *T], 2, r"not a device"),
    # --- train: data ---
    ("folder-without-path", ["train", "gan-digits", "--set", "data.name=folder", "--out", "{W}/x", *T], 2,
     r"data\.path"),
    ("folder-empty", ["train", "gan-digits", "--set", "data.name=folder", "--set", "data.path={W}/empty",
                      "--out", "{W}/x", *T], 2, r"empty|no images"),
    ("folder-corrupt-only", ["train", "gan-digits", "--set", "data.name=folder", "--set", "data.path={W}/corrupt",
                             "--out", "{W}/x", *T], 2, r"none of the 1 image files .* could be read"),
    ("npz-nan", ["train", "gan-digits", "--set", "data.name=npz", "--set", "data.path={W}/nan.npy",
                 "--out", "{W}/x", *T], 2, r"NaN"),
    ("npz-shape", ["train", "gan-digits", "--set", "data.name=npz", "--set", "data.path={W}/shape.npy",
                   "--out", "{W}/x", *T], 2, r"shape"),
    ("npz-missing", ["train", "gan-digits", "--set", "data.name=npz", "--set", "data.path={W}/none.npz",
                     "--out", "{W}/x", *T], 2, r"does not exist"),
    ("npz-too-few-for-a-batch", ["train", "gan-digits", "--set", "data.name=npz", "--set", "data.path={W}/three.npy",
                                 "--out", "{W}/x", *T], 2, r"fewer than one batch"),
    # --- train: run directories ---
    ("out-is-a-file", ["train", "gan-digits", "--out", "{W}/afile", *T], 2, r"is a file"),
    ("out-under-a-file", ["train", "gan-digits", "--out", "{W}/afile/run", *T], 2, r"is a file"),
    ("out-holds-a-run", ["train", "gan-digits", "--out", "{R}", *T], 2, r"already holds a run"),
    ("resume-missing", ["train", "--resume", "{W}/nowhere", *T], 2, r"no such run directory"),
    ("resume-not-a-run", ["train", "--resume", "{W}/empty", *T], 2, r"no checkpoints/last\.pt"),
    ("resume-no-more-steps", ["train", "--resume", "{R}", *T], 2, r"already at step 10"),
    ("resume-with-preset", ["train", "gan-digits", "--resume", "{R}", *T], 2, r"preset cannot be combined"),
    ("resume-two-runs", ["train", "--resume", "{R}", "{W}/run2", *T], 2, r"--resume takes one run"),
    ("resume-rewinds", ["train", "--resume", "{R}/checkpoints/step-0000005.pt", "--set", "train.steps=20", *T], 2,
     r"rewind the run.*--rewind"),
    ("rewind-without-resume", ["train", "gan-digits", "--rewind", "--out", "{W}/x", *T], 2, r"--rewind goes with"),
    ("resume-changed-shape", ["train", "--resume", "{R}", "--set", "train.steps=20", "--set", "model.latent_dim=7", *T],
     2, r"model\.latent_dim \S+ -> 7"),
    ("resume-other-optimizer", ["train", "--resume", "{R}", "--set", "train.steps=20", "--set", "optim.g.name=sgd", *T],
     2, r"optim\.g\.name"),
    ("resume-torn", ["train", "--resume", "{W}/torn.pt", "--set", "train.steps=20", *T], 2, r"truncated"),
    ("resume-incomplete", ["train", "--resume", "{W}/nosampler.pt", "--set", "train.steps=20", *T], 2,
     r"missing sampler"),
    ("resume-bad-field", ["train", "--resume", "{W}/badstep.pt", "--set", "train.steps=20", *T], 2, r"wrong step"),
    ("resume-future-format", ["train", "--resume", "{W}/future.pt", "--set", "train.steps=20", *T], 2, r"newer gankit"),
    ("resume-foreign-file", ["train", "--resume", "{W}/foreign.pt", "--set", "train.steps=20", *T], 2,
     r"not a gankit checkpoint"),
    # --- sample ---
    ("sample-missing-run", ["sample", "{W}/nowhere", "--out", "{W}/x.png"], 2, r"no such run directory"),
    ("sample-bad-suffix", ["sample", "{R}", "--out", "{W}/x.txt"], 2, r"\.png.*\.npy"),
    ("sample-out-under-file", ["sample", "{R}", "--out", "{W}/afile/x.png"], 2, r"is a file"),
    ("sample-zero", ["sample", "{R}", "--n", "0", "--out", "{W}/x.png"], 2, r"--n"),
    ("sample-negative-seed", ["sample", "{R}", "--seed", "-1", "--out", "{W}/x.png"], 2, r"--seed"),
    ("sample-huge-seed", ["sample", "{R}", "--seed", "99999999999999999999", "--out", "{W}/x.png"], 2, r"--seed"),
    ("sample-seed-not-a-number", ["sample", "{R}", "--seed", "one", "--out", "{W}/x.png"], 2, r"--seed"),
    ("sample-class-unconditional", ["sample", "{R}", "--class", "3", "--out", "{W}/x.png"], 2, r"class"),
    ("sample-code-without-codes", ["sample", "{R}", "--code", "c=3", "--out", "{W}/x.png"], 2, r"code"),
    ("sample-traverse-without-codes", ["sample", "{R}", "--traverse", "cont0", "--out", "{W}/x.png"], 2, r"cont0|code"),
    ("sample-device-cuda", ["sample", "{R}", "--device", "cuda", "--out", "{W}/x.png"], 2, r"CUDA"),
    ("sample-two-runs", ["sample", "{R}", "{W}/run2", "--out", "{W}/x.png"], 2, r"unrecognized arguments"),
    # --- translate ---
    ("translate-noise-run", ["translate", "{R}", "--input", "{W}/empty", "--out", "{W}/t"], 2, r"does not translate"),
    ("translate-missing-run", ["translate", "{W}/nowhere", "--input", "{W}/empty", "--out", "{W}/t"], 2,
     r"no such run directory"),
    # --- eval ---
    ("eval-nothing", ["eval"], 2, r"run directory"),
    ("eval-real-only", ["eval", "--real", "mnist"], 2, r"--fake"),
    ("eval-n-one", ["eval", "{R}", "--n", "1"], 2, r"--n"),
    ("eval-unknown-metric", ["eval", "{R}", "--metrics", "beauty"], 2, r"beauty"),
    ("eval-device-cuda", ["eval", "{R}", "--device", "cuda"], 2, r"CUDA"),
    ("eval-fake-missing", ["eval", "--real", "digits", "--fake", "{W}/none.npz"], 2, r"none\.npz"),
    ("eval-fake-empty", ["eval", "--real", "digits", "--fake", "{W}/empty"], 2, r"no (readable )?images"),
    ("eval-fake-unreadable", ["eval", "--real", "{W}/corrupt", "--fake", "{W}/corrupt"], 2, r"no images .*none that can be read"),
    ("eval-fake-nan", ["eval", "--real", "digits", "--fake", "{W}/nan.npy"], 2, r"NaN"),
    # --- demo ---
    ("demo-unknown", ["demo", "warp", "--out", "{W}/d.png"], 2, r"warp"),
    ("demo-without-out", ["demo", "costs"], 2, r"--out"),
]


def _argv(argv: list[str], world: Path) -> list[str]:
    return [a.replace("{R}", str(world / "run")).replace("{W}", str(world)) for a in argv]


@pytest.mark.parametrize("argv, code, says", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_bad_invocation_is_one_line_and_changes_nothing(world, capsys, argv, code, says):
    before = _snapshot(world / "run")
    rc = main(_argv(argv, world))
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == code, err
    assert len(lines) == 1 and lines[0].startswith("gankit: error: "), err
    assert re.search(says, lines[0]), lines[0]
    assert "Traceback" not in err
    assert _snapshot(world / "run") == before
    assert not (world / "x").exists() or not any((world / "x").rglob("*.pt"))  # nothing half-made


def test_the_corpus_is_large_and_covers_every_command():
    assert len(CASES) >= 40 and len({c[0] for c in CASES}) == len(CASES)
    commands = {c[1][0] for c in CASES if c[1]}
    assert {"train", "sample", "translate", "eval", "demo"} <= commands


@pytest.mark.parametrize("argv, says", [
    (["sample", "{W}/nowhere", "--out", "{W}/x.png"], r"no such run directory"),
    (["train", "gan-digits", "--set", "train.steps=1e30", "--out", "{W}/y"], r"train\.steps"),
    (["sample", "{R}", "{W}/run2", "--out", "{W}/x.png"], r"unrecognized arguments"),
], ids=["sample", "train", "argparse"])
def test_a_real_process_prints_one_line_and_exits_2(world, argv, says):
    r = subprocess.run([sys.executable, "-m", "gankit", *_argv(argv, world)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2 and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and re.search(says, r.stderr), r.stderr


def test_an_unexpected_exception_is_one_line_with_the_log_of_its_traceback(monkeypatch, capsys, tmp_path):
    import gankit.cli as cli

    def boom(args):
        raise ValueError("a bug somewhere deep")

    monkeypatch.setattr(cli, "_cmd_presets", boom)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    rc = main(["presets"])
    err = capsys.readouterr().err
    assert rc == 1 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "internal error" in err and "ValueError: a bug somewhere deep" in err
    log = Path(re.search(r"the traceback is in (\S+)", err).group(1))
    assert log.parent == tmp_path
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and "raise ValueError" in text and "presets" in text


def test_an_operating_system_refusal_names_the_file(world, monkeypatch, capsys):
    import gankit.utils.images as images

    def refuse(*a, **k):
        raise PermissionError(13, "Permission denied", str(world / "locked" / "x.png"))

    monkeypatch.setattr(images, "save_image_grid", refuse)
    rc = main(["sample", str(world / "run"), "--n", "4", "--out", str(world / "locked" / "x.png")])
    err = capsys.readouterr().err
    assert rc == 2 and err.strip() == f"gankit: error: Permission denied: {str(world / 'locked' / 'x.png')!r}"


def test_ctrl_c_outside_training_is_one_line_and_130(monkeypatch, capsys):
    import gankit.cli as cli

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_cmd_datasets", interrupted)
    assert main(["datasets"]) == 130
    assert capsys.readouterr().err.strip() == "gankit: aborted; the last checkpoint was left as it was"


def test_the_command_line_starts_without_importing_torch():
    """So that a Ctrl-C during start-up lands in main's own handler, and --help is quick."""
    r = subprocess.run([sys.executable, "-c", "import sys, gankit.cli; print('torch' in sys.modules)"],
                       capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "False", r.stderr


class OutOfMemoryError(RuntimeError):
    """Named as torch's (CUDA) out-of-memory error, which the boundary recognises by name."""


@pytest.mark.parametrize("raised, code, says", [
    (OSError(5, "Input/output error"), 1, r"internal error .*OSError"),  # not about a user's file: a logged bug
    (OSError(28, "No space left on device", "/x/last.pt"), 2, r"^gankit: error: No space left on device: '/x/last.pt'$"),
    (OutOfMemoryError("CUDA out of memory"), 2, r"out of device memory"),
    (SystemExit(None), 0, None),
    (SystemExit(3), 3, None),
], ids=["oserror-without-file", "disk-full", "cuda-oom", "exit-none", "exit-3"])
def test_the_boundary_maps_each_kind_of_failure(monkeypatch, capsys, tmp_path, raised, code, says):
    import gankit.cli as cli
    import tempfile

    def fail(args):
        raise raised

    monkeypatch.setattr(cli, "_cmd_sample", fail)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    assert main(["sample", "run", "--out", "x.png"]) == code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if says is not None:
        assert len(err.strip().splitlines()) == 1 and re.search(says, err.strip()), err


@pytest.mark.parametrize("command, code", [(["presets"], 0), (["sample", "run", "--out", "x.png"], 1)])
def test_a_closed_pipe_ends_a_listing_quietly_but_not_a_command_cut_short(monkeypatch, command, code):
    import gankit.cli as cli

    def closed(args):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(cli, f"_cmd_{command[0]}", closed)
    monkeypatch.setattr(sys, "stdout", __import__("io").StringIO())
    assert main(command) == code
