"""Key schema: every Redis key name the service uses is built here (a test holds the rest
of the package to that).

Every key of one (service, number) carries the same Redis Cluster hash tag, so each Lua
script touches a single slot. The tag is a digest rather than the number itself: it is
embedded in the verification id, which makes a lookup by id a single round trip (no id ->
key index to read first), and keeps phone numbers and service names out of key names.
The digest is keyed (HMAC with `tag_key`, from the `id_key` setting or else the pepper):
an unkeyed digest of (service, E.164) is reversed by trying every number of a country in
under a minute, and the tag is in every id and Twilio SID a front end or access log sees.
The other families carry a digest tag of their own: one key, one slot.

    key                         holds                                   TTL
    vs:{<tag>}:last             id of the number's latest verification  expires_in + retention
    vs:{<tag>}:v:<id>           hash: the verification (code hashes     expires_in + retention
                                only while pending)                     while pending, then
                                                                        retention from the end
    vs:idem:{<digest>}          idempotency record of one (service,     IDEMPOTENCY_TTL (24 h)
                                Idempotency-Key)
    vs:outbox:{<digest>}        test outbox of one number (test_mode    OUTBOX_TTL (1 h)
                                only), newest first, OUTBOX_KEEP long
    vs:msg:{<digest>}           id of the verification a (provider,     the verification's
                                message id) was sent for, so that a     (expires_in +
                                delivery report finds its verification  retention)
    vs:fraud:{<digest>}:ranges  hash: fraud guard counters of one       4 x baseline from
                                service, per number range               the last write
    vs:fraud:{<digest>}:lru     zset: the same ranges by last use       (same)
                                (bounds them to max_ranges)
    vs:fraud:{<digest>}:blocks  hash: the service's range blocks and    (same), at least
                                how many starts each refused            until forgotten
    vs:fraud:{<digest>}:allow   hash: ranges operators allow-listed     none (bounded)
    vs:fraud:{<digest>}:seen    zset: digests of numbers started in     REPEAT_WINDOW
                                the last 10 minutes (repeats count once)
    vs:fraud:{<digest>}:lifts   list: blocks operators lifted, newest   a day from the last
                                first, at most LIFTS_KEPT (console)     lift
    vs:rl:{<digest>}            hash: the rate-limit windows of one     its longest window
                                (layer, service, subject), a field per  (moving) or twice it
                                window (store/limiter.py)               (counters), from the
                                                                        last count or the
                                                                        bucket's first
    vs:att:{<svc>}:log          sorted set: the attempt log of one      [attempts] retention
                                service (member = packed record,        (trimmed on write, and
                                score = ms), store/attempts.py          to max_per_service)
    vs:att:{<svc>}:num          hash: the attempt index by number of    [attempts] retention
                                one service (field = the number's tag,  (each field trimmed on
                                value = "<ms>:<record id>" entries)     write, swept)
    vs:att:{<svc>}:h:<hour>     hash: the roll-up of one service-hour   [attempts] retention
                                (hour = ms // 3,600,000): counters      after the hour ends
                                written with the records they count
                                (store/attempts.py ROLL-UPS)
    vs:att:{<svc>}:since        ms from which the roll-ups count        [attempts] retention
    vs:wf:{queue}:due           sorted set: verification id -> when     none: an entry leaves
                                its next workflow step is due (ms,      when its workflow ends
                                store clock); a claimed entry is moved  (or, found orphaned,
                                to now + lease                          when it comes due)
    vs:wf:{queue}:steps         hash: verification id -> its workflow   as above
                                (JSON: service, steps, next step, ...)

The workflow queue is one slot on purpose: a claim is one atomic script over the due set
and the steps hash; its entries hold verification ids only, never an address.

The scripts receive `vs:{<tag>}` (`prefix`) as KEYS[1] and append `:last` and
`:v:<id>` themselves, in the shared prelude (`scripts/_prelude.lua`, `last_key` and
`verification_key`), mirroring `last_key` and `verification_key` here: the appended keys
share the prefix's hash tag, hence its slot. Renaming a family loses the data under it.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

TAG_HEX = 16
ID_PREFIX = "ver_"
_ID = re.compile(rf"^{ID_PREFIX}([0-9a-f]{{{TAG_HEX}}})[0-9a-f]{{16}}$")

# Seconds an Idempotency-Key record lives: a client retries within a day or not at all.
IDEMPOTENCY_TTL = 24 * 3600
# The test outbox: messages kept per number, and seconds a number's list lives.
OUTBOX_KEEP = 50
OUTBOX_TTL = 3600
# The prefix of the rate-limit hashes (`rate_key`).
RATE_LIMIT_PREFIX = "vs:rl"
# Seconds dev mode's one-time console sign-in link stays valid.
ONE_TIME_LOGIN_TTL = 24 * 3600


def _digest(*parts: str, length: int) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:length]


# Domain separation: the tag key is derived from a secret that has other uses (the pepper).
TAG_KEY_LABEL = b"verify-service/verification-id-tag/v1"


def tag_key(secret: bytes) -> bytes:
    """The key of verification tags: HMAC-SHA256(secret, TAG_KEY_LABEL), where `secret` is
    the `id_key` setting or else the pepper (config `Settings.id_secret`)."""
    return hmac.new(secret, TAG_KEY_LABEL, hashlib.sha256).digest()


def tag_for(key: bytes, service: str, to: str) -> str:
    """The tag of (service, E.164 number): 16 hex digits of HMAC-SHA256(`key`, ...), with
    `key` from `tag_key`. Without the key it reveals nothing about the number."""
    message = f"{service}\x00{to}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:TAG_HEX]


def prefix(tag: str) -> str:
    """`vs:{<tag>}`: the KEYS[1] of every verification script."""
    return f"vs:{{{tag}}}"


def last_key(tag: str) -> str:
    """The number's latest verification id (written by start.lua, read by reserve.lua)."""
    return f"{prefix(tag)}:last"


def verification_key(tag: str, verification_id: str) -> str:
    """The hash of one verification (written and read by the scripts only)."""
    return f"{prefix(tag)}:v:{verification_id}"


def new_id(tag: str) -> str:
    return f"{ID_PREFIX}{tag}{secrets.token_hex(8)}"


def tag_of_id(verification_id: str) -> str | None:
    """The tag inside a well-formed id; None for anything else (never a key to look up)."""
    match = _ID.match(verification_id)
    return match.group(1) if match else None


def idempotency_key(service: str, key: str) -> str:
    return f"vs:idem:{{{_digest(service, key, length=32)}}}"


def outbox_key(to: str) -> str:
    return f"vs:outbox:{{{_digest('outbox', to, length=TAG_HEX)}}}"


def message_key(provider: str, message_id: str) -> str:
    # Its own slot: a report knows the provider's message id, not the (service, number).
    return f"vs:msg:{{{_digest(provider, message_id, length=32)}}}"


@dataclass(frozen=True, slots=True)
class FraudKeys:
    """The fraud guard's keys of one service: one hash tag, so that one script sees the
    counters of every range of a number, the blocks and the allow-list."""

    ranges: str
    lru: str
    blocks: str
    allow: str
    seen: str
    lifts: str  # the blocks operators lifted, newest first (store/fraud.py LIFTS_KEPT)


@functools.lru_cache(maxsize=1024)  # per service: a few names, asked for on every start
def fraud_keys(service: str) -> FraudKeys:
    base = f"vs:fraud:{{{_digest('fraud', service, length=16)}}}"
    return FraudKeys(
        f"{base}:ranges",
        f"{base}:lru",
        f"{base}:blocks",
        f"{base}:allow",
        f"{base}:seen",
        f"{base}:lifts",
    )


def number_digest(service: str, to: str) -> str:
    """A number as the fraud guard's repeat filter keeps it: a digest, never the number."""
    return _digest("fraud-number", service, to, length=16)


def tagged(*parts: str) -> str:
    """A rate-limit identifier: a short digest in braces, a Cluster hash tag that keeps
    numbers out of key names (`rate_key` puts it after RATE_LIMIT_PREFIX)."""
    return f"{{{_digest(*parts, length=20)}}}"


def rate_key(identifier: str) -> str:
    """The hash of one subject's rate-limit windows; `identifier` is `tagged(...)`."""
    return f"{RATE_LIMIT_PREFIX}:{identifier}"


@functools.lru_cache(maxsize=1024)  # per service: ~4 key names of each send and check
def attempts_tag(service: str) -> str:
    """The hash tag of a service's attempt log: every attempt key of a service shares it,
    so each attempts script touches one slot (a digest: no service name in key names)."""
    return _digest("attempts", service, length=TAG_HEX)


def attempts_log_key(service: str) -> str:
    return f"vs:att:{{{attempts_tag(service)}}}:log"


def attempts_numbers_key(service: str) -> str:
    """The index of a service's attempts by number: one hash, whose field for a number is
    that number's verification tag (`tag_for(key, service, to)`, also inside each of its
    verification ids), so a lookup by number or by verification id is one field read."""
    return f"vs:att:{{{attempts_tag(service)}}}:num"


def attempts_hour_key(service: str, hour: int) -> str:
    """The roll-up hash of one service-hour; `hour` = ms since the epoch // 3,600,000."""
    return f"vs:att:{{{attempts_tag(service)}}}:h:{hour}"


def attempts_since_key(service: str) -> str:
    """When the service's roll-ups began (ms): records made before are in the log only."""
    return f"vs:att:{{{attempts_tag(service)}}}:since"


def attempts_reports_since_key(service: str) -> str:
    """When the service's roll-ups began counting delivery reports (ms, attempts_dlr.lua):
    a record's report from before is in no counter, so a later one does not move it."""
    return f"vs:att:{{{attempts_tag(service)}}}:dsince"


# The workflow due-queue (usecases/workflows.py): both keys share the hash tag `queue`.
WORKFLOW_TAG = "queue"


def workflow_due_key() -> str:
    return f"vs:wf:{{{WORKFLOW_TAG}}}:due"


def workflow_steps_key() -> str:
    return f"vs:wf:{{{WORKFLOW_TAG}}}:steps"


def console_session_key(session_id: str) -> str:
    """A console session, by the digest of its cookie value (the id itself is not kept)."""
    return f"vs:console:s:{{{_digest('console', session_id, length=32)}}}"


def console_login_key(token: str) -> str:
    """Dev mode's one-time sign-in token, by its digest."""
    return f"vs:console:once:{{{_digest('console-once', token, length=32)}}}"
