"""Template helpers of the bilan."""

from __future__ import annotations

from typing import Any


def get_helpers() -> dict[str, Any]:
    return {}
