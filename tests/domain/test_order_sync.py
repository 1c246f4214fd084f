"""compare: our order record against the venue's open orders (the venue is the truth)."""

from __future__ import annotations

from decimal import Decimal

from polybot.domain.order_sync import Ours, compare

D = Decimal


def test_each_difference_is_named() -> None:
    ours = {
        "live": Ours(D(0), False, 0),
        "gone": Ours(D(0), False, 0),  # filled or cancelled while we were away
        "unk_there": Ours(D(0), True, 0),  # the lost answer did rest
        "unk_young": Ours(D(0), True, 9_000),  # may not be listed yet
        "unk_lost": Ours(D(0), True, 0),  # never reached the venue
        "part": Ours(D(1), False, 0),
    }
    venue = {"live": D(0), "unk_there": D(0), "part": D(3), "stranger": D(0)}
    r = compare(ours, venue, 10_000, grace_ms=5_000)
    assert r.confirmed == ("unk_there",)
    assert r.orphans == ("stranger",)
    assert r.absent == ("gone", "unk_lost")
    assert r.matched == (("part", D(3)),)
    assert not r.clean


def test_agreement_is_clean() -> None:
    assert compare({"a": Ours(D(2), False, 0)}, {"a": D(2)}, 0).clean
