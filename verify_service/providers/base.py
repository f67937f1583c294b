"""The provider interface. A provider kind is one module that defines a `Provider`
subclass with its own pydantic `Options` and registers it in `registry.py`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    to: str  # E.164, with "+"
    text: str  # rendered, code included: never log it
    reference: str  # our id for this send; providers that echo a client reference get it


@dataclass(frozen=True, slots=True)
class SendResult:
    message_id: str | None


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """One delivery report (DLR) from a provider's callback, in our terms."""

    message_id: str  # the provider's id as returned by send(), or our reference it echoes
    status: str  # delivered | undelivered (intermediate states are not reported)
    detail: str | None = None  # the provider's own status word, for the record


class ProviderError(Exception):
    """A failed send. `retryable` failures may be retried and fail over; permanent ones
    (bad credentials, bad request) fail over but are not retried; `recipient_invalid` means
    the number itself was refused and no other provider should be tried."""

    def __init__(
        self,
        reason: str,
        *,
        retryable: bool,
        recipient_invalid: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.recipient_invalid = recipient_invalid
        self.retry_after = retry_after


class ProviderOptions(BaseModel):
    """Keys every kind accepts; kinds extend it. Unknown keys are configuration errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    base_url: str | None = None
    timeout: float = Field(default=5.0, gt=0, le=120)


class Provider(ABC):
    kind: ClassVar[str]
    Options: ClassVar[type[ProviderOptions]] = ProviderOptions
    # True for kinds that print or keep the whole message: exempt from log redaction.
    local: ClassVar[bool] = False

    def __init__(self, name: str, options: ProviderOptions) -> None:
        self.name = name
        self.options = options

    @classmethod
    def from_config(cls, name: str, config: Mapping[str, Any]) -> Provider:
        return cls(name, cls.Options.model_validate(dict(config)))

    @abstractmethod
    async def send(self, message: OutgoingMessage) -> SendResult:
        """Send one SMS; raise ProviderError on failure. Must not retry by itself."""

    def parse_reports(self, body: bytes, headers: Mapping[str, str]) -> list[DeliveryReport]:
        """Turn a delivery-report callback into reports. Kinds without callbacks keep this.
        Raise ValueError for a body that is not of the documented shape."""
        return []

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most kinds keep no resources
        """Release connections at shutdown."""
