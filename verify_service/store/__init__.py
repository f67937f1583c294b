"""Redis persistence: key schema, Lua scripts, the embedded (in-process) default."""

from verify_service.store.records import StoredVerification
from verify_service.store.verifications import Store

__all__ = ["Store", "StoredVerification"]
