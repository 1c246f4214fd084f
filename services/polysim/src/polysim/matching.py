"""Walking a book for a taker and settling each fill (pure functions over books, orders and accounts).

The taker walks the opposite side of the reference book from the best price while within its limit, FIFO
inside a level, and trades at the resting price. Each participant pays or receives in its own token's terms:
a buyer pays ``own price × size`` and gets the shares, a seller gives the shares and gets ``own price × size``
(so a YES buyer matched with a NO buyer is a mint, a YES seller with a NO seller a merge).
"""

from __future__ import annotations

import hashlib

from polysim.book import MarketBook
from polysim.catalog import SimMarket
from polysim.exchange_api import MakerFill, Side
from polysim.orders import Account, SimOrder, own_price
from polysim.trades import TradeRecord
from polysim.units import micro_decimal, notional_micro, units_decimal

SIM_ADDRESS = "0x5151515151515151515151515151515151515151"  # the simulated crowd's address on trades


class Fill:
    __slots__ = ("book_price", "maker", "size")

    def __init__(self, book_price: int, size: int, maker: SimOrder | None) -> None:
        self.book_price = book_price
        self.size = size
        self.maker = maker


def crossable(book: MarketBook, taker_bid: bool, book_limit: int, size: int) -> int:
    """How much of ``size`` would match right now within the limit (for FOK, FAK and post-only checks)."""
    total = 0
    opposite = book.side(not taker_bid)
    for p in opposite.best_first():
        if (taker_bid and p > book_limit) or (not taker_bid and p < book_limit):
            break
        total += opposite.levels[p].size
        if total >= size:
            return size
    return total


def walk(book: MarketBook, order: SimOrder, size: int, accounts: dict[str, Account]) -> list[Fill]:
    """Take up to ``size`` from the opposite side for ``order``, settling every account maker it meets."""
    taker_bid = order.book_bid
    book_limit = order.book_price
    opposite = book.side(not taker_bid)
    fills: list[Fill] = []
    left = size
    for p in opposite.best_first():
        if left == 0 or (taker_bid and p > book_limit) or (not taker_bid and p < book_limit):
            break
        lvl = opposite.levels[p]
        while left > 0 and lvl.entries:
            entry = lvl.entries[0]
            n = min(entry.size, left)
            entry.size -= n
            left -= n
            fills.append(Fill(p, n, entry.order))
            if entry.order is not None:
                fill_maker(accounts[entry.order.owner], entry.order, n)
            if entry.size == 0:
                lvl.entries.popleft()
        opposite.touched(lvl)
    order.matched += size - left
    return fills


def fill_maker(acct: Account, maker: SimOrder, n: int) -> None:
    """Settle ``n`` shares of a resting order at its own price, releasing what it had set aside."""
    before = maker.reserved
    maker.matched += n
    maker.reserved = maker.reservation_for(maker.remaining)
    release = before - maker.reserved
    if maker.side == "BUY":
        acct.usdc_reserved -= release
        acct.usdc -= release
        acct.add_shares(maker.asset_id, n)
    else:
        acct.reserve_shares(maker.asset_id, -release)
        acct.add_shares(maker.asset_id, -n)
        acct.usdc += notional_micro(maker.price, n)
    if maker.remaining == 0:
        maker.status = "MATCHED"


def taker_amounts(fills: list[Fill], token_index: int, side: Side) -> tuple[int, int]:
    """(given, received) by the taker: USDC and shares for a BUY, shares and USDC for a SELL."""
    paid = got = 0
    for f in fills:
        value = notional_micro(own_price(f.book_price, token_index), f.size)
        if side == "BUY":
            paid, got = paid + value, got + f.size
        else:
            paid, got = paid + f.size, got + value
    return paid, got


def settle_taker(acct: Account, asset_id: str, side: Side, paid: int, got: int) -> None:
    if side == "BUY":
        acct.usdc -= paid
        acct.add_shares(asset_id, got)
    else:
        acct.add_shares(asset_id, -paid)
        acct.usdc += got


def sim_order_id(trade_id: str, n: int) -> str:
    """A stable order id for the crowd's side of a trade."""
    return "0x" + hashlib.sha256(f"{trade_id}:{n}".encode()).hexdigest()


def build_trade(trade_id: str, market: SimMarket, order: SimOrder, taker: SimOrder | None, fills: list[Fill],
                owners: set[str], ts: int, fee_rate_bps: int) -> TradeRecord:
    """The trade record of one taker execution (crowd makers appear with owner "")."""
    makers = []
    for f in fills:
        m = f.maker
        if m is not None:
            makers.append(MakerFill(m.order_id, m.owner, m.maker_address, m.asset_id,
                                    market.outcomes[m.token_index], m.side, units_decimal(m.price),
                                    micro_decimal(f.size), fee_rate_bps))
        else:
            ti = order.token_index  # the crowd is shown as the taker's counterparty on the same token
            maker_side: Side = "SELL" if order.side == "BUY" else "BUY"
            makers.append(MakerFill(sim_order_id(trade_id, len(makers)), "", SIM_ADDRESS, market.token_ids[ti],
                                    market.outcomes[ti], maker_side, units_decimal(own_price(f.book_price, ti)),
                                    micro_decimal(f.size), fee_rate_bps))
    return TradeRecord(
        trade_id=trade_id, taker_order_id=order.order_id or sim_order_id(trade_id, -1),
        taker_owner=taker.owner if taker else "", taker_address=taker.maker_address if taker else SIM_ADDRESS,
        market=market.condition_id, asset_id=order.asset_id, side=order.side,
        price=own_price(fills[0].book_price, order.token_index), size=sum(f.size for f in fills),
        match_time_s=ts // 1000, outcome=market.outcomes[order.token_index], maker_fills=tuple(makers),
        owners=frozenset(owners), fee_rate_bps=fee_rate_bps,
    )
