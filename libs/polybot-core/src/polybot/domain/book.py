"""The L2 order book of one asset, keeping the venue's exact strings for hashing.

Levels are keyed by ``Decimal`` price, so ``"0.5"`` and ``"0.50"`` are the same level, but each level
remembers the price and size *strings* the venue last sent for it: the venue's hash is computed over those
strings (see ``polybot.domain.book_hash``), in wire order — bids ascending, asks descending, best last.

Updates carry the new *absolute* size of a level; size ``0`` removes it. Best bid is the highest bid and
best ask the lowest ask, found from the sorted keys, never from a position in a message.
"""

from __future__ import annotations

import json
from bisect import bisect_left
from collections.abc import Iterable
from decimal import Decimal
from typing import Literal, NamedTuple

Side = Literal["BUY", "SELL"]  # BUY = bids, SELL = asks (the venue's names for the two sides)

_ZERO = Decimal(0)


class Level(NamedTuple):
    """One price level: parsed values plus the venue's strings (what the hash is computed over).

    An immutable ``NamedTuple``: books are rebuilt from hundreds of these per snapshot, and a tuple is
    several times cheaper to create than a frozen dataclass.
    """

    price: Decimal
    size: Decimal
    raw_price: str
    raw_size: str

    @classmethod
    def of(cls, raw_price: str, raw_size: str) -> Level:
        """Build a level from the venue's strings."""
        return cls(Decimal(raw_price), Decimal(raw_size), raw_price, raw_size)


class LevelChange(NamedTuple):
    """The new absolute size of one level on one side; ``size == 0`` removes the level."""

    side: Side
    price: Decimal
    size: Decimal
    raw_price: str
    raw_size: str

    @classmethod
    def of(cls, side: Side, raw_price: str, raw_size: str) -> LevelChange:
        return cls(side, Decimal(raw_price), Decimal(raw_size), raw_price, raw_size)


def json_str(text: str) -> str:
    """``text`` as a JSON string literal, exactly as ``json.dumps(..., ensure_ascii=False)`` writes it."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    return json.dumps(text, ensure_ascii=False)


def _fragment(raw_price: str, raw_size: str) -> str:
    both = raw_price + raw_size  # one check for the two: the venue's numbers never need escaping
    if both.isascii() and both.isprintable() and '"' not in both and "\\" not in both:
        return '{"price":"' + raw_price + '","size":"' + raw_size + '"}'
    return '{"price":' + json_str(raw_price) + ',"size":' + json_str(raw_size) + "}"


class _BookSide:
    """One side: ascending Decimal keys, the levels' JSON fragments aligned with them (so the hash payload
    is one ``join``), per key (raw price, raw size, size, fragment) and its (price, size) pair, and the joined
    text and the pairs best first cached until the side changes.

    The pair of a level is made once, when the level changes, and shared by every ``pairs_best_first`` after:
    a consumer that reads the whole side after each change (the quoter, paper matching) then makes one tuple,
    not one per level. Those per-level tuples, replaced as fast as they were made, never moved the collector's
    allocation count, yet all sat in its youngest generation: each young collection walked ≈ 20,000 of them,
    3-6 ms at a time, in the quoter's hot loop (``bench/quote.py``, measured)."""

    __slots__ = ("_asc", "_asc_b", "_best_first", "_desc", "_desc_b", "_frags", "_keys", "_levels", "_pairs",
                 "_reverse")

    def __init__(self) -> None:
        self._keys: list[Decimal] = []  # ascending
        self._frags: list[str] = []  # aligned with _keys
        self._levels: dict[Decimal, tuple[str, str, Decimal, str]] = {}
        self._asc: str | None = None
        self._desc: str | None = None
        self._asc_b: bytes | None = None
        self._desc_b: bytes | None = None
        self._pairs: dict[Decimal, tuple[Decimal, Decimal]] = {}
        self._best_first: tuple[tuple[Decimal, Decimal], ...] | None = None
        self._reverse = False  # set by L2Book: bids are best first in descending order

    def set(self, price: Decimal, size: Decimal, raw_price: str, raw_size: str) -> None:
        keys = self._keys
        i = bisect_left(keys, price)
        present = i < len(keys) and keys[i] == price
        self._asc = self._desc = self._asc_b = self._desc_b = self._best_first = None
        if size == _ZERO:
            if present:
                del keys[i]
                del self._frags[i]
                del self._levels[price]
                del self._pairs[price]
            return
        frag = _fragment(raw_price, raw_size)
        if present:
            self._frags[i] = frag
        else:
            keys.insert(i, price)
            self._frags.insert(i, frag)
        self._levels[price] = (raw_price, raw_size, size, frag)
        self._pairs[price] = (price, size)

    def clear(self) -> None:
        self._keys.clear()
        self._frags.clear()
        self._levels.clear()
        self._pairs.clear()
        self._asc = self._desc = self._asc_b = self._desc_b = self._best_first = None

    def __len__(self) -> int:
        return len(self._keys)

    def level(self, price: Decimal) -> Level:
        raw_price, raw_size, size, _ = self._levels[price]
        return Level(price, size, raw_price, raw_size)

    def ascending(self) -> list[Level]:
        return [self.level(p) for p in self._keys]

    def fragments(self, ascending: bool) -> str:
        if ascending:
            if self._asc is None:
                self._asc = ",".join(self._frags)
            return self._asc
        if self._desc is None:
            self._desc = ",".join(reversed(self._frags))
        return self._desc

    def fragments_utf8(self, ascending: bool) -> bytes:
        """``fragments`` encoded, cached the same way (what the hash is fed)."""
        if ascending:
            if self._asc_b is None:
                self._asc_b = self.fragments(True).encode()
            return self._asc_b
        if self._desc_b is None:
            self._desc_b = self.fragments(False).encode()
        return self._desc_b

    def sizes(self) -> dict[Decimal, Decimal]:
        return {p: v[2] for p, v in self._levels.items()}

    def pairs_best_first(self) -> tuple[tuple[Decimal, Decimal], ...]:
        if self._best_first is None:
            keys = reversed(self._keys) if self._reverse else self._keys
            self._best_first = tuple(map(self._pairs.__getitem__, keys))
        return self._best_first

    def first_key(self) -> Decimal | None:
        return self._keys[0] if self._keys else None

    def last_key(self) -> Decimal | None:
        return self._keys[-1] if self._keys else None


class L2Book:
    """A mutable L2 book. Not thread-safe; owned by one ``BookSync``."""

    __slots__ = ("_asks", "_bids")

    def __init__(self, bids: Iterable[Level] = (), asks: Iterable[Level] = ()) -> None:
        self._bids = _BookSide()
        self._bids._reverse = True
        self._asks = _BookSide()
        self.replace(bids, asks)

    def replace(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        """Replace both sides (levels in any order; a zero size is skipped)."""
        self._bids.clear()
        self._asks.clear()
        for lv in bids:
            self._bids.set(lv.price, lv.size, lv.raw_price, lv.raw_size)
        for lv in asks:
            self._asks.set(lv.price, lv.size, lv.raw_price, lv.raw_size)

    def apply(self, change: LevelChange) -> None:
        """Set one level to its new absolute size (0 removes it)."""
        side = self._bids if change.side == "BUY" else self._asks
        side.set(change.price, change.size, change.raw_price, change.raw_size)

    def copy(self) -> L2Book:
        return L2Book(self._bids.ascending(), self._asks.ascending())

    # --- queries ------------------------------------------------------------------------------------------
    @property
    def bid_levels(self) -> int:
        return len(self._bids)

    @property
    def ask_levels(self) -> int:
        return len(self._asks)

    def best_bid(self) -> Level | None:
        """The highest bid, or ``None`` for an empty side."""
        key = self._bids.last_key()
        return None if key is None else self._bids.level(key)

    def best_ask(self) -> Level | None:
        """The lowest ask, or ``None`` for an empty side."""
        key = self._asks.first_key()
        return None if key is None else self._asks.level(key)

    def best_bid_price(self) -> Decimal | None:
        return self._bids.last_key()

    def best_ask_price(self) -> Decimal | None:
        return self._asks.first_key()

    def bids_best_first(self) -> tuple[Level, ...]:
        return tuple(reversed(self._bids.ascending()))

    def asks_best_first(self) -> tuple[Level, ...]:
        return tuple(self._asks.ascending())

    def bid_pairs(self) -> tuple[tuple[Decimal, Decimal], ...]:
        """The bids as (price, size), best first: the same (immutable) tuple until the bids change."""
        return self._bids.pairs_best_first()

    def ask_pairs(self) -> tuple[tuple[Decimal, Decimal], ...]:
        """The asks as (price, size), best first; as ``bid_pairs``."""
        return self._asks.pairs_best_first()

    def wire_bids(self) -> list[tuple[str, str]]:
        """Bids as (price, size) venue strings in wire order: ascending."""
        return [(lv.raw_price, lv.raw_size) for lv in self._bids.ascending()]

    def wire_asks(self) -> list[tuple[str, str]]:
        """Asks as (price, size) venue strings in wire order: descending."""
        return [(lv.raw_price, lv.raw_size) for lv in reversed(self._asks.ascending())]

    def levels_json(self) -> str:
        """``"bids":[…],"asks":[…]`` exactly as the venue's compact hash payload spells them."""
        return '"bids":[' + self._bids.fragments(True) + '],"asks":[' + self._asks.fragments(False) + "]"

    def levels_utf8(self) -> tuple[bytes, bytes]:
        """The bid and ask fragments of ``levels_json`` as UTF-8, each cached until its side changes."""
        return self._bids.fragments_utf8(True), self._asks.fragments_utf8(False)

    def sizes(self) -> tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]:
        """(bids, asks) as price → size maps, for comparisons."""
        return self._bids.sizes(), self._asks.sizes()

    def diff_to(self, bids: Iterable[Level], asks: Iterable[Level]) -> tuple[LevelChange, ...]:
        """The changes that turn this book into one with ``bids``/``asks`` (removals as size 0)."""
        out: list[LevelChange] = []
        for side_name, side, target in (("BUY", self._bids, bids), ("SELL", self._asks, asks)):
            have = side._levels
            want = {lv.price: lv for lv in target if lv.size != _ZERO}
            for price in side._keys:
                if price not in want:
                    raw_price = have[price][0]
                    out.append(LevelChange(side_name, price, _ZERO, raw_price, "0"))  # type: ignore[arg-type]
            for price, lv in sorted(want.items()):
                cur = have.get(price)
                if cur is None or cur[0] != lv.raw_price or cur[1] != lv.raw_size:
                    out.append(LevelChange(side_name, price, lv.size, lv.raw_price, lv.raw_size))  # type: ignore[arg-type]
        return tuple(out)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, L2Book):
            return NotImplemented
        return self.sizes() == other.sizes()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        bb, ba = self.best_bid(), self.best_ask()
        return (f"L2Book(bids={self.bid_levels}, asks={self.ask_levels}, "
                f"best_bid={bb.raw_price if bb else None}, best_ask={ba.raw_price if ba else None})")
