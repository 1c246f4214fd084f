"""Accounts and orders as the engine keeps them (integer units), and their views for the trading side."""

from __future__ import annotations

from dataclasses import dataclass, field

from polysim.catalog import SimMarket
from polysim.exchange_api import OrderStatus, OrderType, OrderView, Side
from polysim.units import ONE, micro_decimal, notional_micro, units_decimal


@dataclass(slots=True)
class Account:
    """USDC and token holdings in micro units; ``reserved_*`` is what open orders have set aside."""

    owner: str
    address: str
    usdc: int
    default_shares: int = 0  # every token starts at this many shares (so a maker can sell from the start)
    usdc_reserved: int = 0
    positions: dict[str, int] = field(default_factory=dict)
    reserved: dict[str, int] = field(default_factory=dict)

    def shares(self, token_id: str) -> int:
        return self.positions.get(token_id, self.default_shares)

    def add_shares(self, token_id: str, delta: int) -> None:
        self.positions[token_id] = self.shares(token_id) + delta

    def free_usdc(self) -> int:
        return self.usdc - self.usdc_reserved

    def free_shares(self, token_id: str) -> int:
        return self.shares(token_id) - self.reserved.get(token_id, 0)

    def reserve_shares(self, token_id: str, delta: int) -> None:
        self.reserved[token_id] = self.reserved.get(token_id, 0) + delta


@dataclass(slots=True, eq=False)
class SimOrder:
    """An account's order. ``book_bid``/``book_price`` place it in the reference (first-outcome) book."""

    order_id: str
    owner: str
    maker_address: str
    market: SimMarket
    token_index: int
    side: Side
    price: int  # in the order's own token
    original: int  # micro shares
    order_type: OrderType
    expiration_s: int
    created_at_s: int
    matched: int = 0
    status: OrderStatus = "LIVE"
    reserved: int = 0  # USDC micro (BUY) or share micro (SELL) still set aside for the resting remainder
    live_until_s: int = 0  # GTD: leaves the book then (0: at ``expiration_s``)
    trade_ids: list[str] = field(default_factory=list)

    @property
    def asset_id(self) -> str:
        return self.market.token_ids[self.token_index]

    @property
    def remaining(self) -> int:
        return self.original - self.matched

    @property
    def book_bid(self) -> bool:
        """Whether the order sits on the reference book's bid side (BUY first outcome or SELL its complement)."""
        return (self.side == "BUY") == (self.token_index == 0)

    @property
    def book_price(self) -> int:
        return self.price if self.token_index == 0 else ONE - self.price

    def reservation_for(self, remaining: int) -> int:
        """What a resting remainder of ``remaining`` shares sets aside."""
        return notional_micro(self.price, remaining) if self.side == "BUY" else remaining

    def view(self) -> OrderView:
        return OrderView(
            order_id=self.order_id, owner=self.owner, maker_address=self.maker_address,
            market=self.market.condition_id, asset_id=self.asset_id, side=self.side,
            price=units_decimal(self.price), original_size=micro_decimal(self.original),
            size_matched=micro_decimal(self.matched), status=self.status,
            outcome=self.market.outcomes[self.token_index], order_type=self.order_type,
            expiration_s=self.expiration_s, created_at_s=self.created_at_s,
            associate_trades=tuple(self.trade_ids),
        )


def own_price(book_price: int, token_index: int) -> int:
    """A reference-book price in a token's own terms."""
    return book_price if token_index == 0 else ONE - book_price
