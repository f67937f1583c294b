"""Outbound webhooks: the Standard Webhooks signer and the status callbacks that use it."""
