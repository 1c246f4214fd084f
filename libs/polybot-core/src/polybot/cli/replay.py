"""``polybot replay <file> <market_id>``: rebuild a market's books from a recorded market-channel JSONL.

Runs the recording through the ingestor's own parser and book state machine, verifies every hash it can,
optionally writes the reconstructed events and snapshots to a database, and prints a summary::

    polybot.cli replay <file> <market_id> [--db-url sqlite:///./polybot.db | postgresql://…]
        [--min-order-size 5] [--neg-risk false] [--tick-size 0.01]
        [--strategy spread [--params quoter.toml] [--decisions]] [--json]

With ``--json`` the summary is one JSON object: ``{"market_id", "frames", "events", "applied", "invalid",
"hash_checked", "hash_ok", "hash_mismatch", "resyncs": {...}, "books": {asset_id: {"best_bid", "best_ask",
"bid_levels", "ask_levels", "hash", ...}}}``. Invalid messages are listed on stderr.

``--strategy spread`` also runs the quoter's SpreadQuoter over the replayed books (``app.replay.strategy``),
with the ``[quoter]`` table of ``--params`` (defaults without it), and adds ``"strategy"``, ``"tokens"``
(``{"yes", "no"}``), ``"plans"`` (quotes and pulls that would be published), ``"suppressed"`` (``{reason:
n}`` of holds) and ``"crossed"`` (targets crossing the book or themselves: always 0), and with
``--decisions`` ``"decisions"``: ``[{"ts_ms", "action", "reason", "orders": ["BUY 10 YES @ 0.48", ...],
"fair"}]``.

Exit 0 when events of the market were replayed and every hash checked matched; 1 when the replay ran but
found a problem: nothing to replay (an empty file, only invalid frames, another market's recording), a
target that crossed the book, or a book whose hash disagreed with the venue's (the summary is still
printed, the last line on stderr says why); 2 when it could not run (a bad file, flag, params file or
database).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polybot.cli import flags
from polybot.cli.failures import EXIT_OK, EXIT_PROBLEM, CliError, describe, echo, one_line, print_error, redact, scrub
from polybot.cli.files import readable_file
from polybot.domain.book_verify import MarketMeta, venue_number

if TYPE_CHECKING:  # the replay machinery is imported when a replay runs, after the arguments are checked
    from polybot.app.replay.run import ReplayRun
    from polybot.app.replay.strategy import QuoteReplay

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
# Bounds of the hashing metadata: a tick is a fraction of a dollar; beyond these the numbers are not the
# venue's, and formatting them (``1e999999``) would take the process down.
_TICK = (Decimal("1e-8"), Decimal(1))
_MIN_ORDER = (Decimal("1e-8"), Decimal("1e12"))
INVALID_SHOWN = 100  # invalid messages listed on stderr; the rest are counted


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("replay", help="replay a recorded market-channel JSONL")
    p.add_argument("file", help="JSONL recording: one websocket frame (object or array) per line")
    p.add_argument("market_id", type=flags.word(), help="condition id of the market to rebuild")
    p.add_argument("--db-url", default=None,
                   help="write results to sqlite:///<path> or postgresql://… (default: do not write)")
    p.add_argument("--min-order-size", default="5", help="market min_order_size for hashing (default 5)")
    p.add_argument("--neg-risk", default="false", help="market neg_risk, true/false (default false)")
    p.add_argument("--tick-size", default="0.01", help="market tick size for hashing (default 0.01)")
    p.add_argument("--strategy", choices=("spread",), default=None,
                   help="also run the SpreadQuoter over the replayed books and count its decisions")
    p.add_argument("--params", default=None, metavar="FILE",
                   help="TOML file whose [quoter] table sets the strategy's parameters (default: the defaults)")
    p.add_argument("--decisions", action="store_true", help="list every decision of the strategy")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.set_defaults(handler=run)


def _number(name: str, text: str, bounds: tuple[Decimal, Decimal], below_high: bool) -> str:
    low, high = bounds
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise CliError(f"{name} must be a number, got {echo(text)}") from None
    if not value.is_finite():
        raise CliError(f"{name} must be a finite number, got {echo(text)}")
    if value <= 0:
        raise CliError(f"{name} must be positive, got {echo(text)}")
    if value < low or value > high or (below_high and value == high):
        top = f"below {high}" if below_high else f"at most {high:f}"
        raise CliError(f"{name} must be at least {low:f} and {top}, got {echo(text)}")
    return venue_number(value)


def _meta(args: argparse.Namespace) -> MarketMeta:
    neg = args.neg_risk.strip().lower()
    if neg not in _TRUE | _FALSE:
        raise CliError(f"--neg-risk must be true or false, got {echo(args.neg_risk)}")
    return MarketMeta(tick_size=_number("--tick-size", args.tick_size, _TICK, below_high=True),
                      min_order_size=_number("--min-order-size", args.min_order_size, _MIN_ORDER, False),
                      neg_risk=neg in _TRUE)


def _check_db_url(url: str) -> None:
    from polybot.app.replay.run import DbUrlError, parse_db_url
    from polybot.cli.connect import check_pg_url

    try:
        kind, target = parse_db_url(url)
    except DbUrlError as exc:
        raise CliError(str(exc)) from None
    if kind == "postgresql":
        check_pg_url(url, "--db-url")
        return
    parent = Path(target).parent
    if not parent.is_dir():
        raise CliError(f"cannot write to {url}: there is no directory {parent} (create it first)")
    if Path(target).is_dir():
        raise CliError(f"cannot write to {url}: {target} is a directory; give a file name in it")


def _strategy(args: argparse.Namespace, meta: MarketMeta) -> QuoteReplay | None:
    if args.strategy is None:
        for flag, given in (("--params", args.params is not None), ("--decisions", args.decisions)):
            if given:
                raise CliError(f"{flag} is for a strategy: add --strategy spread")
        return None
    from polybot.app.replay.strategy import QuoteReplay
    from polybot.cli.quoter_params import load_quoter_params
    from polybot.domain.quoting import SpreadQuoter

    if args.params is None:
        quoter = SpreadQuoter()
    else:
        settings = load_quoter_params(args.params)
        quoter = SpreadQuoter(settings.default_params(), settings.per_market_params())
    return QuoteReplay(args.market_id, meta, quoter, keep_decisions=args.decisions)


async def _replay(path: Path, market_id: str, meta: MarketMeta, db_url: str | None,
                  strategy: QuoteReplay | None) -> ReplayRun:
    from polybot.app.replay.run import parse_db_url, replay_to_db
    from polybot.cli.connect import PG_ERRORS, connect_pg

    if db_url is not None and parse_db_url(db_url)[0] == "postgresql":
        conn = await connect_pg(db_url, label="--db-url")  # fail fast, naming the host, before reading
        await conn.close()
    try:
        return await replay_to_db(path, market_id, meta, db_url, strategy=strategy)
    except sqlite3.Error as exc:
        raise CliError(f"cannot write to {db_url}: {describe(exc)}") from exc
    except PG_ERRORS as exc:
        if db_url is None or (isinstance(exc, OSError) and exc.filename is not None):
            raise CliError(f"cannot read {path}: {describe(exc)}") from exc
        raise CliError(f"cannot write to {redact(db_url)}: {scrub(describe(exc), db_url)}") from exc


def _print_human(summary: dict[str, Any]) -> None:
    for key in ("market_id", "frames", "events", "applied", "invalid", "hash_checked", "hash_ok", "hash_mismatch"):
        print(f"{key:<14} {summary[key]}")
    print("resyncs        " + " ".join(f"{k}={v}" for k, v in summary["resyncs"].items()))
    for asset_id, book in summary["books"].items():
        print(f"book {asset_id}: bid {book['best_bid']} / ask {book['best_ask']} "
              f"({book['bid_levels']}x{book['ask_levels']} levels, {book['state']}, seq {book['seq']}, "
              f"hash {book['hash']})")
    if "strategy" not in summary:
        return
    print(f"{'plans':<14} {summary['plans']}")
    print(f"{'crossed':<14} {summary['crossed']}")
    print("suppressed     " + " ".join(f"{k}={v}" for k, v in summary["suppressed"].items()))
    for row in summary.get("decisions", ()):
        fair = f" fair {row['fair']}" if row["fair"] is not None else ""
        orders = f": {', '.join(row['orders'])}" if row["orders"] else ""
        print(f"decision {row['ts_ms']} {row['action']} {row['reason']}{fair}{orders}")


def _print_invalid(result: ReplayRun) -> None:
    for line_no, bad in result.invalid[:INVALID_SHOWN]:
        print(one_line(f"invalid message at line {line_no}: {bad.reason}: {bad.raw}"), file=sys.stderr)
    hidden = len(result.invalid) - INVALID_SHOWN
    if hidden > 0:
        print(f"… and {hidden} more invalid messages (the summary counts them all)", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    path = readable_file(args.file, "recording")
    meta = _meta(args)
    if args.db_url is not None:
        _check_db_url(args.db_url)
    strategy = _strategy(args, meta)
    from polybot.cli.replay_findings import failing_line, nothing_replayed
    from polybot.runtime import eventloop

    try:
        result: ReplayRun = eventloop.run(_replay(path, args.market_id, meta, args.db_url, strategy))
    except UnicodeDecodeError as exc:
        raise CliError(f"{path} is not a text recording: {describe(exc)}"
                       f"{'; it looks gzip-compressed: gunzip it first' if _gzipped(path) else ''}") from exc
    except CliError:
        raise
    except Exception as exc:  # the parser or the books met a frame they could not take: a bug, but say where
        line = failing_line(path, args.market_id, meta)
        where = f"line {line} of {path}" if line is not None else f"{path}"
        raise CliError(f"cannot replay {where}: {type(exc).__name__}: {describe(exc)} (a frame polybot cannot "
                       f"handle; run with --debug and report the traceback)") from exc
    _print_invalid(result)
    summary = result.summary()
    if args.json:
        print(json.dumps(summary))
    else:
        _print_human(summary)
    if not summary["events"]:  # ran, but found nothing to replay: a problem, not a success
        print_error(nothing_replayed(path, args.market_id, result))
        return EXIT_PROBLEM
    if summary.get("crossed"):
        print_error(f"{summary['crossed']} targets of the strategy would have crossed or locked the book or "
                    f"themselves: a bug in the SpreadQuoter's pricing; run with --decisions to see them")
        return EXIT_PROBLEM
    if summary["hash_mismatch"]:
        n, checked = summary["hash_mismatch"], summary["hash_checked"]
        print_error(f"{n} of {checked} book hashes in {path} did not match the venue's (each book was resynced): "
                    f"check --tick-size, --min-order-size and --neg-risk (the hash covers them: give the "
                    f"market's); else the recording is damaged or the venue changed its hash")
        return EXIT_PROBLEM
    return EXIT_OK


def _gzipped(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(2) == b"\x1f\x8b"
    except OSError:
        return False
