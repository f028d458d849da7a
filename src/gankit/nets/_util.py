from __future__ import annotations

import torch


def unconditional(y: torch.Tensor | None, who: str) -> None:
    if y is not None:
        raise ValueError(f"{who} is unconditional; it takes no labels")
