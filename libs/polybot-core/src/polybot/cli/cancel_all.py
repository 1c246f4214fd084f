"""``polybot cancel-all [--market CONDITION_ID]``: every running executor cancels its orders now.

A request on ``pb.ctl.cancel_all`` (core NATS, request/reply); each executor cancels at the venue and
answers what it cancelled and what still rests. Prints every answer; exit 1 when no executor answered or
one could not cancel everything. See ``polybot kill`` for the switch that also holds every market.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from polybot.cli import flags
from polybot.cli.failures import EXIT_OK, EXIT_PROBLEM, print_error
from polybot.cli.kill import common_flags, nats_url, reason_text

_WAIT_S = 3.0  # how long the answers are gathered (several executors may answer)


def register(sub: Any) -> None:
    c = sub.add_parser("cancel-all", help="ask every executor to cancel its orders now")
    c.add_argument("--market", default=None, type=flags.word(), help="only this condition id")
    c.add_argument("--reason", default="operator", type=reason_text)
    common_flags(c)
    c.set_defaults(handler=run_cancel_all)


def run_cancel_all(args: argparse.Namespace) -> int:
    from polybot.runtime import eventloop

    url, label = nats_url(args)
    answers: list[dict[str, Any]] = eventloop.run(_cancel_all(url, label, args.market, args.reason))
    if args.json:
        print(json.dumps({"market": args.market, "executors": answers}))
    else:
        for a in answers:
            print(f"{a['executor']}: canceled {a['canceled']}, still open {a['open_orders']}"
                  f"{', error: ' + a['error'] if a.get('error') else ''}")
    if not answers:
        print_error("no executor answered on pb.ctl.cancel_all: is one running on this NATS?")
        return EXIT_PROBLEM
    if any(a.get("error") or a["open_orders"] for a in answers):
        print_error("an executor could not cancel everything: see above, and the venue's open orders")
        return EXIT_PROBLEM
    return EXIT_OK


async def _cancel_all(url: str, label: str, market: str | None, reason: str) -> list[dict[str, Any]]:
    from polybot.bus import subjects
    from polybot.bus.messages import CancelAllDone, CancelAllRequest
    from polybot.cli.executor_requests import ask_executors

    req = CancelAllRequest(market=market, reason=reason, ts_ms=time.time_ns() // 1_000_000)
    return await ask_executors(url, label, "polybot-cancel-all", subjects.CTL_CANCEL_ALL, req, CancelAllDone,
                               _WAIT_S)
