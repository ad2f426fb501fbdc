"""The dataset card (issue 24 item 8): ``gyrobench synth`` writes ``README.md`` with the front matter dataset hubs
read; it changes no hash, resume/overwrite/inspect tolerate it, it is written atomically, and the folder loads with
Hugging Face ``datasets`` (when installed) both from the card and with the one-line ``load_dataset("hdf5", ...)``."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

from gyrobench.builder.card import CARD, dataset_card, size_category, source_licences, write_card
from gyrobench.builder.pipeline import synthesize
from gyrobench.builder.recipe import load_recipe
from gyrobench.cli import main as cli_main
from gyrobench.data.inspect import summarize
from gyrobench.data.manifest import content_fingerprint


def front_matter(path: Path) -> tuple[dict, str]:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("---\n")
    head, body = text[4:].split("\n---\n", 1)
    return yaml.safe_load(head), body


def test_synth_writes_a_card_with_the_hub_front_matter(smoke_data):
    meta, body = front_matter(smoke_data / CARD)
    man = json.loads((smoke_data / "manifest.json").read_text())
    assert meta["pretty_name"] == "smoke"
    assert meta["license"] == "other" and meta["license_link"] == CARD  # Kodak + the packaged fitted hand-shake
    assert meta["task_categories"] == ["image-to-image"] and meta["size_categories"] == ["n<1K"]
    # one config per degradation kind (their columns differ), the first split's the default
    assert meta["configs"] == [
        {"config_name": "on_the_fly", "default": True,
         "data_files": [{"split": "train", "path": ["shard-00000.h5", "shard-00001.h5", "shard-00002.h5"]}]},
        {"config_name": "offline", "data_files": [{"split": "test", "path": ["shard-00003.h5", "shard-00004.h5"]}]}]
    assert [e["file"] for e in man["shards"]] == [p for c in meta["configs"] for d in c["data_files"] for p in d["path"]]
    assert man["fingerprint"] in body and man["recipe_sha256"] in body
    assert man["recipe"].strip() in body  # the recipe itself
    assert "Eastman Kodak" in body and "gyro_train_fit80" in body


def test_card_changes_no_hash_and_inspect_resume_ignore_it(tmp_path):
    out = tmp_path / "ds"
    man = synthesize("smoke", out, limit=1)
    assert (out / CARD).is_file()
    assert CARD not in json.dumps(man["shards"]) and man["fingerprint"] == content_fingerprint(man)
    manifest_bytes = (out / "manifest.json").read_bytes()
    assert summarize(out)["verification"].startswith("ok (")
    # resume with the card there: nothing rewritten; with it deleted: the same card again, the manifest untouched
    card = (out / CARD).read_text()
    (out / CARD).unlink()
    again = synthesize("smoke", out, limit=1)
    assert again == man and (out / "manifest.json").read_bytes() == manifest_bytes
    assert (out / CARD).read_text() == card
    # a hand-edited card is the user's documentation only until the next synth: brought back to the dataset's
    (out / CARD).write_text("my notes")
    assert synthesize("smoke", out, limit=1) == man and (out / CARD).read_text() == card
    # --overwrite with another recipe: the new dataset's card, swapped in with the shards
    assert cli_main(["synth", "smoke", "--out", str(out), "--limit", "1", "--set", "seed=5", "--overwrite"]) == 0
    new = json.loads((out / "manifest.json").read_text())
    assert new["fingerprint"] != man["fingerprint"] and new["fingerprint"] in (out / CARD).read_text()


def test_card_write_is_atomic(tmp_path, monkeypatch):
    recipe = load_recipe("smoke")
    man = {"name": "smoke", "splits": {"test": {"samples": 1, "shards": 1, "degradation": "offline",
                                                "preset": "gyrodeblurnet_official"}},
           "shards": [{"file": "shard-00000.h5", "split": "test", "samples": 1}], "fingerprint": "f" * 64,
           "recipe_sha256": "r" * 64, "seed": 1, "recipe": recipe.text, "image": {}}
    (tmp_path / CARD).write_text("old card")

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_card(tmp_path, man, recipe)
    assert (tmp_path / CARD).read_text() == "old card" and [p.name for p in tmp_path.iterdir()] == [CARD]
    monkeypatch.undo()
    assert write_card(tmp_path, man, recipe).read_text() == dataset_card(man, recipe)


def test_licence_is_unknown_when_a_source_is_the_users(tmp_path):
    assert all(s.known for s in source_licences(load_recipe("smoke")))
    leaves = source_licences(load_recipe("smoke", ["sources.images=builtin:deadleaves"]))
    assert [s.known for s in leaves] == [True, True] and "procedural" in leaves[0].licence
    (tmp_path / "img").mkdir()
    rec = load_recipe("smoke", [f"sources.images={tmp_path / 'img'}",
                                "splits.1.gyro={kind: files, file: gyro_train.txt}"])
    got = {(s.kind, s.source): (s.known, s.splits) for s in source_licences(rec)}
    assert got == {("images", str(tmp_path / "img")): (False, ("train", "test")),
                   ("gyro", "fitted"): (True, ("train",)), ("gyro", "files (gyro_train.txt)"): (False, ("test",))}
    man = {"name": "x", "splits": {"train": {"samples": 1, "shards": 1, "degradation": "offline", "preset": "p"},
                                   "test": {"samples": 1, "shards": 1, "degradation": "offline", "preset": "p"}},
           "shards": [], "recipe": ""}
    meta = yaml.safe_load(dataset_card(man, rec).split("---\n")[1])
    assert meta["license"] == "unknown" and "license_name" not in meta


@pytest.mark.parametrize("n, label", [(1, "n<1K"), (999, "n<1K"), (1000, "1K<n<10K"), (15240, "10K<n<100K"),
                                      (100_000, "100K<n<1M"), (5_000_000, "1M<n<10M"), (2 * 10**9, "n>1B")])
def test_size_category(n, label):
    assert size_category(n) == label


HAS_DATASETS = importlib.util.find_spec("datasets") is not None


@pytest.mark.skipif(not HAS_DATASETS, reason="needs Hugging Face datasets (pip install -e '.[dev]' installs it)")
def test_hugging_face_datasets_loads_the_folder(smoke_data, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    import datasets

    man = json.loads((smoke_data / "manifest.json").read_text())
    files = {sp: [str(smoke_data / e["file"]) for e in man["shards"] if e["split"] == sp] for sp in man["splits"]}
    # the one-line load of docs/datasets.md, one split (one set of columns) at a time
    test = datasets.load_dataset("hdf5", data_files={"test": files["test"]}, cache_dir=str(tmp_path / "c1"))["test"]
    # from the card's configs: the default (on-the-fly train) and the offline test split with its deg_* columns
    train = datasets.load_dataset(str(smoke_data), cache_dir=str(tmp_path / "c2"))
    assert list(train) == ["train"]
    test_card = datasets.load_dataset(str(smoke_data), "offline", cache_dir=str(tmp_path / "c3"))["test"]
    for ds, shard in ((test, "shard-00003.h5"), (test_card, "shard-00003.h5"), (train["train"], "shard-00000.h5")):
        assert ds.num_rows == {"test": 3, "train": 6}[ds.split]
        with h5py.File(smoke_data / shard, "r") as f:
            assert set(ds.column_names) == set(f)  # every field a column
            row = ds[0]
            np.testing.assert_array_equal(np.asarray(row["sharp"], dtype=f["sharp"].dtype), f["sharp"][0])
            np.testing.assert_array_equal(np.asarray(row["gyro_w"]), f["gyro_w"][0])
    assert any(c.startswith("deg_") for c in test_card.column_names)
