"""Reading the text files users give (recipes, configs, calibrations, photo lists, gyro logs) without surprises.

- :func:`read_text`: UTF-8 text or one line naming the file and the byte where it stops being text (a binary
  file, a wrong encoding); nothing of the file's content is echoed.
- :func:`load_yaml`: ``yaml.safe_load`` (no tags run) that refuses an *alias bomb*: a document whose aliases
  expand to more than :data:`MAX_YAML_NODES` values is refused before anything walks it, naming the file.
- :func:`inside`: a path read from a file (a capture's photo, a suite's recipe, a photo list's image) resolved
  against its base folder and refused when it leads outside it (``..``, an absolute path, a symbolic link out).
- :func:`safe_name`: a name taken from a file turned into one folder/file name (no separators, no leading dots).
"""

from __future__ import annotations

import re
from pathlib import Path

from .errors import GyrobenchError, RecipeError

__all__ = ["read_text", "load_yaml", "inside", "safe_name", "MAX_YAML_NODES"]

#: the most values (scalars, list items, mapping entries) a YAML document may expand to, aliases counted each
#: time they are used; a recipe or config has a few hundred
MAX_YAML_NODES = 100_000


def read_text(path: str | Path, what: str = "text file", exc: type[GyrobenchError] = RecipeError) -> str:
    """The UTF-8 text of ``path``; a file that is not UTF-8 text (NUL bytes, invalid sequences) raises ``exc``
    naming the file, the line and the fix. A missing file raises ``exc`` too."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise exc(f"{path}: file not found; give the path of an existing {what}") from None
    except IsADirectoryError:
        raise exc(f"{path}: is a folder; give the path of a {what}") from None
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data[:nul].count(b"\n") + 1
        raise exc(f"{path}: line {line}: holds NUL bytes (a binary file?); give a UTF-8 {what}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise exc(f"{path}: line {line}: not UTF-8 text (byte {e.start}); give a UTF-8 {what} (a binary file, or "
                  "another encoding: save it as UTF-8)") from None


def _expanded_size(node, memo: dict, busy: set, source: str) -> int:
    key = id(node)
    if key in memo:
        return memo[key]
    if key in busy:
        raise RecipeError(f"{source}: a YAML alias refers to the node that contains it (a recursive structure); "
                          "write the values out")
    busy.add(key)
    value = node.value
    n = 1
    if isinstance(value, list):
        for item in value:
            if isinstance(item, tuple):  # mapping entry
                n += _expanded_size(item[0], memo, busy, source) + _expanded_size(item[1], memo, busy, source)
            else:
                n += _expanded_size(item, memo, busy, source)
            if n > MAX_YAML_NODES:
                break
    busy.discard(key)
    memo[key] = n
    return n


def load_yaml(text: str, source: str):
    """``yaml.safe_load(text)`` for file ``source``; refuses documents expanding to more than
    :data:`MAX_YAML_NODES` values, and turns parse errors into one line (:class:`RecipeError`)."""
    import yaml

    class _Loader(yaml.SafeLoader):
        def compose_document(self):
            node = super().compose_document()
            if node is not None and _expanded_size(node, {}, set(), source) > MAX_YAML_NODES:
                raise RecipeError(f"{source}: expands to more than {MAX_YAML_NODES:,} values (YAML aliases used "
                                  "over and over: an 'alias bomb'?); write the values out")
            return node

    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506  (a SafeLoader subclass)
    except RecipeError:
        raise
    except yaml.YAMLError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RecipeError(f"{source}: cannot parse YAML ({first}); fix the syntax") from None
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:  # e.g. a timestamp out of range
        raise RecipeError(f"{source}: cannot parse YAML ({type(exc).__name__}: {str(exc)[:80]}); fix the "
                          "value") from None


def inside(base: str | Path, rel: str | Path, where: str, exc: type[GyrobenchError] = GyrobenchError) -> Path:
    """``base / rel`` resolved (symbolic links followed); raises ``exc`` when it is not inside ``base``.

    ``where`` names the file and field the path came from (``capture.json: field 'gyro'``)."""
    base_r = Path(base).resolve()
    target = (base_r / Path(rel)).resolve()
    if target != base_r and base_r not in target.parents:
        raise exc(f"{where}: names {str(rel)!r}, which is outside its folder {base}; paths read from a file must "
                  f"stay inside that file's folder: copy the file into {base} and give its name")
    return target


_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def safe_name(text: str, default: str = "item") -> str:
    """``text`` as one safe file name: runs of other characters -> ``-``, no leading dots or dashes, at most
    100 characters; ``default`` when nothing is left (``..``, ``...``)."""
    s = _UNSAFE.sub("-", str(text)).lstrip(".-")[:100].rstrip(".-")
    return s or default
