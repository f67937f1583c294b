"""Filtered reads of the attempt log (attempts_read.lua matching records in Redis, with a
budget of records looked at per call): read on from each batch's resume point until done,
they give exactly the records the filter keeps, newest first, each once, whatever the
budget and page size; on fakeredis and a real redis-server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import TAG_KEY
from verify_service.domain.attempts import ATTEMPT_STATUSES, Attempt, AttemptFilter, ms_of
from verify_service.store import Store, keys
from verify_service.store.attempts import AttemptStore, filter_spec, new_id

SERVICE = "login"
T0 = datetime(2030, 1, 1, tzinfo=UTC)
NUMBERS = {"CH": "+41791234567", "DE": "+4915112345678", None: "+88216012345"}

record_st = st.tuples(
    st.sampled_from(list(NUMBERS)),
    st.sampled_from(ATTEMPT_STATUSES),
    st.sampled_from(["alpha", "beta"]),
    st.sampled_from(["sms", "voice"]),
    st.booleans(),
    st.integers(0, 30),  # ms after T0: many ties
)
filter_st = st.builds(
    AttemptFilter,
    country=st.sampled_from([None, "CH", "DE"]),
    status=st.sampled_from([None, *ATTEMPT_STATUSES]),
    provider=st.sampled_from([None, "alpha", "beta"]),
    channel=st.sampled_from([None, "sms", "voice"]),
    converted=st.sampled_from([None, True, False]),
    prefix=st.sampled_from([None, "+4179", "+49", "+4"]),
)


def make(
    country: str | None, status: str, provider: str, channel: str, converted: bool, ms: int
) -> Attempt:
    at = T0 + timedelta(milliseconds=ms)
    to = NUMBERS[country]
    refused = status == "refused"
    return Attempt(
        id=new_id(at),
        created_at=at,
        service=SERVICE,
        status=status,  # type: ignore[arg-type]
        to=to,
        country=country,
        channel=channel,
        provider=None if refused else provider,
        verification_id=None if refused else keys.new_id(keys.tag_for(TAG_KEY, SERVICE, to)),
        converted=converted and not refused,
    )


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    records=st.lists(record_st, max_size=40),
    filters=filter_st,
    budget=st.integers(1, 12),
    count=st.integers(1, 6),
)
async def test_filtered_reads_give_what_the_filter_keeps(
    store: Store,
    records: list[tuple[str | None, str, str, str, bool, int]],
    filters: AttemptFilter,
    budget: int,
    count: int,
) -> None:
    await store.client.flushdb()
    store.clock_offset_ms = ms_of(T0) - ms_of(datetime.now(UTC))
    log = AttemptStore(store, tag_key=TAG_KEY, retention=86400, max_per_service=10**6)
    made = [make(*r) for r in records]
    for attempt in made:
        await log.add(SERVICE, keys.tag_for(TAG_KEY, SERVICE, attempt.to), [attempt])
    wanted = sorted(
        (a for a in made if filters.matches(a)),
        key=lambda a: (ms_of(a.created_at), a.id),
        reverse=True,
    )
    seen: list[Attempt] = []
    before = None
    for _ in range(200):
        batch = await log.read(SERVICE, before=before, count=count, filters=filters, budget=budget)
        assert batch.looked <= max(budget, count) or not filter_spec(filters)
        seen += [a for a in batch.attempts if filters.matches(a)]
        if batch.done or batch.resume is None:
            break
        before = batch.resume
    assert [a.id for a in seen] == [a.id for a in wanted]
