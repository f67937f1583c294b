"""The operations console in a real browser: Debian's chromium, driven by Selenium through
Debian's chromium-driver, against the app under uvicorn on a real redis-server.

One operator signs in, the API runs a flow, the console shows it (Overview, Attempts, a
verification's timeline), a provider fake reports delivery through the real report
endpoint and Providers shows it, a fraud block is lifted through the Fraud page and the
next start is accepted; a wrong password, a POST without its CSRF token and an expired
session are refused. Over HTTPS, a sign-in cookie tossed from another origin of the same
site signs no one in. Screenshots and the HTML of each page go to artifacts/console/ (git-ignored)
for a reviewer. Without chromium or chromedriver the test is skipped with a reason, unless
VERIFY_TEST_REQUIRE_BROWSER=1 (CI) makes that a failure."""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.conftest import API_KEY, PEPPER, config
from tests.support.certs import make_certificates
from tests.support.helpers import sent_code
from tests.support.live_server import serve
from tests.support.redis_server import RedisServer
from tests.support.reporting_websms import ReportingWebsms
from tests.system.test_docs_page import chromium
from verify_service.api.app import create_app
from verify_service.config import hash_api_key, settings_from_mapping
from verify_service.store import keys
from verify_service.usecases.console_auth import hash_password

pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "console"
PASSWORD = "correct horse battery staple"
NUMBER = "+41791234567"
OTHER = "+41791234568"
# A second service whose SMS go through websms (a fake that sends delivery reports).
SHOP_KEY = "test-key-shop-0123456789"
REPORTS = "websms-reports-0123456789abcdef"


def pumped(i: int) -> str:
    """Sequential numbers of one German range: the shape of an SMS pumping list."""
    return f"+49152110000{i:02d}"


def chromedriver() -> str:
    binary = shutil.which("chromedriver")
    if binary is None:
        why = "chromedriver is not installed (Debian: apt-get install chromium-driver)"
        if os.environ.get("VERIFY_TEST_REQUIRE_BROWSER") == "1":
            pytest.fail(why)
        pytest.skip(why)
    return binary


@pytest.fixture
def browser() -> Iterator[Any]:
    yield from _driver()


def _driver(*extra: str) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium()
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--window-size=1280,1400",
        # Only the service is reachable: a page that needed a CDN would break.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        *extra,
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=chromedriver()), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def websms() -> Iterator[ReportingWebsms]:
    with ReportingWebsms() as fake:
        yield fake


@pytest.fixture
def console(redis_server: RedisServer, websms: ReportingWebsms) -> Iterator[tuple[str, Any]]:
    redis.Redis.from_url(redis_server.url).flushdb()
    mapping = config(
        redis_url=redis_server.url,
        # The pumping guard is off in the shared test config; this test pumps a range.
        service={"fraud_guard": {"enabled": True}},
        providers={"capture": {"kind": "capture"}, "websms": websms.config("env:REPORTS")},
        extra_services=[
            {
                "name": "shop",
                "api_keys": [hash_api_key(SHOP_KEY)],
                "providers": ["websms"],
                "resend_cooldown": 0,
                "fraud_guard": {"enabled": False},
            }
        ],
        console={
            "secure_cookie": False,  # plain HTTP on loopback
            "users": [
                {
                    "name": "alice",
                    "password_hash": hash_password(PASSWORD),
                    "services": ["login", "shop"],
                }
            ],
        },
    )
    app = create_app(settings_from_mapping(mapping, environ={"REPORTS": REPORTS}))
    with serve(app) as url:
        yield url, app.state["components"]


class Pages:
    """The browser, with what each page showed kept for the checks at the end."""

    def __init__(self, driver: Any, base: str) -> None:
        self.driver = driver
        self.base = base
        self.seen: dict[str, str] = {}
        ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def open(self, path: str, shot: str | None = None) -> str:
        self.driver.get(self.base + path)
        return self.keep(shot)

    def keep(self, shot: str | None) -> str:
        html: str = self.driver.page_source
        if shot:
            self.seen[shot] = html
            self.driver.save_screenshot(str(ARTIFACTS / f"{shot}.png"))
            (ARTIFACTS / f"{shot}.html").write_text(html)
        return html

    def text(self, css: str) -> str:
        from selenium.webdriver.common.by import By

        return str(self.driver.find_element(By.CSS_SELECTOR, css).text)

    def sign_in(self, name: str, password: str, shot: str | None = None) -> str:
        from selenium.webdriver.common.by import By

        self.open("/console/login")
        self.driver.find_element(By.NAME, "name").send_keys(name)
        self.driver.find_element(By.NAME, "password").send_keys(password)
        # Mark the form's document: the answer is loaded once a complete document without
        # the mark is there (not just: some page is loaded). Not staleness_of: while the
        # page is being replaced chromedriver may answer "Node with given id does not
        # belong to the document" (a plain WebDriverException) instead of "stale element".
        self.driver.execute_script("window.__vsFormPage = true;")
        self.driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        self.wait(lambda driver: driver.execute_script("return window.__vsFormPage === undefined;"))
        return self.keep(shot)

    def wait(self, arrived: Any) -> None:
        """Wait up to 30 s until `arrived(driver)` holds on a completely loaded document;
        errors chromedriver answers while a document is being replaced count as not yet."""
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.support.ui import WebDriverWait

        WebDriverWait(self.driver, 30, ignored_exceptions=(WebDriverException,)).until(
            lambda driver: (
                bool(arrived(driver))
                and driver.execute_script("return document.readyState;") == "complete"
            )
        )

    def session_cookie(self) -> str | None:
        found = self.driver.get_cookie("vs_console")
        return None if found is None else str(found["value"])


def api(base: str, path: str, body: dict[str, str], key: str = API_KEY) -> httpx.Response:
    return httpx.post(
        base + path, json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )


def test_console_in_a_browser(
    browser: Any,
    console: tuple[str, Any],
    websms: ReportingWebsms,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from selenium.webdriver.common.by import By

    caplog.set_level(logging.INFO)
    base, components = console
    pages = Pages(browser, base)

    # Not signed in: every page leads to the sign-in form; a wrong password is refused.
    pages.open("/console/attempts")
    assert browser.current_url.startswith(base + "/console/login")
    html = pages.sign_in("alice", "not the password", "login-refused")
    assert "Wrong name or password" in html
    assert pages.session_cookie() is None
    html = pages.sign_in("alice", PASSWORD)
    assert browser.current_url == base + "/console/"
    cookie = browser.get_cookie("vs_console")
    assert cookie["httpOnly"]
    assert cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/console"

    # A flow through the API: one verification approved, one left unconverted.
    assert api(base, "/v1/verifications", {"to": NUMBER}).status_code == 201
    assert api(base, "/v1/verifications", {"to": OTHER}).status_code == 201
    code = sent_code(components, NUMBER)
    checked = api(base, "/v1/verifications/check", {"to": NUMBER, "code": code})
    assert checked.json()["status"] == "approved", checked.text
    verification_id = checked.json()["id"]

    html = pages.open("/console/", "overview")
    # the day window: "hour" is the current clock hour, which a start made at HH:59 leaves
    assert pages.text("#window-day .starts") == "2"
    assert pages.text("#window-day .approvals") == "1"
    assert pages.text("#window-day .conversion") == "50.0 %"
    row = pages.text("#countries tbody tr")
    assert row.startswith("CH 2 1 50.0 %"), row
    assert html.count("<svg") >= 3  # two charts and a sparkline, inline

    # Attempts: numbers masked in a listing, shown when searched for; the timeline.
    html = pages.open("/console/attempts", "attempts")
    assert NUMBER not in html
    assert "+*******4567" in html
    html = pages.open(f"/console/attempts?to={NUMBER.replace('+', '%2B')}", "attempts-search")
    assert NUMBER in html
    assert OTHER not in html
    browser.find_element(By.LINK_TEXT, verification_id).click()
    pages.wait(lambda d: "verification_id=" in d.current_url)
    html = pages.keep("attempts-timeline")
    timeline = pages.text("#timeline")
    assert "approved" in timeline
    assert "send sent" in timeline
    assert "1 check(s)" in timeline
    assert code not in timeline

    pages.open("/console/providers", "providers")
    provider = pages.text("#providers tbody tr")
    assert provider.startswith("capture 2 0 100.0 %"), provider  # 2 sends, 0 failed
    # capture takes no delivery reports: both accepted sends have none; one approval
    assert pages.text("#delivery tbody tr").startswith("capture 2 0 0 2 - "), pages.text(
        "#delivery tbody tr"
    )
    assert pages.text("#delivery tbody tr .conversion") == "50.0 %"

    # Delivery reports (DLR), service "shop" on websms: three starts; websms reports the
    # first delivered, the second expired and then (late, out of order) delivered, the
    # third expired, and repeats the first report; the fourth send has no report yet.
    callback = f"{base}/v1/providers/websms/reports/{REPORTS}"
    for i in range(4):
        started = api(base, "/v1/verifications", {"to": f"+4179765432{i}"}, SHOP_KEY)
        assert started.status_code == 201, started.text
    first, second, third, _ = websms.sent
    for transfer_id, status in (
        (first, "delivered"),
        (second, "expired"),
        (third, "expired"),
        (second, "delivered"),
        (first, "delivered"),
        (first, "expired"),  # delivered is final
    ):
        websms.deliver(callback, transfer_id, status)
    pages.open("/console/providers?service=shop", "providers-reports")
    row = pages.text("#delivery tbody tr")
    # accepted 4, delivered 2, undelivered 1, no report 1, delivery rate 2 / 3
    assert row.startswith("websms 4 2 1 1 66.7 %"), row
    assert pages.text("#delivery tbody tr .conversion") == "0.0 %"
    html = pages.open("/console/?service=shop", "overview-reports")
    assert pages.text("#window-day .delivery-rate") == "66.7 %"

    # SMS pumping: sequential numbers of one range until the guard blocks the range.
    for i in range(60):
        started = api(base, "/v1/verifications", {"to": pumped(i)})
        if started.status_code == 403:
            assert started.json()["code"] == "fraud_suspected", started.text
            blocked = pumped(i)
            break
        assert started.status_code == 201, started.text
    else:
        pytest.fail("the fraud guard never blocked the pumped range")
    pages.open("/console/fraud", "fraud")
    block = pages.text("#blocks tbody tr")
    assert block.startswith("+49"), block
    browser.find_element(By.CSS_SELECTOR, "#blocks button[name=lift]").click()
    pages.wait(lambda d: "done=lift" in d.current_url)
    pages.keep("fraud-lifted")
    assert "Done: lift" in browser.page_source
    assert "No blocks in force" in pages.text("#blocks")
    trip = pages.text("#trips tbody tr")  # the lifted block stays among the recent trips
    assert trip.startswith(block.split()[0]), trip
    assert "lifted by console:alice" in trip, trip
    assert api(base, "/v1/verifications", {"to": blocked}).status_code == 201
    audit = [r for r in caplog.records if "lifted the block" in r.getMessage()]
    assert audit, "the lift is not in the log"
    assert "console:alice" in audit[0].getMessage(), audit[0].getMessage()

    # A POST without the session's CSRF token is refused, with the session cookie sent.
    session = pages.session_cookie()
    assert session
    no_csrf = httpx.post(
        base + "/console/fraud/allow",
        data={"service": "login", "range": "+4179"},
        cookies={"vs_console": session},
    )
    assert no_csrf.status_code == 403
    assert "CSRF" in no_csrf.text
    browser.execute_script(
        "document.querySelector('form[action$=\"/fraud/allow\"] [name=csrf]').remove()"
    )
    browser.find_element(By.NAME, "range").send_keys("+4179")
    browser.find_element(By.CSS_SELECTOR, "form[action$='/fraud/allow'] button").click()
    pages.wait(lambda d: d.title.startswith("Refused"))
    assert "CSRF" in pages.keep("csrf-refused")
    pages.open("/console/fraud")
    assert "None." in pages.text("#allowed")  # nothing was allow-listed

    # Test outbox (test_mode): what the capture provider kept for a number.
    html = pages.open(f"/console/outbox?to={OTHER.replace('+', '%2B')}", "outbox")
    assert "Your code is" in html

    # On a phone: no page wider than the screen (wide tables scroll in their own box).
    browser.set_window_size(390, 900)
    for path, shot in (
        ("/console/", "overview-phone"),
        (f"/console/attempts?verification_id={verification_id}", "attempts-phone"),
        ("/console/providers?service=shop", "providers-phone"),
        ("/console/fraud", "fraud-phone"),
        ("/console/outbox", "outbox-phone"),
    ):
        pages.open(path, shot)
        width = browser.execute_script("return document.documentElement.scrollWidth")
        assert width <= 390, (shot, width)
    browser.set_window_size(1280, 1400)

    # The session expires (its Redis key's time runs out): the next page asks to sign in.
    redis.Redis.from_url(components.settings.redis_url).pexpire(
        keys.console_session_key(session), 1
    )
    pages.open("/console/", "expired")
    assert browser.current_url.startswith(base + "/console/login")
    assert "Please sign in again" in browser.page_source

    # Secrets: no code, API key or pepper in any page, cookie or log line; full numbers
    # only on the pages that searched for them (and the test outbox's number search).
    log_text = "\n".join(r.getMessage() for r in caplog.records) + caplog.text
    codes = [sent_code(components, to) for to in (NUMBER, OTHER)]
    for name, html in pages.seen.items():
        for secret in (API_KEY, PEPPER, *([] if name == "outbox" else codes)):
            assert secret not in html, f"{name} shows a secret"
        if name.startswith("fraud"):
            # A block names its range (a prefix that many numbers share), never a number.
            numbers = (NUMBER, OTHER, *(pumped(i) for i in range(60)))
            assert not any(n in html for n in numbers), f"{name} shows a full number"
        elif name not in ("attempts-search", "outbox"):
            assert not re.search(r"\+\d{8,}", html), f"{name} shows a full number"
    for secret in (API_KEY, PEPPER, *codes, PASSWORD):
        assert secret not in log_text
    for number in (NUMBER, OTHER):
        assert number not in log_text
    # Read without JavaScript: no page has a script, and the policy would run none.
    for name, html in pages.seen.items():
        assert "<script" not in html.lower(), f"{name} has a script"
    policy = httpx.get(base + "/console/login").headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src" not in policy
    for cookie in browser.get_cookies():
        assert all(s not in str(cookie["value"]) for s in (API_KEY, PEPPER, *codes))


# --- cookie tossing, over HTTPS ------------------------------------------------------------
# Another origin of the same site (a sibling subdomain; here: another port of 127.0.0.1,
# since cookies ignore ports) plants the sign-in form's double-submit cookie with a value
# it knows and posts the form with it and its own operator's password: the victim's
# browser would be signed in to the attacker's session (login CSRF).

ATTACKER_PAGE = """<!doctype html><title>Win a prize</title>
<form method="post" action="{target}/console/login">
<input name="csrf" value="planted"><input name="name" value="alice">
<input name="password" value="{password}"></form>
<script>
document.cookie = "vs_console_login=planted; Path=/; Secure; SameSite=None";
document.forms[0].submit();
</script>"""


def _page_app(html: str) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = html.encode()
        headers = [(b"content-type", b"text/html; charset=utf-8")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


@pytest.fixture
def tls_files(tmp_path: Path) -> dict[str, str]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not on PATH (needed to make the test certificate)")
    make_certificates(tmp_path)
    return {
        "ssl_certfile": str(tmp_path / "server.crt"),
        "ssl_keyfile": str(tmp_path / "server.key"),
    }


def test_a_cookie_tossed_from_a_sibling_origin_signs_no_one_in(
    redis_server: RedisServer, tls_files: dict[str, str]
) -> None:
    redis.Redis.from_url(redis_server.url).flushdb()
    users = [{"name": "alice", "password_hash": hash_password(PASSWORD), "services": ["*"]}]
    mapping = config(redis_url=redis_server.url, console={"users": users})  # Secure cookies
    app = create_app(settings_from_mapping(mapping, environ={}))
    drivers = _driver("--ignore-certificate-errors")
    driver = next(drivers)
    try:
        with serve(app, **tls_files) as plain_url:
            console = plain_url.replace("http://", "https://")
            attacker = ATTACKER_PAGE.format(target=console, password=PASSWORD)
            with serve(_page_app(attacker), **tls_files) as evil:
                pages = Pages(driver, console)
                # the console's own form still works over HTTPS: __Host- cookies
                pages.sign_in("alice", PASSWORD)
                assert driver.current_url == console + "/console/"
                cookie = driver.get_cookie("__Host-vs_console")
                assert cookie is not None
                assert (cookie["path"], cookie["secure"], cookie["httpOnly"]) == ("/", True, True)
                assert "domain" not in cookie or not cookie["domain"].startswith(".")
                driver.delete_all_cookies()

                # the victim visits the attacker's page on a sibling origin
                driver.get(evil.replace("http://", "https://"))
                pages.wait(lambda d: d.current_url.startswith(console))
                html = pages.keep("cookie-tossing-refused")
                names = [c["name"] for c in driver.get_cookies()]
                assert not any(n.endswith("vs_console") for n in names), names
                assert "Refused" in driver.title, html
                assert pages.open("/console/").count('name="password"') == 1  # signed out
    finally:
        drivers.close()
