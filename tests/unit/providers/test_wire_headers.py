"""The header lines of a request with a bytes body, as `HttpProvider.request` writes them
without building an `httpx.Request`: the lines httpx's request would have, or none (then
the request is built)."""

from __future__ import annotations

import httpx
from hypothesis import given
from hypothesis import strategies as st

from verify_service.providers.http.base import _bytes_body_headers, default_headers

names = st.sampled_from(
    [
        *("Accept", "Content-Type", "X-Tenant", "Authorization", "accept", "HOST", "Host"),
        *("Content-Length", "content-length", "Transfer-Encoding", "User-Agent"),
    ]
)
values = st.text(alphabet="abcXYZ019 /=;,.-", min_size=1, max_size=12).map(str.strip)
urls = st.sampled_from(
    [
        "http://127.0.0.1:8080/sms",
        "https://api.example.com/v1/messages",
        "https://api.example.com:8443/send?account=7",
        "http://[::1]:9000/x",
    ]
)


@given(
    headers=st.dictionaries(names, values.filter(bool), max_size=5),
    url=urls,
    method=st.sampled_from(["POST", "PUT", "PATCH", "GET", "DELETE"]),
    body=st.binary(min_size=1, max_size=40),
)
def test_the_lines_are_those_of_the_request_httpx_builds(
    headers: dict[str, str], url: str, method: str, body: bytes
) -> None:
    merged = httpx.Headers(default_headers())
    merged.update(headers)
    parsed = httpx.URL(url)
    lines = _bytes_body_headers(merged, parsed, method, len(body))
    if lines is None:  # httpx does more here: the caller builds the request
        return
    request = httpx.Request(method, parsed, headers=merged, content=body)
    assert lines == [(k.decode(), v.decode()) for k, v in request.headers.raw]
    assert request.content == body


def test_a_plain_post_takes_the_short_way() -> None:
    merged = httpx.Headers(default_headers())
    merged.update({"Content-Type": "application/json"})
    url = httpx.URL("https://api.example.com/v1/sms")
    lines = _bytes_body_headers(merged, url, "POST", 12)
    assert lines is not None
    assert lines[0] == ("Host", "api.example.com")
    assert lines[-1] == ("Content-Length", "12")
