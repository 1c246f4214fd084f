"""Injected venue faults: each makes the ingestor resync, the right counter moves, and the book ends equal to
polysim's ``/book``. A real nats-server and PostgreSQL carry the output; a consumer rebuilds from them."""

from __future__ import annotations

from decimal import Decimal

import asyncpg
from feed_kit import rebuild
from ingest_kit import (
    BUSY,
    bus_messages,
    counter,
    delta_messages,
    inside_prices,
    last_snapshot,
    rest_order,
    running_ingestor,
    settings_for,
    settled_equal,
    venue_maps,
    wait_until,
)
from nats.aio.msg import Msg

from polybot.bus import subjects
from polybot.bus.client import Bus
from polybot.bus.codec import decode
from polysim.harness import running_sim


async def _live_with_deltas(ing, tokens: list[str], n: int = 3) -> None:  # type: ignore[no-untyped-def]
    await wait_until(lambda: all((b := ing.books.get(t)) is not None and b.stats.deltas >= n for t in tokens),
                     10, "deltas on every book")


async def test_dropped_socket_resyncs_as_gap_and_consumer_rebuild_equals_venue(bus: Bus, pool: asyncpg.Pool) -> None:
    async with running_sim(seed=21, n_markets=1, **BUSY) as sim:
        tokens = sim.token_ids()
        async with running_ingestor(settings_for(sim), bus=bus, pool=pool) as ing:
            await _live_with_deltas(ing, tokens)
            seen: list[tuple[str, str]] = []

            async def on_state(msg: Msg) -> None:
                state = decode(msg.data)
                seen.append((state.asset_id, state.state))

            watch = await bus.nc.subscribe(subjects.BOOK_STATE_ALL, cb=on_state)
            assert sim.drop_market_sockets() == 1
            await wait_until(lambda: counter(ing, "ingestion_resync_gap") == len(tokens), 5, "gap resyncs")
            await _live_with_deltas(ing, tokens, n=ing.books.get(tokens[0]).stats.deltas + 3)
            await settled_equal(ing, sim, tokens)
            assert counter(ing, "ingestion_resync_checksum") == 0
            assert await ing.flush()
            for token in tokens:
                deltas = await delta_messages(bus, token)
                seqs = [d.seq for d in deltas]
                assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "seq strictly +1 on the wire"
                assert seqs[-1] == ing.books.get(token).seq
                snap = await last_snapshot(bus, token)
                # a consumer's book at the snapshot's (epoch, seq) is the snapshot: the deltas up to it rebuild it
                upto = [d for d in deltas if (d.epoch, d.seq) <= (snap.epoch, snap.seq)]
                assert upto and (upto[-1].epoch, upto[-1].seq) == (snap.epoch, snap.seq)
                assert rebuild(None, upto) == ({lv.price: lv.size for lv in snap.bids},
                                               {lv.price: lv.size for lv in snap.asks})
                first, second = [d.epoch for d in deltas if d.reset]
                assert second == first + 1, "the reconnect began a new epoch"
                venue = venue_maps(sim.book(token))
                assert rebuild(snap, deltas) == venue
                # Deltas alone (from an empty book) reach the same book: replacements travel as deltas too.
                assert seqs[0] == 1 and rebuild(None, deltas) == venue
            await watch.unsubscribe()
            for token in tokens:  # consumers were told to stop quoting, then to resume
                assert [s for a, s in seen if a == token] == ["disconnected", "resyncing", "live"]
                assert [m.state for m in await bus_messages(bus, subjects.book_state(token))] == ["live"]


async def test_silent_socket_is_detected_and_resyncs_as_gap(bus: Bus) -> None:
    async with running_sim(seed=22, n_markets=1, **BUSY) as sim:
        tokens = sim.token_ids()
        async with running_ingestor(settings_for(sim, silence_timeout_s=0.6), bus=bus) as ing:
            await _live_with_deltas(ing, tokens)
            sim.silence_market(1.5)  # PING is still answered
            await wait_until(lambda: counter(ing, "ingestion_resync_gap") >= len(tokens), 5, "gap resyncs")
            assert ing.ws is not None
            assert any(c["last_disconnect_reason"] == "silence" for c in ing.ws.status())
            await settled_equal(ing, sim, tokens)
            assert counter(ing, "ingestion_resync_checksum") == 0


async def test_dropped_delta_is_caught_by_the_next_hash_as_checksum(bus: Bus) -> None:
    async with running_sim(seed=23, n_markets=1, **BUSY) as sim:
        token = sim.token_ids()[0]
        async with running_ingestor(settings_for(sim), bus=bus) as ing:
            await _live_with_deltas(ing, [token])
            await settled_equal(ing, sim, [token])
            bid, _, tick = inside_prices(sim, token)
            sim.drop_next_delta(token)
            rest_order(sim, token, "BUY", bid)  # not sent: our book misses it
            rest_order(sim, token, "BUY", bid - tick)  # its hash cannot match our book
            await wait_until(lambda: counter(ing, "ingestion_resync_checksum") == 1, 5, "checksum resync")
            await settled_equal(ing, sim, [token])
            assert counter(ing, "ingestion_resync_gap") == 0


async def test_corrupted_hash_resyncs_as_checksum(bus: Bus) -> None:
    async with running_sim(seed=24, n_markets=1, **BUSY) as sim:
        token = sim.token_ids()[0]
        async with running_ingestor(settings_for(sim), bus=bus) as ing:
            await _live_with_deltas(ing, [token])
            await settled_equal(ing, sim, [token])
            bid, _, _ = inside_prices(sim, token)
            sim.corrupt_next_hash(token)
            rest_order(sim, token, "BUY", bid)
            await wait_until(lambda: counter(ing, "ingestion_resync_checksum") == 1, 5, "checksum resync")
            await settled_equal(ing, sim, [token])
            assert ing.status()["counters"]["ingestion_resync_gap"] == 0


async def test_tick_size_change_resyncs_and_hashes_keep_verifying(bus: Bus) -> None:
    async with running_sim(seed=25, n_markets=1, **BUSY) as sim:
        tokens = sim.token_ids()
        async with running_ingestor(settings_for(sim), bus=bus) as ing:
            await _live_with_deltas(ing, tokens)
            new_tick = "0.001" if sim.book(tokens[0])["tick_size"] != "0.001" else "0.01"
            sim.change_tick_size(tokens[0], new_tick)  # both tokens of the market change
            await wait_until(lambda: counter(ing, "ingestion_resync_tick_size") == len(tokens), 5, "tick resyncs")
            await settled_equal(ing, sim, tokens)
            assert all(ing.books.get(t).meta.tick_size == new_tick for t in tokens)
            sim.freeze(False)  # trading on the new tick: every hash must still verify
            before = {t: ing.books.get(t).stats.deltas for t in tokens}
            await wait_until(lambda: all(ing.books.get(t).stats.deltas > before[t] + 5 for t in tokens), 10,
                             "deltas after the tick change")
            await settled_equal(ing, sim, tokens)
            assert counter(ing, "ingestion_resync_checksum") == 0
            assert Decimal(sim.book(tokens[0])["tick_size"]) == Decimal(new_tick)
