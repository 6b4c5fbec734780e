"""Timestamps as CKAN hands them around: a ``datetime`` from the model, an ISO string from an action's
dictization or a stored row. One reader for the rooms that compare them (which change came last)."""

from __future__ import annotations

import datetime
from typing import Any


def parse_datetime(value: Any) -> datetime.datetime | None:
    """The moment ``value`` designates, None when it is empty or no ISO timestamp."""
    if isinstance(value, datetime.datetime):
        return value
    try:
        return datetime.datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
