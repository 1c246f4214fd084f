"""The executor's metrics, by the runbook's names (``orders_placed``, ``orders_filled``,
``engine_execute_plan_ms_sum`` and ``engine_execute_plan_count``) and the operator's others.

``engine_execute_plan_ms`` is a histogram (its quantiles matter); it exports ``_ms_sum`` and ``_ms_count``, so the
runbook's ``engine_execute_plan_count`` is a counter of its own beside it, raised with every observation."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import Gauge, Histogram

from polybot.domain.risk import RiskLimits
from polybot.runtime.metrics import ExactCounter, Metrics

PLAN_OUTCOMES = ("executed", "partial", "failed", "halted", "superseded", "expired", "stale")


@dataclass(frozen=True, slots=True)
class ExecMetrics:
    orders_placed: ExactCounter
    orders_filled: ExactCounter
    orders_canceled: ExactCounter
    rejects: ExactCounter
    plans: ExactCounter
    execute_plan_ms: Histogram
    execute_plan_count: ExactCounter
    open_orders: Gauge
    position: Gauge
    realized_pnl: Gauge
    unrealized_pnl: Gauge
    day_pnl: Gauge
    unmarked: Gauge
    heartbeat_failures: ExactCounter
    kill_engaged: Gauge
    halted: Gauge
    reconcile_fixes: ExactCounter
    user_bad_frames: ExactCounter
    max_position: Gauge
    max_daily_loss: Gauge

    @classmethod
    def register(cls, m: Metrics) -> ExecMetrics:
        out = cls(
            orders_placed=m.counter("orders_placed", "Orders the venue accepted (or paper rested)", ["market"]),
            orders_filled=m.counter("orders_filled", "Fills of our orders (one per trade)", ["market"]),
            orders_canceled=m.counter("orders_canceled", "Our orders cancelled", ["reason"]),
            rejects=m.counter("order_rejects", "Order actions refused by the venue or by our risk limits",
                              ["reason"]),
            plans=m.counter("exec_plans", "Quote plans handled, by outcome", ["outcome"]),
            execute_plan_ms=m.histogram("engine_execute_plan_ms", "Time to execute one quote plan (ms)",
                                        buckets=(1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000)),
            execute_plan_count=m.counter("engine_execute_plan_count", "Quote plans executed (the runbook's name; "
                                                                      "engine_execute_plan_ms_count is the same)"),
            open_orders=m.gauge("open_orders", "Our orders resting now", ["market"]),
            position=m.gauge("position_shares", "Shares held per token", ["market", "asset_id"]),
            realized_pnl=m.gauge("pnl_realized_usdc", "Realized PnL, fees included (USDC)"),
            unrealized_pnl=m.gauge("pnl_unrealized_usdc", "Unrealized PnL at the midpoint (USDC)"),
            day_pnl=m.gauge("pnl_day_usdc", "The UTC day's PnL marked at the midpoint, fees included (USDC): "
                                            "what risk.max_daily_loss_usdc is checked against"),
            unmarked=m.gauge("risk_unmarked_tokens", "Tokens held (now or at the day's start) with no live book to "
                                                     "mark them: left out of pnl_day_usdc"),
            heartbeat_failures=m.counter("heartbeat_failures", "Venue heartbeats that failed"),
            kill_engaged=m.gauge("kill_switch_engaged", "1 while the kill switch is engaged"),
            halted=m.gauge("risk_halted", "1 while a risk breach halts the scope", ["scope"]),
            reconcile_fixes=m.counter("reconcile_fixes", "Differences with the venue corrected", ["kind"]),
            user_bad_frames=m.counter("user_channel_bad_frames", "User-channel frames not of the venue's shape "
                                                                 "(logged and skipped)"),
            max_position=m.gauge("risk_max_position_shares", "The per-token position cap (risk.max_position)"),
            max_daily_loss=m.gauge("risk_max_daily_loss_usdc", "The daily loss limit (risk.max_daily_loss_usdc)"),
        )
        for outcome in PLAN_OUTCOMES:
            out.plans.inc(0, outcome=outcome)
        for kind in ("orphan", "absent", "confirmed", "matched"):
            out.reconcile_fixes.inc(0, kind=kind)
        out.heartbeat_failures.inc(0)
        out.user_bad_frames.inc(0)
        out.kill_engaged.set(0)
        out.halted.labels(scope="*").set(0)  # the all-markets scope exists before any breach (alerts compare it)
        return out

    def show_limits(self, limits: RiskLimits) -> None:
        """Export the limits beside the values they bound, so that an alert compares the two (near the cap)."""
        self.max_position.set(float(limits.max_position))
        self.max_daily_loss.set(float(limits.max_daily_loss_usdc))
