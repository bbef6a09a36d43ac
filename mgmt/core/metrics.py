"""Prometheus metrics of the runtime, on a registry owned by the process (no globals)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class BusMetrics:
    """Counters of the bus and partition runtime; one instance per process."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry or CollectorRegistry()
        self.handled = Counter(
            "zcloud_messages_handled_total", "Messages handled", ["type"], registry=r
        )
        self.failed = Counter(
            "zcloud_messages_failed_total", "Handlers that failed", ["type"], registry=r
        )
        self.dead_lettered = Counter(
            "zcloud_messages_dead_lettered_total",
            "Messages sent to the dead-letter queue",
            ["reason"],
            registry=r,
        )
        self.latency = Histogram(
            "zcloud_handler_seconds",
            "Handler latency",
            ["type"],
            registry=r,
            buckets=_LATENCY_BUCKETS,
        )
        self.partitions_owned = Gauge(
            "zcloud_partitions_owned", "Partitions this node consumes", registry=r
        )
        self.queue_depth = Gauge(
            "zcloud_queue_depth",
            "Messages waiting in owned partitions: broker ready count plus local backlog",
            registry=r,
        )
        self.published = Counter(
            "zcloud_messages_published_total", "Messages published", ["kind"], registry=r
        )
