"""Gyro-input conversions (spec baselines.md §1.2, §3.7, §4.3, §7.2): closed forms and independent references."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import integrate, ndimage

from gyrobench.errors import ShapeError
from gyrobench.models import gyro_inputs as gi


def _const_cmf(vx, vy, m=8, h=5, w=6, b=1):
    cmf = torch.zeros(b, 2 * m, h, w, dtype=torch.float64)
    cmf[:, 0::2] = vx
    cmf[:, 1::2] = vy
    return cmf


def test_poses_match_definition():
    g = torch.Generator().manual_seed(0)
    cmf = torch.randn(2, 16, 3, 4, generator=g, dtype=torch.float64)
    poses = gi.cmf_poses(cmf)
    assert poses.shape == (2, 9, 2, 3, 4)
    v = cmf.numpy().reshape(2, 8, 2, 3, 4)
    for k in range(9):  # the spec's table, written out term by term
        if k == 4:
            ref = np.zeros((2, 2, 3, 4))
        elif k > 4:
            ref = sum(v[:, m] for m in range(4, k))
        else:
            ref = -sum(v[:, m] for m in range(k, 4))
        np.testing.assert_allclose(poses[:, k].numpy(), ref, atol=1e-12)
    # consecutive differences give back the segments
    np.testing.assert_allclose(np.diff(poses.numpy(), axis=1), v, atol=1e-12)


def test_upsample_even_grid_matches_map_coordinates():
    rng = np.random.default_rng(1)
    f = rng.normal(size=(2, 4, 5))
    H, W = 8, 9  # odd W: the last column sits beyond the grid and is edge-clamped
    out = gi.upsample_even_grid(torch.from_numpy(f), (H, W)).numpy()
    yy, xx = np.meshgrid(np.arange(H) / 2, np.arange(W) / 2, indexing="ij")
    for c in range(2):
        ref = ndimage.map_coordinates(f[c], [yy, xx], order=1, mode="nearest")
        np.testing.assert_allclose(out[c], ref, atol=1e-12)
    # even pixels are the samples themselves
    np.testing.assert_allclose(out[:, ::2, ::2], f[:, :4, :5], atol=0)


def test_upsample_rejects_small_field():
    with pytest.raises(ShapeError, match="too small"):
        gi.upsample_even_grid(torch.zeros(1, 2, 3, 3), (8, 6))


def test_deepgyro_blur_field_translation():
    # pure translation field: every segment (1.2, 0.7) px -> start->end = (9.6, 5.6) -> rounded (10, 6);
    # b_y > 0 so both components are negated -> (-10, -6); encoded (b + 128) / 255
    cmf = _const_cmf(1.2, 0.7)
    out = gi.deepgyro_blur_field(cmf, (10, 12))
    assert out.shape == (1, 2, 10, 12)
    np.testing.assert_allclose(out[0, 0].numpy(), (128 - 10) / 255, atol=1e-12)
    np.testing.assert_allclose(out[0, 1].numpy(), (128 - 6) / 255, atol=1e-12)
    raw = gi.deepgyro_blur_field(cmf, (10, 12), rounding=False, canonical=False, encode="pixels")
    np.testing.assert_allclose(raw[0, 0].numpy(), 9.6, atol=1e-12)
    np.testing.assert_allclose(raw[0, 1].numpy(), 5.6, atol=1e-12)
    # b_y < 0 keeps the sign; huge blur is clamped to the 8-bit range
    neg = gi.deepgyro_blur_field(_const_cmf(-30.0, -1.0), (4, 4), encode="pixels")
    np.testing.assert_allclose(neg[0, 0].numpy(), -128)
    np.testing.assert_allclose(neg[0, 1].numpy(), -8)


def test_eggnet_mgv_translation_and_curve():
    cmf = _const_cmf(0.5, -0.25)
    mgv = gi.eggnet_mgv(cmf, (10, 12))
    np.testing.assert_allclose(mgv[0, :, 0, 0].numpy(), [-2.0, 1.0, 2.0, -1.0])
    # a there-and-back shake: start->end blur vector is zero but the MGVs are not
    cmf = torch.zeros(1, 16, 2, 2, dtype=torch.float64)
    cmf[:, 0:8:2] = 1.0  # first half moves right
    cmf[:, 8::2] = -1.0  # second half moves back left
    mgv = gi.eggnet_mgv(cmf, (4, 4))
    np.testing.assert_allclose(mgv[0, :, 1, 1].numpy(), [-4.0, 0.0, -4.0, 0.0])
    bf = gi.deepgyro_blur_field(cmf, (4, 4), encode="pixels")
    assert float(bf.abs().max()) == 0.0


def test_select_cmf_mixes_with_alpha():
    clean, noisy = torch.zeros(2, 16, 2, 2), torch.ones(2, 16, 2, 2)
    assert gi.select_cmf({"cmf_clean": clean, "cmf_noisy": noisy}) is noisy  # alpha defaults to 1
    mixed = gi.select_cmf({"cmf_clean": clean, "cmf_noisy": noisy, "alpha": torch.tensor([0.25, 0.5])})
    np.testing.assert_allclose(mixed[:, 0, 0, 0].numpy(), [0.25, 0.5])
    assert gi.select_cmf({"cmf_clean": clean}) is clean
    with pytest.raises(ShapeError, match="cmf_noisy"):
        gi.select_cmf({"blurred": clean})
    with pytest.raises(ShapeError, match="odd"):
        gi.check_cmf(torch.zeros(1, 6, 2, 2))


def test_psf_horizontal_box_closed_form():
    # constant horizontal segments of 1.5 px: the trajectory is a uniform segment from -6 to +6 px;
    # bilinear splatting of a uniform density = the box convolved with the unit hat function
    v = 1.5
    poses = gi.cmf_poses(_const_cmf(v, 0.0, h=1, w=1))[0, :, :, 0, 0]
    psf = gi.trajectory_psf(poses, samples_per_segment=64).numpy()
    r = (psf.shape[0] - 1) // 2
    assert psf.shape[0] == 2 * 6 + 3
    assert psf.sum() == pytest.approx(1.0)
    assert np.abs(np.delete(psf, r, axis=0)).max() == 0.0  # only the centre row
    half = 4 * v
    for u in range(-r, r + 1):
        hat = lambda s, u=u: max(0.0, 1 - abs(u - s))  # noqa: E731
        ref = integrate.quad(hat, -half, half, points=[u - 1, u, u + 1])[0]
        assert psf[r, r + u] == pytest.approx(ref / (2 * half), abs=2e-4)


def test_psf_orientation_and_forward_model():
    # independent forward model: average of the sharp image shifted along a curved trajectory
    # (scipy.ndimage.shift: out(y) = in(y - d), i.e. L(y - d(t))), vs. convolution with the PSF
    poses = torch.tensor(
        [
            [-2.3, 1.1],
            [-1.5, 0.6],
            [-0.9, 0.1],
            [-0.4, 0.0],
            [0.0, 0.0],
            [0.6, -0.3],
            [1.4, -0.5],
            [2.5, -0.4],
            [3.1, 0.2],
        ],
        dtype=torch.float64,
    )
    psf = gi.trajectory_psf(poses, samples_per_segment=32).numpy()
    rng = np.random.default_rng(3)
    img = ndimage.gaussian_filter(rng.random((48, 48)), 1.5)
    conv = ndimage.convolve(img, psf, mode="constant")
    p = poses.numpy()
    n = 400
    acc = np.zeros_like(img)
    for m in range(8):
        for t in (np.arange(n) + 0.5) / n:
            d = p[m] + t * (p[m + 1] - p[m])
            acc += ndimage.shift(img, (d[1], d[0]), order=1, mode="constant")
    acc /= 8 * n
    np.testing.assert_allclose(conv[8:-8, 8:-8], acc[8:-8, 8:-8], atol=2e-4)
    # a point source smears toward +P_k: its end point (3.1, 0.2) lies right of the source
    delta = np.zeros((21, 21))
    delta[10, 10] = 1.0
    blurred = ndimage.convolve(delta, psf, mode="constant")
    ys, xs = np.nonzero(blurred > 0)
    assert xs.max() >= 10 + 3 and xs.min() <= 10 - 2
    cx = (blurred.sum(0) * np.arange(21)).sum()
    assert cx > 10  # the trajectory spends more time right of the anchor


def test_psf_batched_shapes():
    poses = torch.zeros(3, 2, 9, 2, dtype=torch.float64)
    poses[..., 0] = torch.linspace(-1, 1, 9)
    psf = gi.trajectory_psf(poses, radius=4)
    assert psf.shape == (3, 2, 9, 9)
    np.testing.assert_allclose(psf.sum(dim=(-1, -2)).numpy(), 1.0)
    with pytest.raises(ShapeError):
        gi.trajectory_psf(torch.zeros(9, 3))


@settings(max_examples=40, deadline=None)
@given(
    arrays(np.float64, (9, 2), elements=st.floats(-6, 6, allow_nan=False)),
    st.integers(1, 16),
)
def test_psf_mass_and_centroid_property(poses, n):
    # bilinear splatting preserves mass and the first moment, and sampling each linear segment at the midpoints
    # of n equal sub-intervals has the segment's mean exactly, so the PSF centroid equals the time average of the
    # piecewise-linear path: sum_m (P_m + P_{m+1}) / (2M)
    psf = gi.trajectory_psf(torch.from_numpy(poses), samples_per_segment=n).numpy()
    r = (psf.shape[0] - 1) // 2
    u = np.arange(-r, r + 1)
    assert psf.sum() == pytest.approx(1.0, abs=1e-12)
    assert psf.min() >= 0
    centroid = np.array([(psf.sum(0) * u).sum(), (psf.sum(1) * u).sum()])
    np.testing.assert_allclose(centroid, (poses[:-1] + poses[1:]).mean(0) / 2, atol=1e-9)


def test_docstring_examples():
    import doctest

    result = doctest.testmod(gi, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 2 and result.failed == 0
