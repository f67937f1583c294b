"""The dependencies every API flavour (native, Twilio, Swisscom) gives its handlers."""

from __future__ import annotations

from litestar.datastructures import State
from litestar.di import Provide

from verify_service.api.client_ip import client_ip
from verify_service.usecases.verifications import Verifications


def verifications_of(state: State) -> Verifications:
    return state.verifications  # type: ignore[no-any-return]


def use_case_dependencies() -> dict[str, Provide]:
    """`verifications` and `client_ip`; each router adds how it finds the `service`."""
    return {
        "verifications": Provide(verifications_of, sync_to_thread=False),
        "client_ip": Provide(client_ip, sync_to_thread=False),
    }
