"""What ``polybot market-trade`` does once its flags are good: resolve, quote, check, and (confirmed) trade.

Nothing is sent before every check passed; each refusal is a ``CliError`` (exit 2) ending "nothing was
sent". The report is the command's JSON object: ``market``, ``token``, ``quotes``, ``order``,
``close_order``, ``warnings`` (decimals as strings).
"""

from __future__ import annotations

import argparse
import contextlib
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from polybot.cli.failures import EXIT_OK, EXIT_PROBLEM, CliError
from polybot.domain.manual_order import ManualOrder, MarketTerms, close_size_problem, order_problems, reverse
from polybot.venue.market_lookup import (
    MarketInfo,
    MarketLookupError,
    Outcome,
    only_market,
    parse_market_url,
    pick_outcome,
)
from polybot.venue.sdk_markets import MarketReader, MarketReadError, Quotes

if TYPE_CHECKING:
    from polymarket.environments import Environment

    from polybot.runtime.settings import Settings

SNAPSHOT_ONLY = "snapshot only: no order was sent (add --confirm-live to send the IOC order)"
NOTHING_SENT = "nothing was sent"
_CENT = Decimal("0.01")


def _polymarket_host(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host == "polymarket.com" or host.endswith(".polymarket.com")


def read_environment(settings: Settings) -> Environment:
    """Where markets are read: Polymarket in live mode (and in paper mode configured on Polymarket's
    hosts: reading is not trading), else the simulator the executor's URLs name."""
    ex = settings.executor
    if settings.mode == "live" or (settings.mode == "paper" and _polymarket_host(ex.clob_url)):
        from polymarket import PRODUCTION

        return PRODUCTION
    from polybot.venue.sdk_environment import sim_environment

    try:
        return sim_environment(ex.clob_url, ex.gamma_url, ex.ws_user_url.removesuffix("/user").removesuffix("/ws"))
    except ValueError as exc:
        raise CliError(f"mode = {settings.mode!r}: {exc}; {NOTHING_SENT}") from exc


async def _resolve(reader: MarketReader, args: argparse.Namespace, warnings: list[str]) -> MarketInfo:
    if args.query is not None:
        return only_market(f"--query {args.query!r}", await reader.search(args.query), args.query)
    ref = parse_market_url(args.url)
    found = await reader.candidates(ref)
    if ref.kind == "event":
        return only_market(f"event {ref.event_slug!r}", found)
    market = only_market(f"--url {args.url!r}", found)
    if ref.event_slug and market.event_slug and market.event_slug != ref.event_slug:
        warnings.append(f"market {market.slug} belongs to event {market.event_slug}, not {ref.event_slug} "
                        f"as the URL says")
    return market


def _terms(market: MarketInfo, quotes: Quotes, warnings: list[str]) -> MarketTerms:
    """The CLOB's tick and minimum size (its own book) over Gamma's, which may lag a tick change."""
    tick = quotes.tick_size or market.tick_size
    if tick is None:
        raise CliError(f"the tick size of {market.slug} is unknown (no CLOB book, no Gamma tick): {NOTHING_SENT}")
    if quotes.tick_size and market.tick_size and quotes.tick_size != market.tick_size:
        warnings.append(f"Gamma lists tick {market.tick_size}, the CLOB's book {quotes.tick_size}: the CLOB's is used")
    min_size = quotes.min_order_size or market.min_order_size or Decimal(0)
    return MarketTerms(tick, min_size, market.accepting_orders, market.closed, market.active)


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _report(market: MarketInfo, outcome: Outcome, quotes: Quotes, terms: MarketTerms,
            warnings: list[str]) -> dict[str, Any]:
    return {
        "market": {"event_slug": market.event_slug, "slug": market.slug, "question": market.question,
                   "condition_id": market.condition_id, "accepting_orders": market.accepting_orders,
                   "active": market.active, "closed": market.closed, "neg_risk": market.neg_risk,
                   "tick_size": _s(terms.tick_size), "min_order_size": _s(terms.min_order_size)},
        "token": {"outcome": outcome.label, "token_id": outcome.token_id},
        "quotes": {"price_buy": _s(quotes.price_buy), "price_sell": _s(quotes.price_sell),
                   "midpoint": _s(quotes.midpoint), "spread": _s(quotes.spread), "best_bid": _s(quotes.best_bid),
                   "best_ask": _s(quotes.best_ask), "tick_size": _s(quotes.tick_size),
                   "min_order_size": _s(quotes.min_order_size)},
        "order": None, "close_order": None, "warnings": warnings,
    }


async def trade(settings: Settings, args: argparse.Namespace, database_url: str | None) -> tuple[dict[str, Any], int]:
    """The report and the exit code; ``CliError`` when nothing could be sent."""
    from polymarket import AsyncPublicClient

    warnings: list[str] = []
    timeout_s = max(5.0, settings.executor.request_timeout_s)
    where = settings.executor.gamma_url if settings.mode != "live" else "Polymarket"
    try:
        async with AsyncPublicClient(read_environment(settings)) as client:
            reader = MarketReader(client, timeout_s=timeout_s)
            market = await _resolve(reader, args, warnings)
            outcome = pick_outcome(market, args.outcome)
            quotes = await reader.quotes(outcome.token_id)
    except MarketLookupError as exc:
        raise CliError(f"{exc}; {NOTHING_SENT}") from exc
    except MarketReadError as exc:
        raise CliError(f"cannot read the market from {where}: {exc}; {NOTHING_SENT}") from exc
    if args.outcome is None:
        warnings.append(f"no --outcome given: trading {outcome.label!r}, the market's first outcome")
    warnings += [f"quote not read: {p}" for p in quotes.problems]
    terms = _terms(market, quotes, warnings)
    order = ManualOrder("BUY" if args.side == "buy" else "SELL", args.price, args.size,
                        args.close_price if args.close else None, args.force)
    problems = order_problems(order, terms)
    if problems:
        raise CliError(f"{'; '.join(problems)}; {NOTHING_SENT}")
    report = _report(market, outcome, quotes, terms, warnings)
    if not args.confirm_live:
        warnings.append(SNAPSHOT_ONLY)
        return report, EXIT_OK
    assert database_url is not None
    neg_risk = quotes.neg_risk if quotes.neg_risk is not None else market.neg_risk
    return report, await _send(settings, database_url, report, order, market, outcome, terms, neg_risk)


async def _send(settings: Settings, database_url: str, report: dict[str, Any], order: ManualOrder,
                market: MarketInfo, outcome: Outcome, terms: MarketTerms, neg_risk: bool) -> int:
    from polymarket.errors import PolymarketError

    from polybot.app.execute.gateways import open_clob_gateway
    from polybot.cli.connect import open_pool
    from polybot.cli.manual_orders import Ticket, new_plan_id, send
    from polybot.store.migrate import apply_migrations
    from polybot.venue.order_gateway import GatewayError

    warnings: list[str] = report["warnings"]
    if order.side == "BUY" and (order.price * order.size) % _CENT:
        warnings.append(f"a BUY IOC spends whole cents: at most {(order.price * order.size) // _CENT * _CENT} "
                        f"USDC, so it may buy a little less than {order.size}")
    async with contextlib.AsyncExitStack() as stack:
        pool = await open_pool(database_url, label="the database URL (database_url / POLYBOT_DATABASE_URL)")
        stack.push_async_callback(pool.close)
        await apply_migrations(pool, ("exec", "audit"))
        try:
            gateway = await stack.enter_async_context(open_clob_gateway(settings))
        except (GatewayError, PolymarketError, OSError) as exc:
            raise CliError(f"cannot open a trading session with the venue: {type(exc).__name__}: {exc}; "
                           f"{NOTHING_SENT}") from exc
        context = {"market_slug": market.slug, "event_slug": market.event_slug, "outcome": outcome.label}
        plan_id = new_plan_id()
        ioc = await send(gateway, pool, Ticket(plan_id, market.condition_id, outcome.token_id, order.side,
                                               order.price, order.size, terms.tick_size, neg_risk, "FAK", context))
        report["order"] = ioc.summary()
        if ioc.answer is None:
            raise CliError(f"the venue took no order: {ioc.error}; nothing was placed (audited as {plan_id})")
        code = EXIT_OK
        if ioc.status == "unknown":
            warnings.append(f"the venue's answer was lost: the IOC may have filled; look up order "
                            f"{ioc.answer.order_id}")
            code = EXIT_PROBLEM
        elif ioc.status != "matched":
            warnings.append(f"the IOC was not filled: {ioc.answer.error}")
            code = EXIT_PROBLEM
        elif ioc.filled < order.size:
            warnings.append(f"the IOC filled {ioc.filled} of {order.size}: the rest was dropped (IOC)")
        if order.close_price is None:
            return code
        why = (close_size_problem(ioc.filled, terms) if ioc.status == "matched"
               else "the IOC did not fill: no closing order placed")
        if why is not None:
            warnings.append(why)
            return EXIT_PROBLEM
        close = await send(gateway, pool, Ticket(f"{plan_id}-close", market.condition_id, outcome.token_id,
                                                 reverse(order.side), order.close_price, ioc.filled,
                                                 terms.tick_size, neg_risk, "GTC", context))
        report["close_order"] = close.summary()
        if close.status not in ("live", "matched", "delayed"):
            warnings.append(f"the closing order was not placed: {close.error or (close.answer and close.answer.error)}")
            return EXIT_PROBLEM
        return code
