"""The restart drill, with real processes: polysim, the ingestor service as its own process, and a ``BookFeed``
consumer that stays up through a SIGKILL of the ingestor while polysim removes levels and moves prices.

Within 5 s of the restart every consumer book equals polysim's ``GET /book``, and from the first message
after the restart on the consumer never holds a level that was removed while the ingestor was down. The
same drill with ``market_status`` (and ``book_events``) set behind what was published: ``(epoch, seq)``
never goes back and no ``(asset_id, epoch, seq)`` is published or stored with two contents.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
from ingest_kit import BUSY, delta_messages, purge_assets, rest_order, venue_maps, wait_until

from polybot.bus.book_feed import BookFeed
from polybot.bus.client import Bus
from polybot.domain.book_follow import FeedState
from polybot.runtime.embedded import free_port
from polybot.runtime.infra import Infra
from polysim.harness import RunningSim, running_sim

OWNER = "ingest-test"


@asynccontextmanager
async def ingestor_process(sim: RunningSim, infra: Infra, database_url: str, tmp_path: Path,
                           tokens: list[str]) -> AsyncIterator[dict[str, Any]]:
    """``spawn()`` / ``kill()`` the ingestor service as a child process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYBOT_")}
    env.update(POLYBOT_NATS_URL=infra.nats_url, POLYBOT_DATABASE_URL=database_url,
               POLYBOT_STATE_DIR=str(tmp_path / "state"), POLYBOT_OPS__INGESTOR=str(free_port()),
               POLYBOT_INGESTOR__CLOB_REST_URL=sim.url, POLYBOT_INGESTOR__CLOB_WS_URL=sim.ws_market_url,
               POLYBOT_INGESTOR__ASSETS=json.dumps(tokens),
               POLYBOT_INGESTOR__FOLLOW_GAMMA="false", POLYBOT_INGESTOR__PERSIST_INTERVAL_S="0.05",
               POLYBOT_INGESTOR__RESYNC_MIN_INTERVAL_S="0.05", POLYBOT_INGESTOR__HASH_LTP_WINDOW_MS="400")
    log = tmp_path / "ingestor.log"
    state: dict[str, Any] = {"proc": None, "log": log}

    async def spawn() -> None:
        with log.open("ab") as out:
            state["proc"] = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "polybot_ingestor", env=env, cwd=tmp_path, stdout=out,
                stderr=asyncio.subprocess.STDOUT)

    async def kill() -> None:
        proc = state["proc"]
        proc.send_signal(signal.SIGKILL)
        await proc.wait()

    state["spawn"], state["kill"] = spawn, kill
    try:
        yield state
    finally:
        proc = state["proc"]
        if proc is not None and proc.returncode is None:
            proc.kill()
            await proc.wait()


def _free_deep_bid(sim: RunningSim, token: str) -> Decimal:
    """A bid price on the tick grid far below the crowd, where no level rests yet."""
    book = sim.book(token)
    tick = Decimal(book["tick_size"])
    taken = {Decimal(lv["price"]) for lv in book["bids"]}
    price = tick * 2
    while price in taken:
        price += tick
    return price


def _cancel_ours(sim: RunningSim) -> None:
    sim.engine.cancel_all(OWNER, sim.now_ms())


async def _all_live(feed: BookFeed, tokens: list[str], want: dict[str, Decimal], timeout_s: float) -> None:
    def ok() -> bool:
        for t in tokens:
            view = feed.view(t)
            if view is None or view.state is not FeedState.LIVE or want[t] not in view.book.sizes()[0]:
                return False
        return True

    try:
        await wait_until(ok, timeout_s, "every book live with our level")
    except AssertionError as exc:  # say which book is not there, and how
        seen = {t[-8:]: (None if (v := feed.view(t)) is None else (v.state.value, want[t] in v.book.sizes()[0]))
                for t in tokens}
        raise AssertionError(f"{exc}: (state, our level held) by token {seen}") from None


async def _drill(sim: RunningSim, infra: Infra, database_url: str, bus: Bus, tmp_path: Path,
                 pool: asyncpg.Pool | None = None) -> dict[str, list[Any]]:
    tokens = sim.token_ids()
    await purge_assets(bus, tokens)
    ours = {t: _free_deep_bid(sim, t) for t in tokens}
    for t in tokens:
        rest_order(sim, t, "BUY", ours[t], Decimal(7))
    async with BookFeed(bus, tokens, stale_after_ms=None) as feed, \
            ingestor_process(sim, infra, database_url, tmp_path, tokens) as ing:
        await ing["spawn"]()
        await _all_live(feed, tokens, ours, 20)
        await ing["kill"]()
        # While it is down: our levels vanish, prices move (a new best bid on half the books), the crowd trades.
        _cancel_ours(sim)
        back: set[str] = set()  # tokens where the crowd itself rested a bid at our removed price again

        def venue_sent(_message: object) -> None:
            # Looked at as the venue sends each message, inside the engine's call, from the moment our bids
            # are gone: a look when the consumer sees the change can come after the crowd took that bid away
            # again, and call it a violation; a look only from the restart on misses a bid it rested meanwhile.
            back.update(t for t in tokens if t not in back and ours[t] in venue_maps(sim.book(t, step=False))[0])

        sim.engine.wire.sinks.append(venue_sent)
        for t in tokens[::2]:
            book = sim.book(t)
            best_bid = max(Decimal(lv["price"]) for lv in book["bids"])
            best_ask = min(Decimal(lv["price"]) for lv in book["asks"])
            tick = Decimal(book["tick_size"])
            if best_ask - best_bid > tick:
                rest_order(sim, t, "BUY", best_bid + tick, Decimal(9))
        if pool is not None:  # the database deliberately behind what was published
            async with pool.acquire() as conn:
                await conn.execute("UPDATE market_status SET last_seq = greatest(last_seq - 50, 0), last_epoch = 0")
                await conn.execute("DELETE FROM book_events")
        await asyncio.sleep(1.0)
        # Where each feed stands once what the killed ingestor had published has arrived: a message still on
        # its way at the kill (a resync's new epoch, say) is not one from the restarted ingestor.
        before = {t: feed.books[t].position for t in tokens}
        violations: list[str] = []
        restarted: dict[str, bool] = defaultdict(bool)

        async def watch() -> None:
            while True:
                for t in await feed.wait_changed(0.5):
                    fb = feed.books[t]
                    if fb.position > before[t]:
                        restarted[t] = True
                    if restarted[t] and t not in back and fb.trusted and ours[t] in fb.book.sizes()[0]:
                        violations.append(f"{t} holds the removed level {ours[t]} at {fb.position}")

        watcher = asyncio.create_task(watch())
        try:
            await ing["spawn"]()
            await wait_until(lambda: all(restarted[t] for t in tokens), 20, "a message after the restart")
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            sim.freeze()

            def equal() -> bool:
                return all((v := feed.view(t)) is not None and v.state is FeedState.LIVE
                           and v.book.sizes() == venue_maps(sim.book(t)) for t in tokens)

            await wait_until(equal, 5, "every consumer book equal to polysim's /book")
            print(f"\nconsumer books equal to /book {loop.time() - t0:.2f} s after the first post-restart message")
        finally:
            watcher.cancel()
            sim.engine.wire.sinks.remove(venue_sent)
            sim.freeze(False)
        assert violations == [], violations[:5]
        assert len(back) < len(tokens), "the drill must check at least one removed level"
        for t in tokens:
            assert feed.books[t].position > before[t], "(epoch, seq) moved forward"
    return {t: await delta_messages(bus, t) for t in tokens}


def _assert_one_content_per_position(deltas: dict[str, list[Any]]) -> None:
    for t, msgs in deltas.items():
        positions = [(m.epoch, m.seq) for m in msgs]
        assert positions == sorted(positions) and len(set(positions)) == len(positions), f"{t}: {positions[:20]}"
        seqs = [m.seq for m in msgs]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), f"{t}: seq went back or skipped"


async def test_restart_drill_consumer_books_equal_the_venue_and_hold_no_removed_level(
    infra: Infra, database_url: str, bus: Bus, tmp_path: Path
) -> None:
    async with running_sim(seed=random.randrange(10**9), n_markets=3, **BUSY) as sim:
        deltas = await _drill(sim, infra, database_url, bus, tmp_path)
    _assert_one_content_per_position(deltas)


async def test_restart_drill_with_market_status_behind_never_goes_back(
    infra: Infra, database_url: str, bus: Bus, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    async with running_sim(seed=random.randrange(10**9), n_markets=2, **BUSY) as sim:
        deltas = await _drill(sim, infra, database_url, bus, tmp_path, pool)
    _assert_one_content_per_position(deltas)
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT asset_id, epoch, seq, payload FROM book_events ORDER BY asset_id, seq")
    by_position: dict[tuple[str, int, int], Any] = {}
    published = {(t, m.epoch, m.seq): [[c.side, str(c.price), str(c.size)] for c in m.changes]
                 for t, msgs in deltas.items() for m in msgs}
    for r in rows:
        key = (r["asset_id"], r["epoch"], r["seq"])
        assert key not in by_position
        by_position[key] = r["payload"]["changes"]
        assert key in published and [[s, str(Decimal(p)), str(Decimal(q))] for s, p, q in r["payload"]["changes"]] \
            == published[key], f"{key}: stored and published contents differ"
