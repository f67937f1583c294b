"""Twilio's service provisioning resource, `/v2/Services` (README "Twilio Verify
compatibility"): provisioning scripts list the services before they use one.

Listing shows the services these credentials may use, which is the one service whose API
key is the AuthToken (any other answers 20404 to a fetch, so listing it would only tell
its SID). Services come from the configuration file: creating, updating or deleting one
through the API is refused with 405 / 20004 and a message that says so (api/twilio/errors.py),
and `Allow` names what is served."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Router, get
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter

from verify_service.api.twilio.errors import EXCEPTION_HANDLERS
from verify_service.api.twilio.routes import SECURITY_SCHEME, account_service
from verify_service.api.twilio.schemas import (
    ListMeta,
    ServiceList,
    error_responses,
    service_resource,
)
from verify_service.config import ServiceSettings

# Twilio's paging limits: 50 a page unless asked, at most 1,000.
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000

PageSize = Annotated[
    int, QueryParameter(name="PageSize", ge=1, le=MAX_PAGE_SIZE, description="1-1000.")
]
Page = Annotated[int, QueryParameter(name="Page", ge=0, description="From 0.")]


def _page_url(base_url: str, page: int, page_size: int) -> str:
    return f"{base_url}/v2/Services?PageSize={page_size}&Page={page}"


def service_page(
    services: list[ServiceSettings], base_url: str, page: int, page_size: int
) -> ServiceList:
    """One page of `services` in Twilio's list shape, `meta` with absolute page URLs."""
    start = page * page_size
    shown = services[start : start + page_size]
    more = start + page_size < len(services)
    return ServiceList(
        services=[service_resource(s, base_url) for s in shown],
        meta=ListMeta(
            page=page,
            page_size=page_size,
            first_page_url=_page_url(base_url, 0, page_size),
            previous_page_url=_page_url(base_url, page - 1, page_size) if page > 0 else None,
            url=_page_url(base_url, page, page_size),
            next_page_url=_page_url(base_url, page + 1, page_size) if more else None,
            key="services",
        ),
    )


@get(
    "/Services",
    summary="List the services these credentials may use (Twilio Verify v2)",
    description="Twilio paging (`meta`). Services are defined in the configuration file: "
    "creating, updating or deleting one is refused with 405 (Twilio code 20004).",
    operation_id="twilioListServices",
    responses=error_responses(400, 401),
)
async def list_services(
    request: Request[Any, Any, Any],
    account: NamedDependency[ServiceSettings],
    page_size: PageSize = DEFAULT_PAGE_SIZE,
    page: Page = 0,
) -> ServiceList:
    base_url = str(request.base_url).rstrip("/")
    return service_page([account], base_url, page, page_size)


services_router = Router(
    path="/v2",
    route_handlers=[list_services],
    tags=["twilio-verify"],
    security=[{SECURITY_SCHEME: []}],
    dependencies={"account": Provide(account_service, sync_to_thread=False)},
    exception_handlers=EXCEPTION_HANDLERS,
)
