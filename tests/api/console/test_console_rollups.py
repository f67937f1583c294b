"""The Overview and Providers pages over the attempt log's roll-ups, on a real
redis-server: a start through the API shows on both at once (all workers' counters in
Redis, latency from the provider call); after an upgrade from a version without roll-ups
the Overview says from when it counts, while the older records stay on the Attempts page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from litestar.testing import TestClient

from tests.conftest import API_KEY, TAG_KEY, config
from tests.support.redis_server import RedisServer
from tests.support.reporting_websms import ReportingWebsms
from verify_service.api.app import create_app
from verify_service.config import settings_from_mapping
from verify_service.domain.attempts import Attempt
from verify_service.store import keys
from verify_service.store.attempts import new_id, pack
from verify_service.usecases.console_auth import hash_password

PASSWORD = "a long operator password"
HTTPS = "https://testserver.local"


def sign_in(client: TestClient[Any]) -> None:
    form = client.get("/console/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token is not None
    answer = client.post(
        "/console/login", data={"csrf": token.group(1), "name": "alice", "password": PASSWORD}
    )
    assert answer.status_code == 200, answer.text[:300]


def cell(html: str, selector_id: str) -> str:
    found = re.search(rf'<dd class="{selector_id}">([^<]*)</dd>', html)
    assert found is not None, selector_id
    return found.group(1)


def test_overview_and_providers_read_the_rollups(redis_server: RedisServer) -> None:
    raw = redis.Redis.from_url(redis_server.url)
    raw.flushdb()
    # a record from before the upgrade: in the log, not in any roll-up
    old_to = "+41791110000"
    old_at = datetime.now(UTC) - timedelta(days=2)
    old = Attempt(
        id=new_id(old_at),
        created_at=old_at,
        service="login",
        status="sent",
        to=old_to,
        country="CH",
        channel="sms",
        provider="capture",
        verification_id=keys.new_id(keys.tag_for(TAG_KEY, "login", old_to)),
        segments=1,
    )
    score, member = pack(old)
    raw.zadd(keys.attempts_log_key("login"), {member: score})

    users = [{"name": "alice", "password_hash": hash_password(PASSWORD), "services": ["*"]}]
    mapping = config(redis_url=redis_server.url, console={"users": users})
    app = create_app(settings_from_mapping(mapping, environ={}))
    with TestClient(app, base_url=HTTPS) as client:
        started = client.post(
            "/v1/verifications",
            json={"to": "+41791234567"},
            headers={"Authorization": f"Bearer {API_KEY}"},
        )
        assert started.status_code == 201, started.text
        sign_in(client)
        overview = client.get("/console/").text
        day = overview.split('id="window-day"')[1]
        assert cell(day, "starts") == "1"  # the new start only
        assert 'id="counting-since"' in overview
        providers = client.get("/console/providers").text
        row = re.search(r"<td>capture</td><td>(\d+)</td><td>(\d+)</td>.*?</tr>", providers, re.S)
        assert row is not None, providers
        assert (row.group(1), row.group(2)) == ("1", "0")
        assert re.search(r"<td>\d+ ms</td>", row.group(0)), row.group(0)  # p50 and p95
        listing = client.get("/console/attempts").text
        assert listing.count("+*******") == 2  # both records, old and new
    raw.close()


def delivery_row(html: str, provider: str) -> dict[str, str]:
    """The cells of `provider`'s row in the Providers page's delivery table, by class."""
    table = html.split('id="delivery"')[1].split("</table>")[0]
    row = re.search(rf"<td>{provider}</td>(.*?)</tr>", table, re.S)
    assert row is not None, table
    return dict(re.findall(r'<td class="([a-z-]+)">([^<]*)</td>', row.group(1)))


def test_delivery_reports_from_the_providers_fake_reach_providers(
    redis_server: RedisServer,
) -> None:
    """websms (a fake handing out a transferId per message) accepts three starts and
    reports through the real report endpoint: the first delivered (twice), the second
    expired and then delivered, out of order; the third has no report. One is approved:
    the Providers page shows accepted 3, delivered 2, undelivered 0, no report 1, a
    delivery rate of 100 % and one approval of three accepted sends."""
    redis.Redis.from_url(redis_server.url).flushdb()
    users = [{"name": "alice", "password_hash": hash_password(PASSWORD), "services": ["*"]}]
    with ReportingWebsms() as websms:
        mapping = config(
            redis_url=redis_server.url,
            console={"users": users},
            providers={"websms": websms.config("env:REPORTS")},
            service={"providers": ["websms"]},
        )
        settings = settings_from_mapping(mapping, environ={"REPORTS": "reports-0123456789abcdef"})
        app = create_app(settings)
        report = "/v1/providers/websms/reports/reports-0123456789abcdef"
        auth = {"Authorization": f"Bearer {API_KEY}"}
        with TestClient(app, base_url=HTTPS) as client:
            ids = []
            for to in ("+41791234567", "+41791234568", "+41791234569"):
                started = client.post("/v1/verifications", json={"to": to}, headers=auth)
                assert started.status_code == 201, started.text
                ids.append(started.json()["id"])
            first, second, _ = websms.sent
            for transfer_id, status in (
                (second, "delivered"),  # a late "delivered" overtakes...
                (second, "expired"),  # ... the "expired" sent before it: final
                (first, "delivered"),
                (first, "delivered"),
            ):
                answer = client.post(report, json=websms.notification(transfer_id, status))
                assert answer.status_code == 200, answer.text
            # the first one approved with the code websms was given for it
            text = websms.server.requests[0].json()["messageContent"]
            code = re.search(r"\d{4,}", text)
            assert code is not None, text
            checked = client.post(
                "/v1/verifications/check",
                json={"to": "+41791234567", "code": code.group(0)},
                headers=auth,
            )
            assert checked.json()["status"] == "approved", checked.text
            sign_in(client)
            cells = delivery_row(client.get("/console/providers").text, "websms")
    assert cells == {
        "accepted": "3",
        "delivered": "2",
        "undelivered": "0",
        "unreported": "1",
        "delivery-rate": "100.0 %",
        "report-time": "1 s / 1 s",
        "approvals": "1",
        "conversion": "33.3 %",
    }
