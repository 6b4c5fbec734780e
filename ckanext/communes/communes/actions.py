"""Actions of the commune profiles (commune_list, commune_show)."""

from __future__ import annotations

from typing import Any


def get_actions() -> dict[str, Any]:
    return {}
