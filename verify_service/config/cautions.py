"""Settings that are valid but unsafe outside a trial: said at start-up (`serve` logs each
as a WARNING, `check-config` prints it), since they cannot be refused (a trial needs them)."""

from __future__ import annotations

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
    return found
