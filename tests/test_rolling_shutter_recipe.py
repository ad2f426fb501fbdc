"""Rolling shutter as a recipe option (issue 10 item 3): ``exposure.readout_time_s`` in the stored-path synthesis.

The references are closed forms written here: a rate step (still before, a constant rate about the camera's y axis
after) seen through a vertical-stripe image whose linear intensity is a pure sinusoid. A centred box blur of
length L px attenuates a sinusoid of period P px by ``sinc = sin(pi L / P) / (pi L / P)``; a rotation at ``c``
rad/s about y over E s moves the principal point by ``2 f tan(c E / 2)`` px (``L``), and a still window not at all.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import yaml

from gyrobench.builder.pipeline import synthesize, synthesize_sample
from gyrobench.builder.recipe import load_recipe
from gyrobench.color import linear_to_srgb
from gyrobench.errors import RecipeError

F = 1000.0          # px
W = H = 128         # full frame
CROP = 96           # centred crop: rows / columns 16 .. 111
PERIOD = 32         # px of the stripes (long: bilinear warps attenuate it by < 0.4 %)
RATE_HZ = 1000.0    # gyro samples per second
C = 1.0             # rad/s about the camera's y axis after the step
START = 50          # window start (sample index of the recording)
STEP_MS = 14.0      # step time after the window start
READOUT = 0.02      # s -> a row every 0.15625 ms


def _write_inputs(tmp_path):
    x = np.arange(W)
    lin = 0.5 + 0.3 * np.sin(2 * np.pi * x / PERIOD)
    row = np.rint(linear_to_srgb(lin) * 65535).astype(np.uint16)
    img = np.repeat(np.repeat(row[None, :, None], H, axis=0), 3, axis=2)
    (tmp_path / "img").mkdir()
    cv2.imwrite(str(tmp_path / "img" / "stripes.png"), img)
    n = 200
    t = 10**9 + np.round(np.arange(n) * 1e9 / RATE_HZ).astype(np.int64)
    step = START + int(round(STEP_MS * RATE_HZ / 1e3))
    lines = [f"{t[k]} 0.0 {C if k >= step else 0.0!r} 0.0" for k in range(n)]
    (tmp_path / "gyro.txt").write_text("\n".join(lines) + "\n")
    (tmp_path / "starts.txt").write_text(f"{START}\n")


def _recipe(tmp_path, readout, **extra):
    d = {"name": "rs", "seed": 3,
         "sources": {"images": "img", "gyro": {"kind": "files", "file": "gyro.txt", "starting_points": "starts.txt"}},
         "camera": {"width": W, "height": H, "fx": F, "fy": F, "cx": (W - 1) / 2, "cy": (H - 1) / 2,
                    "crop_size": [CROP, CROP], "image_fit": "exact"},
         "exposure": {"samples": 11, **({} if readout is None else {"readout_time_s": readout})},
         "error_model": None,
         "splits": [{"name": "test", "size": 1, "degradation": "on_the_fly"}],
         "storage": {"shard_size": 1, "store_cmf": "float16"}, **extra}
    path = tmp_path / f"rs-{readout}.yaml"
    path.write_text(yaml.safe_dump(d))
    return load_recipe(path)


def _amplitude(rows: np.ndarray) -> np.ndarray:
    """Amplitude of the period-PERIOD sinusoid in each row (columns span whole periods, so it is a projection)."""
    x = np.arange(rows.shape[-1]) + (W - CROP) // 2
    s, c = np.sin(2 * np.pi * x / PERIOD), np.cos(2 * np.pi * x / PERIOD)
    return np.hypot(rows @ s, rows @ c) * 2 / rows.shape[-1]


def test_readout_key_at_zero_keeps_the_recipe_hash_and_the_output(tmp_path):
    _write_inputs(tmp_path)
    without, zero = _recipe(tmp_path, None), _recipe(tmp_path, 0)
    assert zero.exposure.readout_time_s == 0.0
    assert without.sha256 == zero.sha256 and "readout_time_s" not in without.to_dict()["exposure"]
    assert _recipe(tmp_path, 0.01).sha256 != without.sha256
    a, b = synthesize_sample(without, without.splits[0], 0), synthesize_sample(zero, zero.splits[0], 0)
    assert a.keys() == b.keys() and "readout_time_s" not in a
    for k in a:
        assert np.array_equal(np.asarray(a[k]), np.asarray(b[k])), k
    assert a["gyro_t_ns"].shape == (11,)


def test_rate_step_blur_per_band_matches_the_closed_form(tmp_path):
    _write_inputs(tmp_path)
    gs = synthesize_sample(_recipe(tmp_path, 0), _recipe(tmp_path, 0).splits[0], 0)
    rs_recipe = _recipe(tmp_path, READOUT)
    rs = synthesize_sample(rs_recipe, rs_recipe.splits[0], 0)
    sharp = gs["sharp"][..., 1].astype(np.float64) / 65535
    assert np.abs(_amplitude(sharp) - 0.3).max() < 1e-3  # the source is the sinusoid
    # global shutter: the window [0, 10] ms ends before the step (rates ramp 13 -> 14 ms): no blur anywhere
    assert np.abs(_amplitude(gs["blurred"][..., 1] / 65535) - 0.3).max() < 2e-3

    # the gyro window covers exposure + readout: 11 + ceil(0.02 s * 1000 Hz) + 1 samples
    assert rs["gyro_t_ns"].shape == (11 + 21,) and rs["gyro_w"].shape == (32, 3)
    assert rs["exposure_ns"] == 10_000_000 and rs["readout_time_s"] == READOUT
    assert rs["gyro_t_ns"][-1] - rs["gyro_t_ns"][0] >= 10_000_000 + READOUT * 1e9

    amp = _amplitude(rs["blurred"][..., 1].astype(np.float64) / 65535) / 0.3
    rows = np.arange(16, 16 + CROP)
    band_first = 16 + (rows - 16) // 8 * 8                     # each band of 8 rows uses its first row's window
    start_ms = band_first * READOUT * 1e3 / H
    still = start_ms + 10.0 <= STEP_MS - 1.0                   # whole window before the ramp
    moving = start_ms >= STEP_MS                               # whole window at the constant rate
    assert still.sum() >= 8 and moving.sum() >= 16
    L = 2 * F * math.tan(C * 0.010 / 2)                        # 10.0 px
    sinc = math.sin(math.pi * L / PERIOD) / (math.pi * L / PERIOD)
    np.testing.assert_allclose(amp[still], 1.0, atol=3e-3)
    # 0.849; tolerance: the renderer averages P >= 81 equally spaced poses (a box about L P / (P - 1) long)
    np.testing.assert_allclose(amp[moving], sinc, atol=0.01)
    # rows in between see part of the motion: between the two, and more blur for later (lower) bands
    mid = ~still & ~moving
    assert np.all(amp[mid] < 1.0 + 3e-3) and np.all(amp[mid] > sinc - 0.01)
    assert np.all(np.diff(amp[::8]) <= 1e-3)

    # the stored network field, per row: zero for the still rows; at the principal point the closed form
    # sum of the M segments, -2 f tan(c E / 2) in x and 0 in y, for the moving rows
    f = rs["cmf_clean"].astype(np.float64)                     # (48, 48, 16), grid rows 16, 18, ... 110
    grid_rows = 16 + 2 * np.arange(f.shape[0])
    row_start = grid_rows * READOUT * 1e3 / H                  # the field uses each grid row's own window
    total = f[:, f.shape[1] // 2].reshape(f.shape[0], 8, 2).sum(axis=1)
    before, after = row_start + 10.0 <= STEP_MS - 1.0, row_start >= STEP_MS
    assert np.abs(total[before]).max() == 0.0
    np.testing.assert_allclose(total[after, 0], -L, rtol=2e-3)  # float16 storage
    assert np.abs(total[after, 1]).max() < 0.05


def test_loader_recomputes_the_stored_rolling_shutter_field(tmp_path):
    from gyrobench.data.dataset import ShardDataset

    _write_inputs(tmp_path)
    recipe = _recipe(tmp_path, READOUT, error_model={})
    synthesize(recipe, tmp_path / "ds")
    stored = ShardDataset(tmp_path / "ds", crop=None, seed=0)[0]
    recomputed = ShardDataset(tmp_path / "ds", crop=None, seed=0, stored_fields=False)[0]
    for k in ("cmf_clean", "cmf_noisy"):  # float16 storage
        np.testing.assert_allclose(recomputed[k].numpy(), stored[k].numpy(), atol=0.02, rtol=2e-3)
    assert not np.array_equal(stored["cmf_clean"].numpy(), stored["cmf_noisy"].numpy())


@pytest.mark.parametrize("value, shown", [(-0.01, "-0.01"), (float("nan"), "nan"), (1.5, "1.5")])
def test_invalid_readout_is_one_line_naming_the_key_and_the_fix(value, shown):
    with pytest.raises(RecipeError) as exc:
        load_recipe("smoke", [f"exposure.readout_time_s={'.nan' if value != value else value}"])
    msg = str(exc.value)
    assert "\n" not in msg and "builtin:smoke" in msg and "exposure.readout_time_s" in msg and shown in msg
    assert "[0, 1]" in msg and "0 = global shutter" in msg


def test_unknown_exposure_key_still_rejected():
    with pytest.raises(RecipeError, match=r"unknown key 'exposure.readout_s'"):
        load_recipe("smoke", ["exposure.readout_s=0.01"])


def test_on_the_fly_synthesis_names_the_option(tmp_path):
    from gyrobench.builder.onthefly import OnTheFlyDataset
    from gyrobench.train.online import OnlineSection

    src = yaml.safe_load(load_recipe("smoke").text)
    src["exposure"]["readout_time_s"] = 0.02
    path = tmp_path / "rs.yaml"
    path.write_text(yaml.safe_dump(src))
    with pytest.raises(RecipeError, match=r"exposure.readout_time_s=0.02 .*stored path only"):
        OnTheFlyDataset(OnlineSection(recipe=str(path), images="builtin:kodak"), crop=32, seed=0, size=4)
