"""``polybot market-trade``: one market by URL or search, its quotes, and, only with ``--confirm-live``, an
IOC order (the venue's FAK) with an optional resting close for what filled.

::

    polybot market-trade --config config/service.toml (--url URL | --query TEXT) [--outcome NAME]
        --side buy|sell --price P --size S [--close --close-price Q] [--confirm-live] [--force] [--json]

The market is read through the unified SDK (Gamma by slug or public search, then the token's ``/book``,
``/price`` of both sides, ``/midpoint``, ``/spread``); an event of several markets or a search of several
hits is an error naming them. Without ``--confirm-live`` that is all: a snapshot, and it says so. With it,
and ``mode`` sim (polysim) or live (Polymarket, with a key), the order is checked (on tick, inside (0, 1),
at least the minimum size, the market accepting orders, the close price on the profitable side unless
``--force``), sent through the executor's gateway, and written to ``orders`` and ``exec_audit``
(``plan_id`` ``manual-…``). ``paper`` mode refuses: it sends nothing anywhere. Exit 0 when the IOC filled
(and the close, if asked, was placed), 1 when the venue did not fill or took no close, 2 when nothing could
be sent (bad input, ambiguous market, wrong mode, no key, venue unreachable).
"""

from __future__ import annotations

import argparse
import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from polybot.cli import flags
from polybot.cli.failures import CliError, describe

if TYPE_CHECKING:
    from polybot.runtime.settings import Settings

def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "market-trade", help="resolve a market, show its quotes; with --confirm-live, trade it once (IOC)")
    p.add_argument("--config", default=None, help="TOML settings file (default config/service.toml)")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", metavar="URL",
                       help="https://polymarket.com/event/<event>[/<market>] or /market/<market>")
    where.add_argument("--query", metavar="TEXT",
                       help="free text for Gamma's public search (must find exactly one market)")
    p.add_argument("--outcome", default=None, metavar="NAME",
                   help="the outcome to trade, e.g. Yes or No (default: the first)")
    p.add_argument("--side", required=True, type=flags.word(("buy", "sell")), metavar="buy|sell")
    p.add_argument("--price", required=True, type=flags.amount(high=Decimal(1)), metavar="P",
                   help="the IOC's limit price, on the market's tick")
    p.add_argument("--size", required=True, type=flags.amount(), metavar="S", help="shares")
    p.add_argument("--close", action="store_true", help="then place the reverse order for what filled (GTC)")
    p.add_argument("--close-price", type=flags.amount(high=Decimal(1)), default=None, metavar="Q",
                   help="the resting close's price (on the profitable side unless --force)")
    p.add_argument("--confirm-live", action="store_true", help="really send the order (sim: polysim, live: Polymarket)")
    p.add_argument("--force", action="store_true", help="allow a --close-price on the losing side")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object: market, token, quotes, order, close_order, warnings")
    p.set_defaults(handler=run)


def _check_flags(args: argparse.Namespace) -> None:
    if args.close and args.close_price is None:
        raise CliError("--close needs --close-price: the price of the resting reverse order; nothing was sent")
    if args.close_price is not None and not args.close:
        raise CliError("--close-price is only used with --close; nothing was sent")
    for flag in ("url", "query", "outcome"):
        value = getattr(args, flag)
        if value is not None and not value.strip():
            raise CliError(f"--{flag} is empty; nothing was sent")


def sending_problem(settings: Settings) -> str | None:
    """Why orders cannot be sent in the configured mode (None: they can)."""
    from polybot.app.execute.mode import mode_problem

    if settings.mode == "paper":
        return ("mode = 'paper' sends no orders anywhere (paper fills are the executor's simulation): set "
                "mode = 'sim' (polysim) or 'live' (POLYBOT_MODE) to trade; nothing was sent")
    if settings.private_key is None:
        return (f"mode = {settings.mode!r} needs a private key to sign orders: set POLYBOT_PRIVATE_KEY (or its "
                f"secret file); nothing was sent")
    problem = mode_problem(settings)
    return f"{problem}; nothing was sent" if problem else None


def run(args: argparse.Namespace) -> int:
    from polybot.cli import config
    from polybot.runtime import eventloop

    _check_flags(args)
    settings = config.load(args.config)
    database_url, infra = None, None
    if args.confirm_live:
        settings = settings.model_copy(update={"confirm_live": True})  # the flag is this command's opt-in
        problem = sending_problem(settings)
        if problem is not None:
            raise CliError(problem)
        database_url, infra = _database(settings)
    from polybot.cli.market_trade_run import trade

    try:
        report, code = eventloop.run(trade(settings, args, database_url))
    finally:
        if infra is not None:
            infra.close()
    _print(report, args.json)
    return code


def _database(settings: Settings) -> tuple[str, Any]:
    """Where the orders are written: the configured database, a running ``up``'s, or an embedded one."""
    from polybot.runtime.infra import resolve_infra, shared_infra

    if settings.database_url:
        return settings.database_url, None
    shared = shared_infra(settings.state_dir)
    if shared is not None:
        return shared["database_url"], None
    try:
        infra = resolve_infra(settings.nats_url, None, settings.state_dir)
    except Exception as exc:  # only servers it had to start itself can fail here
        raise CliError(f"cannot start the embedded PostgreSQL under {settings.state_dir}: {describe(exc)}; set "
                       f"POLYBOT_DATABASE_URL to use a running server; nothing was sent") from exc
    return infra.database_url, infra


def _print(report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(report))
        return
    m, t, q = report["market"], report["token"], report["quotes"]
    print(f"market   {m['event_slug'] or '-'}/{m['slug']}  {m['question']}  ({m['condition_id']})")
    print(f"token    {t['outcome']}  {t['token_id']}")
    print(f"quotes   /price BUY {q['price_buy']}  SELL {q['price_sell']}  /midpoint {q['midpoint']}  "
          f"/spread {q['spread']}  best bid {q['best_bid']}  best ask {q['best_ask']}  "
          f"tick {q['tick_size']}  min size {q['min_order_size']}")
    for name, order in (("order", report["order"]), ("close", report["close_order"])):
        if order is not None:
            print(f"{name:<8} {order['type']} {order['side']} {order['size']} @ {order['price']}: {order['status']}"
                  f", matched {order['size_matched']}, order id {order['order_id']}"
                  + (f", error {order['error']}" if order["error"] else ""))
    for w in report["warnings"]:
        print(f"warning: {w}")
