"""Twilio's official Node SDK (npm `twilio`, pinned in node/package-lock.json) against the
service under a real uvicorn: create -> check wrong -> check right -> fetch -> cancel, the
service resource and list, and the error cases, each as the SDK reports it.

Needs `node` and `npm ci --prefix tests/api/twilio/node` (CI runs it: .ci/run). Skipped with
the reason when either is missing, unless VERIFY_TEST_REQUIRE_NODE=1 (then it fails)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import API_KEY, config
from tests.support.live_server import serve
from verify_service.api.app import create_app
from verify_service.config import settings_from_mapping

NODE_PROJECT = Path(__file__).parent / "node"
REQUIRE = os.environ.get("VERIFY_TEST_REQUIRE_NODE") == "1"
TO = "+41791717001"


def _node_or_skip() -> str:
    node = shutil.which("node")
    reason = None
    if node is None:
        reason = "node is not on PATH"
    elif not (NODE_PROJECT / "node_modules" / "twilio" / "package.json").exists():
        reason = "the Twilio Node SDK is not installed: npm ci --prefix tests/api/twilio/node"
    if reason:
        if REQUIRE:
            pytest.fail(f"{reason} and VERIFY_TEST_REQUIRE_NODE=1")
        pytest.skip(reason)
    assert node is not None
    return node


def _installed_version() -> str:
    package = json.loads((NODE_PROJECT / "node_modules" / "twilio" / "package.json").read_text())
    return str(package["version"])


def test_the_lock_file_pins_the_sdk() -> None:
    lock = json.loads((NODE_PROJECT / "package-lock.json").read_text())
    pinned = json.loads((NODE_PROJECT / "package.json").read_text())["dependencies"]["twilio"]
    assert lock["packages"]["node_modules/twilio"]["version"] == pinned
    assert lock["packages"]["node_modules/twilio"]["integrity"].startswith("sha512-")


def _run_flow(node: str) -> dict[str, Any]:
    settings = settings_from_mapping(config(), environ={})
    service = settings.services[0]
    with serve(create_app(settings)) as base_url:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "VERIFY_BASE_URL": base_url,
            "TWILIO_ACCOUNT_SID": service.twilio_account_sid,
            "TWILIO_AUTH_TOKEN": API_KEY,
            "TWILIO_SERVICE_SID": service.twilio_service_sid,
            "TEST_NUMBER": TO,
        }
        done = subprocess.run(
            [node, str(NODE_PROJECT / "flow.mjs")],
            cwd=NODE_PROJECT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["service"] = service
    return result


def test_the_node_sdk_flow_and_errors() -> None:
    node = _node_or_skip()
    result = _run_flow(node)
    steps = {s["name"]: s for s in result["steps"]}
    service = result["service"]
    print(f"\ntwilio-node {_installed_version()}: {len(steps)} calls")

    for name in ("create", "check_wrong", "check_right", "fetch", "create_again", "cancel"):
        assert steps[name]["ok"], (name, steps[name])
    created = steps["create"]["value"]
    assert (created["status"], created["valid"], created["to"]) == ("pending", False, TO)
    assert created["channel"] == "sms"
    assert created["send_code_attempts"][0]["channel"] == "SMS"
    # The SDK parsed our dates into Date objects: they must be now, not 1970 or NaN.
    made = datetime.fromisoformat(created["date_created"])
    assert abs(made - datetime.now(UTC)) < timedelta(minutes=5)
    assert steps["check_wrong"]["value"]["status"] == "pending"
    assert steps["check_wrong"]["value"]["valid"] is False
    assert steps["check_right"]["value"]["status"] == "approved"
    assert steps["check_right"]["value"]["valid"] is True
    assert steps["fetch"]["value"]["status"] == "approved"
    assert steps["fetch"]["value"]["sid"] == created["sid"]
    assert steps["cancel"]["value"]["status"] == "canceled"
    assert steps["create_again"]["value"]["sid"] != created["sid"]
    assert steps["fetch_service"]["value"] == {
        "sid": service.twilio_service_sid,
        "friendly_name": "login",
        "code_length": 6,
    }
    assert steps["list_services"]["value"] == [service.twilio_service_sid]

    expected_errors = {
        "error_check_after_cancel": (404, 20404),
        "error_unknown_sid": (404, 20404),
        "error_bad_channel": (400, 60200),
        "error_bad_number": (400, 60200),
        "error_bad_status": (400, 60200),
        "error_wrong_token": (401, 20003),
        "error_other_service": (404, 20404),
        "error_create_service": (405, 20004),
        "error_delete_service": (405, 20004),
        "error_unsupported": (400, 60204),
    }
    for name, (status, code) in expected_errors.items():
        step = steps[name]
        assert not step["ok"], (name, step)
        error = step["error"]
        assert error["rest_exception"], (name, error)  # `catch (e instanceof RestException)`
        assert (error["status"], error["code"]) == (status, code), (name, error)
        assert error["message"], (name, error)
        assert error["more_info"] == f"https://www.twilio.com/docs/errors/{code}", (name, error)
    assert "configuration file" in steps["error_create_service"]["error"]["message"]
