"""One gyro path (issue 24 item 3): :func:`gyrobench.gyro.window_fields.window_fields` is the one implementation of
"gyro window -> camera axes -> clean and noisy field", and the hand-shake strength is multiplied in one place."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from gyrobench.gyro.camera import FOURKRD, FOURKRD_CROP
from gyrobench.gyro.cmf import camera_motion_field
from gyrobench.gyro.error_model import GyroErrorModel, noisy_camera_motion_field
from gyrobench.gyro.rolling_shutter import window_field
from gyrobench.gyro.window_fields import camera_rates, window_fields

PKG = Path(__file__).resolve().parents[1] / "gyrobench"
FIELD_FUNCTIONS = {"camera_motion_field", "noisy_camera_motion_field", "window_field"}


def _window(n=11, seed=0):
    rng = np.random.default_rng(seed)
    return np.arange(n, dtype=np.int64) * 4_757_600, rng.normal(0, 0.4, (n, 3))


def test_camera_rates_rotate_imu_axes_to_camera_axes():
    _, w = _window()
    R = np.array([[0.0, 1, 0], [-1, 0, 0], [0, 0, 1]])
    np.testing.assert_array_equal(camera_rates(w, R), w @ R.T)
    np.testing.assert_array_equal(camera_rates(w, R)[:, 0], w[:, 1])
    assert camera_rates(w.astype(np.float32)).dtype == np.float64


def test_window_fields_are_the_clean_and_noisy_fields():
    t, w = _window()
    crop = (320, 180, 64, 48)
    draw = GyroErrorModel().draw(np.random.default_rng(1), len(t), K=FOURKRD)
    clean, noisy = window_fields(t, w, FOURKRD, draw=draw, crop=crop, M=8)
    np.testing.assert_array_equal(clean, camera_motion_field(t, w, FOURKRD, crop=crop, M=8))
    np.testing.assert_array_equal(noisy, noisy_camera_motion_field(t, w, FOURKRD, draw, crop=crop, M=8))
    assert np.abs(noisy - clean).max() > 1e-3
    clean2, same = window_fields(t, w, FOURKRD, crop=FOURKRD_CROP)
    assert same is clean2  # no draw: the noisy field is the clean one


def test_window_fields_rolling_shutter_is_each_rows_window():
    t, w = _window(n=20)
    kw = dict(exposure_ns=int(t[10] - t[0]), readout_time_s=0.02, frame_height=1080)
    clean, noisy = window_fields(t, w, FOURKRD, crop=(320, 180, 64, 48), **kw)
    np.testing.assert_array_equal(clean, window_field(t, w, FOURKRD, crop=(320, 180, 64, 48), **kw))
    assert noisy is clean
    assert not np.array_equal(clean, camera_motion_field(t[:11], w[:11], FOURKRD, crop=(320, 180, 64, 48)))


def _calls(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            f = node.func
            names.add(f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", ""))
    return names


@pytest.mark.parametrize("module", ["builder/pipeline.py", "builder/onthefly.py", "data/dataset.py"])
def test_synthesis_reader_and_sampler_use_the_one_field_path(module):
    calls = _calls(PKG / module)
    assert "window_fields" in calls and "camera_rates" in calls
    assert not calls & FIELD_FUNCTIONS, f"{module} computes a field itself: {calls & FIELD_FUNCTIONS}"


def _strength_products(path: Path) -> int:
    """Multiplications with an operand named ``strength`` or an attribute ``.strength``."""
    n = 0
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.BinOp, ast.AugAssign)) and isinstance(node.op, ast.Mult):
            sides = [node.left, node.right] if isinstance(node, ast.BinOp) else [node.target, node.value]
            for s in sides:
                if (isinstance(s, ast.Name) and s.id == "strength") or \
                        (isinstance(s, ast.Attribute) and s.attr == "strength"):
                    n += 1
    return n


def test_strength_is_multiplied_in_one_place():
    found = {str(p.relative_to(PKG)): k for p in sorted(PKG.rglob("*.py")) if (k := _strength_products(p))}
    assert found == {"builder/sources.py": 1}, found
