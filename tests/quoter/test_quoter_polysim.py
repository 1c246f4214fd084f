"""The quoter against polysim through the real ingestor and NATS: targets follow the market and never cross
the book they were made from; silence pulls quotes within one staleness window and the resync brings them
back; a tick-size change pulls quotes until the new snapshot, then quotes on the new tick; the kill switch
pulls every market; a position at its cap leaves only the side that reduces it."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

from ingest_kit import BUSY, running_ingestor, settings_for
from quoter_kit import (
    CheckingSink,
    PlanTap,
    market_info,
    publish_markets,
    publish_position,
    running_quoter,
    set_kill,
    set_risk,
    settings,
    yes_frame,
)

from polybot.app.quote.pipeline import Quoter
from polybot.bus.client import Bus
from polybot.bus.messages import QuotePlan
from polybot.runtime.clock import now_ms
from polysim.harness import RunningSim, running_sim


@asynccontextmanager
async def stack(bus: Bus, n_markets: int = 2, **overrides: Any
                ) -> AsyncIterator[tuple[RunningSim, Quoter, CheckingSink, PlanTap]]:
    # a fresh seed: fresh condition ids and tokens, nothing left on the streams by earlier runs
    async with running_sim(seed=random.randrange(10**6, 10**9), n_markets=n_markets, fine_ticks=False,
                           **BUSY) as sim, running_ingestor(settings_for(sim), bus=bus):
        cids = sim.condition_ids()
        await set_kill(bus, False)  # another test may have left it engaged on PB_CONTROL
        await publish_markets(bus, [market_info(sim, c) for c in cids])
        tap = await PlanTap().start(bus)
        try:
            async with running_quoter(bus, sim, settings(cids, **overrides)) as (quoter, sink):
                yield sim, quoter, sink, tap
        finally:
            await tap.close()


def markets_in(quoter: Quoter, state: str) -> float | None:
    """``quote_markets{state}`` as exported (without asking ``/status``, which also exports it)."""
    for family in quoter.metrics.markets.collect():
        for sample in family.samples:
            if sample.labels.get("state") == state:
                return sample.value
    return None


def quoting(tap: PlanTap, cid: str, after_seq: int = 0) -> list[Any]:
    return [p for p in tap.of(cid) if p.orders and p.seq > after_seq]


def no_problems(sink: CheckingSink) -> None:
    bad = [(p.plan.plan_id, p.problems) for p in sink.published if p.problems]
    assert not bad, bad[:5]


async def test_targets_follow_the_market_and_never_cross_it(bus: Bus) -> None:
    async with stack(bus) as (sim, quoter, sink, tap):
        cids = sim.condition_ids()
        await tap.wait(lambda: all(quoting(tap, c) for c in cids), 10, "a target in every market")
        await tap.wait(lambda: len({p.books[sim.token_ids(cids[0])[0]] for p in sink.published
                                    if p.plan.market == cids[0] and p.plan.orders}) >= 3, 10,
                       "targets made from three different books")
        no_problems(sink)
        for cid in cids:
            yes = sim.token_ids(cid)[0]
            plans = [p for p in sink.published if p.plan.market == cid and p.plan.orders]
            tick = plans[0].plan.tick_size
            centres = set()
            for p in plans:
                bid, ask = p.books[yes]
                assert bid is not None and ask is not None
                ours_bids, ours_asks = yes_frame(p.plan, yes)
                assert ours_bids and ours_asks, p.plan  # two-sided without inventory
                centre = (max(ours_bids) + min(ours_asks)) / 2
                centres.add(centre)
                # around the book's middle: within the half spread, the skew and the book's own spread
                assert abs(centre - (bid + ask) / 2) <= (ask - bid) / 2 + 4 * tick, (p.plan, p.books)
            assert len(centres) >= 1
        seqs = [p.seq for p in tap.of(cids[0])]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        assert all(p.seq > (now_ms() - 60_000) * 1000 for p in tap.plans)  # clock-floored
        status = quoter.status()["markets"][cids[0]]
        assert status["state"] == "quoting" and status["last_plan"]["orders"]


async def test_silence_pulls_within_one_staleness_window_and_the_resync_quotes_again(bus: Bus) -> None:
    async with stack(bus, n_markets=1, stale_after_ms=1_000) as (sim, _quoter, sink, tap):
        cid = sim.condition_ids()[0]
        await tap.wait(lambda: quoting(tap, cid), 10, "a target")
        silent_at = now_ms()
        sim.silence_market(3.0)
        pull = await tap.wait(lambda: next((p for p in tap.of(cid) if not p.orders and p.created_ts_ms >= silent_at),
                                           None), 5, "a pull after the silence")
        assert pull.reason == "stale_book"
        # one staleness window after the last book message (at or before the silence), plus the timer
        assert pull.created_ts_ms - silent_at <= 1_000 + 100 + 250, pull
        back = await tap.wait(lambda: quoting(tap, cid, pull.seq), 10, "quotes again after the silence")
        assert back[0].created_ts_ms - silent_at >= 2_500  # not before the venue spoke again
        no_problems(sink)


async def test_tick_change_pulls_until_the_new_snapshot_then_quotes_on_the_new_tick(bus: Bus) -> None:
    async with stack(bus, n_markets=1) as (sim, _quoter, sink, tap):
        cid = sim.condition_ids()[0]
        old = sim.ctx.catalog.by_condition[cid].tick_units
        new = "0.001" if old == 100 else "0.01"
        first = await tap.wait(lambda: quoting(tap, cid), 10, "a target")
        assert first[0].tick_size == Decimal(old) / 10_000
        mark = max(p.seq for p in tap.of(cid))  # plans after this may still be in flight on the old tick
        sim.change_tick_size(cid, new)
        pull = await tap.wait(lambda: next((p for p in tap.of(cid) if not p.orders and p.seq > mark), None),
                              5, "quotes pulled on the tick change")
        assert pull.reason in ("tick_changed", "resyncing")
        after = await tap.wait(lambda: quoting(tap, cid, pull.seq), 10, "quotes on the new tick")
        # nothing quoted on the old tick once the pull is out
        assert all(p.tick_size == Decimal(new) for p in after), [(p.seq, p.reason, p.tick_size) for p in after]
        no_problems(sink)


async def test_kill_switch_pulls_every_market_and_its_release_quotes_again(bus: Bus) -> None:
    async with stack(bus) as (sim, quoter, _sink, tap):
        cids = sim.condition_ids()
        await tap.wait(lambda: all(quoting(tap, c) for c in cids), 10, "a target in every market")
        try:
            mark = max(p.seq for p in tap.plans)
            await set_kill(bus, True, "drill")

            def pulled_by_the_kill() -> dict[str, QuotePlan] | None:
                # A market already pulled just before (a resync) is not pulled twice: its last target is
                # empty already and it holds for the kill switch from then on.
                last = {c: tap.of(c)[-1] for c in cids}
                markets = quoter.status()["markets"]
                held = all(not p.orders and markets[c]["last_reason"] == "kill_switch" for c, p in last.items())
                return last if held else None

            pulls = await tap.wait(pulled_by_the_kill, 2, "every market pulled for the kill switch")
            assert {p.reason for p in pulls.values() if p.seq > mark} == {"kill_switch"}
            assert quoter.status()["kill_switch"]["engaged"] is True
        finally:
            await set_kill(bus, False)
        await tap.wait(lambda: all(quoting(tap, c, max(p.seq for p in pulls.values())) for c in cids), 5,
                       "quotes again after the release")


async def test_an_executors_risk_halt_pulls_its_market_and_the_clear_quotes_again(bus: Bus) -> None:
    async with stack(bus) as (sim, quoter, _sink, tap):
        halted, other = sim.condition_ids()
        await tap.wait(lambda: quoting(tap, halted) and quoting(tap, other), 10, "a target in both markets")
        await asyncio.sleep(0.3)  # a timer round (100 ms) exports quote_markets{state} without /status asked
        assert markets_in(quoter, "quoting") == 2
        executor = f"test{random.randrange(10**9)}"  # its own subject: no other run's state is touched
        try:
            mark = max(p.seq for p in tap.of(halted))
            await set_risk(bus, executor, [halted])
            pull = await tap.wait(lambda: next((p for p in tap.of(halted) if p.seq > mark and not p.orders), None),
                                  2, "a pull of the halted market")
            assert pull.reason == "risk_halted" and quoter.status()["risk_halted"] == [halted]
            await asyncio.sleep(0.3)
            assert (markets_in(quoter, "pulled"), markets_in(quoter, "quoting")) == (1, 1)
            later = max(p.seq for p in tap.of(other))
            await tap.wait(lambda: quoting(tap, other, later), 5, "the other market quoted on")
            assert not quoting(tap, halted, pull.seq)
        finally:
            await set_risk(bus, executor, [])
        await tap.wait(lambda: quoting(tap, halted, pull.seq), 5, "quotes again after the clear")
        assert quoter.status()["risk_halted"] == []


async def test_a_position_at_its_cap_leaves_only_the_side_that_reduces_it(bus: Bus) -> None:
    async with stack(bus, n_markets=1, max_position=Decimal(20), order_size=Decimal(10)) as (sim, quoter, sink, tap):
        cid = sim.condition_ids()[0]
        yes, no = sim.token_ids(cid)
        before = await tap.wait(lambda: quoting(tap, cid), 10, "a target")
        bids, asks = yes_frame(before[-1], yes)
        assert bids and asks
        await publish_position(bus, cid, {yes: Decimal(20), no: Decimal(0)})
        capped = await tap.wait(lambda: next((p for p in tap.of(cid) if p.seq > before[-1].seq and p.orders), None),
                                5, "a target after the position")
        bids, asks = yes_frame(capped, yes)
        assert not bids and asks, capped  # nothing that buys more YES; selling it is still offered
        assert any(o.asset_id == yes and o.side == "SELL" for o in capped.orders)
        assert quoter.status()["markets"][cid]["inventory"] == "20"
        no_problems(sink)


async def test_stopping_the_quoter_pulls_every_market_it_quoted(bus: Bus) -> None:
    seed = random.randrange(10**6, 10**9)
    async with running_sim(seed=seed, n_markets=2, fine_ticks=False, **BUSY) as sim, \
            running_ingestor(settings_for(sim), bus=bus):
        cids = sim.condition_ids()
        await set_kill(bus, False)
        await publish_markets(bus, [market_info(sim, c) for c in cids])
        tap = await PlanTap().start(bus)
        try:
            async with running_quoter(bus, sim, settings(cids)):
                await tap.wait(lambda: all(quoting(tap, c) for c in cids), 10, "a target in every market")
            # the stop's pulls were published before running_quoter returned: the last plan of each is one
            await tap.wait(lambda: all(tap.of(c)[-1].reason == "shutdown" for c in cids), 2, "a pull per market")
            assert all(not tap.of(c)[-1].orders for c in cids)
        finally:
            await tap.close()
