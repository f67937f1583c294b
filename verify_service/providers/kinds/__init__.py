"""One module per provider kind (the `kind` key of a `[providers.*]` table)."""
