"""A websms fake that reports delivery as websms does: it answers sends as its documented
API does (tests/unit/providers/kinds/fakes.py `websms_api`, seed 002), each message with a
transferId of its own, and sends delivery reports to the service's callback URL — a POST
of websms's `deliveryReport` notification to `/v1/providers/<name>/reports/<secret>`, the
URL an operator gives websms — so a report takes the path a real one takes (HTTP, the
adapter's parse_reports, the store, the attempt log and its roll-ups)."""

from __future__ import annotations

import itertools
from typing import Any

import httpx

from tests.support.fake_http import FakeServer, Recorded, Reply
from tests.unit.providers.kinds.fakes import websms_api, websms_config


class ReportingWebsms:
    """`sent` holds the transferIds handed out, in order; `deliver` reports one."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self._ids = itertools.count(1)
        self.server = FakeServer(self._answer)

    def _answer(self, request: Recorded) -> Reply:
        reply = websms_api(request)
        if reply.status != 200 or reply.json.get("statusCode") != 2000:
            return reply
        transfer_id = f"00{next(self._ids):018d}"
        self.sent.append(transfer_id)
        return Reply(200, json={**reply.json, "transferId": transfer_id})

    def config(self, report_secret: str) -> dict[str, Any]:
        """The provider's table (its `report_secret` as given: an `env:` reference)."""
        return websms_config(self.server.url, report_secret=report_secret)

    def __enter__(self) -> ReportingWebsms:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    @staticmethod
    def notification(transfer_id: str, status: str) -> dict[str, Any]:
        """websms's delivery report body; `status` its word (delivered, expired, ...)."""
        return {
            "messageType": "deliveryReport",
            "notificationId": f"n-{transfer_id}-{status}",
            "transferId": transfer_id,
            "deliveryReportMessageStatus": status,
        }

    def deliver(self, callback_url: str, transfer_id: str, status: str = "delivered") -> None:
        """POST a report of `transfer_id` to the service, as websms would; the service must
        take it with websms's own acknowledgement."""
        answer = httpx.post(callback_url, json=self.notification(transfer_id, status), timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"statusCode": 2000, "statusMessage": "OK"}
