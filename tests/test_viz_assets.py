"""The shipped Kodak assets: 12 files, 500x500 sRGB RGB uint8, pixels identical to the provenance table."""

from __future__ import annotations

import hashlib
import re

import cv2
import numpy as np
import pytest

from gyrobench.assets import asset_dir, kodak_paths


def test_kodak_paths_sorted_twelve_images():
    paths = kodak_paths()
    assert [p.name for p in paths] == [f"kodim{i:02d}.png" for i in range(1, 24, 2)]
    assert sum(p.stat().st_size for p in paths) < 5.5e6


def test_kodak_pixels_match_provenance_table():
    table = (asset_dir("kodak") / "PROVENANCE.md").read_text()
    rows = dict(re.findall(r"\| (kodim\d\d\.png) \| \d+ \| `([0-9a-f]{64})` \|", table))
    assert len(rows) == 12
    for p in kodak_paths():
        img = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
        assert img.dtype == np.uint8 and img.shape == (500, 500, 3)
        rgb = np.ascontiguousarray(img[:, :, ::-1])
        assert hashlib.sha256(rgb.tobytes()).hexdigest() == rows[p.name], p.name


@pytest.mark.shared
def test_shared_originals_decode_identically(shared_dir):
    for p in kodak_paths():
        src = cv2.imread(str(shared_dir / "data" / "images" / "kodak" / p.name), cv2.IMREAD_UNCHANGED)
        assert np.array_equal(src, cv2.imread(str(p), cv2.IMREAD_UNCHANGED))
