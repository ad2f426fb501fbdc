"""Where a benchmark's figures go: one Markdown table and one JSON record, written atomically (shared by bench_*.py).

A benchmark prints its Markdown and writes ``OUT/STEM.md`` and ``OUT/STEM.json`` through
:func:`gyrobench.io.write_text_atomic`, so an interrupted run never leaves a half-written result beside the old one.
"""

from __future__ import annotations

import json
from pathlib import Path

from gyrobench.io import write_text_atomic

__all__ = ["save_report"]


def save_report(out: str | Path, stem: str, record, text: str, *, default=None) -> Path:
    """Print ``text``; write ``out/stem.md`` (``text``, newline-terminated) and ``out/stem.json`` (``record``);
    return the Markdown path."""
    text = text if text.endswith("\n") else text + "\n"
    print(text, end="")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / f"{stem}.json", json.dumps(record, indent=1, default=default) + "\n")
    return write_text_atomic(out / f"{stem}.md", text)
