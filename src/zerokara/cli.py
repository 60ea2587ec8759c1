"""The ``zerokara`` command (also ``python -m zerokara``).

Sub-commands live in :mod:`zerokara.commands`, one module per family. Errors a
user can fix (bad options, missing data, a corrupt checkpoint, a NaN loss)
print one line and exit with status 1 (a bad option: status 2); no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from zerokara import __version__
from zerokara.commands import MODULES, Parser
from zerokara.errors import ZerokaraError


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="zerokara",
        description="Deep learning from zero: NumPy layers with hand-written, proven backward passes.",
    )
    parser.add_argument("--version", action="version", version=f"zerokara {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    train = commands.add_parser("train", help="train a model", description="Train a model.")
    tasks = train.add_subparsers(dest="task", metavar="TASK", required=True)
    for name in MODULES:
        importlib.import_module(f"zerokara.commands.{name}").register(commands, tasks)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ZerokaraError as e:
        print(f"zerokara: error: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # output piped into head: stop quietly
        sys.stderr.close()
        return 0
    except OSError as e:  # a full disk, no permission, a file where a folder should be
        where = f"{e.filename}: " if e.filename else ""
        print(f"zerokara: error: {where}{e.strerror or e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("zerokara: interrupted (the last checkpoint, if any, is intact)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
