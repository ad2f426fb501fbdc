"""Gyro core: recordings, rotation math, intrinsics/homographies, trajectories, camera motion fields, errors.

Data flow (spec ``gyrodeblurnet.md`` §3.1): recording -> exposure window -> orientations -> homographies ->
camera motion field (and, via :func:`pose_homographies`, the blur renderer's poses). See ``docs/gyro.md``.
"""

from .camera import DEMO, DEMO_CROP, FOURKRD, FOURKRD_CROP, Intrinsics, homography, intrinsics_by_name
from .cmf import (
    camera_motion_field,
    camera_motion_fields,
    cmf_homographies,
    cmf_shape,
    field_from_homographies,
)
from .error_model import ErrorDraw, GyroErrorModel, field_pair, noisy_camera_motion_field
from .recording import Gap, GyroRecording, load_gyro, validate_gyro
from .rotation import euler_increment, expmap_increment, integrate_orientations
from .trajectory import pose_homographies, substeps_for_max_step

__all__ = [
    "DEMO", "DEMO_CROP", "FOURKRD", "FOURKRD_CROP", "Intrinsics", "homography", "intrinsics_by_name",
    "camera_motion_field", "camera_motion_fields", "cmf_homographies", "cmf_shape", "field_from_homographies",
    "ErrorDraw", "GyroErrorModel", "field_pair", "noisy_camera_motion_field",
    "Gap", "GyroRecording", "load_gyro", "validate_gyro",
    "euler_increment", "expmap_increment", "integrate_orientations",
    "pose_homographies", "substeps_for_max_step",
]
