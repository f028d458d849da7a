"""Named data sources: uint8 images (N, C, H, W) shown to the networks in [-1, 1], 2-D point sets, or token
sequences (N, L) int64 (data/tokens.py)."""
from .core import BatchSampler, ImageData, PairedData, StreamSampler, UnpairedData, fit_images, to_unit_range
from .sources import SOURCES, Source, data_info, data_shape, load_data, load_heldout, read_idx
from . import mode_sources  # noqa: E402,F401  (registers ring8, grid25, stacked-mnist)
from . import paired  # noqa: E402,F401  (registers edges2fashion, edges2digits, paired, unpaired, domains)
from . import tasks  # noqa: E402,F401  (registers fonts, mnist-color, mnist2fonts, mnist2color, mnist-attributes)
from . import tokens  # noqa: E402,F401  (registers text, names, words, oracle)
from .points import MIXTURES, PointData
from .tokens import TokenData, Vocabulary

__all__ = ["ImageData", "PairedData", "UnpairedData", "StreamSampler", "BatchSampler", "SOURCES", "Source", "load_data", "read_idx", "fit_images",
           "to_unit_range", "data_shape", "data_info", "load_heldout", "PointData", "MIXTURES",
           "TokenData", "Vocabulary"]
