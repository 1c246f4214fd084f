"""The paper backend behind the same PlanRunner: nothing is sent anywhere, fills come from the books."""

from __future__ import annotations

from decimal import Decimal

from polybot.app.execute.live_orders import LiveOrders
from polybot.app.execute.paper_gateway import PaperGateway
from polybot.app.execute.plan_run import PlanRunner
from polybot.bus.messages import QuoteOrder, QuotePlan
from polybot.domain.inventory import Inventory
from polybot.domain.paper import Levels
from polybot.domain.risk import RiskGuard, RiskLimits

D = Decimal


class Books:
    def __init__(self) -> None:
        self.books: dict[str, tuple[Levels, Levels]] = {
            "yes": (((D("0.45"), D(100)),), ((D("0.47"), D(50)),))}

    def levels(self, asset_id: str) -> tuple[Levels, Levels] | None:
        return self.books.get(asset_id)


async def test_paper_orders_rest_fill_when_the_book_reaches_them_and_refuse_without_a_book() -> None:
    books = Books()
    gw = PaperGateway(books, clock_ms=lambda: 5)
    runner = PlanRunner(gw, LiveOrders(), RiskGuard(RiskLimits()), Inventory(), max_open=10, clock_ms=lambda: 5)
    plan = QuotePlan(plan_id="p1", market="m", seq=1, created_ts_ms=0, ttl_ms=10_000, tick_size=D("0.01"),
                     orders=(QuoteOrder(asset_id="yes", side="BUY", price=D("0.46"), size=D(10)),
                             QuoteOrder(asset_id="no", side="BUY", price=D("0.50"), size=D(10))))
    run = await runner.run(plan)
    assert [a.status for a in run.acks] == ["accepted", "rejected"]  # "no" has no live book: refused
    assert [(o.price, o.original_size) for o in await gw.open_orders()] == [(D("0.46"), D(10))]
    assert gw.on_book("yes") == []
    books.books["yes"] = (((D("0.45"), D(100)),), ((D("0.46"), D(4)),))  # a seller arrives at our price
    fills = gw.on_book("yes")
    assert [(f.price, f.size, f.status) for f in fills] == [(D("0.46"), D(4), "CONFIRMED")]
    assert await gw.trades(0) == fills and (await gw.open_orders())[0].size_matched == D(4)
    assert (await gw.cancel_all("m")).canceled and await gw.open_orders() == []
