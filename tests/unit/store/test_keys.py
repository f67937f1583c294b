"""The key schema: every Redis key name is built in store/keys.py, and the names are the
ones data was already written under. A renamed key family would orphan every verification,
idempotency record and counter in flight at a deploy, silently."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import verify_service
from tests.unit.store.conftest import TAG, TO, StartOne
from verify_service.store import Store, keys

PACKAGE = Path(verify_service.__file__).parent
KEYS_MODULE = PACKAGE / "store" / "keys.py"
SCRIPTS = PACKAGE / "store" / "scripts"

# What the code before the one-vocabulary step wrote (computed with it): the names must
# not move.
# One deliberate move: issue 15 keyed the verification tag (it was the unkeyed
# d14749e0010c20ab, which gave the number away); docs/security.md says what that does to
# verifications pending across the upgrade. The families around it did not move.
WRITTEN_BEFORE = [
    (TAG, "783307165011ed1c"),
    (keys.prefix(TAG), "vs:{783307165011ed1c}"),
    (keys.last_key(TAG), "vs:{783307165011ed1c}:last"),
    (keys.verification_key(TAG, "ver_x"), "vs:{783307165011ed1c}:v:ver_x"),
    (keys.idempotency_key("login", "k-1"), "vs:idem:{3765de8082be55e22929d887aa2971e6}"),
    (keys.outbox_key(TO), "vs:outbox:{0c702bcc72f19b3f}"),
    (keys.message_key("twilio", "SM123"), "vs:msg:{a19e6563fd25863b061cdc3dc96e9ee8}"),
    (keys.fraud_keys("login").ranges, "vs:fraud:{812882cea9f63a92}:ranges"),
    (keys.fraud_keys("login").lru, "vs:fraud:{812882cea9f63a92}:lru"),
    (keys.fraud_keys("login").blocks, "vs:fraud:{812882cea9f63a92}:blocks"),
    (keys.fraud_keys("login").allow, "vs:fraud:{812882cea9f63a92}:allow"),
    (keys.fraud_keys("login").seen, "vs:fraud:{812882cea9f63a92}:seen"),
    (keys.tagged("per_number", "login", TO), "{893915f468297a56ad49}"),
    (keys.RATE_LIMIT_PREFIX, "vs:rl"),
]


@pytest.mark.parametrize(("built", "written"), WRITTEN_BEFORE)
def test_key_names_are_the_ones_already_written(built: str, written: str) -> None:
    assert built == written


def _docstrings(tree: ast.AST) -> set[int]:
    owners = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    return {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, owners)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }


def key_literals(path: Path) -> list[str]:
    """String literals (f-string parts included, docstrings not) that spell a `vs:` key."""
    tree = ast.parse(path.read_text())
    docs = _docstrings(tree)
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docs
        and re.search(r"(?<![\w.])vs:", node.value)
    ]


def test_only_keys_py_spells_key_names() -> None:
    assert key_literals(KEYS_MODULE)  # the scan sees key names where they are
    elsewhere = {
        str(path.relative_to(PACKAGE)): found
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != KEYS_MODULE and (found := key_literals(path))
    }
    assert elsewhere == {}


def _code(lua: str) -> str:
    return "\n".join(line.split("--", 1)[0] for line in lua.splitlines())


def test_scripts_take_key_names_from_their_keys_and_the_prelude() -> None:
    """The scripts get their keys as KEYS; only the prelude appends `:last` and `:v:<id>`
    (mirroring keys.last_key and keys.verification_key)."""
    for path in sorted(SCRIPTS.glob("*.lua")):
        code = _code(path.read_text())
        assert "vs:" not in code, path.name
        if path.name != "_prelude.lua":
            assert "':v:'" not in code, path.name
            assert "':last'" not in code, path.name


async def test_the_scripts_write_the_keys_keys_py_names(store: Store, start_one: StartOne) -> None:
    new_id = await start_one()
    assert await store.client.get(keys.last_key(TAG)) == new_id
    assert await store.client.hget(keys.verification_key(TAG, new_id), "to") == TO
    assert sorted([k async for k in store.client.scan_iter("vs:*")]) == sorted(
        [keys.last_key(TAG), keys.verification_key(TAG, new_id)]
    )


async def test_a_verification_written_before_is_read_and_checked(store: Store) -> None:
    """A pending verification as the earlier start.lua wrote it (literal key names and
    fields) is found by number, checked and approved by the current scripts."""
    seconds, micros = await store.client.time()
    now = seconds * 1000 + micros // 1000
    vid = f"ver_{TAG}0123456789abcdef"
    await store.client.hset(
        f"vs:{{{TAG}}}:v:{vid}",
        mapping={
            "id": vid,
            "service": "login",
            "to": TO,
            "channel": "sms",
            "status": "pending",
            "token_type": "numeric",
            "token_length": "6",
            "created_at": now,
            "updated_at": now,
            "expires_at": now + 600_000,
            "check_attempts": 0,
            "max_check_attempts": 5,
            "max_send_attempts": 5,
            "send_count": 1,
            "last_send_at": now,
            "codes": "h",
            "sends": "",
            "metadata": '{"k":"v"}',
        },
    )
    await store.client.set(f"vs:{{{TAG}}}:last", vid, px=660_000)
    reserved = await store.reserve(tag=TAG, service="login", verification_id=None, retention=60)
    assert reserved.outcome == "reserved"
    assert reserved.record is not None
    assert (reserved.record.id, reserved.record.code_hashes) == (vid, ("h",))
    assert reserved.record.metadata == {"k": "v"}
    done = await store.finish(tag=TAG, verification_id=vid, status="approved", retention=60)
    assert done.outcome == "changed"
    assert done.record is not None
    assert (done.record.status, done.record.code_hashes) == ("approved", ())
