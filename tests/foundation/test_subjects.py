"""Subject names are a contract with every consumer: assert the exact strings."""

from __future__ import annotations

import pytest

from polybot.bus import subjects


def test_exact_subject_strings() -> None:
    assert subjects.book_delta("123") == "pb.book.delta.123"
    assert subjects.book_snapshot("123") == "pb.book.snapshot.123"
    assert subjects.book_state("123") == "pb.book.state.123"
    assert subjects.gamma_market("0xabc") == "pb.gamma.market.0xabc"
    assert subjects.quote_plan("0xabc") == "pb.quote.plan.0xabc"
    assert subjects.order_ack("0xabc") == "pb.order.ack.0xabc"
    assert subjects.order_fill("0xabc") == "pb.order.fill.0xabc"
    assert subjects.position("0xabc") == "pb.position.0xabc" and subjects.POSITION_ALL == "pb.position.*"
    assert subjects.ctl_resync("9") == "pb.ctl.resync.9"
    assert subjects.ctl_heartbeat("quoter") == "pb.ctl.heartbeat.quoter"
    assert subjects.CTL_KILL == "pb.ctl.kill"
    assert subjects.BOOK_DELTA_ALL == "pb.book.delta.*"


@pytest.mark.parametrize("bad", ["", "a.b", "a*", ">", "a b", "x\n"])
def test_tokens_that_would_widen_or_split_a_subject_are_refused(bad: str) -> None:
    with pytest.raises(subjects.InvalidSubjectToken):
        subjects.book_delta(bad)


def test_streams_cover_every_persisted_subject_family() -> None:
    from polybot.bus.streams import ALL_STREAMS

    covered = {s for spec in ALL_STREAMS for s in spec.subjects}
    for family in (subjects.BOOK_DELTA_ALL, subjects.BOOK_SNAPSHOT_ALL, subjects.GAMMA_MARKET_ALL,
                   subjects.QUOTE_PLAN_ALL, subjects.ORDER_ALL):
        assert family in covered
