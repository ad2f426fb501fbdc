"""Rotation increments, orientation integration, intrinsics and homographies vs independent computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from gyrobench.errors import ShapeError
from gyrobench.gyro.camera import DEMO, FOURKRD, Intrinsics, homography
from gyrobench.gyro.rotation import (
    euler_increment,
    expmap_increment,
    integrate_orientations,
    log_so3,
    rotation_matrix,
)


def _explicit(ax, ay, az):
    cx, sx, cy, sy, cz, sz = math.cos(ax), math.sin(ax), math.cos(ay), math.sin(ay), math.cos(az), math.sin(az)
    Rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    Ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    Rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return Rx @ Ry @ Rz


def test_euler_is_product_of_negated_axis_rotations():
    rng = np.random.default_rng(0)
    a = rng.normal(0, 0.3, (4, 5, 3))
    R = euler_increment(a)
    assert R.shape == (4, 5, 3, 3)
    for idx in np.ndindex(4, 5):
        np.testing.assert_allclose(R[idx], _explicit(*(-a[idx])), atol=1e-15)
    np.testing.assert_allclose(R @ np.swapaxes(R, -1, -2), np.broadcast_to(np.eye(3), R.shape), atol=1e-14)


def test_expmap_matches_scipy_rotvec():
    rng = np.random.default_rng(1)
    a = np.concatenate([rng.normal(0, 0.5, (20, 3)), rng.normal(0, 1e-6, (5, 3)), np.zeros((1, 3))])
    R = expmap_increment(a)
    ref = Rotation.from_rotvec(-a).as_matrix()
    np.testing.assert_allclose(R, ref, atol=1e-14)
    np.testing.assert_allclose(log_so3(R), -a, atol=1e-10)


def test_expmap_and_euler_agree_to_second_order():
    # Euler product vs exponential map of the same vector: first-order terms agree, so the difference is
    # O(|a|^2); halving a must divide it by ~4 (ratio -> 4), not ~2.
    rng = np.random.default_rng(2)
    for _ in range(5):
        a = rng.normal(0, 1, 3)
        a *= 0.02 / np.linalg.norm(a)
        diffs = []
        for k in range(4):
            s = a / 2**k
            diffs.append(np.abs(euler_increment(s) - expmap_increment(s)).max())
        ratios = np.array(diffs[:-1]) / np.array(diffs[1:])
        assert np.all(np.abs(ratios - 4) < 0.05), ratios
        # and the second-order term is the known commutator: R_euler - R_exp ~ (1/2)([x][y]-[y][x])-like terms
        assert diffs[0] < 0.02**2


def test_torch_paths_match_numpy_and_are_differentiable():
    rng = np.random.default_rng(3)
    a = rng.normal(0, 0.2, (6, 3))
    at = torch.tensor(a, requires_grad=True)
    for fn in (euler_increment, expmap_increment):
        Rt = fn(at)
        np.testing.assert_allclose(Rt.detach().numpy(), fn(a), atol=1e-14)
        Rt.sum().backward()
        assert at.grad is not None and torch.isfinite(at.grad).all()
        at.grad = None
    O = integrate_orientations(euler_increment(torch.tensor(a)).unsqueeze(0))
    np.testing.assert_allclose(O.numpy()[0], integrate_orientations(euler_increment(a)[None])[0], atol=1e-14)
    zero = expmap_increment(torch.zeros(2, 3, dtype=torch.float64, requires_grad=True))
    zero.sum().backward()


def test_integration_left_multiplies():
    rng = np.random.default_rng(4)
    R = euler_increment(rng.normal(0, 0.1, (2, 4, 3)))
    O = integrate_orientations(R)
    assert O.shape == (2, 5, 3, 3)
    for b in range(2):
        acc = np.eye(3)
        np.testing.assert_array_equal(O[b, 0], np.eye(3))
        for k in range(4):
            acc = R[b, k] @ acc
            np.testing.assert_allclose(O[b, k + 1], acc, atol=1e-15)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-0.5, 0.5), min_size=3, max_size=3))
def test_rotation_round_trip(v):
    a = np.array(v)
    R = expmap_increment(a)
    np.testing.assert_allclose(expmap_increment(-a) @ R, np.eye(3), atol=1e-13)
    E = euler_increment(a)
    np.testing.assert_allclose(E.T @ E, np.eye(3), atol=1e-13)
    assert abs(np.linalg.det(E) - 1) < 1e-12


def test_rotation_matrix_axis_and_errors():
    np.testing.assert_allclose(rotation_matrix("z", 0.3) @ [1, 0, 0], [math.cos(0.3), math.sin(0.3), 0])
    with pytest.raises(ShapeError, match=r"\(\.\.\., 3\)"):
        euler_increment(np.zeros((4, 2)))
    with pytest.raises(ValueError):
        rotation_matrix("w", 0.1)


# ---- intrinsics and homographies -------------------------------------------------------------------------------
def test_intrinsics_crop_resize_and_fov():
    c = FOURKRD.crop(320, 180, 1280, 720)
    assert (c.cx, c.cy, c.width, c.height, c.fx) == (640.0, 360.0, 1280, 720, FOURKRD.fx)
    assert FOURKRD.center_crop(1280, 720) == (320, 180, 1280, 720)
    # resize with pixel-centre convention: pixel centre x maps to (x + 0.5) * s - 0.5
    r = FOURKRD.resize(960, 540)
    assert r.fx == pytest.approx(FOURKRD.fx / 2) and r.cx == pytest.approx((960 + 0.5) / 2 - 0.5)
    # a 3-D point projects to corresponding pixels before and after resize
    P = np.array([0.3, -0.2, 2.0])
    p = FOURKRD.K @ P
    q = r.K @ P
    assert q[0] / q[2] == pytest.approx((p[0] / p[2] + 0.5) * 0.5 - 0.5)
    d = Intrinsics.from_fov(500, 500, 48.0)
    assert d.fx == pytest.approx(250 / math.tan(math.radians(24)))
    assert abs(d.fx - DEMO.fx) < 0.1 and d.cx == DEMO.cx
    assert FOURKRD.hfov_deg == pytest.approx(48.3, abs=0.05)  # spec §1.1
    with pytest.raises(ValueError):
        Intrinsics(-1, 1, 0, 0, 10, 10)


def test_homography_is_rotation_of_back_projected_ray():
    rng = np.random.default_rng(5)
    R = Rotation.random(3, random_state=6).as_matrix()
    H = homography(FOURKRD, R)
    assert H.shape == (3, 3, 3)
    for k in range(3):
        x, y = rng.uniform(0, 1920), rng.uniform(0, 1080)
        ray = np.array([(x - 960) / FOURKRD.fx, (y - 540) / FOURKRD.fy, 1.0])
        q = R[k] @ ray
        ref = (FOURKRD.fx * q[0] / q[2] + 960, FOURKRD.fy * q[1] / q[2] + 540)
        h = H[k] @ [x, y, 1]
        np.testing.assert_allclose(h[:2] / h[2], ref, atol=1e-9)
    Ht = homography(FOURKRD.K, torch.tensor(R))
    np.testing.assert_allclose(Ht.numpy(), H, atol=1e-9)
    with pytest.raises(ShapeError):
        homography(np.eye(2), R)


def test_real_data_axis_convention():
    # spec §3.4: GyroBlur-Real increments are Rx(-x_raw) Ry(+y_raw) Rz(+z_raw); R_GYROBLUR_REAL maps raw -> camera
    from gyrobench.gyro.recording import R_GYROBLUR_REAL

    a = np.array([0.03, -0.02, 0.05])
    got = euler_increment(R_GYROBLUR_REAL @ a)
    np.testing.assert_allclose(got, _explicit(-a[0], a[1], a[2]), atol=1e-15)
