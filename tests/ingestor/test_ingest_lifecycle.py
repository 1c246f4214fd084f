"""The ingestor's lifecycle against polysim, NATS and PostgreSQL: manual and scheduled retention, the status
CLI, seq continuity across a restart, the market set from gamma-sync, invalid messages."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import subprocess
import sys
import time
import uuid
from decimal import Decimal

import asyncpg
import pytest
from ingest_kit import (
    BUSY,
    counter,
    delta_messages,
    running_ingestor,
    settings_for,
    settled_equal,
    wait_until,
)
from websockets.asyncio.server import ServerConnection, serve

from polybot.app.ingest.links import MemoryIngestBus
from polybot.app.ingest.markets import TrackedAsset
from polybot.app.ingest.pipeline import OrderbookIngestor
from polybot.bus import subjects
from polybot.bus.client import Bus
from polybot.bus.messages import MarketInfo, OutcomeToken, ResyncRequest
from polybot.bus.streams import MARKETS
from polybot.domain.book_verify import MarketMeta
from polybot.runtime.metrics import Metrics
from polybot.store.book_rows import MemoryBookRows
from polysim.harness import RunningSim, running_sim


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


async def test_manual_snapshot_and_prune_then_status_cli_shows_the_books(
        bus: Bus, pool: asyncpg.Pool, database_url: str) -> None:
    async with running_sim(seed=41, n_markets=1, **BUSY) as sim:
        tokens = sim.token_ids()
        async with running_ingestor(settings_for(sim), bus=bus, pool=pool) as ing:
            await wait_until(lambda: all(ing.books.get(t).stats.deltas > 3 for t in tokens), 10, "deltas")
            await settled_equal(ing, sim, tokens)
            assert await ing.flush()
            now = _now_ms()
            assert await ing.persist_snapshot_now(now) == len(tokens)
            async with pool.acquire() as conn:
                periodic = await conn.fetch("SELECT asset_id, seq, ts_ms FROM book_snapshots WHERE reason = 'periodic'")
                events_before = await conn.fetchval("SELECT count(*) FROM book_events")
            assert {r["asset_id"] for r in periodic} == set(tokens)
            assert all(r["ts_ms"] == now and r["seq"] == ing.books.get(r["asset_id"]).seq for r in periodic)
            assert await ing.prune_events_before(now + 1) == events_before > 0
            async with pool.acquire() as conn:
                assert await conn.fetchval("SELECT count(*) FROM book_events") == 0
            seqs = {t: ing.books.get(t).seq for t in tokens}
            res = await asyncio.to_thread(
                subprocess.run, [sys.executable, "-m", "polybot.cli", "status", "--db-url", database_url, "--json"],
                capture_output=True, text=True, timeout=60, check=False)
        assert res.returncode == 0, res.stderr
        report = json.loads(res.stdout)
        market = sim.condition_ids()[0]
        assert set(report["markets"][market]) == set(tokens)
        for t in tokens:
            row = report["markets"][market][t]
            assert row["last_seq"] == seqs[t] and row["state"] == "live" and row["snapshots"] >= 1
            assert row["deltas"] > 3 and row["freshness_ms"] is not None


async def test_scheduler_snapshots_periodically_and_prunes_old_events(bus: Bus, pool: asyncpg.Pool) -> None:
    async with running_sim(seed=42, n_markets=1, **BUSY) as sim:
        settings = settings_for(sim, snapshot_interval_s=0.3, prune_interval_s=0.3, retention_s=0.5)
        async with running_ingestor(settings, bus=bus, pool=pool):
            await asyncio.sleep(2.0)
            async with pool.acquire() as conn:
                periodic = await conn.fetchval("SELECT count(*) FROM book_snapshots WHERE reason = 'periodic'")
                oldest = await conn.fetchval("SELECT min(ts_ms) FROM book_events")
                newest = await conn.fetchval("SELECT max(ts_ms) FROM book_events")
        assert periodic >= 2 * len(sim.token_ids())
        assert oldest is not None and newest - oldest < 1500  # 2 s of events, older than 0.5 s pruned each 0.3 s


async def test_a_restarted_ingestor_begins_a_new_epoch_after_the_last_seq(bus: Bus, pool: asyncpg.Pool) -> None:
    async with running_sim(seed=43, n_markets=1, **BUSY) as sim:
        token = sim.token_ids()[0]
        async with running_ingestor(settings_for(sim), bus=bus, pool=pool) as first:
            await wait_until(lambda: first.books.get(token).stats.deltas > 5, 10, "deltas")
            assert await first.flush()
            stopped_at = first.books.get(token).seq
        async with running_ingestor(settings_for(sim), bus=bus, pool=pool) as second:
            await wait_until(lambda: second.books.get(token).seq > stopped_at + 5, 10, "deltas after restart")
            assert await second.flush()
        deltas = await delta_messages(bus, token)
        seqs = [d.seq for d in deltas]
        assert seqs == list(range(1, len(seqs) + 1)), "one run after the other, seq never goes back"
        after = deltas[stopped_at]  # the restarted ingestor's first message
        assert (after.seq, after.reset) == (stopped_at + 1, True) and after.epoch > deltas[stopped_at - 1].epoch
        assert all(d.reset == (d.seq in (1, stopped_at + 1)) for d in deltas), "each run began one epoch"


def _meta_info(sim: RunningSim, condition_id: str) -> MarketInfo:
    """A selected market with the order parameters the hash needs (as gamma-sync publishes them)."""
    book = sim.book(sim.token_ids(condition_id)[0])
    return _info(sim, condition_id, True).model_copy(update={
        "tick_size": Decimal(book["tick_size"]), "min_order_size": Decimal(book["min_order_size"]),
        "neg_risk": book["neg_risk"]})


def _info(sim: RunningSim, condition_id: str, selected: bool) -> MarketInfo:
    tokens = tuple(OutcomeToken(token_id=t, outcome=str(i), index=i) for i, t in enumerate(sim.token_ids(condition_id)))
    return MarketInfo(condition_id=condition_id, question="q", tokens=tokens, selected_for_making=selected,
                      ts_ms=_now_ms())


async def test_market_set_comes_from_the_markets_stream_and_follows_market_messages(
    bus: Bus, pool: asyncpg.Pool
) -> None:
    async with running_sim(seed=random.randrange(10**9), n_markets=3, **BUSY) as sim:
        first, second, unselected = sim.condition_ids()
        await bus.js.purge_stream(MARKETS.name)  # other tests' markets are not this venue's
        # what gamma-sync published before the ingestor started: the last message per market counts
        await bus.publish(subjects.gamma_market(first), _info(sim, first, False), f"{first}:{uuid.uuid4().hex}")
        await bus.publish(subjects.gamma_market(first), _meta_info(sim, first), f"{first}:{uuid.uuid4().hex}")
        await bus.publish(subjects.gamma_market(unselected), _info(sim, unselected, False),
                          f"{unselected}:{uuid.uuid4().hex}")
        settings = settings_for(sim, assets=(), follow_gamma=True)
        async with running_ingestor(settings, bus=bus, pool=pool) as ing:
            assert {s.asset_id for s in ing.books} == set(sim.token_ids(first))
            await wait_until(lambda: all(s.state == "live" for s in ing.books), 5, "live books")
            await bus.publish(subjects.gamma_market(second), _info(sim, second, True), f"{second}:{uuid.uuid4().hex}")
            await wait_until(lambda: len(ing.books) == 4 and all(s.state == "live" for s in ing.books), 5,
                             "second market followed")
            await bus.publish(subjects.gamma_market(first), _info(sim, first, False), f"{first}:{uuid.uuid4().hex}")
            await wait_until(lambda: {s.asset_id for s in ing.books} == set(sim.token_ids(second)), 5,
                             "first market dropped")
            assert ing.ws is not None and ing.ws.assets == set(sim.token_ids(second))
            await settled_equal(ing, sim, sim.token_ids(second))
            assert counter(ing, "ingestion_resync_checksum") == 0  # metadata from the message and /book verified
            assert await ing.flush()
            async with pool.acquire() as conn:
                states = dict(await conn.fetch("SELECT asset_id, state FROM market_status"))
        assert all(states[t] == "unsubscribed" for t in sim.token_ids(first)), states
        assert all(states[t] == "live" for t in sim.token_ids(second)), states


async def test_invalid_messages_are_counted_logged_and_do_not_stop_the_stream(
        caplog: pytest.LogCaptureFixture) -> None:
    async with running_sim(seed=45, n_markets=1) as sim:
        token = sim.token_ids()[0]
        book = sim.book(token)
        ing = OrderbookIngestor(settings_for(sim), Metrics(), bus=MemoryIngestBus(), store=MemoryBookRows())
        meta = MarketMeta(book["tick_size"], book["min_order_size"], book["neg_risk"])
        await ing.start(connect_ws=False, initial=[TrackedAsset(token, book["market"], meta)])
        try:
            ws_book = {k: book[k] for k in ("market", "asset_id", "timestamp", "hash", "bids", "asks")}
            frame = json.dumps([{"event_type": "price_change", "market": book["market"], "garbage": True},
                                {**ws_book, "event_type": "book"}])
            with caplog.at_level(logging.WARNING, logger="polybot.app.ingest"):
                ing.on_frame(0, frame, _now_ms(), time.perf_counter_ns())
                ing.on_frame(0, "{not json", _now_ms(), time.perf_counter_ns())
            assert counter(ing, "ingestion_msg_invalid") == 2
            assert counter(ing, "ingestion_msg_applied") == 1
            assert ing.books.get(token).state == "live"
            logged = [r for r in caplog.records if r.getMessage() == "invalid market message"]
            assert len(logged) == 2 and "garbage" in logged[0].raw  # type: ignore[attr-defined]
        finally:
            await ing.stop()


async def test_books_the_websocket_never_sends_are_fetched_from_rest() -> None:
    async def quiet_venue(ws: ServerConnection) -> None:  # accepts the subscription, answers PING, sends no data
        async for text in ws:
            if text == "PING":
                await ws.send("PONG")

    async with running_sim(seed=46, n_markets=1) as sim, serve(quiet_venue, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        settings = settings_for(sim, clob_ws_url=f"ws://127.0.0.1:{port}", initial_snapshot_timeout_s=0.3)
        async with running_ingestor(settings) as ing:
            await settled_equal(ing, sim, sim.token_ids())
            assert counter(ing, "ingestion_resync_manual") == len(sim.token_ids())


async def test_a_resync_request_on_the_control_subject_re_snapshots_the_book(bus: Bus) -> None:
    async with running_sim(seed=47, n_markets=1, **BUSY) as sim:
        token = sim.token_ids()[0]
        async with running_ingestor(settings_for(sim), bus=bus) as ing:
            await wait_until(lambda: ing.books.get(token).stats.deltas > 2, 10, "deltas")
            await bus.publish_core(subjects.ctl_resync(token), ResyncRequest(asset_id=token, reason="operator"))
            await wait_until(lambda: counter(ing, "ingestion_resync_manual") == 1, 5, "manual resync")
            await settled_equal(ing, sim, [token])
            assert ing.books.get(token).stats.resyncs == {"first_delta": 0, "gap": 0, "checksum": 0, "tick_size": 0}
