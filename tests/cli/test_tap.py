"""``polybot tap`` on a running stack: polysim and the ingestor publish books on the real NATS server; tap, a real
CLI process, shows their deltas within 2 s, its ``--json`` lines decode as the bus messages, ``--last N`` joins
history to live without a gap or a repeat, a subject no stream keeps is said to be live only, Ctrl-C exits 130."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from polybot.app.ingest.links import NatsIngestBus
from polybot.app.ingest.pipeline import OrderbookIngestor
from polybot.bus import subjects
from polybot.bus.client import Bus
from polybot.bus.codec import decode
from polybot.bus.messages import BookDelta, Heartbeat
from polybot.bus.streams import BOOK_DELTAS
from polybot.cli.tap_format import short
from polybot.runtime.infra import Infra
from polybot.runtime.metrics import Metrics
from polybot.runtime.settings import IngestorSettings
from polybot.store.book_rows import MemoryBookRows
from polysim.harness import RunningSim, running_sim

BUSY = {"lp_rate_hz": 20.0, "taker_rate_hz": 4.0}


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("POLYBOT_")}
    env["PYTHONIOENCODING"] = "utf-8"
    return env


@pytest.fixture
async def stack(bus: Bus) -> AsyncIterator[RunningSim]:
    """polysim (a seed of its own: its tokens are this run's) and the ingestor publishing its books."""
    async with running_sim(seed=uuid.uuid4().int % 1_000_000 + 1_000, n_markets=1, **BUSY) as sim:
        settings = IngestorSettings(clob_rest_url=sim.url, clob_ws_url=sim.ws_market_url, assets=tuple(sim.token_ids()),
                                    follow_gamma=False, snapshot_interval_s=3600.0, prune_interval_s=3600.0)
        ing = OrderbookIngestor(settings, Metrics(), bus=NatsIngestBus(bus), store=MemoryBookRows())
        await ing.start()
        try:
            deadline = time.monotonic() + 15
            while not all((b := ing.books.get(t)) and b.stats.deltas > 3 for t in sim.token_ids()):
                assert time.monotonic() < deadline, "the ingestor published no deltas"
                await asyncio.sleep(0.05)
            yield sim
        finally:
            await ing.stop()


class Tap:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.err: list[str] = []

    async def line(self, timeout_s: float = 5.0) -> str:
        assert self.proc.stdout is not None
        raw = await asyncio.wait_for(self.proc.stdout.readline(), timeout_s)
        assert raw, f"tap ended: {self.err}"
        return raw.decode().rstrip("\n")

    async def err_line(self, timeout_s: float = 5.0) -> str:
        assert self.proc.stderr is not None
        text = (await asyncio.wait_for(self.proc.stderr.readline(), timeout_s)).decode().rstrip("\n")
        self.err.append(text)
        return text

    async def interrupt(self) -> tuple[int, str]:
        self.proc.send_signal(signal.SIGINT)
        rc = await asyncio.wait_for(self.proc.wait(), 10)
        assert self.proc.stderr is not None
        rest = (await self.proc.stderr.read()).decode()
        return rc, "\n".join(self.err) + rest


async def _tap(infra: Infra, *args: str) -> Tap:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "polybot.cli", "tap", *args, "--nats-url",
                                                infra.nats_url, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE, env=_env())
    return Tap(proc)


async def test_tap_shows_live_deltas_within_two_seconds(stack: RunningSim, infra: Infra) -> None:
    ours = {short(t) for t in stack.token_ids()}
    started = time.monotonic()
    tap = await _tap(infra, "books")
    try:
        while True:
            text = await tap.line(timeout_s=max(0.1, started + 2.0 - time.monotonic()))
            words = text.split()
            if words[2] == "delta" and words[3] in ours:  # other runs share this NATS server: only our books
                break
        assert time.monotonic() - started < 2.0
        assert words[1].startswith("pb.book.delta.") and words[5] == "bid" and words[7] == "ask", text
    finally:
        rc, err = await tap.interrupt()
    assert rc == 130 and "Traceback" not in err, err


async def _stored_seq(bus: Bus, token: str) -> int:
    last = decode((await bus.js.get_last_msg(BOOK_DELTAS.name, subjects.book_delta(token))).data)
    assert isinstance(last, BookDelta)
    return last.seq


async def test_json_lines_decode_and_last_joins_history_to_live(stack: RunningSim, infra: Infra, bus: Bus) -> None:
    token = stack.token_ids()[0]
    deadline = time.monotonic() + 15
    while (stored := await _stored_seq(bus, token)) < 12:  # enough history for "the last 5" to mean something
        assert time.monotonic() < deadline, stored
        await asyncio.sleep(0.1)
    tap = await _tap(infra, subjects.book_delta(token), "--json", "--last", "5")
    try:
        note = await tap.err_line()
        assert "PB_BOOK_DELTAS" in note and "live only" not in note, note
        got = [decode((await tap.line()).encode()) for _ in range(12)]
    finally:
        rc, err = await tap.interrupt()
    assert rc == 130 and "Traceback" not in err, err
    assert all(isinstance(m, BookDelta) and m.asset_id == token for m in got), got
    deltas = [m for m in got if isinstance(m, BookDelta)]
    positions = [(m.epoch, m.seq) for m in deltas]
    assert len({e for e, _ in positions}) == 1, positions  # one epoch: seq is +1 per message within it
    assert [s for _, s in positions] == list(range(positions[0][1], positions[0][1] + 12)), positions
    assert positions[0][1] >= stored - 4, (stored, positions)  # the last 5 at least: not the stream's start


async def test_a_subject_no_stream_keeps_is_live_only(bus: Bus, infra: Infra) -> None:
    service = f"tap-{uuid.uuid4().hex[:8]}"
    tap = await _tap(infra, subjects.ctl_heartbeat(service), "--since", "5m")
    try:
        assert "is not kept on JetStream: live only" in await tap.err_line()
        assert "listening" in await tap.err_line()
        await bus.publish_core(subjects.ctl_heartbeat(service),
                               Heartbeat(service=service, instance="i1", ts_ms=time.time_ns() // 1_000_000))
        text = await tap.line()
    finally:
        rc, err = await tap.interrupt()
    assert f"pb.ctl.heartbeat.{service} ctl.heartbeat" in text and '"instance":"i1"' in text, text
    assert rc == 130 and "Traceback" not in err, err


async def test_bad_alias_or_duration_is_one_line_exit_2(cli: Callable[..., Any]) -> None:
    cases = {"boks": ["boks"], "pb..x": ["pb..x"], "5x": ["books", "--since", "5x"], "0s": ["books", "--since", "0s"],
             "--last": ["books", "--last", "0"], "not allowed": ["books", "--last", "3", "--since", "1m"]}
    results = await asyncio.gather(*(asyncio.to_thread(cli, ["tap", *a, "--nats-url", "nats://127.0.0.1:9"])
                                     for a in cases.values()))
    for word, res in zip(cases, results, strict=True):
        lines = res.stderr.splitlines()
        assert res.returncode == 2 and len(lines) == 1 and lines[0].startswith("error:"), (word, res.stderr)
        assert word in lines[0] and "Traceback" not in res.stderr and not res.stdout, (word, lines)
