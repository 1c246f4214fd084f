"""The executor's loops beside the plans: heartbeat, fills, reconciliation, paper matching.

* **Heartbeat**: while any order of ours rests (and always outside paper), a heartbeat every
  ``heartbeat_interval_s`` (≤ 5 s) chained by the id the venue answers; if the executor freezes the venue
  cancels everything 10 s later. A failed heartbeat is counted and retried at once on the next beat with a
  fresh chain. A heartbeat accepted ``_DEADMAN_GAP_S`` or more after the previous accepted one (the
  executor was frozen, or the venue unreachable) may come after the venue's 10 s switch fired: its
  cancels are invisible to us (no error, the chain just restarts), so the venue is reconciled at once.
* **Fills**: the venue's trades since the last one seen (with a minute of overlap: a trade is applied once,
  by id) update ``fills``, ``positions``, the order record and the inventory, and go out as ``OrderFill``
  and ``MarketPosition``. A trade of an order we do not know is still recorded (it is ours: the key's).
* **Lapse**: a market whose last target ran out ``target_lapse_grace_ms`` ago, with no plan since, has its
  orders cancelled (``target_lapsed``): the quoter's quotes do not outlive the quoter.
* **Risk** (``risk_loop``): the day's PnL marked at the books' midpoints and checked against the daily loss
  limit every ``risk.check_interval_s`` (``RiskDesk.check_day``); a breach cancels and halts at once.
* **Reconciliation**, at start and every ``reconcile_interval_s``: the venue's open orders are the truth
  (``polybot.domain.order_sync``): orphans are cancelled, absent records dropped, unknown ones confirmed
  (and their deferred cancels sent), missed fills picked up by the next fills pass.
* **User channel** (sim and live, ``user_channel``): the venue's ``/ws/user`` pushes our trades as they match
  (``polybot.venue.ws_user``): they go through the same ``apply_trades`` (once by id, so the fills poll stays
  as the fallback), an ``order`` PLACEMENT confirms an order whose submit outcome was unknown, a CANCELLATION
  of an order we still count as resting (the venue cancelled it: an operator with the same key, a market
  closing) drops it at once (``end_reason = 'venue_cancel'``), and every (re)connect reconciles
  (``user_channel_reconnect``): what happened while the socket was down is in the truth. UPDATE events carry
  nothing the trades do not: fills move orders when their trade arrives.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any

from polybot.app.execute.pipeline import Executor
from polybot.bus import subjects
from polybot.bus.messages import OrderFill
from polybot.domain.inventory import Fill, OversoldError
from polybot.domain.order_sync import Ours, compare
from polybot.store import exec_repo
from polybot.store.exec_repo import FillRow, OrderRow
from polybot.venue.order_gateway import GatewayError, VenueTrade
from polybot.venue.ws_user import OrderUpdate, UserAuth, UserChannel, UserChannelConfig, UserEvent, auth_of

log = logging.getLogger(__name__)
_TRADE_OVERLAP_MS = 60_000
_LAPSE_CHECK_S = 0.25
# The venue cancels everything 10 s after the last heartbeat; the cadence is at most 5 s, so an accepted
# heartbeat this long after the previous one is a gap the venue may have acted on.
_DEADMAN_GAP_S = 8.0
Loop = Callable[[], Coroutine[Any, Any, None]]


async def heartbeat_loop(ex: Executor) -> None:
    beat_id: str | None = None
    last_ok: float | None = None
    while True:
        if ex.orders.by_id or ex.backend != "paper":
            try:
                beat_id = await ex.gateway.heartbeat(beat_id)
            except (GatewayError, OSError, TimeoutError) as exc:
                ex.m.heartbeat_failures.inc()
                log.warning("venue heartbeat failed", extra={"error": str(exc)})
                beat_id = None
            else:
                now = time.monotonic()
                gap, last_ok = (None if last_ok is None else now - last_ok), now
                if gap is not None and gap >= _DEADMAN_GAP_S:
                    log.warning("heartbeat gap: the venue may have cancelled our orders; reconciling",
                                extra={"gap_s": round(gap, 1)})
                    try:
                        await reconcile_once(ex, "heartbeat_gap")
                    except (GatewayError, OSError, TimeoutError) as exc:
                        log.warning("reconciliation after a heartbeat gap failed", extra={"error": str(exc)})
        await asyncio.sleep(ex.cfg.heartbeat_interval_s)


async def fills_loop(ex: Executor) -> None:
    since = 0
    while True:
        try:
            trades = await ex.gateway.trades(max(0, since - _TRADE_OVERLAP_MS))
        except (GatewayError, OSError, TimeoutError) as exc:
            log.warning("trades not read", extra={"error": str(exc)})
            trades = []
        if trades:
            await apply_trades(ex, trades)
            since = max(since, *(t.match_time_ms for t in trades))
        await asyncio.sleep(ex.cfg.fills_poll_interval_s)


async def apply_trades(ex: Executor, trades: list[VenueTrade]) -> int:
    """Record trades once each; the new ones move orders, inventory and positions. Returns how many were new."""
    rows = [FillRow(t.trade_id, t.order_id, t.market or ex.market_of_asset.get(t.asset_id, ""), t.asset_id, t.side,
                    t.price, t.size, t.status, t.match_time_ms, t.fee_usdc) for t in trades]
    async with ex.pool.acquire() as conn, conn.transaction():
        new = await exec_repo.record_fills(conn, rows)
        touched: set[str] = set()
        order_rows: list[OrderRow] = []
        for f in new:
            if f.status == "FAILED":
                continue
            done = Fill(f.fill_id, f.asset_id, f.side, f.price, f.size, f.fee_usdc, f.ts_ms)  # type: ignore[arg-type]
            try:
                if ex.inventory.apply(done):
                    ex.risk.apply_fill(done)
            except OversoldError as exc:  # our record and the venue disagree: the venue wins at reconciliation
                log.error("fill sells more than we hold", extra={"fill_id": f.fill_id, "error": str(exc)})
                continue
            rec = ex.orders.by_id.get(f.order_id)
            if rec is not None:
                after = ex.orders.matched(f.order_id, rec.size_matched + f.size)
                if after is not None:
                    order_rows.append(OrderRow(after.order_id, after.market, after.asset_id, after.side, after.price,
                                               after.size, after.size_matched,
                                               "matched" if after.remaining <= 0 else "live", ex.backend,
                                               end_reason="filled" if after.remaining <= 0 else None))
            touched.add(f.market)
            ex.m.orders_filled.inc(market=f.market)
            ex.guard.observe_position(f.market, f.asset_id, ex.inventory.size(f.asset_id), ex.clock_ms())
        await exec_repo.upsert_orders(conn, order_rows)
        await exec_repo.upsert_positions(conn, [(a, ex.market_of_asset.get(a, ""), h.size, h.cost_usdc,
                                                 h.realized_usdc, h.fees_usdc)
                                                for a, h in ex.inventory.holdings.items()
                                                if ex.market_of_asset.get(a, "") in touched])
    for f in new:
        fill = OrderFill(fill_id=f.fill_id, order_id=f.order_id, market=f.market, asset_id=f.asset_id,
                         side=f.side, price=f.price, size=f.size, status=f.status, ts_ms=f.ts_ms)
        try:
            await ex.bus.publish(subjects.order_fill(f.market), fill, msg_id=f"{f.fill_id}:{f.order_id}")
        except Exception as exc:
            log.warning("fill not published", extra={"fill_id": f.fill_id, "error": repr(exc)})
    for market in touched:
        await ex.publish_position(market)
        ex.m.open_orders.labels(market=market).set(len(ex.orders.of_market(market)))
    ex.m.realized_pnl.set(float(ex.inventory.realized_usdc()))
    await ex.risk.settle()  # a position past its cap halts its market and cancels its orders now
    return len(new)


async def reconcile_once(ex: Executor, why: str) -> dict[str, int]:
    venue = await ex.gateway.open_orders()
    now = ex.clock_ms()
    ours = {o.order_id: Ours(o.size_matched, o.state == "unknown", o.placed_ms) for o in ex.orders.by_id.values()}
    result = compare(ours, {v.order_id: v.size_matched for v in venue}, now)
    if result.orphans:
        await ex.gateway.cancel(list(result.orphans))
    for oid in result.confirmed:
        ex.orders.set_state(oid, "live")
    deferred = [oid for oid in result.confirmed if ex.orders.by_id[oid].cancel_wanted]
    if deferred:
        answer = await ex.gateway.cancel(deferred)
        ex.orders.remove(answer.canceled)
    for oid, matched in result.matched:
        ex.orders.matched(oid, matched)
    gone = ex.orders.remove(result.absent)
    if gone:
        async with ex.pool.acquire() as conn:
            await exec_repo.upsert_orders(conn, [OrderRow(r.order_id, r.market, r.asset_id, r.side, r.price, r.size,
                                                          r.size_matched, "absent", ex.backend,
                                                          end_reason="reconcile") for r in gone])
    counts = {"orphan": len(result.orphans), "absent": len(result.absent), "confirmed": len(result.confirmed),
              "matched": len(result.matched)}
    for kind, n in counts.items():
        if n:
            ex.m.reconcile_fixes.inc(n, kind=kind)
    if not result.clean or why != "periodic":
        log.info("reconciled with the venue", extra={"why": why, **counts})
    for market in {r.market for r in gone}:
        await ex.publish_position(market)
    return counts


async def lapse_loop(ex: Executor) -> None:
    """Cancel the orders of markets whose target lapsed (``Executor.lapsed_markets``)."""
    while True:
        await asyncio.sleep(_LAPSE_CHECK_S)
        for market in ex.lapsed_markets(ex.clock_ms()):
            log.warning("the market's target lapsed with no plan after it: cancelling its orders",
                        extra={"market": market, "expired_ms": ex.target_expires_ms.get(market)})
            ex.target_expires_ms.pop(market, None)
            try:
                await ex.cancel_everything("target_lapsed", market=market)
            except (GatewayError, OSError, TimeoutError) as exc:
                log.warning("cancel of a lapsed market failed; next time", extra={"error": str(exc)})
                ex.target_expires_ms[market] = 0


async def reconcile_loop(ex: Executor) -> None:
    while True:
        await asyncio.sleep(ex.cfg.reconcile_interval_s)
        try:
            await reconcile_once(ex, "periodic")
        except (GatewayError, OSError, TimeoutError) as exc:
            log.warning("reconciliation failed; next time", extra={"error": str(exc)})


async def user_channel_loop(ex: Executor, auth: UserAuth) -> None:
    channel = UserChannel(UserChannelConfig(ex.cfg.ws_user_url), auth, on_bad_frame=ex.m.user_bad_frames.inc)

    async def connected() -> None:
        try:
            await reconcile_once(ex, "user_channel_reconnect")
        except (GatewayError, OSError, TimeoutError) as exc:  # the periodic pass will catch up
            log.warning("reconciliation after a user-channel connect failed", extra={"error": str(exc)})

    async def events(got: list[UserEvent]) -> None:
        trades = [e for e in got if isinstance(e, VenueTrade)]
        if trades:
            await apply_trades(ex, trades)
        for e in got:
            if isinstance(e, OrderUpdate) and e.kind == "PLACEMENT":
                rec = ex.orders.by_id.get(e.order_id)
                if rec is not None and rec.state == "unknown":
                    ex.orders.set_state(e.order_id, "live")
        cancelled = [e for e in got if isinstance(e, OrderUpdate) and e.kind == "CANCELLATION"]
        if cancelled:
            await venue_cancelled(ex, cancelled)

    await channel.run(connected, events)


async def risk_loop(ex: Executor, marks: Callable[[str], Decimal | None]) -> None:
    """Mark what we hold (and held at the day's start) and check the day's loss, every ``check_interval_s``."""
    while True:
        await ex.risk.check_day({a: marks(a) for a in ex.risk.day.held()})
        await asyncio.sleep(ex.cfg.risk.check_interval_s)


async def venue_cancelled(ex: Executor, events: list[OrderUpdate]) -> int:
    """Orders the venue says it cancelled and we still count as resting: dropped, recorded, announced. One we
    are cancelling ourselves (``canceling``) is left to the answer of that cancel, which records its reason."""
    matched = {e.order_id: e.size_matched for e in events}
    gone = ex.orders.remove([oid for oid in matched
                             if (rec := ex.orders.by_id.get(oid)) is not None and rec.state != "canceling"])
    if not gone:
        return 0
    rows = [OrderRow(r.order_id, r.market, r.asset_id, r.side, r.price, r.size,
                     max(r.size_matched, matched[r.order_id]), "canceled", ex.backend, end_reason="venue_cancel")
            for r in gone]
    async with ex.pool.acquire() as conn:
        await exec_repo.upsert_orders(conn, rows)
    ex.m.orders_canceled.inc(len(rows), reason="venue_cancel")
    log.warning("the venue cancelled orders we had resting", extra={"orders": [r.order_id for r in gone]})
    for market in {r.market for r in gone}:
        ex.m.open_orders.labels(market=market).set(len(ex.orders.of_market(market)))
        await ex.publish_position(market)
    return len(rows)


def default_loops(ex: Executor) -> list[tuple[str, Loop]]:
    loops: list[tuple[str, Loop]] = [
        ("exec-heartbeat", lambda: heartbeat_loop(ex)), ("exec-fills", lambda: fills_loop(ex)),
        ("exec-reconcile", lambda: reconcile_loop(ex)), ("exec-lapse", lambda: lapse_loop(ex))]
    if ex.backend != "paper" and ex.cfg.user_channel:
        auth = auth_of(ex.gateway)
        if auth is None:
            log.warning("no API credentials for the user channel: fills come from the poll only")
        else:
            loops.append(("exec-user-channel", lambda: user_channel_loop(ex, auth)))
    return loops

