"""Metrics of a class-conditional generator: does G(z, y) draw class y, and how well, class by class?

- ``class_acc``: the fraction of samples asked for class y that the dataset classifier assigns to y
  (overall and per class; ACGAN's "sample accuracy", Odena et al. 2017, §4.1).
- ``intra_fid``: FID between the samples of class y and the real images of class y, averaged over the
  classes (Miyato & Koyama 2018, §5), in the extractor's feature space.
- ``class_coverage``: the classes the classifier finds among the samples, and KL(sample class histogram
  ‖ real one) (:func:`gankit.metrics.functional.class_coverage`).
"""
from __future__ import annotations

import numpy as np
import torch

from . import functional as M


def class_accuracy(probs: torch.Tensor, labels: torch.Tensor, num_classes: int) -> tuple[float, list[float]]:
    """(overall accuracy, per-class accuracies) of argmax ``probs`` (N, K) against asked-for ``labels`` (N,).
    A class with no samples gets NaN."""
    hit = (probs.argmax(1) == labels).double()
    per = [float(hit[labels == k].mean()) if (labels == k).any() else float("nan") for k in range(num_classes)]
    return float(hit.mean()), per


def intra_class_fid(f_fake: torch.Tensor, y_fake: torch.Tensor, f_real: torch.Tensor, y_real: torch.Tensor,
                    num_classes: int) -> tuple[float, list[float]]:
    """(mean over classes, per-class FIDs) between features of samples and real images of each class."""
    per = []
    for k in range(num_classes):
        a, b = f_real[y_real == k].double(), f_fake[y_fake == k].double()
        if len(a) < 2 or len(b) < 2:
            raise ValueError(f"intra-class FID: class {k} has {len(a)} real and {len(b)} fake samples (need >= 2)")
        per.append(M.frechet_distance(a.mean(0).numpy(), np.cov(a.numpy(), rowvar=False),
                                      b.mean(0).numpy(), np.cov(b.numpy(), rowvar=False)))
    return float(np.mean(per)), per


def conditional_scores(f_fake: torch.Tensor, p_fake: torch.Tensor, y_fake: torch.Tensor, f_real: torch.Tensor,
                       y_real: torch.Tensor, num_classes: int, ext: str) -> dict[str, float]:
    """All conditional scores as named results (``class_acc[ext]``, ``class_acc/3[ext]``, ``intra_fid[ext]``, ...)."""
    y_fake, y_real = y_fake.cpu().long(), y_real.cpu().long()
    acc, per_acc = class_accuracy(p_fake, y_fake, num_classes)
    ifid, per_fid = intra_class_fid(f_fake, y_fake, f_real, y_real, num_classes)
    hist = torch.bincount(y_real, minlength=num_classes).double()
    cc = M.class_coverage(p_fake.argmax(1).numpy(), real_hist=(hist / hist.sum()).numpy(), num_classes=num_classes)
    s = {f"class_acc[{ext}]": acc, f"intra_fid[{ext}]": ifid,
         f"classes_hit[{ext}]": float(cc["classes_hit"]), f"class_kl[{ext}]": float(cc["kl"])}
    for k in range(num_classes):
        s[f"class_acc/{k}[{ext}]"] = per_acc[k]
    for k in range(num_classes):
        s[f"intra_fid/{k}[{ext}]"] = per_fid[k]
    return s


def matched_accuracy(predicted: torch.Tensor, labels: torch.Tensor) -> float:
    """Accuracy of cluster indices ``predicted`` (N,) as classes ``labels`` (N,) once every cluster is
    matched to one class, the matching chosen to maximise the agreement (the Hungarian method on the
    confusion counts; with more clusters than classes the unmatched clusters count as errors)."""
    from scipy.optimize import linear_sum_assignment

    predicted, labels = predicted.long().cpu().numpy(), labels.long().cpu().numpy()
    if len(predicted) != len(labels):
        raise ValueError(f"{len(predicted)} predictions for {len(labels)} labels")
    if len(labels) == 0:
        return float("nan")
    counts = np.zeros((predicted.max() + 1, labels.max() + 1), dtype=np.int64)
    np.add.at(counts, (predicted, labels), 1)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, cols].sum() / len(labels))
