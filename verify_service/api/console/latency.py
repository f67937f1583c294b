"""Send latency quantiles from this process's `verify_send_duration_seconds` histogram,
interpolated within buckets as Prometheus's histogram_quantile() does."""

from __future__ import annotations

import math

from verify_service.observability.metrics import Metrics


def _buckets(metrics: Metrics, provider: str) -> list[tuple[float, float]]:
    counts: dict[float, float] = {}
    for family in metrics.send_seconds.collect():
        for sample in family.samples:
            if sample.name.endswith("_bucket") and sample.labels.get("provider") == provider:
                le = float(sample.labels["le"])
                counts[le] = counts.get(le, 0.0) + sample.value
    return sorted(counts.items())


def quantile(metrics: Metrics, provider: str, q: float) -> float | None:
    """Seconds below which a share `q` of `provider`'s sends finished; None without sends."""
    buckets = _buckets(metrics, provider)
    if not buckets or buckets[-1][1] == 0:
        return None
    rank = q * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (
                count - lower_count
            )
        lower_bound, lower_count = bound, count
    return lower_bound
