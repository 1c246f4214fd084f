"""The boundary between polysim's market engine and its trading (auth, orders, user channel) layer.

The engine (books, matching, price process, market data) implements ``ExchangeApi``; the private REST
routes and the user websocket only call it through this protocol and listen to the events it emits.
All amounts are ``Decimal`` (shares and USDC with up to 6 decimals); prices are on the market's tick.

NOTE from the trading side (H1b), additive changes — please implement in the engine:
  * ``ExchangeApi.balance(owner, asset_id=None)``: USDC available (asset_id None) or shares held of a token;
    serves ``GET /balance-allowance``. (The trading side falls back to 0 while the engine lacks it.)
  * ``TradeView.taker_address`` (default ""): the taker order's maker address; the venue reports it as the
    trade's top-level ``maker_address``. "" for simulated flow is fine.
  * Trade lifecycle: please emit a ``TradeEvent`` per status change MATCHED -> MINED -> CONFIRMED (a short
    simulated delay is fine) and keep ``TradeView.status`` current in ``trades()``; the user channel forwards
    each event as-is. ``transaction_hash`` may stay ""; the trading side then derives one from the trade id.
  * ``trades(owner)`` should return trades where ``owner`` is the taker or any maker, oldest first.
  * Optional ``trade(trade_id) -> TradeView | None`` (not in the Protocol). (POST /order answers carry only
    ``tradeIDs`` since 2026-07-24; /data/trades derives a hash for trades with an empty ``transaction_hash``.)
  * ``place`` errors: use the venue's messages, e.g. "not enough balance / allowance",
    "invalid post-only order: order crosses book",
    "order couldn't be fully filled. FOK orders are fully filled or killed.",
    "no orders found to match with FAK order. FAK orders are partially filled or killed if no match is found."
    (the trading side returns them as HTTP 400 ``{"error": msg}``). The trading side already rejects
    duplicates, off-tick prices, sizes below the minimum and bad signatures before calling ``place``.

NOTE from the engine side (market helper), all in place as of commit d94d389:
  * ``polysim.context.SimContext``: ``ctx.exchange`` (property → ``polysim.engine.Engine``), ``ctx.config``
    (``polysim.config.SimConfig``: seed, chain_id, accept_v1_orders, starting_balance, starting_shares,
    rate_limits…), ``ctx.clock`` (``SimClock``: ``ctx.clock.now_ms()``, also callable), ``ctx.hub`` (market ws).
  * ``polysim.app.build_app`` mounts your ``build_private_router``, ``build_user_ws_router`` and calls
    ``http_faults.install``; it then sets ``state_of(ctx).config.rate_limits_enabled = ctx.config.rate_limits``.
  * Engine: all the above implemented. ``balance()`` is the account's total (open orders' reservations
    included, like an on-chain balance); ``place`` also refuses "the market is not accepting orders".
    TradeEvents are emitted MATCHED → MINED → CONFIRMED (``mined_delay_ms``/``confirmed_delay_ms`` in
    SimConfig); ``transaction_hash`` stays "". Crowd (simulated) makers appear in ``maker_orders`` with owner "".
  * Tests: ``polysim.harness.running_sim(**SimConfig overrides)`` / fixture ``sim`` in tests/polysim/conftest.py;
    ``sim.fund(api_key, usdc=…, positions={token: shares})`` sets holdings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal, Protocol

Side = Literal["BUY", "SELL"]
OrderType = Literal["GTC", "GTD", "FOK", "FAK"]
OrderStatus = Literal["LIVE", "MATCHED", "CANCELED", "UNMATCHED", "DELAYED"]
TradeStatus = Literal["MATCHED", "MINED", "CONFIRMED", "RETRYING", "FAILED"]


@dataclass(frozen=True, slots=True)
class NewOrder:
    """A verified, signed order, ready for matching (signature, tick, min size already checked)."""

    order_id: str  # 0x-prefixed hash of the signed order
    owner: str  # API key of the account
    maker_address: str
    asset_id: str
    side: Side
    price: Decimal
    size: Decimal  # shares
    order_type: OrderType
    post_only: bool
    expiration_s: int  # 0 = none (GTD sets it)
    live_until_s: int = 0  # GTD: when it leaves the book (the stated expiration less the security threshold)


@dataclass(frozen=True, slots=True)
class PlaceResult:
    ok: bool
    error: str | None  # the venue's error message when not ok
    status: OrderStatus  # "live" resting, "matched" fully/partly filled immediately, …
    taking_amount: Decimal = Decimal(0)
    making_amount: Decimal = Decimal(0)
    trade_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OrderView:
    """What ``/data/orders`` reports for one order."""

    order_id: str
    owner: str
    maker_address: str
    market: str  # condition id
    asset_id: str
    side: Side
    price: Decimal
    original_size: Decimal
    size_matched: Decimal
    status: OrderStatus
    outcome: str
    order_type: OrderType
    expiration_s: int
    created_at_s: int
    associate_trades: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MakerFill:
    order_id: str
    owner: str
    maker_address: str
    asset_id: str
    outcome: str
    side: Side
    price: Decimal
    matched_amount: Decimal
    fee_rate_bps: int = 0


@dataclass(frozen=True, slots=True)
class TradeView:
    """One match: a taker order against one or more maker orders (as ``/data/trades`` and the user channel)."""

    trade_id: str
    taker_order_id: str
    taker_owner: str  # API key, or "" for simulated flow
    market: str
    asset_id: str
    side: Side  # taker side
    price: Decimal
    size: Decimal
    status: TradeStatus
    match_time_s: int
    outcome: str
    maker_orders: tuple[MakerFill, ...] = field(default_factory=tuple)
    transaction_hash: str = ""
    taker_address: str = ""  # added by the trading side (see the note at the top)


@dataclass(frozen=True, slots=True)
class OrderEvent:
    kind: Literal["PLACEMENT", "UPDATE", "CANCELLATION"]
    order: OrderView
    ts_ms: int


@dataclass(frozen=True, slots=True)
class TradeEvent:
    trade: TradeView
    ts_ms: int


class ExchangeApi(Protocol):
    def market_of(self, asset_id: str) -> str | None:
        """Condition id of a token, or None when unknown."""

    def tick_size(self, asset_id: str) -> Decimal: ...

    def min_order_size(self, asset_id: str) -> Decimal: ...

    def neg_risk(self, asset_id: str) -> bool: ...

    def place(self, order: NewOrder, now_ms: int) -> PlaceResult:
        """Match and/or rest an order; checks balance/position, post-only crossing, FOK/FAK semantics."""

    def cancel(self, owner: str, order_ids: list[str], now_ms: int) -> tuple[list[str], dict[str, str]]:
        """Return (canceled ids, {id: reason} not canceled)."""

    def cancel_all(
        self, owner: str, now_ms: int, market: str | None = None, asset_id: str | None = None
    ) -> tuple[list[str], dict[str, str]]: ...

    def orders(
        self, owner: str, market: str | None = None, asset_id: str | None = None, order_id: str | None = None
    ) -> list[OrderView]:
        """Open orders of ``owner`` (live ones), optionally filtered."""

    def order(self, owner: str, order_id: str) -> OrderView | None:
        """One order of ``owner`` in any status."""

    def trades(self, owner: str, market: str | None = None, asset_id: str | None = None) -> list[TradeView]: ...

    def ensure_account(self, owner: str, address: str) -> None:
        """Create the account on first authentication with the configured starting balance."""

    def balance(self, owner: str, asset_id: str | None = None) -> Decimal:
        """USDC available to ``owner`` (``asset_id`` None) or its shares of a token (added by the trading side)."""

    def subscribe(self, on_order: Callable[[OrderEvent], None], on_trade: Callable[[TradeEvent], None]) -> None:
        """Receive every order and trade event (the user channel filters by owner and market)."""
