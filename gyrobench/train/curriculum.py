"""The gyro-noise curriculum of GyroDeblurNet (spec ``gyrodeblurnet.md`` §4; docs/conventions.md §3).

The network mixes its two motion-field inputs as ``α·noisy + (1−α)·clean``. The official schedule is, with
0-based epoch ``e`` of 300: ``α = 0.1·⌊e/10⌋`` for ``e < 100`` and ``1`` afterwards. For a run of any length,
with ``done`` units (epochs or optimizer steps) out of ``total``::

    α = min(1, 0.1·⌊30·done/total⌋)

computed in **integer arithmetic** (``(30*done)//total``) so that no float floor error can shift a boundary.

    >>> [curriculum_alpha(e, 300) for e in (0, 9, 10, 99, 100, 299)]
    [0.0, 0.0, 0.1, 0.9, 1.0, 1.0]
"""

from __future__ import annotations

__all__ = ["curriculum_alpha", "curriculum_level"]


def curriculum_level(done: int, total: int) -> int:
    """Integer curriculum level ``min(10, ⌊30·done/total⌋)`` (α = level / 10)."""
    done, total = int(done), int(total)
    if total <= 0:
        raise ValueError(f"curriculum: total must be positive, got {total}")
    if done < 0:
        raise ValueError(f"curriculum: done must be >= 0, got {done}")
    return min(10, (30 * done) // total)


def curriculum_alpha(done: int, total: int) -> float:
    """α(p) = min(1, 0.1·⌊30p⌋) with p = done/total (0-based ``done``); see the module docstring."""
    return curriculum_level(done, total) / 10.0
