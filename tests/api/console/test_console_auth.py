"""The console's sign-in without a browser: rate limited against guessing, sessions that
only the console's own forms can use, operators limited to their services, the config's
refusals, and `hash-password`."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from argon2 import PasswordHasher, Type, extract_parameters
from litestar.testing import TestClient

from tests.conftest import config
from verify_service import cli
from verify_service.api.app import create_app
from verify_service.config import ConfigError, settings_from_mapping
from verify_service.config.load import dev_settings
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


# --- cookie tossing: a sibling subdomain (or a man in the middle on plain HTTP) can set a
# cookie for the console's host with Domain=<parent>; SameSite does not stop it (same site).


def test_a_login_cookie_planted_by_a_sibling_subdomain_does_not_pass_the_csrf_check(
    client: TestClient[Any],
) -> None:
    # Login CSRF: evil.example plants the double-submit cookie with a value it knows and
    # posts the sign-in form with that value and its own operator's name and password: the
    # victim would work, unaware, in the attacker's session.
    client.cookies.set("vs_console_login", "planted-by-a-sibling", domain=".testserver.local")
    answer = client.post(
        "/console/login",
        data={"csrf": "planted-by-a-sibling", "name": "alice", "password": PASSWORD},
        follow_redirects=False,
    )
    assert answer.status_code == 403
    assert "set-cookie" not in answer.headers or "vs_console=" not in answer.headers["set-cookie"]


def test_a_session_cookie_planted_by_a_sibling_subdomain_is_no_session(
    client: TestClient[Any],
) -> None:
    # Session fixation: the attacker signs in and plants its own session's id in the
    # victim's browser, which then works (and searches numbers) in the attacker's session.
    attacker = sign_in(client, "alice", PASSWORD)
    assert attacker.status_code == 303
    session_id = next(c.value for c in client.cookies.jar if c.name.endswith("vs_console"))
    client.cookies.clear()  # the victim's browser, from here on
    client.cookies.set("vs_console", session_id, domain=".testserver.local")
    answer = client.get("/console/", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/console/login")


def test_over_https_the_console_cookies_are_host_only(client: TestClient[Any]) -> None:
    # The `__Host-` prefix: browsers take such a cookie only with Secure, Path=/ and no
    # Domain, from the host itself, so no sibling can plant or overwrite one.
    form = client.get("/console/login")
    login_cookie = form.headers["set-cookie"]
    assert login_cookie.startswith("__Host-vs_console_login=")
    signed_in = sign_in(client, "alice", PASSWORD)
    session_cookies = signed_in.headers.get_list("set-cookie")
    assert any(c.startswith("__Host-vs_console=") for c in session_cookies)
    for cookie in [login_cookie, *session_cookies]:
        attributes = [a.strip().lower() for a in cookie.split(";")[1:]]
        assert "secure" in attributes
        assert "path=/" in attributes
        assert not any(a.startswith("domain") for a in attributes)


def test_a_form_posted_from_another_origin_of_the_same_site_is_refused(
    client: TestClient[Any],
) -> None:
    # Defence in depth, also for plain-HTTP development (no `__Host-` there): browsers say
    # where a request comes from in Sec-Fetch-Site; a sibling's page is "same-site".
    form = client.get("/console/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token is not None
    for where in ("same-site", "cross-site"):
        answer = client.post(
            "/console/login",
            data={"csrf": token.group(1), "name": "alice", "password": PASSWORD},
            headers={"Sec-Fetch-Site": where},
            follow_redirects=False,
        )
        assert answer.status_code == 403, where
    same_origin = sign_in(client, "alice", PASSWORD)  # what the console's own form sends
    assert same_origin.status_code == 303
    # a link from elsewhere still opens a page (reading changes nothing)
    assert client.get("/console/login", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 200


def test_dev_modes_link_followed_from_another_origin_is_refused_and_stays_usable() -> None:
    # Over plain HTTP (dev mode) there is no `__Host-`: the origin check stands alone. A
    # page elsewhere that makes the browser open its own link would sign the victim in
    # to the attacker's session; the link itself stays usable for its owner.
    settings, _ = dev_settings()
    with TestClient(create_app(settings, console_login="dev-link-token-0123456789")) as c:
        link = "/console/login/once?token=dev-link-token-0123456789"
        for where in ("same-site", "cross-site"):
            refused = c.get(link, headers={"Sec-Fetch-Site": where}, follow_redirects=False)
            assert refused.status_code == 403, where
            assert "vs_console=" not in refused.headers.get("set-cookie", "")
        owner = c.get(link, headers={"Sec-Fetch-Site": "none"}, follow_redirects=False)
        assert owner.status_code == 303
        assert owner.headers["set-cookie"].startswith("vs_console=")  # plain HTTP: no prefix


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


STRONG = (  # README's example: RFC 9106's second choice, as `hash-password` makes it
    "$argon2id$v=19$m=65536,t=3,p=4$X12Thu9MjbSoQ1qwnVMCpQ"
    "$9/4AMeVwIoItZ6LfF2+vQV3zLG1erLmE/SLA8c6WZt4"
)


@pytest.mark.parametrize(
    ("console", "message"),
    [
        ({"users": [{"name": "a", "password_hash": "hunter2", "services": ["*"]}]}, "argon2id"),
        (
            {"users": [{"name": "a", "password_hash": STRONG, "services": ["nope"]}]},
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


def _argon2(kind: Type, memory_kib: int, time_cost: int, parallelism: int = 1) -> str:
    hasher = PasswordHasher(
        time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=kind
    )
    return hasher.hash(PASSWORD)


def _load_with(password_hash: str) -> None:
    user = {"name": "alice", "password_hash": password_hash, "services": ["*"]}
    settings_from_mapping(config(console={"users": [user]}), environ={})


# OWASP Password Storage Cheat Sheet: argon2id with m >= 47104 KiB and t = 1, 19456 and 2,
# 12288 and 3, 9216 and 4, or 7168 and 5 (memory traded for passes); p = 1 or more.
@pytest.mark.parametrize(
    ("memory_kib", "time_cost"),
    [
        (8, 1),
        (1024, 1),
        (19456, 1),
        (47103, 1),
        (19455, 2),
        (12287, 3),
        (9215, 4),
        (7167, 5),
        (4096, 10),
    ],
)
def test_a_password_hash_below_owasps_argon2id_minimum_is_refused(
    memory_kib: int, time_cost: int
) -> None:
    weak = _argon2(Type.ID, memory_kib, time_cost)
    with pytest.raises(ConfigError) as info:
        _load_with(weak)
    message = str(info.value)
    assert "console.users.0.password_hash" in message
    assert f"m={memory_kib}" in message
    assert f"t={time_cost}" in message
    assert "19456" in message  # the minimum, in the words of the error
    assert "hash-password" in message  # and how to make a good one


@pytest.mark.parametrize(
    ("memory_kib", "time_cost"), [(47104, 1), (19456, 2), (12288, 3), (9216, 4), (7168, 5)]
)
def test_owasps_argon2id_profiles_load_and_sign_in(memory_kib: int, time_cost: int) -> None:
    good = _argon2(Type.ID, memory_kib, time_cost)
    _load_with(good)
    with TestClient(app_with(good), base_url=HTTPS) as c:
        assert sign_in(c, "alice", PASSWORD).status_code == 303


@pytest.mark.parametrize("kind", [Type.I, Type.D])
def test_argon2_variants_other_than_argon2id_are_refused(kind: Type) -> None:
    with pytest.raises(ConfigError, match="argon2id"):
        _load_with(_argon2(kind, 65536, 3))


@pytest.mark.parametrize("broken", ["$argon2id$x", "$argon2id$v=19$m=65536,t=3,p=4$!!$??"])
def test_a_malformed_argon2id_hash_is_refused_at_load(broken: str) -> None:
    with pytest.raises(ConfigError, match=r"console\.users\.0\.password_hash"):
        _load_with(broken)


def test_hash_password_makes_a_hash_above_the_minimum(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert cli.main(["hash-password"]) == 0
    made = extract_parameters(capsys.readouterr().out.strip())
    assert made.type is Type.ID
    assert (made.memory_cost, made.time_cost) == (65536, 3)  # RFC 9106's second choice
