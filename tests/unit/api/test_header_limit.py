"""The header size limit counts each header line as it came on the wire: name, `: `,
value, CRLF (16 KiB in all); one byte more is 431."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from litestar.exceptions import HTTPException

from verify_service.api.header_limit import MAX_HEADER_BYTES, header_limit


async def _through(headers: list[tuple[bytes, bytes]]) -> bool:
    reached = False

    async def app(scope: Any, receive: Any, send: Any) -> None:
        nonlocal reached
        reached = True

    scope = {"type": "http", "method": "GET", "headers": headers}
    await header_limit(app)(scope, None, None)  # type: ignore[arg-type]
    return reached


def _lines(sizes: list[int], total: int) -> list[tuple[bytes, bytes]]:
    """Headers of `sizes` bytes of value each, the last padded so that the lines make
    `total` bytes."""
    headers = [(b"x-h%d" % i, b"v" * n) for i, n in enumerate(sizes)]
    used = sum(len(k) + len(v) + 4 for k, v in headers)
    headers.append((b"x-pad", b"p" * (total - used - len(b"x-pad") - 4)))
    return headers


@given(st.lists(st.integers(0, 200), max_size=40))
async def test_headers_of_exactly_16_kib_pass_and_one_byte_more_is_431(sizes: list[int]) -> None:
    assert await _through(_lines(sizes, MAX_HEADER_BYTES))
    with pytest.raises(HTTPException) as refused:
        await _through(_lines(sizes, MAX_HEADER_BYTES + 1))
    assert refused.value.status_code == 431
