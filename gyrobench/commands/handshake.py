"""``gyrobench handshake fit|sample|stats``: the synthetic hand-shake generator (gyrobench.gyro.handshake)."""

from __future__ import annotations

import argparse
import json

from .args import SEED, check_out, float_in, int_in


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    f = sub.add_parser("fit", help="fit the generator to a recording 'timestamp_ns wx wy wz' and write JSON")
    f.add_argument("gyro", help="recording, text lines 'timestamp_ns wx wy wz' (rad/s)")
    f.add_argument("--out", required=True, help="output model JSON")
    f.add_argument(
        "--fraction",
        type=float_in(0, 1),
        default=0.8,
        help="fit on the first FRACTION of the samples, hold the rest back (default 0.8)",
    )
    f.add_argument("--nperseg", type=int_in(8, 2**20), default=1024, help="Welch segment length in samples (default 1024)")
    f.add_argument("--name", default=None, help="model name (default: the file's stem + fraction)")
    s = sub.add_parser("sample", help="draw a synthetic recording from a fitted model")
    s.add_argument("--model", default=None, help="model JSON (default: the shipped gyro_train fit)")
    s.add_argument("--n", type=int_in(2, 10**8), required=True, help="number of samples")
    s.add_argument("--seed", type=SEED, default=0, help="random seed (output is deterministic per seed)")
    s.add_argument("--rate-hz", type=float_in(0, 1e6), default=None, help="output rate, Hz (default: the fitted rate)")
    s.add_argument("--out", required=True, help="output text file 'timestamp_ns wx wy wz'")
    t = sub.add_parser("stats", help="spec §2 statistics of a recording (std, band shares, blur extents)")
    t.add_argument("gyro", nargs="?", default=None, help="recording (omit to sample the model instead)")
    t.add_argument("--model", default=None, help="model JSON to sample when no recording is given")
    t.add_argument("--n", type=int_in(2, 10**8), default=39116, help="samples to draw from the model (default 39116)")
    t.add_argument("--seed", type=SEED, default=0)


def run(args: argparse.Namespace) -> int:
    from ..gyro import handshake as hs
    from ..log import get_logger

    log = get_logger("handshake")
    if getattr(args, "out", None):
        check_out(args.out, "--out", folder=False)
    if args.action == "fit":
        from pathlib import Path

        name = args.name or f"{Path(args.gyro).stem}_fit{int(round(args.fraction * 100))}"
        model = hs.fit_handshake_file(args.gyro, fraction=args.fraction, nperseg=args.nperseg, name=name)
        log.info("wrote %s", model.save(args.out))
        return 0
    if args.action == "sample":
        model = hs.HandshakeModel.load(args.model) if args.model else hs.load_default_handshake()
        rec = model.sample(args.n, seed=args.seed, rate_hz=args.rate_hz)
        log.info("wrote %d samples to %s", args.n, hs.write_gyro_text(args.out, rec))
        return 0
    if args.action == "stats":
        if args.gyro:
            from ..gyro.recording import load_gyro

            rec = load_gyro(args.gyro)
        else:
            model = hs.HandshakeModel.load(args.model) if args.model else hs.load_default_handshake()
            rec = model.sample(args.n, seed=args.seed)
        st = hs.handshake_statistics(rec.t_ns, rec.w)
        out = {k: (v.round(4).tolist() if hasattr(v, "round") else round(v, 4)) for k, v in st.items()}
        out["source"] = rec.source
        import sys

        sys.stdout.write(json.dumps(out, indent=1) + "\n")
        return 0
    return 2
