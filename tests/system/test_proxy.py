"""The shipped proxy (deploy/nginx.conf, `docker compose --profile proxy`) in front of the
app, on a real nginx: every dialect passes through it, and its access log holds no code
and no number. Skipped where nginx is not installed (Debian: `apt-get install nginx-light`)."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import API_KEY, config
from tests.support.live_server import serve, wait_until_live
from tests.support.redis_server import free_port
from verify_service.api.app import create_app
from verify_service.config import settings_from_mapping

pytestmark = pytest.mark.system
ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


@contextmanager
def nginx_before(upstream: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """deploy/nginx.conf as shipped, its upstream and port and log path moved here; yields
    the proxy's URL and its access log."""
    assert NGINX is not None
    port = free_port()
    access = tmp_path / "access.log"
    site = (ROOT / "deploy" / "nginx.conf").read_text()
    site = site.replace("server verify-service:8080;", f"server {upstream.split('//')[1]};")
    site = site.replace("listen 80;", f"listen 127.0.0.1:{port};")
    site = site.replace("/var/log/nginx/access.log", str(access))
    (tmp_path / "site.conf").write_text(site)
    temp = " ".join(
        f"{kind}_temp_path {tmp_path / kind};" for kind in ("client_body", "proxy", "fastcgi")
    )
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path / 'nginx.pid'};\nerror_log {tmp_path / 'error.log'};\n"
        "events { worker_connections 64; }\n"
        f"http {{ {temp} uwsgi_temp_path {tmp_path / 'u'}; scgi_temp_path {tmp_path / 's'};\n"
        f"  include {tmp_path / 'site.conf'}; }}\n"
    )
    process = subprocess.Popen(
        [NGINX, "-c", str(tmp_path / "nginx.conf"), "-g", "daemon off;"],
    )
    try:
        wait_until_live(f"http://127.0.0.1:{port}", process, seconds=10)
        yield f"http://127.0.0.1:{port}", access
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed")
def test_swisscom_calls_pass_the_proxy_and_its_log_holds_no_code_or_number(
    tmp_path: Path,
) -> None:
    # Before: nginx dropped the `client_id` header (an underscore), so every Swisscom call
    # through the shipped proxy was 401; and its default log format wrote the request line,
    # /messaging/tokenvalidation/<number>/<code> and searches' ?to=<number>, to the log.
    app = create_app(settings_from_mapping(config(), environ={}))
    number = "+41791234567"
    with serve(app) as upstream, nginx_before(upstream, tmp_path) as (proxy, access):
        headers = {"client_id": API_KEY, "SCS-Version": "2", "Accept": "application/json"}
        start = httpx.post(
            f"{proxy}/messaging/tokenvalidation",
            headers=headers,
            json={"to": number, "text": "Code: %TOKEN%"},
        )
        assert start.status_code == 201, start.text
        bearer = {"Authorization": f"Bearer {API_KEY}"}
        outbox = httpx.get(f"{upstream}/v1/test/messages", params={"to": number}, headers=bearer)
        code = re.findall(r"\d{4,}", outbox.json()["messages"][0]["text"])[-1]
        check = httpx.get(f"{proxy}/messaging/tokenvalidation/{number}/{code}", headers=headers)
        assert check.json() == {"validation": "SUCCESS"}
        search = httpx.get(f"{proxy}/v1/attempts", params={"to": number}, headers=bearer)
        assert search.status_code == 200
        time.sleep(0.2)  # nginx writes its log line after the answer
        log = access.read_text()
    assert "GET /messaging/tokenvalidation/{msisdn}/{token}" in log
    assert "GET /v1/attempts" in log
    assert code not in log
    assert number[-7:] not in log
