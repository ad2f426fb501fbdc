"""Pinhole intrinsics that follow crops and resizes, and rotation homographies ``H = K R K^-1``.

Conventions (docs/conventions.md §1, spec ``gyrodeblurnet.md`` §1.1, §3.1 step 4):

- Pixel coordinates ``(x, y)``: x = column to the right, y = row down, in **pixels**; the integer coordinate
  ``(j, i)`` is the *centre* of pixel row i, column j (the convention of the official generator, whose grid
  points are the integers ``u = 320, 322, ...``). So the image spans ``[-0.5, W - 0.5]`` in x.
- ``K = [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]`` in that frame; no skew. The 4KRD camera of GyroBlur-Synth has
  ``cx, cy = 960, 540`` on 1920x1080 (:data:`FOURKRD`), i.e. (640, 360) in the 1280x720 centre crop.
- A crop at offset ``(x0, y0)`` shifts the principal point: ``c' = c - (x0, y0)``.
- A resize from (W, H) to (W', H') with pixel-centre convention maps ``x' = (x + 0.5) * W'/W - 0.5``, so
  ``fx' = fx * W'/W`` and ``cx' = (cx + 0.5) * W'/W - 0.5`` (same in y).
- :func:`homography` maps *reference-frame* pixel coordinates to the frame rotated by R:
  ``p' = dehom(K R K^-1 [x, y, 1]^T)``.

Example::

    >>> import numpy as np
    >>> FOURKRD.crop(320, 180, 1280, 720).K[:2, 2].tolist()
    [640.0, 360.0]
    >>> bool(np.allclose(homography(FOURKRD.K, np.eye(3)), np.eye(3)))
    True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ShapeError

__all__ = ["Intrinsics", "center_crop_box", "FOURKRD", "FOURKRD_CROP", "DEMO", "DEMO_CROP", "homography", "as_K", "intrinsics_by_name"]


def center_crop_box(frame_wh: tuple[int, int], crop_wh: tuple[int, int]) -> tuple[int, int, int, int]:
    """``(x0, y0, w, h)`` in pixels of the centred ``crop_wh = (w, h)`` crop of a ``frame_wh = (W, H)`` frame
    (width first, like the result). Odd margins round the offset down.

    >>> center_crop_box((1920, 1080), (1280, 720))
    (320, 180, 1280, 720)
    """
    (W, H), (w, h) = frame_wh, crop_wh
    if w <= 0 or h <= 0:
        raise ShapeError(f"center crop: size must be positive, got {w}x{h}")
    if w > W or h > H:
        raise ShapeError(f"center crop {w}x{h} does not fit in the {W}x{H} frame; use a smaller crop")
    return ((int(W) - int(w)) // 2, (int(H) - int(h)) // 2, int(w), int(h))


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics of a ``width`` x ``height`` frame, in pixels (pixel-centre convention, see module)."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    def __post_init__(self):
        if not (self.fx > 0 and self.fy > 0):
            raise ValueError(f"Intrinsics: focal lengths must be positive, got fx={self.fx}, fy={self.fy}")
        if not (int(self.width) > 0 and int(self.height) > 0):
            raise ValueError(f"Intrinsics: width/height must be positive, got {self.width}x{self.height}")

    @property
    def K(self) -> np.ndarray:
        """(3, 3) float64 camera matrix."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]], dtype=np.float64)

    @property
    def hfov_deg(self) -> float:
        """Horizontal field of view in degrees (pixel edges at -0.5 and W-0.5, centred principal point)."""
        return math.degrees(2 * math.atan(self.width / (2 * self.fx)))

    def crop(self, x0: int, y0: int, w: int, h: int) -> Intrinsics:
        """Intrinsics of the sub-image with top-left pixel ``(x0, y0)`` and size ``w`` x ``h``."""
        if w <= 0 or h <= 0:
            raise ValueError(f"Intrinsics.crop: size must be positive, got {w}x{h}")
        return Intrinsics(self.fx, self.fy, self.cx - x0, self.cy - y0, int(w), int(h))

    def center_crop(self, w: int, h: int) -> tuple[int, int, int, int]:
        """``(x0, y0, w, h)`` of the centred ``w`` x ``h`` crop (4KRD: (320, 180, 1280, 720)); see
        :func:`center_crop_box`."""
        return center_crop_box((self.width, self.height), (w, h))

    def resize(self, new_w: int, new_h: int) -> Intrinsics:
        """Intrinsics after resizing the whole frame to ``new_w`` x ``new_h`` (pixel-centre convention)."""
        sx, sy = new_w / self.width, new_h / self.height
        return Intrinsics(
            self.fx * sx, self.fy * sy, (self.cx + 0.5) * sx - 0.5, (self.cy + 0.5) * sy - 0.5, int(new_w), int(new_h)
        )

    @classmethod
    def from_fov(cls, width: int, height: int, hfov_deg: float) -> Intrinsics:
        """Square-pixel intrinsics with horizontal FOV ``hfov_deg`` and the principal point at the image centre.

        The centre is ``(W/2, H/2)``, matching the official 4KRD choice (960, 540) and docs/conventions.md §9's demo
        camera ((250, 250) for 500x500; 48 deg gives fx = 561.5 px).
        """
        if not 0 < hfov_deg < 180:
            raise ValueError(f"from_fov: hfov_deg must be in (0, 180), got {hfov_deg}")
        f = width / (2 * math.tan(math.radians(hfov_deg) / 2))
        return cls(f, f, width / 2, height / 2, int(width), int(height))


#: GyroBlur-Synth / 4KRD camera (spec §1.1), 1920x1080 full frame.
FOURKRD = Intrinsics(2139.03493, 2133.82853, 960.0, 540.0, 1920, 1080)
#: The stored 1280x720 centre crop of the 4KRD frame: (x0, y0, w, h) in full-frame pixels.
FOURKRD_CROP = (320, 180, 1280, 720)
#: Embedded demo camera for the 500x500 Kodak images (docs/conventions.md §9).
DEMO = Intrinsics(561.5, 561.5, 250.0, 250.0, 500, 500)
#: The demo data's stored window: the 480x480 centre crop of the 500x500 frame (recipe ``demo``, field 240x240).
DEMO_CROP = (10, 10, 480, 480)


def intrinsics_by_name(name: str) -> tuple[Intrinsics, tuple[int, int, int, int]]:
    """``"4krd"`` -> (FOURKRD, its 1280x720 centre crop); ``"demo"`` -> (DEMO, the demo data's 480x480 centre
    crop at (10, 10) of the 500x500 frame)."""
    key = name.lower()
    if key in ("4krd", "fourkrd", "gyroblur"):
        return FOURKRD, FOURKRD_CROP
    if key == "demo":
        return DEMO, DEMO_CROP
    raise ValueError(f"unknown intrinsics {name!r}; choose '4krd' or 'demo'")


def as_K(K) -> np.ndarray:
    """(3, 3) float64 matrix from an :class:`Intrinsics` or an array-like K; raises ShapeError otherwise."""
    if isinstance(K, Intrinsics):
        return K.K
    K = np.asarray(K, dtype=np.float64)
    if K.shape != (3, 3):
        raise ShapeError(f"K: expected a (3, 3) camera matrix or Intrinsics, got shape {K.shape}")
    return K


def homography(K, R):
    """``H = K R K^-1`` batched over leading dims of ``R`` (..., 3, 3) (and of ``K`` if it has them).

    numpy or torch (R decides). ``K`` may be an :class:`Intrinsics`. The inverse of K is formed in closed form
    (no skew assumed if K[0,1] == 0, general otherwise via ``linalg.inv``).
    """
    if isinstance(K, Intrinsics):
        K = K.K
    if type(R).__module__.startswith("torch"):
        import torch

        Kt = torch.as_tensor(K, dtype=R.dtype, device=R.device)
        if tuple(R.shape[-2:]) != (3, 3) or tuple(Kt.shape[-2:]) != (3, 3):
            raise ShapeError(f"homography: expected (..., 3, 3) K and R, got {tuple(Kt.shape)}, {tuple(R.shape)}")
        return Kt @ R @ torch.linalg.inv(Kt)
    R = np.asarray(R)
    K = np.asarray(K, dtype=np.float64)
    if R.shape[-2:] != (3, 3) or K.shape[-2:] != (3, 3):
        raise ShapeError(f"homography: expected (..., 3, 3) K and R, got {K.shape}, {R.shape}")
    return K @ R @ np.linalg.inv(K)
