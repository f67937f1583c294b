"""`console`: prints each message, code included. For dev mode and local use only."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import ClassVar

from verify_service.providers.base import ALL_CHANNELS, OutgoingMessage, Provider, SendResult


class ConsoleProvider(Provider):
    kind = "console"
    local: ClassVar[bool] = True
    channels: ClassVar[frozenset[str]] = ALL_CHANNELS

    async def send(self, message: OutgoingMessage) -> SendResult:
        now = datetime.now(UTC).strftime("%H:%M:%S")
        what = {"sms": "SMS", "whatsapp": "WhatsApp", "voice": "Call"}.get(message.channel)
        about = f" ({message.subject})" if message.subject else ""
        line = f"[{now}] {what or 'Email'} to {message.to}{about}: {message.text}"
        print(line, file=sys.stderr, flush=True)
        return SendResult(message_id=message.reference)
