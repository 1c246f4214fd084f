"""Running a simulator from tests: in-process (``running_sim``) or as a subprocess (``SimProcess``).

::

    async with running_sim(seed=7, n_markets=10) as sim:
        sim.url, sim.gamma_url, sim.ws_market_url, sim.ws_user_url
        token = sim.token_ids()[0]
        sim.drop_next_delta(token); sim.corrupt_next_hash(token); sim.silence_market(3.0)
        sim.switch_hash_layout("F9")             # every hash from now on in another layout (clear: F10)
        sim.drop_market_sockets(); sim.change_tick_size(token, "0.001")
        sim.inject_frames('{"event_type":["book"]}', "not json")  # raw texts to every market socket
        sim.patch_market(sim.condition_ids()[0], closed=True)
        sim.fund(api_key, usdc="500", positions={token: "100"})
        event = sim.add_event(3, neg_risk=True); sim.delist(cid); sim.gamma_cursor_stuck(True)
        sim.restart_engine(down_s=90, post_only_s=120)  # 425 on orders and cancels, then post-only
        sim.fail_next_trades(1); sim.open_orders()      # {api_key: live orders}

``running_sim`` serves on 127.0.0.1 with an OS-chosen port inside the current event loop and starts in well
under a second. ``SimProcess`` runs ``python -m polysim`` and waits for ``GET /time``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from polysim.admin_api import apply_faults, open_orders
from polysim.app import build_app
from polysim.catalog import SimEvent
from polysim.clob_wire import book_json
from polysim.config import SimConfig
from polysim.context import SimContext, build_context
from polysim.engine import Engine
from polysim.gamma_admin import add_event, delist
from polysim.market_admin import patch_market
from polysim.server import QuietServer, start, stop, uvicorn_config


class SimUrls:
    """Where a simulator's Gamma and websocket endpoints are, given its base ``url``."""

    url: str

    @property
    def gamma_url(self) -> str:
        return self.url + "/gamma"

    @property
    def ws_market_url(self) -> str:
        return self.url.replace("http://", "ws://", 1) + "/ws/market"

    @property
    def ws_user_url(self) -> str:
        return self.url.replace("http://", "ws://", 1) + "/ws/user"


@dataclass
class RunningSim(SimUrls):
    """A simulator serving in this process; fault controls act immediately."""

    ctx: SimContext
    url: str

    @property
    def engine(self) -> Engine:
        return self.ctx.engine

    def now_ms(self) -> int:
        return self.ctx.clock.now_ms()

    def step(self) -> None:
        """Advance the engine to the sim clock now (the driver task also does this every ``tick_ms``)."""
        self.engine.step(self.now_ms())

    def freeze(self, frozen: bool = True) -> None:
        """Stop (or restart) the simulated crowd; account orders, lifecycles and faults keep working."""
        self.engine.set_frozen(frozen, self.now_ms())

    # ---- catalog --------------------------------------------------------------------------------------

    def condition_ids(self) -> list[str]:
        return [m.condition_id for m in self.ctx.catalog.markets]

    def token_ids(self, condition_id: str | None = None) -> list[str]:
        """Token ids of one market, or of every market (first outcome first)."""
        markets = self.ctx.catalog.markets if condition_id is None else [self.ctx.catalog.by_condition[condition_id]]
        return [t for m in markets for t in m.token_ids]

    def book(self, asset_id: str, *, step: bool = True) -> dict[str, Any]:
        """The token's book exactly as ``GET /book`` would answer now (``step=False`` from inside an engine
        call, a market-wire sink say, where advancing the engine again is not allowed)."""
        if step:
            self.step()
        found = self.engine.token_book(asset_id)
        if found is None:
            raise KeyError(asset_id)
        parsed: dict[str, Any] = json.loads(book_json(*found, self.engine.faults.hash_layout))
        return parsed

    # ---- market changes and faults -------------------------------------------------------------------

    def patch_market(self, condition_id: str, **fields: Any) -> None:
        """Change market fields (Gamma or CLOB names), e.g. ``closed=True, acceptingOrders=False``."""
        self.step()
        patch_market(self.engine, condition_id, fields, max(self.now_ms(), self.engine.now_ms))

    def change_tick_size(self, asset_or_market: str, tick_size: str | Decimal) -> None:
        """Emit ``tick_size_change`` and re-quantize the market's book."""
        key = "market" if asset_or_market in self.ctx.catalog.by_condition else "asset_id"
        apply_faults(self.ctx, {"tick_size": {key: asset_or_market, "tick_size": str(tick_size)}})

    def drop_market_sockets(self) -> int:
        """Close every market-channel connection; returns how many were open."""
        return int(apply_faults(self.ctx, {"drop_sockets": True}).get("dropped", 0))

    def inject_frames(self, *texts: str) -> int:
        """Send raw texts, in order, to every connected market socket (between the real events); returns how
        many sockets got them."""
        return int(apply_faults(self.ctx, {"inject_frames": list(texts)}).get("injected", 0))

    def silence_market(self, seconds: float) -> None:
        """Send no market data for ``seconds`` (PING is still answered)."""
        apply_faults(self.ctx, {"silent_s": seconds})

    def drop_next_delta(self, asset_id: str) -> None:
        """The asset's next ``price_change`` entry is not sent although its book changes."""
        apply_faults(self.ctx, {"drop_next_delta": [asset_id]})

    def corrupt_next_hash(self, asset_id: str) -> None:
        """The asset's next hash (``price_change`` entry or ``book``) is wrong."""
        apply_faults(self.ctx, {"corrupt_next_hash": [asset_id]})

    def switch_hash_layout(self, layout: str) -> None:
        """Every hash sent from now on (websocket and REST) is in ``layout`` (F5b, F6, F9, F10)."""
        apply_faults(self.ctx, {"hash_layout": layout})

    def add_event(self, n_markets: int, neg_risk: bool = False, version: str = "v1") -> SimEvent:
        """List a new event of new markets (as ``POST /_sim/gamma/events``)."""
        return add_event(self.ctx, n_markets, neg_risk, version)

    def delist(self, condition_id: str) -> None:
        """Gamma forgets the market (as ``DELETE /_sim/markets/{condition_id}``)."""
        delist(self.ctx, condition_id)

    def gamma_cursor_stuck(self, stuck: bool = True) -> None:
        """Keyset listings ignore ``after_cursor`` while on."""
        apply_faults(self.ctx, {"gamma_cursor_stuck": stuck})

    def clear_faults(self) -> None:
        apply_faults(self.ctx, {"clear": True})

    def restart_engine(self, down_s: float = 90, post_only_s: float = 120, in_s: float = 0) -> None:
        """The matching engine restarts in ``in_s``: 425 for ``down_s``, then ``post_only_s`` of post-only."""
        apply_faults(self.ctx, {"engine_restart": {"in_s": in_s, "down_s": down_s, "post_only_s": post_only_s}})

    def fail_next_trades(self, n: int = 1) -> None:
        """The next ``n`` trades of accounts settle MATCHED → RETRYING → FAILED (balances given back)."""
        apply_faults(self.ctx, {"fail_next_trades": n})

    def open_orders(self) -> dict[str, int]:
        """Live orders per API key, as ``GET /_sim/state`` reports them."""
        return open_orders(self.engine)

    def fund(self, owner: str, usdc: str | Decimal | None = None,
             positions: dict[str, str | Decimal] | None = None) -> None:
        """Set an account's USDC and token holdings (``owner`` is the API key)."""
        self.engine.fund(owner, None if usdc is None else Decimal(str(usdc)),
                         {t: Decimal(str(v)) for t, v in (positions or {}).items()})


@asynccontextmanager
async def running_sim(**config_overrides: Any) -> AsyncIterator[RunningSim]:
    """Serve a simulator (``SimConfig`` fields as keyword overrides) on 127.0.0.1, port chosen by the OS."""
    config_overrides.setdefault("host", "127.0.0.1")
    config_overrides["port"] = 0
    config = SimConfig(**config_overrides)
    ctx = build_context(config)
    app = build_app(ctx)
    server = QuietServer(uvicorn_config(app, config.host, 0, deflate=config.ws_deflate))
    task, port = await start(server)
    try:
        yield RunningSim(ctx, f"http://{config.host}:{port}")
    finally:
        await stop(server, task)


class SimProcess(SimUrls):
    """``python -m polysim ARGS`` as a child process (end-to-end tests and demos).

    ``start()`` returns once ``GET /time`` answers; ``stop()`` sends SIGTERM and waits (SIGKILL after a
    timeout). Use as a context manager.
    """

    def __init__(self, args: Sequence[str] = (), host: str = "127.0.0.1", port: int = 0,
                 env: dict[str, str] | None = None) -> None:
        self.args = list(args)
        self.host = host
        self.port = port
        self.env = env
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self, timeout_s: float = 20.0) -> SimProcess:
        cmd = [sys.executable, "-m", "polysim", "--host", self.host, "--port", str(self.port), *self.args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=None, text=True,
                                     env={**os.environ, **(self.env or {})})
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout_s
        line = self.proc.stdout.readline()  # {"polysim": "listening", "url": ...}
        if not line:
            self.stop()
            raise RuntimeError(f"polysim exited during startup (code {self.proc.returncode})")
        self.url = json.loads(line)["url"]
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/time", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise TimeoutError("polysim did not answer GET /time")

    def stop(self, timeout_s: float = 10.0) -> int | None:
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        return proc.returncode

    def __enter__(self) -> SimProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> SimProcess:
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.stop)
