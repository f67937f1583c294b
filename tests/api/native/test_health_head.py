"""Health checks answer HEAD as they answer GET, without a body (RFC 9110 §9.1: a server
that serves GET serves HEAD). Load balancers and uptime monitors probe with HEAD (HAProxy
`http-check send meth HEAD`, `curl -I`, many hosted monitors); a 405 there reads as "down",
and a restart loop follows. Readiness keeps its meaning: 503 while the store is away."""

from __future__ import annotations

import pytest

from tests.support.helpers import Api
from verify_service.domain.errors import VerifyError


@pytest.mark.parametrize("path", ["/health/live", "/health/ready"])
async def test_health_answers_head_like_get(api: Api, path: str) -> None:
    r = await api.client.head(path)
    assert r.status_code == 200
    assert r.content == b""
    assert r.headers["content-type"] == (await api.client.get(path)).headers["content-type"]


async def test_readiness_by_head_is_503_while_the_store_is_away(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def away() -> None:
        raise VerifyError("store_unavailable", "the verification store did not answer")

    monkeypatch.setattr(api.components.store, "ready", away)
    assert (await api.client.get("/health/ready")).status_code == 503
    r = await api.client.head("/health/ready")
    assert (r.status_code, r.content) == (503, b"")
