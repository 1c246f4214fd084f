"""The matching engine: books, accounts, orders, trades; the ``ExchangeApi`` the trading side calls.

Rules (the venue's, as far as a simulator needs them):

* One book per market from the first outcome's view (see ``book.py``); an order on the complement sits in it
  mirrored, so YES and NO buyers match each other (mint) and YES and NO sellers too (merge).
* Price-time priority: a taker walks the opposite side from the best price, FIFO within a level, and trades
  at the resting price. Background liquidity (the simulated crowd) and accounts' orders share the queues.
* A BUY needs free USDC for its full size at its limit; a SELL needs free shares. Resting orders set that
  aside until they fill or are canceled.
* GTC/GTD rest what they cannot fill (GTD until its expiry); FAK fills what it can and drops the rest (an
  error when nothing matched); FOK fills completely or not at all; post-only is refused when it would cross.

Time never comes from a clock here: every call carries ``now_ms`` and ``step(now_ms)`` advances the
background process (or a replay) and the trade lifecycle, so the same inputs give the same output.
"""

from __future__ import annotations

import heapq
import random
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Protocol

from polysim.book import Entry, MarketBook
from polysim.catalog import Catalog, SimMarket, tick_of
from polysim.config import SimConfig
from polysim.exchange_api import (
    NewOrder,
    OrderEvent,
    OrderStatus,
    OrderView,
    PlaceResult,
    Side,
    TradeEvent,
    TradeView,
)
from polysim.market_faults import MarketFaults
from polysim.market_wire import MarketWire
from polysim.matching import build_trade, crossable, settle_taker, taker_amounts, walk
from polysim.orders import Account, SimOrder, own_price
from polysim.seeding import initial_levels
from polysim.trades import TradeLedger, TradeRecord
from polysim.units import ONE, micro_decimal, notional_micro, price_units, size_micro

NOT_ENOUGH_BALANCE = "not enough balance / allowance"
POST_ONLY_CROSSES = "invalid post-only order: order crosses book"
FOK_UNFILLED = "order couldn't be fully filled. FOK orders are fully filled or killed."
FAK_UNMATCHED = (
    "no orders found to match with FAK order. FAK orders are partially filled or killed if no match is found."
)
MARKET_CLOSED = "the market is not accepting orders"
# The documented ``not_canceled`` reasons ("Order not found", "Order already canceled", "Order already matched").
NOT_FOUND = "Order not found"
ALREADY_CANCELED = "Order already canceled"
ALREADY_MATCHED = "Order already matched"


class Driver(Protocol):
    """What moves the books between account actions: the random process or a replay."""

    def advance(self, now_ms: int) -> None: ...

    def skip_to(self, now_ms: int) -> None:
        """Forget what was due while frozen: carry on from ``now_ms``."""


class Engine:
    """Implements ``polysim.exchange_api.ExchangeApi`` and the market side of the simulator."""

    def __init__(self, catalog: Catalog, config: SimConfig, start_ms: int) -> None:
        self.catalog = catalog
        self.config = config
        self.now_ms = start_ms
        self.start_ms = start_ms
        self.faults = MarketFaults()
        self.wire = MarketWire(self.faults, config.september_2026, config.seed)
        self.driver: Driver | None = None
        self.frozen = False  # tests: stop the background process (account actions still work)
        self.books: dict[str, MarketBook] = {}
        self.accounts: dict[str, Account] = {}
        self.all_orders: dict[str, SimOrder] = {}
        self.orders_by_owner: dict[str, dict[str, SimOrder]] = {}
        self.ledger = TradeLedger(config.mined_delay_ms, max(config.confirmed_delay_ms, config.mined_delay_ms))
        self._expiries: list[tuple[int, str]] = []
        self._order_listeners: list[Callable[[OrderEvent], None]] = []
        self._trade_listeners: list[Callable[[TradeEvent], None]] = []
        self._ids = random.Random(f"polysim-ids:{config.seed}")

    # ---- books and time ----------------------------------------------------------------------------

    def book(self, condition_id: str) -> MarketBook:
        """The market's book, seeded with its initial liquidity on first use."""
        book = self.books.get(condition_id)
        if book is None:
            market = self.catalog.by_condition[condition_id]
            book = self.books[condition_id] = MarketBook(market, self.start_ms)
            for is_bid, price, size in initial_levels(market, self.config.seed):
                side = book.side(is_bid)
                lvl = side.level(price)
                lvl.entries.append(Entry(None, size))
                side.touched(lvl)
            self.wire.seen_top(book)
        return book

    def set_frozen(self, frozen: bool, now_ms: int) -> None:
        """Stop or restart the background process (restarting carries on from ``now_ms``, no burst)."""
        self.step(now_ms)
        if self.frozen and not frozen and self.driver is not None:
            self.driver.skip_to(max(now_ms, self.now_ms))
        self.frozen = frozen

    def token_book(self, asset_id: str) -> tuple[MarketBook, int] | None:
        token = self.catalog.by_token.get(asset_id)
        if token is None:
            return None
        return self.book(token.market.condition_id), token.index

    def step(self, now_ms: int) -> None:
        """Advance the simulated market and the trade lifecycle to ``now_ms``."""
        if now_ms < self.now_ms:
            return
        if self.driver is not None and not self.frozen:
            self.driver.advance(now_ms)
        self.now_ms = now_ms
        for trade, when in self.ledger.advance(now_ms):
            if trade.status == "FAILED":
                self._revert(trade)
            self._trade_event(trade, when)
        while self._expiries and self._expiries[0][0] <= now_ms:
            due, oid = heapq.heappop(self._expiries)
            order = self.all_orders.get(oid)
            if order is not None and order.status == "LIVE":
                self._cancel_order(order, due)
        self.wire.flush(now_ms)

    def _ts(self, now_ms: int) -> int:
        self.step(now_ms)
        return max(now_ms, self.now_ms)

    # ---- ExchangeApi: reference data ---------------------------------------------------------------

    def market_of(self, asset_id: str) -> str | None:
        token = self.catalog.by_token.get(asset_id)
        return None if token is None else token.market.condition_id

    def _market(self, asset_id: str) -> SimMarket:
        token = self.catalog.by_token.get(asset_id)
        if token is None:
            raise KeyError(asset_id)
        return token.market

    def tick_size(self, asset_id: str) -> Decimal:
        return tick_of(self._market(asset_id))

    def min_order_size(self, asset_id: str) -> Decimal:
        return self._market(asset_id).min_order_size

    def neg_risk(self, asset_id: str) -> bool:
        return self._market(asset_id).neg_risk

    # ---- ExchangeApi: accounts ---------------------------------------------------------------------

    def ensure_account(self, owner: str, address: str) -> None:
        if owner not in self.accounts:
            self.accounts[owner] = Account(owner, address, size_micro(self.config.starting_balance),
                                           default_shares=size_micro(self.config.starting_shares))

    def _account(self, owner: str, address: str = "") -> Account:
        self.ensure_account(owner, address)
        return self.accounts[owner]

    def balance(self, owner: str, asset_id: str | None = None) -> Decimal:
        """USDC (``asset_id`` None) or shares of a token that ``owner`` holds, open orders included."""
        acct = self.accounts.get(owner)
        if acct is None:
            return Decimal(0)
        return micro_decimal(acct.usdc if asset_id is None else acct.shares(asset_id))

    def fund(self, owner: str, usdc: Decimal | None = None, positions: dict[str, Decimal] | None = None,
             address: str = "") -> Account:
        """Set an account's USDC and/or token holdings (test and demo setup)."""
        acct = self._account(owner, address)
        if usdc is not None:
            acct.usdc = size_micro(usdc)
        for token, shares in (positions or {}).items():
            acct.positions[token] = size_micro(shares)
        return acct

    # ---- ExchangeApi: listeners --------------------------------------------------------------------

    def subscribe(self, on_order: Callable[[OrderEvent], None], on_trade: Callable[[TradeEvent], None]) -> None:
        self._order_listeners.append(on_order)
        self._trade_listeners.append(on_trade)

    def _order_event(self, kind: str, order: SimOrder, ts_ms: int) -> None:
        if not self._order_listeners:
            return
        event = OrderEvent(kind, order.view(), ts_ms)  # type: ignore[arg-type]
        for listener in self._order_listeners:
            listener(event)

    def _trade_event(self, trade: TradeRecord, ts_ms: int) -> None:
        if not self._trade_listeners:
            return
        event = TradeEvent(trade.view(), ts_ms)
        for listener in self._trade_listeners:
            listener(event)

    # ---- ExchangeApi: orders -----------------------------------------------------------------------

    def place(self, order: NewOrder, now_ms: int) -> PlaceResult:
        ts = self._ts(now_ms)
        token = self.catalog.by_token.get(order.asset_id)
        if token is None:
            return PlaceResult(False, "invalid token id", "UNMATCHED")
        market = token.market
        if market.closed or not market.active or not market.accepting_orders:
            return PlaceResult(False, MARKET_CLOSED, "UNMATCHED")
        acct = self._account(order.owner, order.maker_address)
        price = price_units(order.price)
        size = size_micro(order.size)
        if size <= 0 or not 0 < price < ONE:
            return PlaceResult(False, "invalid order size or price", "UNMATCHED")
        if order.side == "BUY":
            if acct.free_usdc() < notional_micro(price, size):
                return PlaceResult(False, NOT_ENOUGH_BALANCE, "UNMATCHED")
        elif acct.free_shares(order.asset_id) < size:
            return PlaceResult(False, NOT_ENOUGH_BALANCE, "UNMATCHED")
        book = self.book(market.condition_id)
        sim = SimOrder(order.order_id, order.owner, order.maker_address, market, token.index, order.side, price,
                       size, order.order_type, order.expiration_s, ts // 1000, live_until_s=order.live_until_s)
        available = crossable(book, sim.book_bid, sim.book_price, size)
        if order.post_only and available > 0:
            return PlaceResult(False, POST_ONLY_CROSSES, "UNMATCHED")
        if order.order_type == "FOK" and available < size:
            return PlaceResult(False, FOK_UNFILLED, "UNMATCHED")
        if order.order_type == "FAK" and available == 0:
            return PlaceResult(False, FAK_UNMATCHED, "UNMATCHED")
        self.all_orders[sim.order_id] = sim
        self.orders_by_owner.setdefault(sim.owner, {})[sim.order_id] = sim
        paid, got, trade_id = self._take(book, sim, size, ts, taker=sim)
        rests = sim.remaining > 0 and order.order_type in ("GTC", "GTD")
        if rests:
            self._rest(book, sim, ts)
        elif sim.remaining > 0:  # FAK leftover: killed
            sim.status = "CANCELED" if sim.matched == 0 else "MATCHED"
        else:
            sim.status = "MATCHED"
        self._order_event("PLACEMENT", sim, ts)
        self.wire.flush()
        status: OrderStatus = "MATCHED" if sim.matched > 0 else "LIVE"
        return PlaceResult(True, None, status, taking_amount=micro_decimal(got), making_amount=micro_decimal(paid),
                           trade_ids=(trade_id,) if trade_id else ())

    def _rest(self, book: MarketBook, order: SimOrder, ts: int) -> None:
        acct = self.accounts[order.owner]
        order.reserved = order.reservation_for(order.remaining)
        if order.side == "BUY":
            acct.usdc_reserved += order.reserved
        else:
            acct.reserve_shares(order.asset_id, order.reserved)
        side = book.side(order.book_bid)
        lvl = side.level(order.book_price)
        lvl.entries.append(Entry(order, order.remaining))
        side.touched(lvl)
        if order.order_type == "GTD" and order.expiration_s:
            heapq.heappush(self._expiries, ((order.live_until_s or order.expiration_s) * 1000, order.order_id))
        self._level_changed(book, order.book_bid, order.book_price, ts)

    def _level_changed(self, book: MarketBook, book_bid: bool, book_price: int, ts: int) -> None:
        book.updated_ms = ts
        entries = [self.wire.entry(book, ti, book_bid, book_price, ts) for ti in (0, 1)]
        self.wire.price_change(book, entries, ts)

    def cancel(self, owner: str, order_ids: list[str], now_ms: int) -> tuple[list[str], dict[str, str]]:
        ts = self._ts(now_ms)
        canceled: list[str] = []
        failed: dict[str, str] = {}
        mine = self.orders_by_owner.get(owner, {})
        for oid in order_ids:
            order = mine.get(oid)
            if order is None:
                failed[oid] = NOT_FOUND
            elif order.status != "LIVE":
                failed[oid] = ALREADY_MATCHED if order.status == "MATCHED" else ALREADY_CANCELED
            else:
                self._cancel_order(order, ts)
                canceled.append(oid)
        self.wire.flush()
        return canceled, failed

    def cancel_all(self, owner: str, now_ms: int, market: str | None = None, asset_id: str | None = None
                   ) -> tuple[list[str], dict[str, str]]:
        ids = [v.order_id for v in self.orders(owner, market=market, asset_id=asset_id)]
        return self.cancel(owner, ids, now_ms)

    def _cancel_order(self, order: SimOrder, ts: int, quiet: bool = False) -> None:
        book = self.book(order.market.condition_id)
        side = book.side(order.book_bid)
        lvl = side.levels.get(order.book_price)
        if lvl is not None:
            for entry in lvl.entries:
                if entry.order is order:
                    lvl.entries.remove(entry)
                    break
            side.touched(lvl)
        self._release(order)
        order.status = "CANCELED"
        if not quiet:  # quiet: the caller sends full books afterwards (tick-size change)
            self._level_changed(book, order.book_bid, order.book_price, ts)
        self._order_event("CANCELLATION", order, ts)

    def _release(self, order: SimOrder) -> None:
        acct = self.accounts[order.owner]
        if order.side == "BUY":
            acct.usdc_reserved -= order.reserved
        else:
            acct.reserve_shares(order.asset_id, -order.reserved)
        order.reserved = 0

    def orders(self, owner: str, market: str | None = None, asset_id: str | None = None,
               order_id: str | None = None) -> list[OrderView]:
        out = []
        for o in self.orders_by_owner.get(owner, {}).values():
            if o.status != "LIVE":
                continue
            if (market and o.market.condition_id != market) or (asset_id and o.asset_id != asset_id):
                continue
            if order_id and o.order_id != order_id:
                continue
            out.append(o.view())
        return out

    def order(self, owner: str, order_id: str) -> OrderView | None:
        o = self.orders_by_owner.get(owner, {}).get(order_id)
        return None if o is None else o.view()

    def trades(self, owner: str, market: str | None = None, asset_id: str | None = None) -> list[TradeView]:
        out = []
        for t in self.ledger.of_owner(owner):
            if (market and t.market != market) or (asset_id and t.asset_id != asset_id and
                                                   all(m.asset_id != asset_id for m in t.maker_fills)):
                continue
            out.append(t.view())
        return out

    # ---- matching ----------------------------------------------------------------------------------

    def sim_take(self, market: SimMarket, token_index: int, side: Side, limit: int, size: int, ts: int) -> int:
        """A background taker order (immediate-or-cancel); returns the size it filled."""
        book = self.book(market.condition_id)
        taker = SimOrder("", "", "", market, token_index, side, limit, size, "FAK", 0, ts // 1000)
        self._take(book, taker, size, ts, taker=None)
        return taker.matched

    def _take(self, book: MarketBook, order: SimOrder, size: int, ts: int,
              taker: SimOrder | None) -> tuple[int, int, str]:
        """Match ``order`` (an account's ``taker`` or the crowd's) against the book.

        Returns (given, received, trade id or ""); emits the trade on the market channel, records it when an
        account took part, and tells makers' owners about their fills.
        """
        before = self._holdings_before(book, order, taker) if self.ledger.fail_next > 0 else None
        fills = walk(book, order, size, self.accounts)
        if not fills:
            return 0, 0, ""
        ti, side = order.token_index, order.side
        paid, got = taker_amounts(fills, ti, side)
        if taker is not None:
            settle_taker(self.accounts[taker.owner], taker.asset_id, side, paid, got)
        matched = sum(f.size for f in fills)
        last_price = own_price(fills[-1].book_price, ti)
        book.set_ltp(last_price, ti, complement=self.config.september_2026)
        book.last_trade = (ti, side, last_price, matched)
        book.updated_ms = ts
        consumed = [(not order.book_bid, p) for p in dict.fromkeys(f.book_price for f in fills)]
        self.wire.trade(book, ti, side, last_price, matched, self.config.fee_rate_bps, ts, consumed)
        trade_id = ""
        owners = {f.maker.owner for f in fills if f.maker is not None} | ({taker.owner} if taker else set())
        if owners:
            trade_id = str(uuid.UUID(int=self._ids.getrandbits(128), version=4))
            trade = build_trade(trade_id, book.market, order, taker, fills, owners, ts, self.config.fee_rate_bps)
            if before is not None:
                trade.reverts = self._moved(book.market, before, owners)
            self.ledger.add(trade, ts)
            if taker is not None:
                taker.trade_ids.append(trade_id)
            self._trade_event(trade, ts)
        for f in fills:
            if f.maker is not None:
                if trade_id:
                    f.maker.trade_ids.append(trade_id)
                self._order_event("UPDATE", f.maker, ts)
        return paid, got, trade_id

    # ---- failing settlements (a fault) ------------------------------------------------------------------

    def _holding(self, owner: str, market: SimMarket) -> tuple[int, int, int]:
        acct = self.accounts[owner]
        return acct.usdc, acct.shares(market.token_ids[0]), acct.shares(market.token_ids[1])

    def _holdings_before(self, book: MarketBook, order: SimOrder, taker: SimOrder | None
                         ) -> dict[str, tuple[int, int, int]]:
        """Holdings of every account a match on ``book`` could touch (only while a failure is armed)."""
        opposite = book.side(not order.book_bid)
        owners = {e.order.owner for lvl in opposite.levels.values() for e in lvl.entries if e.order is not None}
        if taker is not None:
            owners.add(taker.owner)
        return {o: self._holding(o, book.market) for o in owners}

    def _moved(self, market: SimMarket, before: dict[str, tuple[int, int, int]], owners: set[str]
               ) -> tuple[tuple[str, int, int, int], ...]:
        moved = []
        for owner in sorted(owners):
            old, new = before.get(owner), self._holding(owner, market)
            if old is not None:
                moved.append((owner, new[0] - old[0], new[1] - old[1], new[2] - old[2]))
        return tuple(moved)

    def _revert(self, trade: TradeRecord) -> None:
        """A FAILED settlement moved nothing on chain: give the accounts back what the match moved."""
        market = self.catalog.by_condition[trade.market]
        for owner, usdc, first, second in trade.reverts:
            acct = self.accounts[owner]
            acct.usdc -= usdc
            acct.add_shares(market.token_ids[0], -first)
            acct.add_shares(market.token_ids[1], -second)
