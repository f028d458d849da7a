"""DistributedDataParallel under torchrun: 2 CPU processes with the gloo backend.

Each case launches real torchrun subprocesses running the Python API (tests/helpers/ddp_worker.py).
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gankit.train.checkpoint import load_checkpoint

WORKER = Path(__file__).parent / "helpers" / "ddp_worker.py"
SEQ = ["model.g.hidden=16", "model.g.embedding=8", "model.d.embedding=8", "model.d.widths=1,3", "model.d.counts=4,4",
       "game.pretrain_steps=1", "game.pretrain_d_steps=1", "train.d_steps=2"]
TINY = ["train.progress=false", "train.tensorboard=true", "train.sample_every=0", "train.log_every=2",
        "train.batch_size=16", "train.threads=1"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(out: Path, preset: str, steps: int, *overrides: str, nproc: int = 2) -> None:
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}", "--master_addr=127.0.0.1",
           f"--master_port={_free_port()}", str(WORKER), str(out), preset, str(steps), *overrides]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]


def weights(out: Path, run: str, nproc: int = 2) -> list[dict]:
    return [torch.load(out / f"{run}-rank-{r}.pt", weights_only=True) for r in range(nproc)]


def assert_same_weights(a: dict, b: dict) -> None:
    for player in a["players"]:
        for name, t in a["players"][player].items():
            if name.endswith(("running_mean", "running_var", "num_batches_tracked", "w_avg")):
                continue  # running statistics (BatchNorm's, the style G's average w) are per process by design
                # (broadcast_buffers=False); rank 0's are saved
            torch.testing.assert_close(t, b["players"][player][name], rtol=0, atol=0, msg=f"{player}.{name}")


@pytest.mark.parametrize("overrides", [
    ["loss=wasserstein", "penalty.gp=10", "train.d_steps=2"],            # double backward through DDP
    ["model.g.name=dcgan", "model.d.name=dcgan", "model.g.width=8", "model.d.width=8",
     "penalty.r1=1", "train.ema_decay=0.9"],                              # BatchNorm D: two D forwards per step
    ["model.g.conditioning=concat", "model.d.conditioning=ac"],         # labels; D returns (logit, class logits)
    ["model.g.name=dcgan", "model.d.name=dcgan", "model.g.width=8", "model.d.width=8",
     "model.g.conditioning=cbn", "model.d.conditioning=projection", "loss=hinge"],  # class BatchNorm, projection
    ["pix2pix-edges2digits", "data.resolution=16", "model.g.width=4", "model.d.width=4",
     "optim.default.ramp_down=0"],  # a translation game: paired batches, G's output kept from D's phase to G's
    ["cyclegan-mnist2fonts", "data.resolution=16", "model.g.width=4", "model.g.blocks=1", "model.d.width=4",
     "game.pool_size=20", "optim.default.ramp_down=0"],  # four players, translators called thrice; per-rank pools
    ["stargan-mnist-attributes", "data.resolution=16", "model.g.width=4", "model.d.width=4",
     "train.d_steps=2", "optim.default.ramp_down=0"],  # two-headed D, gradient penalty, target draws
    ["began-mnist", "data.resolution=16", "model.g.width=4", "model.d.width=4", "model.d.code=8",
     "model.latent_dim=8", "game.lambda_k=0.05", "train.log_every=2"],  # auto-encoder D; k_t averaged over the ranks
    ["infogan-mnist", "data.resolution=16", "model.g.width=4", "model.d.width=4", "game.q_width=8"],  # D -> (logit, Q)
    ["stylegan-mnist", "data.resolution=16", "model.g.channels=8,8,4", "model.g.w_dim=8", "model.latent_dim=8",
     "model.d.width=4", "game.pl_every=2", "penalty.r1_every=2"],  # a lazy G-only phase (path length), style mixing
    ["tricks.diffusion=true", "tricks.diffusion_every=1", "tricks.diffusion_ada_kimg=0.1"],  # T adapted on every rank
    ["seqgan-names", *SEQ, "game.rollouts=2"],  # token batches; MLE, D-only and policy-gradient stages; rollout net
    ["wgan-gp-names", *SEQ],  # G's free-running relaxation through DDP's forward; penalty on soft tokens
], ids=["mlp-wgan-gp", "dcgan-bn-r1-ema", "mlp-acgan", "dcgan-projection-cbn", "pix2pix", "cyclegan", "stargan",
        "began", "infogan", "stylegan", "diffusion-gan", "seqgan", "softmax-wgan-gp"])
def test_two_processes_agree_write_once_and_resume_exactly(tmp_path, overrides):
    preset, overrides = (overrides[0], overrides[1:]) if "=" not in overrides[0] else ("gan-digits", overrides)
    torchrun(tmp_path, preset, 6, *TINY, *overrides, "train.checkpoint_every=3")
    full, resumed = weights(tmp_path, "full"), weights(tmp_path, "resumed")
    assert full[0]["world"] == 2 and full[0]["threads"] == 1
    assert_same_weights(full[0], full[1])  # DDP keeps the ranks in lockstep

    # global images: 6 steps x d_steps batches x 16 per process x 2 processes
    d_steps = 2 if "train.d_steps=2" in overrides else 1  # (a D phase on the G phase's batch takes none)
    d_steps += "game.pretrain_steps=1" in overrides  # (the sequence GANs' G phase reads one: pre-training)
    ckpt = load_checkpoint(tmp_path / "run-full")
    assert ckpt["images_seen"] == 6 * d_steps * 16 * 2 and len(ckpt["rng_ranks"]) == 2

    # only rank 0 wrote: one metrics row per log step, one TensorBoard event file
    rows = [json.loads(line) for line in (tmp_path / "run-full" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "loss/D" in r] == [2, 4, 6]
    assert len(list((tmp_path / "run-full").rglob("events.out.tfevents.*"))) == 1

    # 3 steps, then resume to 6 under DDP == 6 uninterrupted steps, bit for bit
    assert resumed[0]["step"] == 6
    assert_same_weights(resumed[0], resumed[1])
    assert_same_weights(resumed[0], full[0])
    for k, t in full[0]["ema"].get("G", {}).items():
        torch.testing.assert_close(resumed[0]["ema"]["G"][k], t, rtol=0, atol=0)
    if preset == "began-mnist":  # one k_t for every rank, restored on resume
        ks = [ckpt["game_ranks"][r]["k"] for r in range(2)]
        assert float(ks[0]) > 0 and torch.equal(ks[0], ks[1])


def test_a_ramp_on_the_time_budget_keeps_the_ranks_in_lockstep(tmp_path):
    # the learning rate follows the time spent, which each process measures for itself: the ranks
    # must agree on it (their maximum, exchanged at each check) or their weights drift apart
    # (a short budget, so that milliseconds between the ranks' clocks change the rate visibly)
    torchrun(tmp_path, "gan-digits", 40, *TINY, "train.max_seconds=3", "optim.default.ramp_down=1")
    full = weights(tmp_path, "full")
    assert full[0]["step"] == full[1]["step"] >= 1
    assert_same_weights(full[0], full[1])


def test_a_run_directory_in_use_stops_every_rank(tmp_path):
    # rank 0 takes the run directory's lock; when another process holds it, every rank must stop with
    # its message (not rank 0 alone, leaving the others waiting for it at the next collective)
    from gankit.utils.runlock import RunLock

    (tmp_path / "run-full").mkdir()
    lock = RunLock(tmp_path / "run-full").acquire()
    try:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
               f"--master_port={_free_port()}", str(WORKER), str(tmp_path), "gan-digits", "4", *TINY]
        proc = subprocess.run(cmd, env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True, text=True,
                              timeout=120)
    finally:
        lock.release()
    assert proc.returncode != 0
    assert proc.stderr.count("is in use by another gankit process") == 2, proc.stderr[-3000:]
    assert not (tmp_path / "run-full" / "checkpoints").exists()
