"""The CLI entry point. Each command lives in its own module exposing ``register(subparsers)``.

A command's handler returns the process exit code. Errors meant for the operator are raised as
``CliError``; every error, expected or not, is printed as one line on stderr with exit code 2 (see
``failures.explain``). ``polybot --debug COMMAND …`` prints the traceback as well.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from collections.abc import Sequence

from polybot.cli.failures import explain

# Command modules, in the order ``--help`` lists them.
COMMANDS: tuple[str, ...] = ("up", "status", "gamma-refresh", "replay", "sim")


class CliError(Exception):
    """A user-facing error: printed as one line, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="polybot", description="Polybot: a market maker for Polymarket's CLOB.")
    parser.add_argument("--debug", action="store_true", help="print the traceback of an error, too")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"polybot.cli.{name.replace('-', '_')}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = int(args.handler(args))
    except KeyboardInterrupt:
        code = 130
    except SystemExit:
        raise
    except BaseException as exc:  # every error is one line for a person; the traceback only with --debug
        if args.debug:
            traceback.print_exc()
        message = str(exc) if isinstance(exc, CliError) else explain(exc)
        print(f"error: {' '.join(message.split())}", file=sys.stderr)
        code = 2
    sys.exit(code)
