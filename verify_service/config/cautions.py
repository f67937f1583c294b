"""Settings that are valid but unsafe outside a trial: said at start-up (`serve` logs each
as a WARNING, `check-config` prints it), since they cannot be refused (a trial needs them)."""

from __future__ import annotations

from verify_service.config.models import Settings

# OWASP's argon2id minimums (Password Storage Cheat Sheet) trade memory for passes along
# m x t >= 7168 KiB x 5 (19456 x 2, 12288 x 3, ...): below it a dump is cheaper to search.
_MIN_HASH_WORK_KIB = 7168 * 5


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
    if hashing.memory_cost_kib * hashing.time_cost < _MIN_HASH_WORK_KIB:
        found.append(
            f"[hashing] memory_cost_kib x time_cost = "
            f"{hashing.memory_cost_kib * hashing.time_cost} is below OWASP's argon2id minimum "
            f"({_MIN_HASH_WORK_KIB}, e.g. 19456 x 2): codes in a stolen Redis dump are "
            "cheaper to search"
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
