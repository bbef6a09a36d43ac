"""Prometheus metrics of the flow engine and the GC queue (on the process's registry)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_BUCKETS = (0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120)


class FlowMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = registry or CollectorRegistry()
        self.started = Counter(
            "zcloud_flows_started_total", "Flow runs started", ["flow"], registry=r
        )
        self.finished = Counter(
            "zcloud_flows_finished_total", "Flow runs ended", ["flow", "state"], registry=r
        )
        self.taken_over = Counter(
            "zcloud_flows_taken_over_total",
            "Runs taken over from a dead node",
            ["flow"],
            registry=r,
        )
        self.running = Gauge("zcloud_flows_running", "Flow runs in progress here", registry=r)
        self.steps = Counter(
            "zcloud_flow_steps_total",
            "Step attempts by outcome (ok, retry, failed)",
            ["flow", "step", "phase", "outcome"],
            registry=r,
        )
        self.step_seconds = Histogram(
            "zcloud_flow_step_seconds",
            "Step duration",
            ["flow", "phase"],
            registry=r,
            buckets=_BUCKETS,
        )
        self.gc_enqueued = Counter(
            "zcloud_gc_enqueued_total",
            "Failed rollbacks handed to the GC queue",
            ["flow", "step"],
            registry=r,
        )
        self.gc_done = Counter("zcloud_gc_done_total", "GC jobs that succeeded", registry=r)
        self.gc_failed = Counter(
            "zcloud_gc_attempts_failed_total", "GC attempts that failed", registry=r
        )
