"""Typed, validated configuration from YAML/JSON mappings.

Recipes and run configs are plain ``@dataclass`` trees. :func:`from_dict` builds one from a mapping and raises
:class:`~gyrobench.errors.RecipeError` naming the file, the dotted key and the fix for unknown keys, missing
required keys and wrong types. Validation of *values* (ranges, consistency) lives in each dataclass's
``__post_init__`` and raises :class:`ValueError`, which :func:`from_dict` rewraps with the file and key.

Example::

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Cam:
    ...     fx: float
    ...     crop: tuple[int, int] = (480, 480)
    >>> from_dict(Cam, {"fx": 561.5}).crop
    (480, 480)
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

from .errors import RecipeError

T = TypeVar("T")

__all__ = ["from_dict", "to_dict", "load_mapping", "load_config", "differences"]


def load_mapping(path: str | Path) -> dict:
    """Read a YAML or JSON file into a dict, with a clear error for missing or malformed files."""
    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"{path}: file not found; give the path of an existing YAML/JSON config")
    from .textfiles import load_yaml, read_text

    text = read_text(path, "YAML/JSON config")
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except ValueError as exc:  # json.JSONDecodeError; a number too long for int()
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise RecipeError(f"{path}: cannot parse ({first}); fix the syntax") from None
    else:
        data = load_yaml(text, str(path))
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise RecipeError(f"{path}: top level must be a mapping of keys, got {type(data).__name__}")
    return data


def load_config(cls: type[T], path: str | Path) -> T:
    """Load ``path`` (YAML/JSON) into the dataclass ``cls``; errors name the file and key."""
    return from_dict(cls, load_mapping(path), source=str(path))


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _convert(tp: Any, value: Any, where: str, source: str) -> Any:
    origin = get_origin(tp)
    args = get_args(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value, where, source)
            except RecipeError as exc:
                errors.append(str(exc))
        raise RecipeError(errors[-1] if errors else f"{source}: {where}: invalid value {value!r}")
    if origin is Literal:
        if value not in args:
            choices = ", ".join(repr(a) for a in args)
            raise RecipeError(f"{source}: {where}: {value!r} is not one of {choices}")
        return value
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise RecipeError(f"{source}: {where}: expected a mapping for {tp.__name__}, got {value!r}")
        return from_dict(tp, value, source=source, prefix=where)
    if origin in (list, typing.List, tuple, typing.Tuple):  # noqa: UP006
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise RecipeError(f"{source}: {where}: expected a list, got {value!r}")
        if origin in (tuple, typing.Tuple) and args and args[-1] is not Ellipsis:  # noqa: UP006
            if len(value) != len(args):
                raise RecipeError(f"{source}: {where}: expected {len(args)} values, got {len(value)}")
            return tuple(_convert(a, v, f"{where}[{i}]", source) for i, (a, v) in enumerate(zip(args, value)))
        item = args[0] if args else Any
        out = [_convert(item, v, f"{where}[{i}]", source) for i, v in enumerate(value)]
        return tuple(out) if origin in (tuple, typing.Tuple) else out  # noqa: UP006
    if origin in (dict, typing.Dict):  # noqa: UP006
        if not isinstance(value, dict):
            raise RecipeError(f"{source}: {where}: expected a mapping, got {value!r}")
        vt = args[1] if len(args) == 2 else Any
        return {str(k): _convert(vt, v, f"{where}.{k}", source) for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise RecipeError(f"{source}: {where}: expected true/false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise RecipeError(f"{source}: {where}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RecipeError(f"{source}: {where}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise RecipeError(f"{source}: {where}: expected a string, got {value!r}")
        return value
    if isinstance(tp, type):
        if isinstance(value, tp):
            return value
        raise RecipeError(f"{source}: {where}: expected {_type_name(tp)}, got {value!r}")
    return value


def from_dict(cls: type[T], data: dict, *, source: str = "<config>", prefix: str = "") -> T:
    """Build dataclass ``cls`` from ``data``, validating keys and types recursively.

    Unknown keys raise :class:`RecipeError` naming the key, its file and the closest valid key.
    """
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    for key in data:
        if key not in fields:
            near = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f" (did you mean '{near[0]}'?)" if near else ""
            where = f"{prefix}.{key}" if prefix else str(key)
            raise RecipeError(
                f"{source}: unknown key '{where}'{hint}; valid keys here: {', '.join(sorted(fields))}"
            )
    kwargs = {}
    for name, f in fields.items():
        where = f"{prefix}.{name}" if prefix else name
        if name in data:
            kwargs[name] = _convert(hints[name], data[name], where, source)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:  # type: ignore[misc]
            raise RecipeError(f"{source}: missing required key '{where}'")
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as exc:
        where = prefix or cls.__name__
        raise RecipeError(f"{source}: {where}: {exc}") from exc


def to_dict(obj: Any) -> Any:
    """Dataclass tree -> plain JSON-able dict (tuples become lists)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


def _flatten(d: Any, prefix: str, opaque: tuple[str, ...]) -> dict[str, Any]:
    if prefix in opaque:
        return {prefix: d}
    if isinstance(d, (dict, list, tuple)) and d:
        items = d.items() if isinstance(d, dict) else enumerate(d)
        out: dict[str, Any] = {}
        for k, v in items:
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k), opaque))
        return out
    return {prefix: d}


def differences(old: dict, new: dict, *, skip: frozenset[str] | set[str] = frozenset(),
                opaque: tuple[str, ...] = ()) -> list[str]:
    """Where two plain config trees differ, as sorted ``"dotted.key: old -> new"`` lines (list items by index).

    Keys in ``skip``, or under a key in ``skip``, are ignored; keys in ``opaque`` are compared as whole values
    (e.g. a free-form options mapping). A key on one side only is reported with ``<absent>`` on the other."""
    a, b = _flatten(old, "", opaque), _flatten(new, "", opaque)
    out = []
    for key in sorted(set(a) | set(b)):
        if any(key == s or key.startswith(f"{s}.") for s in skip):
            continue
        va, vb = a.get(key, "<absent>"), b.get(key, "<absent>")
        if va != vb:
            out.append(f"{key}: {va!r} -> {vb!r}".replace("'<absent>'", "<absent>"))
    return out
