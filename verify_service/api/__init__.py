"""HTTP dialects: native v1, health and metrics. Translation only: no business rules."""
