"""Redis persistence: key schema, Lua scripts, the embedded (in-process) default."""

from verify_service.store.records import StoredVerification
from verify_service.store.redis_store import Store

__all__ = ["Store", "StoredVerification"]
