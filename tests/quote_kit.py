"""The quoter's test kit: ``QuoteBook``s from the recorded venue books, markets, and our state.

Polymarket's two tokens are one book mirrored, so ``pair`` builds the NO book from the YES one (a YES bid at
``p`` is a NO ask at ``1 - p``), as the venue serves them. ``recorded`` loads the recorded books of
``tests/fixtures/polymarket`` (see SOURCES.md): the two-token initial dumps as they are, and single-token
books with their mirror.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

from polybot.domain.quote_inputs import OurOrder, OurState, QuoteBook, QuoteMarket

D = Decimal
YES, NO = "yes-token", "no-token"
CID = "0x" + "c1" * 32
FIXTURES = Path(os.environ.get("POLYBOT_FIXTURES", Path(__file__).parent / "fixtures" / "polymarket"))

Levels = tuple[tuple[Decimal, Decimal], ...]


def levels(pairs: Iterable[tuple[str | Decimal, str | Decimal]], *, bids: bool) -> Levels:
    """(price, size) best first."""
    out = [(D(p), D(s)) for p, s in pairs]
    return tuple(sorted(out, key=lambda lv: lv[0], reverse=bids))


def book(asset: str, bids: Iterable[tuple[str | Decimal, str | Decimal]],
         asks: Iterable[tuple[str | Decimal, str | Decimal]], *, tick: str = "0.01", state: str = "live",
         age_ms: int | None = 100, reason: str | None = None) -> QuoteBook:
    return QuoteBook(asset, state, levels(bids, bids=True), levels(asks, bids=False), D(tick), age_ms, reason)


def mirror(yes: QuoteBook, asset: str = NO) -> QuoteBook:
    """The NO book the venue serves beside a YES book: its asks at 1 - p are NO bids, its bids NO asks."""
    one = D(1)
    bids, asks = tuple((one - p, s) for p, s in yes.asks), tuple((one - p, s) for p, s in yes.bids)
    return QuoteBook(asset, yes.state, bids, asks, yes.tick_size, yes.age_ms, yes.reason)


def pair(bids: Iterable[tuple[str | Decimal, str | Decimal]], asks: Iterable[tuple[str | Decimal, str | Decimal]],
         **kw: Any) -> dict[str, QuoteBook]:
    """Both tokens' books from the YES book's levels."""
    yes = book(YES, bids, asks, **kw)
    return {YES: yes, NO: mirror(yes)}


def market(tick: str = "0.01", **kw: Any) -> QuoteMarket:
    return QuoteMarket(CID, YES, NO, D(tick), **kw)


def ours(yes: str | int = 0, no: str | int = 0, *, version: int = 0, orders: Iterable[OurOrder] = (),
         notional: str | int = 0, kill: bool = False, halted: bool = False) -> OurState:
    return OurState({YES: D(yes), NO: D(no)}, tuple(orders), version, D(notional), kill, halted)


def _wire_book(raw: dict[str, Any], asset: str, tick: str) -> QuoteBook:
    return book(asset, [(lv["price"], lv["size"]) for lv in raw["bids"]],
                [(lv["price"], lv["size"]) for lv in raw["asks"]], tick=tick)


# name → (file, line or None, tick): the recorded books a market can be built from
RECORDED = {
    "2025-12": ("ws_market/frames_2025-12_initial_dump_price_change_post_trade_book.jsonl", 0, "0.01"),
    "2026-04": ("ws_market/book_initial_dump_array_2026-04.json", None, "0.01"),
    "2025-10": ("rest_clob/book_2025-10_polypy_a.json", None, "0.01"),
    "2024-12": ("rest_clob/book_2024-12_polypy_a.json", None, "0.001"),
    "2024-09": ("ws_market/book_2024-09_nautilus.json", None, "0.001"),
}


def recorded(name: str) -> tuple[str, dict[str, QuoteBook]]:
    """(tick, books keyed YES/NO) of a recorded book: a recorded pair as it is, a single book and its mirror."""
    path, line, tick = RECORDED[name]
    text = (FIXTURES / path).read_text()
    raw = json.loads(text.splitlines()[line] if line is not None else text)
    if isinstance(raw, list):
        return tick, {YES: _wire_book(raw[0], YES, tick), NO: _wire_book(raw[1], NO, tick)}
    yes = _wire_book(raw, YES, tick)
    return tick, {YES: yes, NO: mirror(yes)}
