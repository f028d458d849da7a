"""The generic training loop and what it writes: checkpoints, metrics, pictures."""
from .checkpoint import load_checkpoint, save_checkpoint, find_checkpoint
from ..errors import Interrupted
from .trainer import Trainer

__all__ = ["Trainer", "Interrupted", "load_checkpoint", "save_checkpoint", "find_checkpoint"]
