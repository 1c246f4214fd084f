"""The market websocket client against a real local websocket server: subscribe, shards, PING/PONG, frames,
reconnect with resubscribe, silence detection, dynamic subscribe/unsubscribe."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from ingest_kit import wait_until
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from polybot.venue.ws_market import MarketWsClient, WsMarketConfig, backoff_delay


@dataclass
class Venue:
    """A tiny market-channel server: records what clients send, answers PING, can push or go silent."""

    url: str = ""
    conns: list[ServerConnection] = field(default_factory=list)
    received: list[list[Any]] = field(default_factory=list)  # per connection: parsed messages (PING as "PING")
    silent: bool = False
    answer_ping: bool = True

    async def handler(self, ws: ServerConnection) -> None:
        self.conns.append(ws)
        mine: list[Any] = []
        self.received.append(mine)
        try:
            async for text in ws:
                if text == "PING":
                    mine.append("PING")
                    if self.answer_ping:
                        await ws.send("PONG")
                    continue
                mine.append(json.loads(text))
        except ConnectionClosed:
            pass

    async def push(self, index: int, text: str) -> None:
        await self.conns[index].send(text)


@asynccontextmanager
async def venue() -> AsyncIterator[Venue]:
    v = Venue()
    async with serve(v.handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        v.url = f"ws://127.0.0.1:{port}"
        yield v


@dataclass
class Recorder:
    frames: list[tuple[int, str]] = field(default_factory=list)
    events: list[tuple[str, int, tuple[str, ...], str]] = field(default_factory=list)

    def on_frame(self, shard: int, frame: str, recv_ts_ms: int, recv_ns: int) -> None:
        assert recv_ts_ms > 1_600_000_000_000 and recv_ns > 0
        self.frames.append((shard, frame))

    def on_connected(self, shard: int, asset_ids: tuple[str, ...]) -> None:
        self.events.append(("up", shard, asset_ids, ""))

    def on_disconnected(self, shard: int, asset_ids: tuple[str, ...], reason: str) -> None:
        self.events.append(("down", shard, asset_ids, reason))


def config(url: str, **kw: Any) -> WsMarketConfig:
    base: dict[str, Any] = {"ping_interval_s": 0.2, "silence_timeout_s": 0, "reconnect_base_s": 0.05,
                            "reconnect_max_s": 0.1}
    base.update(kw)
    return WsMarketConfig(url, **base)


async def test_assets_are_sharded_and_each_connection_subscribes_its_share() -> None:
    async with venue() as v:
        rec = Recorder()
        async with MarketWsClient(config(v.url, assets_per_connection=2), rec) as client:
            await client.add_assets(["a", "b", "c", "d", "e"])
            await wait_until(lambda: len([e for e in rec.events if e[0] == "up"]) == 3, 3, "three connections")
            subs = sorted(r[0]["assets_ids"] for r in v.received)
            assert subs == [["a", "b"], ["c", "d"], ["e"]]
            assert all(r[0]["type"] == "market" and r[0]["custom_feature_enabled"] is True for r in v.received)


async def test_ping_is_sent_pong_is_skipped_and_frames_pass_through_untouched() -> None:
    async with venue() as v:
        rec = Recorder()
        async with MarketWsClient(config(v.url), rec) as client:
            await client.add_assets(["a"])
            await wait_until(lambda: len(v.conns) == 1, 3, "connection")
            await wait_until(lambda: v.received[0].count("PING") >= 2, 3, "two PINGs")
            array = '[{"event_type":"book","asset_id":"a"},{"event_type":"book","asset_id":"b"}]'
            await v.push(0, array)
            await v.push(0, '{"event_type":"price_change"}')
            await v.push(0, "not json at all")
            await wait_until(lambda: len(rec.frames) == 3, 3, "frames")
            assert [f for _, f in rec.frames] == [array, '{"event_type":"price_change"}', "not json at all"]
            assert client.status()[0]["frames"] == 3  # the PONGs were not handed over


async def test_reconnects_with_backoff_resubscribes_and_reports_the_gap() -> None:
    async with venue() as v:
        rec = Recorder()
        async with MarketWsClient(config(v.url), rec) as client:
            await client.add_assets(["a", "b"])
            await wait_until(lambda: len(v.conns) == 1, 3, "connection")
            await v.conns[0].close()
            await wait_until(lambda: len(v.conns) == 2 and len(v.received[1]) >= 1, 3, "reconnect")
            assert v.received[1][0]["assets_ids"] == ["a", "b"]
            kinds = [(e[0], e[2]) for e in rec.events]
            assert kinds == [("up", ("a", "b")), ("down", ("a", "b")), ("up", ("a", "b"))]
            assert rec.events[1][3].startswith("closed")
            assert client.status()[0]["connects"] == 2


async def test_a_silent_connection_that_still_answers_ping_is_replaced() -> None:
    async with venue() as v:
        rec = Recorder()
        async with MarketWsClient(config(v.url, silence_timeout_s=0.4), rec) as client:
            await client.add_assets(["a"])
            await wait_until(lambda: any(e[0] == "down" for e in rec.events), 3, "silence detected")
            down = next(e for e in rec.events if e[0] == "down")
            assert down[3] == "silence"
            assert v.received[0].count("PING") >= 1  # it was alive, just quiet
            await wait_until(lambda: len(v.conns) == 2, 3, "reconnected")


async def test_no_pong_means_a_dead_connection() -> None:
    async with venue() as v:
        v.answer_ping = False
        rec = Recorder()
        async with MarketWsClient(config(v.url, ping_interval_s=0.1), rec) as client:
            await client.add_assets(["a"])
            await wait_until(lambda: any(e[0] == "down" for e in rec.events), 3, "pong timeout")
            assert next(e for e in rec.events if e[0] == "down")[3] == "pong_timeout"


async def test_dynamic_subscribe_and_unsubscribe_operations() -> None:
    async with venue() as v:
        rec = Recorder()
        async with MarketWsClient(config(v.url, assets_per_connection=3), rec) as client:
            await client.add_assets(["a", "b"])
            await wait_until(lambda: len(v.received) == 1 and len(v.received[0]) >= 1, 3, "subscribed")
            await client.add_assets(["c", "d"])  # c fills the first connection, d opens a second
            await client.remove_assets(["a"])
            await wait_until(lambda: len(v.received) == 2 and len(v.received[1]) >= 1, 3, "second connection")
            ops = [m for m in v.received[0] if m != "PING"]
            assert ops[1] == {"assets_ids": ["c"], "operation": "subscribe", "custom_feature_enabled": True,
                              "initial_dump": True, "level": 2}
            assert ops[2] == {"assets_ids": ["a"], "operation": "unsubscribe", "custom_feature_enabled": True}
            assert v.received[1][0]["assets_ids"] == ["d"]
            assert client.assets == {"b", "c", "d"}
            await client.remove_assets(["d"])  # its connection has nothing left: closed, not reconnected
            await wait_until(lambda: len(client.status()) == 1, 3, "empty shard retired")


async def test_without_unsubscribe_a_removal_reconnects_with_the_new_list() -> None:
    async with venue() as v:
        rec = Recorder()
        async with MarketWsClient(config(v.url, unsubscribe_supported=False), rec) as client:
            await client.add_assets(["a", "b"])
            await wait_until(lambda: len(v.received) == 1 and len(v.received[0]) >= 1, 3, "subscribed")
            await client.remove_assets(["a"])
            await wait_until(lambda: len(v.received) == 2 and len(v.received[1]) >= 1, 3, "resubscribed")
            assert v.received[1][0]["assets_ids"] == ["b"]


def test_backoff_is_exponential_capped_and_jittered() -> None:
    rng = random.Random(1)
    for attempt, ceiling in ((1, 0.5), (2, 1.0), (3, 2.0), (10, 5.0)):
        d = backoff_delay(attempt, 0.5, 5.0, rng)
        assert ceiling / 2 <= d <= ceiling


async def test_subscriptions_are_chunked_ask_for_the_initial_dump_and_no_ping_comes_before_them() -> None:
    async with venue() as v:
        ids = [f"a{i}" for i in range(250)]
        async with MarketWsClient(config(v.url, subscribe_chunk=100, ping_interval_s=0.05), Recorder()) as client:
            await client.add_assets(ids)
            await wait_until(lambda: bool(v.received) and sum(1 for m in v.received[0] if m == "PING") >= 2, 5,
                             "subscribed and pinging")
            first, *others = v.received[0]
            assert first == {"assets_ids": ids[:100], "type": "market", "initial_dump": True, "level": 2,
                             "custom_feature_enabled": True}
            subs = [m for m in others if m != "PING"]
            assert [m["assets_ids"] for m in subs] == [ids[100:200], ids[200:]]
            assert all(m["operation"] == "subscribe" and m["initial_dump"] is True for m in subs)
            frames = v.received[0]
            first_ping = frames.index("PING")
            assert all(frames.index(m) < first_ping for m in subs), "PING only once every subscription was sent"


async def test_a_listener_that_fails_on_a_frame_costs_a_reconnect_not_the_shard() -> None:
    async with venue() as v:
        class Fragile(Recorder):
            def on_frame(self, shard: int, frame: str, recv_ts_ms: int, recv_ns: int) -> None:
                if frame == "boom":
                    raise TypeError("a bug in the frame handler")
                super().on_frame(shard, frame, recv_ts_ms, recv_ns)

        rec = Fragile()
        reported: list[str] = []
        async with MarketWsClient(config(v.url), rec, on_failure=reported.append) as client:
            await client.add_assets(["a"])
            await wait_until(lambda: len(v.conns) == 1, 3, "connection")
            await v.push(0, "boom")
            await wait_until(lambda: len(v.conns) == 2, 3, "reconnected")
            assert ("down", 0, ("a",), "error") in rec.events  # the listener was told: its books are stale
            await wait_until(lambda: len(v.received) == 2 and bool(v.received[1]), 3, "resubscribed")
            await v.push(1, '{"event_type":"book","asset_id":"a"}')
            await wait_until(lambda: len(rec.frames) == 1, 3, "frames flow again")
            assert client.failures == 1 and reported == ["ws-market"]  # counted as task_failures{task}
