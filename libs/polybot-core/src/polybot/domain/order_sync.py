"""Reconciliation with the venue: its open orders are the truth; our record is corrected to match.

Given what we think rests (``ours``: order id → remaining size and whether its fate is unknown) and what
the venue says rests (``venue``: order id → size matched so far), ``compare`` says:

* ``confirmed`` — unknown orders the venue has: they rest (their deferred cancels may go now);
* ``orphans`` — orders resting at the venue that we have no record of (a crash between sign and record,
  another process on the same key): cancelled, never adopted, since no target asked for them;
* ``absent`` — orders we think rest that the venue does not have (filled or cancelled meanwhile: the
  trades tell which), dropped from the record;
* ``matched`` — orders whose matched size the venue reports above ours (a fill we have not seen yet).

Pure; a brand-new unknown order may legitimately be missing from a listing taken before it arrived, so
unknown orders younger than ``grace_ms`` are never declared absent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Ours:
    size_matched: Decimal
    unknown: bool
    placed_ms: int


@dataclass(frozen=True, slots=True)
class SyncResult:
    confirmed: tuple[str, ...]
    orphans: tuple[str, ...]
    absent: tuple[str, ...]
    matched: tuple[tuple[str, Decimal], ...]

    @property
    def clean(self) -> bool:
        return not (self.orphans or self.absent or self.matched)


def compare(ours: Mapping[str, Ours], venue: Mapping[str, Decimal], now_ms: int, *,
            grace_ms: int = 5_000) -> SyncResult:
    confirmed = tuple(sorted(oid for oid, o in ours.items() if o.unknown and oid in venue))
    orphans = tuple(sorted(oid for oid in venue if oid not in ours))
    absent = tuple(sorted(oid for oid, o in ours.items()
                          if oid not in venue and not (o.unknown and now_ms - o.placed_ms < grace_ms)))
    matched = tuple(sorted((oid, venue[oid]) for oid, o in ours.items()
                           if oid in venue and venue[oid] > o.size_matched))
    return SyncResult(confirmed, orphans, absent, matched)
