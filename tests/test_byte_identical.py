"""The refactor of issue 12 changes no output: ``synth``, ``import-gyroblur``, ``eval`` and ``leaderboard`` give
the same shards, records and tables as the code before it.

The golden sha256 values below were produced by running :func:`outputs` (this file's own code, which only calls
the CLI) on the code BEFORE the refactor, commit d236630 (main on 2026-12-03), on the project's 2-core CPU machine
with the library versions in ``GOLDEN_VERSIONS``. They are never derived from the code under test. Float kernels
(resampling, warps) may round differently with other library builds, so the comparison runs only with exactly
those versions and skips, saying why, elsewhere.

What is compared:
- shards: every dataset's name, dtype, shape and bytes and every attribute of the file and its datasets (a
  content digest; at the first milestone, before any attribute was added, the shard files were also compared
  byte for byte and matched);
- manifests, records and the per-image CSV: canonical JSON / text;
- leaderboard tables (``table.md``, ``table.csv``, ``table.tex``, ``leaderboard.json``): their bytes.

Run-specific fields are normalised first (dates, machine, commit, timings, absolute paths, and the manifest file
hash, which includes the run's ``created`` block). Fields that issue 12 adds on purpose (``ADDED``) are left out
of the comparison; their own tests are in test_dataset_synth.py (``field_spec``) and test_fingerprint.py.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import cv2
import h5py
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
        "manifest": "43e3cc6e09b898ae7d1f84c95f8ade8004c76b8eee26a05e7d13614b45871106",
        "shards": {
            "shard-00000.h5": "755a415daab5f61e683b5e10e300466730adf8233e9c9550e07cc910ef18c903",
            "shard-00001.h5": "e3335d04afbdd4de8004ed8d261835a07cfcdd9d3cb94fb5ca932da0402d7ce0",
            "shard-00002.h5": "6685412cbe5d786784dc9f1ce32df6c122338a5f9f2ee838271adf687df45df3",
            "shard-00003.h5": "e444f7bcc2e7f7576e169716c80645e39f0b53eb81d4c933f4346adeaaaa68f7",
        },
    },
    "leaderboard": {
        "leaderboard.json": "d8b19ab13820e1e5c4823a36101b5f67c7520bdd249993bc5bb238f5091ebbfa",
        "table.csv": "da956e9b141913007d27cbc74dad3e1342d5e09a715e5ccdfd619a83389ed1f2",
        "table.md": "2e4cbd962e4ebd5501eefba0bb1e0cc1b0640f9dd9354a7c88d0aff3c1ca8864",
        "table.tex": "7db01664d6724de61ee96b31fbe7c5c80d84e6a41295224ef23aeca20d5fcdb5",
    },
    "synth": {
        "manifest": "469010176d642fabbde6271858647d1cac798e884c68a048bcb07c94261188dc",
        "shards": {
            "shard-00000.h5": "9e100871142a5b15dd0b0ddb9a93094897bf2f3bda315f52f3f283959d7a3b28",
            "shard-00001.h5": "c2240044f0ac12745b10855a90888342874428943c4fc74f8fbee05d05ae80fc",
            "shard-00002.h5": "587685775defc3601eb5b537222959d54d870f9932ea1f100eaadba0cef135dd",
            "shard-00003.h5": "df8306d139b5a48d2ba225b16deba458f16130266c0c53e24fd32712e1346cb0",
            "shard-00004.h5": "53339410b4c11d583ad6840b51fa312c1ba918a58e177fd800b88485a0b41ac8",
        },
    },
}

RUN_SPECIFIC_RECORD = {"date", "machine", "git_commit", "versions", "command", "timing", "dataset",
                       "dataset_manifest_sha256", "checkpoint"}
RUN_SPECIFIC_MANIFEST = {"created", "versions"}
# Added by issue 12 on purpose, left out of the comparison: the FieldSpec of a shard's fields (item 4) and the
# dataset's content fingerprint (item 7), tested in test_dataset_synth.py and test_fingerprint.py.
ADDED = {"shard_attrs": {"field_spec"}, "manifest": {"fingerprint"}, "record": {"dataset_fingerprint"}}
# Item 7 also changes, on purpose, what the leaderboard groups by (the fingerprint, not the manifest file's hash):
# these exact replacements turn the new tables' wording back into the old one before the comparison, so any
# other difference still fails.
INTENDED_TABLE_CHANGES = {
    "table.md": [("rows on the same dataset content (fingerprint), split", "rows on the same dataset manifest, split")],
    "table.csv": [("group,dataset_fingerprint,", "group,dataset_manifest_sha256,")],
    "leaderboard.json": [('"dataset_fingerprint":', '"dataset_manifest_sha256":')],
}


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


def _shard_digest(path: Path) -> str:
    """sha256 over a shard's content: every dataset (name, dtype, shape, bytes) and every attribute, sorted."""
    h = hashlib.sha256()

    def attrs(name, obj):
        for k in sorted(obj.attrs):
            if not (name == "/" and k in ADDED["shard_attrs"]):
                h.update(f"{name}@{k}={obj.attrs[k]!r}".encode())

    with h5py.File(path, "r") as f:
        attrs("/", f)
        names: list[str] = []
        f.visit(names.append)
        for name in sorted(names):
            obj = f[name]
            attrs(name, obj)
            if isinstance(obj, h5py.Dataset):
                h.update(f"{name}:{obj.dtype.str}:{obj.shape}".encode())
                value = np.asarray(obj[()])
                h.update(repr(value.tolist()).encode() if value.dtype.kind == "O" else value.tobytes())
    return h.hexdigest()


def _dataset_hashes(folder: Path) -> dict:
    man = json.loads((folder / "manifest.json").read_text())
    shards = {p.name: _shard_digest(p) for p in sorted(folder.glob("shard-*.h5"))}
    man["shards"] = [{k: v for k, v in e.items() if k not in ("sha256", "bytes")} for e in man["shards"]]  # file hashes
    skip = RUN_SPECIFIC_MANIFEST | ADDED["manifest"]
    return {"shards": shards, "manifest": _sha(_canon({k: v for k, v in man.items() if k not in skip}))}


def _record_hash(folder: Path) -> dict:
    """Hashes of the record and its per-image CSV without run-specific values; pins those values in the record
    file so that the leaderboard built from it is comparable too."""
    path = folder / "results.json"
    rec = json.loads(path.read_text())
    lines = (folder / rec["per_image_csv"]).read_text().splitlines()
    drop = lines[0].split(",").index("inference_s")  # a timing
    csv = "\n".join(",".join(v for j, v in enumerate(line.split(",")) if j != drop) for line in lines)
    skip = RUN_SPECIFIC_RECORD | ADDED["record"]
    res = {"record": _sha(_canon({k: v for k, v in rec.items() if k not in skip})),
           "per_image_csv": _sha(csv.encode())}
    rec.update({"date": "2026-12-03T00:00:00+00:00", "machine": {}, "git_commit": "0" * 40, "versions": {},
                "command": "gyrobench eval", "dataset": "data", "dataset_manifest_sha256": "0" * 64})
    for key in ADDED["record"]:  # the record file's bytes (their sha256 is in the tables) as before issue 12
        rec.pop(key, None)
    rec["timing"]["inference_s_mean"] = 0.0
    path.write_text(json.dumps(rec, indent=1))
    return res


def outputs(tmp: Path) -> dict:
    """Run the CLI end to end in ``tmp`` and return the sha256 of every output that must stay identical."""
    data, imp = tmp / "smoke", tmp / "imported"
    assert cli_main(["synth", "smoke", "--out", str(data)]) == 0
    src = _fake_release(tmp / "GyroBlur-Synth")
    assert cli_main(["import-gyroblur", str(src), "--out", str(imp), "--shard-size", "1", "--frame", "64x48",
                     "--K", "60,60,32,24", "--crop", "8,8,48,32", "--seed", "5"]) == 0
    res = {"synth": _dataset_hashes(data), "import": _dataset_hashes(imp)}
    for model in ("identity", "classical"):  # the leaderboard reads the records with run-specific values pinned
        assert cli_main(["eval", "--model", model, "--data", str(data), "--out", str(tmp / "eval" / model),
                         "--metrics", "psnr,ssim", "--crops", "0"]) == 0
        res[f"eval_{model}"] = _record_hash(tmp / "eval" / model)
    board = tmp / "board"
    assert cli_main(["leaderboard", str(tmp / "eval"), "--out", str(board), "--no-plots"]) == 0
    res["leaderboard"] = {}
    for name in ("table.md", "table.csv", "table.tex", "leaderboard.json"):
        text = (board / name).read_text(encoding="utf-8")
        for new, old in INTENDED_TABLE_CHANGES.get(name, []):
            text = text.replace(new, old)
        res["leaderboard"][name] = _sha(text.encode("utf-8"))
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
