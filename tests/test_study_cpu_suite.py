"""The published CPU study's suite (issue 9) validates: every run through TrainConfig, the recipe, the splits."""

from __future__ import annotations

from gyrobench.build.recipe import load_recipe
from gyrobench.study.suite import load_suite


def test_cpu_suite_and_recipe_validate(repo_root):
    suite = load_suite(repo_root / "studies" / "cpu.yaml")
    assert suite.budget.rule == "steps" and suite.budget.steps == 150
    labels = [r.label for r in suite.runs]
    assert "GyroDeblurNet small" in labels and "GyroDeblurNet small, no gyro (trained)" in labels
    assert any(e.gyro_field == "shuffled" for r in suite.runs for e in r.evals)
    recipe = load_recipe(repo_root / "studies" / "cpu-data.yaml")
    splits = {s.name: s for s in recipe.splits}
    assert tuple(splits["test"].image_range) == (6, 12) and tuple(splits["val"].image_range) == (0, 6)
    assert recipe.gyro_for(splits["test_strong"]).strength == 1.9
