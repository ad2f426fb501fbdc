"""Model options are checked when a config or suite is read (issue 24 item 2): unknown keys with the closest valid
one and wrong types name the file and the key; the schema is the model's constructor, so it cannot drift."""

from __future__ import annotations

import inspect

import pytest

from gyrobench.errors import RecipeError
from gyrobench.models import available
from gyrobench.models.registry import check_options, options_schema
from gyrobench.study.suite import parse_suite
from gyrobench.train.config import load_train_config


def _write(tmp_path, model: str) -> str:
    p = tmp_path / "c.yaml"
    p.write_text(f"model: {model}\ndata: {{root: nowhere}}\nschedule: {{steps: 1}}\n")
    return str(p)


@pytest.mark.parametrize("model, match", [
    ("{name: nafnet, options: {widht: 16}}", r"c\.yaml: model: unknown key 'options\.widht' \(did you mean 'width'\?\)"),
    ("{name: gyrodeblurnet, options: {gyro_norm: 3}}", r"c\.yaml: model: options\.gyro_norm: expected true/false"),
    ("{name: gyrodeblurnet, options: {max_offset: fast}}", r"options\.max_offset"),
    ("{name: nafnett}", r"c\.yaml: model: name: unknown model 'nafnett' \(did you mean 'nafnet'\?\)"),
])
def test_bad_model_options_fail_when_the_config_is_read(tmp_path, model, match):
    with pytest.raises(RecipeError, match=match):
        load_train_config(_write(tmp_path, model))


def _arguments(cls) -> set[str]:
    """Keyword arguments of ``cls``; a ``**options`` stands for those of its base class (a model's variant)."""
    params = inspect.signature(cls).parameters.values()
    own = {p.name for p in params if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
    return own | (_arguments(cls.__mro__[1]) if any(p.kind == p.VAR_KEYWORD for p in params) else set())


def test_every_constructor_argument_is_an_option():
    for name, meta in available().items():
        schema = {f.name for f in __import__("dataclasses").fields(options_schema(name))}
        assert schema == _arguments(meta.factory), name
    assert {"cmf_scale", "width", "prior"} <= _arguments(available()["gyrodeblurnet_diagnostic"].factory)
    check_options("gyrodeblurnet", {"M": 4, "enc_blk_nums": [1, 1, 1], "max_offset": 2, "dcn_backend": "torch"})


def test_suites_check_every_run_model(tmp_path):
    suite = {"name": "s", "dataset": {"recipe": "smoke"}, "budget": {"rule": "steps", "steps": 2},
             "runs": [{"label": "a", "model": {"name": "eggnet", "options": {"mid_block": 2}}}]}
    with pytest.raises(RecipeError, match="did you mean 'mid_blocks'"):
        parse_suite(suite, source="suite.yaml")
