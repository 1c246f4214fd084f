"""``polybot market-trade`` end to end: real ``python -m polybot.cli`` processes, the unified SDK, polysim and
PostgreSQL.

URL and query resolution (one market; an event of several or a vague query lists the candidates; an unknown
URL is an error), a snapshot without ``--confirm-live``, an IOC that fills (and its resting close for the size
that filled) and one that finds nothing (nothing left resting), and the bad inputs that must exit 2 with no
order at polysim — checked through polysim's own ``GET /_sim/state``, which lists every API key that ever
placed an order.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from eth_account import Account
from polymarket import AsyncSecureClient

from polybot.venue.sdk_environment import sim_environment
from polysim.catalog import SimEvent, SimMarket
from polysim.harness import RunningSim, running_sim

D = Decimal
REPO = Path(__file__).resolve().parents[2]
SITE = "https://polymarket.com"
KEYS = {"market", "token", "quotes", "order", "close_order", "warnings"}
Result = subprocess.CompletedProcess[str]


@dataclass
class Wallet:
    key: str  # the private key (only ever in the child's environment)
    api_key: str  # polysim's account name


@pytest.fixture
async def sim() -> AsyncIterator[RunningSim]:
    async with running_sim(seed=23, n_markets=10, n_events=5) as s:
        s.freeze()  # a still crowd: the books the test reads are the books the order meets
        yield s


@pytest.fixture
async def wallet(sim: RunningSim) -> Wallet:
    signer = Account.create()
    env = sim_environment(sim.url, sim.gamma_url, sim.url.replace("http://", "ws://", 1))
    client = await AsyncSecureClient.create(private_key=signer.key.hex(), wallet=signer.address, environment=env)
    api_key = client.credentials.key
    await client.close()
    sim.fund(api_key, usdc="1000")
    return Wallet(signer.key.hex(), api_key)


def sim_env(sim: RunningSim, wallet: Wallet | None, database_url: str, **extra: str) -> dict[str, str]:
    env = {"POLYBOT_MODE": "sim", "POLYBOT_EXECUTOR__CLOB_URL": sim.url, "POLYBOT_EXECUTOR__GAMMA_URL": sim.gamma_url,
           "POLYBOT_EXECUTOR__WS_USER_URL": sim.ws_user_url, "POLYBOT_DATABASE_URL": database_url,
           "POLYBOT_NATS_URL": os.environ.get("POLYBOT_NATS_URL", "nats://127.0.0.1:4222")}
    if wallet is not None:
        env["POLYBOT_PRIVATE_KEY"] = wallet.key
    env.update(extra)
    return env


def _run(args: Sequence[str], env: dict[str, str]) -> Result:
    clean = {k: v for k, v in os.environ.items() if not k.upper().startswith("POLYBOT_")}
    return subprocess.run([sys.executable, "-m", "polybot.cli", "market-trade", "--config", "config/service.toml",
                           *args], capture_output=True, text=True, timeout=120, cwd=REPO, env={**clean, **env},
                          check=False)


async def trade(env: dict[str, str], *args: str) -> Result:
    """The command as a child process, while the in-process simulator keeps serving."""
    return await asyncio.to_thread(_run, args, env)


def report(res: Result, code: int = 0) -> dict[str, Any]:
    assert res.returncode == code, (res.args, res.returncode, res.stderr[-1500:])
    assert "Traceback" not in res.stderr
    out: dict[str, Any] = json.loads(res.stdout)
    assert set(out) == KEYS
    return out


def one_error(res: Result, *words: str) -> str:
    """Exit 2 and exactly one line on stderr, ``error: …``, holding every word."""
    assert res.returncode == 2, (res.args, res.returncode, res.stdout[-500:], res.stderr[-1500:])
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), res.stderr[-1500:]
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def single(sim: RunningSim) -> SimMarket:
    return next(e.markets[0] for e in sim.ctx.catalog.events if len(e.markets) == 1)


def group(sim: RunningSim) -> SimEvent:
    return next(e for e in sim.ctx.catalog.events if len(e.markets) > 1)


def touch(sim: RunningSim, token: str) -> tuple[Decimal, Decimal, Decimal]:
    """Best bid, best ask, and the size resting at the best ask."""
    book = sim.book(token)
    ask = min(book["asks"], key=lambda lv: D(lv["price"]))
    return max(D(lv["price"]) for lv in book["bids"]), D(ask["price"]), D(ask["size"])


def tick(m: SimMarket) -> Decimal:
    return D(m.tick_units) / 10_000


async def sim_state(sim: RunningSim) -> dict[str, int]:
    async with httpx.AsyncClient(base_url=sim.url) as http:
        return dict((await http.get("/_sim/state")).json()["open_orders"])


def json_value(raw: Any) -> Any:
    """A jsonb column read on a plain connection (text): the value, or (as ``insert_audit`` writes it through
    the pool's codec today) a JSON string holding it."""
    while isinstance(raw, str):
        raw = json.loads(raw)
    return raw


async def rows(database_url: str, sql: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url)
    try:
        exists = await conn.fetchval("SELECT to_regclass('orders') IS NOT NULL")
        return list(await conn.fetch(sql)) if exists else []
    finally:
        await conn.close()


async def test_urls_and_queries_resolve_to_one_market_and_a_snapshot_sends_nothing(
        sim: RunningSim, wallet: Wallet, database_url: str) -> None:
    env = sim_env(sim, wallet, database_url)
    m, ev = single(sim), group(sim)
    yes, no = m.token_ids
    bid, ask, _ = touch(sim, yes)
    by_event, by_market, by_query, in_group = await asyncio.gather(
        trade(env, "--url", f"{SITE}/event/{m.event.slug}", "--side", "buy", "--price", str(bid), "--size", "5",
              "--json"),
        trade(env, "--url", f"{SITE}/market/{m.slug}?tid=1#x", "--outcome", "no", "--side", "sell", "--price", "0.5",
              "--size", "5", "--json"),
        trade(env, "--query", m.event.title, "--side", "buy", "--price", str(bid), "--size", "5", "--close",
              "--close-price", str(bid - tick(m)), "--force", "--json"),
        trade(env, "--url", f"https://www.polymarket.com/event/{ev.slug}/{ev.markets[1].slug}/", "--outcome", "Yes",
              "--side", "buy", "--price", "0.5", "--size", "5", "--json"))
    first = report(by_event)
    assert first["market"]["slug"] == m.slug and first["market"]["condition_id"] == m.condition_id
    assert first["market"]["event_slug"] == m.event.slug and first["token"] == {"outcome": "Yes", "token_id": yes}
    q = first["quotes"]
    assert (D(q["best_bid"]), D(q["best_ask"])) == (bid, ask)
    assert (D(q["price_buy"]), D(q["price_sell"])) == (bid, ask)  # /price: BUY answers the bid, SELL the ask
    assert D(q["midpoint"]) == (bid + ask) / 2 and D(q["spread"]) == ask - bid
    assert D(q["tick_size"]) == tick(m) and D(q["min_order_size"]) == m.min_order_size
    assert first["order"] is None and first["close_order"] is None
    assert any("snapshot only" in w for w in first["warnings"])
    assert report(by_market)["token"] == {"outcome": "No", "token_id": no}
    assert report(by_query)["market"]["slug"] == m.slug  # --force lets a losing close price through the checks
    assert report(in_group)["market"]["slug"] == ev.markets[1].slug
    text = await trade(env, "--url", f"{SITE}/event/{m.event.slug}", "--side", "buy", "--price", str(bid),
                       "--size", "5")
    assert text.returncode == 0 and "snapshot only" in text.stdout and f"best bid {bid}" in text.stdout
    assert wallet.api_key not in await sim_state(sim)  # this key never placed an order
    assert await rows(database_url, "SELECT * FROM orders") == []


async def test_several_markets_and_unknown_urls_are_errors_naming_them(
        sim: RunningSim, wallet: Wallet, database_url: str) -> None:
    env = sim_env(sim, wallet, database_url)
    ev = group(sim)
    word = ev.title.split()[0]  # a topic every event of this kind shares, or at least this group's markets
    order = ("--side", "buy", "--price", "0.5", "--size", "5", "--confirm-live")
    event, query, missing, no_event, elsewhere, not_a_market = await asyncio.gather(
        trade(env, "--url", f"{SITE}/event/{ev.slug}", *order),
        trade(env, "--query", word, *order),
        trade(env, "--url", f"{SITE}/market/no-such-market", *order),
        trade(env, "--url", f"{SITE}/event/no-such-event", *order),
        trade(env, "--url", f"https://example.com/event/{ev.slug}", *order),
        trade(env, "--url", f"{SITE}/profile/someone", *order))
    line = one_error(event, f"matches {len(ev.markets)} markets", "nothing was sent")
    assert all(f"{ev.slug}/{mk.slug}" in line for mk in ev.markets)
    assert all(f"{ev.slug}/{mk.slug}" in one_error(query, "markets:") for mk in ev.markets)
    one_error(missing, "no-such-market", "not found", "nothing was sent")
    one_error(no_event, "no-such-event", "not found")
    one_error(elsewhere, "not a polymarket.com URL")
    one_error(not_a_market, "names no event or market")
    assert wallet.api_key not in await sim_state(sim)


async def test_an_ioc_that_fills_part_closes_exactly_what_filled_with_a_resting_order(
        sim: RunningSim, wallet: Wallet, database_url: str) -> None:
    m = next(mk for mk in sim.ctx.catalog.markets if touch(sim, mk.token_ids[0])[2] >= 2 * mk.min_order_size
             and touch(sim, mk.token_ids[0])[1] + 5 * tick(mk) < 1)
    yes = m.token_ids[0]
    _, ask, at_ask = touch(sim, yes)
    size = at_ask + 3  # more than rests at the best ask: the IOC fills that level and drops the rest
    close_price = ask + 5 * tick(m)
    out = report(await trade(sim_env(sim, wallet, database_url), "--url", f"{SITE}/market/{m.slug}", "--outcome",
                             "yes", "--side", "buy", "--price", str(ask), "--size", str(size), "--close",
                             "--close-price", str(close_price), "--confirm-live", "--json"))
    order, close = out["order"], out["close_order"]
    assert order["type"] == "FAK" and order["status"] == "matched" and order["plan_id"].startswith("manual-")
    assert D(order["size_matched"]) == at_ask and order["trade_ids"]
    assert any(f"filled {at_ask} of {size}" in w for w in out["warnings"])
    assert close["type"] == "GTC" and close["side"] == "SELL" and close["status"] == "live"
    assert D(close["size"]) == at_ask and D(close["price"]) == close_price
    assert close["plan_id"] == order["plan_id"] + "-close" and close["order_id"] != order["order_id"]
    assert (await sim_state(sim))[wallet.api_key] == 1  # the close rests; the IOC left nothing behind
    assert touch(sim, yes)[1] > ask  # the level it took is gone from the book
    stored = {r["plan_id"]: r for r in await rows(database_url, "SELECT * FROM orders")}
    assert stored[order["plan_id"]]["status"] == "matched" and stored[order["plan_id"]]["order_type"] == "FAK"
    assert stored[order["plan_id"]]["size_matched"] == at_ask and stored[order["plan_id"]]["backend"] == "clob"
    assert stored[close["plan_id"]]["order_id"] == close["order_id"] and stored[close["plan_id"]]["status"] == "live"
    audit = {r["plan_id"]: r for r in await rows(database_url, "SELECT plan_id, outcome, acks FROM exec_audit")}
    assert set(audit) == set(stored) and all(r["outcome"] == "executed" for r in audit.values())
    assert json_value(audit[order["plan_id"]]["acks"])[0]["order_id"] == order["order_id"]


async def test_an_ioc_that_fills_whole_and_one_that_finds_nothing_leave_nothing_resting(
        sim: RunningSim, wallet: Wallet, database_url: str) -> None:
    m = next(mk for mk in sim.ctx.catalog.markets if touch(sim, mk.token_ids[0])[2] >= mk.min_order_size)
    yes = m.token_ids[0]
    bid, ask, _ = touch(sim, yes)
    env = sim_env(sim, wallet, database_url)
    size = str(m.min_order_size)
    filled = report(await trade(env, "--url", f"{SITE}/market/{m.slug}", "--side", "buy", "--price", str(ask),
                                "--size", size, "--confirm-live", "--json"))
    assert filled["order"]["status"] == "matched" and D(filled["order"]["size_matched"]) == m.min_order_size
    assert filled["close_order"] is None
    below = bid - 3 * tick(m)  # a buy far under the asks: nothing to match, and an IOC never rests
    missed = await trade(env, "--url", f"{SITE}/market/{m.slug}", "--side", "buy", "--price", str(below),
                         "--size", size, "--close", "--close-price", str(below + tick(m)), "--confirm-live", "--json")
    out = report(missed, 1)
    assert out["order"]["status"] == "rejected" and out["order"]["error"].startswith("fak_not_filled")
    assert out["close_order"] is None and any("no closing order" in w for w in out["warnings"])
    assert (await sim_state(sim))[wallet.api_key] == 0
    stored = {r["plan_id"]: r for r in await rows(database_url, "SELECT * FROM orders")}
    assert stored[out["order"]["plan_id"]]["status"] == "rejected"
    assert stored[out["order"]["plan_id"]]["end_reason"] == "unfilled"
    assert stored[filled["order"]["plan_id"]]["end_reason"] == "filled"
    audit = {r["plan_id"]: r["outcome"] for r in await rows(database_url, "SELECT plan_id, outcome FROM exec_audit")}
    assert audit == {filled["order"]["plan_id"]: "executed", out["order"]["plan_id"]: "rejected"}


async def test_bad_inputs_exit_2_and_nothing_reaches_the_venue(
        sim: RunningSim, wallet: Wallet, database_url: str) -> None:
    m, closed = single(sim), group(sim).markets[0]
    sim.patch_market(closed.condition_id, closed=True)
    bid, ask, _ = touch(sim, m.token_ids[0])
    t = tick(m)
    env = sim_env(sim, wallet, database_url)
    url = ("--url", f"{SITE}/market/{m.slug}")
    live = ("--confirm-live", "--json")
    cases: dict[str, tuple[dict[str, str], tuple[str, ...], tuple[str, ...]]] = {
        "off-tick": (env, (*url, "--side", "buy", "--price", str(ask + t / 2), "--size", "5", *live),
                     ("off the market's tick", "--price")),
        "one": (env, (*url, "--side", "buy", "--price", "1", "--size", "5", *live), ("outside (0, 1)",)),
        "below-min": (env, (*url, "--side", "buy", "--price", str(ask), "--size", str(m.min_order_size - 1), *live),
                      ("below the market's minimum order size",)),
        "closed": (env, ("--url", f"{SITE}/market/{closed.slug}", "--side", "buy", "--price", "0.5", "--size", "5",
                         *live), ("market is closed",)),
        "losing-close": (env, (*url, "--side", "buy", "--price", str(ask), "--size", "5", "--close", "--close-price",
                               str(ask - t), *live), ("--close-price", "--force")),
        "close-without-price": (env, (*url, "--side", "buy", "--price", str(ask), "--size", "5", "--close", *live),
                                ("--close needs --close-price",)),
        "no-key": (sim_env(sim, None, database_url), (*url, "--side", "buy", "--price", str(ask), "--size", "5",
                                                      *live), ("private key", "POLYBOT_PRIVATE_KEY")),
        "paper": (sim_env(sim, wallet, database_url, POLYBOT_MODE="paper"),
                  (*url, "--side", "buy", "--price", str(ask), "--size", "5", *live), ("mode = 'paper'",)),
        "bad-side": (env, (*url, "--side", "hold", "--price", str(ask), "--size", "5", *live), ("--side",)),
    }
    results = await asyncio.gather(*(trade(e, *args) for e, args, _ in cases.values()))
    for (name, (_, _, words)), res in zip(cases.items(), results, strict=True):
        line = one_error(res, *words)
        assert name == "bad-side" or "nothing was sent" in line, line
        assert wallet.key.removeprefix("0x") not in res.stdout + res.stderr
    assert wallet.api_key not in await sim_state(sim)  # not one order, from any of them
    assert await rows(database_url, "SELECT * FROM orders") == []
    assert bid < ask
