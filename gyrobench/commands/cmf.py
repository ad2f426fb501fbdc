"""``gyrobench cmf``: camera motion field of one gyro window, written as .npy (spec gyrodeblurnet.md §3.1).

With the defaults (``--samples 11 --M 8 --layout hwc --intrinsics 4krd``) the output is the official generator's
(360, 640, 16) float32 HWC array for the window starting at sample ``--start`` (0-based).
"""

from __future__ import annotations

import argparse

import numpy as np

from .args import check_out, int_in


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gyro", required=True, help="gyro text file, lines 'timestamp_ns wx wy wz' (rad/s)")
    parser.add_argument("--start", type=int_in(0, 10**12), required=True, help="first sample of the window (0-based line index)")
    parser.add_argument("--samples", type=int_in(2, 10**6), default=11, help="samples in the window (default 11 = 10 intervals)")
    parser.add_argument("--M", type=int_in(1, 256), default=8, help="number of trajectory segments (default 8)")
    parser.add_argument("--stride", type=int_in(1, 64), default=2, help="grid stride in pixels (default 2)")
    parser.add_argument("--layout", choices=("hwc", "chw"), default="hwc", help="array layout (default hwc)")
    parser.add_argument("--intrinsics", choices=("4krd", "demo"), default="4krd",
                        help="camera: 4krd = 1920x1080 frame, 1280x720 centre crop (default); demo = 500x500 "
                             "frame, the demo data's 480x480 centre crop at (10,10)")
    parser.add_argument("--crop", default=None,
                        help="x0,y0,w,h window of the --intrinsics frame to compute the field over (default: the "
                             "preset's crop)")
    parser.add_argument("--interp", choices=("linear", "cubic"), default="linear", help="rate interpolation")
    parser.add_argument("--anchor", choices=("mid", "start"), default="mid", help="reference pose")
    parser.add_argument("--rotation", choices=("euler", "expmap"), default="euler", help="increment rotation")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32", help="output dtype")
    parser.add_argument("--out", required=True, help="output .npy path")


def _parse_crop(text: str, K, preset: str) -> tuple[int, int, int, int]:
    from ..errors import RecipeError

    try:
        x0, y0, w, h = (int(v) for v in text.split(","))
    except ValueError:
        raise RecipeError(f"--crop {text!r}: expected four integers x0,y0,w,h (e.g. 10,10,480,480)") from None
    if w < 1 or h < 1 or x0 < 0 or y0 < 0 or x0 + w > K.width or y0 + h > K.height:
        raise RecipeError(f"--crop {text}: the window does not fit the {K.width}x{K.height} frame of --intrinsics "
                          f"{preset}; use x0, y0 >= 0, w, h >= 1, x0+w <= {K.width}, y0+h <= {K.height}")
    return x0, y0, w, h


def run(args: argparse.Namespace) -> int:
    from ..errors import GyroFormatError, ImageError
    from ..gyro import camera_motion_field, intrinsics_by_name, load_gyro
    from ..io import atomic_open
    from ..log import get_logger

    log = get_logger("cmf")
    out = check_out(args.out, "--out", folder=False)
    if out.suffix != ".npy":  # what np.save(path) did: append the extension
        out = out.with_name(out.name + ".npy")
    if not out.parent.is_dir():
        raise ImageError(f"--out {args.out}: folder {out.parent} does not exist; create it first or choose "
                         "another path")
    if args.M < 1 or args.stride < 1:
        raise GyroFormatError(f"--M and --stride must be >= 1 (got --M {args.M}, --stride {args.stride})")
    rec = load_gyro(args.gyro)
    win = rec.window(args.start, args.samples)
    for g in rec.gaps():
        if args.start <= g.index < args.start + args.samples - 1:
            log.warning("%s: the window crosses a %.2f ms gap (interval index %d); its time base is stretched "
                        "as in the official generator", args.gyro, g.size_ns / 1e6, g.index)
    K, crop = intrinsics_by_name(args.intrinsics)
    if args.crop is not None:
        crop = _parse_crop(args.crop, K, args.intrinsics)
    field = camera_motion_field(win.t_ns, win.w_cam, K, crop=crop, M=args.M, stride=args.stride,
                                interp=args.interp, anchor=args.anchor, rotation=args.rotation,
                                layout=args.layout, dtype=np.dtype(args.dtype))
    with atomic_open(out, "wb") as fh:  # never a truncated .npy under the final name
        np.save(fh, field)
    log.info("cmf: wrote %s %s %s (max |segment| %.2f px)", out, field.shape, field.dtype,
             float(np.abs(field).max()))
    return 0
