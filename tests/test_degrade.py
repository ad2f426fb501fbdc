"""Degradation module (rsblur.md §4, §5, §9, D15; gyrodeblurnet.md §6.1).

Independent references: closed forms (noise variance K*x + s^2, flat-colour identity, white -> white), a
loop-based Malvar demosaic written here, and the §9 reference figures of the spec (numpy simulation).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from gyrobench.color import linear_to_srgb, srgb_to_linear
from gyrobench.errors import RecipeError, ShapeError
from gyrobench.synth.degrade import (
    Degradation,
    DegradationDraw,
    demosaic_malvar,
    mosaic,
    mosaic_planes,
)
from gyrobench.synth.presets import BAYER_PATTERNS, PRESETS, PresetParams, camera_matrices, load_asset


def _draw(n=1, pattern=0, r=2.15, b=1.7, K=8.8915e-5, s=2.943e-5, alpha=0.0, seed=5, session=-1):
    return DegradationDraw(
        alpha=[alpha] * n,
        pattern=[pattern] * n,
        red_gain=[r] * n,
        blue_gain=[b] * n,
        shot=[K] * n,
        read_std=[s] * n,
        session=[session] * n,
        noise_seed=list(range(seed, seed + n)),
    )


def _flat(level, size=264):
    if np.isscalar(level):
        level = (level, level, level)
    return torch.tensor(level, dtype=torch.float32).view(1, 3, 1, 1).expand(1, 3, size, size).contiguous()


def _flat_srgb(level, size=264):
    """A flat patch whose sRGB encoding is ``level`` (rsblur.md §9 levels are sRGB values), as linear input."""
    return srgb_to_linear(_flat(level, size))


# ---------------------------------------------------------------------------------------- presets are data
def test_presets_are_data_and_build():
    assert set(PRESETS) == {
        "gyrodeblurnet_official",
        "gyrodeblurnet",
        "rsblur_pt",
        "rsblur_tf_realblur",
        "rsblur_tf_rsblur",
    }
    for name, p in PRESETS.items():
        assert isinstance(p, PresetParams) and p.name == name
        json.dumps(p.to_dict())  # plain data
        deg = Degradation(name)
        y, d = deg(torch.rand(4, 3, 20, 22), torch.zeros(4, 3, 20, 22), generator=3)
        assert y.shape == (4, 3, 20, 22) and y.dtype == torch.float32
        assert float(y.min()) >= 0 and float(y.max()) <= 1
        assert len(d) == 4 and d.preset == name


def test_preset_switches_follow_spec():
    off, fixed = PRESETS["gyrodeblurnet_official"], PRESETS["gyrodeblurnet"]
    assert off.wb == "columns_quirk" and fixed.wb == "per_channel"
    for p in (off, fixed):
        assert (p.mosaic, p.restore_saturated, p.per, p.domain, p.sat_alpha) == (
            False,
            False,
            "batch",
            "linear",
            (3.0, 5.0),
        )
        assert "stand-in" in p.camera_label
    pt = PRESETS["rsblur_pt"]
    assert (pt.mosaic, pt.restore_saturated, pt.crf, pt.beta1, pt.beta2_std) == (
        True,
        True,
        "a7r3",
        8.8915e-5,
        2.943e-5,
    )
    assert (PRESETS["rsblur_tf_rsblur"].beta1, PRESETS["rsblur_tf_rsblur"].beta2_std) == (1e-4, 9.1504e-4)


def test_unknown_preset_and_option_errors():
    with pytest.raises(RecipeError, match="unknown degradation preset 'rsblurr'"):
        Degradation("rsblurr")
    with pytest.raises(RecipeError, match="noize"):
        Degradation("rsblur_pt", noize="none")
    with pytest.raises(RecipeError, match="'wb'"):
        Degradation("rsblur_pt", wb="sometimes")
    with pytest.raises(RecipeError, match="session"):
        Degradation("rsblur_tf_rsblur", session="0042")


# --------------------------------------------------------------------------------------------- matrices
@pytest.mark.parametrize("camera", ["a7r3", "rsblur_session"])
def test_matrix_round_trip_float32(camera):
    l2c, c2l, _ = camera_matrices(camera)
    a = torch.tensor(l2c, dtype=torch.float32)
    b = torch.tensor(c2l, dtype=torch.float32)
    eye = torch.eye(3).expand_as(a)
    torch.testing.assert_close(a @ b, eye, atol=1e-6, rtol=0)


def test_a7r3_composite_is_white_balanced():
    # rsblur.md B3: positive entries, column sums exactly 1 -> linear white maps to camera white
    l2c = camera_matrices("a7r3")[0][0]
    assert (l2c > 0).all()
    np.testing.assert_allclose(np.ones(3) @ l2c, np.ones(3), atol=1e-12)
    ref = load_asset("color_matrices.json")["derived_not_in_repo"]["a7r3_lin_to_cam_rowvector"]["matrix"]
    np.testing.assert_allclose(l2c, ref, atol=1e-12)


def test_rsblur_session_composites_match_reference():
    l2c, c2l, keys = camera_matrices("rsblur_session")
    sessions = load_asset("rsblur_ccm_collections.json")["sessions"]
    for i, k in enumerate(keys):
        der = sessions[k]["derived_not_in_repo"]
        np.testing.assert_allclose(l2c[i], der["lin_to_cam_rowvector"], atol=1e-10)
        np.testing.assert_allclose(c2l[i], der["cam_to_lin_rowvector"], atol=1e-10)


@pytest.mark.shared
def test_shipped_assets_are_verbatim_copies(shared_dir, repo_root):
    src = shared_dir / "reference" / "rsblur"
    dst = repo_root / "gyrobench" / "assets" / "rsblur"
    for name in ("color_matrices.json", "pipeline_params.json", "rsblur_ccm_collections.json"):
        assert (src / name).read_bytes() == (dst / name).read_bytes(), name
    crf_src = json.loads((src / "a7r3_crf.json").read_text())["a7r3_polynomial_alpha"]
    crf_dst = json.loads((dst / "a7r3_crf.json").read_text())["a7r3_polynomial_alpha"]
    assert crf_src == crf_dst
    rows = json.loads((src / "realblur_iso_wb_train.json").read_text())["rows"]
    pairs = json.loads((dst / "realblur_wb_pairs.json").read_text())["pairs"]
    assert sum(p[2] for p in pairs) == len(rows)
    for r, b, n in pairs:
        assert sum(1 for row in rows if (row[2], row[3]) == (r, b)) == n


# ----------------------------------------------------------------------------------- mosaic / demosaic
def test_mosaic_plane_order_all_patterns():
    rgb = torch.tensor([1.0, 2.0, 3.0]).view(1, 3, 1, 1).expand(1, 3, 4, 6)
    code = {"R": 1.0, "G": 2.0, "B": 3.0}
    for i, name in enumerate(BAYER_PATTERNS):
        planes = mosaic_planes(rgb, torch.tensor([i]))
        assert planes.shape == (1, 4, 2, 3)
        for k in range(4):  # plane k = cell position (k // 2, k % 2) = letter k of the pattern name
            assert bool((planes[0, k] == code[name[k]]).all()), (name, k)
        # depth-to-space (B8) inverts the planes back to the CFA
        torch.testing.assert_close(
            torch.nn.functional.pixel_shuffle(planes, 2), mosaic(rgb, torch.tensor([i]))
        )


def _malvar_loop(cfa: np.ndarray, pattern: str) -> np.ndarray:
    """Reference Malvar-He-Cutler (ICASSP 2004, filters / 8), per-pixel loops, zero padding."""
    g = (
        np.array([[0, 0, -1, 0, 0], [0, 0, 2, 0, 0], [-1, 2, 4, 2, -1], [0, 0, 2, 0, 0], [0, 0, -1, 0, 0]])
        / 8
    )
    hh = (
        np.array(
            [[0, 0, 0.5, 0, 0], [0, -1, 0, -1, 0], [-1, 4, 5, 4, -1], [0, -1, 0, -1, 0], [0, 0, 0.5, 0, 0]]
        )
        / 8
    )
    vv = hh.T
    rb = (
        np.array(
            [[0, 0, -1.5, 0, 0], [0, 2, 0, 2, 0], [-1.5, 0, 6, 0, -1.5], [0, 2, 0, 2, 0], [0, 0, -1.5, 0, 0]]
        )
        / 8
    )
    H, W = cfa.shape
    pad = np.zeros((H + 4, W + 4))
    pad[2:-2, 2:-2] = cfa

    def f(k, y, x):
        return float((pad[y : y + 5, x : x + 5] * k).sum())

    out = np.zeros((H, W, 3))
    for y in range(H):
        for x in range(W):
            c = pattern[2 * (y % 2) + (x % 2)]
            row = pattern[2 * (y % 2) : 2 * (y % 2) + 2]
            r_row = "R" in row
            v = cfa[y, x]
            if c == "R":
                out[y, x] = [v, f(g, y, x), f(rb, y, x)]
            elif c == "B":
                out[y, x] = [f(rb, y, x), f(g, y, x), v]
            else:
                h_, v_ = f(hh, y, x), f(vv, y, x)
                out[y, x] = [h_ if r_row else v_, v, v_ if r_row else h_]
    return out


@pytest.mark.parametrize("pi", range(4))
def test_demosaic_matches_loop_reference(pi):
    rng = np.random.default_rng(pi)
    cfa = rng.random((10, 12))
    got = demosaic_malvar(torch.tensor(cfa)[None, None], torch.tensor([pi]))[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(got, _malvar_loop(cfa, BAYER_PATTERNS[pi]), atol=1e-12)


@pytest.mark.parametrize("pi", range(4))
def test_demosaic_flat_exact(pi):
    rgb = torch.tensor([0.2, 0.5, 0.8], dtype=torch.float64).view(1, 3, 1, 1).expand(1, 3, 16, 16)
    out = demosaic_malvar(mosaic(rgb, torch.tensor([pi])), torch.tensor([pi]))
    torch.testing.assert_close(out[..., 2:-2, 2:-2], rgb[..., 2:-2, 2:-2], atol=1e-15, rtol=0)


# ----------------------------------------------------------------------------------------- identities
@pytest.mark.parametrize(
    "preset", ["rsblur_pt", "rsblur_tf_realblur", "gyrodeblurnet", "gyrodeblurnet_official"]
)
@pytest.mark.parametrize("colour", [(0.2, 0.5, 0.8), (0.9, 0.1, 0.3), (0.5, 0.5, 0.5)])
def test_noise_free_flat_identity_float32(preset, colour):
    """rsblur.md §9: without noise, saturation and B12 the ISP round trip returns the input (float32: 1e-6)."""
    deg = Degradation(preset, noise="none", sat_alpha=None, crf="none")
    x = _flat(colour, 24)
    for pi in range(4):
        y, _ = deg(x, draw=_draw(pattern=pi if deg.params.mosaic else -1, K=0, s=0))
        torch.testing.assert_close(y, deg.target(x), atol=1e-6, rtol=0)  # sRGB-encoded x for rsblur presets


def test_output_transfer_and_target():
    x = torch.rand(1, 3, 16, 16)
    assert Degradation("gyrodeblurnet").output_transfer == "linear"
    assert torch.equal(Degradation("gyrodeblurnet").target(x), x)
    assert Degradation("rsblur_pt").output_transfer == "a7r3_crf"
    deg = Degradation("rsblur_pt", crf="none")
    assert deg.output_transfer == "srgb"
    torch.testing.assert_close(deg.target(x), linear_to_srgb(x))
    lin = Degradation("rsblur_pt", crf="none", domain="linear")
    assert lin.output_transfer == "linear" and torch.equal(lin.target(x), x)


def test_border_crop_mode_size_and_target():
    deg = Degradation("rsblur_pt", border="crop")
    x = torch.rand(2, 3, 40, 48)
    y, _ = deg(x, generator=0)
    assert y.shape == (2, 3, 32, 40)
    assert deg.target(x).shape == (2, 3, 32, 40)
    with pytest.raises(ShapeError, match="even"):
        deg(torch.rand(1, 3, 41, 48))


# --------------------------------------------------------------------------------------------------- noise
def test_raw_noise_variance_closed_form():
    """B6: Var = K*x + s^2, mean = x, on the raw samples."""
    K, s = 2e-4, 3e-3
    for level in (0.05, 0.3, 0.8):
        raw = torch.full((1, 1, 300, 300), level)
        out = Degradation._noise(raw, _draw(K=K, s=s))
        assert float(out.mean()) == pytest.approx(level, abs=5e-4)
        assert float(out.var()) == pytest.approx(K * level + s * s, rel=0.03)


# rsblur.md §9: output noise std per channel (sRGB, without B12), RGGB, r=2.15, b=1.7, nominal K and s
_STD_REF = {
    0.10: (0.0119, 0.0070, 0.0093),
    0.25: (0.0102, 0.0061, 0.0082),
    0.50: (0.0091, 0.0054, 0.0073),
    0.90: (0.0081, 0.0049, 0.0065),
}


@pytest.mark.parametrize("level", sorted(_STD_REF))
def test_section9_noise_std_and_unbiased(level):
    deg = Degradation("rsblur_pt", crf="none", sat_alpha=None)
    y, _ = deg(_flat_srgb(level), draw=_draw())
    y = y[..., 4:-4, 4:-4]
    np.testing.assert_allclose(y.std(dim=(0, 2, 3)).numpy(), _STD_REF[level], rtol=0.06)
    np.testing.assert_allclose(y.mean(dim=(0, 2, 3)).numpy(), level, atol=1e-3)


def test_section9_crf_means():
    deg = Degradation("rsblur_pt", sat_alpha=None)
    for level, mean, gstd in [
        (0.10, 0.073, 0.0085),
        (0.25, 0.334, 0.0124),
        (0.50, 0.759, 0.0063),
        (0.90, 0.982, 0.0004),
    ]:
        y, _ = deg(_flat_srgb(level, 136), draw=_draw())
        y = y[..., 4:-4, 4:-4]
        np.testing.assert_allclose(y.mean(dim=(0, 2, 3)).numpy(), mean, atol=1.5e-3)
        assert float(y[0, 1].std()) == pytest.approx(gstd, rel=0.1, abs=1e-4)


def test_section9_rsblur_noise_set_and_dark_bias():
    deg = Degradation("rsblur_pt", crf="none", sat_alpha=None)
    d = _draw(K=1e-4, s=9.1504e-4)
    y, _ = deg(_flat_srgb(0.10), draw=d)
    np.testing.assert_allclose(
        y[..., 4:-4, 4:-4].std(dim=(0, 2, 3)).numpy(), (0.0217, 0.0106, 0.0161), rtol=0.06
    )
    y, _ = deg(_flat_srgb(0.01), draw=d)
    np.testing.assert_allclose(
        y[..., 4:-4, 4:-4].mean(dim=(0, 2, 3)).numpy(), (0.018, 0.012, 0.015), atol=1e-3
    )
    y, _ = deg(_flat_srgb(0.01), draw=_draw())  # RealBlur set stays unbiased to 2e-4
    np.testing.assert_allclose(y[..., 4:-4, 4:-4].mean(dim=(0, 2, 3)).numpy(), 0.01, atol=3e-4)


# ------------------------------------------------------------------------------------------- saturation
def test_saturated_pixels_restored_noise_free():
    deg = Degradation("rsblur_pt", crf="none")
    x = _flat_srgb(0.6, 40)
    m = torch.zeros(1, 3, 40, 40)
    m[:, :, 10:20, 10:20] = 1.0
    # B2/B11: g^-1(0.6) = 0.318 + 0.8 * 1 >= 1 -> saturated -> exactly 1.0 despite strong noise
    y, _ = deg(x, m, draw=_draw(alpha=0.8, K=1e-3, s=1e-2))
    assert bool((y[:, :, 10:20, 10:20] == 1.0).all())
    assert float(y[:, :, 25:, 25:].std()) > 1e-3
    # 0.318 + 0.5 < 1: not saturated, so noisy
    y, _ = deg(x, m, draw=_draw(alpha=0.5, K=1e-3, s=1e-2))
    assert float(y[:, :, 10:20, 10:20].std()) > 1e-3
    # restore off: the saturated square gets noise and is clipped
    y, _ = Degradation("rsblur_pt", crf="none", restore_saturated=False)(
        x, m, draw=_draw(alpha=0.8, K=1e-3, s=1e-2)
    )
    assert float(y[:, :, 10:20, 10:20].min()) < 1.0


def test_saturation_add_formula_and_no_restore_in_gyrodeblurnet():
    # linear domain: L_s = clip(L + a*M, 0, 1); with a >= 3 any M >= 1/3 saturates
    x = _flat(0.5, 32)
    m = torch.zeros(1, 1, 32, 32)
    m[..., 8:24, 8:24] = 0.2
    deg = Degradation("gyrodeblurnet", noise="none")
    y, _ = deg(x, m, draw=_draw(pattern=-1, alpha=2.0, K=0, s=0))
    torch.testing.assert_close(y[..., 8:24, 8:24], torch.full((1, 3, 16, 16), 0.9), atol=1e-6, rtol=0)
    m[..., 8:24, 8:24] = 1.0
    y, _ = Degradation("gyrodeblurnet")(x, m, draw=_draw(pattern=-1, alpha=3.0, K=1e-3, s=1e-2))
    sat = y[..., 8:24, 8:24]
    assert float(sat.max()) == 1.0 and float(sat.min()) < 1.0  # noise then clip, no B11 restore


# ------------------------------------------------------------------------------------ WB: quirk vs fixed
def test_columns_quirk_scales_columns_not_channels():
    """gyrodeblurnet.md §6.1: as coded, the WB divides pixel columns 0 and 2 (all channels); with read noise
    only, the noise std of column 0 is g_r times (column 2: g_b times) that of other columns."""
    x = _flat(0.5, 1)
    x = x.expand(1, 3, 4000, 8).contiguous()
    d = _draw(pattern=-1, r=2.0, b=1.6, K=0.0, s=0.01)
    y, _ = Degradation("gyrodeblurnet_official")(x, draw=d)
    sd = y[0].std(dim=1).numpy()  # (3 channels, 8 columns)
    ref = sd[:, 3:].mean(axis=1)
    np.testing.assert_allclose(sd[:, 0] / ref, 2.0, rtol=0.06)
    np.testing.assert_allclose(sd[:, 2] / ref, 1.6, rtol=0.06)
    np.testing.assert_allclose(sd[:, 1] / ref, 1.0, rtol=0.06)
    # per-channel WB instead: every column alike, red camera channel noisier than green
    y2, _ = Degradation("gyrodeblurnet")(x, draw=d)
    sd2 = y2[0].std(dim=1).numpy()
    np.testing.assert_allclose(sd2[:, 0] / sd2[:, 3:].mean(axis=1), 1.0, rtol=0.06)


# ------------------------------------------------------------------------------------------ draws/replay
@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_replay_bit_identical(preset):
    deg = Degradation(preset)
    x, m = torch.rand(4, 3, 18, 20), (torch.rand(4, 3, 18, 20) > 0.8).float()
    y1, d = deg(x, m, generator=torch.Generator().manual_seed(7))
    y2, _ = deg(x, m, draw=d)
    assert torch.equal(y1, y2)
    d2 = DegradationDraw.from_json(json.loads(json.dumps(d.to_json())))
    assert torch.equal(deg(x, m, draw=d2)[0], y1)
    d3 = DegradationDraw.from_arrays(d.to_arrays(), preset=preset)
    assert torch.equal(deg(x, m, draw=d3)[0], y1)
    # a single sample replays alone with its own slice of the draw
    assert torch.equal(deg(x[2:3], m[2:3], draw=d.select(2))[0], y1[2:3])
    # same seed -> same draw
    assert np.array_equal(deg.sample_draw(4, 11).alpha, deg.sample_draw(4, 11).alpha)


def test_per_batch_versus_per_sample():
    db = Degradation("gyrodeblurnet_official").sample_draw(6, 0)
    for k in ("alpha", "red_gain", "blue_gain", "shot", "read_std"):
        assert len(set(getattr(db, k).tolist())) == 1, k
    assert len(set(db.noise_seed.tolist())) == 6
    ds = Degradation("rsblur_pt").sample_draw(6, 0)
    assert len(set(ds.alpha.tolist())) == 6
    dp = Degradation("rsblur_pt", per="batch").sample_draw(6, 0)
    assert len(set(dp.pattern.tolist())) == 1


def test_draw_distributions():
    rng = np.random.default_rng(0)
    deg = Degradation("rsblur_pt")
    d = deg.sample_draw(4000, rng)
    assert d.alpha.min() >= 0.25 and d.alpha.max() <= 1.75
    assert (
        d.red_gain.min() >= 1.9
        and d.red_gain.max() <= 2.4
        and d.blue_gain.min() >= 1.5
        and d.blue_gain.max() <= 1.9
    )
    assert d.shot.min() >= 0.5 * 8.8915e-5 and d.shot.max() <= 1.5 * 8.8915e-5
    assert d.read_std.min() >= 0.5 * 2.943e-5 and d.read_std.max() <= 1.5 * 2.943e-5
    assert set(d.pattern.tolist()) == {0, 1, 2, 3}
    g = Degradation("gyrodeblurnet", per="sample").sample_draw(4000, rng)
    l2 = np.log2(g.shot)
    assert l2.min() >= -10.000994 and l2.max() <= -9.334882
    eps = np.log2(g.read_std**2) - (3.15578751 * l2 + 10.00035142)  # read is a variance (std = sqrt)
    assert abs(eps.mean()) < 0.02 and eps.std() == pytest.approx(0.25, rel=0.05)
    assert g.alpha.min() >= 3 and g.alpha.max() <= 5
    t = Degradation("rsblur_tf_realblur").sample_draw(8, rng)
    assert t.pattern.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]  # TF: batch quarters
    pairs = {(1.51, 2.92), (1.83, 2.28), (1.96, 2.09), (2.23, 2.27), (2.43, 1.61), (2.66, 1.46)}
    e = Degradation("rsblur_tf_realblur").sample_draw(500, rng)
    assert set(zip(e.red_gain.tolist(), e.blue_gain.tolist(), strict=True)) <= pairs
    s = Degradation("rsblur_tf_rsblur", session="0019").sample_draw(3, rng)
    assert s.session.tolist() == [18, 18, 18]


def test_rsblur_session_white_tint():
    """rsblur.md §8: session 0019 with the TF clip returns linear white as (0.869, 0.965, 0.956)."""
    deg = Degradation(
        "rsblur_tf_rsblur",
        session="0019",
        noise="none",
        sat_alpha=None,
        restore_saturated=False,
        domain="linear",
    )
    d = deg.sample_draw(1, 0)
    y, _ = deg(_flat(0.99999, 24), draw=d)
    np.testing.assert_allclose(y[0, :, 12, 12].numpy(), (0.869, 0.965, 0.956), atol=2e-3)


def test_bad_inputs():
    deg = Degradation("rsblur_pt")
    with pytest.raises(ShapeError, match=r"\(B,3,H,W\)"):
        deg(torch.rand(3, 16, 16))
    with pytest.raises(ShapeError, match="sat_mask"):
        deg(torch.rand(1, 3, 16, 16), torch.rand(1, 2, 16, 16))
    with pytest.raises(ShapeError, match="draw has 1 entries"):
        deg(torch.rand(2, 3, 16, 16), draw=_draw())


@pytest.mark.gpu
@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_cuda_matches_cpu_statistics(preset):
    """On the training device: same draw -> same noise-free result as CPU, replay bit-identical on CUDA."""
    deg = Degradation(preset)
    x, m = torch.rand(4, 3, 24, 24), (torch.rand(4, 3, 24, 24) > 0.8).float()
    d = deg.sample_draw(4, 0)
    quiet = Degradation(preset, noise="none")
    y_cpu, _ = quiet(x, m, draw=d)
    y_gpu, _ = quiet.cuda()(x.cuda(), m.cuda(), draw=d)
    torch.testing.assert_close(y_gpu.cpu(), y_cpu, atol=1e-5, rtol=0)
    deg = deg.cuda()
    a, dr = deg(x.cuda(), m.cuda(), generator=torch.Generator(device="cuda").manual_seed(3))
    b, _ = deg(x.cuda(), m.cuda(), draw=dr)
    assert torch.equal(a, b)
