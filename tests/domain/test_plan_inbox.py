"""PlanInbox: only the newest unexpired target of a market is acted on; every other plan gets one outcome."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from polybot.domain.plan_inbox import PlanInbox


@dataclass(frozen=True)
class Plan:
    market: str
    seq: int
    created_ts_ms: int = 0
    ttl_ms: int = 1_000


def test_newer_supersedes_the_waiting_one_and_older_is_stale() -> None:
    box: PlanInbox[Plan] = PlanInbox()
    assert box.offer(Plan("m", 1)) == []
    assert box.offer(Plan("m", 3)) == [(Plan("m", 1), "superseded")]
    assert box.offer(Plan("m", 2)) == [(Plan("m", 2), "stale")]
    assert box.offer(Plan("m", 3)) == [(Plan("m", 3), "stale")]  # a redelivery
    assert box.offer(Plan("other", 1)) == []
    assert box.take("m", 10) == (Plan("m", 3), [])
    assert box.take("m", 10) == (None, [])
    assert box.offer(Plan("m", 3)) == [(Plan("m", 3), "stale")]  # executed plans are never taken again


def test_an_expired_plan_is_dropped_when_taken() -> None:
    box: PlanInbox[Plan] = PlanInbox()
    box.offer(Plan("m", 1, created_ts_ms=0, ttl_ms=100))
    assert box.take("m", 100) == (None, [(Plan("m", 1, 0, 100), "expired")])


@given(st.lists(st.tuples(st.sampled_from(["a", "b"]), st.integers(0, 20)), max_size=40))
def test_every_plan_gets_exactly_one_outcome_and_seqs_taken_only_rise(offers: list[tuple[str, int]]) -> None:
    box: PlanInbox[Plan] = PlanInbox()
    outcomes: dict[int, str] = {}
    taken: dict[str, list[int]] = {"a": [], "b": []}
    plans = [Plan(market, seq, created_ts_ms=i) for i, (market, seq) in enumerate(offers)]  # alive: ids unique
    for i, plan in enumerate(plans):
        market = plan.market
        for dropped, why in box.offer(plan):
            assert id(dropped) not in outcomes
            outcomes[id(dropped)] = why
        if i % 3 == 0:
            got, expired = box.take(market, i)
            assert not expired
            if got is not None:
                taken[market].append(got.seq)
    for market, seqs in taken.items():
        assert seqs == sorted(set(seqs)), (market, seqs)
    waiting = {id(p) for p in box.waiting.values()}
    taken_ids = len(plans) - len(outcomes) - len(waiting)
    assert taken_ids == sum(len(s) for s in taken.values())  # the rest was taken, each exactly once
