"""The use cases (docs/architecture.md §2-3), on the embedded fakeredis and a real redis-server."""

from __future__ import annotations

import pytest

from tests.conftest import MakeVerifs
from tests.support.helpers import sent_code, sent_text
from verify_service.api.app import build_components
from verify_service.api.deps import Components
from verify_service.config import ServiceSettings
from verify_service.domain.errors import VerifyError
from verify_service.domain.model import StartParams
from verify_service.domain.tokens import TokenType
from verify_service.providers.base import OutgoingMessage, Provider, ProviderError, SendResult
from verify_service.providers.kinds.capture import CaptureProvider
from verify_service.store import Store

TO = "+41791234567"


def svc(v: Components) -> ServiceSettings:
    return v.settings.services[0]


def wrong(code: str) -> str:
    return "".join("1" if c != "1" else "2" for c in code)


async def test_start_sends_the_rendered_template_and_returns_pending(
    make_verifs: MakeVerifs,
) -> None:
    v = make_verifs()
    started = await v.verifications.start(
        svc(v), StartParams(to="079 123 45 67", metadata={"user": "42"})
    )
    assert started.status == "pending"
    assert started.to == TO
    assert started.id.startswith("ver_")
    assert started.attempts_remaining == 5
    assert started.metadata == {"user": "42"}
    assert [a.status for a in started.send_attempts] == ["sent"]
    assert (started.expires_at - started.created_at).total_seconds() == pytest.approx(600, abs=1)
    capture = v.providers["capture"]
    assert isinstance(capture, CaptureProvider)
    assert capture.sent_to(TO)[-1].text == f"Your code is {sent_code(v, TO)}"


async def test_locale_and_request_template_choose_the_text(make_verifs: MakeVerifs) -> None:
    v = make_verifs()
    await v.verifications.start(svc(v), StartParams(to=TO, locale="de-CH"))
    assert sent_text(v, TO) == f"Ihr Code: {sent_code(v, TO)}"
    other = "+41791234568"
    await v.verifications.start(
        svc(v), StartParams(to=other, template="%TOKEN% is your code, %TOKEN%!")
    )
    text = sent_text(v, other)
    code = text.split(" ", 1)[0]
    assert text == f"{code} is your code, {code}!"


async def test_wrong_then_right_then_replay(make_verifs: MakeVerifs) -> None:
    v = make_verifs()
    started = await v.verifications.start(svc(v), StartParams(to=TO))
    code = sent_code(v, TO)
    bad = await v.verifications.check(svc(v), to=TO, code=wrong(code))
    assert (bad.valid, bad.status, bad.attempts_remaining) == (False, "pending", 4)
    good = await v.verifications.check(svc(v), verification_id=started.id, code=code)
    assert (good.valid, good.status) == (True, "approved")
    again = await v.verifications.check(svc(v), to=TO, code=code)
    assert (again.valid, again.status) == (False, "approved")
    fetched = await v.verifications.fetch(svc(v), started.id)
    assert fetched.status == "approved"
    assert fetched.check_attempts == 2


async def test_attempt_limit_locks_even_the_right_code_out(make_verifs: MakeVerifs) -> None:
    v = make_verifs(service={"max_check_attempts": 3})
    await v.verifications.start(svc(v), StartParams(to=TO))
    code = sent_code(v, TO)
    results = [await v.verifications.check(svc(v), to=TO, code=wrong(code)) for _ in range(3)]
    assert [r.attempts_remaining for r in results] == [2, 1, 0]
    assert results[-1].status == "max_attempts_reached"
    late = await v.verifications.check(svc(v), to=TO, code=code)
    assert (late.valid, late.status) == (False, "max_attempts_reached")


async def test_resend_issues_a_new_code_and_earlier_ones_stay_valid(
    make_verifs: MakeVerifs,
) -> None:
    v = make_verifs()
    first = await v.verifications.start(svc(v), StartParams(to=TO))
    code1 = sent_code(v, TO)
    await v.verifications.check(svc(v), to=TO, code=wrong(code1))
    second = await v.verifications.start(svc(v), StartParams(to=TO))
    assert sent_code(v, TO) != code1  # a new code (equal by chance once in a million)
    assert second.id == first.id
    assert len(second.send_attempts) == 2
    assert second.attempts_remaining == 4  # attempts are shared across resends
    result = await v.verifications.check(svc(v), to=TO, code=code1)
    assert result.valid is True


async def test_the_newest_code_approves_after_a_resend(make_verifs: MakeVerifs) -> None:
    v = make_verifs()
    await v.verifications.start(svc(v), StartParams(to=TO))
    await v.verifications.start(svc(v), StartParams(to=TO))
    assert (await v.verifications.check(svc(v), to=TO, code=sent_code(v, TO))).valid is True


async def test_resend_cooldown_and_send_limit(make_verifs: MakeVerifs) -> None:
    v = make_verifs(service={"resend_cooldown": 30})
    await v.verifications.start(svc(v), StartParams(to=TO))
    with pytest.raises(VerifyError) as info:
        await v.verifications.start(svc(v), StartParams(to=TO))
    assert info.value.code == "resend_too_soon"
    assert info.value.retry_after is not None
    assert 28 <= info.value.retry_after <= 30

    v = make_verifs(service={"max_send_attempts": 2})
    other = "+41791234568"
    await v.verifications.start(svc(v), StartParams(to=other))
    await v.verifications.start(svc(v), StartParams(to=other))
    with pytest.raises(VerifyError) as info:
        await v.verifications.start(svc(v), StartParams(to=other))
    assert info.value.code == "max_send_attempts"
    assert info.value.status == 429


async def test_expiry_is_judged_on_the_store_clock(make_verifs: MakeVerifs, store: Store) -> None:
    v = make_verifs()
    started = await v.verifications.start(svc(v), StartParams(to=TO, expires_in=30))
    code = sent_code(v, TO)
    store.clock_offset_ms = 31_000  # the one clock (Redis TIME) moves; the key is still there
    assert (await v.verifications.fetch(svc(v), started.id)).status == "expired"
    result = await v.verifications.check(svc(v), to=TO, code=code)
    assert (result.valid, result.status) == (False, "expired")
    # an expired verification does not block a new one
    renewed = await v.verifications.start(svc(v), StartParams(to=TO))
    assert renewed.id != started.id
    assert renewed.status == "pending"


async def test_cancel(make_verifs: MakeVerifs) -> None:
    v = make_verifs()
    started = await v.verifications.start(svc(v), StartParams(to=TO))
    code = sent_code(v, TO)
    canceled = await v.verifications.cancel(svc(v), started.id)
    assert canceled.status == "canceled"
    assert (await v.verifications.check(svc(v), to=TO, code=code)).status == "canceled"
    with pytest.raises(VerifyError) as info:
        await v.verifications.cancel(svc(v), started.id)
    assert info.value.code == "verification_not_pending"
    assert info.value.status == 409


async def test_a_new_start_after_approval_is_a_new_verification(make_verifs: MakeVerifs) -> None:
    v = make_verifs()
    first = await v.verifications.start(svc(v), StartParams(to=TO))
    await v.verifications.check(svc(v), to=TO, code=sent_code(v, TO))
    second = await v.verifications.start(svc(v), StartParams(to=TO))
    assert second.id != first.id
    assert (await v.verifications.fetch(svc(v), first.id)).status == "approved"


@pytest.mark.parametrize("verification_id", ["ver_nope", "ver_" + "0" * 32, "../../etc", ""])
async def test_unknown_ids_are_not_found(make_verifs: MakeVerifs, verification_id: str) -> None:
    v = make_verifs()
    with pytest.raises(VerifyError) as info:
        await v.verifications.fetch(svc(v), verification_id)
    assert info.value.code == "verification_not_found"
    with pytest.raises(VerifyError):
        await v.verifications.check(svc(v), verification_id=verification_id, code="123456")


async def test_check_without_verification_is_not_found(make_verifs: MakeVerifs) -> None:
    v = make_verifs()
    with pytest.raises(VerifyError) as info:
        await v.verifications.check(svc(v), to=TO, code="123456")
    assert info.value.code == "verification_not_found"


async def test_another_service_cannot_see_it(make_verifs: MakeVerifs) -> None:
    v = make_verifs(extra_services=[{"name": "shop", "providers": ["capture"]}])
    login, shop = v.settings.services
    started = await v.verifications.start(login, StartParams(to=TO))
    with pytest.raises(VerifyError) as info:
        await v.verifications.fetch(shop, started.id)
    assert info.value.code == "verification_not_found"
    with pytest.raises(VerifyError):
        await v.verifications.check(shop, to=TO, code=sent_code(v, TO))
    with pytest.raises(VerifyError):
        await v.verifications.cancel(shop, started.id)


async def test_alphanumeric_codes_check_case_and_dash_insensitively(
    make_verifs: MakeVerifs,
) -> None:
    v = make_verifs()
    await v.verifications.start(
        svc(v), StartParams(to=TO, token_type=TokenType.ALPHANUMERIC, token_length=8)
    )
    code = sent_code(v, TO)
    assert len(code) == 8
    typed = f"{code[:4].lower()}-{code[4:]}"
    assert (await v.verifications.check(svc(v), to=TO, code=typed)).valid is True


async def test_test_numbers_send_nothing_and_use_the_fixed_code(make_verifs: MakeVerifs) -> None:
    v = make_verifs(service={"test_numbers": {"+41790000000": "424242"}})
    started = await v.verifications.start(svc(v), StartParams(to="+41790000000"))
    assert started.send_attempts == ()
    assert v.providers["capture"].messages == []  # type: ignore[attr-defined]
    assert (await v.verifications.check(svc(v), to="+41790000000", code="000000")).valid is False
    assert (await v.verifications.check(svc(v), to="+41790000000", code="424242")).valid is True


async def test_token_length_outside_the_service_range(make_verifs: MakeVerifs) -> None:
    v = make_verifs(service={"min_token_length": 6})
    with pytest.raises(VerifyError) as info:
        await v.verifications.start(svc(v), StartParams(to=TO, token_length=4))
    assert info.value.code == "invalid_request"


async def test_countries_outside_the_allowed_list(make_verifs: MakeVerifs) -> None:
    v = make_verifs(service={"allowed_countries": ["CH"]})
    with pytest.raises(VerifyError) as info:
        await v.verifications.start(svc(v), StartParams(to="+4915123456789"))
    assert info.value.code == "country_not_allowed"


class Failing(Provider):
    kind = "failing"

    def __init__(self, name: str, *, recipient_invalid: bool = False) -> None:
        super().__init__(name, Provider.Options(kind="failing"))
        self.calls = 0
        self.recipient_invalid = recipient_invalid

    async def send(self, message: OutgoingMessage) -> SendResult:
        self.calls += 1
        raise ProviderError("HTTP 503", retryable=True, recipient_invalid=self.recipient_invalid)


def with_providers(v: Components, **providers: Provider) -> Components:
    return build_components(v.settings, v.store, providers=providers)


async def test_no_provider_delivers_so_the_verification_fails(make_verifs: MakeVerifs) -> None:
    v = with_providers(make_verifs(), capture=Failing("capture"))
    with pytest.raises(VerifyError) as info:
        await v.verifications.start(svc(v), StartParams(to=TO))
    assert info.value.code == "provider_unavailable"
    assert info.value.status == 502
    assert "HTTP 503" in info.value.detail
    result = await v.verifications.check(svc(v), to=TO, code="123456")
    assert result.status == "failed"
    fetched = await v.verifications.fetch(svc(v), result.id)
    # the 503 is retryable: tried again once (provider option `retries`, default 1)
    assert [a.status for a in fetched.send_attempts] == ["failed", "failed"]
    # a failed verification does not block the next try
    ok = await make_verifs().verifications.start(svc(v), StartParams(to=TO))
    assert ok.id != result.id


async def test_a_refused_number_is_a_client_error(make_verifs: MakeVerifs) -> None:
    v = with_providers(make_verifs(), capture=Failing("capture", recipient_invalid=True))
    with pytest.raises(VerifyError) as info:
        await v.verifications.start(svc(v), StartParams(to=TO))
    assert info.value.code == "invalid_phone_number"


async def test_a_failed_resend_leaves_the_earlier_code_usable(make_verifs: MakeVerifs) -> None:
    v = make_verifs()
    await v.verifications.start(svc(v), StartParams(to=TO))
    code = sent_code(v, TO)
    broken = with_providers(v, capture=Failing("capture"))
    with pytest.raises(VerifyError):
        await broken.verifications.start(svc(v), StartParams(to=TO))
    result = await v.verifications.check(svc(v), to=TO, code=code)
    assert result.valid is True


async def test_no_plaintext_code_anywhere_in_the_store(
    make_verifs: MakeVerifs, store: Store
) -> None:
    v = make_verifs()
    codes: list[str] = []
    for i, token_type in enumerate(TokenType):
        to = f"+4179123450{i}"
        await v.verifications.start(
            svc(v), StartParams(to=to, token_type=token_type, token_length=12, metadata={"k": "v"})
        )
        codes.append(sent_code(v, to))
        await v.verifications.start(
            svc(v), StartParams(to=to, token_type=token_type, token_length=12)
        )  # resend
        codes.append(sent_code(v, to))
        await v.verifications.check(svc(v), to=to, code=wrong(codes[-1]))
    await v.verifications.check(svc(v), to="+41791234500", code=codes[0])
    dump: list[str] = []
    async for key in store.client.scan_iter("*"):
        dump.append(key)
        kind = await store.client.type(key)
        if kind == "hash":
            for field, value in (await store.client.hgetall(key)).items():
                dump += [field, value]
        elif kind == "string":
            dump.append(await store.client.get(key))
        ttl = await store.client.ttl(key)
        assert ttl > 0, f"{key} has no TTL"
    blob = "\n".join(dump)
    assert len(dump) > 6
    for code in codes:
        assert code not in blob


async def test_exhaustion_does_not_lock_out_a_right_code_still_in_flight(
    make_verifs: MakeVerifs, store: Store
) -> None:
    v = make_verifs(service={"max_check_attempts": 2})
    started = await v.verifications.start(svc(v), StartParams(to=TO))
    code = sent_code(v, TO)
    tag = started.id[4:20]
    # two checks have reserved their attempts and are still verifying their hashes ...
    for _ in range(2):
        reserved = await store.reserve(tag=tag, service="login", verification_id=None, retention=60)
        assert reserved.outcome == "reserved"
    # ... when a third arrives: it is refused, and must not end the verification
    refused = await v.verifications.check(svc(v), to=TO, code=code)
    assert (refused.valid, refused.status) == (False, "max_attempts_reached")
    finished = await store.finish(
        tag=tag, verification_id=started.id, status="approved", retention=60
    )
    assert finished.outcome == "changed"
    assert (await v.verifications.fetch(svc(v), started.id)).status == "approved"


async def test_backend_approval_of_an_expired_verification_records_the_expiry(
    make_verifs: MakeVerifs, store: Store
) -> None:
    v = make_verifs()
    started = await v.verifications.start(svc(v), StartParams(to=TO, expires_in=30))
    store.clock_offset_ms = 31_000
    with pytest.raises(VerifyError) as info:
        await v.verifications.approve(svc(v), started.id)
    assert info.value.code == "verification_not_pending"
    assert (await v.verifications.fetch(svc(v), started.id)).status == "expired"
    metrics = v.metrics.render().decode()
    expired = [
        line
        for line in metrics.splitlines()
        if line.startswith("verify_verifications_total") and 'status="expired"' in line
    ]
    assert len(expired) == 1
    assert expired[0].endswith(" 1.0")


async def test_the_breaker_state_is_exported(make_verifs: MakeVerifs) -> None:
    v = with_providers(make_verifs(), capture=Failing("capture"))
    for _ in range(3):  # two tries each (one retry): five failures open the breaker
        with pytest.raises(VerifyError):
            await v.verifications.start(svc(v), StartParams(to=TO))
    metrics = v.metrics.render().decode()
    assert 'verify_provider_breaker_state{provider="capture"} 2.0' in metrics
