"""Data flows one way (issue 12 item 1; docs/architecture.md): the package's import graph, read from the source
with ``ast`` (function-local imports included), has no cycle, and no layer imports a layer above it.

The layers (each may import only the layers listed for it, and itself):

- ``color`` imports nothing from the package; ``base`` (errors, log, io, provenance, config, device, assets, folders,
  textfiles, the package root) imports only ``base``;
- ``gyro``: base; ``synth`` (render and degrade) and ``viz``: gyro, color, base;
- ``data`` (file format, readers): gyro, color, viz, base; ``build`` (recipes, sources, seeding, synthesis,
  import): synth, data, gyro, color, capture (hand-shake from captures), base;
- ``models``: base; ``results``: base; ``metrics``: results, color, base; ``leaderboard``: results, base;
- ``train``: build, synth, data, models, gyro, color, base; ``evaluate``: train, metrics, models, results, data,
  build, synth, gyro, color, restore (a captures source is scored by restore.score), base;
- ``capture`` (real captures: format, importers, fields, synthetic captures): synth, gyro, color, base;
  ``restore`` (infer, time calibration, no-reference scoring of captures): capture, train, metrics, models,
  results, viz, synth, gyro, color, base;
- ``demo``, ``commands``, ``cli``: anything.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "gyrobench"

BASE = {"base"}
ALLOWED: dict[str, set[str]] = {
    "color": set(),
    "base": BASE,
    "gyro": BASE,
    "synth": BASE | {"gyro", "color"},
    "viz": BASE | {"gyro", "color"},
    "data": BASE | {"gyro", "color", "viz"},
    "build": BASE | {"synth", "data", "gyro", "color", "capture"},
    "models": BASE,
    "metrics": BASE | {"color", "results"},
    "results": BASE,
    "leaderboard": BASE | {"results"},
    "train": BASE | {"build", "synth", "data", "models", "gyro", "color"},
    "evaluate": BASE | {"train", "metrics", "models", "results", "data", "build", "synth", "gyro", "color",
                        "restore"},
    "capture": BASE | {"synth", "gyro", "color"},
    "restore": BASE | {"capture", "train", "metrics", "models", "results", "viz", "synth", "gyro", "color"},
    "study": BASE | {"evaluate", "train", "leaderboard", "metrics", "models", "results", "data", "build", "synth",
                     "gyro", "color"},
}
TOP = {"demo", "commands", "cli", "__main__"}  # may import anything
BASE_MODULES = {"errors", "log", "io", "provenance", "config", "device", "assets", "folders", "textfiles"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> str:
    """The layer of a module name such as ``gyrobench.synth.blur``."""
    parts = module.split(".")
    if len(parts) == 1:
        return "base"  # the package root (__version__)
    head = parts[1]
    if head in BASE_MODULES:
        return "base"
    if head in ALLOWED or head in TOP:
        return head
    raise AssertionError(f"{module}: no layer assigned; add it to ALLOWED or TOP in tests/test_layers.py")


def imports_of(path: Path) -> set[str]:
    """Every ``gyrobench`` module that ``path`` imports, anywhere in the file (``from . import x`` -> ``pkg.x``)."""
    mod = module_name(path)
    package = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "gyrobench"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "gyrobench":
                continue
            # ``from pkg import name``: name may be a submodule; record it when it is one
            for a in node.names:
                sub = ROOT.parent / Path(*f"{target}.{a.name}".split("."))
                out.add(f"{target}.{a.name}" if sub.with_suffix(".py").is_file() or sub.is_dir() else target)
    return out


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports_of(p) for p in sorted(ROOT.rglob("*.py"))}


def find_cycle(g: dict[str, set[str]]) -> list[str] | None:
    """A cycle of ``g`` as a list of nodes (first == last), or None. Iterative DFS with colours."""
    colour = dict.fromkeys(g, 0)
    for start in g:
        if colour[start]:
            continue
        stack = [(start, iter(sorted(g[start])))]
        path = [start]
        colour[start] = 1
        while stack:
            node, it = stack[-1]
            nxt = next((n for n in it if n in g), None)
            if nxt is None:
                colour[node] = 2
                stack.pop()
                path.pop()
            elif colour[nxt] == 1:
                return path[path.index(nxt):] + [nxt]
            elif colour[nxt] == 0:
                colour[nxt] = 1
                stack.append((nxt, iter(sorted(g[nxt]))))
                path.append(nxt)
    return None


def violations(g: dict[str, set[str]]) -> list[str]:
    bad = []
    for mod, deps in sorted(g.items()):
        src = layer(mod)
        if src in TOP:
            continue
        for dep in sorted(deps):
            dst = layer(dep)
            if dst != src and dst not in ALLOWED[src]:
                bad.append(f"{mod} ({src}) imports {dep} ({dst})")
    return bad


def test_no_layer_imports_a_layer_above_it():
    assert violations(graph()) == []


def package_graph(g: dict[str, set[str]]) -> dict[str, set[str]]:
    """``g`` collapsed to layers (``synth`` -> ``data`` when any synth module imports any data module)."""
    out: dict[str, set[str]] = {}
    for mod, deps in g.items():
        out.setdefault(layer(mod), set()).update(layer(d) for d in deps if layer(d) != layer(mod))
    return out


def test_import_graph_has_no_cycle():
    g = graph()
    assert find_cycle(g) is None  # between modules
    assert find_cycle(package_graph(g)) is None  # between packages (before issue 12: synth -> data -> synth)


def test_color_imports_nothing_from_the_package():
    assert imports_of(ROOT / "color.py") == set()


def test_synth_only_renders_and_degrades():
    used = {layer(d) for p in (ROOT / "synth").glob("*.py") for d in imports_of(p)}
    assert used <= {"synth", "gyro", "color", "base"}, used


# ---- the checker itself catches what it must (so a passing run above means something)
def test_checker_flags_an_upward_import_and_a_cycle():
    g = {"gyrobench.synth.blur": {"gyrobench.build.pipeline"}, "gyrobench.build.pipeline": {"gyrobench.synth.blur"}}
    assert violations(g) == ["gyrobench.synth.blur (synth) imports gyrobench.build.pipeline (build)"]
    assert find_cycle(g) in (["gyrobench.synth.blur", "gyrobench.build.pipeline", "gyrobench.synth.blur"],
                             ["gyrobench.build.pipeline", "gyrobench.synth.blur", "gyrobench.build.pipeline"])
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    pkg = package_graph({"gyrobench.synth.pipeline": {"gyrobench.data.recipe"},
                         "gyrobench.data.importer": {"gyrobench.synth.pipeline"}, "gyrobench.data.recipe": set()})
    assert find_cycle(pkg) in (["synth", "data", "synth"], ["data", "synth", "data"])


def test_checker_reads_function_local_and_relative_imports(tmp_path, monkeypatch):
    pkg = tmp_path / "gyrobench" / "data"
    pkg.mkdir(parents=True)
    (pkg / "x.py").write_text("def f():\n    from ..build import pipeline\n    from .shards import y\n")
    (pkg / "shards.py").write_text("")
    (tmp_path / "gyrobench" / "build").mkdir()
    (tmp_path / "gyrobench" / "build" / "pipeline.py").write_text("")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path / "gyrobench")
    assert imports_of(tmp_path / "gyrobench" / "data" / "x.py") == {"gyrobench.build.pipeline", "gyrobench.data.shards"}


@pytest.mark.parametrize("module", ["gyrobench.build", "gyrobench.synth", "gyrobench.data", "gyrobench.color"])
def test_layers_import_on_their_own(module):
    import importlib

    importlib.import_module(module)
