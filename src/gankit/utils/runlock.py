"""One training process per run directory: an advisory lock on ``RUN/.lock``.

Two ``gankit train`` processes writing one run directory would interleave their metrics and leave the
config of one beside the checkpoint of the other. The training process holds an exclusive ``flock`` on
``RUN/.lock`` (with its pid inside, for the message) while it runs; a second process refuses to start.
The operating system drops the lock when its holder exits, however it exits (``kill -9`` included), so
a stale lock file never blocks a resume. Within one process the lock is shared (a script may prepare
several trainers of one run, one after the other). Where ``fcntl`` does not exist (Windows) there is no lock.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import GankitError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None


#: this process's locks: resolved lock path -> [fd, holders]
_HELD: dict[str, list[int]] = {}


class RunLock:
    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self.key = str((self.run_dir / ".lock").resolve())
        self.held = False

    def acquire(self) -> "RunLock":
        if fcntl is None:
            return self
        if self.key in _HELD:
            _HELD[self.key][1] += 1
            self.held = True
            return self
        fd = os.open(self.run_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise GankitError(f"{str(self.run_dir)!r} is in use by another gankit process (pid {holder}); wait for "
                              f"it to finish, or choose another --out") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        _HELD[self.key] = [fd, 1]
        self.held = True
        return self

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        entry = _HELD.get(self.key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            del _HELD[self.key]
            fcntl.flock(entry[0], fcntl.LOCK_UN)
            os.close(entry[0])
