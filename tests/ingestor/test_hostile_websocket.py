"""Issue 12's acceptance over a real websocket: the running ingestor service (ops app, NATS, PostgreSQL) is sent
every hostile frame of the issue by polysim's ``inject_frames`` drill, between the real stream, on the real
assets with their real prices, hashes and tick.

Each frame is counted in ``ingestion_msg_invalid`` under its own reason; the shard never reconnects, no task
fails and ``/readyz`` answers 200 all along; deltas keep being published; no book (checked every few
milliseconds) and no published delta ever holds a non-finite, negative, off-tick or out-of-range level; and
the books end equal to polysim's ``GET /book``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from ingest_kit import BUSY, delta_messages, purge_assets, settings_for, settled_equal, wait_until

from polybot.app.ingest.pipeline import OrderbookIngestor
from polybot.bus import subjects
from polybot.bus.client import Bus
from polybot.bus.codec import decode
from polybot.runtime.embedded import free_port
from polybot.runtime.infra import Infra
from polybot.runtime.lifecycle import serve
from polybot.runtime.settings import OpsPorts, Settings
from polybot_ingestor.service import SUPERVISED, IngestorService
from polysim.harness import RunningSim, running_sim


@dataclass(frozen=True)
class Real:
    """What the venue sends now for one asset: the templates of the hostile frames."""

    market: str
    asset: str
    tick: Decimal
    bid: str
    ask: str
    size: str
    hash: str
    timestamp: str
    book: dict[str, Any]


def _real(sim: RunningSim, asset: str) -> Real:
    book = sim.book(asset)
    return Real(book["market"], asset, Decimal(book["tick_size"]), book["bids"][-1]["price"],
                book["asks"][-1]["price"], book["bids"][-1]["size"], book["hash"], str(sim.now_ms()), book)


def price_change(r: Real, timestamp: Any = None, **entry: Any) -> str:
    """A v2 ``price_change`` in the recording's key order (frames_2025-12…jsonl line 2) for one real level."""
    fields: dict[str, Any] = {"asset_id": r.asset, "price": r.bid, "size": r.size, "side": "BUY", "hash": r.hash,
                              "best_bid": r.bid, "best_ask": r.ask}
    fields.update(entry)
    ts = r.timestamp if timestamp is None else timestamp
    return json.dumps({"market": r.market, "price_changes": [fields], "timestamp": ts,
                       "event_type": "price_change"})


def ws_book(r: Real, first_bid: dict[str, str]) -> str:
    """A ``book`` as the initial dump sends it (book_initial_dump_array_2026-04.json's keys), the real levels with
    the best bid replaced."""
    bids = [*r.book["bids"][:-1], first_bid]
    return json.dumps({"market": r.market, "asset_id": r.asset, "timestamp": r.timestamp, "hash": r.hash,
                       "bids": bids, "asks": r.book["asks"], "tick_size": r.book["tick_size"],
                       "event_type": "book", "last_trade_price": r.book.get("last_trade_price", "")})


def _off_tick(r: Real) -> str:
    return str(Decimal(r.bid) - r.tick / 2)


# (name, expected ingestion_msg_invalid reason, frame built from the real asset)
CASES: list[tuple[str, str, Callable[[Real], str]]] = [
    ("event_type list", "unknown_event_type", lambda r: '{"event_type":["book"]}'),
    ("event_type object", "unknown_event_type", lambda r: '{"event_type":{"a":1}}'),
    ("array of event_type list", "unknown_event_type", lambda r: '[{"event_type":[1]}]'),
    ("NaN price", "price", lambda r: price_change(r, price="NaN")),
    ("sNaN size", "size", lambda r: price_change(r, size="sNaN")),
    ("book with a NaN level", "price", lambda r: ws_book(r, {"price": "NaN", "size": r.size})),
    ("timestamp 99999999999999999999 (text)", "timestamp", lambda r: price_change(r, "99999999999999999999")),
    ("timestamp 99999999999999999999 (number)", "timestamp", lambda r: price_change(r, 99999999999999999999)),
    ("negative price", "price", lambda r: price_change(r, price="-" + r.bid)),
    ("negative size", "size", lambda r: price_change(r, size="-" + r.size)),
    ("price 5", "price", lambda r: price_change(r, price="5")),
    ("price 0", "price", lambda r: price_change(r, price="0")),
    ("price 1", "price", lambda r: price_change(r, price="1", side="SELL")),
    ("price 1e999999", "price", lambda r: price_change(r, price="1e999999")),
    ("price Infinity", "price", lambda r: price_change(r, price="Infinity", side="SELL")),
    ("size 1e400", "size", lambda r: price_change(r, size="1e400")),
    ("NaN size", "size", lambda r: price_change(r, size="NaN")),
    ("off-tick price", "off_tick", lambda r: price_change(r, price=_off_tick(r))),
    ("40-decimal size", "size", lambda r: price_change(r, size="0." + "7" * 40)),
    ("book with a negative size", "size", lambda r: ws_book(r, {"price": r.bid, "size": "-1"})),
    ("book with price Infinity", "price", lambda r: ws_book(r, {"price": "Infinity", "size": r.size})),
    ("1 MB frame", "size", lambda r: price_change(r, size="9" * 1_000_000)),
    ("deep nesting past the parser's limit", "not_json", lambda r: "[" * 100_000 + "]" * 100_000),
    ("deep nesting inside it", "unknown_event_type", lambda r: '{"a":' * 500 + "1" + "}" * 500),
    ("non-JSON (a real frame cut short)", "not_json", lambda r: price_change(r)[:-20]),
    ("unicode junk", "not_json", lambda r: "💥\u202e ñ\u0000€ \ufeff𝔭𝔯𝔦𝔠𝔢"),
    ("unicode digits in a price", "price", lambda r: price_change(r, price="٠.٥")),
    ("unicode in event_type", "unknown_event_type", lambda r: price_change(r).replace("price_change", "prïce_chänge")),
    ("asset id of the wrong shape", "id", lambda r: price_change(r, asset_id=r.asset[:10] + "ab")),
    ("asset id as a JSON number", "schema", lambda r: price_change(r, asset_id=int(r.asset[:25]))),
    ("unknown side", "schema", lambda r: price_change(r, side="HOLD")),
]


_MAX_SIZE = Decimal(10) ** 12  # the venue's sizes: at most 12 integer digits and 6 decimals


def bad_level(price: Any, size: Any, tick: Decimal) -> str | None:
    """Why (price, size) may not sit in a book or on the bus, or None."""
    if not isinstance(price, Decimal) or not isinstance(size, Decimal):
        return "not a Decimal"
    if not price.is_finite() or not size.is_finite():
        return "non-finite"
    if not Decimal(0) < price < Decimal(1):
        return "price outside (0, 1)"
    if size < 0:
        return "negative size"
    if size >= _MAX_SIZE or int(size.as_tuple().exponent) < -6:
        return "size beyond the venue's range or precision"
    if price % tick:
        return "off tick"
    return None


def book_violations(ing: OrderbookIngestor, ticks: dict[str, Decimal]) -> list[str]:
    out = []
    for sync in ing.books:
        for lv in (*sync.book.bids_best_first(), *sync.book.asks_best_first()):
            why = bad_level(lv.price, lv.size, ticks[sync.asset_id])
            if why is not None:
                out.append(f"{sync.asset_id[:8]} {lv.raw_price}@{lv.raw_size[:40]}: {why}")
    return out


async def test_every_hostile_frame_over_a_real_websocket_is_counted_and_harmless(
        infra: Infra, database_url: str, bus: Bus, tmp_path: Path) -> None:
    # A fresh seed, so fresh token ids: the NATS server may be shared with other runs of this very test.
    seed = random.randrange(10**9)
    print(f"polysim seed {seed}")
    async with running_sim(seed=seed, n_markets=2, **BUSY) as sim, httpx.AsyncClient() as client:
        tokens = sim.token_ids()
        ticks = {t: Decimal(sim.book(t)["tick_size"]) for t in tokens}
        await purge_assets(bus, tokens)
        port = free_port()
        settings = Settings(nats_url=infra.nats_url, database_url=database_url, state_dir=tmp_path / "state",
                            ops=OpsPorts(ingestor=port), ingestor=settings_for(sim))
        service = IngestorService()
        stopping = asyncio.Event()
        task = asyncio.create_task(serve(service, settings, port, stopping=stopping))
        readyz = f"http://127.0.0.1:{port}/readyz"
        live: list[Any] = []

        async def on_delta(msg: Any) -> None:
            delta = decode(msg.data)
            if delta.asset_id in ticks:  # the server may be shared with other tests' ingestors
                live.append(delta)

        watch = await bus.nc.subscribe(subjects.BOOK_DELTA_ALL, cb=on_delta)
        guard: asyncio.Task[None] | None = None
        readiness: list[tuple[int, str]] = []
        violations: set[str] = set()
        watching = True

        async def watchdog() -> None:  # /readyz and every level of every book, all along
            while watching:
                resp = await client.get(readyz, timeout=2)
                readiness.append((resp.status_code, resp.text))
                if service.ingestor is not None:
                    violations.update(book_violations(service.ingestor, ticks))
                await asyncio.sleep(0.01)

        try:
            await wait_until(lambda: service.ingestor is not None, 10, "the ingestor started")
            ing = service.ingestor
            assert ing is not None
            await wait_until(lambda: ing.status()["books"] == {"live": len(tokens)} and ing.connected(), 15,
                             "every book live")
            ready = await client.get(readyz)
            assert ready.status_code == 200  # and it watches the shard and every supervised task
            assert {"market_ws", *(f"task:{t}" for t in SUPERVISED)} <= set(ready.json()["checks"])
            guard = asyncio.create_task(watchdog())
            invalid = ing.metrics.msg_invalid
            assert invalid.value() == 0, "the real stream alone is never invalid"
            (shard,) = ing.ws.status() if ing.ws is not None else []
            failures = dict(ing.supervisor.failures)
            await wait_until(lambda: len(live) > 0, 5, "deltas published")

            for i, (name, kind, build) in enumerate(CASES):
                real = _real(sim, tokens[i % len(tokens)])
                before = invalid.value(reason=kind)
                assert sim.inject_frames(build(real)) == 1
                await wait_until(lambda k=kind, b=before: invalid.value(reason=k) > b, 3,  # type: ignore[misc]
                                 f"{name!r} counted as invalid ({kind})")
            expected: dict[str, int] = {}
            for _, kind, _ in CASES:
                expected[kind] = expected.get(kind, 0) + 1
            assert {k: int(invalid.value(reason=k)) for k in expected} == expected  # each once, under its reason

            published = len(live)
            await wait_until(lambda: len(live) >= published + 10, 5, "deltas still published after the junk")
            (after,) = ing.ws.status() if ing.ws is not None else []
            assert after["connected"] and after["connects"] == shard["connects"] == 1, after
            assert after["disconnects"] == shard["disconnects"] and ing.ws is not None and ing.ws.failures == 0
            assert ing.supervisor.failures == failures and not ing.supervisor.down()
            watching = False
            await guard
            assert violations == set(), sorted(violations)[:5]
            assert len(readiness) > 20 and all(code == 200 for code, _ in readiness), \
                [r for r in readiness if r[0] != 200][:3]

            await settled_equal(ing, sim, tokens)
            for token in tokens:  # every delta the test published, from the stream
                for delta in await delta_messages(bus, token):
                    for ch in delta.changes:
                        assert bad_level(ch.price, ch.size, ticks[token]) is None, (token, delta)
            for delta in live:
                for ch in delta.changes:
                    assert bad_level(ch.price, ch.size, ticks[delta.asset_id]) is None, delta
        finally:
            watching = False
            await watch.unsubscribe()
            stopping.set()
            await asyncio.wait_for(task, timeout=20)
            if guard is not None:
                with contextlib.suppress(Exception):
                    await guard
