"""A user's clone has no ../shared (issue 12 item 6): code and docs cite docs/*.md, and those pages exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEXT = (".py", ".md", ".yaml", ".json", ".txt")


def _files():
    for top in ("gyrobench", "docs"):
        for p in sorted((ROOT / top).rglob("*")):
            if p.is_file() and p.suffix in TEXT:
                yield p


def test_no_reference_to_shared_or_interfaces_in_code_and_docs():
    bad = []
    for p in _files():
        for n, line in enumerate(p.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if "../shared" in line or "INTERFACES.md" in line:
                bad.append(f"{p.relative_to(ROOT)}:{n}: {line.strip()}")
    assert bad == []


def test_cited_docs_pages_exist():
    cited = set()
    for p in _files():
        text = p.read_text(encoding="utf-8", errors="replace")
        cited |= set(re.findall(r"docs/([a-z_]+\.md)", text))
        if p.parent.name == "docs":
            cited |= {m for m in re.findall(r"\]\(([a-z_]+\.md)(?:#[^)]*)?\)", text)}
    missing = sorted(c for c in cited if not (ROOT / "docs" / c).is_file())
    assert "conventions.md" in cited and missing == []
