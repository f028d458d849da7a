"""Where gankit caches trained evaluation classifiers and reference statistics."""
from __future__ import annotations

import os
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    """``$GANKIT_CACHE`` or ``$XDG_CACHE_HOME/gankit`` or ``~/.cache/gankit``, joined with ``parts``."""
    root = os.environ.get("GANKIT_CACHE")
    if root:
        base = Path(root).expanduser()
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "gankit"
    path = base.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
