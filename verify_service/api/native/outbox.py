"""`GET /v1/test/messages` (test_mode only): what the capture provider "sent" to a number.
The route is not registered at all without test_mode, so production answers 404."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter

from verify_service.api.deps import bearer_service
from verify_service.config import ServiceSettings
from verify_service.usecases.outbox import Outbox


class OutboxMessageOut(msgspec.Struct, kw_only=True):
    to: str
    text: str
    at: datetime
    message_id: str


class OutboxOut(msgspec.Struct, kw_only=True):
    messages: list[OutboxMessageOut]


class TestMessagesController(Controller):
    path = "/v1/test/messages"
    tags = ["test mode"]
    security = [{"bearer": []}]
    dependencies = {"service": Provide(bearer_service, sync_to_thread=False)}

    @get(
        "/",
        summary="Messages the capture provider kept for a number, newest first (test_mode)",
        operation_id="testMessages",
    )
    async def messages(
        self,
        to: Annotated[str, QueryParameter(min_length=1, max_length=254)],
        service: NamedDependency[ServiceSettings],
        outbox: NamedDependency[Outbox],
    ) -> OutboxOut:
        # Any valid key may read: the outbox is per number, and only exists in test mode.
        return OutboxOut(
            messages=[
                OutboxMessageOut(to=m.to, text=m.text, at=m.at, message_id=m.message_id)
                for m in await outbox.messages(to)
            ]
        )
