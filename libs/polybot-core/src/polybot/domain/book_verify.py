"""Verifying the venue's orderbook hash against our book, including the ``last_trade_price`` subtlety.

The venue hashes the compact JSON of the whole book (layouts F5b/F6/F9/F10, see ``book_hash``). Three
inputs of that hash are not in the message being checked, so they are searched over a short candidate list:

- **Layout.** Unknown until the first hash that verifies; then fixed for the asset (old recordings are
  F5b/F6/F9, production is F10).
- **Timestamp.** The message timestamp; for v0/v1-era deltas the book's own timestamp was 0–14 ms
  earlier, so that window is tried too.
- **last_trade_price (F10 only).** The server uses the price of the trade behind the change, which can be
  ahead of anything the client has seen. Candidates, in order: the ltp the message itself carries, the last
  known one, the trade price the delta implies (a level that shrank traded at its price; the venue quotes it
  in either token's terms, so ``p`` and ``1 − p``, 3 decimals), the few previous ltps, and ``""``.
  When none fits, the check is kept **pending** for ``ltp_window_ms``: a ``last_trade_price`` arriving in
  that window may still explain it; a later hash of the same asset that verifies supersedes it (the book is
  proven right again). Only an expired pending check is a mismatch.

Metadata (min_order_size, tick_size, neg_risk) must be the venue's strings: ``venue_number`` formats a
Decimal from a database the way the venue does (``5``, ``0.01``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Literal, NamedTuple

from polybot.domain.book import json_str
from polybot.domain.book_hash import ALL_LAYOUTS, HashLayout

_ONE = Decimal(1)
_MILLI = Decimal("0.001")
V1_TS_OFFSETS_MS: tuple[int, ...] = tuple(range(15))


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


def _sha1(text: str) -> str:
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
                        if _sha1(base + json_str(ltp) + "}") == expected:
                            return HashMatch(layout, ltp, off)
                elif _sha1(self._core(layout, self._ts(off)) + "}") == expected:
                    return HashMatch(layout, None, off)
        return None


CheckKind = Literal["book", "delta"]


@dataclass(frozen=True, slots=True)
class PendingCheck:
    """A hash that no known ltp explains yet; kept until ``deadline_ms``."""

    kind: CheckKind
    seq: int
    ts_ms: int
    expected: str
    bases: tuple[tuple[int, str], ...]  # (ts offset, F10 base payload)
    deadline_ms: int

    def try_ltps(self, ltps: Sequence[str]) -> HashMatch | None:
        for off, base in self.bases:
            for ltp in ltps:
                if _sha1(base + json_str(ltp) + "}") == self.expected:
                    return HashMatch(HashLayout.F10, ltp, off)
        return None


VerifyResult = HashMatch | PendingCheck | None  # None = definite mismatch


class HashVerifier:
    """Per-asset hash checking: layout detection, ltp candidates and pending checks."""

    __slots__ = ("_history", "_matches", "layout", "layouts", "ltp", "ltp_window_ms", "max_pending", "pending")

    def __init__(self, layouts: Sequence[HashLayout] = ALL_LAYOUTS, ltp_window_ms: int = 2000,
                 max_pending: int = 64) -> None:
        self.layouts = tuple(layouts)
        self.layout: HashLayout | None = None
        self.ltp: str | None = None
        self._history: list[str] = []  # recent distinct ltps, newest first
        self.ltp_window_ms = ltp_window_ms
        self.max_pending = max_pending
        self.pending: list[PendingCheck] = []
        self._matches: dict[tuple[HashLayout, str | None], HashMatch] = {}

    def note_ltp(self, ltp: str) -> None:
        """Remember an ltp the venue used or sent (newest first, a few kept)."""
        self.ltp = ltp
        if ltp in self._history:
            self._history.remove(ltp)
        self._history.insert(0, ltp)
        del self._history[4:]

    def _candidates(self, own: str | None, implied: Iterable[str]) -> list[str]:
        seen: dict[str, None] = {}
        if own is not None:
            seen[own] = None
        if self.ltp is not None:
            seen[self.ltp] = None
        for text in implied:
            seen[text] = None
        for text in self._history:
            seen[text] = None
        seen[""] = None
        return list(seen)

    def verify(self, subject: HashSubject, expected: str, *, kind: CheckKind, seq: int, ts_ms: int, now_ms: int,
               ts_offsets: Sequence[int] = (0,), own_ltp: str | None = None,
               trade_prices: Iterable[Decimal] = (), tried_ltp: str | None = None) -> VerifyResult:
        """Check ``expected`` against ``subject``; a match fixes the layout and the ltp.

        ``trade_prices``: prices the change may have traded at (its levels, the venue's best prices); only
        turned into ltp candidates when the likely inputs fail. ``tried_ltp``: an ltp the caller already
        hashed (F10, no timestamp offset) without a match (``quick_f10``); it is not hashed again.
        """
        layout = self.layout
        missed: set[str] = set()  # F10 ltps already hashed at offset 0 without a match
        if tried_ltp is not None:
            missed.add(tried_ltp)
        if layout is HashLayout.F10:  # the hot path: known layout, the ltp the venue used last time
            ltp = own_ltp if own_ltp is not None else self.ltp
            if ltp is not None and ltp not in missed:
                if _sha1(subject.f10_base() + json_str(ltp) + "}") == expected:
                    if ltp != self.ltp:
                        self.note_ltp(ltp)
                    return self._match(layout, ltp)
                missed.add(ltp)
        elif layout is not None and _sha1(subject.payload(layout)) == expected:
            return self._match(layout, None)
        layouts = (layout,) if layout is not None else self.layouts
        implied = implied_ltps(trade_prices)
        if own_ltp is not None:
            ltps = [own_ltp]  # a message that carries its ltp is hashed with exactly that one
            ltps.extend(c for c in self._candidates(None, implied) if c != own_ltp)
        else:
            ltps = self._candidates(None, implied)
        if missed and layouts == (HashLayout.F10,) and tuple(ts_offsets) == (0,):
            ltps = [c for c in ltps if c not in missed]  # each candidate is hashed once
        match = subject.find(expected, layouts, ts_offsets, ltps)
        if match is not None:
            self.layout = match.layout
            if match.ltp is not None:
                self.note_ltp(match.ltp)
            return match
        if HashLayout.F10 not in layouts or len(self.pending) >= self.max_pending:
            return None
        check = PendingCheck(kind, seq, ts_ms, expected,
                             tuple((off, subject.f10_base(off)) for off in ts_offsets),
                             now_ms + self.ltp_window_ms)
        self.pending.append(check)
        return check

    def quick_f10(self, head: str, timestamp: str, levels: tuple[bytes, bytes], meta: MarketMeta,
                  expected: str) -> HashMatch | None:
        """The hot path of a v2 delta once the layout is known to be F10: one hash with the venue's last ltp,
        fed piecewise (the book's sides are cached as bytes), no candidate search. ``None`` is not a
        mismatch: call ``verify``, which searches."""
        ltp = self.ltp
        if self.layout is not HashLayout.F10 or ltp is None:
            return None
        digest = hashlib.sha1((head + ',"timestamp":' + json_str(timestamp) + ',"hash":"","bids":[').encode())
        digest.update(levels[0])
        digest.update(b'],"asks":[')
        digest.update(levels[1])
        digest.update(("]" + meta.hash_json + ',"last_trade_price":' + json_str(ltp) + "}").encode())
        return self._match(HashLayout.F10, ltp) if digest.hexdigest() == expected else None

    def _match(self, layout: HashLayout, ltp: str | None) -> HashMatch:
        key = (layout, ltp)
        match = self._matches.get(key)
        if match is None:
            if len(self._matches) > 64:
                self._matches.clear()
            match = self._matches[key] = HashMatch(layout, ltp, 0)
        return match

    def on_last_trade(self, price: Decimal, raw_price: str) -> list[tuple[PendingCheck, HashMatch]]:
        """Record a ``last_trade_price`` and return the pending checks it explains (removed)."""
        texts = list(dict.fromkeys((ltp_text(price), raw_price)))
        self.note_ltp(texts[0])
        solved: list[tuple[PendingCheck, HashMatch]] = []
        for check in list(self.pending):
            match = check.try_ltps(texts)
            if match is not None:
                self.pending.remove(check)
                self.layout = HashLayout.F10
                solved.append((check, match))
        return solved

    def take_pending(self) -> list[PendingCheck]:
        """Drop and return every pending check (superseded by a verified hash or a new book)."""
        out, self.pending = self.pending, []
        return out

    def expire(self, now_ms: int) -> list[PendingCheck]:
        """Drop and return pending checks whose window has passed."""
        if not self.pending or all(c.deadline_ms >= now_ms for c in self.pending):
            return []
        out = [c for c in self.pending if c.deadline_ms < now_ms]
        self.pending = [c for c in self.pending if c.deadline_ms >= now_ms]
        return out


def parse_decimal(text: str) -> Decimal | None:
    """``Decimal(text)``, or ``None`` for blank/garbage text."""
    try:
        return Decimal(text) if text else None
    except InvalidOperation:
        return None
