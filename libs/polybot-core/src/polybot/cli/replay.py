"""``polybot replay <file> <market_id>``: rebuild a market's books from a recorded market-channel JSONL.

Runs the recording through the ingestor's own parser and book state machine, verifies every hash it can,
optionally writes the reconstructed events and snapshots to a database, and prints a summary::

    polybot.cli replay <file> <market_id> [--db-url sqlite:///./polybot.db | postgresql://…]
        [--min-order-size 5] [--neg-risk false] [--tick-size 0.01] [--json]

With ``--json`` the summary is one JSON object: ``{"market_id", "frames", "events", "applied", "invalid",
"hash_checked", "hash_ok", "hash_mismatch", "resyncs": {...}, "books": {asset_id: {"best_bid", "best_ask",
"bid_levels", "ask_levels", "hash", ...}}}``. Invalid messages are listed on stderr.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import asyncpg

from polybot.app.replay.run import DbUrlError, ReplayRun, parse_db_url, replay_to_db
from polybot.cli.main import CliError
from polybot.domain.book_verify import MarketMeta, venue_number
from polybot.runtime import eventloop

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("replay", help="replay a recorded market-channel JSONL")
    p.add_argument("file", help="JSONL recording: one websocket frame (object or array) per line")
    p.add_argument("market_id", help="condition id of the market to rebuild")
    p.add_argument("--db-url", default=None,
                   help="write results to sqlite:///<path> or postgresql://… (default: do not write)")
    p.add_argument("--min-order-size", default="5", help="market min_order_size for hashing (default 5)")
    p.add_argument("--neg-risk", default="false", help="market neg_risk, true/false (default false)")
    p.add_argument("--tick-size", default="0.01", help="market tick size for hashing (default 0.01)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.set_defaults(handler=run)


def _number(name: str, text: str, upper: Decimal | None = None) -> str:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise CliError(f"{name} must be a number, got {text!r}") from None
    if not value.is_finite() or value <= 0 or (upper is not None and value >= upper):
        bound = f" and below {upper}" if upper is not None else ""
        raise CliError(f"{name} must be positive{bound}, got {text!r}")
    return venue_number(value)


def _meta(args: argparse.Namespace) -> MarketMeta:
    neg = args.neg_risk.strip().lower()
    if neg not in _TRUE | _FALSE:
        raise CliError(f"--neg-risk must be true or false, got {args.neg_risk!r}")
    return MarketMeta(tick_size=_number("--tick-size", args.tick_size, Decimal(1)),
                      min_order_size=_number("--min-order-size", args.min_order_size), neg_risk=neg in _TRUE)


def _print_human(summary: dict[str, Any]) -> None:
    for key in ("market_id", "frames", "events", "applied", "invalid", "hash_checked", "hash_ok", "hash_mismatch"):
        print(f"{key:<14} {summary[key]}")
    print("resyncs        " + " ".join(f"{k}={v}" for k, v in summary["resyncs"].items()))
    for asset_id, book in summary["books"].items():
        print(f"book {asset_id}: bid {book['best_bid']} / ask {book['best_ask']} "
              f"({book['bid_levels']}x{book['ask_levels']} levels, {book['state']}, seq {book['seq']}, "
              f"hash {book['hash']})")


def run(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if path.is_dir():
        raise CliError(f"{path} is a directory: give a recorded JSONL file")
    if not path.exists():
        raise CliError(f"no such file: {path}")
    if not path.is_file():
        raise CliError(f"{path} is not a regular file: give a recorded JSONL file")
    meta = _meta(args)
    if args.db_url is not None:
        try:
            parse_db_url(args.db_url)
        except DbUrlError as exc:
            raise CliError(str(exc)) from None
    try:
        result: ReplayRun = eventloop.run(replay_to_db(path, args.market_id, meta, args.db_url))
    except (OSError, sqlite3.Error, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
        raise CliError(f"cannot write to {args.db_url}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise CliError(f"{path} is not UTF-8 text: {exc}") from exc
    for line_no, bad in result.invalid:
        print(f"invalid message at line {line_no}: {bad.reason}: {bad.raw}", file=sys.stderr)
    summary = result.summary()
    if args.json:
        print(json.dumps(summary))
    else:
        _print_human(summary)
    if not summary["events"]:  # ran, but found nothing to replay: a problem, not a success
        print(f"error: no events of market {args.market_id} in {path} (check the market id and the file)",
              file=sys.stderr)
        return 1
    return 0
