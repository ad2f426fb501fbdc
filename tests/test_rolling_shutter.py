"""Rolling shutter (per-row exposure windows) and DeepGyro's blur field, against closed forms."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from gyrobench.errors import GyroFormatError
from gyrobench.gyro.camera import Intrinsics
from gyrobench.gyro.cmf import camera_motion_field
from gyrobench.gyro.deepgyro_field import deepgyro_blur_vectors, encode_deepgyro_png
from gyrobench.gyro.recording import GyroRecording
from gyrobench.gyro.rolling_shutter import exposure_motion_field, row_start_times_ns

K_SMALL = Intrinsics(300.0, 300.0, 40.0, 50.0, 80, 100)


def _rec(rate_fn, t0=10_000_000_000, dur_s=0.5, hz=1000.0, R=None):
    t = t0 + np.round(np.arange(int(dur_s * hz)) * 1e9 / hz).astype(np.int64)
    w = np.stack([rate_fn((ti - t0) * 1e-9) for ti in t])
    return GyroRecording(t, w, np.eye(3) if R is None else R, "test")


def test_row_start_times():
    t = row_start_times_ns(1000, 0.03, [0, 50, 100], 100)
    assert t.tolist() == [1000, 1000 + 15_000_000, 1000 + 30_000_000]
    assert row_start_times_ns(7, 0.0, [0, 99], 100).tolist() == [7, 7]


def test_global_shutter_unchanged_when_readout_is_zero():
    rng = np.random.default_rng(0)
    coef = rng.normal(size=(3, 3))
    rec = _rec(lambda s: coef[0] * 0.3 + coef[1] * np.sin(20 * s) + coef[2] * s)
    start, exp = int(rec.t_ns[0]) + 100_000_000, 25_000_000
    win = rec.window_time(start, exp, samples=11)
    ref = camera_motion_field(win.t_ns, win.w_cam, K_SMALL, crop=(0, 0, 80, 100))
    got = exposure_motion_field(rec, start, exp, K_SMALL, readout_time_s=0.0)
    assert got.dtype == ref.dtype and got.shape == ref.shape == (50, 40, 16)
    assert np.array_equal(got, ref)  # bit for bit


def test_constant_rate_rolling_shutter_equals_global_shutter():
    w0 = np.array([0.2, -0.3, 0.1])
    rec = _rec(lambda s: w0)
    start = int(rec.t_ns[0]) + 50_000_000
    gs = exposure_motion_field(rec, start, 20_000_000, K_SMALL, readout_time_s=0.0, dtype=np.float64)
    rs = exposure_motion_field(rec, start, 20_000_000, K_SMALL, readout_time_s=0.03, dtype=np.float64)
    assert np.abs(rs - gs).max() < 1e-9


def test_rate_step_closed_form_per_row():
    """w = 0 before t_s, c about y after: rows exposed before the step are still, rows after get the closed
    form sum of segments at the principal point, -2 fx tan(c E / 2) in x and 0 in y."""
    c, E, readout = 0.8, 10e-3, 50e-3
    t_step = 0.200  # s into the log
    rec = _rec(lambda s: np.array([0.0, c if s >= t_step else 0.0, 0.0]))
    start = int(rec.t_ns[0]) + int(0.180e9)  # row y starts at 180 ms + y * 0.5 ms
    f = exposure_motion_field(rec, start, int(E * 1e9), K_SMALL, readout_time_s=readout, dtype=np.float64,
                              layout="hwc")
    col = int(K_SMALL.cx) // 2  # grid column at the principal point (cx = 40 -> grid 20)
    total = f[:, col].reshape(f.shape[0], 8, 2).sum(axis=1)  # (h', 2) per grid row
    rows = np.arange(f.shape[0]) * 2
    before = rows * readout / K_SMALL.height * 1e3 + E * 1e3 <= 20.0  # window ends by the step (ms)
    after = rows * readout / K_SMALL.height * 1e3 >= 21.0  # window starts a sample after the step
    assert before.sum() >= 10 and after.sum() >= 10
    assert np.abs(total[before]).max() == 0.0
    expected = -2 * K_SMALL.fx * np.tan(c * E / 2)
    at_pp = rows[after] == int(K_SMALL.cy)
    assert at_pp.any()
    np.testing.assert_allclose(total[after][at_pp, 0], expected, rtol=1e-6)
    np.testing.assert_allclose(total[after][at_pp, 1], 0.0, atol=1e-9)
    # every row after the step has the same blur at this column to first order (it depends only on row height)
    assert np.abs(total[after, 0] - expected).max() < 0.05 * abs(expected)


def _closed_form_deepgyro(w0, K, H, W, E_s, readout):
    dt = readout / H
    n_exp = int(np.floor(E_s / dt))
    R = Rotation.from_rotvec(np.asarray(w0) * n_exp * dt).as_matrix()  # constant rate: exp([w t]x)
    Hm = K @ R @ np.linalg.inv(K)
    u, v = np.meshgrid(np.arange(W, dtype=float), np.arange(H, dtype=float))
    q = Hm @ np.stack([u.ravel(), v.ravel(), np.ones(u.size)])
    bx = np.rint(q[0] / q[2] - u.ravel()).reshape(H, W)
    by = np.rint(q[1] / q[2] - v.ravel()).reshape(H, W)
    flip = by > 0
    return np.where(flip, -bx, bx), np.where(flip, -by, by)


@pytest.mark.parametrize("w0", [(0.5, -1.2, 0.3), (0.0, 0.0, 2.0), (-1.5, 0.4, 0.0)])
def test_deepgyro_field_matches_closed_form_for_constant_rate(w0):
    H, W = 60, 90
    K = np.array([[150.0, 0, 44.5], [0, 150.0, 29.5], [0, 0, 1]])
    rec = _rec(lambda s: np.asarray(w0, dtype=float), hz=200.0, dur_s=1.0)
    start = int(rec.t_ns[0]) + 300_000_000
    b = deepgyro_blur_vectors(rec.t_ns, rec.w_cam, K, (H, W), start, 40_000_000, 0.025)
    bx, by = _closed_form_deepgyro(w0, K, H, W, 0.040, 0.025)
    assert b.shape == (2, H, W) and b.dtype == np.int16
    assert np.abs(b[0] - bx).max() <= 1 and np.abs(b[1] - by).max() <= 1
    assert (b[0] == bx).mean() > 0.97 and (b[1] == by).mean() > 0.97
    assert (b[1] <= 0).all()  # canonical sign
    assert np.abs(b).max() >= 3  # a real blur, not a trivial zero field


def test_deepgyro_png_encoding_and_global_shutter_error():
    b = np.array([[[-3, 0], [200, -200]], [[-1, 0], [0, -128]]], dtype=np.int16)
    bx, by = encode_deepgyro_png(b)
    assert bx.tolist() == [[125, 128], [255, 0]] and by.tolist() == [[127, 128], [128, 0]]
    rec = _rec(lambda s: np.zeros(3))
    with pytest.raises(GyroFormatError, match="readout_time_s > 0"):
        deepgyro_blur_vectors(rec.t_ns, rec.w, np.eye(3), (10, 10), int(rec.t_ns[5]), 1_000_000, 0.0)


def test_rolling_shutter_blur_readout_zero_is_global_render():
    from gyrobench.synth.blur import blur_homographies, render_blur, render_rolling_shutter

    rng = np.random.default_rng(1)
    rec = _rec(lambda s: np.array([0.3 * np.sin(9 * s), 0.5 * np.cos(7 * s), 0.2]), R=None)
    img = torch.from_numpy(rng.random((1, 3, 40, 48)).astype(np.float32))
    K = Intrinsics(60.0, 60.0, 24.0, 20.0, 48, 40)
    start, exp = int(rec.t_ns[0]) + 100_000_000, 30_000_000
    win = rec.window_time(start, exp, samples=11)
    homs, _, _ = blur_homographies(win.t_ns, win.w_cam, K, (40, 48))
    ref = render_blur(img, homs)["blurred"]
    got = render_rolling_shutter(img, rec, start, exp, K, readout_time_s=0.0)["blurred"]
    assert torch.equal(got, ref)
    rs = render_rolling_shutter(img, rec, start, exp, K, readout_time_s=0.02, band_rows=8)["blurred"]
    assert rs.shape == ref.shape and not torch.equal(rs, ref)
    assert torch.equal(rs[..., :8, :], ref[..., :8, :])  # the first band starts with row 0: same window
