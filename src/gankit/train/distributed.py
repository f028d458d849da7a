"""Several processes, one run: PyTorch's DistributedDataParallel under ``torchrun``.

``torchrun --nproc_per_node N -m gankit train PRESET ...`` starts N copies of the command with
``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE`` and the rendezvous address in their environment
(``--nnodes`` and ``--rdzv-endpoint`` for several machines). Each process trains on its own shard
of every epoch with the per-process ``train.batch_size`` (the global batch is N times that);
DistributedDataParallel averages the gradients, so every rank holds the same weights after each step.
Only rank 0 writes: logs, pictures, evaluation and checkpoints.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from ..errors import ConfigError


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    local_world_size: int = 1

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"environment variable {name}={value!r} is not an integer") from None


def dist_info() -> DistInfo:
    """Ranks from torchrun's environment (a single process when it is not set)."""
    world = _env_int("WORLD_SIZE", 1)
    info = DistInfo(rank=_env_int("RANK", 0), local_rank=_env_int("LOCAL_RANK", 0), world_size=world,
                    local_world_size=_env_int("LOCAL_WORLD_SIZE", world))
    if not 0 <= info.rank < info.world_size:
        raise ConfigError(f"RANK={info.rank} is outside WORLD_SIZE={info.world_size}")
    return info


def init_distributed(device: torch.device) -> DistInfo:
    """Join the process group torchrun set up (gloo on CPU, NCCL on CUDA); no-op for one process."""
    info = dist_info()
    if not info.enabled or dist.is_initialized():
        return info
    if "MASTER_ADDR" not in os.environ or "MASTER_PORT" not in os.environ:
        raise ConfigError("WORLD_SIZE > 1 but MASTER_ADDR/MASTER_PORT are not set: start several processes "
                          "with `torchrun --nproc_per_node N -m gankit train ...`")
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend=backend, rank=info.rank, world_size=info.world_size)
    return info


def shutdown(finished: bool = False) -> None:
    """Leave the process group. ``finished``: every process got here the normal way, so they first meet
    at a barrier — no process tears its connections down while a peer's last collective is in flight
    (gloo aborts such a peer: "terminate called without an active exception"). After an error a peer
    may never arrive, so there is no barrier then."""
    if dist.is_initialized():
        if finished:
            dist.barrier()
        dist.destroy_process_group()


def process_device(name: torch.device, info: DistInfo) -> torch.device:
    """Under torchrun each process takes the GPU of its local rank."""
    if info.enabled and name.type == "cuda" and name.index is None:
        return torch.device("cuda", info.local_rank)
    return name


def broadcast_object(obj: Any, info: DistInfo) -> Any:
    """Rank 0's ``obj`` on every rank."""
    if not info.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_objects(obj: Any, info: DistInfo) -> list[Any]:
    """Every rank's ``obj``, in rank order, on every rank."""
    if not info.enabled:
        return [obj]
    out: list[Any] = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out


def max_over_ranks(values: list[float], info: DistInfo, device: torch.device) -> list[float]:
    """Element-wise maximum of numbers over all ranks, the same list on every rank."""
    if not info.enabled:
        return [float(v) for v in values]
    t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return t.tolist()


def any_rank(flags: list[bool], info: DistInfo, device: torch.device) -> list[bool]:
    """Element-wise OR of boolean flags over all ranks, so that every rank takes the same decision."""
    return [v > 0 for v in max_over_ranks([float(f) for f in flags], info, device)]


def mean_over_ranks(values: dict[str, float], info: DistInfo, device: torch.device) -> dict[str, float]:
    """The mean of each logged scalar over all ranks (every rank logs the same keys at the same step)."""
    if not info.enabled or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return dict(zip(keys, (t / info.world_size).tolist()))
