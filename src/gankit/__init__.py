"""gankit: train, sample, evaluate and understand generative adversarial networks.

The public names load on first use (PEP 562), so ``gankit --help`` and the command line's own error
handling start before PyTorch is imported (a Ctrl-C during start-up is then an ordinary interrupt).
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_PUBLIC = {"train": "api", "sample": "api", "class_grid": "api", "translate": "api", "evaluate_run": "api",
           "load_run": "api", "Config": "config", "load_config": "config", "GankitError": "errors"}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *_PUBLIC})
