"""Prometheus metrics. One registry per app, so that tests and several apps in one process
do not share counters. Labels never carry a code, a key or a full number."""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

# The `_created` timestamp series double the output and no dashboard of ours uses them.
disable_created_metrics()  # type: ignore[no-untyped-call]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.verifications = Counter(
            "verify_verifications_total",
            "Verification state changes, by service, country and new status.",
            ["service", "country", "status"],
            registry=self.registry,
        )
        self.checks = Counter(
            "verify_checks_total",
            "Check outcomes (valid, invalid, or the status that refused the check).",
            ["service", "outcome"],
            registry=self.registry,
        )
        self.sends = Counter(
            "verify_send_attempts_total",
            "Send attempts by provider and outcome.",
            ["provider", "outcome"],
            registry=self.registry,
        )
        self.send_seconds = Histogram(
            "verify_send_duration_seconds",
            "Time a provider took to accept or refuse a message.",
            ["provider"],
            registry=self.registry,
        )

        self.abuse_refusals = Counter(
            "verify_abuse_refusals_total",
            "Requests refused by abuse protection, by service and reason "
            "(rate limit layer, country_not_allowed, not_mobile, fraud_suspected).",
            ["service", "reason"],
            registry=self.registry,
        )
        self.fraud_guard_trips = Counter(
            "verify_fraud_guard_trips_total",
            "Times the SMS pumping guard blocked a country for a cool-down.",
            ["service", "country"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
