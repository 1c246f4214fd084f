"""PlanRunner against the scripted FakeGateway: the executor's decisions without a venue (the same paths run
against polysim through the unified SDK in test_executor_polysim.py)."""

from __future__ import annotations

from decimal import Decimal

from polybot.app.execute.live_orders import LiveOrders
from polybot.app.execute.plan_run import PlanRunner
from polybot.bus.messages import QuoteOrder, QuotePlan
from polybot.domain.inventory import Fill, Inventory
from polybot.domain.risk import RiskGuard, RiskLimits
from polybot.venue.order_gateway import GatewayError
from polybot.venue.order_gateway_fake import FakeGateway

D = Decimal
NOW = 1_000_000


def plan(seq: int, *orders: tuple[str, str, str, str], keep_ticks: int = 1) -> QuotePlan:
    return QuotePlan(plan_id=f"p{seq}", market="m", seq=seq, created_ts_ms=NOW, ttl_ms=3_000,
                     tick_size=D("0.01"), keep_ticks=keep_ticks, keep_size_frac=D("0.25"), reason="quote",
                     orders=tuple(QuoteOrder(asset_id=a, side=s, price=D(p), size=D(z))  # type: ignore[arg-type]
                                  for a, s, p, z in orders))


def runner(gw: FakeGateway, limits: RiskLimits | None = None, inventory: Inventory | None = None,
           max_open: int = 10) -> PlanRunner:
    return PlanRunner(gw, LiveOrders(), RiskGuard(limits or RiskLimits()), inventory or Inventory(),
                      max_open=max_open, clock_ms=lambda: NOW)


async def test_a_target_is_placed_then_kept_within_tolerance_then_replaced_cancel_first() -> None:
    gw = FakeGateway()
    r = runner(gw)
    first = await r.run(plan(1, ("yes", "BUY", "0.45", "10"), ("no", "BUY", "0.50", "10")))
    assert first.outcome == "executed" and [a.status for a in first.acks] == ["accepted", "accepted"]
    assert len(gw.resting) == 2
    same = await r.run(plan(2, ("yes", "BUY", "0.44", "9"), ("no", "BUY", "0.50", "10")))
    assert same.acks == [] and len(same.intents["kept"]) == 2  # inside one tick and 25 %: no churn
    moved = await r.run(plan(3, ("yes", "BUY", "0.42", "10"), ("no", "BUY", "0.50", "10")))
    kinds = [c[0] for c in gw.calls]
    assert kinds[-2:] == ["cancel", "place"]  # the cancel went out before the place
    assert [(a.action, a.status) for a in moved.acks] == [("cancel", "canceled"), ("place", "accepted")]
    assert sorted(o.price for o in gw.resting.values()) == [D("0.42"), D("0.50")]


async def test_an_empty_target_pulls_everything() -> None:
    gw = FakeGateway()
    r = runner(gw)
    await r.run(plan(1, ("yes", "BUY", "0.45", "10"), ("no", "BUY", "0.50", "10")))
    pulled = await r.run(plan(2))
    assert not gw.resting and not r.orders.by_id and [a.status for a in pulled.acks] == ["canceled", "canceled"]


async def test_an_unknown_answer_is_never_placed_twice_and_its_cancel_waits() -> None:
    gw = FakeGateway(unknown_next=1)
    r = runner(gw)
    run = await r.run(plan(1, ("yes", "BUY", "0.45", "10")))
    assert [a.status for a in run.acks] == ["unknown"] and run.acks[0].order_id in gw.resting
    again = await r.run(plan(2, ("yes", "BUY", "0.45", "10")))
    assert again.acks == [] and len(gw.resting) == 1  # the unknown order counts as resting
    pull = await r.run(plan(3))
    assert pull.acks == [] and len(gw.resting) == 1  # its cancel waits for the venue to confirm the id
    oid = run.acks[0].order_id
    assert oid is not None and r.orders.by_id[oid].cancel_wanted


async def test_risk_refuses_a_place_past_the_position_cap_and_the_plan_is_partial() -> None:
    inv = Inventory()
    inv.apply(Fill("f1", "yes", "BUY", D("0.4"), D(95)))
    gw = FakeGateway()
    r = runner(gw, RiskLimits(max_position=D(100)), inv)
    run = await r.run(plan(1, ("yes", "BUY", "0.45", "10"), ("yes", "SELL", "0.55", "10")))
    assert run.outcome == "partial"
    assert [(a.side, a.status) for a in run.acks] == [("BUY", "refused"), ("SELL", "accepted")]
    sent = [req for kind, batch in gw.calls if kind == "place" for req in batch]  # type: ignore[attr-defined]
    assert [req.side for req in sent] == ["SELL"]  # the refused one was never sent


async def test_a_halted_market_gets_no_places_and_its_orders_are_cancelled() -> None:
    gw = FakeGateway()
    r = runner(gw)
    await r.run(plan(1, ("yes", "BUY", "0.45", "10")))
    r.guard.observe_position("m", "yes", D(10_000), NOW)
    run = await r.run(plan(2, ("yes", "BUY", "0.45", "10")))
    assert run.outcome == "halted" and not gw.resting and "halted" in run.errors[0]


async def test_a_venue_outage_fails_the_plan_and_assumes_nothing_done() -> None:
    gw = FakeGateway()
    r = runner(gw)
    await r.run(plan(1, ("yes", "BUY", "0.45", "10")))
    gw.fail_next.append(GatewayError("matching engine restarting", status=425, paused=True))
    run = await r.run(plan(2, ("yes", "BUY", "0.40", "10")))
    assert run.outcome == "failed" and run.paused
    assert [o.state for o in r.orders.by_id.values()] == ["live"]  # the cancel failed: still resting
    retry = await r.run(plan(3, ("yes", "BUY", "0.40", "10")))
    assert retry.outcome == "executed" and [o.price for o in gw.resting.values()] == [D("0.40")]


async def test_rejections_count_toward_the_error_rate_and_batches_hold_15() -> None:
    gw = FakeGateway(reject_next=["not enough balance / allowance"])
    r = runner(gw, max_open=40)
    orders = [("yes", "BUY", f"0.{10 + i}", "5") for i in range(20)]
    run = await r.run(plan(1, *orders))
    sizes = [len(c[1]) for c in gw.calls if c[0] == "place"]  # type: ignore[arg-type]
    assert sizes == [15, 5] and run.outcome == "partial"
    assert [a.status for a in run.acks].count("rejected") == 1 and len(gw.resting) == 19
