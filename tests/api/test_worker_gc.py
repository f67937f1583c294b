"""A started worker's garbage collector: what start-up built is frozen, and the young
generation is collected only after GC_YOUNG_THRESHOLD more objects (not the default 700,
which a worker with requests in flight passed every few flows: docs/performance.md)."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator

import pytest

from tests.conftest import API_KEY
from tests.support.helpers import open_api
from verify_service.api.app import GC_YOUNG_THRESHOLD
from verify_service.config import Settings
from verify_service.store import Store


@pytest.fixture
def default_gc() -> Iterator[None]:
    before = gc.get_threshold()
    gc.set_threshold(700, *before[1:])
    yield
    gc.set_threshold(*before)
    gc.unfreeze()


async def test_a_started_app_collects_young_objects_in_larger_batches(
    default_gc: None, store: Store, make_settings: Callable[..., Settings]
) -> None:
    older = gc.get_threshold()[1:]
    async with open_api(make_settings(), store, API_KEY):
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, *older)
        assert gc.get_freeze_count() > 0
