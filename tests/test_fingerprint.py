"""A dataset's identity is its content (issue 12 item 7): the same recipe synthesized twice, on different days,
machines or commits, gives records that one leaderboard ranks in one group; the manifest file's hash (which
includes the run's ``created`` block) stays in the records as provenance only."""

from __future__ import annotations

import json

from gyrobench.builder.pipeline import synthesize
from gyrobench.cli import main as cli_main
from gyrobench.data.manifest import content_fingerprint, write_json_atomic
from gyrobench.provenance import sha256_file


def _eval(data, out):
    assert cli_main(["eval", "--model", "identity", "--data", str(data), "--out", str(out), "--metrics", "psnr",
                     "--crops", "0"]) == 0
    return json.loads((out / "results.json").read_text())


def test_fingerprint_ignores_run_specific_fields_only():
    man = {"recipe_sha256": "r" * 64, "name": "smoke", "versions": {"torch": "2.13"},
           "shards": [{"file": "shard-00000.h5", "split": "test", "samples": 2, "sha256": "a" * 64, "bytes": 9,
                       "first_index": 0}],
           "created": {"date": "2026-12-03T08:00:00Z", "git_commit": "1" * 40, "machine": {"host": "a"}}}
    fp = content_fingerprint(man)
    other_run = {**man, "versions": {"torch": "9"},
                 "created": {"date": "2027-01-01T00:00:00Z", "git_commit": "2" * 40, "machine": {"host": "b"}}}
    assert content_fingerprint(other_run) == fp
    assert content_fingerprint({**man, "recipe_sha256": "s" * 64}) != fp
    changed = [{**man["shards"][0], "sha256": "b" * 64}]
    assert content_fingerprint({**man, "shards": changed}) != fp


def test_same_recipe_synthesized_twice_ranks_in_one_group(smoke_data, tmp_path):
    again = tmp_path / "again"
    synthesize("smoke", again, command="the same recipe, another run")
    # another day, machine and commit: the run-specific block of the second manifest says so
    man = json.loads((again / "manifest.json").read_text())
    man["created"].update(date="2031-06-01T12:00:00Z", git_commit="f" * 40, machine={"hostname": "another-lab"})
    write_json_atomic(again / "manifest.json", man)
    first = json.loads((smoke_data / "manifest.json").read_text())
    assert sha256_file(again / "manifest.json") != sha256_file(smoke_data / "manifest.json")
    assert man["fingerprint"] == first["fingerprint"] == content_fingerprint(first)

    a, b = _eval(smoke_data, tmp_path / "ev" / "a"), _eval(again, tmp_path / "ev" / "b")
    assert a["dataset_fingerprint"] == b["dataset_fingerprint"] == first["fingerprint"]
    assert a["dataset_manifest_sha256"] != b["dataset_manifest_sha256"]  # provenance differs

    board = tmp_path / "board"
    assert cli_main(["leaderboard", str(tmp_path / "ev"), "--out", str(board), "--no-plots"]) == 0
    groups = json.loads((board / "leaderboard.json").read_text())["groups"]
    assert len(groups) == 1 and len(groups[0]["records"]) == 2
    assert groups[0]["dataset_fingerprint"] == first["fingerprint"]
    md = (board / "table.md").read_text()
    assert "## 1." in md and "## 2." not in md
    for sha in (a["dataset_manifest_sha256"], b["dataset_manifest_sha256"]):  # both kept in the traceability table
        assert sha[:12] in md


def test_another_seed_is_another_dataset(smoke_data, tmp_path):
    other = tmp_path / "seed"
    assert cli_main(["synth", "smoke", "--out", str(other), "--set", "seed=99", "--limit", "1"]) == 0
    assert json.loads((other / "manifest.json").read_text())["fingerprint"] != \
        json.loads((smoke_data / "manifest.json").read_text())["fingerprint"]
    _eval(smoke_data, tmp_path / "ev" / "a")
    _eval(other, tmp_path / "ev" / "b")
    board = tmp_path / "board"
    assert cli_main(["leaderboard", str(tmp_path / "ev"), "--out", str(board), "--no-plots"]) == 0
    assert len(json.loads((board / "leaderboard.json").read_text())["groups"]) == 2
