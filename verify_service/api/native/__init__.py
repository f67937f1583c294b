"""The native `/v1` dialect: routes, msgspec bodies, RFC 9457 problem documents, test outbox."""
