"""Recipes: builtin copies, typed validation, errors naming file and key (through the CLI), overrides."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from gyrobench.builder.recipe import builtin_recipes, load_recipe
from gyrobench.cli import main as cli_main
from gyrobench.errors import RecipeError

ROOT = Path(__file__).resolve().parents[1]


def test_builtin_recipes_have_one_copy_in_the_package():
    names = builtin_recipes()
    assert {"smoke", "demo", "gyroblur-synth"} <= set(names)
    for name in names:
        assert Path(names[name]).resolve() == (ROOT / "gyrobench" / "recipes" / f"{name}.yaml").resolve()
    # the user-facing recipes/ folder holds users' recipes only: no copy of (or link to) a builtin
    packaged = {Path(p).read_bytes() for p in names.values()}
    for p in (ROOT / "recipes").rglob("*"):
        assert p.name[:-5] not in names or p.suffix != ".yaml", f"{p}: a copy of builtin {p.stem}; load it by name"
        assert not p.is_file() or p.read_bytes() not in packaged, f"{p}: a copy of a builtin recipe"


def test_demo_recipe_matches_interfaces_section_9():
    r = load_recipe("demo")
    assert (r.camera.width, r.camera.height) == (500, 500)
    assert r.camera.intrinsics() == (561.5, 561.5, 250.0, 250.0)
    assert r.camera.crop_box() == (10, 10, 480, 480)
    assert r.sources.images == "builtin:kodak" and r.sources.gyro.kind == "fitted"
    # 48 deg horizontal FOV, independently: fx = (W/2) / tan(24 deg)
    assert abs(250 / math.tan(math.radians(24)) - 561.5) < 0.05


def test_gyroblur_synth_recipe_is_paper_scale():
    r = load_recipe(ROOT / "gyrobench" / "recipes" / "gyroblur-synth.yaml")
    assert [(s.name, s.size) for s in r.splits] == [("train", 14600), ("test", 640)]
    assert r.camera.crop_box() == (320, 180, 1280, 720)
    assert r.camera.intrinsics() == (2139.03493, 2133.82853, 960.0, 540.0)
    assert r.exposure.samples == 11 and r.substeps.min_per_interval == 8


def test_hfov_gives_centred_intrinsics(tmp_path):
    p = tmp_path / "r.yaml"
    d = yaml.safe_load((ROOT / "gyrobench" / "recipes" / "smoke.yaml").read_text())
    p.write_text(yaml.safe_dump(d))
    r = load_recipe(p)
    fx, fy, cx, cy = r.camera.intrinsics()
    assert fx == fy and abs(fx - 32 / math.tan(math.radians(24))) < 1e-9 and (cx, cy) == (32, 32)


def _write(tmp_path, mutate) -> Path:
    d = yaml.safe_load((ROOT / "gyrobench" / "recipes" / "smoke.yaml").read_text())
    mutate(d)
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump(d, sort_keys=False))
    return p


@pytest.mark.parametrize("mutate, needle", [
    (lambda d: d["camera"].update(focal=3), "unknown key 'camera.focal'"),
    (lambda d: d.update(sedd=3), "unknown key 'sedd' (did you mean 'seed'?)"),
    (lambda d: d["splits"][0].update(size=0), "size must be >= 1"),
    (lambda d: d["splits"][0].update(size="many"), "splits[0].size: expected an integer"),
    (lambda d: d["camera"].update(crop_size=[80, 80]), "does not fit in the 64x64 frame"),
    (lambda d: d["camera"].update(crop_size=[47, 48]), "must be even"),
    (lambda d: d["degradation"].update(preset="nope"), "unknown preset 'nope'"),
    (lambda d: d["storage"].update(dtype="float32"), "storage.dtype: 'float32' is not one of"),
    (lambda d: d["storage"].update(store_cmf="yes"), "storage.store_cmf"),
    (lambda d: d["sources"]["gyro"].update(kind="files"), "kind 'files' needs 'file'"),
    (lambda d: d["sources"]["gyro"].update(starting_point_base=2), "starting_point_base must be 0 or 1"),
    (lambda d: d["splits"].append(dict(d["splits"][0])), "names must be unique"),
    (lambda d: d["camera"].update(fx=100.0), "either hfov_deg or fx"),
    (lambda d: d["error_model"].update(noise_sd=1.0), "error_model.noise_sd"),
])
def test_bad_recipes_raise_naming_file_and_key(tmp_path, mutate, needle):
    p = _write(tmp_path, mutate)
    with pytest.raises(RecipeError) as exc:
        load_recipe(p)
    assert str(p) in str(exc.value) and needle in str(exc.value), str(exc.value)


def test_unknown_key_through_cli(tmp_path, capsys):
    p = _write(tmp_path, lambda d: d["storage"].update(shard_sise=3))
    rc = cli_main(["synth", str(p), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and str(p) in err and "storage.shard_sise" in err and "shard_size" in err
    assert not (tmp_path / "o" / "manifest.json").exists()


def test_bad_value_through_cli(tmp_path, capsys):
    p = _write(tmp_path, lambda d: d["substeps"].update(max_step_px=-1))
    assert cli_main(["synth", str(p), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert str(p) in err and "max_step_px must be > 0" in err


def test_unknown_recipe_name(capsys):
    assert cli_main(["synth", "no-such-recipe", "--out", "/tmp/x"]) == 2
    assert "recipe not found" in capsys.readouterr().err


def test_overrides_apply_and_are_recorded():
    r = load_recipe("smoke", ["splits.0.size=3", "storage.dtype=uint8", "seed=99"])
    assert r.splits[0].size == 3 and r.storage.dtype == "uint8" and r.seed == 99
    assert "size: 3" in r.text and r.sha256 != load_recipe("smoke").sha256
    with pytest.raises(RecipeError, match="not an index"):
        load_recipe("smoke", ["splits.9.size=3"])
    with pytest.raises(RecipeError, match="KEY=VALUE"):
        load_recipe("smoke", ["seed"])


def test_unset_environment_variable_is_named(monkeypatch, tmp_path):
    from gyrobench.builder.sources import list_images

    monkeypatch.delenv("GYROBENCH_4KRD", raising=False)
    r = load_recipe(ROOT / "gyrobench" / "recipes" / "gyroblur-synth.yaml")
    with pytest.raises(RecipeError, match="GYROBENCH_4KRD is not set"):
        list_images(r)
    monkeypatch.setenv("GYROBENCH_4KRD", str(tmp_path))
    with pytest.raises(Exception, match=str(tmp_path / "train")):
        list_images(r)


def test_recipe_sha_is_stable_and_content_based(tmp_path):
    a = load_recipe("smoke")
    p = tmp_path / "same.yaml"
    p.write_text("# a comment changes nothing\n" + (ROOT / "gyrobench" / "recipes" / "smoke.yaml").read_text())
    assert load_recipe(p).sha256 == a.sha256
