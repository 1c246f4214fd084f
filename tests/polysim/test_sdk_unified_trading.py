"""The venue's unified SDK (polymarket-client 0.14.0, ``AsyncSecureClient``) trading against polysim unchanged.

The client is built exactly as the executor's adapter will build it: ``AsyncSecureClient.create(private_key=…,
wallet=…, environment=sim_environment(…))``, the environment coming from ``polybot.venue.sdk_environment`` (the
one place that touches the SDK's private hook). Everything else is the SDK's public API: credentials derived
L1 → L2, V2 orders signed by the SDK for every wallet type, single and batch placement, post-only, GTC / GTD /
FAK / FOK, cancels (one, many, by market, all), open orders, trades, settlement, order heartbeats, the
``Poly-RateLimit-*`` listener, and the venue's restart (425, then post-only).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from eth_account import Account
from polymarket import (
    AsyncSecureClient,
    OrderHeartbeatMismatchError,
    RateLimitError,
    RequestRejectedError,
    TransactionFailedError,
)
from polymarket.models.clob.order_response import AcceptedOrder, RejectedOrder
from polymarket.rate_limit import RateLimitUpdate

from polybot.venue.sdk_environment import sim_environment
from polysim.harness import RunningSim, running_sim
from polysim.wallets import deposit_wallets, proxy_wallet, safe_wallet

TICK = Decimal("0.01")


@pytest.fixture(autouse=True)
def one_tls_context(monkeypatch: pytest.MonkeyPatch) -> None:
    """``AsyncSecureClient.create`` builds eleven httpx clients, each loading the CA bundle (≈ 0.1–0.2 s apiece,
    most of the cost of a client). Every request here is plain HTTP to polysim, so one context serves them all."""
    import httpx._transports.default as transport

    made: dict[tuple[object, ...], Any] = {}
    create = transport.create_ssl_context

    def cached(verify: Any = True, cert: Any = None, trust_env: bool = True) -> Any:
        key = (verify, cert, trust_env)
        if key not in made:
            made[key] = create(verify, cert, trust_env)
        return made[key]

    monkeypatch.setattr(transport, "create_ssl_context", cached)


@pytest.fixture
async def tsim() -> AsyncIterator[RunningSim]:
    """A frozen simulator whose trades settle within a few hundred milliseconds."""
    async with running_sim(seed=3, n_markets=6, mined_delay_ms=100, confirmed_delay_ms=200) as sim:
        sim.freeze()
        yield sim


class Clients:
    """Unified-SDK clients on fresh wallets, closed at the end of the test."""

    def __init__(self, sim: RunningSim) -> None:
        self.sim = sim
        self.environment = sim_environment(sim.url, sim.gamma_url, sim.url.replace("http://", "ws://", 1))
        self.opened: list[AsyncSecureClient] = []
        self.updates: list[RateLimitUpdate] = []

    async def new(self, kind: str = "eoa", key: str | None = None) -> AsyncSecureClient:
        signer = Account.from_key(key) if key else Account.create()
        wallet = {
            "eoa": signer.address,
            "proxy": proxy_wallet(signer.address),
            "safe": safe_wallet(signer.address),
            "deposit": deposit_wallets(signer.address)[0],
        }[kind]
        client = await AsyncSecureClient.create(private_key=signer.key.hex(), wallet=wallet,
                                                environment=self.environment,
                                                on_rate_limit_update=self.updates.append)
        self.opened.append(client)
        return client

    async def close(self) -> None:
        for client in self.opened:
            await client.close()


@pytest.fixture
async def clients(tsim: RunningSim) -> AsyncIterator[Clients]:
    made = Clients(tsim)
    try:
        yield made
    finally:
        await made.close()


def touch(sim: RunningSim, token: str) -> tuple[Decimal, Decimal]:
    book = sim.book(token)
    return Decimal(book["bids"][-1]["price"]), Decimal(book["asks"][-1]["price"])


async def admin(sim: RunningSim, path: str, body: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=sim.url, verify=False) as http:
        r = await (http.post(path, json=body) if body else http.get(path))
        assert r.status_code == 200, r.text
        answer: dict[str, Any] = r.json()
        return answer


async def open_ids(client: AsyncSecureClient, **filters: str) -> list[str]:
    return [o.id async for o in client.list_open_orders(**filters).iter_items()]


async def test_orders_batches_listings_and_every_cancel(tsim: RunningSim, clients: Clients) -> None:
    client = await clients.new()
    again = await clients.new(key=client._ctx.signer.key.hex())  # create answers 400: the SDK derives instead
    assert again.credentials == client.credentials and client.wallet_type == "EOA"
    t0, t1 = tsim.token_ids()[0], tsim.token_ids()[2]
    bid0, _ = touch(tsim, t0)
    bid1, _ = touch(tsim, t1)

    single = await client.place_limit_order(token_id=t0, price=bid0 - 2 * TICK, size=10, side="BUY", post_only=True)
    assert isinstance(single, AcceptedOrder) and single.status == "live" and single.trade_ids == ()
    signed = [await client.create_limit_order(token_id=t0, price=bid0 - (3 + k % 5) * TICK, size=5 + k, side="BUY")
              for k in range(13)]
    signed.append(await client.create_limit_order(token_id=t1, price=bid1 - 2 * TICK, size=5, side="BUY"))
    batch = await client.post_orders(signed)
    assert len(batch) == 14 and all(isinstance(b, AcceptedOrder) and b.status == "live" for b in batch)
    ids = [single.order_id, *(b.order_id for b in batch)]  # type: ignore[union-attr]
    assert sorted(await open_ids(client)) == sorted(ids)
    market0 = tsim.engine.market_of(t0)
    assert len(await open_ids(client, market=market0)) == 14
    one = await client.get_order(order_id=single.order_id)
    assert (one.status, one.order_type, one.original_size, one.maker_address) == (
        "LIVE", "GTC", Decimal(10), client.wallet)
    state = await admin(tsim, "/_sim/state", {})
    assert state["open_orders"][client.credentials.key] == 15

    first = await client.cancel_order(order_id=single.order_id)
    assert first.canceled == (single.order_id,) and first.not_canceled == {}
    twice = await client.cancel_order(order_id=single.order_id)
    assert twice.canceled == () and twice.not_canceled == {single.order_id: "Order already canceled"}
    some = await client.cancel_orders(order_ids=[*ids[1:4], "0x" + "ab" * 32])
    assert sorted(some.canceled) == sorted(ids[1:4]) and some.not_canceled == {"0x" + "ab" * 32: "Order not found"}
    by_market = await client.cancel_market_orders(market=market0)
    assert len(by_market.canceled) == 10
    rest = await client.cancel_all()
    assert rest.canceled == (ids[-1],) and await open_ids(client) == []
    assert (await admin(tsim, "/_sim/state", {}))["open_orders"][client.credentials.key] == 0
    # Every order and cancel answer reported the signer's bucket; the batch cost 14 order tokens at once.
    tiers = {u.tier for u in clients.updates}
    assert tiers == {"standard"} and all(u.remaining is not None and not u.warning for u in clients.updates)
    order_levels = [u.remaining for u in clients.updates[:2]]
    assert order_levels[0] == 59 and order_levels[1] is not None and 45 <= order_levels[1] < 46 + 40  # refills 40/s


async def test_market_orders_fills_trades_and_failed_settlement(tsim: RunningSim, clients: Clients) -> None:
    client = await clients.new()
    token = tsim.token_ids()[1]
    _, ask = touch(tsim, token)
    fak = await client.place_market_order(token_id=token, side="BUY", amount=3, max_price=ask)
    assert isinstance(fak, AcceptedOrder) and fak.status == "matched" and len(fak.trade_ids) == 1
    assert fak.transactions_hashes == ()  # 2026: the answer names the trades, not their settlement
    hashes = await client.wait_for_order_fill_settlement(fak, timeout_s=5)
    trades = [t async for t in client.list_account_trades(id=fak.trade_ids[0]).iter_items()]
    assert [(t.status, t.trader_side, t.taker_order_id) for t in trades] == [("CONFIRMED", "TAKER", fak.order_id)]
    assert hashes == (trades[0].transaction_hash,)

    tsim.fund(client.credentials.key, usdc="1000000")
    too_big = await client.create_market_order(token_id=token, side="BUY", amount=500_000, max_price=ask,
                                               order_type="FOK")
    with pytest.raises(RequestRejectedError, match="FOK orders are fully filled or killed") as refused:
        await client.post_order(too_big)
    assert refused.value.status == 400
    _, ask_now = touch(tsim, token)
    crossing = await client.create_limit_order(token_id=token, price=ask_now, size=5, side="BUY", post_only=True)
    (verdict,) = await client.post_orders([crossing])
    assert isinstance(verdict, RejectedOrder) and verdict.code == "post_only_would_cross"

    usdc = (await client.get_balance_allowance(asset_type="COLLATERAL")).balance
    await admin(tsim, "/_sim/faults", {"fail_next_trades": 1})
    doomed = await client.place_market_order(token_id=token, side="BUY", amount=2, max_price=ask_now)
    assert isinstance(doomed, AcceptedOrder) and doomed.status == "matched"
    with pytest.raises(TransactionFailedError):
        await client.wait_for_order_fill_settlement(doomed, timeout_s=5)
    (failed,) = [t async for t in client.list_account_trades(id=doomed.trade_ids[0]).iter_items()]
    assert failed.status == "FAILED"
    assert (await client.get_balance_allowance(asset_type="COLLATERAL")).balance == usdc  # nothing moved


async def test_order_heartbeats_form_a_chain(tsim: RunningSim, clients: Clients) -> None:
    client = await clients.new()
    first = await client.send_order_heartbeat()
    second = await client.send_order_heartbeat(heartbeat_id=first.heartbeat_id)
    assert second.heartbeat_id != first.heartbeat_id
    for stale in ("", first.heartbeat_id):  # a restarted sender, or one that lost an answer
        with pytest.raises(OrderHeartbeatMismatchError) as mismatch:
            await client.send_order_heartbeat(heartbeat_id=stale)
        assert mismatch.value.heartbeat_id == second.heartbeat_id
    assert (await client.send_order_heartbeat(heartbeat_id=second.heartbeat_id)).heartbeat_id


async def test_every_wallet_type_signs_orders_the_venue_accepts(tsim: RunningSim, clients: Clients) -> None:
    token = tsim.token_ids()[0]
    bid, _ = touch(tsim, token)
    for kind, wallet_type in (("proxy", "POLY_PROXY"), ("safe", "GNOSIS_SAFE"), ("deposit", "DEPOSIT_WALLET")):
        client = await clients.new(kind)
        assert client.wallet_type == wallet_type and client.wallet != client.signer
        placed = await client.place_limit_order(token_id=token, price=bid - 2 * TICK, size=5, side="BUY",
                                                post_only=True)
        assert isinstance(placed, AcceptedOrder), (kind, placed)
        (listed,) = [o async for o in client.list_open_orders().iter_items()]
        assert listed.maker_address == client.wallet
        if kind == "deposit":  # the POLY_1271 signature is verified: one flipped byte and it is refused
            order = await client.create_limit_order(token_id=token, price=bid - 3 * TICK, size=5, side="BUY")
            flipped = order.signature[:10] + ("0" if order.signature[10] != "0" else "1") + order.signature[11:]
            with pytest.raises(RequestRejectedError, match="invalid signature"):
                await client.post_order(dataclasses.replace(order, signature=flipped))
    # Someone else's deposit wallet: the SDK signs as a session key, which the venue does not take.
    owner, intruder = Account.create(), Account.create()
    stranger = await AsyncSecureClient.create(private_key=intruder.key.hex(), wallet=deposit_wallets(owner.address)[0],
                                              environment=clients.environment)
    clients.opened.append(stranger)
    with pytest.raises(RequestRejectedError, match="the order signer address has to be the address of the API KEY"):
        await stranger.place_limit_order(token_id=token, price=bid - 2 * TICK, size=5, side="BUY")


async def test_gtd_orders_carry_their_expiration(tsim: RunningSim, clients: Clients) -> None:
    client = await clients.new()
    token = tsim.token_ids()[0]
    bid, _ = touch(tsim, token)
    expiration = int(time.time()) + 200
    gtd = await client.place_limit_order(token_id=token, price=bid - 2 * TICK, size=5, side="BUY",
                                         expiration=expiration, post_only=True)
    assert isinstance(gtd, AcceptedOrder)
    listed = await client.get_order(order_id=gtd.order_id)
    assert listed.order_type == "GTD" and listed.expires_at is not None
    assert int(listed.expires_at.timestamp()) == expiration
    # Polysim takes it off the book at the stated expiration less the documented one-minute threshold.
    assert tsim.engine.all_orders[gtd.order_id].live_until_s == expiration - 60


async def test_matching_engine_restart_then_post_only_window(tsim: RunningSim, clients: Clients) -> None:
    client = await clients.new()
    token = tsim.token_ids()[0]
    bid, _ = touch(tsim, token)
    resting = await client.place_limit_order(token_id=token, price=bid - 5 * TICK, size=5, side="BUY")
    assert isinstance(resting, AcceptedOrder)
    await admin(tsim, "/_sim/faults", {"engine_restart": {"down_s": 60, "post_only_s": 30}})
    with pytest.raises(RequestRejectedError) as down:
        await client.place_limit_order(token_id=token, price=bid - 2 * TICK, size=5, side="BUY", post_only=True)
    assert (down.value.status, down.value.restriction) == (425, "restarting")
    assert down.value.retry_after is not None and 55 <= down.value.retry_after <= 60
    with pytest.raises(RequestRejectedError) as down_cancel:
        await client.cancel_all()
    assert down_cancel.value.status == 425
    assert await open_ids(client) == [resting.order_id]  # resting orders survive the restart

    await admin(tsim, "/_sim/faults", {"engine_restart": {"down_s": 0, "post_only_s": 30}})  # the engine is back
    with pytest.raises(RequestRejectedError, match="post-only mode") as window:
        await client.place_limit_order(token_id=token, price=bid - 2 * TICK, size=5, side="BUY")
    assert (window.value.status, window.value.restriction) == (503, "post_only")
    assert window.value.retry_after is not None and 0 < window.value.retry_after <= 30
    maker = await client.create_limit_order(token_id=token, price=bid - 2 * TICK, size=6, side="BUY", post_only=True)
    plain = await client.create_limit_order(token_id=token, price=bid - 3 * TICK, size=6, side="BUY")
    kept, refused = await client.post_orders([maker, plain])
    assert isinstance(kept, AcceptedOrder) and kept.status == "live"
    assert isinstance(refused, RejectedOrder) and refused.code == "post_only_mode"
    assert (await client.cancel_order(order_id=resting.order_id)).canceled == (resting.order_id,)

    await admin(tsim, "/_sim/faults", {"engine_restart": None})
    assert isinstance(await client.place_limit_order(token_id=token, price=bid - 3 * TICK, size=5, side="BUY"),
                      AcceptedOrder)
    assert (await admin(tsim, "/_sim/faults", {}))["engine_restart"] is None


async def test_signer_buckets_refuse_a_batch_whole_and_report_the_tier(tsim: RunningSim, clients: Clients) -> None:
    # The standard tier's burst (60) with a slow refill, so the arithmetic does not depend on timing.
    await admin(tsim, "/_sim/rate-limits", {"tiers": {"standard": {"order_rate": 0.5}}})
    client = await clients.new()
    token = tsim.token_ids()[0]
    bid, _ = touch(tsim, token)
    sizes = (15, 15, 15, 5, 15, 10)
    batches = [[await client.create_limit_order(token_id=token, price=bid - (2 + k % 4) * TICK, size=5 + b, side="BUY")
                for k in range(n)] for b, n in enumerate(sizes)]
    for batch in batches[:4]:  # 50 of the 60 tokens
        assert all(isinstance(a, AcceptedOrder) for a in await client.post_orders(batch))
    with pytest.raises(RateLimitError) as limited:  # 15 orders, 10 tokens: refused whole
        await client.post_orders(batches[4])
    state = limited.value.rate_limit
    assert state is not None and state.tier == "standard" and state.remaining is not None
    assert 10 <= state.remaining < 12 and limited.value.retry_after is not None and limited.value.retry_after >= 5
    assert len(await open_ids(client)) == 50  # none of that batch was placed
    assert all(isinstance(a, AcceptedOrder) for a in await client.post_orders(batches[5]))  # 10 fit
    # Another signer has its own buckets.
    other = await clients.new()
    assert isinstance(await other.place_limit_order(token_id=token, price=bid - 2 * TICK, size=5, side="BUY"),
                      AcceptedOrder)

    await admin(tsim, "/_sim/rate-limits", {"signer_tiers": {client.signer: "gold"}})
    await asyncio.sleep(0.1)  # gold refills 400 tokens a second
    assert all(isinstance(a, AcceptedOrder) for a in await client.post_orders(batches[4]))
    assert clients.updates[-1].tier == "gold"
    await admin(tsim, "/_sim/rate-limits", {"enabled": False})  # what benches do: no limit at all
    clients.updates.clear()
    await client.cancel_all()
    assert clients.updates == []
