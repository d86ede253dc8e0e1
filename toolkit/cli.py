"""The ``toolkit`` command line. Thin by design: parse, call the library, print.

Each command group lives in ``toolkit/commands/<group>.py`` and registers itself through ``COMMANDS``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from . import __version__
from .commands import COMMANDS
from .errors import ToolkitError, describe_os_error


def build_parser() -> argparse.ArgumentParser:
    """The full parser: one sub-command per entry of ``toolkit.commands.COMMANDS``."""
    parser = argparse.ArgumentParser(
        prog="toolkit",
        description="Render a chosen person in any sequence of poses, and compare pose-transfer methods.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    groups = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in COMMANDS.values():
        register(groups)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``toolkit`` console script; returns the process exit status."""
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (ToolkitError, ValueError) as err:
        # Bad input is reported in one line; TOOLKIT_DEBUG=1 shows the traceback instead.
        if os.environ.get("TOOLKIT_DEBUG"):
            raise
        print(f"toolkit: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("toolkit: interrupted; finished outputs were kept", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`toolkit poses info x | head`): stop quietly, as Unix tools do.
        _silence_stdout()
        return 141
    except OSError as err:
        if os.environ.get("TOOLKIT_DEBUG"):
            raise
        print(f"toolkit: error: {describe_os_error(err)}", file=sys.stderr)
        return 1
    return 0


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that flushing it at exit raises no second BrokenPipeError."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real stdout (embedded, captured): nothing will be flushed to it
        pass


if __name__ == "__main__":
    sys.exit(main())
