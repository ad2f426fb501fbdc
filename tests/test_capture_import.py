"""Capture importers: each format round-trips a fixture written here; malformed files get one-line errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from gyrobench.capture import load_capture
from gyrobench.capture.calibration import scale_K
from gyrobench.capture.importers import import_captures, parse_photo_arg, read_photo_list
from gyrobench.cli import main
from gyrobench.errors import GyrobenchError
from gyrobench.gyro.recording import R_GYROBLUR_REAL
from gyrobench.provenance import sha256_file

RNG = np.random.default_rng(7)


def _photo(path: Path, w: int, h: int, ext=".png") -> Path:
    img = (RNG.random((h, w, 3)) * 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path.with_suffix(ext)), img)
    return path.with_suffix(ext)


def _gyro(n=400, hz=200.0, t0=5_000_000_000):
    t = t0 + np.round(np.arange(n) * 1e9 / hz).astype(np.int64)
    w = RNG.normal(scale=0.2, size=(n, 3))
    return t, w


def _check_roundtrip(folder: Path, t_gyro_ns, w_rad, *, offset_ns, R, start_ns, exposure_ns, K, image_src):
    cap, f = load_capture(folder)
    rec = cap.recording(f)
    # the capture keeps a window of the log: find it in the fixture and compare exactly
    i0 = int(np.searchsorted(t_gyro_ns, rec.t_ns[0] - offset_ns))
    n = len(rec)
    assert np.array_equal(rec.t_ns, t_gyro_ns[i0:i0 + n] + offset_ns)
    np.testing.assert_allclose(rec.w, w_rad[i0:i0 + n], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(rec.w_cam, w_rad[i0:i0 + n] @ np.asarray(R).T, rtol=1e-12, atol=1e-15)
    assert cap.time_offset_ns == offset_ns
    assert cap.exposure_start_ns == start_ns and cap.exposure_ns == exposure_ns
    np.testing.assert_allclose(cap.K_matrix, K, rtol=1e-12)
    assert sha256_file(f / cap.image) == sha256_file(image_src)
    assert rec.t_ns[0] <= start_ns and rec.t_ns[-1] >= cap.exposure_end_ns
    return cap


# ---------------------------------------------------------------------------------------------------- fixtures
def write_gyroblur_real(root: Path, *, gyro_lines=None, info=None) -> dict:
    scene = root / "scene01"
    scene.mkdir(parents=True)
    t, w = _gyro()
    img = _photo(scene / "blurry", 76, 100)
    (scene / "blurry.dng").write_bytes(b"not decoded")
    start, exp = int(t[150]) + 1234, 50_000_000
    (scene / "image_info.txt").write_text(info if info is not None else
                                          f"{start} 100 {exp} 3182.6 3179.3 1458.7 2114.3 0\n")
    lines = gyro_lines if gyro_lines is not None else [f"{a} {b!r} {c!r} {d!r}" for a, (b, c, d) in zip(t.tolist(), w.tolist())]
    (scene / "gyro.txt").write_text("\n".join(lines) + "\n")
    return {"t": t, "w": w, "start": start, "exp": exp, "image": img}


def write_deepgyro(root: Path, *, imu_extra: str = "", imu_override=None) -> dict:
    t, w = _gyro(n=600, t0=5_000_000_000)
    rows = []
    for k, (ti, wi) in enumerate(zip(t.tolist(), w.tolist())):
        rows.append(f"4 {ti} {wi[0]!r} {wi[1]!r} {wi[2]!r}")
        if k % 3 == 0:
            rows.append(f"1 {ti + 7} 0.1 9.8 0.2")  # accelerometer rows are ignored
    (root / "imu").mkdir(parents=True)
    (root / "imu" / "imu.txt").write_text((imu_override or "\n".join(rows)) + "\n" + imu_extra)
    photo0 = 9_000_000_000
    # DeepGyro's alignment puts the first photo td = 22 ms before the first gyro row: it has no gyro and is
    # skipped with a warning; the others are imported
    starts = [photo0, photo0 + 33_333_333, photo0 + 66_666_666]
    (root / "images").mkdir()
    (root / "images" / "images.txt").write_text("\n".join(f"{s} 20000000" for s in starts) + "\n")
    imgs = [_photo(root / "images" / f"{i:04d}", 96, 54, ".jpg") for i in (1, 2, 3)]
    cal = {"K": [[1558.6899, 0, 939.6533], [0, 1558.6899, 518.4131], [0, 0, 1]], "image_size": [1920, 1080],
           "R_imu_to_cam_rowvec": [[0, 1, 0], [1, 0, 0], [0, 0, 1]], "readout_time_s": 0.0244944,
           "time_offset_s": 0.022}
    (root / "calib.yaml").write_text(json.dumps(cal))  # JSON is valid YAML
    # the photos (photo clock) must fall inside the log after DeepGyro's alignment: gyro first row + 1 s
    offset = 22_000_000 + photo0 - int(t[0])
    return {"t": t, "w": w, "starts": starts, "images": imgs, "offset": offset, "cal": cal}


def write_gcsv(root: Path, *, header_drop=None, row_extra=None) -> dict:
    root.mkdir(parents=True, exist_ok=True)
    n = 2000
    raw_t = np.arange(n)
    raw_g = RNG.integers(-300, 300, size=(n, 3))
    header = ["GYROFLOW IMU LOG", "version,1.3", "id,test_logger", "orientation,YxZ",
              "frame_readout_time,12.5", "tscale,0.001", "gscale,0.00122173047", "ascale,0.00048828125"]
    header = [h for h in header if header_drop is None or not h.startswith(header_drop + ",")]
    rows = [f"{a},{b},{c},{d},1,2,3" for a, (b, c, d) in zip(raw_t.tolist(), raw_g.tolist())]
    if row_extra:
        rows.insert(10, row_extra)
    (root / "log.gcsv").write_text("\n".join(header + ["t,gx,gy,gz,ax,ay,az"] + rows) + "\n")
    img = _photo(root / "shot", 64, 48, ".jpg")
    (root / "photos.csv").write_text("image,start_s,exposure_ms\nshot.jpg,1.0,20\n")
    cal = {"K": [[800.0, 0, 319.5], [0, 800.0, 239.5], [0, 0, 1]], "image_size": [640, 480],
           "R_imu_to_cam": [[0, 1, 0], [-1, 0, 0], [0, 0, 1]], "time_offset_s": 0.0}
    (root / "calib.json").write_text(json.dumps(cal))
    t_ns = np.round(raw_t * 0.001 * 1e9).astype(np.int64)
    return {"t": t_ns, "w": raw_g * 0.00122173047, "image": img, "cal": cal}


def write_csv(root: Path, text: str | None = None) -> dict:
    root.mkdir(parents=True, exist_ok=True)
    n = 1500
    t_ms = np.arange(n) * 2.5  # 400 Hz
    w_deg = RNG.normal(scale=5.0, size=(n, 3))
    body = "\n".join(f"{a!r},{b!r},{c!r},{d!r}" for a, (b, c, d) in zip(t_ms.tolist(), w_deg.tolist()))
    (root / "log.csv").write_text(text if text is not None else "time_ms,gx_dps,gy_dps,gz_dps\n" + body + "\n")
    img = _photo(root / "p1", 40, 30, ".png")
    cal = {"K": [[50.0, 0, 19.5], [0, 50.0, 14.5], [0, 0, 1]], "image_size": [40, 30],
           "R_imu_to_cam": np.eye(3).tolist(), "readout_time_s": 0.01, "time_offset_s": -0.0015}
    (root / "calib.yaml").write_text(json.dumps(cal))
    return {"t": np.round(t_ms * 1e6).astype(np.int64), "w": w_deg * math.pi / 180, "image": img, "cal": cal}


# ------------------------------------------------------------------------------------------------- round trips
def test_gyroblur_real_roundtrip(tmp_path):
    fx = write_gyroblur_real(tmp_path / "src")
    (out,) = import_captures(tmp_path / "src", "gyroblur-real", tmp_path / "out")
    K = scale_K([[3182.59180, 0, 1458.68721], [0, 3179.29832, 2114.25739], [0, 0, 1]], (3040, 4000), (76, 100))
    cap = _check_roundtrip(out, fx["t"], fx["w"], offset_ns=0, R=R_GYROBLUR_REAL, start_ns=fx["start"],
                           exposure_ns=fx["exp"], K=K, image_src=fx["image"])
    assert cap.image_encoding == "linear" and cap.readout_time_s == 0.0
    assert cap.source["image_info"]["iso"] == 100.0 and cap.source["dng"].endswith("blurry.dng")


def test_deepgyro_roundtrip(tmp_path, caplog):
    fx = write_deepgyro(tmp_path / "src")
    with caplog.at_level("WARNING", logger="gyrobench"):
        outs = import_captures(tmp_path / "src", "deepgyro", tmp_path / "out",
                               calibration=tmp_path / "src/calib.yaml")
    assert [o.name for o in outs] == ["0002", "0003"]
    assert any("0001.jpg" in r.message and "skipped" in r.message for r in caplog.records)
    K = scale_K(fx["cal"]["K"], (1920, 1080), (96, 54))
    R = np.array(fx["cal"]["R_imu_to_cam_rowvec"]).T  # DeepGyro's w_cam = w @ R
    for o, s, img in zip(outs, fx["starts"][1:], fx["images"][1:]):
        cap = _check_roundtrip(o, fx["t"], fx["w"], offset_ns=fx["offset"], R=R, start_ns=s,
                               exposure_ns=20_000_000, K=K, image_src=img)
        assert cap.readout_time_s == pytest.approx(0.0244944) and cap.image_encoding == "srgb"
        tim = cap.source["timing"]
        assert tim["td_ns"] + tim["photo_first_ns"] - tim["gyro_first_ns"] == cap.time_offset_ns
    # DeepGyro's relative clocks: a gyro sample at (t - gyro_first) + td lands at (photo - photo_first)
    cap, f = load_capture(outs[0])
    rec = cap.recording(f)
    rel_gyro = (rec.t_ns[0] - cap.time_offset_ns - fx["t"][0]) + 22_000_000
    assert rec.t_ns[0] - fx["starts"][0] == rel_gyro  # photo time from the first photo == DeepGyro gyro time


def test_gcsv_roundtrip(tmp_path):
    fx = write_gcsv(tmp_path)
    (out,) = import_captures(tmp_path / "log.gcsv", "gcsv", tmp_path / "out", calibration=tmp_path / "calib.json",
                             photos=read_photo_list(tmp_path / "photos.csv"))
    K = scale_K(fx["cal"]["K"], (640, 480), (64, 48))
    cap = _check_roundtrip(out, fx["t"], fx["w"], offset_ns=0, R=fx["cal"]["R_imu_to_cam"],
                           start_ns=1_000_000_000, exposure_ns=20_000_000, K=K, image_src=fx["image"])
    assert cap.readout_time_s == pytest.approx(0.0125)  # the header's frame_readout_time, ms
    assert cap.source["header"]["orientation"] == "YxZ"


def test_csv_roundtrip_and_cli(tmp_path):
    fx = write_csv(tmp_path)
    rc = main(["capture", "import", str(tmp_path / "log.csv"), "--format", "csv", "--calibration",
               str(tmp_path / "calib.yaml"), "--photo", f"{tmp_path / 'p1.png'},1.5s,30ms",
               "--out", str(tmp_path / "out")])
    assert rc == 0
    cap = _check_roundtrip(tmp_path / "out" / "p1", fx["t"], fx["w"], offset_ns=-1_500_000, R=np.eye(3),
                           start_ns=1_500_000_000, exposure_ns=30_000_000, K=np.array(fx["cal"]["K"]),
                           image_src=fx["image"])
    assert cap.source["decided"]["rate_unit"] == "deg/s" and cap.source["decided"]["time_unit"] == "ms"


def test_csv_time_unit_inferred_from_spacing(tmp_path):
    t_s = np.arange(800) * 0.005
    w = RNG.normal(scale=0.1, size=(800, 3))
    text = "\n".join(f"{a!r};{b!r};{c!r};{d!r}" for a, (b, c, d) in zip(t_s.tolist(), w.tolist())) + "\n"
    write_csv(tmp_path, text=text)
    (out,) = import_captures(tmp_path / "log.csv", "csv", tmp_path / "out", calibration=tmp_path / "calib.yaml",
                             photos=[parse_photo_arg(f"{tmp_path / 'p1.png'},2s,20ms")],
                             columns="t=0,wx=1,wy=2,wz=3", rate_unit="rad/s")
    cap, _ = load_capture(out)
    assert cap.source["decided"]["time_unit"] == "s"
    assert "spacing" in cap.source["decided"]["time_unit_from"]


# ------------------------------------------------------------------------------------------------ bad inputs
def _one_line_error(fn, *needles):
    with pytest.raises(GyrobenchError) as ei:
        fn()
    msg = str(ei.value)
    assert "\n" not in msg, msg
    for n in needles:
        assert n in msg, f"{n!r} not in: {msg}"
    return msg


def test_malformed_gyroblur_real(tmp_path):
    t, w = _gyro()
    lines = [f"{a} {b} {c} {d}" for a, (b, c, d) in zip(t.tolist(), w.tolist())]
    lines[20], lines[21] = lines[21], lines[20]  # unsorted at line 22
    write_gyroblur_real(tmp_path / "a", gyro_lines=lines)
    _one_line_error(lambda: import_captures(tmp_path / "a", "gyroblur-real", tmp_path / "o"),
                    "gyro.txt: line 22", "not sorted", "sort the samples")
    write_gyroblur_real(tmp_path / "b", info="123 100 50000000 1 2 3\n")
    _one_line_error(lambda: import_captures(tmp_path / "b", "gyroblur-real", tmp_path / "o"),
                    "image_info.txt: line 1", "expected 8 values", "fix the file")


def test_malformed_deepgyro(tmp_path):
    write_deepgyro(tmp_path / "a", imu_extra="99 6000000000 1 2 3\n")
    n_lines = len((tmp_path / "a/imu/imu.txt").read_text().splitlines())
    _one_line_error(lambda: import_captures(tmp_path / "a", "deepgyro", tmp_path / "o",
                                            calibration=tmp_path / "a/calib.yaml"),
                    f"imu.txt: line {n_lines}", "unknown sensor type 99", "4 = gyroscope")
    write_deepgyro(tmp_path / "b", imu_extra="4 6000000000 1 2\n")
    _one_line_error(lambda: import_captures(tmp_path / "b", "deepgyro", tmp_path / "o",
                                            calibration=tmp_path / "b/calib.yaml"),
                    "imu.txt: line", "expected 5 columns", "fix the line")
    write_deepgyro(tmp_path / "c", imu_override="4 100 0 0 0\n4 200 0 0 0\n4 200 0 0 0\n4 300 0 0 0")
    _one_line_error(lambda: import_captures(tmp_path / "c", "deepgyro", tmp_path / "o",
                                            calibration=tmp_path / "c/calib.yaml"),
                    "imu.txt: line 3", "duplicate timestamp", "drop repeated samples")


def test_malformed_gcsv(tmp_path):
    write_gcsv(tmp_path / "a", header_drop="gscale")
    photos = [parse_photo_arg(f"{tmp_path / 'a/shot.jpg'},1s,20ms")]
    _one_line_error(lambda: import_captures(tmp_path / "a/log.gcsv", "gcsv", tmp_path / "o",
                                            calibration=tmp_path / "a/calib.json", photos=photos),
                    "log.gcsv: line 8", "missing header key 'gscale'", "add 'gscale,")
    write_gcsv(tmp_path / "b", row_extra="10,1,2,3")
    _one_line_error(lambda: import_captures(tmp_path / "b/log.gcsv", "gcsv", tmp_path / "o",
                                            calibration=tmp_path / "b/calib.json", photos=photos),
                    "log.gcsv: line 20", "expected 7 columns", "fix the row")


def test_malformed_csv_and_units(tmp_path):
    write_csv(tmp_path / "a", text="t,gx,gy,gz\n" + "\n".join(f"{k * 2.5},0.1,0.2,0.3" for k in range(100)))
    photo = [parse_photo_arg(f"{tmp_path / 'a/p1.png'},0.1s,20ms")]
    _one_line_error(lambda: import_captures(tmp_path / "a/log.csv", "csv", tmp_path / "o",
                                            calibration=tmp_path / "a/calib.yaml", photos=photo),
                    "log.csv: line 1", "rate unit is not stated", "--rate-unit rad/s")
    write_csv(tmp_path / "b", text="t,gx,gy,gz\n" + "\n".join(f"{k * 50},0.1,0.2,0.3" for k in range(100)))
    _one_line_error(lambda: import_captures(tmp_path / "b/log.csv", "csv", tmp_path / "o",
                                            calibration=tmp_path / "b/calib.yaml", photos=photo,
                                            rate_unit="rad/s"),
                    "log.csv: line 1", "time unit is not stated", "--time-unit")
    (tmp_path / "ph.csv").write_text("image,start,exposure_ms\nx.png,1,20\n")
    _one_line_error(lambda: read_photo_list(tmp_path / "ph.csv"), "ph.csv: line 1", "states no time unit",
                    "start_ns")
    with pytest.raises(GyrobenchError, match="has no unit"):
        parse_photo_arg("x.png,12.5,20ms")


def test_calibration_without_rotation_is_an_error(tmp_path):
    fx = write_csv(tmp_path)
    cal = dict(fx["cal"])
    del cal["R_imu_to_cam"]
    (tmp_path / "calib.yaml").write_text(json.dumps(cal))
    _one_line_error(lambda: import_captures(tmp_path / "log.csv", "csv", tmp_path / "o",
                                            calibration=tmp_path / "calib.yaml",
                                            photos=[parse_photo_arg(f"{tmp_path / 'p1.png'},1.5s,30ms")]),
                    "calib.yaml", "missing key 'R_imu_to_cam'", "R_imu_to_cam: [[1,0,0]")


def test_cli_prints_one_line(tmp_path, capsys):
    write_deepgyro(tmp_path, imu_extra="99 6000000000 1 2 3\n")
    rc = main(["capture", "import", str(tmp_path), "--format", "deepgyro", "--calibration",
               str(tmp_path / "calib.yaml"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and err[0].startswith("gyrobench: error: ") and "unknown sensor type" in err[0]


def test_implausible_rates_warn_naming_the_window(tmp_path, caplog):
    fx = write_csv(tmp_path)
    text = "time_ms,gx_rad_s,gy_rad_s,gz_rad_s\n" + "\n".join(
        f"{k * 2.5},{5.0},{0.0},{0.0}" for k in range(1500)) + "\n"
    (tmp_path / "log.csv").write_text(text)
    with caplog.at_level("WARNING", logger="gyrobench"):
        import_captures(tmp_path / "log.csv", "csv", tmp_path / "o", calibration=tmp_path / "calib.yaml",
                        photos=[parse_photo_arg(f"{fx['image']},1.5s,30ms")])
    assert any("implausible for a hand-held photo" in r.message and "exposure window" in r.message
               for r in caplog.records)


def test_recipe_hand_shake_from_captures(tmp_path):
    """A recipe whose gyro windows come from imported captures' logs (sources.gyro.kind: capture)."""
    import h5py

    from gyrobench.builder.pipeline import synthesize
    from gyrobench.builder.recipe import load_recipe

    fx = write_csv(tmp_path / "log")
    import_captures(tmp_path / "log/log.csv", "csv", tmp_path / "caps", calibration=tmp_path / "log/calib.yaml",
                    photos=[parse_photo_arg(f"{fx['image']},1.5s,30ms")])
    recipe = load_recipe("smoke", overrides=["sources.gyro.kind=capture", f"sources.gyro.file={tmp_path / 'caps'}"])
    synthesize(recipe, tmp_path / "ds", limit=1)
    cap, f = load_capture(tmp_path / "caps" / "p1")
    rec = cap.recording(f)
    shard = sorted((tmp_path / "ds").rglob("*.h5"))[0]
    with h5py.File(shard, "r") as h:
        t, w = h["gyro_t_ns"][0], h["gyro_w"][0]
    i = int(np.searchsorted(rec.t_ns, t[0]))
    assert np.array_equal(rec.t_ns[i:i + len(t)], t) and np.allclose(rec.w[i:i + len(t)], w)
    with pytest.raises(GyrobenchError, match="kind 'capture' needs 'file'"):
        load_recipe("smoke", overrides=["sources.gyro.kind=capture"])
