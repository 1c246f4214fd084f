"""The quoter's metrics (names as docs/quoting.md lists them)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from prometheus_client import Gauge, Histogram

from polybot.domain.quote_inputs import REASONS
from polybot.runtime.metrics import ExactCounter, Metrics

# Book message received → plan acknowledged by JetStream, in ms: a plan is worth little if it is late.
LATENCY_BUCKETS_MS = (0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 1000.0)
DESELECTED = "deselected"  # a quoted market left the set (no longer selected for making): its quotes pulled
SHUTDOWN = "shutdown"  # the quoter is stopping: what it quoted is pulled rather than left to its TTL


@dataclass(frozen=True, slots=True)
class QuoteMetrics:
    emitted: ExactCounter
    suppressed: ExactCounter
    pulled: ExactCounter
    publish_failures: ExactCounter
    crossed: ExactCounter
    latency_ms: Histogram
    inventory: Gauge
    reward_score: Gauge
    markets: Gauge
    last_plan: Gauge

    @classmethod
    def register(cls, metrics: Metrics) -> QuoteMetrics:
        m = cls(
            emitted=metrics.counter("quotes_emitted", "Quote targets (with orders) published"),
            suppressed=metrics.counter("quotes_suppressed", "Decisions that published no quote, by reason "
                                                            "(a pull or a hold)", ["reason"]),
            pulled=metrics.counter("quotes_pulled", "Empty targets (pull every quote) published, by reason",
                                   ["reason"]),
            publish_failures=metrics.counter("quote_publish_failures", "Plans JetStream did not acknowledge "
                                                                       "(the market is decided afresh)"),
            crossed=metrics.counter("quotes_crossed", "Targets refused because they would cross or lock the book "
                                                      "or themselves (must stay 0: the pricing rules forbid it)"),
            latency_ms=metrics.histogram("quote_latency_ms", "Book message received to plan published (ms)",
                                         buckets=LATENCY_BUCKETS_MS),
            inventory=metrics.gauge("quote_inventory", "Our inventory per market in the YES frame "
                                                       "(YES shares minus NO shares)", ["market"]),
            reward_score=metrics.gauge("quote_reward_score", "Our liquidity-reward score per market (Q_min of "
                                                             "the last target; 0 when it does not qualify)",
                                       ["market"]),
            markets=metrics.gauge("quote_markets", "Markets the quoter quotes, by state", ["state"]),
            last_plan=metrics.gauge("quote_last_plan_timestamp_seconds", "When the market's last plan was published "
                                                                         "(before its first: when it was taken on)",
                                    ["market"]),
        )
        for reason in (*REASONS, DESELECTED, SHUTDOWN):  # every reason shows at 0 before it first happens
            m.suppressed.inc(0, reason=reason)
            m.pulled.inc(0, reason=reason)
        return m

    def forget(self, market: str) -> None:
        for gauge in (self.inventory, self.reward_score, self.last_plan):
            with contextlib.suppress(KeyError):
                gauge.remove(market)
