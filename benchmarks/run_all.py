"""Run every ``benchmarks/bench_*.py`` with its default (quick) arguments, one subprocess each.

Prints one line per benchmark (``ok``/``failed``, wall seconds) and exits 1 if any failed. Each benchmark writes its
own results under ``benchmarks/results/`` as usual; a failed one's last output lines are printed below its line.

    .venv/bin/python benchmarks/run_all.py              # all of them (slow: minutes on a 2-core CPU)
    .venv/bin/python benchmarks/run_all.py --list       # the scripts it would run
    .venv/bin/python benchmarks/run_all.py --only cmf --only handshake
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def discover() -> list[Path]:
    """The benchmark scripts, sorted by name."""
    return sorted(HERE.glob("bench_*.py"))


def short_name(path: Path) -> str:
    """``bench_cmf.py`` -> ``cmf``."""
    return path.stem.removeprefix("bench_")


def select(scripts: list[Path], only: list[str] | None) -> list[Path]:
    """The scripts named by ``only`` (``cmf``, ``bench_cmf`` or ``bench_cmf.py``); all when ``only`` is empty.

    Raises ValueError naming the known benchmarks for an unknown name."""
    if not only:
        return scripts
    by_name = {short_name(p): p for p in scripts}
    chosen = []
    for name in only:
        key = Path(name).stem.removeprefix("bench_")
        if key not in by_name:
            raise ValueError(f"unknown benchmark {name!r}; known: {', '.join(by_name)}")
        if by_name[key] not in chosen:
            chosen.append(by_name[key])
    return chosen


def run_one(script: Path, timeout: float | None) -> tuple[bool, float, str]:
    """Run ``script`` with the current interpreter from the repository root -> (ok, seconds, output tail)."""
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, str(script)], cwd=script.parent.parent, capture_output=True, text=True,
                              timeout=timeout)
        ok, out = proc.returncode == 0, (proc.stdout or "") + (proc.stderr or "")
        if not ok:
            out += f"\n(exit status {proc.returncode})"
    except subprocess.TimeoutExpired as exc:
        ok = False
        out = _text(exc.stdout) + _text(exc.stderr) + f"\n(timed out after {timeout:g} s)"
    return ok, time.perf_counter() - t0, out


def _text(b) -> str:
    if b is None:
        return ""
    return b.decode(errors="replace") if isinstance(b, bytes) else b


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--list", action="store_true", help="list the benchmark scripts and exit")
    ap.add_argument("--only", action="append", metavar="NAME",
                    help="run only this benchmark (e.g. 'cmf' for bench_cmf.py); repeatable")
    ap.add_argument("--timeout", type=float, default=None, help="seconds allowed per benchmark (default: none)")
    args = ap.parse_args(argv)

    try:
        scripts = select(discover(), args.only)
    except ValueError as exc:
        ap.error(str(exc))
    if args.list:
        for s in scripts:
            print(f"{short_name(s):12s} {s.relative_to(ROOT)}")
        return 0
    failed = []
    for s in scripts:
        print(f"{short_name(s)}: running ...", file=sys.stderr, flush=True)
        ok, secs, out = run_one(s, args.timeout)
        print(f"{short_name(s):12s} {'ok' if ok else 'FAILED':7s} {secs:8.1f} s", flush=True)
        if not ok:
            failed.append(short_name(s))
            tail = out.strip().splitlines()[-15:]
            print("\n".join("    " + line for line in tail), flush=True)
    print(f"{len(scripts) - len(failed)}/{len(scripts)} benchmarks ok" + (f"; failed: {', '.join(failed)}"
                                                                         if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
