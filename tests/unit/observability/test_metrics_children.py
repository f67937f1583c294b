"""`Metrics.child`: the labelled children the hot path uses, kept, counting into the same
series as `labels()` does."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from verify_service.observability.metrics import Metrics

words = st.text(alphabet="abcdefghij_+/{}", min_size=1, max_size=8)


def value(metrics: Metrics, name: str, labels: dict[str, str]) -> float:
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return 0.0


@given(keys=st.lists(st.tuples(words, words, st.sampled_from(["200", "201", "404"])), max_size=8))
def test_children_are_kept_and_count_where_labels_would(
    keys: list[tuple[str, str, str]],
) -> None:
    metrics = Metrics()
    for method, route, status in keys:
        child = metrics.child(metrics.requests, method, route, status)
        assert child is metrics.child(metrics.requests, method, route, status)
        assert child is metrics.requests.labels(method, route, status)
        child.inc()
    for method, route, status in set(keys):
        labels = {"method": method, "route": route, "status": status}
        assert value(metrics, "verify_http_requests_total", labels) == keys.count(
            (method, route, status)
        )


def test_the_same_values_on_two_metrics_are_two_children() -> None:
    metrics = Metrics()
    metrics.child(metrics.starts, "s", "CH", "sms").inc()
    metrics.child(metrics.approvals, "s", "CH", "sms").inc(2)
    labels = {"service": "s", "country": "CH", "channel": "sms"}
    assert value(metrics, "verify_starts_total", labels) == 1
    assert value(metrics, "verify_approvals_total", labels) == 2
