"""The exception classes that are part of gyrobench's interface.

Every message names the file (where there is one), the field and the fix, so the CLI can print it as one line.
"""

from __future__ import annotations


class GyrobenchError(Exception):
    """Base class: an error the user can fix. The CLI prints ``gyrobench: error: <message>`` and exits 2."""


class GyroFormatError(GyrobenchError, ValueError):
    """A gyro recording is malformed (file, line, field and fix in the message)."""


class RecipeError(GyrobenchError, ValueError):
    """A recipe or config file is invalid (unknown key, wrong type, out-of-range value)."""


ConfigError = RecipeError


class ShardError(GyrobenchError, OSError):
    """A shard or manifest is missing, truncated, corrupt or does not match its checksum."""


class ImageError(GyrobenchError, ValueError):
    """An image is missing, unreadable or of the wrong size."""


class CheckpointError(GyrobenchError, ValueError):
    """A checkpoint cannot be loaded safely or does not match the model."""


class TrainingError(GyrobenchError, RuntimeError):
    """Training cannot go on (a non-finite loss, a diverged run); the message says what to change."""


class ShapeError(GyrobenchError, ValueError):
    """A tensor or array has the wrong shape (the message gives the received shape)."""


def require(cond: bool, exc: type[GyrobenchError], message: str) -> None:
    """Raise ``exc(message)`` unless ``cond`` holds."""
    if not cond:
        raise exc(message)


class DiskFullError(GyrobenchError, OSError):
    """The disk filled up (or would) while writing a file; the message names the file and how much to free."""

