"""``gyrobench capture``: import photos with their gyro logs, and compute a capture's blur fields.

Sub-commands (conventions in ``docs/captures.md``):

- ``import SRC --format gyroblur-real|deepgyro|gcsv|csv [--calibration FILE|NAME] --out DIR``: one capture folder
  per photo (``capture.json`` + the photo + the gyro samples).
- ``blur-field CAPTURE --style deepgyro [--scale 0.5] --out DIR``: DeepGyro's ``blurx/NAME.png`` and
  ``blury/NAME.png`` (8-bit, +128); ``--style cmf`` writes the camera motion field ``NAME.npy`` (HWC float32).
- ``calibrate CAPTURE [--readout] --out DIR``: time offset (and readout) from the photo itself, with a plot.
- ``synth --out DIR``: a synthetic capture from a packaged Kodak image, the demo camera and the fitted
  hand-shake (known offset and readout, for tests and demonstrations).
"""

from __future__ import annotations

import argparse
import json

from .args import SEED, check_out, float_in, int_in


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="capture_command", metavar="SUBCOMMAND")
    sub.required = True
    p = sub.add_parser("import", help="import photos + gyro logs into capture folders")
    p.add_argument("src", help="source: a folder (gyroblur-real, deepgyro) or a log file (gcsv, csv)")
    p.add_argument("--format", required=True, choices=("gyroblur-real", "deepgyro", "gcsv", "csv"))
    p.add_argument("--calibration", default=None,
                   help="calibration YAML/JSON (K, image_size, R_imu_to_cam, readout_time_s, time_offset_s) or a "
                        "built-in name (gyroblur-real-s22)")
    p.add_argument("--out", required=True, help="folder receiving one capture folder per photo")
    p.add_argument("--overwrite", action="store_true",
                   help="replace capture folders of the same names already in --out (else refused)")
    p.add_argument("--image-encoding", choices=("srgb", "linear"), default=None,
                   help="transfer function of the photos (default: linear for gyroblur-real, srgb otherwise)")
    p.add_argument("--photos", default=None, help="gcsv/csv: CSV of photo times, header image,start_<unit>,"
                                                  "exposure_<unit> (units ns, us, ms, s)")
    p.add_argument("--photo", action="append", default=[],
                   help="gcsv/csv: IMAGE,START,EXPOSURE with units, e.g. shot.jpg,12.5s,20ms (repeatable)")
    p.add_argument("--columns", default=None, help="csv: t=NAME|IDX,wx=...,wy=...,wz=... (0-based indices)")
    p.add_argument("--time-unit", default=None, help="csv: ns, us, ms or s (else from the header or spacing)")
    p.add_argument("--rate-unit", default=None, help="csv: rad/s or deg/s (else from the header names)")

    b = sub.add_parser("blur-field", help="write a capture's blur field (DeepGyro PNGs or the CMF)")
    b.add_argument("capture", help="capture folder")
    b.add_argument("--style", choices=("deepgyro", "cmf"), default="deepgyro")
    b.add_argument("--scale", type=float_in(0.0, 1.0), default=1.0, help="deepgyro: output scale factor (DeepGyro used 0.5)")
    b.add_argument("--out", required=True, help="output folder")

    c = sub.add_parser("calibrate", help="estimate the camera-gyro time offset (and readout) from the photo")
    c.add_argument("capture", help="capture folder")
    c.add_argument("--range-ms", type=float_in(0.0, 1000.0), default=30.0, help="search offsets within +- this of the capture's")
    c.add_argument("--readout", action="store_true", help="also search the rolling-shutter readout time")
    c.add_argument("--readout-max-ms", type=float_in(0.0, 1000.0), default=40.0, help="largest readout tried with --readout")
    c.add_argument("--out", required=True, help="folder for calibration.json and calibration.png")
    c.add_argument("--write", action="store_true", help="also store the estimate in the capture's capture.json")

    s = sub.add_parser("synth", help="make a synthetic capture (Kodak image, demo camera, fitted hand-shake)")
    s.add_argument("--out", required=True, help="capture folder to write")
    s.add_argument("--overwrite", action="store_true", help="replace the capture already in --out (else refused)")
    s.add_argument("--image", type=int_in(0, 11), default=0, help="index of the packaged Kodak image (0-11)")
    s.add_argument("--seed", type=SEED, default=0, help="hand-shake seed")
    s.add_argument("--exposure-ms", type=float_in(0.0, 10000.0), default=20.0)
    s.add_argument("--readout-ms", type=float_in(0.0, 1000.0, open_lo=False), default=0.0, help="rolling-shutter readout (0 = global shutter)")
    s.add_argument("--offset", default="0ms", help="true camera-gyro time offset with a unit, e.g. 5ms or -0.004s")
    s.add_argument("--store-offset", choices=("true", "zero"), default="true",
                   help="offset written into capture.json: the true one, or zero (to test calibration)")
    s.add_argument("--focal-scale", type=float_in(0.0, 100.0), default=1.0, help="multiply the demo focal length (stronger blur)")
    s.add_argument("--encoding", choices=("srgb", "linear"), default="srgb", help="photo encoding (8-bit sRGB "
                                                                                   "or 16-bit linear PNG)")


def run(args: argparse.Namespace) -> int:
    return {"import": _import, "blur-field": _blur_field, "calibrate": _calibrate, "synth": _synth}[
        args.capture_command](args)


def _import(args) -> int:
    check_out(args.out, "--out", folder=True)
    from ..capture.importers import import_captures, parse_photo_arg, read_photo_list
    from ..log import get_logger

    photos = [parse_photo_arg(p) for p in args.photo]
    if args.photos:
        photos += read_photo_list(args.photos)
    folders = import_captures(args.src, args.format, args.out, calibration=args.calibration,
                              image_encoding=args.image_encoding, photos=photos, columns=args.columns,
                              time_unit=args.time_unit, rate_unit=args.rate_unit, overwrite=args.overwrite)
    get_logger("capture").info("capture import: %d capture folder(s) in %s", len(folders), args.out)
    return 0


def _blur_field(args) -> int:
    import numpy as np

    from ..capture.fields import capture_deepgyro_field, capture_motion_field
    from ..capture.format import load_capture
    from ..gyro.deepgyro_field import encode_deepgyro_png
    from ..io import atomic_open
    from ..log import get_logger

    out = check_out(args.out, "--out", folder=True)
    cap, folder = load_capture(args.capture)
    log = get_logger("capture")
    if args.style == "cmf":
        f = capture_motion_field(cap, folder, pad_multiple=1, layout="hwc")
        with atomic_open(out / f"{cap.name}.npy", "wb") as fh:
            np.save(fh, f)
        log.info("blur-field cmf: %s %s -> %s", cap.name, f.shape, out / f"{cap.name}.npy")
        return 0
    import cv2

    b = capture_deepgyro_field(cap, folder, scale=args.scale)
    bx, by = encode_deepgyro_png(b)
    for sub, img in (("blurx", bx), ("blury", by)):
        ok, buf = cv2.imencode(".png", img)
        with atomic_open(out / sub / f"{cap.name}.png", "wb") as fh:
            fh.write(buf.tobytes())
    log.info("blur-field deepgyro: %s %dx%d, |B| max %d px -> %s/blur{x,y}/%s.png", cap.name, b.shape[2],
             b.shape[1], int(np.abs(b).max()), out, cap.name)
    return 0


def _calibrate(args) -> int:
    from ..capture.format import load_capture
    from ..restore.timecal import calibrate_capture

    check_out(args.out, "--out", folder=True)
    cap, folder = load_capture(args.capture)
    res = calibrate_capture(cap, folder, range_ms=args.range_ms, search_readout=args.readout,
                            readout_max_ms=args.readout_max_ms, out_dir=args.out, write=args.write)
    print(json.dumps({k: res[k] for k in ("time_offset_ns", "readout_time_s", "plot")}, indent=1))
    return 0


def _synth(args) -> int:
    from ..capture.synthetic import make_synthetic_capture
    from ..capture.units import parse_quantity_ns
    from ..errors import GyrobenchError

    try:
        offset_ns = parse_quantity_ns(args.offset, "--offset")
    except ValueError as exc:
        raise GyrobenchError(str(exc)) from None
    from ..folders import FolderError, claim

    out = check_out(args.out, "--out", folder=True)
    with claim(out, "capture"):
        if (out / "capture.json").is_file() and not args.overwrite:
            raise FolderError(f"--out {out}: already holds a capture; pass --overwrite to replace it, or choose "
                              "another --out")
        make_synthetic_capture(out, image=args.image, seed=args.seed, exposure_ms=args.exposure_ms,
                               readout_ms=args.readout_ms, offset_ms=offset_ns / 1e6,
                               store_offset=args.store_offset == "true", focal_scale=args.focal_scale,
                               encoding=args.encoding)
    return 0
