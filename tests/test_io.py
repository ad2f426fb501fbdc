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
