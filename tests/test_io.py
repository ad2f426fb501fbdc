"""gyrobench.io: atomic writes leave either the old file or the complete new one, never a temporary file."""

from __future__ import annotations

import pytest

from gyrobench.io import atomic_open, write_text_atomic


def test_write_and_replace(tmp_path):
    path = tmp_path / "sub" / "a.json"
    assert write_text_atomic(path, "one\n") == path and path.read_text() == "one\n"
    with atomic_open(path, "wb") as fh:
        fh.write(b"two")
    assert path.read_bytes() == b"two"
    assert sorted(p.name for p in path.parent.iterdir()) == ["a.json"]


def test_error_keeps_old_file_and_removes_temp(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_open(path) as fh:
            fh.write("half")
            raise RuntimeError("crash")
    assert path.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]
    with pytest.raises(ValueError, match="mode"):
        with atomic_open(path, "a"):
            pass


class _Boom(Exception):
    pass


def _gyro_file(tmp_path):
    lines = [f"{10**12 + i * 4_757_600} {0.1 * (i % 3):.3f} 0.2 -0.1" for i in range(20)]
    p = tmp_path / "g.txt"
    p.write_text("\n".join(lines) + "\n")
    return p


def _write_csv(path, tmp_path):
    from gyrobench.results import write_per_image_csv

    write_per_image_csv([{"sample_id": "a", "psnr": 30.0}], path, ["psnr"])


def _write_board_file(path, tmp_path):
    from gyrobench.leaderboard.publish import _write

    _write(path, "new\n")


def _write_gyro(path, tmp_path):
    from types import SimpleNamespace

    import numpy as np

    from gyrobench.gyro.handshake import write_gyro_text

    write_gyro_text(path, SimpleNamespace(t_ns=np.arange(3) * 1000, w=np.zeros((3, 3))))


def _write_cmf(path, tmp_path):
    from gyrobench.cli import main

    main(["cmf", "--gyro", str(_gyro_file(tmp_path)), "--start", "0", "--intrinsics", "demo", "--out", str(path)])


@pytest.mark.parametrize("writer, name", [(_write_csv, "per_image.csv"), (_write_board_file, "table.md"),
                                          (_write_gyro, "rec.txt"), (_write_cmf, "f.npy")])
def test_writers_are_atomic(tmp_path, monkeypatch, writer, name):
    """A crash before the final rename leaves the previous file untouched (each writer goes through gyrobench.io)."""
    import gyrobench.io

    out = tmp_path / "out"
    out.mkdir()
    path = out / name
    path.write_bytes(b"OLD")

    def boom(src, dst):
        raise _Boom("crash before rename")

    monkeypatch.setattr(gyrobench.io.os, "replace", boom)
    with pytest.raises(_Boom):
        writer(path, tmp_path)
    assert path.read_bytes() == b"OLD" and sorted(p.name for p in out.iterdir()) == [name]
    monkeypatch.undo()
    writer(path, tmp_path)
    assert path.read_bytes() != b"OLD" and sorted(p.name for p in out.iterdir()) == [name]


def test_cmf_out_in_missing_folder_is_an_error(tmp_path, capsys):
    from gyrobench.cli import main

    out = tmp_path / "nonexist" / "x.npy"
    assert main(["cmf", "--gyro", str(_gyro_file(tmp_path)), "--start", "0", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nonexist" in err[0] and "does not exist" in err[0]
    assert not out.parent.exists()
