"""Theory figures computed by gankit's own objectives: ``gankit demo NAME --out FILE.png``.

Each demo is a function ``figure(out_path, ...) -> Path`` registered in ``DEMOS`` under its name; the
first line of its docstring is what ``gankit demo --list`` prints. The numbers behind each figure come
from a separate function (``generator_costs``, ``fit_gaussian``, ``disjoint_supports``) that the
tests check against hand-computed values; ``training-2d`` is drawn from a real training run.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import GankitError
from ..registry import Registry

DEMOS: Registry = Registry("demo")

from . import costs, disjoint_supports, kl_asymmetry, no_gans_land, training_2d  # noqa: E402,F401  (register the demos)


def describe_demos() -> list[tuple[str, str]]:
    """(name, one-line summary) of every registered demo, sorted by name."""
    return [(name, (DEMOS.get(name).__doc__ or "").strip().splitlines()[0]) for name in DEMOS.names()]


def make_demo(name: str, out_path: str | Path) -> Path:
    """Draw demo ``name`` into the PNG file ``out_path`` (its folder is created) and return the path."""
    figure = DEMOS.get(name)  # unknown name: one-line ConfigError listing the demos
    out = Path(out_path)
    if out.suffix.lower() != ".png":
        raise GankitError(f"--out {str(out_path)!r}: demos are drawn as PNG files; use a name ending in .png")
    out.parent.mkdir(parents=True, exist_ok=True)
    return figure(out)


__all__ = ["DEMOS", "describe_demos", "make_demo"]
