"""Prometheus metrics, one registry per process.

The runbook names its metrics exactly (``ingestion_msg_applied``, ``engine_execute_plan_count``…), and
prometheus_client would rename a counter to ``…_total``. ``ExactCounter`` keeps the runbook's name as the
sample name (exposed as ``untyped``, still monotonic, so ``rate()`` works on it).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

from prometheus_client import CollectorRegistry, Gauge, Histogram, generate_latest
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class ExactCounter(Collector):
    """A monotonic counter exposed under exactly ``name``, with optional labels."""

    def __init__(self, name: str, doc: str, labelnames: Sequence[str] = ()) -> None:
        self.name = name
        self.doc = doc
        self.labelnames = tuple(labelnames)
        self._values: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()
        if not self.labelnames:
            self._values[()] = 0.0

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        if amount < 0:
            raise ValueError("a counter only goes up")
        key = tuple(labels[n] for n in self.labelnames)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, **labels: str) -> float:
        """Current value for one label set, or the sum over all when no labels are given."""
        with self._lock:
            if labels or not self.labelnames:
                return self._values.get(tuple(labels[n] for n in self.labelnames), 0.0)
            return sum(self._values.values())

    def collect(self) -> Iterator[Metric]:
        metric = Metric(self.name, self.doc, "unknown")
        with self._lock:
            for key, val in self._values.items():
                metric.add_sample(self.name, dict(zip(self.labelnames, key, strict=True)), val)
        yield metric


class Metrics:
    """The process's registry and factories that register into it."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)

    def counter(self, name: str, doc: str, labelnames: Sequence[str] = ()) -> ExactCounter:
        c = ExactCounter(name, doc, labelnames)
        self.registry.register(c)
        return c

    def gauge(self, name: str, doc: str, labelnames: Sequence[str] = ()) -> Gauge:
        return Gauge(name, doc, labelnames=labelnames, registry=self.registry)

    def histogram(
        self, name: str, doc: str, labelnames: Sequence[str] = (), buckets: Sequence[float] | None = None
    ) -> Histogram:
        if buckets is None:
            return Histogram(name, doc, labelnames=labelnames, registry=self.registry)
        return Histogram(name, doc, labelnames=labelnames, registry=self.registry, buckets=buckets)

    def render(self) -> bytes:
        return generate_latest(self.registry)
