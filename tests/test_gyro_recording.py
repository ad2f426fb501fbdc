"""Gyro recordings: parsing, validation errors (library and CLI), gaps, windows, resampling."""

from __future__ import annotations

import numpy as np
import pytest

from gyrobench.cli import main
from gyrobench.errors import GyroFormatError
from gyrobench.gyro import FOURKRD, FOURKRD_CROP, GyroRecording, camera_motion_field, load_gyro, validate_gyro

DT = 4_757_600


def _rows(n=30, t0=250_285_705_039_633, scale=0.5, seed=0):
    rng = np.random.default_rng(seed)
    t = t0 + np.arange(n, dtype=np.int64) * DT
    w = rng.normal(0, scale, (n, 3))
    return t, w


def _write(path, t, w, fmt_t="{:d}"):
    lines = [f"{fmt_t.format(ti)} {a:.9f} {b:.9f} {c:.9f}" for ti, (a, b, c) in zip(t, w)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _good(tmp_path, n=30):
    t, w = _rows(n)
    return _write(tmp_path / "good.txt", t, w), t, w


def test_load_good_file(tmp_path):
    p, t, w = _good(tmp_path)
    rec = load_gyro(p)
    assert len(rec) == 30 and rec.t_ns.dtype == np.int64 and rec.w.dtype == np.float64
    np.testing.assert_array_equal(rec.t_ns, t)
    np.testing.assert_allclose(rec.w, w, atol=1e-9)
    assert rec.rate_hz == pytest.approx(1e9 / DT)
    assert rec.gaps() == []
    np.testing.assert_array_equal(rec.R_imu_to_cam, np.eye(3))


def test_comments_blank_lines_tabs_and_line_numbers(tmp_path):
    t, w = _rows(12)
    body = ["# header", ""] + [f"{ti}\t{a}\t{b}\t{c}" for ti, (a, b, c) in zip(t, w)]
    body[7] = f"{t[5]} nan 0 0"  # sample 5 on line 8
    p = tmp_path / "c.txt"
    p.write_text("\n".join(body))
    with pytest.raises(GyroFormatError, match=r"c\.txt: line 8: angular velocity is not finite"):
        load_gyro(p)


# (name, mutate(t, w) -> text, expected message fragment, expected line or None)
def _txt(t, w, fmt="{:d}"):
    rows = zip(t, w)
    return "\n".join(f"{fmt.format(ti)} {float(a)!r} {float(b)!r} {float(c)!r}" for ti, (a, b, c) in rows) + "\n"


def _case_nan(t, w):
    w[4, 1] = np.nan
    return _txt(t, w)


def _case_inf(t, w):
    w[6, 2] = np.inf
    return _txt(t, w)


def _case_unsorted(t, w):
    t[[10, 11]] = t[[11, 10]]
    return _txt(t, w)


def _case_duplicate(t, w):
    t[9] = t[8]
    return _txt(t, w)


def _case_degrees(t, w):
    return _txt(t, np.degrees(w * 3 + 1.5))


def _case_seconds(t, w):
    return "\n".join(f"{ti * 1e-9:.6f} {a} {b} {c}" for ti, (a, b, c) in zip(t, w)) + "\n"


def _case_seconds_int(t, w):  # integer milliseconds
    return _txt(t // 1_000_000, w)


def _case_columns(t, w):
    s = _txt(t, w).splitlines()
    s[3] = s[3].rsplit(" ", 1)[0]
    return "\n".join(s)


def _case_nonnumeric(t, w):
    s = _txt(t, w).splitlines()
    parts = s[5].split()
    parts[2] = "abc"
    s[5] = " ".join(parts)
    return "\n".join(s)


def _case_nonnumeric_time(t, w):
    s = _txt(t, w).splitlines()
    s[2] = "2024-01-01 " + " ".join(s[2].split()[1:])
    return "\n".join(s)


def _case_too_few(t, w):
    return _txt(t[:1], w[:1])


CASES = [
    ("nan", _case_nan, "not finite", 5),
    ("inf", _case_inf, "not finite", 7),
    ("unsorted", _case_unsorted, "not sorted", 12),
    ("duplicate", _case_duplicate, "duplicate timestamp", 10),
    ("degrees", _case_degrees, "degrees", 1),
    ("seconds", _case_seconds, "seconds", None),
    ("milliseconds", _case_seconds_int, "not nanoseconds", 1),
    ("columns", _case_columns, "expected 4 columns", 4),
    ("nonnumeric", _case_nonnumeric, "not a number", 6),
    ("nonnumeric_time", _case_nonnumeric_time, "not a number", 3),
    ("too_few", _case_too_few, "at least 2 are needed", None),
]


@pytest.mark.parametrize("name,mutate,frag,line", CASES, ids=[c[0] for c in CASES])
def test_malformed_library_and_cli(tmp_path, capsys, name, mutate, frag, line):
    t, w = _rows(30)
    p = tmp_path / f"{name}.txt"
    p.write_text(mutate(t.copy(), w.copy()))
    with pytest.raises(GyroFormatError) as ei:
        load_gyro(p)
    msg = str(ei.value)
    assert str(p) in msg and frag in msg
    if line is not None:
        assert f"line {line}:" in msg
    rc = main(["cmf", "--gyro", str(p), "--start", "0", "--out", str(tmp_path / "o.npy")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1 and err[0].startswith("gyrobench: error: ") and str(p) in err[0] and frag in err[0]
    assert not (tmp_path / "o.npy").exists()


@pytest.mark.parametrize("content,frag", [(b"", "empty"), (b"\n\n  \n", "empty"), (b"# only comments\n", "no samples"),
                                          (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
                                          (b"\xff\xfe\xfa\xfb 1 2 3\n", "not UTF-8")])
def test_empty_and_binary_files(tmp_path, capsys, content, frag):
    p = tmp_path / "bad.bin"
    p.write_bytes(content)
    with pytest.raises(GyroFormatError, match=frag):
        load_gyro(p)
    assert main(["cmf", "--gyro", str(p), "--start", "0", "--out", str(tmp_path / "o.npy")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(p) in err[0] and frag in err[0]


def test_missing_file_and_window_out_of_range_through_cli(tmp_path, capsys):
    assert main(["cmf", "--gyro", str(tmp_path / "nope.txt"), "--start", "0", "--out", str(tmp_path / "o.npy")]) == 2
    assert "file not found" in capsys.readouterr().err
    short, _, _ = _good(tmp_path, n=5)
    assert main(["cmf", "--gyro", str(short), "--start", "0", "--out", str(tmp_path / "o.npy")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(short) in err[0] and "too few samples" in err[0]
    p, _, _ = _good(tmp_path, n=15)
    assert main(["cmf", "--gyro", str(p), "--start", "5", "--out", str(tmp_path / "o.npy")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(p) in err[0] and "choose --start between 0 and 4" in err[0]


def test_cli_writes_official_field(tmp_path):
    p, t, w = _good(tmp_path, n=20)
    out = tmp_path / "f.npy"
    assert main(["cmf", "--gyro", str(p), "--start", "3", "--out", str(out)]) == 0
    f = np.load(out)
    assert f.shape == (360, 640, 16) and f.dtype == np.float32
    rec = load_gyro(p)
    ref = camera_motion_field(rec.t_ns[3:14], rec.w[3:14], FOURKRD, crop=FOURKRD_CROP)
    np.testing.assert_array_equal(f, ref)
    assert main(["cmf", "--gyro", str(p), "--start", "0", "--layout", "chw", "--M", "4", "--intrinsics", "demo",
                 "--out", str(out)]) == 0
    assert np.load(out).shape == (8, 240, 240)  # the demo data's 480x480 crop


def test_cli_demo_preset_is_the_demo_crop_and_crop_option(tmp_path, capsys):
    p, _, _ = _good(tmp_path, n=20)
    rec = load_gyro(p)
    t, w = rec.t_ns[2:13], rec.w[2:13]
    K = np.array([[561.5, 0, 250], [0, 561.5, 250], [0, 0, 1]])  # demo camera, 500x500 frame
    full = camera_motion_field(t, w, K, crop=(0, 0, 500, 500))  # (250, 250, 16), grid at even frame pixels
    out = tmp_path / "d.npy"
    assert main(["cmf", "--gyro", str(p), "--start", "2", "--intrinsics", "demo", "--out", str(out)]) == 0
    f = np.load(out)
    assert f.shape == (240, 240, 16)
    np.testing.assert_allclose(f, full[5:245, 5:245], rtol=1e-5, atol=1e-4)  # frame pixel 10 = grid cell 5
    assert main(["cmf", "--gyro", str(p), "--start", "2", "--intrinsics", "demo", "--crop", "0,0,500,500",
                 "--out", str(out)]) == 0
    np.testing.assert_allclose(np.load(out), full, rtol=1e-5, atol=1e-4)
    assert main(["cmf", "--gyro", str(p), "--start", "2", "--crop", "320,180,64,32", "--out", str(out)]) == 0
    ref = camera_motion_field(t, w, FOURKRD, crop=FOURKRD_CROP)[:16, :32]
    np.testing.assert_allclose(np.load(out), ref, rtol=1e-5, atol=1e-4)
    capsys.readouterr()
    for bad, frag in (("1,2,3", "four integers"), ("a,b,c,d", "four integers"), ("100,100,480,480", "does not fit"),
                      ("0,0,0,10", "does not fit")):
        assert main(["cmf", "--gyro", str(p), "--start", "2", "--intrinsics", "demo", "--crop", bad,
                     "--out", str(tmp_path / "bad.npy")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "--crop" in err[0] and frag in err[0], err
    assert not (tmp_path / "bad.npy").exists()


def test_gaps_reported(tmp_path):
    t, w = _rows(40)
    t[25:] += 25_610_000 - DT  # one 25.6 ms interval between samples 24 and 25
    p = _write(tmp_path / "gap.txt", t, w)
    rec = load_gyro(p)
    (g,) = rec.gaps()
    assert g.index == 24 and g.size_ns == 25_610_000 and g.line == 25
    assert g.missing_samples == pytest.approx(25_610_000 / DT - 1)
    assert "25.61 ms" in str(g)


@pytest.mark.shared
def test_gyro_train_gap(gyro_train_path):
    rec = load_gyro(gyro_train_path)
    assert len(rec) == 39_116
    gaps = rec.gaps()
    assert [g.index for g in gaps] == [38_774]  # spec §2
    assert gaps[0].size_ns / 1e6 == pytest.approx(25.61, abs=0.01)
    assert rec.rate_hz == pytest.approx(210.19, abs=0.01)


def test_windows_by_index_and_time_and_resample():
    t, w = _rows(50)
    rec = GyroRecording(t, w, source="mem")
    win = rec.window(10)
    assert len(win) == 11 and win.t_ns[0] == t[10]
    np.testing.assert_array_equal(win.w, w[10:21])
    with pytest.raises(GyroFormatError, match="mem"):
        rec.window(45)
    cov = rec.window_time(int(t[10]) + 100, 10 * DT)
    assert cov.t_ns[0] == t[10] and cov.t_ns[-1] == t[21]
    u = rec.window_time(int(t[10]) + DT // 2, 10 * DT, samples=11)
    assert len(u) == 11 and np.all(np.diff(u.t_ns) == DT)
    np.testing.assert_allclose(u.w[0], (w[10] + w[11]) / 2, atol=1e-12)
    r = rec.resample(2e9 / DT)  # double rate: midpoints are averages
    assert len(r) == 99
    np.testing.assert_allclose(r.w[1::2], (w[:-1] + w[1:]) / 2, atol=1e-9)
    with pytest.raises(GyroFormatError, match="not inside the recording"):
        rec.window_time(int(t[0]) - 1, DT)


def test_imu_to_camera_rotation():
    t, w = _rows(20)
    R = np.array([[0.0, 1, 0], [-1, 0, 0], [0, 0, 1]])
    rec = GyroRecording(t, w, R)
    np.testing.assert_allclose(rec.w_cam, (R @ w.T).T)
    with pytest.raises(GyroFormatError, match="rotation"):
        GyroRecording(t, w, np.eye(3) * 2)


def test_validate_in_memory_and_isolated_spike_is_only_a_warning(caplog):
    t, w = _rows(30)
    w[7] = [40.0, 0, 0]  # a single glitch above 35 rad/s: warned, not rejected
    validate_gyro(t, w, "mem")
    with pytest.raises(GyroFormatError, match="shape|expected"):
        validate_gyro(t, w[:, :2], "mem")
