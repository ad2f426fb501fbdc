"""Per-sample random streams of dataset building: every sample depends only on (recipe seed, split, index).

``sample_seedseq(seed, split, n)`` is ``np.random.SeedSequence([seed, split_key(split), n])``; synthesis spawns
three independent children from it (gyro window, error-model draw, degradation draw), and the importer uses
the same error-model child, so an imported and a synthesized sample with the same key draw the same errors.

>>> split_key("test") == split_key("test") != split_key("train")
True
>>> a, b = sample_seedseq(1234, "test", 0), sample_seedseq(1234, "test", 0)
>>> a.generate_state(2).tolist() == b.generate_state(2).tolist()
True
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["split_key", "sample_seedseq"]


def split_key(name: str) -> int:
    """Stable 32-bit key of a split name (first 4 bytes of its sha256)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big")


def sample_seedseq(seed: int, split: str, index: int) -> np.random.SeedSequence:
    """The sample's root SeedSequence: f(recipe seed, split, index) only."""
    return np.random.SeedSequence([int(seed), split_key(split), int(index)])
