"""Authorisation of the bilan's actions."""

from __future__ import annotations

from typing import Any


def get_auth_functions() -> dict[str, Any]:
    return {}
