"""The executor: quote plans in, orders on the venue (or paper), one audit row per plan, acks and fills out.

Plans arrive on a durable JetStream consumer; each market has at most one plan executing and one waiting
(``PlanInbox``: the newest unexpired target wins, every other plan is audited as superseded, stale or
expired). Upkeep (``upkeep.py``) runs beside it, supervised: the venue heartbeat, fills, reconciliation
with the venue's open orders, and for paper the book-driven matching. The kill switch (``pb.ctl.kill``,
``POST /kill``, ``polybot kill``) cancels everything and holds every market until cleared; stopping the
service cancels everything too (``cancel_all_on_stop``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from polybot.app.execute.live_orders import LiveOrders, OrderRecord
from polybot.app.execute.metrics import ExecMetrics
from polybot.app.execute.plan_run import MarketTerms, PlanRun, PlanRunner
from polybot.app.execute.risk_desk import RiskDesk
from polybot.bus import subjects
from polybot.bus.client import Bus
from polybot.bus.codec import DecodeError, decode, encode
from polybot.bus.messages import (
    CancelAllDone,
    CancelAllRequest,
    KillSwitch,
    MarketInfo,
    MarketPosition,
    OrderAck,
    QuotePlan,
    RestingOrder,
    RiskRequest,
    TokenPosition,
)
from polybot.bus.streams import PLANS
from polybot.domain.inventory import Fill, Inventory
from polybot.domain.plan_inbox import Dropped, PlanInbox
from polybot.domain.risk import RiskGuard, RiskLimits
from polybot.runtime.metrics import Metrics
from polybot.runtime.settings import Settings
from polybot.runtime.supervise import Supervisor
from polybot.store import exec_repo
from polybot.store.exec_repo import AuditRow, OrderRow
from polybot.venue.order_gateway import GatewayError, OrderGateway

log = logging.getLogger(__name__)
PLAN_DURABLE = "executor-plans"
TASKS = ("exec-plans", "exec-heartbeat", "exec-fills", "exec-reconcile")


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(slots=True)
class KillState:
    engaged: bool = False
    reason: str = ""
    since_ms: int = 0


class Executor:
    def __init__(self, settings: Settings, metrics: Metrics, *, bus: Bus, pool: asyncpg.Pool, gateway: OrderGateway,
                 clock_ms: Callable[[], int] = _wall_ms) -> None:
        self.settings = settings
        self.cfg = settings.executor
        self.backend = settings.mode
        self.bus = bus
        self.pool = pool
        self.gateway = gateway
        self.clock_ms = clock_ms
        self.m = ExecMetrics.register(metrics)
        r = self.cfg.risk
        self.guard = RiskGuard(RiskLimits(r.max_position, r.max_notional_usdc, r.max_open_orders, r.max_daily_loss_usdc,
                                          r.max_error_rate, r.error_window_ms, r.error_min_actions))
        self.m.show_limits(self.guard.limits)
        self.orders = LiveOrders()
        self.inventory = Inventory()
        self.runner = PlanRunner(gateway, self.orders, self.guard, self.inventory, max_open=r.max_open_orders,
                                 clock_ms=clock_ms)
        self.risk = RiskDesk(self.guard, self.inventory, backend=self.backend, pool=pool, bus=bus, metrics=self.m,
                             cancel=lambda reason, market: self.cancel_everything(reason, market=market),
                             clock_ms=clock_ms)
        self.inbox: PlanInbox[QuotePlan] = PlanInbox()
        self.terms: dict[str, MarketTerms] = {}
        self.market_of_asset: dict[str, str] = {}
        self.kill = KillState()
        self._stopping = asyncio.Event()
        self.supervisor = Supervisor(metrics, stopping=self._stopping)
        self.plans_seen = 0
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._position_seq: dict[str, int] = {}
        self._subs: list[Any] = []
        self.last_plan: dict[str, dict[str, Any]] = {}
        self.target_expires_ms: dict[str, int] = {}  # per market: when the last target taken runs out

    # --- lifecycle ----------------------------------------------------------------------------------------------
    async def start(self, upkeep: Callable[[Executor], list[tuple[str, Callable[[], Any]]]]) -> None:
        """Follow markets and the kill switch, then consume plans (``load_state`` and a first reconciliation
        come before); ``upkeep`` names the loops to run beside."""
        js = self.bus.js
        self._subs.append(await js.subscribe(subjects.GAMMA_MARKET_ALL, cb=self._on_market, ordered_consumer=True,
                                             deliver_policy=DeliverPolicy.LAST_PER_SUBJECT))
        self._subs.append(await js.subscribe(subjects.CTL_KILL, cb=self._on_kill_msg, ordered_consumer=True,
                                             deliver_policy=DeliverPolicy.LAST_PER_SUBJECT))
        self._subs.append(await self.bus.nc.subscribe(subjects.CTL_CANCEL_ALL, cb=self._on_cancel_all))
        self._subs.append(await self.bus.nc.subscribe(subjects.CTL_RISK_REQUEST, cb=self._on_risk_request))
        # The durable consumer exists before start returns (and before /readyz is green): a plan published
        # right after must not be missed; on its first creation it reads the stream from the start (older plans
        # are expired by then and audited so).
        try:
            await js.consumer_info(PLANS.name, PLAN_DURABLE)  # it exists: keep it, and its position
        except NotFoundError:
            await js.add_consumer(PLANS.name, ConsumerConfig(
                durable_name=PLAN_DURABLE, ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL,
                filter_subject=subjects.QUOTE_PLAN_ALL))
        self.supervisor.start("exec-plans", lambda: self.bus.consume(
            subjects.QUOTE_PLAN_ALL, PLAN_DURABLE, self._on_plan, deliver_policy=DeliverPolicy.ALL,
            stop=self._stopping))
        for name, loop in upkeep(self):
            self.supervisor.start(name, loop)

    async def stop(self) -> None:
        self._stopping.set()
        for w in list(self._workers.values()):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(w, 5)
        if self.cfg.cancel_all_on_stop:
            with contextlib.suppress(GatewayError):
                await self.cancel_everything("shutdown")
        await self.supervisor.stop()
        for sub in self._subs:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def load_state(self) -> None:
        """Our orders and fills from the database (the venue is asked next, by reconciliation)."""
        async with self.pool.acquire() as conn:
            rows = await exec_repo.open_orders(conn, self.backend)
            fills = await exec_repo.fills_of(conn)
        for r in rows:
            self.orders.add(OrderRecord(r.order_id, r.market, r.asset_id, r.side, r.price, r.size,  # type: ignore[arg-type]
                                        r.size_matched, "unknown" if r.status == "unknown" else "live", r.plan_id,
                                        r.client_id, self.clock_ms()))
            self.market_of_asset[r.asset_id] = r.market
        applied: list[Fill] = []
        for f in fills:
            self.market_of_asset.setdefault(f.asset_id, f.market)
            fill = Fill(f.fill_id, f.asset_id, f.side, f.price, f.size, f.fee_usdc, f.ts_ms)  # type: ignore[arg-type]
            with contextlib.suppress(ValueError):
                if self.inventory.apply(fill):
                    applied.append(fill)
        await self.risk.load(applied)
        log.info("executor state loaded", extra={"open_orders": len(rows), "fills": len(fills),
                                                 "backend": self.backend})

    # --- plans --------------------------------------------------------------------------------------------------
    async def _on_plan(self, message: object, msg: Msg) -> None:
        if not isinstance(message, QuotePlan):
            return
        self.plans_seen += 1
        for dropped, why in self.inbox.offer(message):
            await self._audit_dropped(dropped, why)
        worker = self._workers.get(message.market)
        if worker is None or worker.done():
            self._workers[message.market] = asyncio.create_task(self._drain(message.market),
                                                                name=f"exec-{message.market[:12]}")

    async def _drain(self, market: str) -> None:
        while not self._stopping.is_set():
            plan, expired = self.inbox.take(market, self.clock_ms())
            for dropped, why in expired:
                await self._audit_dropped(dropped, why)
            if plan is None:
                return
            try:
                await self._execute(plan)
            except Exception:  # one plan's bug must not stop the market: log it, audit it, go on
                log.exception("plan execution failed", extra={"plan_id": plan.plan_id, "market": market})
                run = PlanRun(plan.plan_id, market, plan.model_dump(mode="json"), outcome="failed",
                              errors=["internal error; see the executor log"])
                await self._record(run)

    async def _execute(self, plan: QuotePlan) -> None:
        self.target_expires_ms[plan.market] = plan.expires_ts_ms
        if self.kill.engaged:
            run = PlanRun(plan.plan_id, plan.market, plan.model_dump(mode="json"), outcome="halted",
                          errors=[f"kill switch engaged: {self.kill.reason}"])
        else:
            run = await self.runner.run(plan, self.terms.get(plan.market, MarketTerms()))
        await self._record(run)
        await self.risk.settle()  # a breach this plan tripped (the error rate) halts and cancels now

    async def _record(self, run: PlanRun) -> None:
        """One audit row, the order rows, the acks and the market's position, for one executed plan."""
        rows = [self._order_row(a) for a in run.acks if a.order_id is not None and a.status != "rejected"]
        async with self.pool.acquire() as conn, conn.transaction():
            await exec_repo.upsert_orders(conn, rows)
            await exec_repo.insert_audit(conn, AuditRow(run.plan_id, run.market, run.plan, run.intents,
                                                        [a.model_dump(mode="json") for a in run.acks], run.errors,
                                                        run.outcome, run.duration_ms))
        self.m.plans.inc(outcome=run.outcome)
        self.m.execute_plan_ms.observe(run.duration_ms)
        self.m.execute_plan_count.inc()
        for a in run.acks:
            if a.action == "place" and a.status == "accepted":
                self.m.orders_placed.inc(market=a.market)
            elif a.action == "cancel" and a.status == "canceled":
                self.m.orders_canceled.inc(reason="replace")
            elif a.status == "refused":
                self.m.rejects.inc(reason="risk_limit")
            elif a.status == "rejected":  # the venue's code, never its text (which holds order ids)
                code = (a.error or "").split(":", 1)[0].strip()
                self.m.rejects.inc(reason=code if code.isidentifier() and len(code) <= 40 else "venue")
            self.market_of_asset[a.asset_id] = a.market
        self.last_plan[run.market] = {"plan_id": run.plan_id, "outcome": run.outcome, "acks": len(run.acks),
                                      "duration_ms": round(run.duration_ms, 2), "errors": run.errors[:3]}
        await self._publish_acks(run.acks)
        if run.acks:
            await self.publish_position(run.market)
        self.m.open_orders.labels(market=run.market).set(len(self.orders.of_market(run.market)))

    def _order_row(self, a: OrderAck) -> OrderRow:
        rec = self.orders.by_id.get(a.order_id or "")
        status = {"accepted": "live", "unknown": "unknown", "canceled": "canceled",
                  "not_canceled": "absent"}.get(a.status, a.status)
        end = "replaced" if a.action == "cancel" else None
        matched = rec.size_matched if rec is not None else Decimal(0)
        return OrderRow(a.order_id or "", a.market, a.asset_id, a.side or "BUY", a.price or Decimal(0),
                        a.size or Decimal(0), matched, status, self.backend, a.plan_id, a.client_id, end, a.error)

    async def _audit_dropped(self, plan: QuotePlan, why: Dropped) -> None:
        async with self.pool.acquire() as conn:
            await exec_repo.insert_audit(conn, AuditRow(plan.plan_id, plan.market, plan.model_dump(mode="json"), {},
                                                        [], [], why, 0.0))
        self.m.plans.inc(outcome=why)

    # --- publishing ---------------------------------------------------------------------------------------------
    async def _publish_acks(self, acks: list[OrderAck]) -> None:
        for a in acks:
            msg_id = f"{a.plan_id}:{a.action}:{a.order_id or a.client_id}:{a.status}"
            try:
                await self.bus.publish(subjects.order_ack(a.market), a, msg_id=msg_id)
            except Exception as exc:  # the audit row has it; an ack lost on the bus is not a lost order
                log.warning("ack not published", extra={"plan_id": a.plan_id, "error": repr(exc)})

    async def publish_position(self, market: str) -> None:
        now = self.clock_ms()
        seq = max(self._position_seq.get(market, 0) + 1, now * 1000)
        self._position_seq[market] = seq
        assets = {a for a, m in self.market_of_asset.items() if m == market}
        for a in assets:
            self.m.position.labels(market=market, asset_id=a).set(float(self.inventory.size(a)))
        msg = MarketPosition(
            market=market, seq=seq, ts_ms=now,
            positions=tuple(TokenPosition(asset_id=a, size=self.inventory.size(a),
                                          avg_price=self.inventory.holdings[a].avg_price
                                          if a in self.inventory.holdings else None) for a in sorted(assets)),
            open_orders=tuple(RestingOrder(order_id=o.order_id, asset_id=o.asset_id, side=o.side, price=o.price,
                                           size=o.remaining) for o in self.orders.of_market(market)))
        try:
            await self.bus.publish(subjects.position(market), msg, msg_id=f"{market}:{seq}")
        except Exception as exc:
            log.warning("position not published", extra={"market": market, "error": repr(exc)})

    # --- markets and the kill switch ----------------------------------------------------------------------------
    async def _on_market(self, msg: Msg) -> None:
        try:
            info = decode(msg.data)
        except DecodeError:
            return
        if isinstance(info, MarketInfo):
            self.terms[info.condition_id] = MarketTerms(neg_risk=info.neg_risk)
            for t in info.tokens:
                self.market_of_asset[t.token_id] = info.condition_id

    async def _on_kill_msg(self, msg: Msg) -> None:
        try:
            m = decode(msg.data)
        except DecodeError:
            return
        if isinstance(m, KillSwitch):
            await self.set_kill(m.engaged, m.reason)

    async def _on_cancel_all(self, msg: Msg) -> None:
        """``polybot cancel-all``: cancel now and answer how many (request/reply on core NATS)."""
        try:
            req = decode(msg.data)
        except DecodeError:
            return
        if not isinstance(req, CancelAllRequest):
            return
        error = None
        # what rested when asked: orders a running quoter's next plan places meanwhile are not "left over"
        before = {o.order_id for o in (self.orders.by_id.values() if req.market is None
                                       else self.orders.of_market(req.market))}
        try:
            canceled = await self.cancel_everything(f"cancel_all: {req.reason}", market=req.market)
        except Exception as exc:  # the operator must hear why, not a timeout
            canceled, error = 0, f"{type(exc).__name__}: {exc}"
        left = len(before & set(self.orders.by_id))
        if msg.reply:
            done = CancelAllDone(executor=self.gateway.name, canceled=canceled, open_orders=left, error=error)
            await self.bus.nc.publish(msg.reply, encode(done))

    async def _on_risk_request(self, msg: Msg) -> None:
        """``polybot risk [--clear]``: request/reply on core NATS."""
        try:
            req = decode(msg.data)
        except DecodeError:
            return
        if isinstance(req, RiskRequest) and msg.reply:
            await self.bus.nc.publish(msg.reply, encode(await self.risk.answer(req)))

    def lapsed_markets(self, now_ms: int) -> list[str]:
        """Markets with orders resting whose last target ran out ``target_lapse_grace_ms`` ago with no plan
        after it: a live quoter re-publishes before the TTL, so its silence means it is gone, and its
        quotes must not outlive it."""
        grace = self.cfg.target_lapse_grace_ms
        if grace is None:
            return []
        return sorted(m for m in self.orders.markets()
                      if (exp := self.target_expires_ms.get(m)) is not None and now_ms > exp + grace
                      and m not in self.inbox.waiting and self._idle(m))

    def _idle(self, market: str) -> bool:
        worker = self._workers.get(market)
        return worker is None or worker.done()

    async def set_kill(self, engaged: bool, reason: str) -> None:
        """Engage (cancel everything, hold every market) or clear the kill switch."""
        was = self.kill.engaged
        self.kill = KillState(engaged, reason, self.clock_ms())
        self.m.kill_engaged.set(1 if engaged else 0)
        if engaged:
            log.warning("kill switch engaged: cancelling every order", extra={"reason": reason})
            with contextlib.suppress(GatewayError):  # logged; the heartbeat lapse cancels at the venue anyway
                await self.cancel_everything("kill_switch")
        elif was:
            log.warning("kill switch cleared", extra={"reason": reason})

    async def cancel_everything(self, reason: str, market: str | None = None) -> int:
        """Cancel every order of ours at the venue (of ``market``, or all): the venue's cancel-all, then
        whatever we still had recorded is dropped (the venue no longer has it)."""
        # In flight: the venue's own word of these cancels (the user channel) must not read as its cancels.
        asked = [o for o in self.orders.by_id.values() if market is None or o.market == market]
        for o in asked:
            self.orders.set_state(o.order_id, "canceling")
        try:
            answer = await self.gateway.cancel_all(market)
        except GatewayError as exc:
            for o in asked:
                self.orders.set_state(o.order_id, o.state)
            log.error("cancel-all failed", extra={"reason": reason, "error": str(exc)})
            raise
        gone = self.orders.remove(answer.canceled)
        rest = self.orders.remove([o.order_id for o in list(self.orders.by_id.values())
                                   if market is None or o.market == market])
        rows = [OrderRow(r.order_id, r.market, r.asset_id, r.side, r.price, r.size, r.size_matched, "canceled",
                         self.backend, end_reason=reason) for r in [*gone, *rest]]
        async with self.pool.acquire() as conn:
            await exec_repo.upsert_orders(conn, rows)
        self.m.orders_canceled.inc(len(rows), reason=reason)
        for market in {r.market for r in rows}:
            self.m.open_orders.labels(market=market).set(0)
            await self.publish_position(market)
        return len(answer.canceled)

    # --- status -------------------------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        markets = sorted(self.orders.markets() | set(self.last_plan))
        return {
            "mode": self.backend,
            "gateway": self.gateway.name,
            "kill": {"engaged": self.kill.engaged, "reason": self.kill.reason, "since_ms": self.kill.since_ms},
            "halted": [{"scope": b.scope, "reason": b.reason} for b in self.guard.breaches.values()],
            "risk": self.risk.status(),
            "plans_seen": self.plans_seen,
            "open_orders": len(self.orders.by_id),
            "pnl_realized_usdc": str(self.inventory.realized_usdc()),
            "markets": {m: {"open_orders": len(self.orders.of_market(m)), "last_plan": self.last_plan.get(m)}
                        for m in markets},
            "positions": {a: str(h.size) for a, h in sorted(self.inventory.holdings.items()) if h.size},
            "down": self.supervisor.down(),
        }
