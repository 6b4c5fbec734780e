"""Validators registered with CKAN (usable by name in scheming YAML)."""

from __future__ import annotations

from typing import Any


def get_validators() -> dict[str, Any]:
    return {}
