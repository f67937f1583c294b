"""Operator routes: health, metrics and provider delivery-report webhooks."""
