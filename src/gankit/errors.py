"""User-facing errors (and the interruption a user asked for).

Anything a user can cause (a missing file, a bad config value, a corrupt checkpoint) raises a
:class:`GankitError` whose message is one line naming the problem. The CLI prints it and exits 2;
everything else is a bug and keeps its traceback.
"""


class GankitError(Exception):
    """A problem with the user's input or environment, reported as one line."""


class ConfigError(GankitError):
    """An unknown key, a value of the wrong type, or a value outside its choices."""


class DataError(GankitError):
    """A data source that is missing, empty, or malformed."""


class CheckpointError(GankitError):
    """A checkpoint that is missing, truncated, or does not match the model."""


class TrainingDiverged(GankitError):
    """A loss became NaN or infinite; the run stopped before saving anything."""


class Interrupted(Exception):
    """Ctrl-C (or SIGTERM) stopped the run at a step boundary, after saving a checkpoint (exit 130)."""

    def __init__(self, step: int, path):
        super().__init__(f"interrupted at step {step}; checkpoint saved to {path}")
        self.step, self.path = step, path
