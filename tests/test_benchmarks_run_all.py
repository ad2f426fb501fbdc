"""benchmarks/run_all.py: discovery, --list, --only, and the ok/failed summary (on stand-in scripts)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest


@pytest.fixture()
def run_all(repo_root):
    spec = importlib.util.spec_from_file_location("run_all", repo_root / "benchmarks" / "run_all.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_list_names_every_benchmark(repo_root):
    out = subprocess.run([sys.executable, str(repo_root / "benchmarks" / "run_all.py"), "--list"],
                         capture_output=True, text=True, check=True).stdout
    for script in sorted((repo_root / "benchmarks").glob("bench_*.py")):
        assert script.stem.removeprefix("bench_") in out and script.name in out


def test_only_selects_and_rejects_unknown(run_all):
    scripts = run_all.discover()
    assert [p.name for p in run_all.select(scripts, ["cmf", "bench_handshake.py"])] == ["bench_cmf.py",
                                                                                     "bench_handshake.py"]
    with pytest.raises(ValueError, match="unknown benchmark 'nope'"):
        run_all.select(scripts, ["nope"])


def test_unknown_only_is_a_usage_error(run_all, capsys):
    with pytest.raises(SystemExit) as exc:
        run_all.main(["--only", "nope"])
    assert exc.value.code == 2 and "unknown benchmark 'nope'" in capsys.readouterr().err


def test_summary_and_exit_status(run_all, tmp_path, monkeypatch, capsys):
    bench = tmp_path / "benchmarks"
    bench.mkdir()
    (bench / "bench_good.py").write_text("print('fine')\n")
    (bench / "bench_bad.py").write_text("import sys\nprint('broken here')\nsys.exit(3)\n")
    monkeypatch.setattr(run_all, "HERE", bench)
    assert run_all.main(["--only", "good"]) == 0
    assert run_all.main([]) == 1
    out = capsys.readouterr().out
    assert "good" in out and "ok" in out and "FAILED" in out and "broken here" in out
    assert "1/2 benchmarks ok; failed: bad" in out
