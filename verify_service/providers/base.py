"""The provider interface. A provider kind is one module that defines a `Provider`
subclass with its own pydantic `Options` and registers it in `registry.py`."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

_URL_SECRET = re.compile(r"^[A-Za-z0-9._~-]{16,256}$")


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
    """A failed send, in one of four classes (the router's rule, README "Delivery"):

    - `retryable`: transient (timeout, network error, 5xx, throttling): retried on the same
      provider, then fail over;
    - `exhausted`: the account cannot send now nor soon (quota or credits used up, account
      disabled, credentials refused): fail over at once and open this provider's circuit
      breaker, so that the next sends skip it until a probe finds it working again;
    - `recipient_invalid`: the number itself was refused: no other provider is tried;
    - otherwise permanent for this message (a request the provider refuses): fail over,
      no retry.
    An exhausted error is never retryable, whatever `retryable` says."""

    def __init__(
        self,
        reason: str,
        *,
        retryable: bool,
        recipient_invalid: bool = False,
        retry_after: float | None = None,
        exhausted: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable and not exhausted
        self.recipient_invalid = recipient_invalid
        self.retry_after = retry_after
        self.exhausted = exhausted


class ProviderOptions(BaseModel):
    """Keys every kind accepts; kinds extend it. Unknown keys are configuration errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    base_url: str | None = None
    timeout: float = Field(default=5.0, gt=0, le=120)  # seconds one attempt may take in all
    # Delivery (router.py): extra tries on a retryable failure, and the circuit breaker.
    retries: int = Field(default=1, ge=0, le=10)
    breaker_threshold: int = Field(default=5, ge=1, le=1000)  # consecutive failures to open
    breaker_cooldown: float = Field(default=30.0, gt=0, le=3600)  # seconds before a probe
    # Path secret of the delivery-report webhook (api/reports.py); none = reports refused.
    report_secret: SecretStr | None = None

    @field_validator("report_secret")
    @classmethod
    def _report_secret(cls, secret: SecretStr | None) -> SecretStr | None:
        # It is a URL path segment that a provider stores: long, and nothing to escape.
        if secret is not None and not _URL_SECRET.match(secret.get_secret_value()):
            raise ValueError("report_secret must be 16-256 characters of A-Z a-z 0-9 . _ ~ -")
        return secret


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

    def report_answer(self) -> dict[str, Any]:
        """The JSON body that acknowledges a delivery-report callback (some providers
        expect their own shape, e.g. websms `{"statusCode": 2000, ...}`)."""
        return {}

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most kinds keep no resources
        """Release connections at shutdown."""


# --- delegated mode -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """Ask a provider to make a token, put it into `template` and send it."""

    to: str  # E.164, with "+"
    template: str  # still holds %TOKEN%: the provider puts its own token there
    token_type: str  # numeric | alphanumeric | alphanumeric_mixed
    token_length: int
    expires_in: int  # seconds
    reference: str


class TokenValidator(Provider):
    """A kind that generates, sends and checks the code itself (delegated mode): we never
    see the code, so we store no hash and ask the provider at each check. Our statuses,
    attempt limits and resend rules still apply around it."""

    @abstractmethod
    async def start_token(self, request: TokenRequest) -> SendResult:
        """Have a token sent; raise ProviderError on failure, like send()."""

    @abstractmethod
    async def check_token(self, to: str, code: str) -> bool:
        """True if the provider accepts `code` for `to`; ProviderError if it cannot say."""

    async def send(self, message: OutgoingMessage) -> SendResult:
        raise ProviderError(
            f"{self.kind} sends only its own tokens, not arbitrary messages", retryable=False
        )


def token_validator_of(name: str, providers: Sequence[Provider]) -> TokenValidator | None:
    """The delegating provider of a service, if it has one. A delegating provider must be
    the only one: another provider could not send a code that it could check, so failover
    between them would approve nothing. Raises ValueError for such a mix."""
    validators = [p for p in providers if isinstance(p, TokenValidator)]
    if not validators:
        return None
    if len(providers) > 1:
        raise ValueError(not_alone(name, validators[0].name, validators[0].kind))
    return validators[0]


def not_alone(service: str, provider: str, kind: str) -> str:
    """The problem of a delegating provider that shares its service with others (raised
    by config validation and, for services built without it, by `token_validator_of`)."""
    return (
        f"service {service!r}: provider {provider!r} (kind {kind}) "
        "generates and checks codes itself and must be the service's only provider"
    )
