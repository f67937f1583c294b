"""Twilio Verify v2 compatibility, through Twilio's own Python SDK (unchanged) against a real
uvicorn on loopback, on both stores. Each test uses its own phone numbers, so the tests
share one server per store."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import redis
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from tests.conftest import API_KEY, OTHER_KEY, config
from tests.support.redis_server import BACKENDS, RedisServer
from tests.support.twilio_sdk import LocalServer, serve
from verify_service.api.app import create_app
from verify_service.config import Settings, hash_api_key, settings_from_mapping
from verify_service.domain.errors import VerifyError

STRICT_KEY = "test-key-strict-0123456789"
STRICT_ACCOUNT = "AC" + "ab" * 16
STRICT_SERVICE = "VA" + "cd" * 16


def settings(redis_url: str | None) -> Settings:
    strict = {
        "name": "strict",
        "api_keys": [hash_api_key(STRICT_KEY)],
        "providers": ["capture"],
        "template": "Your code is %TOKEN%",
        "resend_cooldown": 0,
        "max_check_attempts": 2,
        "max_send_attempts": 1,
        "allowed_countries": ["CH"],
        "twilio_account_sid": STRICT_ACCOUNT,
        "twilio_service_sid": STRICT_SERVICE,
    }
    other = {"name": "other", "api_keys": [hash_api_key(OTHER_KEY)], "providers": ["capture"]}
    extra = {"redis_url": redis_url} if redis_url else {}
    return settings_from_mapping(config(extra_services=[strict, other], **extra), environ={})


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest) -> Iterator[LocalServer]:
    url = None
    if request.param == "redis":
        redis_server: RedisServer = request.getfixturevalue("redis_server")
        url = redis_server.url
        with redis.Redis.from_url(url) as client:
            client.flushdb()
    with serve(create_app(settings(url))) as s:
        yield s


def sids(server: LocalServer, name: str) -> tuple[str, str]:
    service = server.app.state.components.settings.service(name)
    return service.twilio_account_sid, service.twilio_service_sid


@pytest.fixture
def login(server: LocalServer) -> tuple[Client, str]:
    account, service = sids(server, "login")
    return server.client(account, API_KEY), service


@pytest.fixture
def strict(server: LocalServer) -> tuple[Client, str]:
    return server.client(STRICT_ACCOUNT, STRICT_KEY), STRICT_SERVICE


def wrong(code: str) -> str:
    return "".join("1" if c != "1" else "2" for c in code)


def raises(code: int, status: int) -> Any:
    """pytest.raises for a TwilioRestException with Twilio's code and HTTP status."""

    class _Check:
        def __enter__(self) -> None:
            self.ctx = pytest.raises(TwilioRestException)
            self.info = self.ctx.__enter__()

        def __exit__(self, *exc: Any) -> bool:
            handled = bool(self.ctx.__exit__(*exc))
            assert self.info.value.code == code, self.info.value.msg
            assert self.info.value.status == status
            return handled

    return _Check()


def test_create_check_wrong_then_right_fetch_cancel(
    server: LocalServer, login: tuple[Client, str]
) -> None:
    client, service_sid = login
    account_sid, _ = sids(server, "login")
    verify = client.verify.v2.services(service_sid)
    before = datetime.now(UTC) - timedelta(seconds=2)

    verification = verify.verifications.create(to="+41791110001", channel="sms")
    assert verification.status == "pending"
    assert verification.valid is False
    assert re.fullmatch(r"VE[0-9a-f]{32}", verification.sid or "")
    assert verification.service_sid == service_sid
    assert verification.account_sid == account_sid
    assert verification.to == "+41791110001"
    assert verification.channel == "sms"
    assert isinstance(verification.date_created, datetime)
    assert before <= verification.date_created <= datetime.now(UTC)
    assert verification.amount is None
    assert verification.payee is None
    attempts = verification.send_code_attempts or []
    assert len(attempts) == 1
    assert attempts[0]["channel"] == "SMS"  # upper case in Twilio's own examples
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", attempts[0]["time"])
    assert re.fullmatch(r"VL[0-9a-f]{32}", str(attempts[0]["attempt_sid"]))
    assert verification.url == (
        f"{server.base_url}/v2/Services/{service_sid}/Verifications/{verification.sid}"
    )

    code = server.last_code("+41791110001")
    check = verify.verification_checks.create(to="+41791110001", code=wrong(code))
    assert (check.status, check.valid) == ("pending", False)
    assert check.sid == verification.sid

    check = verify.verification_checks.create(to="+41791110001", code=code)
    assert (check.status, check.valid) == ("approved", True)
    assert isinstance(check.date_updated, datetime)

    fetched = verify.verifications(verification.sid).fetch()
    assert (fetched.status, fetched.valid) == ("approved", True)
    assert fetched.date_created == verification.date_created

    second = verify.verifications.create(to="+41791110001", channel="sms")
    assert second.sid != verification.sid
    canceled = verify.verifications(second.sid).update(status="canceled")
    assert canceled.status == "canceled"
    assert verify.verifications(second.sid).fetch().status == "canceled"


def test_sid_is_our_id(server: LocalServer, login: tuple[Client, str]) -> None:
    client, service_sid = login
    verification = client.verify.v2.services(service_sid).verifications.create(
        to="+41791110002", channel="sms"
    )
    native = httpx.get(
        f"{server.base_url}/v1/verifications/ver_{verification.sid[2:]}",
        headers={"Authorization": f"Bearer {API_KEY}"},
    )
    assert native.status_code == 200
    assert native.json()["to"] == "+41791110002"


def test_check_by_verification_sid_and_replay_is_not_approved(
    server: LocalServer, login: tuple[Client, str]
) -> None:
    client, service_sid = login
    verify = client.verify.v2.services(service_sid)
    verification = verify.verifications.create(to="+41791110003", channel="sms")
    code = server.last_code("+41791110003")
    check = verify.verification_checks.create(verification_sid=verification.sid, code=code)
    assert (check.status, check.valid) == ("approved", True)
    # A replayed code must never read as approved to a client testing `status`.
    with raises(20404, 404):
        verify.verification_checks.create(verification_sid=verification.sid, code=code)
    with raises(20404, 404):
        verify.verification_checks.create(to="+41791110003", code=code)


def test_backend_approval_ends_the_verification(
    server: LocalServer, login: tuple[Client, str]
) -> None:
    client, service_sid = login
    verify = client.verify.v2.services(service_sid)
    verification = verify.verifications.create(to="+41791110004", channel="sms")
    approved = verify.verifications(verification.sid).update(status="approved")
    assert (approved.status, approved.valid) == ("approved", True)
    assert verify.verifications(verification.sid).fetch().status == "approved"
    # the code that was sent can no longer approve anything
    with raises(20404, 404):
        verify.verification_checks.create(to="+41791110004", code=server.last_code("+41791110004"))
    # an ended verification cannot be canceled or approved again
    with raises(20404, 404):
        verify.verifications(verification.sid).update(status="canceled")
    with raises(20404, 404):
        verify.verifications(verification.sid).update(status="approved")


def test_service_resource(server: LocalServer, strict: tuple[Client, str]) -> None:
    client, service_sid = strict
    service = client.verify.v2.services(service_sid).fetch()
    assert service.sid == STRICT_SERVICE
    assert service.account_sid == STRICT_ACCOUNT
    assert service.friendly_name == "strict"
    assert service.code_length == 6
    assert service.url == f"{server.base_url}/v2/Services/{STRICT_SERVICE}"
    # Twilio's keys with nothing set, as in its examples: no push, TOTP, WhatsApp, passkeys.
    assert service.push == {
        "include_date": False,
        "apn_credential_sid": None,
        "fcm_credential_sid": None,
    }
    assert service.totp == dict.fromkeys(("issuer", "time_step", "code_length", "skew"))
    assert service.whatsapp == {"msg_service_sid": None, "from": None}
    assert service.passkeys == {
        "relying_party": {"id": None, "name": None, "origins": None},
        "authenticator_attachment": None,
        "discoverable_credentials": None,
        "user_verification": None,
    }


def test_provisioning_scripts_list_services(
    server: LocalServer, strict: tuple[Client, str], login: tuple[Client, str]
) -> None:
    """`services.list()` pages through `/v2/Services`: the credentials see their service."""
    for (client, service_sid), name in ((strict, "strict"), (login, "login")):
        services = client.verify.v2.services.list()
        assert [(s.sid, s.friendly_name) for s in services] == [(service_sid, name)]
        assert client.verify.v2.services.list(limit=5, page_size=1)[0].sid == service_sid
    client, _ = strict
    assert client.verify.v2.services.page(page_number=1, page_size=1)._payload["meta"] == {
        "page": 1,
        "page_size": 1,
        "first_page_url": f"{server.base_url}/v2/Services?PageSize=1&Page=0",
        "previous_page_url": f"{server.base_url}/v2/Services?PageSize=1&Page=0",
        "url": f"{server.base_url}/v2/Services?PageSize=1&Page=1",
        "next_page_url": None,
        "key": "services",
    }
    # The SDK reports a failed page as its base TwilioException, with the body in it.
    with pytest.raises(TwilioException, match=r'HTTP 401 \{"code":20003,'):
        server.client(STRICT_ACCOUNT, "not-a-key").verify.v2.services.list()


def test_provisioning_changes_are_refused_as_configuration(strict: tuple[Client, str]) -> None:
    """create / update / delete: a TwilioRestException that says where services come from."""
    client, service_sid = strict
    for call in (
        lambda: client.verify.v2.services.create(friendly_name="new"),
        lambda: client.verify.v2.services(service_sid).update(friendly_name="renamed"),
        lambda: client.verify.v2.services(service_sid).delete(),
    ):
        with pytest.raises(TwilioRestException) as info:
            call()
        assert (info.value.status, info.value.code) == (405, 20004)
        assert "configuration file" in info.value.msg
    assert client.verify.v2.services(service_sid).fetch().friendly_name == "strict"


# --- errors, as the SDK raises them -------------------------------------------------------


def test_wrong_credentials_are_20003(server: LocalServer) -> None:
    account_sid, service_sid = sids(server, "login")
    for client in (
        server.client(account_sid, "not-a-key"),
        server.client(STRICT_ACCOUNT, API_KEY),  # the key is right, the account is not
    ):
        with raises(20003, 401):
            client.verify.v2.services(service_sid).fetch()


def test_a_service_of_other_credentials_is_20404(
    server: LocalServer, login: tuple[Client, str]
) -> None:
    client, _ = login
    with raises(20404, 404):
        client.verify.v2.services(STRICT_SERVICE).fetch()
    with raises(20404, 404):
        client.verify.v2.services("VA" + "0" * 32).verifications.create(
            to="+41791110005", channel="sms"
        )


def test_a_verification_of_another_service_is_20404(
    server: LocalServer, login: tuple[Client, str], strict: tuple[Client, str]
) -> None:
    login_client, login_sid = login
    strict_client, strict_sid = strict
    verification = strict_client.verify.v2.services(strict_sid).verifications.create(
        to="+41791110006", channel="sms"
    )
    with raises(20404, 404):
        login_client.verify.v2.services(login_sid).verifications(verification.sid).fetch()
    with raises(20404, 404):
        login_client.verify.v2.services(login_sid).verifications(verification.sid).update(
            status="approved"
        )


@pytest.mark.parametrize("sid", ["VE" + "0" * 32, "VE123", "ver_" + "0" * 32, "x" * 200])
def test_unknown_verification_sids_are_20404(login: tuple[Client, str], sid: str) -> None:
    client, service_sid = login
    with raises(20404, 404):
        client.verify.v2.services(service_sid).verifications(sid).fetch()


@pytest.mark.parametrize(
    ("params", "code", "status"),
    [
        ({"to": "+41791110007", "channel": "call"}, 60223, 400),
        ({"to": "+41791110007", "channel": "whatsapp"}, 60223, 400),
        ({"to": "+41791110007", "channel": "fax"}, 60200, 400),
        ({"to": "+41791110007", "channel": "voice"}, 60200, 400),
        ({"to": "alice@example.com", "channel": "sms"}, 60200, 400),
        ({"to": "not a number", "channel": "sms"}, 60200, 400),
        ({"to": "+41791110007", "channel": "sms", "custom_code": "1234"}, 60204, 400),
        ({"to": "+41791110007", "channel": "sms", "amount": "1", "payee": "x"}, 60204, 400),
        ({"to": "+41791110007", "channel": "sms", "locale": "???"}, 60200, 400),
    ],
)
def test_invalid_create_parameters(
    login: tuple[Client, str], params: dict[str, Any], code: int, status: int
) -> None:
    client, service_sid = login
    with raises(code, status):
        client.verify.v2.services(service_sid).verifications.create(**params)


def test_invalid_update_status_is_60200(login: tuple[Client, str]) -> None:
    client, service_sid = login
    verify = client.verify.v2.services(service_sid)
    verification = verify.verifications.create(to="+41791110008", channel="sms")
    with raises(60200, 400):
        verify.verifications(verification.sid).update(status="pending")


def test_check_without_to_or_sid_is_60200(login: tuple[Client, str]) -> None:
    client, service_sid = login
    with raises(60200, 400):
        client.verify.v2.services(service_sid).verification_checks.create(code="123456")


def test_no_verification_to_check_is_20404(login: tuple[Client, str]) -> None:
    client, service_sid = login
    with raises(20404, 404):
        client.verify.v2.services(service_sid).verification_checks.create(
            to="+41791110009", code="123456"
        )


def test_max_check_attempts_is_60202(server: LocalServer, strict: tuple[Client, str]) -> None:
    client, service_sid = strict
    verify = client.verify.v2.services(service_sid)
    verification = verify.verifications.create(to="+41791110010", channel="sms")
    code = server.last_code("+41791110010")
    check = verify.verification_checks.create(to="+41791110010", code=wrong(code))
    assert (check.status, check.valid) == ("pending", False)
    with raises(60202, 429):  # the last attempt, wrong
        verify.verification_checks.create(to="+41791110010", code=wrong(code))
    with raises(60202, 429):  # locked: even the right code
        verify.verification_checks.create(to="+41791110010", code=code)
    # ours stays readable (Twilio would answer 20404 by now)
    assert verify.verifications(verification.sid).fetch().status == "max_attempts_reached"


def test_max_send_attempts_is_60203(strict: tuple[Client, str]) -> None:
    client, service_sid = strict
    verify = client.verify.v2.services(service_sid)
    verify.verifications.create(to="+41791110011", channel="sms")
    with raises(60203, 429):
        verify.verifications.create(to="+41791110011", channel="sms")


def test_a_country_outside_the_allowed_list_is_60605(strict: tuple[Client, str]) -> None:
    client, service_sid = strict
    with raises(60605, 403):
        client.verify.v2.services(service_sid).verifications.create(
            to="+4915112345678", channel="sms"
        )


@pytest.mark.parametrize(
    ("ours", "code", "status"),
    [
        ("fraud_suspected", 60410, 403),  # raised by the abuse rules
        ("rate_limited", 20429, 429),
        ("resend_too_soon", 20429, 429),
        ("provider_unavailable", 20503, 503),
        ("store_unavailable", 20503, 503),
    ],
)
def test_failures_of_start_in_twilio_codes(
    server: LocalServer,
    login: tuple[Client, str],
    monkeypatch: pytest.MonkeyPatch,
    ours: str,
    code: int,
    status: int,
) -> None:
    async def refuse(*_: Any, **__: Any) -> Any:
        raise VerifyError(ours, "refused for this test", retry_after=7)

    monkeypatch.setattr(server.app.state.components.verifications, "start", refuse)
    client, service_sid = login
    with raises(code, status):
        client.verify.v2.services(service_sid).verifications.create(
            to="+41791110012", channel="sms"
        )


def test_locale_picks_the_template_and_a_resend_keeps_the_sid(
    server: LocalServer, login: tuple[Client, str]
) -> None:
    client, service_sid = login
    verify = client.verify.v2.services(service_sid)
    first = verify.verifications.create(to="+41791110017", channel="sms", locale="de")
    text = server.app.state.components.providers["capture"].sent_to("+41791110017")[-1].text
    assert text.startswith("Ihr Code: ")
    again = verify.verifications.create(to="+41791110017", channel="sms")
    assert again.sid == first.sid
    assert len(again.send_code_attempts or []) == 2
    # the newest code approves
    check = verify.verification_checks.create(
        to="+41791110017", code=server.last_code("+41791110017")
    )
    assert check.status == "approved"


# --- the wire, below the SDK --------------------------------------------------------------


def basic(account_sid: str, token: str) -> dict[str, str]:
    raw = base64.b64encode(f"{account_sid}:{token}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def test_error_bodies_are_twilio_shaped_and_scoped_to_v2(server: LocalServer) -> None:
    account_sid, service_sid = sids(server, "login")
    r = httpx.get(
        f"{server.base_url}/v2/Services/{service_sid}/Verifications/VE123",
        headers=basic(account_sid, API_KEY),
    )
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/json")
    assert r.json() == {
        "code": 20404,
        "message": f"The requested resource /Services/{service_sid}/Verifications/VE123 "
        "was not found",
        "more_info": "https://www.twilio.com/docs/errors/20404",
        "status": 404,
    }
    r = httpx.get(f"{server.base_url}/v2/Services/{service_sid}")
    assert r.status_code == 401
    assert r.json()["code"] == 20003
    assert r.headers["www-authenticate"].startswith("Basic")
    # routes that do not exist under /v2/Services/ speak Twilio too
    r = httpx.delete(
        f"{server.base_url}/v2/Services/{service_sid}/Verifications/VE1",
        headers=basic(account_sid, API_KEY),
    )
    assert (r.status_code, r.json()["code"]) == (405, 20004)
    r = httpx.get(f"{server.base_url}/v2/Services/{service_sid}/Nothing")
    assert (r.status_code, r.json()["code"]) == (404, 20404)
    # the native API keeps its problem documents
    r = httpx.get(f"{server.base_url}/v1/verifications/ver_x")
    assert r.headers["content-type"].startswith("application/problem+json")


def test_code_length_extension(server: LocalServer) -> None:
    account_sid, service_sid = sids(server, "login")
    url = f"{server.base_url}/v2/Services/{service_sid}/Verifications"
    headers = basic(account_sid, API_KEY)
    r = httpx.post(
        url, data={"To": "+41791110013", "Channel": "sms", "CodeLength": "8"}, headers=headers
    )
    assert r.status_code == 201, r.text
    assert len(server.last_code("+41791110013")) == 8
    r = httpx.post(
        url, data={"To": "+41791110014", "Channel": "sms", "CodeLength": "40"}, headers=headers
    )
    assert r.json() == {
        "code": 60200,
        "message": "Invalid parameter: CodeLength",
        "more_info": "https://www.twilio.com/docs/errors/60200",
        "status": 400,
    }
    r = httpx.post(url, data={"Channel": "sms"}, headers=headers)
    assert (r.status_code, r.json()["message"]) == (400, "Invalid parameter: To")


def test_dates_are_twilio_formatted(server: LocalServer) -> None:
    account_sid, service_sid = sids(server, "login")
    r = httpx.post(
        f"{server.base_url}/v2/Services/{service_sid}/Verifications",
        data={"To": "+41791110015", "Channel": "sms"},
        headers=basic(account_sid, API_KEY),
    )
    body = r.json()
    for key in ("date_created", "date_updated"):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body[key]), body[key]
    assert body["status"] == "pending"
    assert body["sna"] is None


def test_changing_the_sdk_base_url_is_enough(server: LocalServer) -> None:
    """The README's recipe: the SDK's own client, only `verify.base_url` changed."""
    account_sid, service_sid = sids(server, "login")
    client = Client(account_sid, API_KEY)
    client.verify.base_url = server.base_url
    verification = client.verify.v2.services(service_sid).verifications.create(
        to="+41791110016", channel="sms"
    )
    assert verification.status == "pending"
