"""Motion-field pictures (gyrobench.viz.cmf_plot) and the plot-cmf command."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from gyrobench.cli import main
from gyrobench.errors import ShapeError
from gyrobench.viz import cmf_colorwheel, colorwheel_legend, render_cmf, save_png, trajectories

BG = 40  # render_cmf's background grey without an image


def _split_field(h=48, w=64, M=8, dx=1.5, dy=0.0):
    """Zero motion on the left half, a uniform translation of M segments (dx, dy) on the right half."""
    f = np.zeros((h, w, 2 * M), np.float32)
    f[:, w // 2 :, 0::2] = dx
    f[:, w // 2 :, 1::2] = dy
    return f


def test_trajectories_are_anchored_at_mid_exposure():
    rng = np.random.default_rng(0)
    f = rng.normal(size=(5, 6, 16))
    tr = trajectories(f)
    assert tr.shape == (5, 6, 9, 2)
    np.testing.assert_allclose(tr[:, :, 4], 0.0)
    seg = f.reshape(5, 6, 8, 2)
    np.testing.assert_allclose(tr[:, :, 8] - tr[:, :, 0], seg.sum(axis=2), atol=1e-12)
    np.testing.assert_allclose(np.diff(tr, axis=2), seg, atol=1e-12)  # p_{m+1} - p_m = channel pair m


def test_render_shape_dtype_and_glyphs_only_where_motion():
    f = _split_field()
    img = render_cmf(f, step=16, stride=2)
    assert img.dtype == np.uint8 and img.shape == (96, 128, 3)
    changed = np.any(img != BG, axis=2)
    # glyphs extend at most 4 segments * 1.5 px = 6 px left of their anchor (anchors at x >= 64 + 8)
    assert not changed[:, : 64 - 8].any()
    assert changed[:, 64:].sum() > 50
    assert np.all(render_cmf(np.zeros((48, 64, 16)), step=16) == BG)


def test_glyph_geometry_matches_hand_computed_extent():
    """One glyph, pure horizontal motion of 3 px per segment: it spans anchor ± 4*3 px on its row."""
    f = np.zeros((20, 20, 16))
    f[..., 0::2] = 3.0
    img = render_cmf(f, step=40, stride=2, min_length_px=0.1)  # a single grid point at field cell (10, 10)
    ax, ay = 20, 20  # anchor in px: cell 10 * stride 2
    row = np.any(img[ay] != BG, axis=1)
    xs = np.flatnonzero(row)
    assert abs(xs.min() - (ax - 12)) <= 1 and abs(xs.max() - (ax + 12)) <= 1
    assert not np.any(img[ay + 4 :] != BG)  # nothing drawn away from the glyph's row (dot radius 1)


def test_background_image_and_float_linear_input():
    f = _split_field()
    photo = np.full((96, 128, 3), 200, np.uint8)
    a = render_cmf(f, photo, step=16)
    b = render_cmf(f, np.full((96, 128, 3), 200 / 255.0), step=16)
    np.testing.assert_array_equal(a, b)
    c = render_cmf(f, np.full((96, 128, 3), 0.2), step=16, linear=True)  # sRGB(0.2) = 0.4845 -> 124
    assert c[0, 0, 0] == (124 * 3) // 5 + 20


def test_colorwheel_directions():
    """Hue = direction: right = red, left = cyan, down = hue 90 deg (RGB (127, 255, 0)); zero = white."""
    f = np.zeros((2, 4, 16))
    f[0, 0, 0::2] = 1.0  # right
    f[0, 1, 0::2] = -1.0  # left
    f[0, 2, 1::2] = 1.0  # down (image y)
    rgb = cmf_colorwheel(f)
    assert rgb.shape == (2, 4, 3) and rgb.dtype == np.uint8
    np.testing.assert_array_equal(rgb[0, 0], [255, 0, 0])
    np.testing.assert_array_equal(rgb[0, 1], [0, 255, 255])
    assert abs(int(rgb[0, 2, 0]) - 127) <= 2 and rgb[0, 2, 1] == 255 and rgb[0, 2, 2] == 0
    np.testing.assert_array_equal(rgb[1, 3], [255, 255, 255])
    assert cmf_colorwheel(f, stride=2).shape == (4, 8, 3)
    assert colorwheel_legend(32).shape == (32, 32, 3)


def test_bad_shapes_raise():
    with pytest.raises(ShapeError, match="2M"):
        render_cmf(np.zeros((4, 4, 3)))
    with pytest.raises(ShapeError):
        render_cmf(np.zeros((4, 4)))


def test_save_png_rgb_order(tmp_path):
    a = np.zeros((4, 5, 3), np.uint8)
    a[..., 0] = 255
    p = save_png(tmp_path / "sub" / "x.png", a)
    back = cv2.imread(str(p))
    np.testing.assert_array_equal(back[..., 2], 255)
    np.testing.assert_array_equal(back[..., :2], 0)


def test_cli_plot_cmf_hwc_and_chw_agree(tmp_path):
    f = _split_field()
    np.save(tmp_path / "hwc.npy", f)
    np.save(tmp_path / "chw.npy", f.transpose(2, 0, 1))
    assert (
        main(
            ["plot-cmf", "--cmf", str(tmp_path / "hwc.npy"), "--out", str(tmp_path / "a.png"), "--step", "16"]
        )
        == 0
    )
    assert (
        main(
            ["plot-cmf", "--cmf", str(tmp_path / "chw.npy"), "--out", str(tmp_path / "b.png"), "--step", "16"]
        )
        == 0
    )
    a, b = cv2.imread(str(tmp_path / "a.png")), cv2.imread(str(tmp_path / "b.png"))
    assert a.shape == (96, 128, 3)
    np.testing.assert_array_equal(a, b)
    assert (
        main(
            [
                "plot-cmf",
                "--cmf",
                str(tmp_path / "hwc.npy"),
                "--style",
                "colorwheel",
                "--out",
                str(tmp_path / "c.png"),
            ]
        )
        == 0
    )


def test_cli_plot_cmf_handshake_demo_on_kodak(tmp_path):
    from gyrobench.assets import kodak_paths

    out = tmp_path / "d.png"
    assert (
        main(["plot-cmf", "--handshake", "--seed", "1", "--image", str(kodak_paths()[0]), "--out", str(out)])
        == 0
    )
    assert cv2.imread(str(out)).shape == (480, 480, 3)  # the demo data's 480x480 crop


def test_cli_plot_cmf_errors(tmp_path, capsys):
    np.save(tmp_path / "bad.npy", np.zeros((4, 4)))
    rc = main(["plot-cmf", "--cmf", str(tmp_path / "bad.npy"), "--out", str(tmp_path / "x.png")])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("gyrobench: error:") and "bad.npy" in err
    g = tmp_path / "g.txt"
    g.write_text("".join(f"{i * 4757600} 0.1 0.2 0.3\n" for i in range(20)))
    rc = main(["plot-cmf", "--gyro", str(g), "--out", str(tmp_path / "x.png")])
    err = capsys.readouterr().err
    assert rc == 2 and "--start" in err
    rc = main(["plot-cmf", "--cmf", str(tmp_path / "missing.npy"), "--out", str(tmp_path / "x.png")])
    assert rc == 2 and "missing.npy" in capsys.readouterr().err


@pytest.mark.parametrize(
    "name, arr, extra, words",
    [
        ("tiny", np.zeros((1, 1, 16), np.float32), [], ["1x1 field grid is too small", "colorwheel"]),
        ("thin", np.zeros((4, 40, 16), np.float32), ["--layout", "hwc"], ["4x40 field grid", "5x5 cells"]),
        ("wide_step", np.zeros((5, 5, 16), np.float32), ["--layout", "hwc", "--step", "40"], ["11x11 cells"]),
        ("odd", np.zeros((6, 8, 7), np.float32), ["--layout", "hwc"], ["7 channels", "--layout"]),
        ("cplx", np.zeros((8, 8, 16), np.complex64), [], ["complex64"]),
        ("nan", np.full((8, 8, 16), np.nan, np.float32), ["--layout", "hwc", "--style", "colorwheel"], ["NaN"]),
        ("ok", np.zeros((8, 8, 16), np.float32), ["--layout", "hwc", "--stride", "0"], ["argument --stride", "'0'"]),
    ],
)
def test_cli_plot_cmf_bad_fields_one_line(tmp_path, capsys, name, arr, extra, words):
    path = tmp_path / f"{name}.npy"
    np.save(path, arr)
    rc = main(["plot-cmf", "--cmf", str(path), "--out", str(tmp_path / "x.png"), *extra])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("gyrobench: error:") and "\n" not in err
    assert all(w in err for w in words), err
    if name != "ok":
        assert f"{name}.npy" in err
    assert not (tmp_path / "x.png").exists()


def test_cli_plot_cmf_smallest_glyph_grid_renders(tmp_path):
    np.save(tmp_path / "f.npy", np.ones((5, 5, 16), np.float32))  # 5 cells: the first glyph sits at cell 4
    assert main(["plot-cmf", "--cmf", str(tmp_path / "f.npy"), "--layout", "hwc", "--out", str(tmp_path / "x.png")]) == 0
    assert cv2.imread(str(tmp_path / "x.png")).shape == (10, 10, 3)
