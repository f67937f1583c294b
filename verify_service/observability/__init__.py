"""Logs with redaction, Prometheus metrics and the request-log middleware."""
