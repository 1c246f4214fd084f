"""BookSync transitions, table-driven, with frames from the independent VenueSim (F10 hashes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from polybot.domain.book_effects import (
    Applied,
    BookState,
    Discarded,
    HashChecked,
    Snapshot,
    StartResync,
    StateChanged,
)
from polybot.domain.book_events import MarketEvent
from polybot.domain.book_hash import HashLayout
from polybot.domain.book_sync import (
    BookSync,
    BookSyncError,
    ConnectionLost,
    ConnectionRestored,
    ResyncRequested,
    SyncConfig,
    SyncInput,
)
from polybot.venue.market_parse import parse_market_frame

A = "111"


def events(*msgs: dict[str, Any]) -> list[MarketEvent]:
    import json

    out: list[MarketEvent] = []
    for m in msgs:
        out.extend(parse_market_frame(json.dumps(m)).events)
    return out


def one(msg: dict[str, Any]) -> MarketEvent:
    (ev,) = events(msg)
    return ev


def kinds(effects: list[Any]) -> list[str]:
    out = []
    for fx in effects:
        name = type(fx).__name__
        if isinstance(fx, StartResync):
            name += f"({fx.reason}{',restart' if fx.restart else ''})"
        elif isinstance(fx, HashChecked):
            name += f"({fx.result})"
        elif isinstance(fx, StateChanged):
            name += f"({fx.new.value})"
        elif isinstance(fx, Applied):
            name += f"({fx.source}{',reset' if fx.reset else ''})"
        elif isinstance(fx, Discarded):
            name += f"({fx.reason})"
        out.append(name)
    return out


@pytest.fixture
def venue(venue_cls: Any) -> Any:
    v = venue_cls(assets=(A, "222"), ltp="0.500")
    for p, s in (("0.40", "10"), ("0.45", "20"), ("0.48", "5")):
        v.set_level(A, "BUY", p, s)
    for p, s in (("0.60", "10"), ("0.55", "20"), ("0.52", "5")):
        v.set_level(A, "SELL", p, s)
    return v


def live_sync(venue: Any, config: SyncConfig | None = None) -> BookSync:
    sync = BookSync(A, venue.market, config=config)
    sync.handle(one(venue.book_msg(A)), now_ms=1)
    assert sync.state is BookState.LIVE
    return sync


def delta(venue: Any, side: str, price: str, size: str) -> MarketEvent:
    venue.ts += 10
    return one(venue.price_change([venue.set_level(A, side, price, size)]))


# --- the transition table -------------------------------------------------------------------------------------
@dataclass
class Case:
    name: str
    start: str  # "awaiting" | "live" | "resyncing" | "disconnected"
    make_input: Any  # (venue) -> SyncInput
    state: BookState
    effects: list[str]
    seq_delta: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


CASES = [
    Case("first book", "awaiting", lambda v: one(v.book_msg(A)), BookState.LIVE,
         ["HashChecked(ok)", "Applied(book,reset)", "Snapshot", "StateChanged(live)"], 1),
    Case("delta before any snapshot", "awaiting", lambda v: delta(v, "BUY", "0.49", "1"), BookState.RESYNCING,
         ["StateChanged(resyncing)", "StartResync(first_delta)"], 0),
    Case("delta while live", "live", lambda v: delta(v, "BUY", "0.49", "1"), BookState.LIVE,
         ["Applied(price_change)", "HashChecked(ok)"], 1),
    Case("tick size change while live", "live", lambda v: one(v.tick_change(A, "0.001")), BookState.RESYNCING,
         ["StateChanged(resyncing)", "StartResync(tick_size)"], 0),
    Case("tick size change before a book", "awaiting", lambda v: one(v.tick_change(A, "0.001")),
         BookState.AWAITING_SNAPSHOT, [], 0),
    Case("resync request while live", "live", lambda v: ResyncRequested(), BookState.RESYNCING,
         ["StateChanged(resyncing)", "StartResync(manual)"], 0),
    Case("resync request while resyncing", "resyncing", lambda v: ResyncRequested(), BookState.RESYNCING, [], 0),
    Case("delta while resyncing is buffered", "resyncing", lambda v: delta(v, "BUY", "0.49", "1"),
         BookState.RESYNCING, [], 0),
    Case("connection lost while live", "live", lambda v: ConnectionLost(), BookState.DISCONNECTED,
         ["StateChanged(disconnected)"], 0),
    Case("connection lost twice", "disconnected", lambda v: ConnectionLost(), BookState.DISCONNECTED, [], 0),
    Case("connection restored after a book", "disconnected", lambda v: ConnectionRestored(), BookState.RESYNCING,
         ["StateChanged(resyncing)", "StartResync(gap)"], 0),
    Case("delta while disconnected", "disconnected", lambda v: delta(v, "BUY", "0.49", "1"),
         BookState.DISCONNECTED, ["Discarded(disconnected)"], 0),
    Case("last trade while live", "live", lambda v: one(v.last_trade(A, "0.5")), BookState.LIVE, [], 0),
]


def _start(venue: Any, start: str) -> BookSync:
    if start == "awaiting":
        return BookSync(A, venue.market)
    sync = live_sync(venue)
    if start == "resyncing":
        sync.handle(ResyncRequested(), now_ms=2)
    elif start == "disconnected":
        sync.handle(ConnectionLost(), now_ms=2)
    return sync


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_transition(case: Case, venue: Any) -> None:
    sync = _start(venue, case.start)
    seq0 = sync.seq
    effects = sync.handle(case.make_input(venue), now_ms=100)
    assert sync.state is case.state
    assert kinds(effects) == case.effects
    assert sync.seq == seq0 + case.seq_delta


ILLEGAL = [
    ("awaiting", ConnectionRestored()),
    ("live", ConnectionRestored()),
    ("resyncing", ConnectionRestored()),
]


@pytest.mark.parametrize(("start", "event"), ILLEGAL, ids=lambda x: str(x))
def test_illegal_transition_raises_and_changes_nothing(start: str, event: SyncInput, venue: Any) -> None:
    sync = _start(venue, start)
    before = (sync.state, sync.seq, sync.book.sizes(), sync.buffered, sync.stats.resyncs.copy())
    with pytest.raises(BookSyncError):
        sync.handle(event, now_ms=5)
    assert (sync.state, sync.seq, sync.book.sizes(), sync.buffered, sync.stats.resyncs) == before


def test_an_event_for_another_asset_is_refused(venue: Any) -> None:
    sync = live_sync(venue)
    venue.set_level("222", "BUY", "0.3", "1")
    with pytest.raises(BookSyncError):
        sync.handle(one(venue.book_msg("222")), now_ms=5)
    assert sync.seq == 1


# --- behaviour ------------------------------------------------------------------------------------------------
def test_seq_is_strictly_plus_one_and_snapshot_carries_the_last_seq(venue: Any) -> None:
    sync = BookSync(A, venue.market, seq=41)  # continues from the seq published before a restart
    seqs = [fx.seq for fx in sync.handle(one(venue.book_msg(A)), 1) if isinstance(fx, Applied)]
    for price in ("0.41", "0.42", "0.43"):
        seqs += [fx.seq for fx in sync.handle(delta(venue, "BUY", price, "1"), 2) if isinstance(fx, Applied)]
    assert seqs == [42, 43, 44, 45]
    snap = sync.snapshot()
    assert snap is not None and snap.seq == 45 and snap.hash == venue.hash(A)


def test_buffered_deltas_newer_than_the_rest_snapshot_are_applied(venue: Any) -> None:
    sync = live_sync(venue)
    sync.handle(ResyncRequested(), now_ms=2)
    d1 = delta(venue, "BUY", "0.41", "1")
    rest = one(venue.book_msg(A, rest=True))  # the REST book includes d1 ...
    d2 = delta(venue, "SELL", "0.53", "2")  # ... but not d2 and d3
    d3 = delta(venue, "BUY", "0.45", "0")
    for d in (d1, d2, d3):
        assert sync.handle(d, now_ms=3) == []
    assert sync.buffered == 3
    effects = sync.handle(rest, now_ms=4)
    assert kinds(effects) == ["HashChecked(ok)", "Applied(rest,reset)", "Snapshot", "StateChanged(live)",
                              "Applied(price_change)", "HashChecked(ok)", "Applied(price_change)", "HashChecked(ok)"]
    assert sync.state is BookState.LIVE and sync.buffered == 0
    assert sync.book.sizes() == venue.sizes(A)
    assert [(fx.epoch, fx.seq) for fx in effects if isinstance(fx, Applied)] == [(2, 2), (2, 3), (2, 4)]
    snap = next(fx for fx in effects if isinstance(fx, Snapshot))
    assert (snap.reason, snap.epoch, snap.seq, snap.verified) == ("manual", 2, 2, True)


def test_a_delta_included_in_a_rest_book_is_not_applied_again(venue: Any) -> None:
    sync = live_sync(venue)
    sync.handle(ResyncRequested(), now_ms=2)
    d1 = delta(venue, "BUY", "0.41", "1")
    rest = one(venue.book_msg(A, rest=True))
    sync.handle(rest, now_ms=3)  # d1 arrives late, after the REST book that includes it
    assert kinds(sync.handle(d1, now_ms=4)) == ["Discarded(included_in_rest_book)"]
    assert sync.book.sizes() == venue.sizes(A)


def test_buffer_overflow_restarts_the_resync_and_a_stale_rest_book_is_refused(venue: Any) -> None:
    sync = live_sync(venue, SyncConfig(max_buffered=2))
    sync.handle(ResyncRequested(), now_ms=2)
    stale_rest = one(venue.book_msg(A, rest=True))
    ds = [delta(venue, "BUY", p, "1") for p in ("0.41", "0.42", "0.43")]
    assert sync.handle(ds[0], 3) == [] and sync.handle(ds[1], 3) == []
    assert kinds(sync.handle(ds[2], 3)) == ["StartResync(manual,restart)"]
    assert sync.buffered == 0 and sync.stats.buffer_overflows == 1
    # A REST book fetched before the overflow cannot cover the dropped deltas.
    assert kinds(sync.handle(stale_rest, 4)) == ["Discarded(stale)", "StartResync(manual,restart)"]
    assert sync.state is BookState.RESYNCING
    fresh = one(venue.book_msg(A, rest=True))
    sync.handle(fresh, 5)
    assert sync.state is BookState.LIVE
    assert sync.book.sizes() == venue.sizes(A)
    assert sync.stats.resyncs == {"first_delta": 0, "gap": 0, "checksum": 0, "tick_size": 0}


def test_first_delta_then_snapshot(venue: Any) -> None:
    sync = BookSync(A, venue.market)
    book = one(venue.book_msg(A))
    early = delta(venue, "BUY", "0.41", "1")  # newer than the book, arrives before it
    sync.handle(early, 1)
    effects = sync.handle(book, 2)
    assert sync.state is BookState.LIVE
    assert kinds(effects)[-2:] == ["Applied(price_change)", "HashChecked(ok)"]
    assert sync.book.sizes() == venue.sizes(A)
    assert sync.stats.resyncs["first_delta"] == 1
    snap = next(fx for fx in effects if isinstance(fx, Snapshot))
    assert snap.reason == "first_delta"


def test_hash_mismatch_starts_a_checksum_resync(venue: Any) -> None:
    venue.layout = HashLayout.F9  # an old layout: no ltp to wait for, a mismatch is final at once
    sync = live_sync(venue)
    venue.set_level(A, "BUY", "0.30", "7")  # a change the client never sees (a dropped delta)
    effects = sync.handle(delta(venue, "BUY", "0.41", "1"), 5)
    assert kinds(effects) == ["Applied(price_change)", "HashChecked(mismatch)", "StateChanged(resyncing)",
                              "StartResync(checksum)"]
    assert sync.stats.resyncs["checksum"] == 1
    sync.handle(one(venue.book_msg(A, rest=True)), 6)
    assert sync.state is BookState.LIVE and sync.book.sizes() == venue.sizes(A)


def test_a_websocket_book_with_a_bad_hash_is_never_published_and_resynced(venue: Any) -> None:
    venue.layout = HashLayout.F6
    sync = live_sync(venue)
    msg = venue.book_msg(A)
    msg["hash"] = "0" * 40
    effects = sync.handle(one(msg), 5)
    assert kinds(effects) == ["HashChecked(mismatch)", "StateChanged(resyncing)", "StartResync(checksum)"]
    assert sync.snapshot() is None and sync.stats.refused_books == 1


def test_a_first_book_with_a_bad_hash_never_goes_live(venue: Any) -> None:
    venue.layout = HashLayout.F6
    sync = BookSync(A, venue.market, config=SyncConfig(layouts=(HashLayout.F6,)))  # no ltp window: final at once
    msg = venue.book_msg(A)
    msg["hash"] = "0" * 40
    assert kinds(sync.handle(one(msg), 5)) == ["HashChecked(mismatch)", "StateChanged(resyncing)",
                                               "StartResync(checksum)"]
    bad_rest = venue.book_msg(A, rest=True)
    bad_rest["hash"] = "1" * 40
    assert kinds(sync.handle(one(bad_rest), 6)) == ["HashChecked(mismatch)", "StartResync(checksum,restart)"]
    assert sync.state is BookState.RESYNCING and sync.snapshot() is None
    effects = sync.handle(one(venue.book_msg(A, rest=True)), 7)
    assert kinds(effects) == ["HashChecked(ok)", "Applied(rest,reset)", "Snapshot", "StateChanged(live)"]
    assert sync.epoch == 1 and sync.seq == 1


def test_a_book_whose_hash_is_pending_is_published_unverified_until_confirmed(venue: Any) -> None:
    venue.ltp = "0.470"  # the venue hashed a trade the client has not seen yet
    sync = BookSync(A, venue.market, config=SyncConfig(ltp_window_ms=1000))
    effects = sync.handle(one(venue.book_msg(A, with_ltp=False)), 10_000)
    assert kinds(effects) == ["Applied(book,reset)", "Snapshot", "StateChanged(unverified)"]
    snap = next(fx for fx in effects if isinstance(fx, Snapshot))
    assert not snap.verified and sync.state is BookState.UNVERIFIED
    effects = sync.handle(one(venue.last_trade("222", "0.47")), 10_100)
    assert kinds(effects) == ["HashChecked(ok)", "Snapshot", "StateChanged(live)"]
    snap = next(fx for fx in effects if isinstance(fx, Snapshot))
    assert snap.verified and snap.reason == "verified" and (snap.epoch, snap.seq) == (1, 1)


def test_an_unverified_book_that_expires_is_resynced(venue: Any) -> None:
    venue.ltp = "0.4705"  # off the tick grid
    sync = BookSync(A, venue.market, config=SyncConfig(ltp_window_ms=1000))
    sync.handle(one(venue.book_msg(A, with_ltp=False)), 10_000)
    assert kinds(sync.tick(11_001)) == ["HashChecked(mismatch)", "StateChanged(resyncing)", "StartResync(checksum)"]
    assert sync.snapshot() is None


def test_every_fresh_book_begins_a_new_epoch_and_seq_never_goes_back(venue: Any) -> None:
    sync = BookSync(A, venue.market, epoch=7, seq=40)  # where the previous ingestor left off
    first = [fx for fx in sync.handle(one(venue.book_msg(A)), 1) if isinstance(fx, Applied | Snapshot)]
    assert [(type(fx).__name__, fx.epoch, fx.seq) for fx in first] == [("Applied", 8, 41), ("Snapshot", 8, 41)]
    applied = first[0]
    assert isinstance(applied, Applied) and applied.reset
    bids, asks = venue.sizes(A)
    assert {(c.side, c.price): c.size for c in applied.changes} == {
        **{("BUY", p): q for p, q in bids.items()}, **{("SELL", p): q for p, q in asks.items()}}
    sync.handle(delta(venue, "BUY", "0.41", "1"), 2)
    assert (sync.epoch, sync.seq) == (8, 42)
    sync.handle(ResyncRequested(), 3)
    sync.handle(one(venue.book_msg(A, rest=True)), 4)
    assert (sync.epoch, sync.seq) == (9, 43)
    sync.handle(ConnectionLost(), 5)
    sync.handle(ConnectionRestored(), 6)
    sync.handle(one(venue.book_msg(A)), 7)
    assert (sync.epoch, sync.seq) == (10, 44)
    venue.set_level(A, "BUY", "0.30", "1")  # a post-trade book while live continues the epoch
    sync.handle(one(venue.book_msg(A, with_ltp=False)), 8)
    assert (sync.epoch, sync.seq) == (10, 45)


def test_ltp_that_arrives_later_explains_the_hash(venue: Any) -> None:
    sync = live_sync(venue, SyncConfig(ltp_window_ms=1000))
    venue.ltp = "0.470"  # the trade behind the change; no level at 0.47/0.53 moved
    d = delta(venue, "BUY", "0.41", "3")
    effects = sync.handle(d, now_ms=10_000)
    assert kinds(effects) == ["Applied(price_change)"]  # pending, not a mismatch
    assert sync.state is BookState.LIVE
    effects = sync.handle(one(venue.last_trade("222", "0.47")), now_ms=10_500)
    assert kinds(effects) == ["HashChecked(ok)"]
    (checked,) = effects
    assert isinstance(checked, HashChecked) and checked.deferred and checked.ltp == "0.470"
    assert sync.tick(20_000) == []


def test_an_unexplained_hash_expires_into_a_checksum_resync(venue: Any) -> None:
    sync = live_sync(venue, SyncConfig(ltp_window_ms=1000))
    venue.ltp = "0.4705"  # off the market's tick grid: not even the grid search at expiry explains it
    sync.handle(delta(venue, "BUY", "0.41", "3"), now_ms=10_000)
    assert sync.tick(11_000) == []
    assert kinds(sync.tick(11_001)) == ["HashChecked(mismatch)", "StateChanged(resyncing)", "StartResync(checksum)"]


def test_a_later_verified_hash_supersedes_a_pending_one(venue: Any) -> None:
    sync = live_sync(venue, SyncConfig(ltp_window_ms=1000))
    venue.ltp = "0.470"
    sync.handle(delta(venue, "BUY", "0.41", "3"), now_ms=10_000)
    venue.ltp = "0.500"  # back to a price the client knows
    effects = sync.handle(delta(venue, "BUY", "0.42", "3"), now_ms=10_100)
    assert kinds(effects) == ["Applied(price_change)", "HashChecked(superseded)", "HashChecked(ok)"]
    assert sync.tick(30_000) == []


def test_tick_change_blocks_until_a_new_snapshot(venue: Any) -> None:
    sync = live_sync(venue)
    sync.handle(one(venue.tick_change(A, "0.001")), 2)
    assert sync.state is BookState.RESYNCING and sync.meta.tick_size == "0.001"
    buffered = delta(venue, "BUY", "0.413", "2")
    sync.handle(buffered, 3)
    assert sync.state is BookState.RESYNCING
    sync.handle(one(venue.book_msg(A, rest=True)), 4)
    assert sync.state is BookState.LIVE and sync.book.sizes() == venue.sizes(A)
    assert sync.stats.resyncs["tick_size"] == 1


def test_gap_resync_completes_with_the_initial_dump_after_reconnect(venue: Any) -> None:
    sync = live_sync(venue)
    sync.handle(ConnectionLost(), 2)
    venue.ts += 100
    venue.set_level(A, "SELL", "0.52", "0")  # happened while we were away
    venue.set_level(A, "BUY", "0.49", "4")
    assert kinds(sync.handle(ConnectionRestored(), 3)) == ["StateChanged(resyncing)", "StartResync(gap)"]
    effects = sync.handle(one(venue.book_msg(A)), 4)
    assert kinds(effects) == ["HashChecked(ok)", "Applied(book,reset)", "Snapshot", "StateChanged(live)"]
    applied = effects[1]
    assert isinstance(applied, Applied) and applied.epoch == 2
    assert len(applied.changes) == 6  # the whole book: a consumer replaces, no stale level survives
    assert sync.book.sizes() == venue.sizes(A)
    assert sync.stats.resyncs["gap"] == 1


def test_rest_book_while_live_is_a_cross_check(venue: Any) -> None:
    sync = live_sync(venue)
    old_rest = one(venue.book_msg(A, rest=True))
    sync.handle(delta(venue, "BUY", "0.41", "1"), 2)
    assert kinds(sync.handle(old_rest, 3)) == ["Discarded(stale)"]
    effects = sync.handle(one(venue.book_msg(A, rest=True)), 4)
    assert kinds(effects) == ["HashChecked(ok)", "Snapshot"]  # same content: no change published, same epoch
    assert sync.state is BookState.LIVE
    assert [fx.reason for fx in effects if isinstance(fx, Snapshot)] == ["rest"]
    venue.set_level(A, "BUY", "0.30", "1")  # a post-trade book while live
    effects = sync.handle(one(venue.book_msg(A, with_ltp=False)), 5)
    assert kinds(effects) == ["HashChecked(ok)", "Applied(book)", "Snapshot"]
    assert [fx.reason for fx in effects if isinstance(fx, Snapshot)] == ["book"]
    assert sync.epoch == 1


def test_rest_metadata_is_taken_for_hashing(venue: Any) -> None:
    venue.min_size = "15"
    sync = BookSync(A, venue.market)  # default meta says 5
    sync.handle(one(venue.book_msg(A, rest=True)), 1)
    assert sync.meta.min_order_size == "15"
    effects = sync.handle(delta(venue, "BUY", "0.41", "1"), 2)
    assert kinds(effects) == ["Applied(price_change)", "HashChecked(ok)"]


def same_ms_delta(venue: Any, side: str, price: str, size: str) -> MarketEvent:
    return one(venue.price_change([venue.set_level(A, side, price, size)]))  # venue.ts unchanged


def test_buffered_deltas_of_the_rest_books_millisecond_are_decided_by_the_hash_chain(venue: Any) -> None:
    sync = live_sync(venue)
    sync.handle(ResyncRequested(), now_ms=2)
    venue.ts += 10
    d1 = same_ms_delta(venue, "BUY", "0.41", "1")
    rest = one(venue.book_msg(A, rest=True))  # includes d1; same millisecond as d1 and d2
    d2 = same_ms_delta(venue, "SELL", "0.53", "2")
    sync.handle(d1, 3)
    sync.handle(d2, 3)
    effects = sync.handle(rest, 4)
    assert kinds(effects)[-2:] == ["Applied(price_change)", "HashChecked(ok)"]  # d2 kept, d1 not re-applied
    assert sync.book.sizes() == venue.sizes(A) and sync.state is BookState.LIVE


def test_live_deltas_of_the_rest_books_millisecond_are_kept_unless_already_in_it(venue: Any) -> None:
    sync = live_sync(venue)
    sync.handle(ResyncRequested(), now_ms=2)
    venue.ts += 10
    included = same_ms_delta(venue, "BUY", "0.41", "1")
    sync.handle(one(venue.book_msg(A, rest=True)), 3)  # the REST book, before the delta it includes arrives
    assert kinds(sync.handle(included, 4)) == ["Discarded(included_in_rest_book)"]
    later = same_ms_delta(venue, "SELL", "0.53", "2")  # same millisecond, not in the REST book
    assert kinds(sync.handle(later, 5)) == ["Applied(price_change)", "HashChecked(ok)"]
    assert sync.book.sizes() == venue.sizes(A) and sync.state is BookState.LIVE


def test_an_unverified_book_explained_at_expiry_by_the_tick_grid_goes_live(venue: Any) -> None:
    venue.ltp = "0.470"  # on the grid, never announced: the search at expiry finds it
    sync = BookSync(A, venue.market, config=SyncConfig(ltp_window_ms=1000))
    sync.handle(one(venue.book_msg(A, with_ltp=False)), 10_000)
    assert sync.state is BookState.UNVERIFIED
    effects = sync.tick(11_001)
    assert kinds(effects) == ["HashChecked(ok)", "Snapshot", "StateChanged(live)"]
    assert sync.verifier.grid_matches == 1
