"""Mode collapse, counted: the protocols of VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et al. 2018).

2-D mixtures (ring, grid): draw 2,500 samples. A sample is *high quality* if its Euclidean distance
to the nearest mean is below 3 standard deviations. A mode is *captured* if at least one high-quality
sample is nearest to it. Report the modes captured, the percentage of high-quality samples, and the
reverse KL, KL(p ‖ uniform) = Σ_k p_k log(K p_k), where p is the histogram of the high-quality
samples over the K modes (0 when the samples spread evenly, log K when they all sit in one mode).

Stacked MNIST: draw 26,000 samples; a classifier of single MNIST digits labels each channel, the
mode is 100·d1 + 10·d2 + d3; report the number of distinct modes among the samples and the KL of
their 1,000-bin histogram to the uniform distribution, in the same direction as above.

That KL splits exactly into the KL of each channel's 10-bin digit histogram to uniform, summed over
the channels (``kl_digits``: a generator that draws some digits more often than others), plus the
dependence between the channels (the total correlation, ``kl - kl_digits`` ≥ 0). Real stacked images
score about 0.02 with 26,000 samples: the multinomial noise of 26 samples per bin, not a flaw.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..errors import GankitError

POINTS_N = 2_500          # samples per evaluation on the 2-D mixtures (both papers)
STACKED_N = 26_000        # samples per evaluation on stacked MNIST (PacGAN, following VEEGAN)
STACKED_MODES = 1_000


def kl_to_uniform(counts: np.ndarray | torch.Tensor) -> float:
    """KL(p ‖ uniform) of the histogram ``counts`` over len(counts) bins, in nats (NaN if it is empty)."""
    c = torch.as_tensor(counts, dtype=torch.float64)
    total = c.sum()
    if total <= 0:
        return float("nan")  # no sample to make a histogram of
    p = c[c > 0] / total
    return float((p * (p * len(c)).log()).sum())


def mode_stats(samples: torch.Tensor, means: torch.Tensor, std: float, threshold: float = 3.0) -> dict[str, float]:
    """Modes captured, % high quality and reverse KL of ``samples`` (N, D) against a mixture with
    ``means`` (K, D) and a shared ``std``: the 2-D protocol above."""
    x = samples.detach().double().cpu().flatten(1)
    mu = means.double().cpu()
    if x.shape[1] != mu.shape[1]:
        raise GankitError(f"modes: samples have {x.shape[1]} dimensions, the mixture's means {mu.shape[1]}")
    dist = torch.cdist(x, mu)                        # (N, K)
    nearest_dist, nearest = dist.min(1)
    hq = nearest_dist < threshold * std
    counts = torch.bincount(nearest[hq], minlength=mu.shape[0])
    return {"modes": int((counts > 0).sum()), "hq_percent": 100.0 * float(hq.double().mean()),
            "reverse_kl": kl_to_uniform(counts)}


def stacked_mode_stats(digits: torch.Tensor) -> dict[str, float]:
    """Modes, KL to uniform and the channels' share of it (``kl_digits``) from the digits (N, 3) read
    in the three channels of each sample."""
    digits = digits.long()
    modes = (digits * torch.tensor([100, 10, 1])).sum(1)
    counts = torch.bincount(modes, minlength=STACKED_MODES)
    kl_digits = sum(kl_to_uniform(torch.bincount(digits[:, c], minlength=10)) for c in range(3))
    return {"modes": int((counts > 0).sum()), "kl": kl_to_uniform(counts), "kl_digits": kl_digits}


@torch.no_grad()
def read_stacked_digits(images: torch.Tensor, batch_size: int = 1000) -> tuple[torch.Tensor, object]:
    """The digit in each channel of stacked-MNIST images (N, 3, H, W) in [-1, 1], by gankit's MNIST
    classifier (trained once on the MNIST subset and cached); returns (digits (N, 3), the classifier)."""
    from ..config import DataConfig
    from .classifier import classifier_for

    clf = classifier_for(DataConfig(name="mnist", resolution=28, channels=1))
    out = []
    for s in range(0, len(images), batch_size):
        x = images[s:s + batch_size].float()
        b = x.shape[0]
        _, logits = clf.model(x.reshape(b * 3, 1, *x.shape[2:]))   # every channel as its own image
        out.append(logits.argmax(1).view(b, 3))
    return torch.cat(out), clf


def evaluate_modes(fake: torch.Tensor, data) -> tuple[dict[str, float], dict, list[str]]:
    """The mode scores of ``fake`` for the dataset ``data`` (a 2-D PointData or stacked MNIST):
    (scores, extractor info, notes). Uses the protocol's sample count when ``fake`` has more."""
    notes: list[str] = []
    if hasattr(data, "means"):  # a mixture of Gaussians
        n = _protocol_n(fake, POINTS_N, notes)
        s = mode_stats(fake[:n], data.means, data.std)
        return {"modes": float(s["modes"]), "modes_total": float(data.means.shape[0]),
                "hq_percent": s["hq_percent"], "reverse_kl": s["reverse_kl"]}, {}, notes
    if getattr(data, "name", None) == "stacked-mnist":
        n = _protocol_n(fake, STACKED_N, notes)
        digits, clf = read_stacked_digits(fake[:n])
        s = stacked_mode_stats(digits)
        return ({"modes[classifier:mnist]": float(s["modes"]), "modes_total": float(STACKED_MODES),
                 "kl[classifier:mnist]": s["kl"], "kl_digits[classifier:mnist]": s["kl_digits"]},
                {"accuracy": clf.accuracy, "test_images": clf.test_split_size}, notes)
    raise GankitError(f"modes: defined for the 2-D mixtures (ring8, grid25) and stacked-mnist, not "
                      f"{getattr(data, 'name', '?')!r}")


def _protocol_n(fake: torch.Tensor, n: int, notes: list[str]) -> int:
    if len(fake) < n:
        notes.append(f"modes: the protocol draws {n:,} samples; these scores use {len(fake):,} (pass --n {n})")
        return len(fake)
    return n


def mean_and_stderr(values) -> tuple[float, float]:
    """Mean and standard error of the mean (sample std / √n; 0 for one value)."""
    v = np.asarray(list(values), dtype=np.float64)
    if len(v) == 0:
        return float("nan"), float("nan")
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else 0.0
