"""Camera motion field vs an independent per-point re-derivation of the official generator (spec §3.1).

The reference below follows the official script's *procedure* step by step for a handful of points, in plain
Python floats: Fraction time base, explicit Rx/Ry/Rz products, the "pro" half by left accumulation, the "pre"
half by right accumulation and homography inversion, offsets from the centre, differencing and negation. The code
under test uses the closed form ``p_{m+1} - p_m`` with ``H_k = K O_k O_c^T K^-1`` on a separable grid.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gyrobench.gyro import FOURKRD, FOURKRD_CROP, Intrinsics, camera_motion_field, camera_motion_fields
from gyrobench.gyro.cmf import cmf_homographies
from gyrobench.gyro.recording import load_gyro
from gyrobench.gyro.trajectory import pose_homographies

TOL = 1e-9  # px, issue 3 done-when


# ---- independent reference ---------------------------------------------------------------------------------------
def _rx(t):
    c, s = math.cos(t), math.sin(t)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]], dtype=np.float64)


def _ry(t):
    c, s = math.cos(t), math.sin(t)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]], dtype=np.float64)


def _rz_official(a):
    # the official file writes z as a matrix with +sin at the top right, i.e. Rz(-a)
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, s, 0], [-s, c, 0], [0, 0, 1]], dtype=np.float64)


def reference_segments(t_ns, w, K, points, M=8, anchor="mid"):
    """Per-point official procedure -> {(x, y): (M, 2) segments}. Plain loops, float64."""
    t = [int(x) for x in t_ns]
    n = len(t) - 1
    Rs = []
    for m in range(M):
        u = Fraction(m * n, M)
        i = math.floor(u)
        f = float(u - i)
        dt = (t[i + 1] - t[i]) * 1e-9 * (n / M)
        a = [(w[i][k] + f * (w[i + 1][k] - w[i][k])) * dt for k in range(3)]
        Rs.append(_rx(-a[0]) @ _ry(-a[1]) @ _rz_official(a[2]))
    c = M // 2 if anchor == "mid" else 0
    Kinv = np.linalg.inv(K)
    H = {c: np.eye(3)}
    acc = np.eye(3)
    for k in range(c + 1, M + 1):  # pro half: left-accumulate R_c .. R_{k-1}
        acc = Rs[k - 1] @ acc
        H[k] = K @ acc @ Kinv
    acc = np.eye(3)
    for k in range(c - 1, -1, -1):  # pre half: right-accumulate R_{c-1} ... R_k, then invert the homography
        acc = acc @ Rs[k]
        H[k] = np.linalg.inv(K @ acc @ Kinv)
    out = {}
    for x, y in points:
        X = np.array([x, y, 1.0])
        d = {}
        for k in range(M + 1):
            q = H[k] @ X
            d[k] = np.array([q[0] / q[2] - x, q[1] / q[2] - y])
        pre = [d[k] for k in range(c)]  # offsets d0..d_{c-1}
        pro = [d[k] for k in range(c + 1, M + 1)]
        segs = []
        # pre half: differences d_k - d_{k+1} (d_c = 0), then negated -> d_{k+1} - d_k
        for k in range(c):
            nxt = d[k + 1] if k + 1 < c else np.zeros(2)
            segs.append(-(pre[k] - nxt))
        for j, dk in enumerate(pro):  # pro half: d_{c+1} kept, then forward differences
            prev = pro[j - 1] if j > 0 else np.zeros(2)
            segs.append(dk - prev)
        out[(x, y)] = np.array(segs)
    return out


def _check(field_hwc, t, w, K, crop, stride, M=8, anchor="mid", tol=TOL, n_points=12, seed=0):
    x0, y0, cw, ch = crop
    h, wd = field_hwc.shape[:2]
    rng = np.random.default_rng(seed)
    ij = [(0, 0), (h - 1, wd - 1), (0, wd - 1), (h - 1, 0), (h // 2, wd // 2)]
    ij += [tuple(map(int, p)) for p in zip(rng.integers(0, h, n_points), rng.integers(0, wd, n_points))]
    pts = [(x0 + stride * j, y0 + stride * i) for i, j in ij]
    ref = reference_segments(t, w, K.K if isinstance(K, Intrinsics) else K, pts, M=M, anchor=anchor)
    worst = 0.0
    for (i, j), p in zip(ij, pts):
        got = field_hwc[i, j].reshape(M, 2)
        worst = max(worst, float(np.abs(got - ref[p]).max()))
    assert worst <= tol, f"max deviation {worst:.3g} px > {tol:g}"
    return worst


def synthetic_window(seed, scale=1.0, gap_at=None, S=11):
    rng = np.random.default_rng(seed)
    dt = 4_757_600 + rng.integers(-100_000, 100_000, S - 1)
    if gap_at is not None:
        dt[gap_at] = 25_610_000
    t = 250_000_000_000_000 + np.concatenate([[0], np.cumsum(dt)]).astype(np.int64)
    tt = np.arange(S) * 0.00476
    w = np.stack([scale * rng.uniform(0.3, 2.5) * np.sin(2 * np.pi * rng.uniform(2, 9) * tt + rng.uniform(0, 6))
                  for _ in range(3)], axis=-1) + rng.normal(0, 0.05 * scale, (S, 3))
    return t, w


SYNTH = [(0, 1.0, None), (1, 2.0, None), (2, 4.0, None), (3, 1.0, 6), (4, 0.2, None)]


@pytest.mark.parametrize("seed,scale,gap", SYNTH)
def test_field_matches_reference_on_synthetic_windows(seed, scale, gap):
    t, w = synthetic_window(seed, scale, gap)
    f = camera_motion_field(t, w, FOURKRD, crop=FOURKRD_CROP, dtype=np.float64)
    assert f.shape == (360, 640, 16) and f.dtype == np.float64
    _check(f, t, w, FOURKRD, FOURKRD_CROP, 2, seed=seed)
    assert np.abs(f).max() > 0.5  # a real motion, not a degenerate pass


@pytest.fixture(scope="module")
def train_rec(gyro_train_path):
    return load_gyro(gyro_train_path)


@pytest.mark.shared
@pytest.mark.parametrize("start", [0, 1000, 20_000, 38_765, 38_770, 38_774, 39_105])
def test_field_matches_reference_on_gyro_train(train_rec, start):
    rec = train_rec
    win = rec.window(start, 11)
    f = camera_motion_field(win.t_ns, win.w, FOURKRD, crop=FOURKRD_CROP, dtype=np.float64)
    _check(f, win.t_ns, win.w, FOURKRD, FOURKRD_CROP, 2, seed=start)
    if 38_765 <= start <= 38_774:  # across the 25.6 ms gap at interval index 38,774 (spec §2)
        assert np.diff(win.t_ns).max() > 20_000_000


def test_default_float32_hwc_is_official_layout():
    t, w = synthetic_window(7)
    f32 = camera_motion_field(t, w, FOURKRD, crop=FOURKRD_CROP)
    f64 = camera_motion_field(t, w, FOURKRD, crop=FOURKRD_CROP, dtype=np.float64)
    assert f32.shape == (360, 640, 16) and f32.dtype == np.float32 and f32.flags.c_contiguous
    assert np.abs(f32 - f64).max() < 2e-3
    chw = camera_motion_field(t, w, FOURKRD, crop=FOURKRD_CROP, layout="chw")
    assert chw.shape == (16, 360, 640)
    np.testing.assert_array_equal(chw, np.ascontiguousarray(f32.transpose(2, 0, 1)))


@pytest.mark.parametrize("backend", ["torch", "numpy"])
def test_backends_agree(backend):
    t, w = synthetic_window(8, 2.0)
    ref = camera_motion_field(t, w, FOURKRD, crop=FOURKRD_CROP, dtype=np.float64, backend="numpy")
    f = camera_motion_field(t, w, FOURKRD, crop=FOURKRD_CROP, dtype=np.float64, backend=backend)
    assert np.abs(f - ref).max() < 1e-10


@pytest.mark.parametrize("M", [2, 4, 5, 10, 16])
def test_segment_count_variants(M):
    t, w = synthetic_window(11, 1.5)
    crop = (100, 60, 200, 120)
    f = camera_motion_field(t, w, FOURKRD, crop=crop, M=M, dtype=np.float64)
    assert f.shape == (60, 100, 2 * M)
    _check(f, t, w, FOURKRD, crop, 2, M=M)


@pytest.mark.parametrize("stride", [1, 3, 4])
def test_stride_variants(stride):
    t, w = synthetic_window(12, 1.5)
    crop = (401, 33, 121, 50)  # odd offsets/sizes: grid at x0 + stride*j, ceil(size/stride) points
    f = camera_motion_field(t, w, FOURKRD, crop=crop, stride=stride, dtype=np.float64)
    assert f.shape == (-(-50 // stride), -(-121 // stride), 16)
    _check(f, t, w, FOURKRD, crop, stride)


def test_stride_is_subsampling_of_stride_one():
    t, w = synthetic_window(13, 1.0)
    crop = (300, 200, 64, 48)
    f1 = camera_motion_field(t, w, FOURKRD, crop=crop, stride=1, dtype=np.float64)
    f2 = camera_motion_field(t, w, FOURKRD, crop=crop, stride=2, dtype=np.float64)
    np.testing.assert_allclose(f2, f1[::2, ::2], atol=1e-10)


def test_anchor_start_variant():
    t, w = synthetic_window(14, 2.0)
    crop = (320, 180, 128, 72)
    f = camera_motion_field(t, w, FOURKRD, crop=crop, anchor="start", dtype=np.float64)
    _check(f, t, w, FOURKRD, crop, 2, anchor="start")
    # at the anchor pose the point sits on the grid: for "start" the first segment begins at x, so the mid
    # anchored field differs (same trajectory family, different reference point)
    g = camera_motion_field(t, w, FOURKRD, crop=crop, anchor="mid", dtype=np.float64)
    assert np.abs(f - g).max() > 1e-3


@pytest.mark.parametrize("interp", ["linear", "cubic"])
def test_batched_equals_single(interp):
    ts, ws = zip(*[synthetic_window(s, 1.0 + s) for s in range(3)])
    crop = (320, 180, 96, 64)
    fb = camera_motion_fields(np.stack(ts), np.stack(ws), FOURKRD, crop=crop, layout="chw", interp=interp)
    assert fb.shape == (3, 16, 32, 48)
    for b in range(3):
        single = camera_motion_field(ts[b], ws[b], FOURKRD, crop=crop, layout="chw", interp=interp)
        np.testing.assert_array_equal(fb[b], single)


@settings(max_examples=25, deadline=None)
@given(
    dt=st.lists(st.integers(1_000_000, 30_000_000), min_size=10, max_size=10),
    M=st.integers(1, 12),
    anchor=st.sampled_from(["mid", "start"]),
    rotation=st.sampled_from(["euler", "expmap"]),
    interp=st.sampled_from(["linear", "cubic"]),
)
def test_zero_rotation_gives_zero_field(dt, M, anchor, rotation, interp):
    t = np.concatenate([[0], np.cumsum(dt)]).astype(np.int64)
    f = camera_motion_field(t, np.zeros((11, 3)), FOURKRD, crop=(0, 0, 40, 30), M=M, anchor=anchor,
                            rotation=rotation, interp=interp)
    assert np.array_equal(f, np.zeros_like(f))


def test_constant_rate_about_optical_axis_is_rotation_about_principal_point():
    # closed form: rotation about z by angle phi per segment moves a point at radius r by 2 r sin(phi/2)
    t = np.arange(11, dtype=np.int64) * 5_000_000
    wz = 1.0
    w = np.zeros((11, 3))
    w[:, 2] = wz
    K = Intrinsics(1000.0, 1000.0, 50.0, 40.0, 101, 81)
    f = camera_motion_field(t, w, K, M=8, stride=1, dtype=np.float64)
    phi = wz * 10 * 0.005 / 8
    y, x = np.mgrid[0:81, 0:101]
    r = np.hypot(x - 50.0, y - 40.0)
    seg = np.hypot(f[..., 0::2], f[..., 1::2])
    np.testing.assert_allclose(seg, np.repeat((2 * r * np.sin(phi / 2))[..., None], 8, -1), atol=1e-9)


def test_cubic_interp_matches_independent_spline():
    from scipy.interpolate import make_interp_spline

    t, w = synthetic_window(21, 2.0)
    crop = (320, 180, 64, 64)
    f = camera_motion_field(t, w, FOURKRD, crop=crop, interp="cubic", dtype=np.float64)
    # reference: scipy's not-a-knot cubic B-spline (a second spline implementation) over the sample index,
    # evaluated at u_m = 1.25 m, then the closed form integrated in plain loops
    spl = make_interp_spline(np.arange(11.0), w, k=3)
    u = np.arange(8) * 10 / 8
    rates = spl(u)
    i = np.floor(u).astype(int)
    step_s = np.diff(t)[i] * 1e-9 * 10 / 8
    pts = [(320, 180), (382, 242), (350, 200)]
    ref = reference_segments_from_rates(rates, step_s, FOURKRD.K, pts)
    for (x, y), segs in ref.items():
        np.testing.assert_allclose(f[(y - 180) // 2, (x - 320) // 2].reshape(8, 2), segs, atol=1e-9)


def reference_segments_from_rates(rates, dts, K, points):
    """Closed form from per-step rates (M,3) and step lengths (M,) s, mid anchor."""
    M = len(dts)
    O = [np.eye(3)]
    for m in range(M):
        a = rates[m] * dts[m]
        O.append(_rx(-a[0]) @ _ry(-a[1]) @ _rz_official(a[2]) @ O[-1])
    c = M // 2
    Kinv = np.linalg.inv(K)
    out = {}
    for x, y in points:
        X = np.array([x, y, 1.0])
        p = []
        for k in range(M + 1):
            q = K @ O[k] @ O[c].T @ Kinv @ X
            p.append(q[:2] / q[2])
        out[(x, y)] = np.diff(np.array(p), axis=0)
    return out


def test_pose_homographies_cmf_scheme_contains_field_poses_exactly():
    t, w = synthetic_window(31, 1.0, gap_at=3)
    Hc, c = cmf_homographies(t, w, FOURKRD)
    H8, tau8 = pose_homographies(t, w, FOURKRD, substeps=8)
    assert H8.shape == (81, 3, 3) and np.array_equal(H8[40], np.eye(3))
    np.testing.assert_array_equal(H8[::10], Hc)
    d = np.diff(t) * 1e-9
    tau_cmf = np.concatenate([[0], np.cumsum(d[(np.arange(8) * 10) // 8] * 1.25)])
    np.testing.assert_allclose(tau8[::10], tau_cmf, rtol=0, atol=1e-15)
    assert np.all(np.diff(tau8) > 0)
    # batched
    Hb, _ = pose_homographies(np.stack([t, t]), np.stack([w, 2 * w]), FOURKRD, substeps=4)
    assert Hb.shape == (2, 41, 3, 3)
    np.testing.assert_allclose(Hb[0], pose_homographies(t, w, FOURKRD, substeps=4)[0], atol=1e-13)
    with pytest.raises(ValueError, match="divisible"):
        pose_homographies(t, w, FOURKRD, substeps=3)


def test_pose_homographies_fine_scheme():
    t, w = synthetic_window(32, 1.0)
    # one step per raw interval equals a 10-segment field's poses
    H1, _ = pose_homographies(t, w, FOURKRD, substeps=1, scheme="fine")
    H10, _ = cmf_homographies(t, w, FOURKRD, M=10)
    np.testing.assert_allclose(H1, H10, atol=1e-12)
    # the anchor pose is the identity and pose times of uniform windows are j * dt / substeps
    tu = np.arange(11, dtype=np.int64) * 4_757_600
    H8, tau = pose_homographies(tu, w, FOURKRD, substeps=8, scheme="fine")
    assert np.array_equal(H8[40], np.eye(3))
    np.testing.assert_allclose(tau, np.arange(81) * 4_757_600e-9 / 8, rtol=0, atol=1e-15)
    # refinement converges (first-order rule: halving the step roughly halves the change)
    X = np.array([0.0, 0.0, 1.0])

    def corner(sub):
        q = pose_homographies(t, w, FOURKRD, substeps=sub, scheme="fine")[0][:: sub * 10 // 2] @ X
        return q[:, :2] / q[:, 2:]

    e1 = np.abs(corner(8) - corner(64)).max()
    e2 = np.abs(corner(16) - corner(64)).max()
    assert e2 < 0.7 * e1


def test_substeps_for_max_step_bounds_pose_motion_and_fits_scheme():
    from gyrobench.gyro.trajectory import substeps_for_max_step

    t, w = synthetic_window(33, 3.0)
    for scheme, mult in (("cmf", 4), ("fine", 1)):
        s = substeps_for_max_step(t, w, FOURKRD, (1080, 1920), max_step_px=1.0, min_substeps=1, scheme=scheme)
        assert s % mult == 0
        H, _ = pose_homographies(t, w, FOURKRD, substeps=s, scheme=scheme)
        corners = np.array([[0, 0, 1], [1919, 0, 1], [0, 1079, 1], [1919, 1079, 1.0]]).T
        q = H @ corners
        steps = np.linalg.norm(np.diff(q[:, :2] / q[:, 2:], axis=0), axis=1)
        assert steps.max() <= 1.0
        if s - mult >= 1:  # the next smaller admissible count would violate the bound somewhere
            H2, _ = pose_homographies(t, w, FOURKRD, substeps=s - mult, scheme=scheme)
            pts = np.array([[x, y, 1.0] for y in (0, 539.5, 1079) for x in (0, 959.5, 1919)]).T
            q2 = H2 @ pts
            assert np.linalg.norm(np.diff(q2[:, :2] / q2[:, 2:], axis=0), axis=1).max() > 1.0


def test_cropped_intrinsics_give_the_same_field():
    # crop semantics: a crop of the full frame == the full frame of the cropped intrinsics (principal point moved)
    t, w = synthetic_window(41, 2.0)
    a = camera_motion_field(t, w, FOURKRD, crop=(320, 180, 128, 96), dtype=np.float64)
    b = camera_motion_field(t, w, FOURKRD.crop(320, 180, 128, 96), dtype=np.float64)
    np.testing.assert_allclose(a, b, atol=1e-10)
    with pytest.raises(Exception, match="crop"):
        camera_motion_field(t, w, FOURKRD.K)  # a bare matrix needs an explicit crop


def test_field_spec_default_is_the_official_field_and_matches_camera_motion_field():
    """FieldSpec() is spec §3.1's field (M 8, stride 2, linear, mid, Euler); its kwargs reproduce the function's
    own defaults, so a shard's spec written from FieldSpec() describes fields computed with no options."""
    import inspect

    from gyrobench.gyro.cmf import FieldSpec, camera_motion_field

    defaults = {k: p.default for k, p in inspect.signature(camera_motion_field).parameters.items()
                if p.default is not inspect.Parameter.empty}
    assert all(defaults[k] == v for k, v in FieldSpec().kwargs().items())
    assert (FieldSpec().M, FieldSpec().stride, FieldSpec().interpolation) == (8, 2, "linear")
    assert (FieldSpec().anchor, FieldSpec().rotation) == ("mid", "euler")
    t = np.arange(11, dtype=np.int64) * 4_757_600
    w = np.random.default_rng(0).normal(0, 0.3, (11, 3))
    K = np.array([[60.0, 0, 32], [0, 60.0, 24], [0, 0, 1]])
    a = camera_motion_field(t, w, K, crop=(0, 0, 64, 48), **FieldSpec(M=4, interpolation="cubic").kwargs())
    b = camera_motion_field(t, w, K, crop=(0, 0, 64, 48), M=4, interp="cubic")
    assert np.array_equal(a, b)


def test_field_spec_is_frozen_hashable_and_validated():
    import dataclasses

    from gyrobench.config import from_dict
    from gyrobench.errors import RecipeError
    from gyrobench.gyro.cmf import FieldSpec

    spec = FieldSpec(M=4)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.M = 8
    assert len({FieldSpec(), FieldSpec(M=8), spec}) == 2
    with pytest.raises(RecipeError, match="interpolation"):
        from_dict(FieldSpec, {"interpolation": "nearest"}, source="c.yaml")
    with pytest.raises(RecipeError, match="M=0"):
        from_dict(FieldSpec, {"M": 0}, source="c.yaml")


def test_train_config_types_the_field_spec():
    from gyrobench.config import from_dict
    from gyrobench.demo import demo_config
    from gyrobench.errors import RecipeError
    from gyrobench.gyro.cmf import FieldSpec
    from gyrobench.train.config import TrainConfig

    cfg = demo_config("nafnet", "data")
    assert from_dict(TrainConfig, cfg).data.motion_field is None  # the dataset's own fields
    cfg["data"]["motion_field"] = {"M": 4, "interpolation": "cubic"}
    assert from_dict(TrainConfig, cfg, source="t.yaml").data.motion_field == FieldSpec(M=4, interpolation="cubic")
    cfg["data"]["motion_field"] = {"interp": "cubic"}
    with pytest.raises(RecipeError, match=r"t.yaml: unknown key 'data.motion_field.interp' \(did you mean 'interpolation'\?\)"):
        from_dict(TrainConfig, cfg, source="t.yaml")
