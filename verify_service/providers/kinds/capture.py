"""`capture`: keeps messages instead of sending them, for the test outbox."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar

from verify_service.providers.base import (
    ALL_CHANNELS,
    OutgoingMessage,
    Provider,
    ProviderError,
    ProviderOptions,
    SendResult,
)


@dataclass(frozen=True, slots=True)
class CapturedMessage:
    to: str
    text: str
    at: datetime
    message_id: str
    channel: str = "sms"
    subject: str | None = None  # email only
    html: str | None = None  # email only


class CaptureProvider(Provider):
    kind = "capture"
    local: ClassVar[bool] = True
    channels: ClassVar[frozenset[str]] = ALL_CHANNELS
    MAX_KEPT = 1000  # a test outbox, not a log: old messages fall off

    def __init__(self, name: str, options: ProviderOptions) -> None:
        super().__init__(name, options)
        self.messages: list[CapturedMessage] = []
        # Where messages go besides this process's memory (the shared test outbox); the
        # app wires it in test_mode, so this module needs to know nothing of the store.
        self.sink: Callable[[CapturedMessage], Awaitable[None]] | None = None

    async def send(self, message: OutgoingMessage) -> SendResult:
        captured = CapturedMessage(
            message.to,
            message.text,
            datetime.now(UTC),
            message.reference,
            message.channel,
            message.subject,
            message.html,
        )
        self.messages.append(captured)
        del self.messages[: -self.MAX_KEPT]
        if self.sink is not None:
            try:
                await self.sink(captured)
            except Exception as exc:
                raise ProviderError(f"test outbox: {exc}", retryable=False) from exc
        return SendResult(message_id=message.reference)

    def sent_to(self, to: str) -> list[CapturedMessage]:
        return [m for m in self.messages if m.to == to]
