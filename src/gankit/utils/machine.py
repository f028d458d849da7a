"""One line describing this machine, for the benchmarks' results files."""
from __future__ import annotations

import os
import platform
from pathlib import Path


def describe_machine(threads: bool = False) -> str:
    """CPU model, visible cores, OS and torch version (and torch's thread count with ``threads``)."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    text = f"{cpu}, {os.cpu_count()} cores visible, {platform.system()} {platform.release()}, torch {torch.__version__}"
    return text + (f", {torch.get_num_threads()} threads" if threads else "")


def shown_args(argv: list[str], drop: tuple[str, ...] = ()) -> list[str]:
    """A benchmark's arguments as its results file shows them: without the values of --out/--results
    (paths of this machine) and without the switches in ``drop``."""
    shown, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a in ("--out", "--results"):
            skip = True
        elif not a.startswith(("--out=", "--results=")) and a not in drop:
            shown.append(a)
    return shown
