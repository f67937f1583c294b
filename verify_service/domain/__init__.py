"""The pure domain: codes, numbers, templates, hashing, errors.

Imports nothing else of the package."""
