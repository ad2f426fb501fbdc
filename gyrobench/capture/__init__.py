"""Real captures: one photo with its gyro, intrinsics and timing; importers; motion fields of a capture.

Layer ``capture`` (docs/architecture.md): imports gyro, synth (rendering synthetic captures), color and the base
modules. Conventions in ``docs/captures.md``.
"""

from .calibration import BUILTIN_CALIBRATIONS, Calibration, load_calibration, scale_K
from .format import (
           CAPTURE_FORMAT,
           Capture,
           CaptureError,
           list_captures,
           load_capture,
           read_image,
           write_capture,
)

__all__ = ["BUILTIN_CALIBRATIONS", "Calibration", "load_calibration", "scale_K", "CAPTURE_FORMAT", "Capture",
           "CaptureError", "list_captures", "load_capture", "read_image", "write_capture"]
