"""Sharing a machine's cores among the gankit training processes running on it.

Every training process on the CPU would otherwise take all cores, and several of them at once then
run several times slower than with one share each (threads fighting over cores). A process that
trains registers itself with a file in a per-user folder under the temp directory, holding an
exclusive ``flock`` on it while it trains; counting the locked files counts the live trainers,
and the files of dead processes (whose locks the OS dropped) are removed by whoever counts next.
Where ``fcntl`` does not exist (Windows) every process sees only itself. ``GANKIT_SHARE_CORES=0`` in
the environment turns the sharing off (the test suite does: its resume tests need one thread count).

The division happens when a training session starts: the trainers already running keep their share
(a later one may take fewer threads than the cores left). CPU training is bit-exact across a resume only
at the same thread count: a run resumed while other
trainers share the machine continues correctly but not bit for bit (``train.threads`` pins the count).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None

_REGISTERED: int | None = None  # this process's registration: the fd holding its lock


def _folder() -> Path:
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"gankit-trainers-{uid}"


def available_cores() -> int:
    """The cores this process may run on (its affinity mask, where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _own_folder() -> Path | None:
    """The registry folder, created private; None where it is not this user's private folder (another
    user made it first: the sharing is off rather than trusting it)."""
    folder = _folder()
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        st = os.lstat(folder)
    except OSError:
        return None
    import stat

    if not stat.S_ISDIR(st.st_mode) or (hasattr(os, "getuid") and st.st_uid != os.getuid()) or st.st_mode & 0o022:
        return None
    return folder


def register() -> None:
    """Count this process among the machine's trainers until :func:`unregister` (or its exit)."""
    global _REGISTERED
    if fcntl is None or _REGISTERED is not None:
        return
    folder = _own_folder()
    if folder is None:
        return
    fd, tmp = None, None
    try:
        # locked before it has its final name, so a file under a pid name is always a locked one or a dead one
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".new-")
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.replace(tmp, folder / str(os.getpid()))
    except OSError:  # train anyway, uncounted
        if fd is not None:
            os.close(fd)
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        return
    _REGISTERED = fd


def unregister() -> None:
    """This process no longer trains (its file goes; the lock with it)."""
    global _REGISTERED
    if _REGISTERED is None:
        return
    try:
        (_folder() / str(os.getpid())).unlink()
    except OSError:
        pass
    os.close(_REGISTERED)
    _REGISTERED = None


def live_trainers() -> int:
    """How many registered training processes are alive on this machine (this one included). The files
    of dead ones (their lock gone with them) are removed on the way."""
    if fcntl is None:
        return 1
    folder = _own_folder()
    if folder is None:
        return 1
    live = 0
    try:
        entries = [f for f in folder.iterdir() if f.name.isdigit()]
    except OSError:
        return 1
    for f in entries:
        if f.name == str(os.getpid()):
            live += _REGISTERED is not None
            continue
        try:  # (never blocks, never follows a link planted in the folder)
            fd = os.open(f, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        except OSError:
            continue
        try:
            # a shared probe: two processes probing one dead file at once both see it dead
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            live += 1  # its holder is alive
        else:
            try:
                if os.fstat(fd).st_ino == os.stat(f).st_ino:  # still the file probed (a new one may reuse the pid)
                    f.unlink()
            except OSError:
                pass
        finally:
            os.close(fd)
    return max(live, 1)


def fair_share(cores: int | None = None) -> tuple[int, int]:
    """(threads for this process, live trainers): the cores divided evenly among the live trainers."""
    cores = cores or available_cores()
    n = live_trainers()
    return max(1, cores // n), n
