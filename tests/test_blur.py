"""Blur renderer (gyrodeblurnet.md §1.2, rsblur.md §3.2-§3.3, D2/D3).

Reference values are closed forms: identity poses, pure translations and a constant-rate yaw whose image-centre
displacement is ``fx * tan(angle)``; homographies for the yaw are built in the test from K and Ry.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gyrobench.errors import ShapeError
from gyrobench.gyro.camera import FOURKRD, center_crop_box
from gyrobench.synth.blur import max_step_px, pose_path_length_px, render_blur, saturation_mask


def _point_frame(h=60, w=80, y=30, x=40):
    img = torch.zeros(1, 3, h, w)
    img[0, :, y, x] = 1.0
    return img


def _translations(tx):
    H = np.tile(np.eye(3), (len(tx), 1, 1))
    H[:, 0, 2] = tx
    return H


def _extent_from_profile(row: np.ndarray) -> tuple[float, float]:
    """(centroid, length) of a 1-D blurred point: uniform segment of length L has variance L^2/12, plus the
    variance 1/6 of the bilinear tent."""
    x = np.arange(len(row), dtype=np.float64)
    m = (row * x).sum() / row.sum()
    v = (row * (x - m) ** 2).sum() / row.sum()
    return m, float(np.sqrt(12 * max(v - 1 / 6, 0)))


def test_zero_rotation_gives_sharp_crop():
    torch.manual_seed(0)
    img = torch.rand(2, 3, 40, 50)
    homs = np.tile(np.eye(3), (2, 9, 1, 1))
    r = render_blur(img, homs, crop=(5, 4, 30, 24))
    assert r["blurred"].shape == (2, 3, 24, 30)
    torch.testing.assert_close(r["sharp"], img[:, :, 4:28, 5:35])
    torch.testing.assert_close(r["blurred"], r["sharp"], atol=1e-5, rtol=0)
    assert bool((r["valid"] == 1).all())


def test_zero_rotation_from_gyro_window():
    from gyrobench.gyro.trajectory import pose_homographies

    K = np.array([[100.0, 0, 40], [0, 100.0, 30], [0, 0, 1]])
    t = np.arange(11, dtype=np.int64) * 4_757_000
    H, _ = pose_homographies(t, np.zeros((11, 3)), K, substeps=8)
    img = torch.rand(1, 3, 60, 80)
    r = render_blur(img, H[None], crop=(10, 10, 60, 40))
    torch.testing.assert_close(r["blurred"], r["sharp"], atol=1e-5, rtol=0)


@pytest.mark.parametrize("length", [6.0, 17.0, 30.0])
def test_translation_extent_and_alignment(length):
    P = int(np.ceil(length)) * 2 + 1  # 0.5 px steps
    tx = np.linspace(-length / 2, length / 2, P)
    r = render_blur(_point_frame(), _translations(tx)[None], crop=(0, 20, 80, 20))
    row = r["blurred"][0, 0].sum(0).numpy()
    m, L = _extent_from_profile(row)
    # discrete uniform of P points over `length`: L_d = length * sqrt((P+1)/(P-1))
    assert L == pytest.approx(length * np.sqrt((P + 1) / (P - 1)), abs=1.0)
    assert abs(L - length) <= 1.0
    assert m == pytest.approx(40.0, abs=1e-3)  # symmetric motion: blur centred on the anchor position
    assert float(r["blurred"].sum()) == pytest.approx(3.0, rel=1e-5)  # energy conserved (3 channels)


def _yaw_homs(K, angles):
    out = []
    Kinv = np.linalg.inv(K)
    for a in angles:
        c, s = np.cos(a), np.sin(a)
        Ry = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
        out.append(K @ Ry @ Kinv)
    return np.stack(out)


def test_yaw_blur_extent_matches_closed_form():
    fx = 120.0
    K = np.array([[fx, 0, 40.0], [0, fx, 30.0], [0, 0, 1]])
    rate, T = 1.5, 0.1  # rad/s, s -> 0.15 rad total, anchor mid
    P = 81
    ang = np.linspace(-rate * T / 2, rate * T / 2, P)
    r = render_blur(_point_frame(), _yaw_homs(K, ang)[None], crop=(0, 10, 80, 40))
    prof = r["blurred"][0, 0].sum(0).numpy()
    _, L = _extent_from_profile(prof)
    expected = 2 * fx * np.tan(rate * T / 2)  # centre point: x = cx + fx tan(a)
    assert L == pytest.approx(expected, abs=1.0)
    assert pose_path_length_px(_yaw_homs(K, ang), (40.0, 30.0)) == pytest.approx(expected, rel=1e-3)
    # sharp output aligns with the anchor (identity pose): the point stays where it is in the input
    sharp = r["sharp"][0, 0].numpy()
    assert np.unravel_index(sharp.argmax(), sharp.shape) == (20, 40)


def test_yaw_from_pose_homographies_extent():
    """Full chain with the gyro core: constant yaw rate over 10 raw intervals, extent +-1 px."""
    from gyrobench.gyro.trajectory import pose_homographies

    fx = 150.0
    K = np.array([[fx, 0, 40.0], [0, fx, 30.0], [0, 0, 1]])
    dt = 5_000_000
    t = np.arange(11, dtype=np.int64) * dt
    wy = 2.0
    w = np.tile([0.0, wy, 0.0], (11, 1))
    H, _ = pose_homographies(t, w, K, substeps=8)
    theta = wy * 10 * dt * 1e-9
    r = render_blur(_point_frame(), H[None], crop=(0, 10, 80, 40))
    _, L = _extent_from_profile(r["blurred"][0, 0].sum(0).numpy())
    assert L == pytest.approx(2 * fx * np.tan(theta / 2), abs=1.0)


def test_weights_pick_single_pose():
    tx = np.array([-3.0, 0.0, 5.0])
    img = _point_frame()
    r = render_blur(img, _translations(tx)[None], weights=[0, 0, 1])
    # only the pose shifted by +5 px: I_k(y) = I(y - 5) -> the point moves to x = 45
    assert float(r["blurred"][0, 0, 30, 45]) == pytest.approx(1.0, abs=1e-5)


def test_out_of_frame_is_flagged_and_replicated():
    img = torch.rand(1, 3, 20, 30)
    r = render_blur(img, _translations(np.array([0.0, 4.0]))[None])
    valid = r["valid"][0, 0]
    assert bool((valid[:, :4] == 0).all()) and bool((valid[:, 4:] == 1).all())


def test_chunking_does_not_change_result():
    torch.manual_seed(1)
    img = torch.rand(1, 3, 30, 40)
    homs = _translations(np.linspace(-4, 4, 17))[None]
    a = render_blur(img, homs)["blurred"]
    b = render_blur(img, homs, max_chunk_bytes=1)["blurred"]  # one pose per chunk
    torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


def test_saturation_mask_averages_like_the_image():
    img = torch.full((1, 3, 20, 40), 0.3)
    img[0, 0, 10, 10:20] = 1.0  # red saturated segment
    homs = _translations(np.array([0.0, 2.0, 4.0, 6.0]))[None]
    r = render_blur(img, homs, sat_threshold=1.0)
    m = saturation_mask(img, homs)
    torch.testing.assert_close(r["sat_mask"], m, atol=1e-6, rtol=0)
    assert float(m[0, 1].max()) == 0.0  # green never saturated
    # fraction of the 4 poses where a pixel sees the saturated segment: 10..19 shifted by 0,2,4,6
    np.testing.assert_allclose(
        m[0, 0, 10, [10, 12, 14, 16, 19, 21, 23, 25]].numpy(),
        [0.25, 0.5, 0.75, 1.0, 1.0, 0.75, 0.5, 0.25],
        atol=1e-6,
    )
    any_ch = saturation_mask(img, homs, any_channel=True)
    torch.testing.assert_close(any_ch[0, 2], m[0, 0])


def test_max_step_px_and_crop_box():
    # one helper, width first: the function and the Intrinsics method agree (issue 12 item 5)
    assert center_crop_box((1920, 1080), (1280, 720)) == (320, 180, 1280, 720) == FOURKRD.center_crop(1280, 720)
    assert center_crop_box((64, 48), (48, 32)) == (8, 8, 48, 32)  # non-square: the order matters
    assert max_step_px(_translations(np.array([0.0, 0.5, 1.7])), (10, 10)) == pytest.approx(1.2)


def test_bad_shapes_raise():
    img = torch.rand(1, 3, 10, 10)
    with pytest.raises(ShapeError, match="crop"):
        render_blur(img, np.eye(3)[None, None], crop=(5, 5, 10, 10))
    with pytest.raises(ShapeError, match="homs"):
        render_blur(img, np.eye(3)[None, None].repeat(2, 0))
    with pytest.raises(ShapeError, match="does not fit in the 10x10 frame"):
        center_crop_box((10, 10), (20, 5))
    with pytest.raises(ShapeError, match="does not fit"):
        FOURKRD.center_crop(2000, 720)


def test_blur_homographies_adaptive_pose_count():
    """rsblur.md D2: >= 8 sub-steps per raw interval, <= 1 px between consecutive poses; with the default
    'cmf' scheme the count stays a multiple of 4 (10 intervals, M = 8) so the field poses are a subset."""
    from gyrobench.synth.blur import blur_homographies

    K = np.array([[2139.03493, 0, 960], [0, 2133.82853, 540], [0, 0, 1]])
    t = np.arange(11, dtype=np.int64) * 4_757_000
    slow = np.tile([0.0, 0.01, 0.0], (11, 1))
    H, tau, s = blur_homographies(t, slow, K, (1080, 1920))
    assert s == 8 and H.shape == (81, 3, 3) and tau.shape == (81,)
    fast = np.tile([1.5, -2.5, 1.0], (11, 1))  # rad/s: ~5 px per 1/8 interval at fx = 2139
    H, _, s = blur_homographies(t, fast, K, (1080, 1920))
    assert s > 8 and s % 4 == 0
    assert max_step_px(H, (1080, 1920)) <= 1.0
    H_prev, _, _ = blur_homographies(t, fast, K, (1080, 1920), min_substeps=s - 4, max_substeps=s - 4)
    assert max_step_px(H_prev, (1080, 1920)) > 1.0  # s is the smallest admissible count


def test_sat_mask_zero_without_saturated_pixels():
    img = torch.full((1, 3, 20, 30), 0.5)
    r = render_blur(img, _translations(np.array([0.0, 1.0]))[None], sat_threshold=1.0)
    assert r["sat_mask"].shape == (1, 3, 20, 30) and float(r["sat_mask"].abs().max()) == 0.0


def test_sparse_saturation_split_equals_fused():
    """The mask rendered over the reachable sub-region equals the mask warped together with the image."""
    fx = 80.0
    K = np.array([[fx, 0, 40.0], [0, fx, 30.0], [0, 0, 1]])
    homs = _yaw_homs(K, np.linspace(-0.05, 0.05, 9))
    homs = homs @ _translations(np.linspace(-2, 2, 9))  # add some translation
    img = torch.full((1, 3, 60, 80), 0.4)
    img[0, 0, 20:23, 50:54] = 1.0  # small highlight, red only
    img[0, :, 40, 12] = 1.0  # white single pixel near the crop's left edge
    a = render_blur(img, homs[None], crop=(8, 6, 64, 48), sat_threshold=1.0)
    b = render_blur(img, homs[None], crop=(8, 6, 64, 48), sat_threshold=1.0, sat_split=False)
    torch.testing.assert_close(a["sat_mask"], b["sat_mask"], atol=1e-6, rtol=0)
    torch.testing.assert_close(a["blurred"], b["blurred"], atol=1e-6, rtol=0)
    assert float(a["sat_mask"].sum()) > 0
    from gyrobench.synth.blur import _mask_region

    m0 = (img >= 1.0).float()
    assert _mask_region(m0, torch.from_numpy(homs)[None], (8, 6, 64, 48), (60, 80)) is not None  # split taken


@pytest.mark.gpu
def test_render_blur_cuda_matches_cpu():
    img = torch.rand(1, 3, 60, 80)
    homs = _translations(np.linspace(-3.3, 4.1, 13))[None]
    a = render_blur(img, homs, crop=(10, 10, 60, 40), sat_threshold=0.95)
    b = render_blur(img.cuda(), homs, crop=(10, 10, 60, 40), sat_threshold=0.95)
    for k in a:
        torch.testing.assert_close(b[k].cpu(), a[k], atol=1e-5, rtol=0)
