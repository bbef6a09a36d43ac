"""Latency figures for benchmarks."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Figures:
    count: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0


def figures(latencies: list[float], seconds: float) -> Figures:
    ordered = sorted(latencies)
    if not ordered:
        return Figures(0, seconds, 0.0, 0.0)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000

    return Figures(len(ordered), seconds, pct(0.50), pct(0.99))
