"""Every action of the console needs the session's CSRF token, stays within the
operator's services, and is in the log with who did it (issue 18); the test outbox, kept
per number for every service, only for operators of all services."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from tests.api.console.test_console_auth import HTTPS, PASSWORD, app_with, password_hash, sign_in
from tests.conftest import API_KEY, config
from verify_service.api.app import create_app
from verify_service.config import settings_from_mapping

__all__ = ["password_hash"]  # the fixture

ACTIONS = [
    ("/console/logout", {}),
    ("/console/fraud/lift", {"service": "login", "range": "+4915211"}),
    ("/console/fraud/allow", {"service": "login", "range": "+4915211"}),
    ("/console/fraud/unallow", {"service": "login", "range": "+4915211"}),
]


@pytest.fixture
def app(password_hash: str) -> Any:
    return app_with(password_hash, login_limits=["100/minute"])


@pytest.fixture
def client(app: Any) -> Iterator[TestClient[Any]]:
    with TestClient(app, base_url=HTTPS) as c:
        yield c


def csrf_of(client: TestClient[Any], page: str = "/console/fraud?service=login") -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get(page).text)
    assert found is not None
    return found.group(1)


def allowed(client: TestClient[Any]) -> str:
    page = client.get("/console/fraud?service=login")
    found = re.search(r'<table id="allowed">(.*?)</table>', page.text, re.S)
    assert found is not None
    return found.group(1)


@pytest.mark.parametrize(("path", "form"), ACTIONS)
@pytest.mark.parametrize("token", [None, "", "forged-0123456789"])
def test_every_action_needs_the_sessions_csrf_token(
    client: TestClient[Any], path: str, form: dict[str, str], token: str | None
) -> None:
    assert sign_in(client, "alice", PASSWORD).status_code == 303
    data = form if token is None else {**form, "csrf": token}
    refused = client.post(path, data=data, follow_redirects=False)
    assert refused.status_code == 403
    assert "CSRF" in refused.text
    assert "+4915211" not in allowed(client)  # nothing was done...
    assert client.get("/console/", follow_redirects=False).status_code == 200  # still in


def test_actions_stay_within_the_operators_services(client: TestClient[Any]) -> None:
    assert sign_in(client, "bob", PASSWORD).status_code == 303  # bob: service "other"
    token = csrf_of(client, "/console/fraud?service=other")
    answer = client.post(
        "/console/fraud/allow",
        data={"csrf": token, "service": "login", "range": "+4915211"},
        follow_redirects=False,
    )
    assert answer.status_code == 404
    client.post("/console/logout", data={"csrf": token})
    assert sign_in(client, "alice", PASSWORD).status_code == 303
    assert "+4915211" not in allowed(client)


def test_each_action_is_logged_with_who(
    client: TestClient[Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    assert sign_in(client, "alice", PASSWORD).status_code == 303
    for action in ("allow", "unallow"):
        token = csrf_of(client)
        done = client.post(
            f"/console/fraud/{action}",
            data={"csrf": token, "service": "login", "range": "+4915211"},
            follow_redirects=False,
        )
        assert done.status_code == 303
        assert done.headers["location"].endswith(f"done={action}")
    client.post("/console/logout", data={"csrf": csrf_of(client)})
    lines = [r for r in caplog.records if getattr(r, "actor", None)]
    said = [(r.getMessage(), r.actor) for r in lines]  # type: ignore[attr-defined]
    assert ("console: alice signed in", "alice") in said
    assert (
        "fraud guard: console:alice allow-listed +4915211 for service 'login'",
        "console:alice",
    ) in said
    assert (
        "fraud guard: console:alice took +4915211 off the allow-list of service 'login'",
        "console:alice",
    ) in said
    assert ("console: alice signed out", "alice") in said
    assert all(r.created > 0 for r in lines)  # when: every record carries its time


def test_the_test_outbox_is_for_operators_of_every_service(password_hash: str) -> None:
    users = [
        {"name": "alice", "password_hash": password_hash, "services": ["login"]},
        {"name": "root", "password_hash": password_hash, "services": ["*"]},
    ]
    with TestClient(app_with(password_hash, users=users), base_url=HTTPS) as c:
        api = {"Authorization": f"Bearer {API_KEY}"}
        assert c.post("/v1/verifications", json={"to": "+41791234567"}, headers=api).is_success
        assert sign_in(c, "alice", PASSWORD).status_code == 303
        assert "Test outbox" not in c.get("/console/").text
        refused = c.get("/console/outbox?to=%2B41791234567")
        assert refused.status_code == 403
        assert "code is" not in refused.text
        c.post("/console/logout", data={"csrf": csrf_of(c)})
        assert sign_in(c, "root", PASSWORD).status_code == 303
        assert "Test outbox" in c.get("/console/").text
        assert "code is" in c.get("/console/outbox?to=%2B41791234567").text


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/console/attempts?since=garbage", 400, "since is not a date and time"),
        ("/console/attempts?status=bogus", 400, "unknown status"),
        ("/console/attempts?country=XX", 400, "unknown country"),
        ("/console/attempts?cursor=zz", 400, "the cursor is malformed"),
        ("/console/attempts?to=abc", 400, "is not a phone number"),
        ("/console/attempts?since=2024-05-02&until=2024-05-01", 400, "must be after"),
        ("/console/fraud?service=nope", 404, "No such service among yours"),
        ("/console/login?expired=maybe", 200, "Please sign in again"),
        ("/console/login/once?token=" + "a" * 5000, 401, "unknown or was used already"),
    ],
)
def test_bad_input_is_a_page_that_says_why(
    client: TestClient[Any], path: str, status: int, says: str
) -> None:
    assert sign_in(client, "alice", PASSWORD).status_code == 303
    answer = client.get(path)
    assert answer.status_code == status
    assert answer.headers["content-type"].startswith("text/html")
    assert says in answer.text


def test_without_test_mode_there_is_no_test_outbox(password_hash: str) -> None:
    users = [{"name": "root", "password_hash": password_hash, "services": ["*"]}]
    mapping = config(
        test_mode=False,
        providers={"console": {"kind": "console"}},
        service={"providers": ["console"]},
        console={"users": users},
    )
    with TestClient(create_app(settings_from_mapping(mapping, environ={})), base_url=HTTPS) as c:
        assert sign_in(c, "root", PASSWORD).status_code == 303
        assert "Test outbox" not in c.get("/console/").text
        gone = c.get("/console/outbox?to=%2B41791234567")
        assert gone.status_code == 404
        assert "only with test_mode" in gone.text
