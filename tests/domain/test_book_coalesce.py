"""Coalescing (``SyncConfig.coalesce``): venue deltas join the change the shell has not taken yet.

What a consumer of the bus must still be able to rely on: one message per seq, seq strictly +1 per asset,
a snapshot's seq covering exactly the changes before it, and snapshot + later messages = the venue's book.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from feed_kit import rebuild
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polybot.domain.book_effects import Applied, HashChecked, Snapshot
from polybot.domain.book_sync import SyncConfig
from polybot.domain.market_books import MarketBooks
from polybot.venue.market_parse import parse_market_frame

ASSETS = ("111", "222")


def _size(n: int) -> str:
    return "0" if n == 0 else format(Decimal(n).scaleb(-2).normalize(), "f")


level_op = st.tuples(st.just("set"), st.sampled_from(ASSETS), st.sampled_from(("BUY", "SELL")),
                     st.integers(1, 99), st.integers(0, 3000).map(_size))
seal_op = st.tuples(st.just("seal"), st.sampled_from(ASSETS))  # the shell takes the asset's open message
snap_op = st.tuples(st.just("snapshot"), st.sampled_from(ASSETS))  # a periodic snapshot
book_op = st.tuples(st.just("book"), st.sampled_from(ASSETS))  # the venue sends a whole book
ops = st.lists(st.one_of(level_op, level_op, level_op, seal_op, snap_op, book_op), min_size=1, max_size=50)


@dataclass
class Message:
    seq: int
    changes: list[Any]
    epoch: int = 0
    reset: bool = False


class Shell:
    """Turns effects into messages the way the ingestor's outbox does: a message per seq, growing while open."""

    def __init__(self) -> None:
        self.messages: dict[str, list[Message]] = {a: [] for a in ASSETS}
        self.snapshots: dict[str, Snapshot] = {}
        self.hashes: list[str] = []

    def take(self, effects: list[Any]) -> None:
        for fx in effects:
            if isinstance(fx, Applied):
                msgs = self.messages[fx.asset_id]
                if fx.extends:
                    assert msgs and msgs[-1].seq == fx.seq, "only the newest change may grow"
                    msgs[-1].changes.extend(fx.changes)
                else:
                    assert fx.seq == (msgs[-1].seq if msgs else 0) + 1, "seq strictly +1 per message"
                    msgs.append(Message(fx.seq, list(fx.changes), fx.epoch, fx.reset))
            elif isinstance(fx, Snapshot):
                self.snapshots[fx.asset_id] = fx
            elif isinstance(fx, HashChecked):
                self.hashes.append(fx.result)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(initial=st.lists(level_op, max_size=10), script=ops)
def test_coalesced_messages_rebuild_the_venues_book(venue_cls: Any, to_frame: Any, initial: list[Any],
                                                    script: list[Any]) -> None:
    venue = venue_cls(assets=ASSETS, ltp="0.500")
    for _, asset, side, price, size in initial:
        venue.set_level(asset, side, f"0.{price:02d}", size)
    books = MarketBooks(SyncConfig(coalesce=True))
    for asset in ASSETS:
        books.add_asset(asset, venue.market)
    shell = Shell()
    now = 0

    def feed(text: str) -> None:
        nonlocal now
        now += 10
        for event in parse_market_frame(text, now).events:
            shell.take(books.feed(event, now))

    feed(to_frame(*(venue.book_msg(a) for a in ASSETS)))
    for op in script:
        venue.ts += 7
        kind, asset = op[0], op[1]
        sync = books.get(asset)
        assert sync is not None
        if kind == "seal":
            books.seal(asset, sync.seq)
        elif kind == "snapshot":
            snap = sync.snapshot()
            assert snap is not None
            shell.take([snap])
        elif kind == "book":
            feed(to_frame(venue.book_msg(asset, with_ltp=False)))
        else:
            _, _, side, price, size = op
            feed(to_frame(venue.price_change([venue.set_level(asset, side, f"0.{price:02d}", size)])))

    assert "mismatch" not in shell.hashes, "every venue hash is still verified, coalesced or not"
    for asset in ASSETS:
        want = venue.sizes(asset)
        msgs = shell.messages[asset]
        assert rebuild(None, msgs) == want, "messages alone rebuild the book"
        assert rebuild(shell.snapshots.get(asset), msgs) == want, "the last snapshot + later messages too"
        sync = books.get(asset)
        assert sync is not None and sync.seq == (msgs[-1].seq if msgs else 0)
        # Coalescing changes how many messages there are, never how many venue deltas were applied.
        assert sync.stats.deltas == sum(1 for op in script if op[0] == "set" and op[1] == asset)


def test_deltas_join_until_sealed_and_a_snapshot_seals(venue_cls: Any, to_frame: Any) -> None:
    venue = venue_cls(assets=ASSETS[:1], ltp="0.500")
    venue.set_level("111", "BUY", "0.40", "10")
    books = MarketBooks(SyncConfig(coalesce=True))
    books.add_asset("111", venue.market)
    shell = Shell()

    def delta(price: str, size: str) -> list[Any]:
        venue.ts += 5
        fx = books.feed(*parse_market_frame(to_frame(venue.price_change([venue.set_level(
            "111", "BUY", price, size)])), 1).events, 1)
        shell.take(fx)
        return [f for f in fx if isinstance(f, Applied)]

    shell.take(books.feed(*parse_market_frame(to_frame(venue.book_msg("111")), 1).events, 1))
    first = delta("0.41", "5")
    joined = delta("0.42", "6")
    assert (first[0].seq, first[0].extends) == (joined[0].seq, False) and joined[0].extends
    books.seal("111", first[0].seq - 1)  # an older seq: no effect
    assert delta("0.43", "7")[0].extends
    books.seal("111", first[0].seq)
    after_seal = delta("0.44", "8")[0]
    assert (after_seal.seq, after_seal.extends) == (first[0].seq + 1, False)
    sync = books.get("111")
    assert sync is not None
    snap = sync.snapshot()
    assert snap is not None and snap.seq == after_seal.seq
    after_snap = delta("0.45", "9")[0]
    assert (after_snap.seq, after_snap.extends) == (snap.seq + 1, False), "a snapshot covers exactly up to its seq"
    assert [len(m.changes) for m in shell.messages["111"]] == [1, 3, 1, 1]


def test_off_by_default_every_delta_is_its_own_change(venue_cls: Any, to_frame: Any) -> None:
    venue = venue_cls(assets=ASSETS[:1], ltp="0.500")
    books = MarketBooks()
    books.add_asset("111", venue.market)
    books.feed(*parse_market_frame(to_frame(venue.book_msg("111")), 1).events, 1)
    seqs = []
    for i in range(3):
        venue.ts += 5
        frame = to_frame(venue.price_change([venue.set_level("111", "SELL", f"0.6{i}", "3")]))
        seqs += [(fx.seq, fx.extends) for fx in books.feed(*parse_market_frame(frame, 1).events, 1)
                 if isinstance(fx, Applied)]
    assert [e for _, e in seqs] == [False, False, False] and [s for s, _ in seqs] == [2, 3, 4]
