"""The layer refactor (issue 12) changes no output byte: ``synth``, ``import-gyroblur``, ``eval`` and
``leaderboard`` give the same shards, records and tables as the code before it.

The golden sha256 values below were produced by running :func:`outputs` (this file's own code, which only calls
the CLI) on the code BEFORE the move, commit d236630 (main on 2026-12-03), on the project's 2-core CPU machine
with the library versions in ``GOLDEN_VERSIONS``. They are never derived from the code under test. Float kernels
(resampling, warps, gzip) may round differently with other library builds, so the byte comparison runs only with
exactly those versions and skips, saying why, elsewhere.

Issue 11 added a ``renderer`` attribute to every shard and made OpenCV the CPU renderer (its blurs agree with the
torch renderer to <= 1e-4, tested elsewhere). ``synth`` therefore runs here with ``--renderer torch`` (the pre-move
code path) and is compared by content: every dataset's values and the file attributes except ``renderer`` and
``versions`` (:func:`_content_hashes`). Those golden values were computed with :func:`_content_hashes` on the
shards that the pre-move code (d236630) wrote, so they are still independent of the code under test.

Run-specific fields are normalised before hashing (dates, machine, commit, timings, absolute paths, and the
manifest file hash, which includes the run's ``created`` block): they are not part of what must be identical.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from gyrobench.cli import main as cli_main

GOLDEN_VERSIONS = {"cv2": "5.1.0", "numpy": "2.4.6", "torch": "2.13.0+cpu"}
GOLDEN = {
    "eval_classical": {
        "per_image_csv": "814e66953e6e3c5f76313371e6f5202abb3ee4096da0f39d38e36da2620f1fc1",
        "record": "4f0bc27e7f7ab63fd8fdf64353cc49aea2c5936d062d8ecac0c6d0864b6d9d20",
    },
    "eval_identity": {
        "per_image_csv": "2a8f7fcaae08d1cf6f4a1a5e7dd78edd7e087c0dba476259f48a2d49d9cd64cb",
        "record": "7671e1ef5fd87fac9247d08b5b3f0cba327561e97f4755d344707cafffc2c3ea",
    },
    "import": {
        "manifest": "8e74d1e3430ace49c524b3996998bfe7afde0d1540183c30b73b47deef61d601",
        "shards": {
            "shard-00000.h5": "b91415a2bd367ce55c4a10a61dc629daea63213f8f9063f0a489b55de8864506",
            "shard-00001.h5": "dbaba9b8aa04dc6955baefe37ac9acd29938fe68427a4d33b02ac3fe47cfec1e",
            "shard-00002.h5": "74b8028c3fe3be97c359ce00d2b2eb4539d149375cbbe09e33558b503f37a93e",
            "shard-00003.h5": "ddb99c291d9a9d49f8eb50cd9edf9f179f7d32f99520c00ec5a7d3cfc0892473",
        },
    },
    "leaderboard": {
        "leaderboard.json": "d8b19ab13820e1e5c4823a36101b5f67c7520bdd249993bc5bb238f5091ebbfa",
        "table.csv": "da956e9b141913007d27cbc74dad3e1342d5e09a715e5ccdfd619a83389ed1f2",
        "table.md": "2e4cbd962e4ebd5501eefba0bb1e0cc1b0640f9dd9354a7c88d0aff3c1ca8864",
        "table.tex": "7db01664d6724de61ee96b31fbe7c5c80d84e6a41295224ef23aeca20d5fcdb5",
    },
    "synth": {  # _content_hashes of the pre-move code's output (d236630), recomputed for issue 11 (see module)
        "manifest": "469010176d642fabbde6271858647d1cac798e884c68a048bcb07c94261188dc",
        "shards": {
            "shard-00000.h5": "abf329538a8d658005d1869fc5d98ae8ae06164204a9ffd5e4f60cde19013ce1",
            "shard-00001.h5": "410b265caee0deeb4f70e9a6ec58c1a714c94f297b6225b26cb402bad730b861",
            "shard-00002.h5": "43b48cfd0d440d063808a8075c5887a024f316063253bd0d9f12ee86aea2bfa6",
            "shard-00003.h5": "66bf8c3952fcc8c7096630d93ba7385ae770b68125b276ee5f2f2fa779509902",
            "shard-00004.h5": "6ed4d0b5b62bde7ea3eafa670f04300e23bd389e487c114985db6ce3b5a8f4c0",
        },
    },
}

RUN_SPECIFIC_RECORD = {"date", "machine", "git_commit", "versions", "command", "timing", "dataset",
                       "dataset_manifest_sha256", "checkpoint"}
RUN_SPECIFIC_MANIFEST = {"created", "versions"}


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def _canon(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def _fake_release(root: Path) -> Path:
    """A tiny folder in the official GyroBlur-Synth layout, fully determined by a fixed seed."""
    rng = np.random.default_rng(12)
    for split, n in (("train", 2), ("test", 2)):
        m = 40
        t = 10**14 + np.arange(m, dtype=np.int64) * 4_757_000
        w = rng.normal(0, 0.5, (m, 3))
        root.mkdir(parents=True, exist_ok=True)
        (root / f"gyro_{split}.txt").write_text("".join(f"{a} {b[0]:.9f} {b[1]:.9f} {b[2]:.9f}\n" for a, b in zip(t, w)))
        (root / split).mkdir(parents=True, exist_ok=True)
        starts = rng.integers(0, m - 11, n)
        (root / split / f"GyroBlur-Synth_{split}_starting_point.txt").write_text("".join(f"{s}\n" for s in starts))
        for i in range(n):
            for sub in ("avg_blur", "sharp", "sat_mask"):
                (root / split / sub).mkdir(exist_ok=True)
                assert cv2.imwrite(str(root / split / sub / f"{i:06d}.png"), rng.integers(0, 256, (32, 48, 3), dtype=np.uint8))
    return root


def _dataset_hashes(folder: Path) -> dict:
    man = json.loads((folder / "manifest.json").read_text())
    shards = {p.name: _sha(p.read_bytes()) for p in sorted(folder.glob("shard-*.h5"))}
    return {"shards": shards, "manifest": _sha(_canon({k: v for k, v in man.items() if k not in RUN_SPECIFIC_MANIFEST}))}


def _content_hashes(folder: Path) -> dict:
    """Per shard: sha256 of every dataset's values and of the file attributes except ``renderer`` (added by
    issue 11) and ``versions``; the manifest without the per-shard file hashes and sizes (which include the
    attribute). What the pre-move code and ``synth --renderer torch`` must both give."""
    import h5py

    man = json.loads((folder / "manifest.json").read_text())
    man = {k: v for k, v in man.items() if k not in RUN_SPECIFIC_MANIFEST}
    man["shards"] = [{k: v for k, v in e.items() if k not in ("sha256", "bytes")} for e in man["shards"]]
    shards = {}
    for p in sorted(folder.glob("shard-*.h5")):
        h = hashlib.sha256()
        with h5py.File(p, "r") as f:
            for key in sorted(f):
                a = f[key][()]
                h.update(key.encode() + str(a.dtype).encode() + str(a.shape).encode())
                h.update(_canon([x.decode() if isinstance(x, bytes) else x for x in a.ravel()]) if a.dtype.kind == "O"
                         else np.ascontiguousarray(a).tobytes())
            attrs = {k: str(v) for k, v in f.attrs.items() if k not in ("renderer", "versions")}
        h.update(_canon(attrs))
        shards[p.name] = h.hexdigest()
    return {"shards": shards, "manifest": _sha(_canon(man))}


def _record_hash(folder: Path) -> dict:
    """Hashes of the record and its per-image CSV without run-specific values; pins those values in the record
    file so that the leaderboard built from it is comparable too."""
    path = folder / "results.json"
    rec = json.loads(path.read_text())
    lines = (folder / rec["per_image_csv"]).read_text().splitlines()
    drop = lines[0].split(",").index("inference_s")  # a timing
    csv = "\n".join(",".join(v for j, v in enumerate(line.split(",")) if j != drop) for line in lines)
    res = {"record": _sha(_canon({k: v for k, v in rec.items() if k not in RUN_SPECIFIC_RECORD})),
           "per_image_csv": _sha(csv.encode())}
    rec.update({"date": "2026-12-03T00:00:00+00:00", "machine": {}, "git_commit": "0" * 40, "versions": {},
                "command": "gyrobench eval", "dataset": "data", "dataset_manifest_sha256": "0" * 64})
    rec["timing"]["inference_s_mean"] = 0.0
    path.write_text(json.dumps(rec, indent=1))
    return res


def outputs(tmp: Path) -> dict:
    """Run the CLI end to end in ``tmp`` and return the sha256 of every output that must stay identical."""
    data, imp = tmp / "smoke", tmp / "imported"
    # the torch renderer is the pre-move code path (issue 11 made OpenCV the CPU default; its output agrees to
    # <= 1e-4 before quantisation, tests/test_render_cpu.py and test_pipeline.py)
    assert cli_main(["synth", "smoke", "--out", str(data), "--renderer", "torch"]) == 0
    src = _fake_release(tmp / "GyroBlur-Synth")
    assert cli_main(["import-gyroblur", str(src), "--out", str(imp), "--shard-size", "1", "--frame", "64x48",
                     "--K", "60,60,32,24", "--crop", "8,8,48,32", "--seed", "5"]) == 0
    res = {"synth": _content_hashes(data), "import": _dataset_hashes(imp)}
    for model in ("identity", "classical"):  # the leaderboard reads the records with run-specific values pinned
        assert cli_main(["eval", "--model", model, "--data", str(data), "--out", str(tmp / "eval" / model),
                         "--metrics", "psnr,ssim", "--crops", "0"]) == 0
        res[f"eval_{model}"] = _record_hash(tmp / "eval" / model)
    board = tmp / "board"
    assert cli_main(["leaderboard", str(tmp / "eval"), "--out", str(board), "--no-plots"]) == 0
    res["leaderboard"] = {name: _sha((board / name).read_bytes())
                          for name in ("table.md", "table.csv", "table.tex", "leaderboard.json")}
    return res


def _versions() -> dict:
    import torch

    return {"cv2": cv2.__version__, "numpy": np.__version__, "torch": torch.__version__}


@pytest.mark.slow
def test_outputs_byte_identical_to_the_code_before_the_move(tmp_path):
    if _versions() != GOLDEN_VERSIONS:
        pytest.skip(f"golden bytes were recorded with {GOLDEN_VERSIONS}; this environment has {_versions()}")
    assert outputs(tmp_path) == GOLDEN


if __name__ == "__main__":  # how the golden values were recorded (on the pre-move code)
    out = outputs(Path(sys.argv[1]))
    out["versions"] = _versions()
    print(json.dumps(out, indent=1, sort_keys=True))
