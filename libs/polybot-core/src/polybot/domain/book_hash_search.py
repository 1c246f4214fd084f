"""What the venue hashes, and the search over the inputs of that hash which no message carries. Pure.

``HashSubject`` is one book ready to be hashed in any layout (``book_hash`` is the reference spelling; this
one is assembled from cached JSON fragments because it runs per delta). Its ``MarketMeta`` must hold the
venue's strings: ``venue_number`` formats a Decimal from a database as the venue does (``5``, ``0.01``).
Three inputs are searched:

- the **layout** (F5b/F6/F9/F10): ``HashSubject.find`` over a list of layouts;
- the **timestamp** offset (v0/v1 deltas: the book's own timestamp was 0–14 ms before the message's);
- the **last_trade_price** (F10): a short candidate list first; when that fails and it is worth it, every
  price of the market's tick grid (``tick_grid``, ``search_tails``). The grid exists because the venue
  hashes ltps the stream announces late or never (2026-09 recordings). It is cheap because the payload up
  to the ltp is fed to SHA-1 once and its state copied per candidate: ~0.3 µs a price, so a 0.001 tick
  (999 prices) costs ~0.3 ms and a 0.01 tick ~30 µs, whatever the size of the book.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Literal, NamedTuple

from polybot.domain.book import json_str
from polybot.domain.book_hash import HashLayout

_ONE = Decimal(1)
_MILLI = Decimal("0.001")
V1_TS_OFFSETS_MS: tuple[int, ...] = tuple(range(15))
MAX_GRID_PRICES = 10_000  # a 0.0001 tick; anything finer is not a venue tick
# Hashes one grid search may spend (~6 ms): a 0.0001 tick at one timestamp offset, a 0.001 tick at all 15
# v1 offsets. A finer search stops at the offsets that fit (offset 0 first: today's deltas have no other).
MAX_GRID_HASHES = 20_000


def venue_number(value: Decimal | int | str) -> str:
    """Format a number as the venue writes it: no exponent, no trailing zeros (``5``, ``0.01``)."""
    if isinstance(value, str):
        return value
    text = format(Decimal(value).normalize(), "f")
    return text


@dataclass(frozen=True, slots=True)
class MarketMeta:
    """Order parameters the hash includes but websocket books omit, as the venue's strings."""

    tick_size: str = "0.01"
    min_order_size: str = "5"
    neg_risk: bool = False
    # The metadata part of an F9/F10 payload, computed once: it is hashed with every verified message.
    hash_json: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "hash_json", (
            ',"min_order_size":' + json_str(self.min_order_size) + ',"tick_size":' + json_str(self.tick_size)
            + ',"neg_risk":' + ("true" if self.neg_risk else "false")))

    @classmethod
    def of(cls, tick_size: Decimal | str, min_order_size: Decimal | str, neg_risk: bool) -> MarketMeta:
        """Build from Decimals (e.g. gamma tables) or venue strings."""
        return cls(venue_number(tick_size), venue_number(min_order_size), bool(neg_risk))


def ltp_text(price: Decimal) -> str:
    """A trade price as the venue writes ``last_trade_price``: 3 decimals unless finer."""
    q = price.quantize(_MILLI) if price == price.quantize(_MILLI) else price
    return format(q, "f")


def implied_ltps(prices: Iterable[Decimal]) -> list[str]:
    """Trade prices a change at ``prices`` may imply, in both tokens' terms."""
    out: list[str] = []
    for p in prices:
        if _ONE > p > 0:
            out.extend((ltp_text(p), ltp_text(_ONE - p)))
    return out


@dataclass(frozen=True, slots=True)
class HashMatch:
    layout: HashLayout
    ltp: str | None
    ts_offset_ms: int


def sha1_hex(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def hash_head(market: str, asset_id: str) -> str:
    """The constant start of every payload of one asset."""
    return '{"market":' + json_str(market) + ',"asset_id":' + json_str(asset_id)


class HashSubject(NamedTuple):
    """What is hashed, minus the candidate inputs: identity, timestamp text, levels and metadata.

    (A ``NamedTuple`` because one is built per verified message: the cheapest immutable value.)
    """

    market: str
    asset_id: str
    timestamp: str
    levels_json: str  # from ``L2Book.levels_json()``
    meta: MarketMeta
    head: str = ""  # ``hash_head(market, asset_id)``, precomputed by a caller that hashes often

    def f10_base(self, ts_offset_ms: int = 0) -> str:
        """The F10 payload up to the ltp value: append ``json_str(ltp) + "}"`` to finish it."""
        return "".join((self.head or hash_head(self.market, self.asset_id), ',"timestamp":',
                        json_str(self._ts(ts_offset_ms)), ',"hash":"",', self.levels_json, self.meta.hash_json,
                        ',"last_trade_price":'))

    def _ts(self, offset: int) -> str:
        return self.timestamp if offset == 0 else str(int(self.timestamp) - offset)

    def _core(self, layout: HashLayout, ts: str) -> str:
        parts = [self.head or hash_head(self.market, self.asset_id)]
        if layout is not HashLayout.F5B:
            parts += (',"timestamp":', json_str(ts))
        parts += (',"hash":"",', self.levels_json)
        if layout in (HashLayout.F9, HashLayout.F10):
            parts.append(self.meta.hash_json)
        return "".join(parts)

    def payload(self, layout: HashLayout, ts_offset_ms: int = 0, ltp: str = "") -> str:
        """The exact text the venue hashes (equal to ``book_hash.canonical_payload``)."""
        if layout is HashLayout.F10:
            return self.f10_base(ts_offset_ms) + json_str(ltp) + "}"
        return self._core(layout, self._ts(ts_offset_ms)) + "}"

    def find(self, expected: str, layouts: Sequence[HashLayout], ts_offsets: Sequence[int],
             ltps: Sequence[str]) -> HashMatch | None:
        """The first (layout, offset, ltp) whose hash equals ``expected``."""
        for layout in layouts:
            offsets = (0,) if layout is HashLayout.F5B else ts_offsets
            for off in offsets:
                if layout is HashLayout.F10:
                    base = self.f10_base(off)
                    for ltp in ltps:
                        if sha1_hex(base + json_str(ltp) + "}") == expected:
                            return HashMatch(layout, ltp, off)
                elif sha1_hex(self._core(layout, self._ts(off)) + "}") == expected:
                    return HashMatch(layout, None, off)
        return None


GridTail = tuple[str, bytes]  # (ltp text, what follows the F10 base for it)


@lru_cache(maxsize=32)
def tick_grid(tick_size: str) -> tuple[GridTail, ...]:
    """Every price tick … 1 − tick of the grid, as ``ltp_text`` writes it, with its payload tail.

    Empty for a tick that is not a price (blank, ≤ 0, ≥ 1) or finer than ``MAX_GRID_PRICES`` allows."""
    try:
        tick = Decimal(tick_size)
    except InvalidOperation:
        return ()
    if not _ONE > tick > 0 or _ONE / tick > MAX_GRID_PRICES + 1:
        return ()
    out: list[GridTail] = []
    price = tick
    while price < _ONE:
        text = ltp_text(price)
        out.append((text, (json_str(text) + "}").encode()))
        price += tick
    return tuple(out)


def search_tails(base: str, expected: str, tails: Iterable[GridTail]) -> str | None:
    """The ltp of the first tail with ``sha1(base + tail) == expected``; the base is hashed once."""
    try:
        want = bytes.fromhex(expected)
    except ValueError:  # not a digest at all: nothing can match it
        return None
    start = hashlib.sha1(base.encode("utf-8"))
    for text, tail in tails:
        h = start.copy()
        h.update(tail)
        if h.digest() == want:
            return text
    return None


CheckKind = Literal["book", "delta"]


@dataclass(frozen=True, slots=True)
class PendingCheck:
    """A hash that no known ltp explains yet; kept until ``deadline_ms``. ``subject`` (what was hashed)
    gives the tick grid to search before the check is declared a mismatch."""

    kind: CheckKind
    seq: int
    ts_ms: int
    expected: str
    bases: tuple[tuple[int, str], ...]  # (ts offset, F10 base payload)
    deadline_ms: int
    subject: HashSubject | None = None

    def try_ltps(self, ltps: Sequence[str]) -> HashMatch | None:
        for off, base in self.bases:
            for ltp in ltps:
                if sha1_hex(base + json_str(ltp) + "}") == self.expected:
                    return HashMatch(HashLayout.F10, ltp, off)
        return None

    def try_grid(self) -> HashMatch | None:
        """Every price of the market's tick grid as the ltp (rare: only for checks nothing else explains)."""
        grid = tick_grid(self.subject.meta.tick_size) if self.subject is not None else ()
        budget = MAX_GRID_HASHES
        for off, base in self.bases if grid else ():
            budget -= len(grid)
            if budget < 0:
                break
            ltp = search_tails(base, self.expected, grid)
            if ltp is not None:
                return HashMatch(HashLayout.F10, ltp, off)
        return None


def grid_match(subject: HashSubject, expected: str, ts_offsets: Sequence[int]) -> HashMatch | None:
    """``expected`` as the F10 hash of ``subject`` with some price of its tick grid as the ltp."""
    bases = tuple((off, subject.f10_base(off)) for off in ts_offsets)
    return PendingCheck("delta", 0, 0, expected, bases, 0, subject).try_grid()


def rescue(check: PendingCheck, ltps: Sequence[str], grid: bool) -> tuple[HashMatch | None, bool]:
    """What may still explain a pending check: ``ltps`` (learnt since it was made), then the tick grid.
    (The other layouts were searched with the same subject when the check was made.) Returns the match and
    whether only the grid found it."""
    match = check.try_ltps(ltps)
    if match is not None or not grid:
        return match, False
    match = check.try_grid()
    return match, match is not None
