"""Settings that are valid but unsafe outside a trial: said at start-up (`serve` logs each
as a WARNING, `check-config` prints it), since they cannot be refused (a trial needs them)."""

from __future__ import annotations

from verify_service.config.argon2_floor import PROFILES, below_floor
from verify_service.config.models import Settings


def cautions(settings: Settings) -> list[str]:
    """One sentence per unsafe setting of `settings`; [] for none."""
    found = []
    if settings.test_mode:
        found.append(
            "test_mode = true: GET /v1/test/messages shows what capture providers kept to "
            "any API key; never set it in production"
        )
    used = {
        name
        for service in settings.services
        for channel in service.allowed_channels
        for name in service.providers_for(channel)
    }
    for name in sorted(used):
        if settings.providers[name].get("kind") != "console":
            continue
        found.append(
            f"provider {name!r} is of kind 'console': it prints every message, codes "
            "included, on standard output instead of sending it; for trials only"
        )
    hashing = settings.hashing
    if below_floor(hashing.memory_cost_kib, hashing.time_cost):
        found.append(
            f"[hashing] memory_cost_kib = {hashing.memory_cost_kib} with time_cost = "
            f"{hashing.time_cost} is below OWASP's argon2id minimum ({PROFILES}): codes in "
            "a stolen Redis dump are cheaper to search"
        )
    if any(network.prefixlen == 0 for network in settings.trusted_proxies):
        found.append(
            "trusted_proxies includes every address (a /0 network): any client chooses "
            "its own address for the per-client limits with X-Forwarded-For"
        )
    if settings.console is not None and not settings.console.secure_cookie:
        found.append(
            "[console] secure_cookie = false: the console's session cookie is sent over "
            "plain HTTP too; for your own machine only"
        )
    return found
