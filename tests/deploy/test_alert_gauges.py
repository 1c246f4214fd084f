"""The gauges the alert rules compare (added for them): per-market book freshness and the risk limits."""

from __future__ import annotations

from decimal import Decimal

from prometheus_client.parser import text_string_to_metric_families

from polybot.app.execute.metrics import ExecMetrics
from polybot.app.ingest.metrics import IngestMetrics
from polybot.domain.risk import RiskLimits
from polybot.runtime.metrics import Metrics


def _samples(m: Metrics, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {tuple(sorted(s.labels.items())): s.value for fam in text_string_to_metric_families(m.render().decode())
            for s in fam.samples if s.name == name}


def test_freshness_is_per_market_in_seconds_and_a_market_no_longer_followed_loses_its_series() -> None:
    m = Metrics()
    ingest = IngestMetrics.register(m)
    ingest.show_freshness({"0xa": 1_700_000_000_500, "0xb": 0})
    assert _samples(m, "ingestion_last_update_timestamp_seconds") == {
        (("market", "0xa"),): 1_700_000_000.5, (("market", "0xb"),): 0.0}
    ingest.show_freshness({"0xb": 1_700_000_001_000})
    assert _samples(m, "ingestion_last_update_timestamp_seconds") == {(("market", "0xb"),): 1_700_000_001.0}


def test_the_risk_limits_are_exported_beside_positions_and_pnl() -> None:
    m = Metrics()
    ExecMetrics.register(m).show_limits(RiskLimits(max_position=Decimal(250), max_daily_loss_usdc=Decimal("75.5")))
    assert _samples(m, "risk_max_position_shares") == {(): 250.0}
    assert _samples(m, "risk_max_daily_loss_usdc") == {(): 75.5}
