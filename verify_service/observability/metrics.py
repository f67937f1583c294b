"""Prometheus metrics. One registry per app, so that tests and several apps in one process
do not share counters. Labels never carry a code, a key or a full number.

Conversion per country and channel is `verify_approvals_total` over `verify_starts_total`
(recorded as `service_country:verify_conversion:ratio1h` by deploy/prometheus; also
`verify_verifications_total{status="approved"}` over `{status="pending"}`).

With several worker processes (`serve --workers N`) each worker counts on its own; the
CLI then sets PROMETHEUS_MULTIPROC_DIR and `render()` adds up every worker's files, so one
scrape of any worker shows the whole instance."""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.multiprocess import MultiProcessCollector

from verify_service.domain.model import Status

# The `_created` timestamp series double the output and no dashboard of ours uses them.
disable_created_metrics()  # type: ignore[no-untyped-call]

# Provider send latencies: SMS APIs answer in 50 ms to several seconds.
SEND_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# verify_provider_breaker_state values, by the breaker's state (providers/breaker.py).
BREAKER_GAUGE = {"closed": 0, "half_open": 1, "open": 2}


def _multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.verifications = Counter(
            "verify_verifications_total",
            "Verification state changes, by service, provider (that sent the code), country "
            "and new status (pending = started).",
            ["service", "provider", "country", "status"],
            registry=r,
        )
        self.checks = Counter(
            "verify_checks_total",
            "Check outcomes (valid, invalid, replayed, or the status that refused the check).",
            ["service", "outcome"],
            registry=r,
        )
        self.sends = Counter(
            "verify_send_attempts_total",
            "Send attempts by provider and outcome (sent, retryable_error, permanent_error, "
            "recipient_invalid, internal_error; skipped = not tried: breaker open or no time).",
            ["provider", "outcome"],
            registry=r,
        )
        self.delivery_reports = Counter(
            "verify_delivery_reports_total",
            "Delivery reports received, by provider, status and effect (changed, unchanged, "
            "unknown).",
            ["provider", "status", "effect"],
            registry=self.registry,
        )
        self.send_seconds = Histogram(
            "verify_send_duration_seconds",
            "Time a provider took to accept or refuse a message, by provider and outcome.",
            ["provider", "outcome"],
            buckets=SEND_BUCKETS,
            registry=r,
        )
        # For the abuse limits: reason = rate_limited | fraud_suspected | country_not_allowed
        # | resend_too_soon | max_send_attempts | anything else that refuses a start.
        self.blocks = Counter(
            "verify_blocks_total",
            "Requests refused by abuse protection, by service, reason (a rate-limit layer, "
            "country_blocked, not_mobile, fraud_suspected, resend_too_soon, ...) and country.",
            ["service", "reason", "country"],
            registry=r,
        )
        self.breaker_state = Gauge(
            "verify_provider_breaker_state",
            "Circuit breaker of each provider: 0 closed, 1 half-open, 2 open.",
            ["provider"],
            registry=r,
            multiprocess_mode="max",
        )
        self.events = Counter(
            "verify_status_events_total",
            "Status callbacks, by service and outcome (delivered, failed, dropped).",
            ["service", "outcome"],
            registry=r,
        )
        self.requests = Counter(
            "verify_http_requests_total",
            "HTTP requests by method, route template and status.",
            ["method", "route", "status"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "verify_http_request_duration_seconds",
            "HTTP request duration by method and route template.",
            ["method", "route"],
            buckets=REQUEST_BUCKETS,
            registry=r,
        )
        self.fraud_guard_trips = Counter(
            "verify_fraud_guard_trips_total",
            "Number ranges the SMS pumping guard blocked for a cool-down, by service, "
            "country and range level (country, ndc, block_1m, block_10k, block_100).",
            ["service", "country", "level"],
            registry=self.registry,
        )
        self.fraud_operator_actions = Counter(
            "verify_fraud_operator_actions_total",
            "Operators' changes to the pumping guard, by service, action (lift, allow, "
            "unallow) and country of the range.",
            ["service", "action", "country"],
            registry=self.registry,
        )
        # The conversion dashboard (deploy/grafana/): starts, approvals and attempts by
        # service, country and channel, test numbers left out (they send nothing).
        self.starts = Counter(
            "verify_starts_total",
            "New verifications whose code went to a provider, by service, country, channel.",
            ["service", "country", "channel"],
            registry=r,
        )
        self.approvals = Counter(
            "verify_approvals_total",
            "Approved verifications (conversions) that had codes sent, by service, country "
            "and channel.",
            ["service", "country", "channel"],
            registry=r,
        )
        self.attempts = Counter(
            "verify_attempts_total",
            "Attempts in the attempt log by service, country, channel and status (sent, "
            "failed, refused).",
            ["service", "country", "channel", "status"],
            registry=r,
        )
        self.attempt_log_errors = Counter(
            "verify_attempt_log_errors_total",
            "Attempt log writes the store did not take (the request itself went on).",
            ["service"],
            registry=r,
        )

        # The labelled children in use, by metric and label values (see `child`).
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}

    def child(self, metric: MetricWrapperBase, *values: str) -> Any:
        """`metric.labels(*values)`, kept: prometheus_client's `labels` checks and converts
        the values and takes a lock on every call, and the request path asks for the same
        few children each time. Label values are bounded sets (routes, services,
        countries, outcomes), so is this cache."""
        key = (id(metric), values)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*values)
        return found

    def request_observed(self, method: str, route: str, status: int, seconds: float) -> None:
        """One HTTP request answered: `verify_http_requests_total` and its duration."""
        self.child(self.requests, method, route, str(status)).inc()
        self.child(self.request_seconds, method, route).observe(seconds)

    def render(self) -> bytes:
        directory = _multiprocess_dir()
        if directory is None:
            return generate_latest(self.registry)
        combined = CollectorRegistry()
        MultiProcessCollector(combined, path=directory)  # type: ignore[no-untyped-call]
        return generate_latest(combined)


class MetricsObserver:
    """The use cases' observer (`usecases.observer.VerificationObserver`, which includes
    `abuse.policy.AbuseObserver`, and `usecases.attempts.AttemptObserver`) writing to
    `metrics`."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def status_changed(self, service: str, provider: str, country: str, status: Status) -> None:
        self.metrics.child(
            self.metrics.verifications, service, provider, country, status.value
        ).inc()

    def check_outcome(self, service: str, outcome: str) -> None:
        self.metrics.child(self.metrics.checks, service, outcome).inc()

    def send_observed(self, provider: str, outcome: str, seconds: float | None) -> None:
        self.metrics.child(self.metrics.sends, provider, outcome).inc()
        if seconds is not None:
            self.metrics.child(self.metrics.send_seconds, provider, outcome).observe(seconds)

    def breaker_state(self, provider: str, state: str) -> None:
        self.metrics.child(self.metrics.breaker_state, provider).set(BREAKER_GAUGE[state])

    def report_applied(self, provider: str, status: str, effect: str) -> None:
        self.metrics.child(self.metrics.delivery_reports, provider, status, effect).inc()

    def blocked(self, service: str, reason: str, country: str) -> None:
        self.metrics.child(self.metrics.blocks, service, reason, country).inc()

    def fraud_guard_tripped(self, service: str, country: str, level: str) -> None:
        self.metrics.child(self.metrics.fraud_guard_trips, service, country, level).inc()

    def fraud_operator_action(self, service: str, action: str, country: str) -> None:
        self.metrics.child(self.metrics.fraud_operator_actions, service, action, country).inc()

    def attempt_recorded(self, service: str, country: str, channel: str, status: str) -> None:
        self.metrics.child(self.metrics.attempts, service, country, channel, status).inc()

    def verification_started(self, service: str, country: str, channel: str) -> None:
        self.metrics.child(self.metrics.starts, service, country, channel).inc()

    def verification_converted(self, service: str, country: str, channel: str) -> None:
        self.metrics.child(self.metrics.approvals, service, country, channel).inc()

    def attempt_log_failed(self, service: str) -> None:
        self.metrics.child(self.metrics.attempt_log_errors, service).inc()
