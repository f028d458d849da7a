"""Evaluation: feature extractors, streaming statistics and metrics.

Metrics are plain functions of features or probabilities (``gankit.metrics.functional``, re-exported
here); extractors are registered by name (``gankit.metrics.extractors``); ``evaluate`` ties them to
a dataset with cached reference statistics.
"""
from .functional import (class_coverage, density_coverage, frechet_distance, inception_score,  # noqa: F401
                         kernel_inception_distance, precision_recall, sqrtm_psd)
from .memorization import memorization, nearest_neighbours  # noqa: F401
from .registry import SampleCountWarning  # noqa: F401
from .stats import RunningStats  # noqa: F401

__all__ = ["frechet_distance", "kernel_inception_distance", "inception_score", "precision_recall",
           "density_coverage", "class_coverage", "sqrtm_psd", "memorization", "nearest_neighbours", "RunningStats",
           "SampleCountWarning"]
