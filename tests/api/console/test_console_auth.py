"""The console's sign-in without a browser: rate limited against guessing, sessions that
only the console's own forms can use, operators limited to their services, the config's
refusals, and `hash-password`."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from tests.conftest import config
from verify_service import cli
from verify_service.api.app import create_app
from verify_service.config import ConfigError, settings_from_mapping
from verify_service.usecases.console_auth import hash_password

PASSWORD = "a long operator password"
HTTPS = "https://testserver.local"  # the cookies are Secure outside dev mode


@pytest.fixture(scope="module")
def password_hash() -> str:
    return hash_password(PASSWORD)


def app_with(password_hash: str, **console: Any) -> Any:
    users = [
        {"name": "alice", "password_hash": password_hash, "services": ["login"]},
        {"name": "bob", "password_hash": password_hash, "services": ["other"]},
    ]
    mapping = config(console={"users": users, **console})
    mapping["services"].append(
        {"name": "other", "api_keys": ["sha256:" + "1" * 64], "providers": ["capture"]}
    )
    return create_app(settings_from_mapping(mapping, environ={}))


@pytest.fixture
def client(password_hash: str) -> Iterator[TestClient[Any]]:
    with TestClient(app_with(password_hash, login_limits=["3/minute"]), base_url=HTTPS) as c:
        yield c


def sign_in(client: TestClient[Any], name: str, password: str) -> Any:
    form = client.get("/console/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token is not None
    return client.post(
        "/console/login",
        data={"csrf": token.group(1), "name": name, "password": password},
        follow_redirects=False,
    )


def test_guessing_is_rate_limited_before_any_hash_work(client: TestClient[Any]) -> None:
    answers = [sign_in(client, "alice", f"guess {i}").status_code for i in range(3)]
    assert answers == [401, 401, 401]
    refused = sign_in(client, "alice", PASSWORD)  # even the right one, until the window frees
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    assert "vs_console=" not in refused.headers.get("set-cookie", "")


def test_an_unknown_name_is_answered_like_a_wrong_password(client: TestClient[Any]) -> None:
    unknown = sign_in(client, "mallory", PASSWORD)
    wrong = sign_in(client, "alice", "wrong")
    assert unknown.status_code == wrong.status_code == 401
    assert "Wrong name or password" in unknown.text
    assert "Wrong name or password" in wrong.text


def test_sign_in_needs_the_forms_own_token(client: TestClient[Any]) -> None:
    answer = client.post(
        "/console/login", data={"name": "alice", "password": PASSWORD}, follow_redirects=False
    )
    assert answer.status_code == 403


def test_an_operator_sees_only_its_services_and_signs_out(client: TestClient[Any]) -> None:
    signed_in = sign_in(client, "bob", PASSWORD)
    assert signed_in.status_code == 303
    cookie = signed_in.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "Secure" in cookie  # outside dev mode
    assert "SameSite=strict" in cookie
    assert client.get("/console/?service=login").status_code == 404
    page = client.get("/console/?service=other")
    assert page.status_code == 200
    assert ">login<" not in page.text  # not even in the service picker
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    out = client.post("/console/logout", data={"csrf": csrf.group(1)}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/console/", follow_redirects=False).status_code == 303


def test_an_api_key_does_not_open_the_console(client: TestClient[Any]) -> None:
    from tests.conftest import API_KEY

    answer = client.get(
        "/console/", headers={"Authorization": f"Bearer {API_KEY}"}, follow_redirects=False
    )
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/console/login")


def test_the_console_is_off_unless_configured() -> None:
    with TestClient(create_app(settings_from_mapping(config(), environ={}))) as c:
        assert c.get("/console/login").status_code == 404


def test_the_path_is_configurable(password_hash: str) -> None:
    with TestClient(app_with(password_hash, path="/ops")) as c:
        assert c.get("/ops/login").status_code == 200
        assert c.get("/console/login").status_code == 404


@pytest.mark.parametrize(
    ("console", "message"),
    [
        ({"users": [{"name": "a", "password_hash": "hunter2", "services": ["*"]}]}, "argon2id"),
        (
            {"users": [{"name": "a", "password_hash": "$argon2id$x", "services": ["nope"]}]},
            "unknown services",
        ),
        ({"path": "/v1"}, "taken by the API"),
        ({"login_limits": ["often"]}, "not a rate limit"),
    ],
)
def test_config_refusals(console: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        settings_from_mapping(config(console=console), environ={})


def test_hash_password_reads_stdin_and_prints_a_hash_that_signs_in(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert cli.main(["hash-password"]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed.startswith("$argon2id$")
    assert PASSWORD not in printed
    with TestClient(app_with(printed), base_url=HTTPS) as c:
        assert sign_in(c, "alice", PASSWORD).status_code == 303
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert cli.main(["hash-password"]) == 2
