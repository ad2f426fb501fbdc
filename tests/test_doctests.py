"""Every docstring example in the package runs (issue 12 item 6): the modules' ``>>>`` examples are tests.

Modules are found by reading the source (any ``>>>`` line), so a new example is run without listing it here.
"""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "gyrobench"


def modules_with_examples() -> list[str]:
    out = []
    for path in sorted(ROOT.rglob("*.py")):
        if ">>>" in path.read_text(encoding="utf-8"):
            parts = path.relative_to(ROOT.parent).with_suffix("").parts
            out.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return out


def test_examples_are_found():
    mods = modules_with_examples()
    assert len(mods) >= 12 and "gyrobench.gyro.cmf" in mods and "gyrobench.config" in mods


@pytest.mark.parametrize("name", modules_with_examples())
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS, verbose=False)
    assert result.attempted > 0, f"{name}: no example was collected (a '>>>' outside a docstring?)"
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed (run python -m doctest)"
