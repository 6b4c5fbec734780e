"""Shared base: the guarded client, safe parsers, secrets at rest (DESIGN.md)."""
