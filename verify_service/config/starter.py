"""What a first run needs: a dev-mode API key that survives restarts, and a starter config
file for running against Redis (`verify-service init-config`)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

DEV_KEY_ENV = "VERIFY_DEV_API_KEY"

# Passes `check-config` once VERIFY_PEPPER and LOGIN_API_KEY are set (a test holds it to that).
STARTER_CONFIG = """\
# verify-service config, written by `verify-service init-config`. Every key is explained
# in the README ("Configuration"); `verify-service check-config --config FILE` validates.
# Secrets are "env:NAME": read from the environment at start-up, never kept in this file.

redis_url = "redis://127.0.0.1:6379/0"  # VERIFY_REDIS_URL overrides it
default_region = "CH"                   # region of national numbers such as 079 123 45 67
pepper = "env:VERIFY_PEPPER"            # 32 random bytes, the same on every instance

# The console provider prints each SMS, code included, on the server's console: for
# trying the service out only. For real messages replace it with a provider kind of the
# README's "Providers" section, e.g.
#   [providers.websms]
#   kind = "websms"
#   access_token = "env:WEBSMS_TOKEN"
[providers.console]
kind = "console"

[[services]]
name = "login"
api_keys = ["env:LOGIN_API_KEY"]        # or "sha256:…" from `verify-service hash-api-key`
providers = ["console"]                 # tried in order: failover
template = "Your login code is %TOKEN%"
"""


def write_starter_config(path: str | Path, *, force: bool = False) -> bool:
    """Write STARTER_CONFIG to `path`; False (and nothing written) if it exists and not force."""
    path = Path(path)
    if path.exists() and not force:
        return False
    path.write_text(STARTER_CONFIG)
    return True


def dev_key_file() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(Path.home(), ".local", "state")
    return Path(state) / "verify-service" / "dev-api-key"


def dev_api_key() -> tuple[str, str]:
    """(key, where it comes from) for dev mode: $VERIFY_DEV_API_KEY, else one kept in
    dev_key_file() (made on the first start, mode 0600), else a fresh one per start when
    that file cannot be written. Dev mode only: a config file never uses this."""
    given = os.environ.get(DEV_KEY_ENV, "").strip()
    if given:
        return given, f"from ${DEV_KEY_ENV}"
    path = dev_key_file()
    try:
        key = path.read_text().strip() if path.exists() else ""
        if not key:
            key = "dev_" + secrets.token_urlsafe(24)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as file:
                file.write(key + "\n")
    except OSError as exc:
        key = "dev_" + secrets.token_urlsafe(24)
        return key, f"new on each start: {path} is not writable ({exc.strerror})"
    return key, f"the same on every start: kept in {path}; or set ${DEV_KEY_ENV}"
