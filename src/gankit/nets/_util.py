from __future__ import annotations

import torch


def unconditional(y: torch.Tensor | None, who: str) -> None:
    if y is not None:
        raise ValueError(f"{who} is unconditional; it takes no labels")


class MinibatchStd(torch.nn.Module):
    """Minibatch standard deviation (Karras et al. 2018, §3): D sees how varied its batch is.

    The batch is split into groups of ``group`` samples (the whole batch if it does not divide); the
    standard deviation of every feature over each group, averaged over features, is appended to each
    sample as one more channel (or one more feature for flat inputs). A collapsed generator produces
    groups with near-zero spread, which D can then detect.
    """

    def __init__(self, group: int = 4):
        super().__init__()
        self.group = group

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        g = self.group if b % self.group == 0 else b
        y = x.reshape(g, b // g, -1)                       # (G, B/G, features)
        std = (y.var(0, unbiased=False) + 1e-8).sqrt().mean(1)  # (B/G,)
        std = std.repeat(g)                                # (B,) sample i -> its group's value
        extra = std.view(b, 1, *([1] * (x.dim() - 2))).expand(b, 1, *x.shape[2:])
        return torch.cat([x, extra.to(x.dtype)], 1)
