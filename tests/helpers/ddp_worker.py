"""Run by tests/test_distributed.py under torchrun: through the Python API, train STEPS steps in
OUT/run-full, train STEPS/2 steps in OUT/run-half and resume it to STEPS, then save this rank's
weights after each finished run to OUT/<run>-rank-R.pt so the test can compare ranks and runs.

    torchrun --nproc_per_node 2 tests/helpers/ddp_worker.py OUT PRESET STEPS [KEY=VALUE ...]
"""
import os
import sys
from pathlib import Path

import torch

from gankit.api import prepare_training
from gankit.train.distributed import shutdown


def keep(trainer, path: Path) -> None:
    state = {"players": {k: m.state_dict() for k, m in trainer.players.items()},
             "ema": {k: e.state_dict() for k, e in trainer.ema.items()},
             "step": trainer.step, "images_seen": trainer.images_seen, "world": trainer.dist.world_size,
             "threads": torch.get_num_threads()}
    torch.save(state, path)


def main() -> None:
    out, preset, steps, *overrides = sys.argv[1:]
    out, steps, rank = Path(out), int(steps), int(os.environ["RANK"])
    finished = False
    try:
        full = prepare_training(preset, [*overrides, f"train.steps={steps}"], out=out / "run-full")
        full.fit()
        keep(full, out / f"full-rank-{rank}.pt")
        prepare_training(preset, [*overrides, f"train.steps={steps // 2}"], out=out / "run-half").fit()
        resumed = prepare_training(None, [f"train.steps={steps}"], resume=out / "run-half")
        resumed.fit()
        keep(resumed, out / f"resumed-rank-{rank}.pt")
        finished = True
    finally:
        shutdown(finished)


if __name__ == "__main__":
    main()
