"""Actions of the bilan: communes_bilan, communes_bilan_snapshot_list/show/create/compare."""

from __future__ import annotations

from typing import Any


def get_actions() -> dict[str, Any]:
    return {}
