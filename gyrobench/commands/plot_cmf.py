"""``gyrobench plot-cmf``: render a camera motion field as a PNG (trajectory glyphs or colour wheel).

Sources (exactly one): ``--cmf FILE.npy`` (HWC or CHW, see ``--layout``), ``--gyro FILE --start N`` (field of that
window through ``gyrobench.gyro.camera_motion_field``), or ``--handshake`` (a window drawn from the shipped
synthetic hand-shake generator, ``--seed``).
"""

from __future__ import annotations

import argparse

from .args import SEED, check_out, float_in, int_in


def add_arguments(parser: argparse.ArgumentParser) -> None:
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--cmf", help="field .npy, (h, w, 2M) HWC or (2M, h, w) CHW, float, px")
    src.add_argument("--gyro", help="gyro text file 'timestamp_ns wx wy wz' (rad/s); needs --start")
    src.add_argument(
        "--handshake", action="store_true", help="use a window of the shipped synthetic hand-shake"
    )
    parser.add_argument("--layout", choices=("auto", "hwc", "chw"), default="auto", help="layout of --cmf")
    parser.add_argument("--start", type=int_in(0, 10**12), default=None, help="first sample of the --gyro window (0-based)")
    parser.add_argument("--samples", type=int_in(2, 10**6), default=11, help="samples per window (default 11)")
    parser.add_argument("--seed", type=SEED, default=0, help="seed of the --handshake window")
    parser.add_argument(
        "--intrinsics",
        choices=("4krd", "demo"),
        default=None,
        help="camera for --gyro/--handshake (default: 4krd for --gyro, demo for --handshake)",
    )
    parser.add_argument(
        "--image", default=None, help="background picture (sRGB PNG/JPEG), resized to the field"
    )
    parser.add_argument("--style", choices=("glyphs", "colorwheel"), default="glyphs", help="picture type")
    parser.add_argument(
        "--step", type=int_in(1, 10**4), default=None, help="glyph spacing in px (default ~1/14 of the side)"
    )
    parser.add_argument(
        "--scale", type=float_in(0, 1e4), default=1.0, help="magnify displacements (default 1 = true px)"
    )
    parser.add_argument("--stride", type=int_in(1, 64), default=2, help="grid stride of the field in px (default 2)")
    parser.add_argument("--out", required=True, help="output PNG")


def _load_cmf(path: str, layout: str):
    import numpy as np

    from ..errors import ShapeError

    try:
        a = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise ShapeError(f"{path}: not a plain .npy array ({exc}); write it with `gyrobench cmf`") from None
    if a.ndim != 3:
        raise ShapeError(f"{path}: expected a 3-D field (h, w, 2M) or (2M, h, w), got shape {a.shape}")
    if a.dtype.kind not in "fiu":
        raise ShapeError(f"{path}: expected a real numeric field (float px), got dtype {a.dtype}; "
                         "write it with `gyrobench cmf`")
    if layout == "auto":
        # the channel axis (2M) is even and normally the smallest; ties and tiny fields: pass --layout
        first_ok, last_ok = a.shape[0] % 2 == 0, a.shape[2] % 2 == 0
        layout = "chw" if first_ok and (not last_ok or a.shape[0] < a.shape[2]) else "hwc"
    if layout == "chw":
        a = a.transpose(1, 2, 0)
    h, w, c = a.shape
    if c < 2 or c % 2:
        raise ShapeError(f"{path}: field of shape {a.shape} (as {layout.upper()}) has {c} channels; a motion field "
                         "has an even number 2M >= 2 of channels (dx, dy per segment): check --layout hwc|chw")
    if h < 1 or w < 1:
        raise ShapeError(f"{path}: field of shape {a.shape} (as {layout.upper()}) has an empty {h}x{w} grid")
    a = a.astype(np.float64, copy=False)
    if not np.all(np.isfinite(a)):
        raise ShapeError(f"{path}: the field contains NaN or inf values; regenerate it (e.g. `gyrobench cmf`)")
    return a


def _check_glyph_grid(path: str, field, step: int | None, stride: int) -> None:
    """The glyph grid starts half a glyph step in: a field smaller than that has no glyph to draw."""
    from ..errors import ShapeError

    h, w = field.shape[:2]
    # render_cmf's step is at least 16 px and, when larger than 16 by default, below a third of the side
    need = (max(16 if step is None else int(step), stride) // stride) // 2 + 1
    if min(h, w) < need:
        raise ShapeError(f"{path}: the {h}x{w} field grid is too small for glyphs at "
                         f"step {16 if step is None else step} px and stride {stride} (needs at least "
                         f"{need}x{need} cells); use --style colorwheel, a smaller --step, or a larger field")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from ..errors import GyroFormatError, ShapeError
    from ..log import get_logger
    from ..viz import cmf_colorwheel, load_rgb, render_cmf, save_png

    log = get_logger("plot-cmf")
    check_out(args.out, "--out", folder=False)
    if args.stride < 1:
        raise ShapeError(f"--stride {args.stride}: the grid stride must be >= 1 px (2 for GyroDeblurNet fields)")
    if args.cmf:
        field = _load_cmf(args.cmf, args.layout)
        what = args.cmf
    else:
        from ..gyro import camera_motion_field, intrinsics_by_name

        if args.gyro:
            from ..gyro import load_gyro

            if args.start is None:
                raise GyroFormatError(
                    f"{args.gyro}: --start is required with --gyro (first sample of the window)"
                )
            win = load_gyro(args.gyro).window(args.start, args.samples)
            t_ns, w = win.t_ns, win.w_cam
            K, crop = intrinsics_by_name(args.intrinsics or "4krd")
            what = f"{args.gyro} start {args.start}"
        else:
            from ..gyro.handshake import load_default_handshake

            rec = load_default_handshake().sample(args.samples, seed=args.seed)
            t_ns, w = rec.t_ns, rec.w
            K, crop = intrinsics_by_name(args.intrinsics or "demo")
            what = rec.source
        field = camera_motion_field(t_ns, w, K, crop=crop, stride=args.stride, layout="hwc", dtype=np.float64)
    if args.style == "colorwheel":
        rgb = cmf_colorwheel(field, stride=args.stride)
    else:
        _check_glyph_grid(args.cmf or what, field, args.step, args.stride)
        image = load_rgb(args.image) if args.image else None
        rgb = render_cmf(field, image, step=args.step, scale=args.scale, stride=args.stride)
    save_png(args.out, rgb)
    seg = np.linalg.norm(field.reshape(field.shape[0], field.shape[1], -1, 2), axis=-1)
    log.info(
        "plot-cmf: %s -> %s (%dx%d, max segment %.2f px)",
        what,
        args.out,
        rgb.shape[1],
        rgb.shape[0],
        float(seg.max()),
    )
    return 0
