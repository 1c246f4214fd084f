"""``polybot tap``: bus messages as they pass, decoded, one a line, for people without the nats CLI.

``polybot tap <subject-or-alias> [--last N | --since DURATION] [--json]``. The aliases (``books``, ``plans``,
``orders``, ``fills``, ``ctl``) are ``polybot.bus.subjects.TAP_ALIASES``; any subject under ``pb.`` works too,
wildcards included. Books print as their top of book, everything else as its fields
(``polybot.cli.tap_format``); ``--json`` prints each message's own JSON, which ``polybot.bus.codec.decode``
reads back. ``--last N`` / ``--since 90s`` first print what JetStream keeps of the subject
(``polybot.cli.tap_history``), then go on live; a subject no stream keeps is live only, and stderr says so.

The live part is a core NATS subscription opened before the history is read, so nothing published meanwhile
is lost; a message that both delivered is printed once. Ctrl-C ends it (exit 130, no traceback). NATS is
found as ``kill`` finds it: ``--nats-url``, else the settings, else a running ``polybot up``.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from typing import TYPE_CHECKING, Any

from polybot.cli.failures import EXIT_OK
from polybot.cli.flags import integer

if TYPE_CHECKING:
    from polybot.bus.client import Bus

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86_400.0}
_MAX_SINCE_S = 30 * 86_400.0  # the longest any stream keeps anything


def tap_subject(text: str) -> str:
    """An alias's subject, or a well-formed subject under ``pb.``."""
    from polybot.bus.subject_patterns import valid_pattern
    from polybot.bus.subjects import PREFIX, TAP_ALIASES

    if text in TAP_ALIASES:
        return TAP_ALIASES[text]
    if text.startswith(PREFIX + ".") and valid_pattern(text):
        return text
    raise argparse.ArgumentTypeError(
        f"{text[:60]!r} is neither an alias ({', '.join(TAP_ALIASES)}) nor a subject under {PREFIX}. "
        f"(such as {PREFIX}.book.delta.*)")


def duration(text: str) -> float:
    """``90s``, ``5m``, ``1h30m``, ``500ms``, ``2d``: seconds, above 0 and at most 30 days."""
    pos, total = 0, 0.0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNIT_S[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text or not 0 < total <= _MAX_SINCE_S:
        raise argparse.ArgumentTypeError(
            f"{text[:40]!r} is not a duration: a number with a unit (ms, s, m, h, d), e.g. 90s, 5m, 1h30m; "
            "at most 30d")
    return total


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("tap", help="print bus messages live, decoded, one per line")
    p.add_argument("subject", type=tap_subject, metavar="SUBJECT",
                   help="an alias (books, plans, orders, fills, ctl) or a subject under pb. (wildcards allowed)")
    since = p.add_mutually_exclusive_group()
    since.add_argument("--last", type=integer(1, 100_000), default=None, metavar="N",
                       help="first print the last N stored messages")
    since.add_argument("--since", type=duration, default=None, metavar="DURATION",
                       help="first print the stored messages of the last DURATION (90s, 5m, 1h)")
    p.add_argument("--config", default=None, help="TOML settings file (default config/service.toml)")
    p.add_argument("--nats-url", default=None, help="nats://… (default: settings, then a running `up`)")
    p.add_argument("--json", action="store_true", help="print each message as its JSON, one a line")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from polybot.cli.kill import nats_url
    from polybot.runtime import eventloop

    url, label = nats_url(args)
    eventloop.run(_tap(url, label, args.subject, args.last, args.since, args.json))
    return EXIT_OK


def _emit(subject: str, data: bytes, as_json: bool) -> None:
    from polybot.bus.codec import DecodeError, decode
    from polybot.cli.tap_format import line

    try:
        msg = decode(data)
    except DecodeError:
        print(f"tap: not a bus message on {subject} ({len(data)} bytes)", file=sys.stderr, flush=True)
        return
    print(line(subject, msg, as_json, time.time_ns() // 1_000_000), flush=True)


async def _tap(url: str, label: str, subject: str, last: int | None, since_s: float | None, as_json: bool) -> None:
    import asyncio

    from nats.aio.msg import Msg

    from polybot.cli.connect import connect_bus

    bus = await connect_bus(url, "polybot-tap", label=label)
    live: asyncio.Queue[Msg] = asyncio.Queue()

    async def on_message(msg: Msg) -> None:
        live.put_nowait(msg)

    try:
        await bus.nc.subscribe(subject, cb=on_message)
        await bus.nc.flush()
        printed = await _history(bus, subject, last, since_s, as_json)
        print(f"tap: listening on {subject} (live; Ctrl-C stops)", file=sys.stderr, flush=True)
        while True:
            msg = await live.get()
            key = (msg.subject, msg.data)
            if key in printed:  # published while the history was read: already printed from there
                printed.discard(key)
                continue
            _emit(msg.subject, msg.data, as_json)
    finally:
        await bus.close()


async def _history(bus: Bus, subject: str, last: int | None, since_s: float | None,
                   as_json: bool) -> set[tuple[str, bytes]]:
    from polybot.cli.tap_history import coverage_note, read_history, sources

    if last is None and since_s is None:
        return set()
    found = sources(subject)
    print(coverage_note(subject, found), file=sys.stderr, flush=True)
    stored = await read_history(bus.js, found, last=last, since_s=since_s)
    for m in stored:
        _emit(m.subject, m.data, as_json)
    return {(m.subject, m.data) for m in stored}
