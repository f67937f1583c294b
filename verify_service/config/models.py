"""The settings tree: what a TOML config file may hold, as strict pydantic models.

Every rule a config must meet is checked here, provider tables included (each against its
kind's `Options` model from the provider registry), so that validating `Settings` is the one
place a wrong config fails: before the first request, with a message naming the key. The
file's keys are the field names; `env:NAME` values and `VERIFY_*` overrides are resolved
before validation (config/env.py)."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import date, datetime
from ipaddress import IPv4Network, IPv6Network
from typing import Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from verify_service.config.abuse import FraudGuard, Operator, RateLimits, check_operators
from verify_service.config.attempts import AttemptSettings
from verify_service.config.channels import (
    ChannelTables,
    WorkflowStepSettings,
    allowed_channels,
    channel_providers,
    check_channel_providers,
    check_workflow,
)
from verify_service.config.console import ConsoleSettings, check_console_users
from verify_service.domain.hashing import HashParams
from verify_service.domain.phones import PhoneNumberError, is_valid_region, parse_phone
from verify_service.domain.sms import segments
from verify_service.domain.templates import (
    Autofill,
    TemplateError,
    compose,
    validate_app_hash,
    validate_domain,
    validate_template,
)
from verify_service.domain.tokens import (
    MAX_EXPIRES_IN,
    MAX_LENGTH,
    MIN_EXPIRES_IN,
    MIN_LENGTH,
    TokenType,
    normalize_code,
    problem_with_test_code,
)
from verify_service.providers.base import not_alone
from verify_service.providers.registry import channel_problem, delegates, provider_options
from verify_service.webhooks.signing import is_strict, lenient_key

_API_KEY_HASH = re.compile(r"^sha256:[0-9a-f]{64}$")
# The shortest API key (or metrics token) accepted in plaintext: 16 characters of a random
# key are beyond guessing; `secrets.token_urlsafe(24)` gives 32.
MIN_API_KEY_LENGTH = 16


def _check_pepper(pepper: SecretStr) -> None:
    if len(pepper.get_secret_value().encode()) < 16:
        raise ValueError("the pepper must be at least 16 bytes (use 32 random bytes)")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HashingSettings(_Strict):
    time_cost: int = Field(default=2, ge=1, le=20)
    memory_cost_kib: int = Field(default=19456, ge=8, le=4 * 1024 * 1024)
    parallelism: int = Field(default=1, ge=1, le=16)
    # Hashing threads per worker process; 0 = the cores divided among the workers, so that
    # argon2 never has more threads than cores (more only thrash caches and memory).
    threads: int = Field(default=0, ge=0, le=256)

    def params(self) -> HashParams:
        return HashParams(self.time_cost, self.memory_cost_kib, self.parallelism)


class ServiceSettings(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    api_keys: list[str] = Field(default_factory=list)
    providers: list[str] = Field(min_length=1)
    template: str = "Your verification code is %TOKEN%"
    templates: dict[str, str] = Field(default_factory=dict)
    token_type: TokenType = TokenType.NUMERIC
    token_length: int = Field(default=6, ge=MIN_LENGTH, le=MAX_LENGTH)
    min_token_length: int = Field(default=MIN_LENGTH, ge=MIN_LENGTH, le=MAX_LENGTH)
    max_token_length: int = Field(default=MAX_LENGTH, ge=MIN_LENGTH, le=MAX_LENGTH)
    expires_in: int = Field(default=600, ge=MIN_EXPIRES_IN, le=MAX_EXPIRES_IN)
    max_check_attempts: int = Field(default=5, ge=1, le=100)
    max_send_attempts: int = Field(default=5, ge=1, le=100)
    resend_cooldown: int = Field(default=30, ge=0, le=86400)
    allowed_countries: list[str] = Field(default_factory=list)
    test_numbers: dict[str, str] = Field(default_factory=dict)
    # Abuse protection (verify_service/abuse, README "Abuse protection").
    blocked_countries: list[str] = Field(default_factory=list)
    blocked_prefixes: list[str] = Field(default_factory=list)
    mobile_only: bool = False
    test_numbers_valid_until: datetime | date | None = None
    rate_limits: RateLimits = Field(default_factory=RateLimits)
    fraud_guard: FraudGuard = Field(default_factory=FraudGuard)
    # Twilio Verify compatibility (api/twilio.py): set them to the SIDs the service's clients
    # already use, so that only their base URL changes. Defaults derive from the name (the
    # "" below is never kept: _twilio_defaults fills both before validation).
    twilio_account_sid: str = Field(default="", pattern=r"^AC[0-9a-fA-F]{32}$")
    twilio_service_sid: str = Field(default="", pattern=r"^VA[0-9a-fA-F]{32}$")

    @model_validator(mode="before")
    @classmethod
    def _twilio_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("name"), str):
            data = dict(data)
            data.setdefault("twilio_account_sid", derived_sid("AC", data["name"]))
            data.setdefault("twilio_service_sid", derived_sid("VA", data["name"]))
        return data

    # Phone autofill (README "For app developers"): appended to every message of the service.
    android_app_hash: str | None = None
    webotp_domain: str | None = None
    webotp_iframe_domain: str | None = None
    # Delivery: seconds one send may take across retries and failover (router.py), and the
    # most SMS segments a message may cost (templates are checked at start-up, a request's
    # template at each start). Three: a code needs one; three leave room for a long text in
    # any script (~200 UCS-2 or ~450 GSM-7 characters) and the autofill lines, while no
    # caller can make one start cost more than three SMS (a template of %TOKEN% x 91 would
    # cost 8-17).
    send_budget: float = Field(default=10.0, gt=0, le=120)
    max_segments: int = Field(default=3, ge=1, le=20)

    # Channels beyond SMS and the fallback workflow (config/channels.py, README "Channels
    # and fallback"); the top-level providers and templates are the sms channel's.
    channels: ChannelTables = Field(default_factory=ChannelTables)
    workflow: list[WorkflowStepSettings] = Field(default_factory=list)

    @model_validator(mode="after")
    def _workflow(self) -> Self:
        check_workflow(self.workflow, self.allowed_channels)
        return self

    @property
    def allowed_channels(self) -> tuple[str, ...]:
        return allowed_channels(self.channels)

    def providers_for(self, channel: str) -> list[str]:
        """The provider names of `channel`, in the order they are tried ([] if not enabled)."""
        return channel_providers(self.channels, self.providers, channel)

    # Status events (README "Operations"): a signed POST on every status change.
    status_callback_url: str | None = Field(default=None, pattern=r"^https?://\S+$")
    status_callback_secret: SecretStr | None = None

    @field_validator("api_keys")
    @classmethod
    def _hashed_keys(cls, keys: list[str]) -> list[str]:
        for key in keys:
            if not _API_KEY_HASH.match(key):
                raise ValueError(
                    "each API key must be 'sha256:<64 hex digits>' or 'env:NAME' "
                    "(plaintext keys are not accepted in the file; see hash-api-key)"
                )
        return keys

    @field_validator("status_callback_secret")
    @classmethod
    def _callback_secret(cls, secret: SecretStr | None) -> SecretStr | None:
        # webhooks/signing.py's rule, or the form accepted before it (same key as then).
        if secret is not None:
            lenient_key(secret.get_secret_value())
        return secret

    @property
    def legacy_callback_secret(self) -> bool:
        """True when status_callback_secret predates the `whsec_<base64>` rule: it still
        signs as before, but a fresh `whsec_` secret should replace it."""
        secret = self.status_callback_secret
        return secret is not None and not is_strict(secret.get_secret_value())

    @model_validator(mode="after")
    def _callback(self) -> Self:
        if self.status_callback_url and self.status_callback_secret is None:
            raise ValueError(
                "status_callback_url needs status_callback_secret "
                '(status_callback_secret = "env:NAME"): receivers must be able to verify us'
            )
        return self

    @field_validator("template")
    @classmethod
    def _template(cls, template: str) -> str:
        try:
            return validate_template(template)
        except TemplateError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("templates")
    @classmethod
    def _templates(cls, templates: dict[str, str]) -> dict[str, str]:
        for locale, template in templates.items():
            try:
                validate_template(template)
            except TemplateError as exc:
                raise ValueError(f"templates.{locale}: {exc}") from None
        return templates

    @field_validator("allowed_countries", "blocked_countries")
    @classmethod
    def _countries(cls, countries: list[str]) -> list[str]:
        bad = [c for c in countries if not is_valid_region(c)]
        if bad:
            raise ValueError(f"unknown country codes: {', '.join(bad)}")
        return [c.upper() for c in countries]

    @field_validator("android_app_hash")
    @classmethod
    def _app_hash(cls, app_hash: str | None) -> str | None:
        try:
            return None if app_hash is None else validate_app_hash(app_hash)
        except TemplateError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("webotp_domain", "webotp_iframe_domain")
    @classmethod
    def _domain(cls, domain: str | None) -> str | None:
        try:
            return None if domain is None else validate_domain(domain)
        except TemplateError as exc:
            raise ValueError(str(exc)) from None

    @property
    def autofill(self) -> Autofill:
        return Autofill(self.android_app_hash, self.webotp_domain, self.webotp_iframe_domain)

    @model_validator(mode="after")
    def _webotp(self) -> Self:
        if self.webotp_iframe_domain is not None and self.webotp_domain is None:
            raise ValueError("webotp_iframe_domain needs webotp_domain (the top-level site)")
        return self

    @field_validator("test_numbers")
    @classmethod
    def _test_codes(cls, numbers: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        # Stored as a check normalises a typed code (README "Checking a code"), so that the
        # code approves as typed; one no check could approve fails here, at its key.
        token_type = info.data.get("token_type")
        if token_type is None:  # token_type itself was wrong: reported there
            return numbers
        normalised = {number: normalize_code(token_type, code) for number, code in numbers.items()}
        errors = [
            InitErrorDetails(
                type=PydanticCustomError("test_code", problem), loc=(number,), input=None
            )
            for number, code in normalised.items()
            if (problem := problem_with_test_code(token_type, code)) is not None
        ]
        if errors:
            raise ValidationError.from_exception_data("test_numbers", errors)
        return normalised

    @field_validator("test_numbers_valid_until", mode="before")
    @classmethod
    def _day(cls, value: Any) -> Any:
        # "2027-01-31" from the environment means that day, as a TOML date does; pydantic
        # would read it as the datetime at its first instant.
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
            return date.fromisoformat(value.strip())
        return value

    @field_validator("blocked_prefixes")
    @classmethod
    def _prefixes(cls, prefixes: list[str]) -> list[str]:
        bad = [p for p in prefixes if not re.fullmatch(r"\+[1-9][0-9]{0,14}", p)]
        if bad:
            raise ValueError(f"write prefixes in E.164 form such as '+882': {', '.join(bad)}")
        return prefixes

    @model_validator(mode="after")
    def _lengths(self) -> Self:
        if not self.min_token_length <= self.token_length <= self.max_token_length:
            raise ValueError(
                f"token_length {self.token_length} is outside min_token_length.."
                f"max_token_length ({self.min_token_length}..{self.max_token_length})"
            )
        return self

    @model_validator(mode="after")
    def _segments(self) -> Self:
        named = [("template", self.template)]
        named += [(f"templates.{locale}", t) for locale, t in self.templates.items()]
        for where, template in named:
            problem = self.segments_problem(template, self.max_token_length)
            if problem is not None:
                raise ValueError(f"{where}: {problem}")
        return self

    def segments_problem(self, template: str, token_length: int) -> str | None:
        """Why `template` with a code of `token_length` characters (and the autofill lines)
        costs more than `max_segments` SMS, or None. Every token alphabet is plain GSM-7,
        so any code of that length gives the same count."""
        encoding, count = segments(compose(template, "0" * token_length, self.autofill))
        if count <= self.max_segments:
            return None
        return (
            f"with a {token_length}-character code the message takes {count} SMS "
            f"({encoding}), more than max_segments = {self.max_segments}"
        )


class Settings(_Strict):
    redis_url: str | None = None
    default_region: str = "CH"
    pepper: SecretStr | None = None
    # Peppers still accepted for checking after a rotation (newest first); see docs/security.md.
    previous_peppers: list[SecretStr] = Field(default_factory=list, max_length=4)
    # The secret that keys the tag in verification ids (store/keys.py); the pepper when
    # unset. Required once previous_peppers is set: a rotated pepper must not change ids.
    id_key: SecretStr | None = None
    retention: int = Field(default=86400, ge=60, le=30 * 86400)
    test_mode: bool = False
    metrics_token: SecretStr | None = None  # Bearer token for /metrics; None = open
    # Peers allowed to say who the client is (X-Forwarded-For); anyone else is the client.
    trusted_proxies: list[IPv4Network | IPv6Network] = Field(default_factory=list)
    hashing: HashingSettings = Field(default_factory=HashingSettings)
    attempts: AttemptSettings = Field(default_factory=AttemptSettings)
    # Seconds between two looks at the workflow due-queue, per worker (usecases/workflows.py).
    workflow_poll_interval: float = Field(default=1.0, ge=0.05, le=60)
    providers: dict[str, dict[str, Any]] = Field(default_factory=dict)
    services: list[ServiceSettings] = Field(min_length=1)
    # Who may control the fraud guard (/v1/fraud/*), with keys of their own (config/abuse.py).
    operators: list[Operator] = Field(default_factory=list)
    # The operations console (config/console.py); None = off.
    console: ConsoleSettings | None = None

    @field_validator("providers")
    @classmethod
    def _provider_tables(cls, tables: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        # Each table against its kind's Options model, errors located inside the table
        # (providers.<name>.<key>); the tables stay as written: `secrets_of` reads them.
        errors: list[InitErrorDetails] = []
        for name, table in tables.items():
            try:
                provider_options(table)
            except ValidationError as exc:
                errors += [
                    InitErrorDetails(
                        type=PydanticCustomError(error["type"], error["msg"]),
                        loc=(name, *error["loc"]),
                        input=None,  # provider tables hold secrets: never echo them
                    )
                    for error in exc.errors(include_input=False, include_url=False)
                ]
        if errors:
            raise ValidationError.from_exception_data("providers", errors)
        return tables

    @field_validator("default_region")
    @classmethod
    def _region(cls, region: str) -> str:
        if not is_valid_region(region):
            raise ValueError(f"unknown region {region!r} (use an ISO 3166 code such as CH)")
        return region.upper()

    @field_validator("metrics_token")
    @classmethod
    def _metrics_token(cls, token: SecretStr | None) -> SecretStr | None:
        # An empty VERIFY_METRICS_TOKEN means "no token" (open), not "the empty token".
        if token is None or not token.get_secret_value():
            return None
        if len(token.get_secret_value()) < MIN_API_KEY_LENGTH:  # "x" guarded nothing
            raise ValueError(
                f"metrics_token must be at least {MIN_API_KEY_LENGTH} characters "
                "(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')"
            )
        return token

    @field_validator("pepper")
    @classmethod
    def _pepper(cls, pepper: SecretStr | None) -> SecretStr | None:
        if pepper is not None:
            _check_pepper(pepper)
        return pepper

    @field_validator("id_key")
    @classmethod
    def _id_key(cls, key: SecretStr | None) -> SecretStr | None:
        if key is not None and len(key.get_secret_value().encode()) < 16:
            raise ValueError("id_key must be at least 16 bytes (the previous pepper, or random)")
        return key

    @field_validator("previous_peppers")
    @classmethod
    def _previous_peppers(cls, peppers: list[SecretStr]) -> list[SecretStr]:
        for pepper in peppers:
            _check_pepper(pepper)
        return peppers

    @model_validator(mode="after")
    def _capture_needs_test_mode(self) -> Self:
        # A capture provider swallows real users' codes and shows them on /v1/test/messages:
        # it must never be switched on by accident in production.
        for name, provider in self.providers.items():
            if provider.get("kind") == "capture" and not self.test_mode:
                raise ValueError(
                    f"provider {name!r} is of kind 'capture' (keeps messages for the test "
                    "outbox instead of sending them); it needs test_mode = true, which must "
                    "never be set in production"
                )
        return self

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        # Without redis_url nothing outlives the process, so a random pepper does no harm.
        if self.pepper is None and self.redis_url is not None:
            raise ValueError('pepper is required with redis_url (pepper = "env:VERIFY_PEPPER")')
        if self.previous_peppers and self.id_key is None:
            # Ids and lookups by number are keyed with id_key, else the pepper: without it a
            # rotation would orphan every pending verification's lookup by number.
            raise ValueError(
                "previous_peppers is set but id_key is not: set id_key to the previous "
                'pepper (id_key = "env:VERIFY_PEPPER_OLD") and keep it after the rotation, '
                "so that verification ids and lookups by number do not change"
            )
        names: set[str] = set()
        keys: set[str] = set()
        for service in self.services:
            if service.name in names:
                raise ValueError(f"service {service.name!r} is defined twice")
            names.add(service.name)
            for provider in service.providers:
                if provider not in self.providers:
                    raise ValueError(
                        f"service {service.name!r} uses provider {provider!r}, "
                        "which has no [providers.*] table"
                    )
                kind = self.providers[provider]["kind"]
                # No other provider could send a code that a delegating one can check.
                if delegates(kind) and len(service.providers) > 1:
                    raise ValueError(not_alone(service.name, provider, kind))
            for key in service.api_keys:
                if key in keys:
                    raise ValueError(f"service {service.name!r} shares an API key with another")
                keys.add(key)
            for number in service.test_numbers:
                try:
                    e164 = parse_phone(number, self.default_region).e164
                except PhoneNumberError as exc:
                    raise ValueError(
                        f"service {service.name!r}: test number {number!r}: {exc}"
                    ) from None
                if e164 != number:
                    raise ValueError(
                        f"service {service.name!r}: write test number {number!r} as {e164}"
                    )
        return self

    @model_validator(mode="after")
    def _channel_providers(self) -> Self:
        for service in self.services:
            others = {c: service.providers_for(c) for c in service.allowed_channels if c != "sms"}
            check_channel_providers(service.name, others, self.providers, channel_problem)
            sms = {p: self.providers[p] for p in service.providers if p in self.providers}
            for name, table in sms.items():
                problem = channel_problem(table, "sms")
                if problem is not None:
                    raise ValueError(f"service {service.name!r}: provider {name!r}: {problem}")
            if others and any(delegates(str(t["kind"])) for t in sms.values()):
                raise ValueError(
                    f"service {service.name!r}: its SMS provider makes and checks the codes "
                    "itself, so it cannot offer other channels"
                )
        return self

    @model_validator(mode="after")
    def _operators(self) -> Self:
        service_keys = {key for service in self.services for key in service.api_keys}
        check_operators(self.operators, [s.name for s in self.services], service_keys)
        return self

    @model_validator(mode="after")
    def _console_users(self) -> Self:
        check_console_users(self.console, [s.name for s in self.services])
        return self

    @model_validator(mode="after")
    def _unique_twilio_service_sids(self) -> Self:
        seen: dict[str, str] = {}
        for service in self.services:
            sid = service.twilio_service_sid.lower()
            if sid in seen:
                raise ValueError(
                    f"services {seen[sid]!r} and {service.name!r} have the same twilio_service_sid"
                )
            seen[sid] = service.name
        return self

    def service(self, name: str) -> ServiceSettings:
        for service in self.services:
            if service.name == name:
                return service
        raise KeyError(name)

    def pepper_bytes(self) -> bytes:
        """The configured pepper, or a random one for an embedded (in-process) store."""
        if self.pepper is None:
            return secrets.token_bytes(32)
        return self.pepper.get_secret_value().encode()

    def previous_pepper_bytes(self) -> list[bytes]:
        return [p.get_secret_value().encode() for p in self.previous_peppers]

    def id_secret(self) -> bytes:
        """What keys the verification-id tags: `id_key`, else the pepper (a random one
        for an embedded store, like `pepper_bytes`: call it once per app)."""
        if self.id_key is not None:
            return self.id_key.get_secret_value().encode()
        return self.pepper_bytes()


def derived_sid(prefix: str, service_name: str) -> str:
    """A stable Twilio-style SID (`AC…`, `VA…`) for a service that configures none."""
    digest = hashlib.sha256(f"verify-service\x00{prefix}\x00{service_name}".encode()).hexdigest()
    return prefix + digest[:32]


def api_key_problem(key: str) -> str | None:
    """Why `key` must not be an API key (a predicate phrase, never quoting it), or None.
    Short keys are guessed; whitespace (a secret file's trailing newline) makes a key no
    client sends as it is (the native API strips what it is sent)."""
    if len(key) < MIN_API_KEY_LENGTH or any(c.isspace() for c in key):
        return (
            f"must be at least {MIN_API_KEY_LENGTH} characters without spaces or line breaks "
            f"(it has {len(key)}); make one with: "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(24))'"
        )
    return None


def hash_api_key(key: str) -> str:
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()
