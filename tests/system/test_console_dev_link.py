"""Dev mode (`make serve`) turns the operations console on and prints a one-time sign-in
link next to the API key (issue 18): the link signs in once, over plain HTTP (no Secure
cookie on loopback), and is refused when used again."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.system.test_first_run import DEV_KEY, dev_server


def test_the_printed_link_signs_in_once(tmp_path: Path) -> None:
    with dev_server(tmp_path) as (base, banner):
        found = re.search(r"one-time sign-in link\): (\S+)", banner)
        assert found is not None, banner
        link = found.group(1)
        assert link.startswith(f"{base}/console/login/once?token=")
        assert banner.index("API key of service 'default'") < banner.index(link)

        with httpx.Client(base_url=base, timeout=30) as browser:
            signed_in = browser.get(link, follow_redirects=False)
            assert signed_in.status_code == 303
            assert signed_in.headers["location"] == "/console/"
            cookie = signed_in.headers["set-cookie"]
            assert "vs_console=" in cookie
            assert "HttpOnly" in cookie
            assert "Secure" not in cookie  # dev mode: plain HTTP on this machine
            page = browser.get("/console/")
            assert page.status_code == 200
            assert "Sign out" in page.text
            assert DEV_KEY not in page.text

        # Used once: another browser (no cookie) cannot sign in with it again.
        again = httpx.get(link, follow_redirects=False, timeout=30)
        assert again.status_code == 401
        assert "unknown or was used already" in again.text
        assert "vs_console" not in again.cookies
    # and the token never reached the server's log lines
    token = link.rsplit("=", 1)[1]
    log = (tmp_path / "serve.log").read_text()
    assert log.count(token) == 1  # the banner only
