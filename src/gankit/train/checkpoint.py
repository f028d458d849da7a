"""Atomic checkpoints, loaded without executing code (``torch.load(weights_only=True)``)."""
from __future__ import annotations

import os
import pickle
import random
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import CheckpointError

FORMAT_VERSION = 2  # 2: the game protocol (game.* section, optim.default/<player>, per-stream sampler state)


def save_checkpoint(state: dict[str, Any], path: str | Path) -> Path:
    """Write ``state`` to ``path`` atomically: temp file in the same folder, fsync, rename, fsync dir.

    A crash at any moment leaves either the old file or the new one, never a torn one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)
    return path


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def find_checkpoint(dir_or_file: str | Path) -> Path:
    """A run directory means its ``checkpoints/last.pt``; a file means itself."""
    p = Path(dir_or_file).expanduser()
    if p.is_dir():
        last = p / "checkpoints" / "last.pt"
        if not last.is_file():
            raise CheckpointError(f"{str(p)!r} holds no checkpoints/last.pt (is it a gankit run directory?)")
        return last
    if not p.exists():
        raise CheckpointError(f"no such run directory or checkpoint: {str(p)!r}")
    return p


def load_checkpoint(dir_or_file: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    path = find_checkpoint(dir_or_file)
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, pickle.UnpicklingError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"cannot read checkpoint {str(path)!r} (truncated or not a gankit checkpoint): "
                              f"{first}") from None
    if not isinstance(state, dict) or state.get("format") not in MIGRATIONS or "config" not in state:
        if isinstance(state, dict) and isinstance(state.get("format"), int) and state["format"] > FORMAT_VERSION:
            raise CheckpointError(f"{str(path)!r} was written by a newer gankit (checkpoint format {state['format']}, "
                                  f"this one reads up to {FORMAT_VERSION}); upgrade gankit")
        raise CheckpointError(f"{str(path)!r} is not a gankit checkpoint (formats 1 to {FORMAT_VERSION})")
    return validate(migrate(state), path)


#: what every checkpoint of the current format holds, and of which type (a trainer writes all of them)
SCHEMA: dict[str, type | tuple[type, ...]] = {
    "config": dict, "step": int, "images_seen": int, "players": dict, "optimizers": dict, "sampler": dict,
    "rng": dict,
}


def validate(state: dict[str, Any], path: str | Path = "the checkpoint") -> dict[str, Any]:
    """``state`` if it has every entry of :data:`SCHEMA` with its type; else one error naming what is
    missing or wrong (a checkpoint edited by hand, or written by something else)."""
    def name(t) -> str:
        return " or ".join(x.__name__ for x in t) if isinstance(t, tuple) else t.__name__

    missing = [k for k in SCHEMA if k not in state]
    wrong = [f"{k} ({type(state[k]).__name__}, not {name(SCHEMA[k])})" for k in SCHEMA
             if k in state and (not isinstance(state[k], SCHEMA[k]) or isinstance(state[k], bool))]
    if not missing and not wrong:
        if state["step"] < 0 or state["images_seen"] < 0:
            wrong.append(f"step {state['step']}, images_seen {state['images_seen']} (negative)")
        elif not all(isinstance(w, dict) for w in state["players"].values()):
            wrong.append("players (each player's weights must be a dict of tensors)")
    if missing or wrong:
        what = "; ".join(filter(None, [f"missing {', '.join(missing)}" if missing else "",
                                       f"wrong {', '.join(wrong)}" if wrong else ""]))
        raise CheckpointError(f"{str(path)!r} is damaged or incomplete (format {state.get('format', '?')}): {what}")
    return state


def mismatch_message(error: Exception, saved: dict[str, Any], now: dict[str, Any]) -> str:
    """Why weights do not load, in one line: the settings that changed since the checkpoint was written
    (those that shape networks first), then the first concrete mismatch torch reports."""
    lines = [ln.strip() for ln in str(error).strip().splitlines() if ln.strip()]
    detail = next((ln for ln in lines if not ln.startswith("Error(s) in loading")), lines[0] if lines else "")
    from ..config import flatten

    a, b = flatten(saved), flatten(now)
    shaping = ("model.", "game.", "data.resolution", "data.channels", "data.name")
    changed = [f"{k} {a[k]!r} -> {b[k]!r}" for k in sorted(set(a) & set(b))  # (keys newer than the checkpoint:
               if k.startswith(shaping) and a[k] != b[k]]                      # defaults, not changes)
    because = f"settings changed since it was written: {', '.join(changed)}; " if changed else ""
    return f"{because}{detail[:300]}"


def _from_v1(state: dict[str, Any]) -> dict[str, Any]:
    """Format 1 (one game shape): ``game`` was a name, ``optim`` held ``g`` and ``d``, the learning-rate
    ramp was ``train.lr_ramp_down``, the sampler one stream."""
    cfg = dict(state["config"])
    if isinstance(cfg.get("game"), str):
        cfg["game"] = {"name": cfg["game"]}
    train = dict(cfg.get("train", {}))
    ramp = train.pop("lr_ramp_down", 0.0)
    cfg["train"] = train
    optim = {k: dict(v) for k, v in cfg.get("optim", {}).items()}
    g, d = optim.get("g", {}), optim.get("d", {})
    shared = {k: v for k, v in g.items() if k in d and d[k] == v}  # into optim.default, so --set optim.default.* acts
    optim = {"default": {**shared, **({"ramp_down": ramp} if ramp else {})},
             **{p: {k: v for k, v in o.items() if k not in shared} for p, o in optim.items()}}
    cfg["optim"] = optim
    sampler = state.get("sampler")
    if isinstance(sampler, dict) and "epoch" in sampler:
        sampler = {"data": sampler}
    return {**state, "format": 2, "config": cfg, "sampler": sampler}


#: format -> the function that lifts a state of that format one version up (the current one: None)
MIGRATIONS = {1: _from_v1, 2: None}


def migrate(state: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint state of any readable format, in the current format."""
    while MIGRATIONS[state["format"]] is not None:
        state = MIGRATIONS[state["format"]](state)
    return state


# ----------------------------------------------------------------------------------------------
# RNG states as plain tensors and numbers, so weights_only loading accepts them
# ----------------------------------------------------------------------------------------------

def rng_state() -> dict[str, Any]:
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, py_state, py_gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else [],
        "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos), "has_gauss": int(has_gauss),
                  "gauss": float(gauss)},
        "python": {"version": int(version), "state": torch.tensor(py_state, dtype=torch.int64),
                   "gauss": py_gauss},
    }


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    p = state["python"]
    random.setstate((p["version"], tuple(int(v) for v in p["state"].tolist()), p["gauss"]))
