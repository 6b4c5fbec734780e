"""Pages of the bilan: /communes/bilan, its downloads, the commune dashboard."""

from __future__ import annotations

from typing import Any


def get_blueprints() -> list[Any]:
    return []
