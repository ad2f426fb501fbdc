"""Gyro error model: zero draw = clean field, replay from stored arrays, each term vs an independent form."""

from __future__ import annotations

import numpy as np
import pytest

from gyrobench.gyro import FOURKRD, FOURKRD_CROP, Intrinsics, camera_motion_field
from gyrobench.gyro.error_model import (
    BIAS_SCALE,
    NOISE_STD,
    ErrorDraw,
    GyroErrorModel,
    field_pair,
    noisy_camera_motion_field,
    perturb_window,
)

CROP = (320, 180, 256, 144)


def _window(seed=0):
    rng = np.random.default_rng(seed)
    t = 10**14 + np.arange(11, dtype=np.int64) * 4_757_600 + np.r_[0, rng.integers(-5000, 5000, 10)]
    w = rng.normal(0, 0.8, (11, 3))
    return t, w


def test_zero_draw_gives_exactly_the_clean_field():
    t, w = _window()
    clean = camera_motion_field(t, w, FOURKRD, crop=CROP)
    noisy = noisy_camera_motion_field(t, w, FOURKRD, ErrorDraw.zeros(11), crop=CROP)
    assert np.array_equal(clean, noisy)
    c2, n2, d = field_pair(t, w, FOURKRD, GyroErrorModel.clean(), np.random.default_rng(0), crop=CROP)
    assert np.array_equal(c2, n2) and np.array_equal(c2, clean)
    assert not d.bias.any() and not d.noise.any() and not d.center_offset.any() and d.time_offset_ns == 0


def test_draw_is_seeded_storable_and_replayable(tmp_path):
    t, w = _window(1)
    m = GyroErrorModel()
    c1, n1, d1 = field_pair(t, w, FOURKRD, m, np.random.default_rng(42), crop=CROP)
    _, n2, d2 = field_pair(t, w, FOURKRD, m, np.random.default_rng(42), crop=CROP)
    assert np.array_equal(n1, n2)
    arrays = d1.to_arrays()
    assert set(arrays) == {"bias", "noise", "center_offset", "time_offset_ns"}
    assert arrays["noise"].shape == (11, 3) and arrays["time_offset_ns"].dtype == np.int64
    np.savez(tmp_path / "d.npz", **{f"err_{k}": v for k, v in arrays.items()})
    with np.load(tmp_path / "d.npz") as z:
        d3 = ErrorDraw.from_arrays(dict(z))
    n3 = noisy_camera_motion_field(t, w, FOURKRD, d3, crop=CROP)
    assert np.array_equal(n1, n3)
    assert not np.array_equal(n1, c1)
    with pytest.raises(KeyError, match="center_offset"):
        ErrorDraw.from_arrays({"bias": np.zeros(3), "noise": np.zeros((11, 3)), "time_offset_ns": 0})


def test_draw_statistics_match_magnitudes():
    m = GyroErrorModel()
    rng = np.random.default_rng(3)
    draws = [m.draw(rng, 11) for _ in range(4000)]
    noise = np.concatenate([d.noise for d in draws])
    np.testing.assert_allclose(noise.std(0), NOISE_STD, rtol=0.03)
    np.testing.assert_allclose(np.std([d.bias for d in draws], 0), BIAS_SCALE, rtol=0.06)
    np.testing.assert_allclose(np.std([d.center_offset for d in draws], 0), 150.0, rtol=0.06)
    assert np.std([d.time_offset_ns for d in draws]) == pytest.approx(1e6, rel=0.06)
    # the centre offset scales with focal length
    small = Intrinsics(561.5, 561.5, 250, 250, 500, 500)
    offs = np.array([m.draw(rng, 11, small).center_offset for _ in range(2000)])
    assert offs.std() == pytest.approx(150.0 * 561.5 / 2139.03493, rel=0.08)


def test_center_offset_is_rotation_about_shifted_point():
    # independent form: conjugate each pose homography with the pixel translation T (spec §4 lead)
    t, w = _window(2)
    off = np.array([37.0, -52.0])
    d = ErrorDraw(np.zeros(3), np.zeros((11, 3)), off, 0)
    f = noisy_camera_motion_field(t, w, FOURKRD, d, crop=CROP, dtype=np.float64)
    from gyrobench.gyro.cmf import cmf_homographies

    H, _ = cmf_homographies(t, w, FOURKRD)
    T = np.array([[1, 0, off[0]], [0, 1, off[1]], [0, 0, 1.0]])
    Hs = T @ H @ np.linalg.inv(T)
    for x, y in [(320, 180), (574, 322), (448, 250)]:
        q = Hs @ np.array([x, y, 1.0])
        p = q[:, :2] / q[:, 2:]
        np.testing.assert_allclose(f[(y - 180) // 2, (x - 320) // 2].reshape(8, 2), np.diff(p, axis=0), atol=1e-9)


def test_bias_noise_and_time_offset_terms():
    t, w = _window(4)
    # bias + noise add to the rates
    d = ErrorDraw(np.array([1e-3, -2e-3, 3e-3]), np.full((11, 3), 1e-4), np.zeros(2), 0)
    np.testing.assert_allclose(perturb_window(t, w, d), w + d.bias + 1e-4, atol=0)
    # a time offset of exactly one sample interval (uniform timestamps) shifts the rates by one sample
    tu = np.arange(11, dtype=np.int64) * 5_000_000
    d1 = ErrorDraw(np.zeros(3), np.zeros((11, 3)), np.zeros(2), 5_000_000)
    sh = perturb_window(tu, w, d1)
    np.testing.assert_allclose(sh[:-1], w[1:], atol=1e-15)
    np.testing.assert_allclose(sh[-1], w[-1])  # held beyond the end
    # a constant bias about z on a zero window gives an in-plane rotation (square pixels): 2 r sin(phi/2)
    z = ErrorDraw(np.array([0, 0, 0.01]), np.zeros((11, 3)), np.zeros(2), 0)
    sq = Intrinsics(2000.0, 2000.0, 960.0, 540.0, 1920, 1080)
    f = noisy_camera_motion_field(tu, np.zeros((11, 3)), sq, z, crop=FOURKRD_CROP, dtype=np.float64)
    phi = 0.01 * 0.05 / 8
    r = np.hypot(320 - 960, 180 - 540)
    assert np.hypot(*f[0, 0, :2]) == pytest.approx(2 * r * np.sin(phi / 2), rel=1e-9)
    with pytest.raises(Exception, match="n_samples"):
        perturb_window(t, w, ErrorDraw.zeros(9))


def test_noise_only_discrepancy_is_tiny_as_spec_predicts():
    # spec §2: stationary-phone noise moves a segment by ~0.015 px (1 sigma) at fx = 2139
    t, w = _window(5)
    m = GyroErrorModel(bias_scale=(0, 0, 0), center_offset_std_px=0, time_offset_std_ns=0)
    rng = np.random.default_rng(0)
    diffs = []
    for _ in range(20):
        c, n, _ = field_pair(t, w, FOURKRD, m, rng, crop=(896, 508, 128, 64), dtype=np.float64)
        diffs.append(np.abs(n - c).mean())
    assert 0.003 < np.mean(diffs) < 0.03
