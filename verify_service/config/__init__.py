"""Configuration: the TOML settings tree, `env:` secrets, `VERIFY_*` overrides."""
