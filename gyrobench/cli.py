"""The ``gyrobench`` command: parse arguments and dispatch, nothing more.

Each subcommand lives in ``gyrobench/commands/<name>.py`` with two functions::

    def add_arguments(parser: argparse.ArgumentParser) -> None: ...
    def run(args: argparse.Namespace) -> int | None: ...

Library errors (:class:`gyrobench.errors.GyrobenchError`) and missing files reach the user as one line
``gyrobench: error: ...`` with exit status 2; ``--traceback`` shows the full trace for bug reports.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import sys

# name -> (module under gyrobench.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "cmf": ("cmf", "compute a camera motion field from a gyro window and write it as .npy"),
    "plot-cmf": ("plot_cmf", "render a camera motion field (or a gyro window) as a PNG picture"),
    "handshake": ("handshake", "fit the synthetic hand-shake generator to a recording, or sample from it"),
    "synth": ("synth", "synthesize a dataset (HDF5 shards + manifest) from a recipe"),
    "inspect": ("inspect", "summarize and verify a dataset folder or shard; write a contact sheet"),
    "import-gyroblur": ("import_gyroblur", "import an official GyroBlur-Synth folder into gyrobench shards"),
    "models": ("models", "list registered models with parameter counts and GMACs at 1280x720"),
    "train": ("train", "train a model from one config file (supports --resume and torchrun DDP)"),
    "eval": ("eval", "evaluate a checkpoint on a dataset and write a results record"),
    "health": ("health", "report whether a checkpoint's deformable blocks are alive, and what each path carries (--paths)"),
    "leaderboard": ("leaderboard", "publish results records as Markdown/CSV/LaTeX/HTML tables"),
    "study": ("study", "run a learning study from one suite file: train, validate, evaluate, publish a table"),
    "demo": ("demo", "end-to-end demo on the embedded Kodak data: synth, train, eval, leaderboard"),
    "capture": ("capture", "real captures: import photos + gyro logs, blur fields, time-offset calibration"),
    "infer": ("infer", "restore one capture (a photo with its gyro) with a checkpoint or the classical model"),
}


class _Parser(argparse.ArgumentParser):
    """argparse with the project's one-line errors: ``gyrobench: error: <command>: <message> (see --help)``."""

    def error(self, message: str):
        cmd = self.prog.split(" ", 1)[1] + ": " if " " in self.prog else ""
        self.exit(2, f"gyrobench: error: {cmd}{message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(prog="gyrobench", description="Gyro-aided deblurring benchmark.")
    parser.add_argument("--version", action="version", version=f"gyrobench {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    parser.add_argument("--traceback", action="store_true", help="show full tracebacks on error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        _load(module).add_arguments(p)
    return parser


def _load(module: str):
    return importlib.import_module(f"gyrobench.commands.{module}")


def main(argv: list[str] | None = None) -> int:
    from .errors import GyrobenchError
    from .log import setup_logging

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help, --version, or a bad argument (argparse printed usage and one error line)
        return int(stop.code or 0) if not isinstance(stop.code, str) else 2
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    setup_logging(args.verbose, args.quiet)
    try:
        rc = _load(args._module).run(args)
        return int(rc or 0)
    except GyrobenchError as exc:
        if args.traceback:
            raise
        print(f"gyrobench: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a path the user gave: missing, a file in the way, too long, not writable, disk full
        if args.traceback:
            raise
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            from .io import disk_full_message

            print(f"gyrobench: error: {disk_full_message(exc.filename)}", file=sys.stderr)
            return 2
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"gyrobench: error: {where}{exc.strerror or exc}; check the path (and that its folder is writable)",
              file=sys.stderr)
        return 2
    except MemoryError:
        if args.traceback:
            raise
        print("gyrobench: error: out of memory; lower the sizes or counts given (or use a machine with more memory)",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gyrobench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
