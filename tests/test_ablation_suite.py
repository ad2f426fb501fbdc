"""The CPU ablation suite (issue 22 item 4) and the options it needs: per-run seeds, a fixed field mix
(``train_alpha``, ablation b) and the M ablation on on-the-fly data."""

from __future__ import annotations

import pytest

from gyrobench.config import from_dict
from gyrobench.errors import RecipeError
from gyrobench.study.suite import load_suite, parse_suite, run_seeds, train_mapping
from gyrobench.train.config import TrainConfig

PAPER_ABLATIONS = ("(a)", "(b)", "(c)", "(d)", "(e)", "(f)", "(g)", "M = 2", "M = 16")


def test_ablation_suite_covers_the_paper_table(repo_root):
    suite = load_suite(repo_root / "studies" / "cpu-ablation.yaml")
    labels = [r.label for r in suite.runs]
    for tag in PAPER_ABLATIONS:
        assert any(lbl.startswith(tag) for lbl in labels), tag
    by = {r.label.split()[0]: i for i, r in enumerate(suite.runs)}
    for tag in ("(a)", "(f)", "(g)"):
        assert len(run_seeds(suite, by[tag])) >= 3, tag
    cfgs = {tag: from_dict(TrainConfig, train_mapping(suite, i, seed=1, steps=10, data_root="."))
            for tag, i in by.items()}
    assert cfgs["(g)"].curriculum and not cfgs["(f)"].curriculum
    assert cfgs["(b)"].train_alpha == 0.0 and not cfgs["(b)"].curriculum
    assert cfgs["(a)"].model.options["use_gyro"] is False
    assert cfgs["(c)"].model.options["refine"] == "none" and cfgs["(d)"].model.options["refine"] == "gyro_only"
    assert cfgs["(e)"].model.options["offsets"] == "gyro"
    m2 = from_dict(TrainConfig, train_mapping(suite, labels.index("M = 2"), seed=1, steps=10, data_root="."))
    assert m2.model.options["M"] == 2 and m2.data.motion_field.M == 2
    for c in cfgs.values():  # every row trains with the live-gyro recipe
        assert c.model.options["gdb_residual"] and c.model.options["gyro_norm"] and c.model.options["max_offset"] == 2
        assert c.schedule.lr_mult == {"offset_conv": 0.01, "modulator_conv": 0.01}


def _suite(**run):
    return {"name": "s", "dataset": {"recipe": "smoke"}, "seeds": [1, 2], "budget": {"rule": "steps", "steps": 2},
            "runs": [{"label": "a", "model": {"name": "nafnet"}, **run}]}


def test_run_seeds_must_be_suite_seeds():
    assert run_seeds(parse_suite(_suite(seeds=[2])), 0) == [2]
    assert run_seeds(parse_suite(_suite()), 0) == [1, 2]
    with pytest.raises(RecipeError, match="seeds"):
        parse_suite(_suite(seeds=[3]))


def test_train_alpha_fixes_the_mix_and_excludes_the_curriculum(tmp_path):
    from gyrobench.train.trainer import Trainer

    base = {"model": {"name": "nafnet"}, "data": {"root": str(tmp_path)}, "schedule": {"steps": 1}}
    with pytest.raises(RecipeError, match="train_alpha"):
        from_dict(TrainConfig, {**base, "train_alpha": 0.0, "curriculum": True})
    with pytest.raises(RecipeError, match="train_alpha"):
        from_dict(TrainConfig, {**base, "train_alpha": 1.5, "curriculum": False})
    cfg = from_dict(TrainConfig, {**base, "train_alpha": 0.0, "curriculum": False})
    assert Trainer.alpha(type("T", (), {"cfg": cfg})(), 0) == 0.0


def test_online_fields_follow_the_model_segments(repo_root):
    from gyrobench.builder.onthefly import OnTheFlyDataset
    from gyrobench.train.online import OnlineSection

    online = OnlineSection(images="builtin:deadleaves", deadleaves={"supersample": 1})
    assert OnTheFlyDataset(online, crop=16, seed=0, size=1)[0]["cmf_clean"].shape[0] == 16  # M = 8
    assert OnTheFlyDataset(online, crop=16, seed=0, size=1, segments=2)[0]["cmf_clean"].shape[0] == 4
