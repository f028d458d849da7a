"""Named data sources that all yield uint8 images (N, C, H, W) shown to the networks in [-1, 1]."""
from .core import ImageData, BatchSampler, fit_images, to_unit_range
from .sources import SOURCES, Source, load_data, read_idx

__all__ = ["ImageData", "BatchSampler", "SOURCES", "Source", "load_data", "read_idx", "fit_images",
           "to_unit_range"]
