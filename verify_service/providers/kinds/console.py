"""`console`: prints each message, code included. For dev mode and local use only."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import ClassVar

from verify_service.providers.base import OutgoingMessage, Provider, SendResult


class ConsoleProvider(Provider):
    kind = "console"
    local: ClassVar[bool] = True

    async def send(self, message: OutgoingMessage) -> SendResult:
        now = datetime.now(UTC).strftime("%H:%M:%S")
        print(f"[{now}] SMS to {message.to}: {message.text}", file=sys.stderr, flush=True)
        return SendResult(message_id=message.reference)
