"""Paper mode on polysim's books: the real ingestor publishes them, the executor (``mode = "paper"``) follows
them through ``BookFeed`` and fills its resting orders from them. Each fill is checked against the book of
that moment: never better than the touch, at our limit, and only once the venue size that was ahead of us
at our price has traded; the same venue liquidity never fills us twice. Nothing reaches polysim: its
``/_sim/state`` knows no key but the test's own taker."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
from drill_kit import (
    TAKER,
    D,
    Ops,
    Plans,
    crowd_market,
    free_port,
    own_nats,
    paper_settings,
    running_executor,
    sim_state,
    take,
    until,
    venue_book,
)
from ingest_kit import running_ingestor, settings_for

from polybot.app.execute.paper_gateway import PaperGateway
from polysim.harness import running_sim

Book = tuple[tuple[tuple[Decimal, Decimal], ...], tuple[tuple[Decimal, Decimal], ...]]


async def test_paper_fills_on_polysim_books_never_beat_the_touch_and_respect_the_queue(
        database_url: str, pool: asyncpg.Pool, tmp_path: Path) -> None:
    async with own_nats(tmp_path / "nats") as nats, running_sim(seed=37, n_markets=2) as sim:
        market, yes, no, tick = crowd_market(sim)
        port = free_port()
        settings = paper_settings(sim, nats.url, database_url, tmp_path, port)
        async with running_ingestor(settings_for(sim, assets=(yes, no)), bus=nats.bus, pool=pool), \
                running_executor(settings, port) as ops:
            assert ops.service is not None and ops.service.executor is not None
            gw = ops.service.executor.gateway
            assert isinstance(gw, PaperGateway)

            async def seen(asset_id: str) -> Book:
                """Wait until the executor's paper books show polysim's book of ``asset_id`` now."""
                want = venue_book(sim, asset_id)

                async def same() -> bool:
                    got = gw.books.levels(asset_id)
                    return got is not None and (tuple(got[0]), tuple(got[1])) == want

                await until(same, 10, f"the paper feed to show polysim's book of {asset_id[:8]}")
                return want

            (bids_y, _), (bids_n, _) = await seen(yes), await seen(no)
            bid_y, ahead = bids_y[0]  # we join the back of the best YES bid: `ahead` shares queue before us
            assert ahead > 3, bids_y
            plans = Plans(nats.bus, market, tick)
            legs = [(yes, "BUY", bid_y), (no, "BUY", bids_n[0][0] - 2 * tick)]
            await plans.publish(legs)

            async def resting() -> dict[str, object] | None:
                status = await ops.status()
                return status if status["open_orders"] == 2 else None

            await until(resting, 10, "two paper orders resting")
            (ours,) = [o for o in gw.venue.open_orders(yes)]
            assert ours.queue_ahead == ahead

            # the crowd sells into the level, but less than what is ahead of us: no fill, the queue shrinks
            take(sim, yes, "SELL", bid_y, ahead - 2)
            book = await seen(yes)
            assert book[0][0] == (bid_y, D(2))
            await asyncio.sleep(0.5)
            assert await _fills(database_url) == [] and gw.fills == []
            assert ours.queue_ahead == D(2)
            await plans.publish(legs)  # the plan stream goes on: the same target keeps its place in the queue
            await until(lambda: _last_plan_is(ops, market, plans.sent[-1].plan_id), 10, "the second plan executed")
            assert [o.order_id for o in gw.venue.open_orders(yes)] == [ours.order_id]

            # a seller takes the 2 ahead of us and 4 more: in the real book those 4 are ours (the rest of the
            # sell rests at our price in polysim, which does not know our paper bid)
            take(sim, yes, "SELL", bid_y, D(6))
            book = await seen(yes)
            assert book[1][0] == (bid_y, D(4)) and (not book[0] or book[0][0][0] < bid_y)
            fills = await until(lambda: _fills(database_url), 5, "the paper fill")
            assert [(f["side"], f["price"], f["size"]) for f in fills] == [("BUY", bid_y, D(4))]
            _not_better_than_touch(fills[0], book)

            # the book changes again elsewhere: the same resting venue ask must not fill us a second time
            take(sim, yes, "BUY", bid_y - 5 * tick, D(7))
            await seen(yes)
            await asyncio.sleep(0.6)
            assert [(f["price"], f["size"]) for f in await _fills(database_url)] == [(bid_y, D(4))], \
                "paper filled twice against the same venue liquidity"

            # someone lifts the rest of the venue ask at our price and sells 3 more there: those reach us
            take(sim, yes, "BUY", bid_y, D(4))
            await seen(yes)
            await asyncio.sleep(0.3)  # the paper loop sees this book (the level gone) before the next one
            take(sim, yes, "SELL", bid_y, D(3))
            book = await seen(yes)
            fills = await until(lambda: _fills(database_url, 2), 5, "the second paper fill")
            assert [(f["price"], f["size"]) for f in fills] == [(bid_y, D(4)), (bid_y, D(3))]
            _not_better_than_touch(fills[1], book)
            status = await ops.status()
            assert D(status["positions"][yes]) == D(7)
            assert [o.remaining for o in gw.venue.open_orders(yes)] == [D(3)]
            assert not await _fills_of(database_url, no)  # the NO bid below the touch never filled

            # nothing of ours ever reached polysim: the only account with orders there is the test's taker
            state = await sim_state(sim)
            assert set(state["open_orders"]) == {TAKER}, state["open_orders"]
            assert set(sim.engine.orders_by_owner) == {TAKER}


def _not_better_than_touch(fill: Any, book: Book) -> None:
    """A paper BUY never pays less than the best ask there was (nor a SELL gets more than the best bid)."""
    bids, asks = book
    if fill["side"] == "BUY":
        assert asks and fill["price"] >= asks[0][0], (fill, book)
    else:
        assert bids and fill["price"] <= bids[0][0], (fill, book)


async def _last_plan_is(ops: Ops, market: str, plan_id: str) -> bool:
    last = ((await ops.status())["markets"].get(market) or {}).get("last_plan") or {}
    return bool(last.get("plan_id") == plan_id)


async def _fills(database_url: str, at_least: int = 1) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = list(await conn.fetch("SELECT side, price, size, ts_ms FROM fills ORDER BY ts_ms, fill_id"))
    finally:
        await conn.close()
    return rows if len(rows) >= at_least else []


async def _fills_of(database_url: str, asset_id: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url)
    try:
        return list(await conn.fetch("SELECT * FROM fills WHERE asset_id = $1", asset_id))
    finally:
        await conn.close()


def test_paper_takes_venue_liquidity_once_best_priced_order_first() -> None:
    """The matching rule the drill relies on, alone: a venue ask at our bids fills the best bid first, the
    same ask never fills twice on later books, and only size added to the level since fills again."""
    from polybot.domain.paper import PaperVenue

    v = PaperVenue()
    bids, asks = ((D("0.40"), D(50)),), ((D("0.50"), D(50)),)
    for oid, price in (("low", D("0.42")), ("high", D("0.44"))):
        assert v.place(oid, "yes", "BUY", price, D(10), bids=bids, asks=asks, now_ms=1).resting
    crossed = ((D("0.42"), D(12)), (D("0.50"), D(50)))
    fills = v.on_book("yes", bids, crossed, 2)
    assert sorted((f.order_id, f.price, f.size) for f in fills) == [("high", D("0.44"), D(10)),
                                                                      ("low", D("0.42"), D(2))]
    assert v.on_book("yes", ((D("0.39"), D(5)), *bids), crossed, 3) == []  # the same 12: nothing new
    grown = ((D("0.42"), D(15)), (D("0.50"), D(50)))
    assert [(f.order_id, f.size) for f in v.on_book("yes", bids, grown, 4)] == [("low", D(3))]
    gone = v.on_book("yes", bids, asks, 5)  # the level left: what we took of it is forgotten
    assert gone == [] and v.taken[("yes", "BUY")] == {}
    assert [(f.order_id, f.size) for f in v.on_book("yes", bids, ((D("0.42"), D(4)),), 6)] == [("low", D(4))]
