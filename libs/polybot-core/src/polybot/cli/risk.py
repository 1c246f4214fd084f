"""``polybot risk [--clear [SCOPE]] [--reason TEXT] [--json]``: the risk halts of every running executor.

A risk breach (a position past its cap, the day's loss past ``max_daily_loss_usdc``, the order error rate)
cancels and halts its market or every market, and stays — across restarts — until an operator clears it
here (or over ``POST /risk/clear``). Without ``--clear`` this only reports; ``--clear`` clears every breach,
``--clear SCOPE`` one (a condition id, or ``*`` for the all-markets one). Clearing a daily-loss breach
starts the loss allowance again from the day's PnL at that moment.

A request on ``pb.ctl.risk_request`` (core NATS, request/reply); exit 1 when no executor answered, or
when breaches are still in force after a clear.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from polybot.cli import flags
from polybot.cli.failures import EXIT_OK, EXIT_PROBLEM, print_error
from polybot.cli.kill import common_flags, nats_url, reason_text

_WAIT_S = 2.0  # how long the answers are gathered (several executors may answer)
_EVERY = "every"  # ``--clear`` with no scope


def register(sub: Any) -> None:
    r = sub.add_parser("risk", help="the executors' risk halts; --clear [SCOPE] clears them")
    r.add_argument("--clear", nargs="?", const=_EVERY, default=None, type=flags.word(), metavar="SCOPE",
                   help="clear every breach, or the one of SCOPE (a condition id, or '*' for every market)")
    r.add_argument("--reason", default="operator", type=reason_text, help="why (kept with the clear)")
    common_flags(r)
    r.set_defaults(handler=run_risk)


def run_risk(args: argparse.Namespace) -> int:
    from polybot.runtime import eventloop

    url, label = nats_url(args)
    clear = args.clear is not None
    scope = None if args.clear in (None, _EVERY) else args.clear
    answers: list[dict[str, Any]] = eventloop.run(_ask(url, label, clear, scope, args.reason))
    if args.json:
        print(json.dumps({"clear": clear, "scope": scope, "executors": answers}))
    else:
        for a in answers:
            print(_line(a))
    if not answers:
        print_error("no executor answered on pb.ctl.risk_request: is one running on this NATS?")
        return EXIT_PROBLEM
    if clear and any(a.get("error") or (scope is None and a["breaches"]) for a in answers):
        print_error("breaches are still in force: see above")
        return EXIT_PROBLEM
    return EXIT_OK


def _line(a: dict[str, Any]) -> str:
    head = f"{a['executor']}: day PnL {a['day_pnl_usdc'] if a['day_pnl_usdc'] is not None else '-'} USDC"
    parts = [head]
    parts += [f"cleared {b['limit']} of {_where(b['scope'])}" for b in a["cleared"]]
    parts += [f"HALTED {_where(b['scope'])}: {b['limit']} {b['value']} past {b['threshold']}"
              f"{' (' + b['detail'] + ')' if b['detail'] else ''}" for b in a["breaches"]]
    if not a["breaches"]:
        parts.append("no breach in force")
    if a.get("error"):
        parts.append(f"error: {a['error']}")
    return "; ".join(parts)


def _where(scope: str) -> str:
    return "every market" if scope == "*" else f"market {scope}"


async def _ask(url: str, label: str, clear: bool, scope: str | None, reason: str) -> list[dict[str, Any]]:
    from polybot.bus import subjects
    from polybot.bus.messages import RiskAnswer, RiskRequest
    from polybot.cli.executor_requests import ask_executors

    req = RiskRequest(clear=clear, scope=scope, reason=reason, ts_ms=time.time_ns() // 1_000_000)
    return await ask_executors(url, label, "polybot-risk", subjects.CTL_RISK_REQUEST, req, RiskAnswer, _WAIT_S)
