"""Issue 13 item 1 (synth): a dataset folder belongs to one recipe; other recipes are refused unless
``--overwrite``, which swaps the new dataset in at once; the same recipe resumes and a finished one is left alone.
States are compared by the sha256 of every file (the manifest without its ``created`` stamp where two runs are
compared)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from gyrobench.builder.pipeline import synthesize
from gyrobench.cli import main
from gyrobench.errors import ShardError

ROOT = Path(__file__).resolve().parents[1]


def files_hash(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def dataset_state(folder: Path) -> dict:
    """Every shard's sha256 and the manifest without its run stamp (date, machine, seconds)."""
    man = json.loads((folder / "manifest.json").read_text())
    man.pop("created")
    return {"files": {k: v for k, v in files_hash(folder).items() if k != "manifest.json"}, "manifest": man}


@pytest.fixture()
def finished(tmp_path):
    out = tmp_path / "ds"
    synthesize("smoke", out, limit=2)
    return out


def test_another_seed_is_refused_naming_the_difference_and_the_fix(finished, capsys):
    before = files_hash(finished)
    assert main(["synth", "smoke", "--out", str(finished), "--limit", "2", "--set", "seed=99"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "holds a finished dataset made from a different recipe" in err[0]
    assert "seed: 1234 -> 99" in err[0] and "--overwrite" in err[0] and "new --out" in err[0]
    assert main(["synth", "smoke", "--out", str(finished), "--limit", "2", "--set", "storage.shard_size=3"]) == 2
    assert "storage.shard_size: 2 -> 3" in capsys.readouterr().err  # the same rule as for the seed
    assert main(["synth", "smoke", "--out", str(finished)]) == 2
    assert "limit: 2 -> None" in capsys.readouterr().err
    assert files_hash(finished) == before


def test_same_recipe_on_a_finished_dataset_rewrites_nothing(finished):
    before = files_hash(finished)
    mtime = (finished / "manifest.json").stat().st_mtime_ns
    synthesize("smoke", finished, limit=2)
    assert files_hash(finished) == before and (finished / "manifest.json").stat().st_mtime_ns == mtime


def test_an_interrupted_run_of_another_recipe_is_refused_too(finished):
    (finished / "manifest.json").unlink()  # as if killed before the manifest was written
    with pytest.raises(ShardError, match="holds an interrupted run made from a different recipe.*seed: 1234 -> 7"):
        _synth_seed(finished, 7)


def _synth_seed(out: Path, seed: int, **kw):
    from gyrobench.builder.recipe import load_recipe

    return synthesize(load_recipe("smoke", [f"seed={seed}"]), out, limit=2, **kw)


def test_overwrite_replaces_the_dataset_with_the_new_recipe(finished, tmp_path):
    ref = tmp_path / "ref"
    _synth_seed(ref, 99)
    assert main(["synth", "smoke", "--out", str(finished), "--limit", "2", "--set", "seed=99", "--overwrite"]) == 0
    assert dataset_state(finished)["files"] == dataset_state(ref)["files"]
    assert json.loads((finished / "manifest.json").read_text())["seed"] == 99
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "ref"]  # no temporary folder left


_KILLER = r"""
import os, signal, sys
import gyrobench.builder.pipeline as pipe
from gyrobench.cli import main
orig, done = pipe.make_shard, []
def make_shard(*a, **k):
    entry = orig(*a, **k)
    done.append(entry)
    if len(done) == 1:  # one new shard written, the other not yet
        os.kill(os.getpid(), signal.SIGKILL)
    return entry
pipe.make_shard = make_shard
sys.exit(main(sys.argv[1:]))
"""


def test_kill9_during_overwrite_leaves_the_old_dataset(finished, tmp_path):
    before = files_hash(finished)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    argv = ["synth", "smoke", "--out", str(finished), "--limit", "2", "--set", "seed=99", "--overwrite"]
    proc = subprocess.run([sys.executable, "-c", _KILLER, *argv], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert files_hash(finished) == before  # the old dataset, whole
    # a kill -9 leaves the folder's lock (stale: its process is gone; the next run takes it over)
    leftovers = [p for p in tmp_path.iterdir() if p.name != "ds" and not p.name.startswith(".gyrobench-lock")]
    assert leftovers and any(leftovers[0].glob("shard-*.h5"))  # the half-built new one, aside
    ref = tmp_path.parent / f"{tmp_path.name}-ref"
    _synth_seed(ref, 99)
    assert main(argv) == 0  # the next run removes the leftovers and completes
    assert dataset_state(finished)["files"] == dataset_state(ref)["files"]
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]
