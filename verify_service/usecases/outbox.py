"""The test outbox use case (test_mode only): capture providers record what they would
have sent, and tests read it back by number through `GET /v1/test/messages`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from verify_service.domain.errors import VerifyError
from verify_service.domain.phones import PhoneNumberError, parse_phone
from verify_service.domain.timestamps import rfc3339
from verify_service.providers.base import Provider
from verify_service.providers.kinds.capture import CapturedMessage, CaptureProvider
from verify_service.store.outbox import OutboxStore


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    to: str
    text: str
    at: datetime
    message_id: str


class Outbox:
    def __init__(self, store: OutboxStore, default_region: str) -> None:
        self.store = store
        self.default_region = default_region

    def attach(self, providers: Mapping[str, Provider]) -> None:
        """Make every capture provider record into this outbox."""
        for provider in providers.values():
            if isinstance(provider, CaptureProvider):
                provider.sink = self.record

    async def record(self, message: CapturedMessage) -> None:
        await self.store.push(
            message.to,
            {
                "to": message.to,
                "text": message.text,
                "at": rfc3339(message.at),
                "message_id": message.message_id,
            },
        )

    async def messages(self, to: str) -> list[OutboxMessage]:
        """Newest first."""
        try:
            e164 = parse_phone(to, self.default_region).e164
        except PhoneNumberError as exc:
            raise VerifyError("invalid_phone_number", str(exc)) from None
        return [
            OutboxMessage(
                to=m["to"],
                text=m["text"],
                at=datetime.fromisoformat(m["at"]),
                message_id=m["message_id"],
            )
            for m in await self.store.newest_first(e164)
        ]
