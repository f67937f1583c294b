"""Commands packed by hiredis are the bytes redis-py's own packer sends, for every kind of
argument the store passes, and what redis-py refuses is still refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio.connection import Connection
from redis.exceptions import DataError

from verify_service.store.connect import (
    HiredisConnection,
    HiredisSSLConnection,
    HiredisUnixConnection,
    connect,
)

arguments = st.one_of(
    st.text(),
    st.binary(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
)
names = st.sampled_from(["EVALSHA", "GET", "CONFIG GET", b"HSET", b"CLIENT SETNAME"])


@given(name=names, args=st.lists(arguments, max_size=20))
def test_the_same_bytes_as_redis_py(name: str | bytes, args: list[object]) -> None:
    ours = HiredisConnection().pack_command(name, *args)
    theirs = Connection().pack_command(name, *args)
    assert b"".join(ours) == b"".join(bytes(part) for part in theirs)


@pytest.mark.parametrize("bad", [True, None, object()])
def test_what_redis_py_refuses_is_refused(bad: object) -> None:
    with pytest.raises(DataError):
        Connection().pack_command("SET", "k", bad)
    with pytest.raises(DataError):
        HiredisConnection().pack_command("SET", "k", bad)


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("redis://127.0.0.1:6390/0", HiredisConnection),
        ("rediss://127.0.0.1:6390/0", HiredisSSLConnection),
        ("unix:///tmp/redis.sock", HiredisUnixConnection),
    ],
)
def test_every_single_server_form_packs_with_hiredis(url: str, kind: type) -> None:
    assert connect(url).connection_pool.connection_class is kind
