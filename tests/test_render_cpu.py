"""OpenCV renderer (gyrobench.synth.render_cpu, issue 11) against the torch reference and closed forms.

References: the torch ``render_blur`` (a second implementation: grid_sample), the closed-form extent of a
constant-rate yaw (``2 fx tan(theta / 2)`` for the image centre), the identity for zero rotation, and a brute-force
per-pixel evaluation of the source coordinates for the ``valid`` mask.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_blur import _extent_from_profile, _translations, _yaw_homs

from gyrobench.errors import ShapeError
from gyrobench.synth.blur import render_blur
from gyrobench.synth.render_cpu import _mask_tiles, cv_threads, render_blur_cpu, valid_mask

PRECISIONS = ("uint16", "float32")


def _smooth_frame(h=90, w=120, seed=0, sat=True):
    """Smooth random linear frame (bilinear-upsampled noise) with a white and a red-only highlight."""
    rng = np.random.default_rng(seed)
    small = torch.from_numpy(rng.random((1, 3, h // 6, w // 6), dtype=np.float32))
    img = torch.nn.functional.interpolate(small, size=(h, w), mode="bicubic", align_corners=False).clamp(0, 0.95)
    if sat:
        img[0, :, 30:34, 40:46] = 1.0  # white highlight
        img[0, 0, 60:62, 70:80] = 1.0  # red-only highlight (per-channel mask)
    return img


def _poses(K, n=25, yaw=0.04, pitch=0.02, roll=0.03):
    """Rotation-only homographies K R K^-1 along a small 3-axis rotation, anchor in the middle."""
    from scipy.spatial.transform import Rotation

    t = np.linspace(-0.5, 0.5, n)
    rots = Rotation.from_rotvec(np.stack([pitch * t, yaw * t, roll * t], 1)).as_matrix()
    return K @ rots @ np.linalg.inv(K)


def _hwc(t: torch.Tensor) -> np.ndarray:
    return t[0].numpy().transpose(1, 2, 0)


K_SMALL = np.array([[110.0, 0, 60.0], [0, 110.0, 45.0], [0, 0, 1]])
CROP = (20, 15, 80, 60)


@pytest.mark.parametrize("precision", PRECISIONS)
def test_matches_torch_renderer(precision):
    img = _smooth_frame()
    homs = _poses(K_SMALL)
    ref = render_blur(img, torch.from_numpy(homs)[None], crop=CROP, sat_threshold=1.0)
    got = render_blur_cpu(_hwc(img), homs, crop=CROP, sat_threshold=1.0, precision=precision)
    assert got["blurred"].shape == (60, 80, 3) and got["blurred"].dtype == np.float32
    assert np.abs(got["blurred"] - _hwc(ref["blurred"])).max() <= 1e-4
    assert np.abs(got["sat_mask"] - _hwc(ref["sat_mask"])).max() <= 1e-4
    assert float(got["sat_mask"][..., 0].max()) > 0.5 and float(got["sat_mask"][..., 1].max()) > 0.5
    np.testing.assert_array_equal(got["sharp"], _hwc(ref["sharp"]))
    np.testing.assert_array_equal(got["valid"], ref["valid"][0, 0].numpy() > 0.5)


def test_weights_match_torch_renderer():
    img = _smooth_frame(sat=False)
    homs = _poses(K_SMALL, n=9)
    wts = np.linspace(1.0, 3.0, 9)
    ref = render_blur(img, torch.from_numpy(homs)[None], crop=CROP, weights=wts)
    for precision in PRECISIONS:
        got = render_blur_cpu(_hwc(img), homs, crop=CROP, weights=wts, precision=precision)
        assert np.abs(got["blurred"] - _hwc(ref["blurred"])).max() <= 1e-4
    one = render_blur_cpu(_hwc(img), _translations(np.array([-3.0, 0.0, 5.0])), weights=[0, 0, 1],
                          precision="float32")["blurred"]
    np.testing.assert_allclose(one[:, 5:], _hwc(img)[:, :-5], atol=1e-6)  # I_k(y) = I(y - 5)


@pytest.mark.parametrize("precision", PRECISIONS)
def test_zero_rotation_is_identity(precision):
    img = _hwc(_smooth_frame())
    r = render_blur_cpu(img, np.tile(np.eye(3), (7, 1, 1)), crop=CROP, sat_threshold=1.0, precision=precision)
    x0, y0, w, h = CROP
    np.testing.assert_array_equal(r["sharp"], img[y0:y0 + h, x0:x0 + w])
    tol = 1e-6 if precision == "float32" else 0.5 / 65535 + 1e-7
    assert np.abs(r["blurred"] - r["sharp"]).max() <= tol
    np.testing.assert_allclose(r["sat_mask"], (r["sharp"] >= 1.0 - 1e-6).astype(np.float32), atol=1e-6)
    assert r["valid"].all()


@pytest.mark.parametrize("precision", PRECISIONS)
def test_yaw_extent_matches_closed_form(precision):
    fx = 120.0
    K = np.array([[fx, 0, 40.0], [0, fx, 30.0], [0, 0, 1]])
    rate, T = 1.5, 0.1  # rad/s, s -> 0.15 rad, anchor mid
    ang = np.linspace(-rate * T / 2, rate * T / 2, 81)
    frame = np.zeros((60, 80, 3), np.float32)
    frame[30, 40] = 1.0
    r = render_blur_cpu(frame, _yaw_homs(K, ang), crop=(0, 10, 80, 40), precision=precision)
    _, L = _extent_from_profile(r["blurred"][..., 0].sum(0).astype(np.float64))
    assert L == pytest.approx(2 * fx * np.tan(rate * T / 2), abs=1.0)
    # same energy as the torch renderer (a yaw stretches the point by ~1/cos^2: the sum is 1.004, not 1)
    ref = render_blur(torch.from_numpy(frame.transpose(2, 0, 1).copy())[None],
                      torch.from_numpy(_yaw_homs(K, ang))[None], crop=(0, 10, 80, 40))["blurred"]
    assert float(r["blurred"][..., 0].sum()) == pytest.approx(float(ref[0, 0].sum()), abs=3200 * 7.7e-6)


def test_valid_mask_matches_brute_force():
    """Rotations large enough to pull part of the crop's sources outside the frame."""
    H, W = 90, 120
    homs = _poses(K_SMALL, n=15, yaw=0.5, pitch=0.3, roll=0.2) @ _translations(np.linspace(-6, 6, 15))
    crop = (5, 4, 110, 80)
    got = valid_mask(np.linalg.inv(homs), crop, (H, W))
    x0, y0, w, h = crop
    ys, xs = np.mgrid[y0:y0 + h, x0:x0 + w].astype(np.float64)
    ok = np.ones((h, w), bool)
    for hinv in np.linalg.inv(homs):
        q = np.einsum("ij,jyx->iyx", hinv, np.stack([xs, ys, np.ones_like(xs)]))
        sx, sy = q[0] / q[2], q[1] / q[2]
        ok &= (q[2] > 0) & (sx >= -1e-3) & (sx <= W - 1 + 1e-3) & (sy >= -1e-3) & (sy <= H - 1 + 1e-3)
    assert 0.2 < ok.mean() < 0.95  # the case is a real test: some pixels valid, some not
    np.testing.assert_array_equal(got, ok)
    frame = _hwc(_smooth_frame(sat=False))
    ref = render_blur(torch.from_numpy(frame.transpose(2, 0, 1).copy())[None], torch.from_numpy(homs)[None],
                      crop=crop)
    r = render_blur_cpu(frame, homs, crop=crop)
    assert (r["valid"] != (ref["valid"][0, 0].numpy() > 0.5)).sum() <= 2  # float32 grid vs float64 bounds
    assert np.abs(r["blurred"] - _hwc(ref["blurred"])).max() <= 1e-4  # replicated border matches too


def test_saturation_tiles_cover_the_mask():
    """Tiled mask == mask warped over the whole crop in one region (tile = crop)."""
    img = _hwc(_smooth_frame())
    homs = _poses(K_SMALL, n=11)
    a = render_blur_cpu(img, homs, crop=CROP, sat_threshold=1.0, tile=(8, 6))["sat_mask"]
    b = render_blur_cpu(img, homs, crop=CROP, sat_threshold=1.0, tile=(80, 60))["sat_mask"]
    np.testing.assert_allclose(a, b, atol=1e-6)
    m0 = img >= 1.0 - 1e-6
    tiles = _mask_tiles(m0, np.linalg.inv(homs), CROP, (8, 6))
    area = sum(t[0][2] * t[0][3] for t in tiles)
    assert 0 < area < 0.8 * CROP[2] * CROP[3]  # work skipped where no saturated source can reach
    assert any(pc for _, pc in tiles) and not all(pc for _, pc in tiles)  # red-only and white highlights
    anych = render_blur_cpu(img, homs, crop=CROP, sat_threshold=1.0, sat_any_channel=True)["sat_mask"]
    np.testing.assert_allclose(anych[..., 1], anych[..., 0])
    assert (anych[..., 1] >= a[..., 1] - 1e-6).all() and anych[..., 1].sum() > a[..., 1].sum()


def test_uint16_frame_and_threads_give_identical_bytes():
    img = _hwc(_smooth_frame())
    homs = _poses(K_SMALL, n=13)
    u16 = np.rint(img * 65535).astype(np.uint16)
    a = render_blur_cpu(img, homs, crop=CROP, sat_threshold=1.0, threads=1)
    b = render_blur_cpu(u16, homs, crop=CROP, sat_threshold=1.0, threads=2)
    for k in ("blurred", "sat_mask", "valid"):
        np.testing.assert_array_equal(a[k], b[k])
    np.testing.assert_allclose(a["sharp"], b["sharp"], atol=0.5 / 65535 + 1e-7)
    import cv2

    with cv_threads(1):
        assert cv2.getNumThreads() == 1


def test_bad_input_raises():
    img = np.zeros((10, 12, 3), np.float32)
    with pytest.raises(ShapeError, match="crop"):
        render_blur_cpu(img, np.eye(3)[None], crop=(5, 5, 10, 10))
    with pytest.raises(ShapeError, match="homs"):
        render_blur_cpu(img, np.eye(3))
    with pytest.raises(ShapeError, match="HWC"):
        render_blur_cpu(img[..., 0], np.eye(3)[None])
    with pytest.raises(ShapeError, match="weights"):
        render_blur_cpu(img, np.eye(3)[None], weights=[1, 2])
    with pytest.raises(ShapeError, match="precision"):
        render_blur_cpu(img, np.eye(3)[None], precision="half")
