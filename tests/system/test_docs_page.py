"""/docs is an API reference a person can read: Swagger UI rendered in a real browser
(Debian's chromium, headless) from files this service serves itself, plus the OpenAPI
document as /openapi.yaml and /openapi.json.

The browser resolves every host name but 127.0.0.1 to nothing, so a page that needed a
CDN would render empty here. Without chromium the browser test is skipped with a reason,
unless VERIFY_TEST_REQUIRE_BROWSER=1 (CI) makes that a failure."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support.live_server import serve
from verify_service.api.app import create_app
from verify_service.api.ops.docs import ASSETS_DIR
from verify_service.config import dev_settings

ROOT = Path(__file__).resolve().parents[2]
# One operation of each dialect, as Swagger UI prints its summary line.
OPERATIONS = {
    "/v1/verifications/check": "Check a code, by number or by verification id",
    "/v2/Services/{service_sid}/VerificationCheck": "Check a code, by number or by "
    "Verification SID (Twilio Verify v2)",
    "/messaging/tokenvalidation/{msisdn}/{token}": "Check a token (Swisscom Token Validation)",
}


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    settings, _ = dev_settings()
    with serve(create_app(settings)) as url:
        yield url


def chromium() -> str:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        if os.environ.get("VERIFY_TEST_REQUIRE_BROWSER") == "1":
            pytest.fail("chromium is not installed (Debian: apt-get install chromium)")
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    return binary


def rendered_dom(url: str) -> str:
    with tempfile.TemporaryDirectory(prefix="verify-chromium-") as profile:
        out = subprocess.run(
            [
                chromium(),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                # Only the service is reachable: CDN URLs fail to resolve.
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                # Let the scripts run (virtual time skips idle waits) before the DOM is read.
                "--virtual-time-budget=15000",
                "--dump-dom",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_docs_page_renders_all_three_dialects_in_a_browser(base_url: str) -> None:
    dom = rendered_dom(f"{base_url}/docs")
    assert "swagger-ui" in dom, dom[:2000]
    for path, summary in OPERATIONS.items():
        assert f'data-path="{path}"' in dom, f"{path} not rendered"
        assert summary in dom, f"{summary!r} not rendered"
    for tag in ("verifications", "twilio-verify", "swisscom"):
        assert re.search(rf'data-tag="{tag}', dom, re.I), f"tag {tag} not rendered"


def test_docs_page_loads_nothing_from_elsewhere(base_url: str) -> None:
    html = httpx.get(f"{base_url}/docs", timeout=10).text
    urls = re.findall(r"""(?:src|href)=["']([^"']+)""", html)
    assert urls, html[:500]
    assert all(url.startswith("/docs/assets/") for url in urls), urls
    for url in urls:
        assert httpx.get(base_url + url, timeout=10).status_code == 200, url


def test_openapi_documents_are_served(base_url: str) -> None:
    committed = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    as_yaml = httpx.get(f"{base_url}/openapi.yaml", timeout=10)
    assert as_yaml.status_code == 200
    assert yaml.safe_load(as_yaml.text) == committed
    as_json = httpx.get(f"{base_url}/openapi.json", timeout=10)
    assert as_json.status_code == 200
    assert json.loads(as_json.text) == committed


def test_vendored_assets_match_their_manifest() -> None:
    """The files are what tools/docs_assets/vendor.py copied from the locked npm package."""
    listed = {}
    for line in (ASSETS_DIR / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        listed[name] = digest
    present = {p.name for p in ASSETS_DIR.iterdir()} - {"SHA256SUMS"}
    assert present == set(listed)
    for name, digest in listed.items():
        assert hashlib.sha256((ASSETS_DIR / name).read_bytes()).hexdigest() == digest, name
