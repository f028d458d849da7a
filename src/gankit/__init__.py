"""gankit: train, sample, evaluate and understand generative adversarial networks."""
__version__ = "0.1.0"

from .api import class_grid, evaluate_run, load_run, sample, train, translate  # noqa: E402
from .config import Config, load_config  # noqa: E402
from .errors import GankitError  # noqa: E402

__all__ = ["__version__", "train", "sample", "class_grid", "translate", "evaluate_run", "load_run", "Config", "load_config", "GankitError"]
