"""Authorisation of commune profiles and programme fields."""

from __future__ import annotations

from typing import Any


def get_auth_functions() -> dict[str, Any]:
    return {}
