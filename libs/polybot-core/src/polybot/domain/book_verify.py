"""Verifying the venue's orderbook hash against our book: layout, timestamp and ``last_trade_price``.

The venue hashes the compact JSON of the whole book (layouts F5b/F6/F9/F10, see ``book_hash``). Three
inputs of that hash are not in the message being checked; ``book_hash_search`` searches them:

- **Layout.** Unknown until the first hash that verifies; then pinned, so the hot path hashes once. The
  venue has changed it four times, so a pin is not forever: when the pinned layout fails, the other
  layouts are searched before anything else is decided (only then: the hot path is unchanged), and a match
  re-pins (``layout_changes``, ``last_layout_change``). Expiry searches again (below) and re-pins too.
- **Timestamp.** The message timestamp; for v0/v1-era deltas the book's own timestamp was 0–14 ms
  earlier, so that window is tried too.
- **last_trade_price (F10 only).** The server uses the price of the trade behind the change, which can be
  ahead of anything the client has seen. Candidates, in order: the ltp the message itself carries, the last
  known one, the trade price the delta implies (a level that shrank traded at its price; the venue quotes it
  in either token's terms, so ``p`` and ``1 − p``, 3 decimals), the few previous ltps, and ``""``.

When none fits, the check is kept **pending** for ``ltp_window_ms``, because of three habits of today's
venue (2026-09 recordings):

- frames sharing a timestamp all carry the hash of the book after the *last* of them, so an earlier one
  cannot verify yet: a later hash of the asset that verifies supersedes it (the caller's ``take_pending``,
  and this class when a later check is explained here: such checks go to ``settled``);
- the ltp runs ahead: a ``last_trade_price`` arriving in the window explains the check, in either token's
  terms (``p`` or ``1 − p``: the hash of one token may carry the complement of the other token's trade);
- the ltp may be a price no frame ever shows: the tick grid is searched once a pending check's timestamp is
  over (the next unexplained hash of a later timestamp), and at expiry, with the ltps learnt since.

Only a check that still fails at expiry is a mismatch. Old layouts (pinned F5b/F6/F9) have no ltp to wait
for: a hash that no layout explains is a mismatch at once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from decimal import Decimal

from polybot.domain.book import json_str
from polybot.domain.book_hash import ALL_LAYOUTS, HashLayout
from polybot.domain.book_hash_search import (
    V1_TS_OFFSETS_MS,
    CheckKind,
    HashMatch,
    HashSubject,
    MarketMeta,
    PendingCheck,
    grid_match,
    hash_head,
    implied_ltps,
    ltp_text,
    rescue,
    sha1_hex,
    venue_number,
)

__all__ = [
    "V1_TS_OFFSETS_MS", "CheckKind", "HashMatch", "HashSubject", "HashVerifier", "MarketMeta", "PendingCheck",
    "VerifyResult", "hash_head", "implied_ltps", "ltp_text", "venue_number",
]

_ONE = Decimal(1)
_MAX_RESCUES = 4  # grid searches one ``expire`` call may run: past that the book has diverged anyway


VerifyResult = HashMatch | PendingCheck | None  # None = definite mismatch
Settled = tuple[PendingCheck, HashMatch | None]  # (check, what explained it; None = superseded by a later one)


class HashVerifier:
    """Per-asset hash checking: layout detection and re-detection, ltp candidates and pending checks.

    ``layout_changes`` counts re-pins after the first detection, ``last_layout_change`` is the latest
    ``(old, new)``; ``grid_matches`` counts checks only the tick grid explained. ``settled`` holds checks
    this class removed from ``pending`` by itself (explained at expiry or superseded by a later explained
    check), newest last, at most ``max_pending``: ``take_settled`` hands them to a caller that reports them.
    """

    __slots__ = ("_history", "_matches", "_searched", "grid", "grid_matches", "last_layout_change", "layout",
                 "layout_changes", "layouts", "ltp", "ltp_window_ms", "max_pending", "pending", "settled")

    def __init__(self, layouts: Sequence[HashLayout] = ALL_LAYOUTS, ltp_window_ms: int = 2000,
                 max_pending: int = 64, *, grid: bool = True) -> None:
        """``grid``: search the tick grid for ltps the stream never showed (off: the 2026-05 behaviour)."""
        self.layouts = tuple(layouts)
        self.layout: HashLayout | None = None
        self.ltp: str | None = None
        self._history: list[str] = []  # recent distinct ltps, newest first
        self.ltp_window_ms = ltp_window_ms
        self.max_pending = max_pending
        self.pending: list[PendingCheck] = []
        self._matches: dict[tuple[HashLayout, str | None], HashMatch] = {}
        self.grid = grid
        self._searched = False  # the grid already ran for the current run of pending checks
        self.layout_changes = 0
        self.last_layout_change: tuple[HashLayout, HashLayout] | None = None
        self.grid_matches = 0
        self.settled: list[Settled] = []

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
        """Check ``expected`` against ``subject``; a match pins the layout and the ltp.

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
                if sha1_hex(subject.f10_base() + json_str(ltp) + "}") == expected:
                    if ltp != self.ltp:
                        self.note_ltp(ltp)
                    return self._match(layout, ltp)
                missed.add(ltp)
        elif layout is not None and sha1_hex(subject.payload(layout)) == expected:
            return self._match(layout, None)
        implied = implied_ltps(trade_prices)
        if own_ltp is not None:
            ltps = [own_ltp]  # a message that carries its ltp is hashed with exactly that one
            ltps.extend(c for c in self._candidates(None, implied) if c != own_ltp)
        else:
            ltps = self._candidates(None, implied)
        layouts = (layout,) if layout is not None else self.layouts
        fresh = ltps
        if missed and layouts == (HashLayout.F10,) and tuple(ts_offsets) == (0,):
            fresh = [c for c in ltps if c not in missed]  # each candidate is hashed once
        match = subject.find(expected, layouts, ts_offsets, fresh)
        if match is None and layout is not None:
            match = self._redetect(subject, expected, layout, ts_offsets, ltps)
        if match is None and self._may_wait():
            match = self._learn_from_pending(subject, expected, ts_ms, ts_offsets)
        if match is not None:
            return self._found(match)
        if not self._may_wait() or len(self.pending) >= self.max_pending:
            return None
        if not self.pending:
            self._searched = False
        check = PendingCheck(kind, seq, ts_ms, expected, tuple((off, subject.f10_base(off)) for off in ts_offsets),
                             now_ms + self.ltp_window_ms, subject)
        self.pending.append(check)
        return check

    def _may_wait(self) -> bool:
        """Whether an unexplained hash may still be F10 with an ltp to come (else it is final at once)."""
        return self.layout is HashLayout.F10 or (self.layout is None and HashLayout.F10 in self.layouts)

    def _redetect(self, subject: HashSubject, expected: str, pinned: HashLayout, ts_offsets: Sequence[int],
                  ltps: Sequence[str]) -> HashMatch | None:
        """The pinned layout failed: the venue may have changed its layout. Only runs on a failure."""
        others = tuple(lay for lay in self.layouts if lay is not pinned)
        match = subject.find(expected, others, ts_offsets, ltps)
        if match is None and self.grid and pinned is not HashLayout.F10 and HashLayout.F10 in others:
            # An old layout fails at once, so this is the only chance to see a switch to F10 whose ltp the
            # stream has not shown.
            match = grid_match(subject, expected, ts_offsets)
            if match is not None:
                self.grid_matches += 1
        return match

    def _learn_from_pending(self, subject: HashSubject, expected: str, ts_ms: int,
                            ts_offsets: Sequence[int]) -> HashMatch | None:
        """Search the grid for the newest pending check once its timestamp is over (frames sharing a
        timestamp cannot verify before the last of them: a grid search then would be wasted); what it
        learns is tried on this hash. Once per run of pending checks: a book that has diverged would
        otherwise pay a grid search per message until expiry."""
        if not self.grid or self._searched or not self.pending or self.pending[-1].ts_ms >= ts_ms:
            return None
        self._searched = True
        last = self.pending[-1]
        found = self._rescue(last)
        if found is None:
            return None
        self.pending.pop()
        self._settle(last, found)
        self._supersede_older_than(len(self.pending))
        self._found(found)
        if found.layout is HashLayout.F10 and found.ltp is not None:
            return subject.find(expected, (HashLayout.F10,), ts_offsets, [found.ltp])
        return None

    def _rescue(self, check: PendingCheck) -> HashMatch | None:
        match, by_grid = rescue(check, self._candidates(None, ()), self.grid)
        self.grid_matches += by_grid
        return match

    def _found(self, match: HashMatch) -> HashMatch:
        self._pin(match.layout)
        if match.ltp is not None:
            self.note_ltp(match.ltp)
        return match

    def _pin(self, layout: HashLayout) -> None:
        old = self.layout
        if old is not layout:
            if old is not None:
                self.layout_changes += 1
                self.last_layout_change = (old, layout)
            self.layout = layout

    def _settle(self, check: PendingCheck, match: HashMatch | None) -> None:
        self.settled.append((check, match))
        del self.settled[:-self.max_pending]

    def _supersede_older_than(self, index: int) -> None:
        """Pending checks before ``index`` are superseded: a later hash of the asset was explained."""
        for check in self.pending[:index]:
            self._settle(check, None)
        del self.pending[:index]

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
        """Record a ``last_trade_price`` and return the pending checks it explains (removed).

        Tried as ``p`` and as ``1 − p`` (the other token's trade seen from this one). Pending checks older
        than the newest explained one are removed too: those explained are returned, the others superseded
        (``settled``)."""
        texts = [ltp_text(price), raw_price]
        if _ONE > price > 0:
            texts.append(ltp_text(_ONE - price))
        texts = list(dict.fromkeys(texts))
        self.note_ltp(texts[0])
        found = [(i, c, m) for i, c in enumerate(self.pending) if (m := c.try_ltps(texts)) is not None]
        if not found:
            return []
        newest = found[-1][0]
        explained = {i for i, _, _ in found}
        for i, check in enumerate(self.pending[:newest]):
            if i not in explained:
                self._settle(check, None)
        del self.pending[:newest + 1]
        self._pin(HashLayout.F10)
        ltp = found[-1][2].ltp
        if ltp is not None:
            self.note_ltp(ltp)  # the venue hashes this asset with the newest explaining one
        return [(c, m) for _, c, m in found]

    def take_pending(self) -> list[PendingCheck]:
        """Drop and return every pending check (superseded by a verified hash or a new book)."""
        out, self.pending = self.pending, []
        return out

    def take_settled(self) -> list[Settled]:
        """Drop and return the checks this class settled itself (see the class docstring)."""
        out, self.settled = self.settled, []
        return out

    def expire(self, now_ms: int) -> list[PendingCheck]:
        """Drop pending checks whose window has passed; return those nothing explains (the mismatches).

        Each is searched once more, newest first, with the ltps learnt since and the tick grid (the other
        layouts were searched when it was made): one explained re-pins what it found and supersedes the
        older ones (``settled``). At most ``_MAX_RESCUES`` searches a call; frames of one timestamp share a
        hash, so a hash searched in vain is not searched again."""
        if not self.pending or all(c.deadline_ms >= now_ms for c in self.pending):
            return []
        due = [c for c in self.pending if c.deadline_ms < now_ms]
        self.pending = [c for c in self.pending if c.deadline_ms >= now_ms]
        failed: set[str] = set()  # expected hashes already searched in vain (frames sharing a timestamp)
        budget = _MAX_RESCUES
        for i in range(len(due) - 1, -1, -1):
            check = due[i]
            if check.expected in failed or budget == 0:
                continue
            budget -= 1
            match = self._rescue(check)
            if match is None:
                failed.add(check.expected)
                continue
            self._found(match)
            for older in due[:i]:
                self._settle(older, None)
            self._settle(check, match)
            return due[i + 1:]
        return due
