"""The Data API room's options and the guarded client's limits they set: the loader's and the map preview's
(each its own size and time limits on the portal's guard: private addresses, redirects)."""

from __future__ import annotations

import dataclasses

import ckan.plugins.toolkit as tk

from ckanext.communes.net import fetch as guarded


def option_number(name: str, default: float) -> float:
    """A numeric option; its default when unset, not a number or negative (a typo must not stop a load or a
    page)."""
    value = tk.config.get(name)
    if value in (None, ""):
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if number >= 0 else default


def guarded_limits(*, timeout: float, max_bytes: int, max_seconds: float) -> guarded.FetchLimits:
    """The portal's guard with a room's own size and time limits."""
    return dataclasses.replace(guarded.limits_from_config(), timeout=timeout, max_bytes=max_bytes,
                               max_seconds=max_seconds, deadline=None)
