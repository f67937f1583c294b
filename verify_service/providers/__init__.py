"""SMS delivery: one module per provider kind, a registry of kinds, and a router that
tries a service's providers in order. Providers know nothing of Redis or HTTP routing."""
