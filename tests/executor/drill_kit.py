"""Helpers of the executor drills: a funded key at polysim, plans on the bus, the executor service in this
process (``running_executor``) or as a real ``python -m polybot_executor`` child (``ExecutorProcess``), and
what the venue and the executor say (``/_sim/state``, ``/status``, ``/metrics``, the ``orders`` table)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from eth_account import Account
from polymarket import AsyncSecureClient

from polybot.bus import subjects
from polybot.bus.client import Bus
from polybot.bus.messages import QuoteOrder, QuotePlan
from polybot.runtime.embedded import EmbeddedNats
from polybot.runtime.embedded import free_port as free_port  # re-exported for the drills
from polybot.runtime.lifecycle import serve
from polybot.runtime.quoter_settings import QuoterSettings
from polybot.runtime.settings import ExecutorSettings, OpsPorts, Settings
from polybot.venue.sdk_environment import sim_environment
from polybot_executor.service import ExecutorService
from polysim.exchange_api import NewOrder
from polysim.harness import RunningSim

D = Decimal
LONG_TTL_MS = 60_000  # the drills' targets never lapse (``target_lapse_grace_ms``) unless a test means it
Leg = tuple[str, str, Decimal]  # (asset, side, price)


async def until(check: Callable[[], Awaitable[Any]], timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what} (last: {last!r})"[:3000])


@dataclass
class FundedKey:
    """A throwaway signer with its API key funded at polysim (``client`` is the unified SDK's)."""

    private_key: str
    address: str
    api_key: str
    client: AsyncSecureClient


async def funded_key(sim: RunningSim, usdc: str = "1000", positions: dict[str, str] | None = None) -> FundedKey:
    signer = Account.create()
    env = sim_environment(sim.url, sim.gamma_url, sim.url.replace("http://", "ws://", 1))
    client = await AsyncSecureClient.create(private_key=signer.key.hex(), wallet=signer.address, environment=env)
    sim.fund(client.credentials.key, usdc=usdc, positions=dict(positions or {}))
    return FundedKey(signer.key.hex(), signer.address, client.credentials.key, client)


def venue_open(sim: RunningSim, api_key: str) -> int:
    """The live orders of ``api_key`` as polysim's ``/_sim/state`` counts them."""
    return sim.open_orders().get(api_key, 0)


async def sim_state(sim: RunningSim) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=sim.url) as http:
        state: dict[str, Any] = (await http.get("/_sim/state")).json()
        return state


def tick_of(sim: RunningSim, asset_id: str) -> Decimal:
    return D(str(sim.book(asset_id)["tick_size"]))


TAKER = "paper-drill-taker"  # the crowd's account at polysim in the paper drills
_ids = itertools.count(1)
Book = tuple[tuple[tuple[Decimal, Decimal], ...], tuple[tuple[Decimal, Decimal], ...]]


def venue_book(sim: RunningSim, asset_id: str) -> Book:
    """(bids, asks) of polysim's book now, best first."""
    b = sim.book(asset_id)
    bids = sorted(((D(lv["price"]), D(lv["size"])) for lv in b["bids"]), reverse=True)
    asks = sorted((D(lv["price"]), D(lv["size"])) for lv in b["asks"])
    return tuple(bids), tuple(asks)


def take(sim: RunningSim, asset_id: str, side: str, price: Decimal, size: Decimal) -> None:
    """The crowd trades (``TAKER``, straight into the engine: no HTTP of ours)."""
    order_id = "0x" + f"{next(_ids):064x}"
    done = sim.engine.place(NewOrder(order_id, TAKER, "0x" + "33" * 20, asset_id, side, price, size,  # type: ignore[arg-type]
                                     "GTC", False, 0), sim.now_ms())
    assert done.ok, done.error


def crowd_market(sim: RunningSim) -> tuple[str, str, str, Decimal]:
    """(condition id, YES, NO, tick) of ``sim``'s first market, frozen (its books change only when the test
    trades) with ``TAKER`` funded to trade it."""
    sim.freeze()
    sim.fund(TAKER, usdc="100000", positions={t: "100000" for t in sim.token_ids()})
    market = sim.condition_ids()[0]
    yes, no = sim.token_ids(market)
    return market, yes, no, tick_of(sim, yes)


def best_bid(sim: RunningSim, asset_id: str) -> Decimal:
    return max(D(lv["price"]) for lv in sim.book(asset_id)["bids"])


class Plans:
    """Plans of one market with rising ``seq``; each ``publish`` sends one with a fresh ``plan_id``."""

    def __init__(self, bus: Bus, market: str, tick: Decimal, *, keep_ticks: int = 1,
                 keep_size_frac: Decimal = D("0.25"), ttl_ms: int = LONG_TTL_MS, seq: int = 100) -> None:
        self.bus, self.market, self.tick = bus, market, tick
        self.keep_ticks, self.keep_size_frac, self.ttl_ms = keep_ticks, keep_size_frac, ttl_ms
        self.seq = seq
        self.sent: list[QuotePlan] = []

    def make(self, legs: Sequence[Leg], size: Decimal = D(10), sizes: Sequence[Decimal] | None = None) -> QuotePlan:
        self.seq += 1
        sizes = list(sizes) if sizes is not None else [size] * len(legs)
        return QuotePlan(plan_id=f"drill-{self.seq}-{time.time_ns()}", market=self.market, seq=self.seq,
                         created_ts_ms=time.time_ns() // 1_000_000, ttl_ms=self.ttl_ms, tick_size=self.tick,
                         keep_ticks=self.keep_ticks, keep_size_frac=self.keep_size_frac, reason="quote",
                         orders=tuple(QuoteOrder(asset_id=a, side=s, price=p, size=n)
                                      for (a, s, p), n in zip(legs, sizes, strict=True)))

    async def publish(self, legs: Sequence[Leg], size: Decimal = D(10),
                      sizes: Sequence[Decimal] | None = None) -> QuotePlan:
        plan = self.make(legs, size, sizes)
        await self.bus.publish(subjects.quote_plan(self.market), plan, msg_id=plan.plan_id)
        self.sent.append(plan)
        return plan


@dataclass(frozen=True)
class OwnNats:
    url: str
    bus: Bus


@asynccontextmanager
async def own_nats(data_dir: Path) -> AsyncIterator[OwnNats]:
    """A NATS server of the drill's own (with the streams). The kill switch (``pb.ctl.kill``, last per subject)
    and the executor's durable plan consumer are one per server: on the server shared with concurrent test
    runs, another run's ``polybot kill``, kill drill or executor would reach into the drill."""
    server = EmbeddedNats(data_dir).start()
    try:
        bus = await Bus.connect(server.url, name="pytest-drill")
        try:
            await bus.ensure_streams()
            yield OwnNats(server.url, bus)
        finally:
            await bus.close()
    finally:
        server.stop()


class Ops:
    """The executor's ops API."""

    def __init__(self, port: int, service: ExecutorService | None = None) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.http = httpx.AsyncClient(base_url=self.base, timeout=5.0)
        self.service = service  # in this process: its executor can be looked at directly

    async def ready(self) -> bool:
        try:
            return (await self.http.get("/readyz")).status_code == 200
        except httpx.HTTPError:
            return False

    async def status(self) -> dict[str, Any]:
        got: dict[str, Any] = (await self.http.get("/status")).json()
        return got

    async def metrics(self) -> str:
        return (await self.http.get("/metrics")).text

    async def close(self) -> None:
        await self.http.aclose()


def metric(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in a Prometheus text page (None: not exported)."""
    want = name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else "")
    for line in text.splitlines():
        if line.startswith(want + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


@asynccontextmanager
async def running_executor(settings: Settings, port: int) -> AsyncIterator[Ops]:
    """The executor service in this event loop (``serve``), ready; stopped (and awaited) on exit."""
    stopping = asyncio.Event()
    service = ExecutorService()
    task = asyncio.create_task(serve(service, settings, port, stopping=stopping))
    ops = Ops(port, service)
    try:
        await until(ops.ready, 30, "the executor ready")
        yield ops
    finally:
        stopping.set()
        try:
            await asyncio.wait_for(task, 30)
        finally:
            await ops.close()


class ExecutorProcess:
    """``python -m polybot_executor`` as a child configured by ``POLYBOT_*`` variables (as ``polybot up``
    starts it). ``stop`` sends SIGCONT then SIGTERM and waits (SIGKILL after a timeout), so a test that fails
    while the child is stopped still leaves no process behind."""

    def __init__(self, env: dict[str, str], cwd: Path, port: int) -> None:
        self.env = {**os.environ, **env}
        self.cwd = cwd
        self.port = port
        self.log_path = cwd / "executor.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ExecutorProcess:
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "polybot_executor"], env=self.env, cwd=self.cwd,
                                         stdout=log, stderr=subprocess.STDOUT)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None and self.proc.poll() is None, self.tail()
        os.kill(self.proc.pid, sig)

    def stop(self, timeout_s: float = 30.0) -> int | None:
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGCONT)
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return proc.returncode

    def tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""


def paper_settings(sim: RunningSim, nats_url: str, database_url: str, state_dir: Path, port: int,
                   **executor: Any) -> Settings:
    """A paper-mode executor's settings on ``sim``'s books (never stale while the venue is frozen), fast loops."""
    return Settings(mode="paper", nats_url=nats_url, database_url=database_url, state_dir=state_dir,
                    ops=OpsPorts(executor=port), quoter=QuoterSettings(stale_after_ms=600_000),
                    executor=ExecutorSettings(clob_url=sim.url, ws_user_url=sim.ws_user_url, gamma_url=sim.gamma_url,
                                              reconcile_interval_s=1.0, fills_poll_interval_s=0.2, **executor))


def executor_env(sim: RunningSim, key: FundedKey, *, nats_url: str, database_url: str, port: int,
                 **extra: str) -> dict[str, str]:
    """The ``POLYBOT_*`` variables of a sim-mode executor against ``sim`` trading with ``key``."""
    return {"POLYBOT_MODE": "sim", "POLYBOT_PRIVATE_KEY": key.private_key, "POLYBOT_NATS_URL": nats_url,
            "POLYBOT_DATABASE_URL": database_url, "POLYBOT_OPS__EXECUTOR": str(port),
            "POLYBOT_EXECUTOR__CLOB_URL": sim.url, "POLYBOT_EXECUTOR__WS_USER_URL": sim.ws_user_url,
            "POLYBOT_EXECUTOR__GAMMA_URL": sim.gamma_url, "POLYBOT_LOG_LEVEL": "INFO", **extra}


async def order_rows(database_url: str, market: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url)
    try:
        return list(await conn.fetch("SELECT order_id, asset_id, side, price, status, end_reason FROM orders "
                                     "WHERE market = $1 ORDER BY created_at", market))
    finally:
        await conn.close()

