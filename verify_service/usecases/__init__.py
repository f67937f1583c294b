"""The use cases: start, check, fetch, cancel, approve, delegated mode, test outbox."""
