"""deploy/prometheus and deploy/grafana: the rules pass `promtool check rules` (Debian
package `prometheus`; skipped without it unless VERIFY_TEST_REQUIRE_PROMTOOL=1, as CI sets),
and every expression of the rules and of the dashboard names only metrics the app exports
or series the rules record, so a renamed metric fails here instead of going blank."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from verify_service.observability.metrics import Metrics

DEPLOY = Path(__file__).parents[3] / "deploy"
RULES = DEPLOY / "prometheus" / "verify-service.rules.yml"
DASHBOARD = DEPLOY / "grafana" / "verify-service.json"
CASES = Path(__file__).parent / "promtool" / "rules_test.yml"

# Our metric names and recording rule names (level:metric:operations); PromQL functions
# and label names never contain `verify`.
_NAME = re.compile(r"\b(?:[a-z_]+:)?verify_[a-z0-9_]+(?::[a-z0-9_]+)?\b")


def exported() -> set[str]:
    """Every series name the app exports: counters with `_total`, histograms with their
    `_bucket`, `_sum` and `_count`."""
    names: set[str] = set()
    for family in Metrics().registry.collect():
        names.add(family.name)
        if family.type == "counter":
            names.add(family.name + "_total")
        if family.type == "histogram":
            names |= {family.name + s for s in ("_bucket", "_sum", "_count")}
    return names


def rule_groups() -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = yaml.safe_load(RULES.read_text())["groups"]
    return groups


def recorded() -> set[str]:
    return {r["record"] for g in rule_groups() for r in g["rules"] if "record" in r}


def dashboard_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        query = variable.get("query")
        if isinstance(query, dict):
            exprs.append(query["query"])
    return exprs


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("VERIFY_TEST_REQUIRE_PROMTOOL") == "1":
            pytest.fail("promtool is required (apt-get install prometheus)")
        pytest.skip("promtool not installed (Debian package `prometheus`)")
    return found


def test_promtool_accepts_the_rules() -> None:
    result = subprocess.run(
        [promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_alerts_fire_on_their_series_and_only_then() -> None:
    """`promtool test rules` on synthetic series (promtool/rules_test.yml): undelivered
    delivery reports, failing sends and a conversion drop each fire their alert with the
    documented labels and text, and stay quiet below the volume or the threshold."""
    result = subprocess.run(
        [promtool(), "test", "rules", CASES.name],
        capture_output=True,
        text=True,
        check=False,
        cwd=CASES.parent,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_rule_expressions_name_existing_series() -> None:
    known = exported() | recorded()
    for group in rule_groups():
        for rule in group["rules"]:
            names = set(_NAME.findall(rule["expr"]))
            assert names, rule
            assert names <= known, (rule.get("record") or rule.get("alert"), names - known)


def test_the_dashboard_parses_and_names_existing_series() -> None:
    known = exported() | recorded()
    exprs = dashboard_exprs()
    assert len(exprs) >= 10
    used: set[str] = set()
    for expr in exprs:
        names = set(_NAME.findall(expr))
        assert names, expr
        assert names <= known, (expr, names - known)
        used |= names
    # what the conversion dashboard is for: starts, approvals, attempts, their rules
    assert {"verify_starts_total", "verify_approvals_total", "verify_attempts_total"} <= used
    assert "service_country:verify_conversion:ratio1h" in used


def test_the_alerts_the_issue_asks_for() -> None:
    alerts = {r["alert"] for g in rule_groups() for r in g["rules"] if "alert" in r}
    assert {
        "VerifyConversionDrop",
        "VerifyProviderFailureRate",
        "VerifyProviderUndelivered",
        "VerifyFraudGuardTripped",
        "VerifyStoreErrors",
    } <= alerts


def test_a_missing_metric_would_be_caught() -> None:
    """The check itself can fail: a misspelt name is not among the known ones."""
    known = exported() | recorded()
    assert not set(_NAME.findall("rate(verify_start_total[5m])")) <= known
