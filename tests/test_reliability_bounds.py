"""Issue 13 item 4: inputs that set the amount of work are bounded (an error naming the key, not a silent clamp
or an endless run), and synthesis shows progress per sample."""

from __future__ import annotations

import pytest
from test_train_support import tiny_config, write_tiny_dataset

from gyrobench.builder.recipe import load_recipe
from gyrobench.cli import main
from gyrobench.errors import RecipeError
from gyrobench.train.trainer import train


@pytest.mark.parametrize("override,words", [
    ("exposure.samples=1000000", "samples must be 2..1000"),
    ("exposure.samples=1", "samples must be 2..1000"),
    ("splits.0.size=1000000000", "size must be <= 10,000,000"),
    ("splits.0.size=0", "size must be >= 1"),
    ("camera.width=100000", "width and height must be 1..16384"),
    ("substeps.max_per_interval=100000", "max_per_interval must be <= 1024"),
    ("storage.shard_size=0", "shard_size must be 1..100,000"),
    ("storage.cmf_segments=100000", "cmf_segments must be 1..256"),
])
def test_recipe_values_that_set_the_work_are_bounded(override, words, tmp_path, capsys):
    assert main(["synth", "smoke", "--out", str(tmp_path / "o"), "--set", override]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0] and "smoke" in err[0], err
    assert not (tmp_path / "o").exists()


def test_image_range_past_the_images_is_an_error_not_a_clamp(tmp_path, capsys):
    # the builtin Kodak set has 12 images: [9, 40] used to be cut silently to [9, 12]
    assert main(["synth", "smoke", "--out", str(tmp_path / "o"), "--set", "splits.1.image_range=[9, 40]"]) == 2
    err = capsys.readouterr().err
    assert "splits.test.image_range [9, 40] reaches past the 12 images" in err and "at most 12" in err


@pytest.mark.parametrize("over,words", [
    ({"data": {"crop": 1 << 20}}, "above the limit of 16384"),
    ({"schedule": {"steps": 0}}, "steps=0: must be at least 1"),
    ({"schedule": {"steps": None, "epochs": 0}}, "epochs=0: must be at least 1"),
    ({"schedule": {"batch_size": 0}}, "batch_size=0: must be at least 1"),
    ({"logging": {"log_every": 0}}, "log_every=0"),
])
def test_train_config_values_are_bounded(over, words, tmp_path):
    root = write_tiny_dataset(tmp_path / "tiny", n_train=4, n_test=2)
    with pytest.raises(RecipeError, match=words):
        train(tiny_config(root, **over), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_synthesis_reports_progress_per_sample(tmp_path, monkeypatch):
    """With one worker the bar advances after every sample (a shard of many slow samples is not silent)."""
    import gyrobench.builder.pipeline as pipe

    updates = []

    class Bar:
        def __init__(self, *a, total=None, **k):
            self.total = total

        def update(self, n=1):
            updates.append(n)

        def close(self):
            pass

    monkeypatch.setattr(pipe, "progress", Bar)
    recipe = load_recipe("smoke", ["storage.shard_size=3"])
    pipe.synthesize(recipe, tmp_path / "d", limit=3)
    assert updates == [1] * 6  # 3 train + 3 test samples, one update each (not one per 3-sample shard)


def test_dataset_verification_reports_progress_in_bytes(tmp_path, monkeypatch):
    """Verifying a dataset (inspect, training and evaluation loaders) hashes every shard: the bar counts bytes."""
    import json

    import gyrobench.data.shards as shards

    root = write_tiny_dataset(tmp_path / "tiny", n_train=8, n_test=2)
    seen = {}

    class Bar:
        def __init__(self, *a, total=None, **k):
            seen["total"], seen["done"] = total, 0

        def update(self, n=1):
            seen["done"] += n

        def close(self):
            pass

    monkeypatch.setattr(shards, "progress", Bar)
    shards.verify_dataset(root)
    size = sum(e["bytes"] for e in json.loads((root / "manifest.json").read_text())["shards"])
    assert seen == {"total": size, "done": size} and size > 0
