"""The published CPU study's suite (issue 9) validates: every run through TrainConfig, the recipe, the splits, and
no run trains on a validation or test image."""

from __future__ import annotations

import pytest

from gyrobench.builder.recipe import load_recipe
from gyrobench.study.suite import load_suite, train_mapping


def test_cpu_suite_and_recipe_validate(repo_root):
    suite = load_suite(repo_root / "studies" / "cpu.yaml")
    assert suite.budget.rule == "steps" and suite.budget.steps == 2000
    labels = [r.label for r in suite.runs]
    for label in ("GyroDeblurNet small + Wiener prior", "GyroDeblurNet small, no gyro", "NAFNet small",
                  "GyroDeblurNet small (official gyro path)", "DeepGyro small", "EggNet small"):
        assert label in labels, label
    shuffled = {r.label for r in suite.runs for e in r.evals if e.gyro_field == "shuffled"}
    gyro_runs = {r.label for r in suite.runs if r.model["name"] in ("deepgyro", "eggnet")
                 or (r.model["name"] == "gyrodeblurnet" and r.model.get("options", {}).get("use_gyro", True)
                     and "dead leaves" not in r.label)}
    assert gyro_runs <= shuffled, gyro_runs - shuffled  # every Kodak-trained gyro model is also scored blind-folded
    recipe = load_recipe(repo_root / "studies" / "cpu-data.yaml")
    splits = {s.name: s for s in recipe.splits}
    held_out = set(range(*splits["val"].image_range)) | set(range(*splits["test"].image_range))
    assert set(range(*splits["test"].image_range)) == set(range(6, 12))
    assert recipe.gyro_for(splits["test_strong"]).strength == 1.9
    for i, run in enumerate(suite.runs):
        online = train_mapping(suite, i, seed=1, steps=1, data_root="<study>/data")["data"]["online"]
        if online["images"] == "builtin:kodak":
            assert not set(range(*online["image_range"])) & held_out, run.label
        else:
            assert online["images"] == "builtin:deadleaves", run.label


@pytest.mark.parametrize("name", ["cpu-seeds.yaml", "cpu-seeds-45.yaml"])
def test_seed_suite_repeats_the_published_runs(repo_root, name):
    """``studies/cpu-seeds*.yaml`` (the seed spread of the CPU study) train exactly the published runs of the same
    labels: the same training configuration for a given seed, the same dataset and test splits, other seeds."""
    main = load_suite(repo_root / "studies" / "cpu.yaml")
    seeds = load_suite(repo_root / "studies" / name)
    others = [load_suite(p) for p in sorted((repo_root / "studies").glob("cpu-seeds*.yaml")) if p.name != name]
    assert not set(seeds.seeds) & set(main.seeds).union(*(o.seeds for o in others))
    assert seeds.dataset == main.dataset and seeds.budget == main.budget and seeds.protocol == main.protocol
    index = {r.label: i for i, r in enumerate(main.runs)}
    for j, run in enumerate(seeds.runs):
        i = index[run.label]
        assert run.evals == main.runs[i].evals, run.label
        for seed in seeds.seeds:
            assert train_mapping(seeds, j, seed=seed, steps=2000, data_root="D") == \
                train_mapping(main, i, seed=seed, steps=2000, data_root="D"), run.label


def test_suite_paths_are_relative_to_the_suite(repo_root, tmp_path, monkeypatch):
    """Issue 24 item 3: ``data.online.recipe`` (and a folder ``data.online.images``) are resolved against the
    suite's folder, like ``dataset.recipe``. Loaded as published (from the repository root, ``studies/cpu.yaml``),
    the runs' configs name ``studies/cpu-data.yaml``, as the published run configs (and their sha256) do."""
    import shutil

    import yaml

    monkeypatch.chdir(repo_root)
    for name in ("cpu.yaml", "cpu-seeds.yaml", "cpu-seeds-45.yaml"):
        suite = load_suite(f"studies/{name}")
        assert suite.dataset.recipe == "studies/cpu-data.yaml"
        for i, run in enumerate(suite.runs):
            online = train_mapping(suite, i, seed=1, steps=1, data_root="D")["data"]["online"]
            assert online["recipe"] == "studies/cpu-data.yaml", (name, run.label)
    # elsewhere: the files beside the suite, wherever the working directory is
    folder = tmp_path / "my-study"
    folder.mkdir()
    shutil.copy(repo_root / "studies" / "cpu-data.yaml", folder / "cpu-data.yaml")
    (folder / "imgs").mkdir()
    d = yaml.safe_load((repo_root / "studies" / "cpu.yaml").read_text())
    d["runs"] = d["runs"][:2]
    d["runs"][1]["data"] = {"online": {"images": "imgs", "image_range": None}}
    (folder / "suite.yaml").write_text(yaml.safe_dump(d))
    monkeypatch.chdir(tmp_path.parent)
    suite = load_suite(folder / "suite.yaml")
    onl = [train_mapping(suite, i, seed=1, steps=1, data_root="D")["data"]["online"] for i in range(2)]
    assert suite.dataset.recipe == onl[0]["recipe"] == onl[1]["recipe"] == str(folder / "cpu-data.yaml")
    assert onl[0]["images"] == "builtin:kodak" and onl[1]["images"] == str(folder / "imgs")
