"""Keep freed memory in the process instead of handing it back to the kernel every training step.

Under glibc's default malloc, buffers above a (dynamic) threshold are mmap'ed and unmapped on every
allocation, and the top of the heap is trimmed whenever enough is free. A training step allocates and
frees the same large activation and gradient buffers each iteration, so on CPU the DCGAN loop spent
about a fifth of its CPU time in the kernel on page faults (~14,000 minor faults per iteration at
batch 64; benchmarks/results/throughput.md). Raising the mmap and trim thresholds with ``mallopt``
makes freed buffers stay in the heap for the next step: the faults go to ~0. The cost is that the
process keeps its peak memory until it exits, which a training process does anyway.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 1 << 30      # allocations below 1 GiB come from the heap and are reused
TRIM_THRESHOLD = 2**31 - 1    # never give the top of the heap back while training

_done: bool | None = None


def tune_malloc() -> bool:
    """Raise glibc's mmap/trim thresholds (once per process); False where this is not glibc."""
    global _done
    if _done is not None:
        return _done
    _done = False
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others have no mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _done = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _done
