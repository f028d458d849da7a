"""The generic training loop and what it writes: checkpoints, metrics, pictures."""
from .checkpoint import load_checkpoint, save_checkpoint, find_checkpoint
from .trainer import Trainer, Interrupted

__all__ = ["Trainer", "Interrupted", "load_checkpoint", "save_checkpoint", "find_checkpoint"]
