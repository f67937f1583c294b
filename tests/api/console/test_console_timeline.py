"""A verification's timeline on the console's Attempts page (issue 18): sends, delivery
reports (with their time and the provider's error code), checks and outcome, never a
code; from the attempt log alone once the verification's record is past its retention."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from tests.api.native.test_delivery_reports import ENV, PROVIDERS, SECRET_A
from tests.conftest import API_KEY, config
from tests.support.fake_providers import ScriptedProvider, fake_kinds
from verify_service.api.app import create_app
from verify_service.config import settings_from_mapping
from verify_service.store import keys
from verify_service.usecases.console_auth import hash_password

__all__ = ["fake_kinds"]
pytestmark = pytest.mark.usefixtures("fake_kinds")
PASSWORD = "a long operator password"
TO = "+41791234567"
HTTPS = "https://testserver.local"


@pytest.fixture
def client() -> Iterator[TestClient[Any]]:
    users = [{"name": "alice", "password_hash": hash_password(PASSWORD), "services": ["*"]}]
    mapping = config(
        providers=PROVIDERS, service={"providers": ["a", "b"]}, console={"users": users}
    )
    app = create_app(settings_from_mapping(mapping, environ=ENV))
    with TestClient(app, base_url=HTTPS) as c:
        form = c.get("/console/login")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token is not None
        data = {"csrf": token.group(1), "name": "alice", "password": PASSWORD}
        assert c.post("/console/login", data=data, follow_redirects=False).status_code == 303
        yield c


def timeline(page: str) -> str:
    found = re.search(r'<section class="card" id="timeline">(.*?)</section>', page, re.S)
    assert found is not None, page
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1)))


def test_the_timeline_shows_delivery_reports_never_a_code(client: TestClient[Any]) -> None:
    api = {"Authorization": f"Bearer {API_KEY}"}
    started = client.post("/v1/verifications", json={"to": TO}, headers=api)
    verification_id = started.json()["id"]
    provider = client.app.state["components"].providers["a"]
    assert isinstance(provider, ScriptedProvider)
    code = provider.last_code()
    body = [{"id": "a-1", "status": "undelivered", "detail": "EC_ABSENT_SUBSCRIBER"}]
    assert client.post(f"/v1/providers/a/reports/{SECRET_A}", json=body).status_code == 200

    page = client.get(f"/console/attempts?verification_id={verification_id}")
    assert page.status_code == 200
    events = timeline(page.text)
    assert "send sent a" in events
    assert "delivery report: undelivered a (EC_ABSENT_SUBSCRIBER)" in events
    assert "status pending" in events
    assert code not in page.text
    assert TO not in page.text  # masked: the search did not name the number
    # the report's time is in the listing too
    row = re.search(r"<tr>\s*<td>[^<]+</td>\s*<td class=\"number\">.*?</tr>", page.text, re.S)
    assert row is not None
    assert re.search(r"<td>\d\d:\d\d:\d\d</td>\s*</tr>", row.group(0)), row.group(0)

    checked = client.post("/v1/verifications/check", json={"to": TO, "code": code}, headers=api)
    assert checked.json()["status"] == "approved"
    client.post(f"/v1/providers/a/reports/{SECRET_A}", json=[{"id": "a-1", "status": "delivered"}])
    events = timeline(client.get(f"/console/attempts?verification_id={verification_id}").text)
    assert "delivery report: delivered a" in events
    assert "1 check(s)" in events
    assert "status approved" in events

    # Past the verification's retention (its key expired), its attempts tell the story.
    store = client.app.state["components"].store
    tag = keys.tag_of_id(verification_id)
    assert tag is not None
    gone = client.blocking_portal.call(
        store.client.delete, keys.verification_key(tag, verification_id)
    )
    assert gone == 1
    page = client.get(f"/console/attempts?verification_id={verification_id}")
    events = timeline(page.text)
    assert "past its retention" in events
    assert "send sent a" in events
    assert "delivery report: delivered a" in events
    assert "outcome approved (converted)" in events
    assert code not in page.text
