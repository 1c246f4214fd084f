"""The consumer side of the book feed, as pure logic: resets replace, gaps untrust and reload, nothing old sticks."""

from __future__ import annotations

from decimal import Decimal

from polybot.domain.book_follow import FeedDelta, FeedSnapshot, FeedState, FollowedBook, follow

D = Decimal


def delta(epoch: int, seq: int, *changes: tuple[str, str, str], reset: bool = False, ts: int = 0) -> FeedDelta:
    return FeedDelta(epoch, seq, ts, tuple((s, D(p), D(q)) for s, p, q in changes), reset)  # type: ignore[misc]


def snap(epoch: int, seq: int, bids: dict[str, str], asks: dict[str, str], verified: bool = True,
         ts: int = 0) -> FeedSnapshot:
    return FeedSnapshot(epoch, seq, ts, tuple((D(p), D(q)) for p, q in bids.items()),
                        tuple((D(p), D(q)) for p, q in asks.items()), verified)


def sides(fb: FollowedBook) -> tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]:
    return fb.book.sizes()


def test_a_reset_replaces_the_book_so_no_old_level_survives() -> None:
    fb = follow(snap(1, 10, {"0.40": "5", "0.30": "2"}, {"0.60": "5"}),
                [delta(1, 11, ("BUY", "0.41", "1")), delta(2, 12, ("BUY", "0.45", "3"), ("SELL", "0.55", "4"),
                                                          reset=True)])
    assert fb.trusted and fb.position == (2, 12)
    assert sides(fb) == ({D("0.45"): D(3)}, {D("0.55"): D(4)})


def test_contiguous_deltas_apply_old_ones_are_ignored() -> None:
    fb = follow(snap(3, 5, {"0.40": "5"}, {}), [delta(3, 4, ("BUY", "0.10", "1")), delta(3, 5, ("BUY", "0.11", "1")),
                                               delta(3, 6, ("BUY", "0.40", "0")), delta(3, 7, ("SELL", "0.7", "2"))])
    assert fb.trusted and fb.position == (3, 7) and fb.gaps == 0
    assert sides(fb) == ({}, {D("0.7"): D(2)})


def test_a_gap_untrusts_the_book_until_a_snapshot_reloads_it_then_buffered_deltas_follow() -> None:
    fb = follow(snap(1, 1, {"0.40": "5"}, {}), [delta(1, 3, ("BUY", "0.42", "1")), delta(1, 4, ("BUY", "0.43", "1"))])
    assert not fb.trusted and fb.gaps == 1 and fb.waiting_for == (1, 2)
    assert fb.state(0, None) is FeedState.RESYNCING
    assert not fb.snapshot(snap(1, 1, {"0.40": "5"}, {}))  # not new enough to end the gap... but
    assert fb.snapshot(snap(1, 2, {"0.40": "5", "0.41": "1"}, {}))  # ... this one is
    assert fb.trusted and fb.position == (1, 4)
    assert sides(fb) == ({D("0.40"): D(5), D("0.41"): D(1), D("0.42"): D(1), D("0.43"): D(1)}, {})


def test_a_new_epoch_seen_without_its_reset_is_a_gap() -> None:
    fb = follow(snap(1, 9, {"0.40": "5"}, {}), [delta(2, 11, ("BUY", "0.41", "1"))])
    assert not fb.trusted and fb.waiting_for == (2, 10)
    fb.snapshot(snap(2, 10, {"0.30": "1"}, {}))
    assert fb.trusted and sides(fb) == ({D("0.30"): D(1), D("0.41"): D(1)}, {})


def test_cold_start_deltas_before_the_snapshot_wait_for_it() -> None:
    fb = FollowedBook("a")
    assert not fb.delta(delta(4, 20, ("BUY", "0.5", "1")))
    assert not fb.trusted
    fb.snapshot(snap(4, 19, {"0.49": "2"}, {}))
    assert fb.trusted and fb.position == (4, 20) and sides(fb) == ({D("0.49"): D(2), D("0.5"): D(1)}, {})


def test_state_needs_trust_the_publishers_word_a_verified_book_and_freshness() -> None:
    fb = follow(snap(1, 5, {"0.4": "1"}, {}, verified=False, ts=1000), [])
    assert fb.state(1000, None) is FeedState.RESYNCING  # the publisher has not spoken
    fb.set_publisher_state("unverified", (1, 5))
    assert fb.state(1000, None) is FeedState.UNVERIFIED
    fb.set_publisher_state("live", (1, 5))
    assert fb.state(1000, 5000) is FeedState.LIVE
    assert fb.state(7000, 5000) is FeedState.STALE and fb.age_ms(7000) == 6000
    fb.delta(delta(1, 6, ("BUY", "0.41", "1"), ts=8000))
    assert fb.state(9000, 5000) is FeedState.LIVE  # later deltas keep the confirmation
    fb.delta(delta(2, 7, ("BUY", "0.2", "1"), reset=True, ts=9000))
    assert fb.state(9000, 5000) is FeedState.UNVERIFIED  # a new epoch waits for its own confirmation
    fb.set_publisher_state("live", (2, 7))
    assert fb.state(9000, 5000) is FeedState.LIVE
    fb.set_publisher_state("resyncing", (2, 7))
    assert fb.state(9000, 5000) is FeedState.RESYNCING


def test_the_tick_of_a_snapshot_at_the_position_a_reset_delta_reached_is_taken() -> None:
    fb = follow(FeedSnapshot(1, 10, 0, ((D("0.40"), D(5)),), ((D("0.60"), D(5)),), tick_size=D("0.01")), [])
    assert fb.tick_size == D("0.01")
    # a tick change: the publisher resyncs (a reset delta of a new epoch), then the snapshot of that position
    assert fb.delta(delta(2, 11, ("BUY", "0.405", "3"), ("SELL", "0.595", "4"), reset=True))
    assert fb.tick_size == D("0.01")  # the delta cannot say the tick
    taken = fb.snapshot(FeedSnapshot(2, 11, 0, ((D("0.405"), D(3)),), ((D("0.595"), D(4)),), tick_size=D("0.001")))
    assert not taken and fb.tick_size == D("0.001")
    # an older snapshot never overrides it
    fb.snapshot(FeedSnapshot(1, 10, 0, (), (), tick_size=D("0.01")))
    assert fb.tick_size == D("0.001")
