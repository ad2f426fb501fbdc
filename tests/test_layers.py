"""Data flows one way (issue 12 item 1; docs/architecture.md): the package's import graph, read from the source
with ``ast`` (function-local imports included), has no cycle, and no layer imports a layer above it. The same
rule is checked at run time: each layer, with all its submodules, imported alone in a fresh interpreter loads
only modules of the layers below it (an import in the test process would find every module already loaded).

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
import json
import os
import subprocess
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
    "builder": BASE | {"synth", "data", "gyro", "color", "capture"},
    "models": BASE,
    "metrics": BASE | {"color", "results"},
    "results": BASE,
    "leaderboard": BASE | {"results"},
    "train": BASE | {"builder", "synth", "data", "models", "gyro", "color"},
    "evaluate": BASE | {"train", "metrics", "models", "results", "data", "builder", "synth", "gyro", "color",
                        "restore"},
    "capture": BASE | {"synth", "gyro", "color"},
    "restore": BASE | {"capture", "train", "metrics", "models", "results", "viz", "synth", "gyro", "color"},
    "study": BASE | {"evaluate", "train", "leaderboard", "metrics", "models", "results", "data", "builder", "synth",
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
    g = {"gyrobench.synth.blur": {"gyrobench.builder.pipeline"}, "gyrobench.builder.pipeline": {"gyrobench.synth.blur"}}
    assert violations(g) == ["gyrobench.synth.blur (synth) imports gyrobench.builder.pipeline (builder)"]
    assert find_cycle(g) in (["gyrobench.synth.blur", "gyrobench.builder.pipeline", "gyrobench.synth.blur"],
                             ["gyrobench.builder.pipeline", "gyrobench.synth.blur", "gyrobench.builder.pipeline"])
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    pkg = package_graph({"gyrobench.synth.pipeline": {"gyrobench.data.recipe"},
                         "gyrobench.data.importer": {"gyrobench.synth.pipeline"}, "gyrobench.data.recipe": set()})
    assert find_cycle(pkg) in (["synth", "data", "synth"], ["data", "synth", "data"])


def test_checker_reads_function_local_and_relative_imports(tmp_path, monkeypatch):
    pkg = tmp_path / "gyrobench" / "data"
    pkg.mkdir(parents=True)
    (pkg / "x.py").write_text("def f():\n    from ..builder import pipeline\n    from .shards import y\n")
    (pkg / "shards.py").write_text("")
    (tmp_path / "gyrobench" / "builder").mkdir()
    (tmp_path / "gyrobench" / "builder" / "pipeline.py").write_text("")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path / "gyrobench")
    assert imports_of(tmp_path / "gyrobench" / "data" / "x.py") == {"gyrobench.builder.pipeline", "gyrobench.data.shards"}


# ---- the same rule at run time: each layer imported alone, in a fresh interpreter, loads no layer above it
PROBE = """
import importlib, json, pkgutil, sys
for name in sys.argv[1:]:
    mod = importlib.import_module(name)
    if name != "gyrobench":  # the root's submodules are the other layers (and __main__ runs the CLI)
        for info in pkgutil.walk_packages(getattr(mod, "__path__", []), name + "."):
            importlib.import_module(info.name)
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] == "gyrobench")))
"""
RUNTIME_LAYERS = sorted(ALLOWED)


def _targets(lay: str) -> list[str]:
    """The modules that make up layer ``lay`` (the base layer is the package root and its base modules)."""
    if lay == "base":
        return ["gyrobench"] + [f"gyrobench.{m}" for m in sorted(BASE_MODULES)]
    return [f"gyrobench.{lay}"]


@pytest.fixture(scope="module")
def fresh_imports() -> dict[str, subprocess.CompletedProcess]:
    """Every layer's modules imported (all submodules, so lazy package attributes do not hide an import) in its
    own new interpreter; the interpreters run side by side. Layer -> finished process (stdout: loaded modules)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT.parent), os.environ.get("PYTHONPATH", "")]))
    procs = {lay: subprocess.Popen([sys.executable, "-c", PROBE, *_targets(lay)], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT.parent)
             for lay in RUNTIME_LAYERS}
    out = {}
    for lay, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=300)
        out[lay] = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    return out


def below(lay: str) -> set[str]:
    """The layers that ``lay`` may load at run time: those it may import and, in turn, theirs."""
    seen, todo = set(), [lay]
    while todo:
        for dep in ALLOWED[todo.pop()] - seen:
            seen.add(dep)
            todo.append(dep)
    return seen


def loaded_violations(lay: str, loaded: list[str]) -> list[str]:
    """The modules in ``loaded`` that layer ``lay`` may not load (the package root, loaded by every import of a
    submodule, is always allowed)."""
    return [m for m in loaded if m != "gyrobench" and layer(m) != lay and layer(m) not in below(lay)]


@pytest.mark.parametrize("lay", RUNTIME_LAYERS)
def test_each_layer_imports_alone_in_a_fresh_interpreter(lay, fresh_imports):
    proc = fresh_imports[lay]
    assert proc.returncode == 0, proc.stderr[-2000:]
    loaded = json.loads(proc.stdout.splitlines()[-1])
    assert set(_targets(lay)) <= set(loaded)
    assert loaded_violations(lay, loaded) == [], f"importing {lay} alone loads a layer above it"


def test_runtime_checker_flags_a_module_of_a_layer_above():
    assert loaded_violations("synth", ["gyrobench.synth.blur", "gyrobench.gyro.cmf", "gyrobench.errors"]) == []
    assert loaded_violations("synth", ["gyrobench.synth.blur", "gyrobench.builder.pipeline"]) == [
        "gyrobench.builder.pipeline"]
    assert loaded_violations("train", ["gyrobench.capture.format"]) == []  # through build, which may use it
    assert loaded_violations("color", ["gyrobench", "gyrobench.color"]) == []
