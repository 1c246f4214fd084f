"""The CLI entry point. Each command lives in its own module exposing ``register(subparsers)``.

A command's handler returns the process exit code (``failures``: 0 done, 1 ran but found a problem, 2 could
not do what was asked). Errors meant for the operator are raised as ``CliError``; every error, expected or
not, usage errors included, is printed as one line on stderr. ``polybot --debug COMMAND …`` (or
``COMMAND --debug``) prints the traceback as well, and lets the NATS client's logs through.

Command modules import their heavy machinery (settings, drivers, the replay and refresh pipelines) inside
their handlers, so that building the parser stays light: ``--help`` and a bad flag answer in ~0.1 s.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from polybot.cli.failures import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_PROBLEM,
    CliError,
    explain,
    print_error,
    print_traceback,
)

__all__ = ["COMMANDS", "CliError", "build_parser", "main"]

# Command modules, in the order ``--help`` lists them.
COMMANDS: tuple[str, ...] = ("up", "demo", "status", "kill", "cancel-all", "risk", "gamma-refresh", "replay", "sim",
                             "builder-health", "tap", "migrate", "with-sim-wallet", "market-trade")
# Libraries that talk on their own (nats-py logs a traceback per failed connection attempt).
_CHATTY_LOGGERS = ("nats", "asyncio")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming the command and where its help is."""

    def error(self, message: str) -> NoReturn:
        raise CliError(f"{self.prog}: {message} (see {self.prog} --help)")

    def _get_values(self, action: argparse.Action, arg_strings: list[str]) -> Any:
        # ``--seed=--``: argparse drops the "--" and hands the option an empty list, past its type check
        if action.option_strings and action.nargs is None and arg_strings == ["--"]:
            raise argparse.ArgumentError(action, "expected a value, got '--'")
        return super()._get_values(action, arg_strings)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="polybot", description="Polybot: a market maker for Polymarket's CLOB.")
    parser.add_argument("--debug", action="store_true", help="print the traceback of an error, too")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"polybot.cli.{name.replace('-', '_')}").register(sub)
    for command in sub.choices.values():  # ``polybot status --debug`` works too
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser


def _quiet_libraries() -> dict[str, int]:
    """Silence the chatty libraries; returns their levels, to restore (``main`` may run inside a test)."""
    levels: dict[str, int] = {}
    for name in _CHATTY_LOGGERS:
        logger = logging.getLogger(name)
        levels[name] = logger.level
        logger.setLevel(logging.CRITICAL + 1)
    return levels


def _stdout_gone() -> int:
    """The reader of stdout went away (``polybot status --json | head -c1``): exit without a word."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return EXIT_PROBLEM


def _fail(exc: BaseException, message: str, debug: bool) -> None:
    if debug:
        print_traceback(exc)
    print_error(message)


def main(argv: Sequence[str] | None = None) -> None:
    raw = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in raw  # known before parsing, so that a usage error gets its traceback too
    levels = {} if debug else _quiet_libraries()
    try:
        args = build_parser().parse_args(raw)
        code = int(args.handler(args))
    except CliError as exc:
        _fail(exc, str(exc), debug)
        code = exc.code
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    except BrokenPipeError:
        code = _stdout_gone()
    except Exception as exc:  # the last net: a case no command translated still gets one line
        _fail(exc, explain(exc), debug)
        code = EXIT_ERROR
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
    sys.exit(code)
