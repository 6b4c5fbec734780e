"""The quality room's options (declared in config_declaration.yml): the link checker's
``ckanext.communes.linkcheck.*`` and the SCDL validation's ``ckanext.communes.quality.scdl_*``."""

from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk

from ckanext.communes.net import fetch as guarded

LINKCHECK_PREFIX = "ckanext.communes.linkcheck."
LINKCHECK_DEFAULTS: dict[str, Any] = {
    "timeout": 10,  # seconds, per request (connect, each read)
    "recheck_days": 7,
    "retry_hours": 6,
    "per_host_concurrency": 2,
    "per_host_interval": 0.5,  # seconds between two request starts on one host
    "threads": 8,  # checks in flight per job
}
SCDL_MAX_BYTES_OPTION = "ckanext.communes.quality.scdl_max_bytes"
SCDL_MAX_ROWS_OPTION = "ckanext.communes.quality.scdl_max_rows"
SCDL_DEFAULT_MAX_BYTES = 20 * 1024 * 1024
SCDL_DEFAULT_MAX_ROWS = 10000


def linkcheck_option(name: str) -> Any:
    value = tk.config.get(LINKCHECK_PREFIX + name)
    default = LINKCHECK_DEFAULTS[name]
    if value in (None, ""):
        return default
    return float(value) if isinstance(default, float) else tk.asint(value)


def linkcheck_limits() -> guarded.FetchLimits:
    """The harvest's guard (private addresses, redirects) with the link checker's shorter timeout: a
    link check only needs the headers."""
    base = guarded.limits_from_config()
    timeout = float(linkcheck_option("timeout"))
    return guarded.FetchLimits(
        timeout=timeout, max_bytes=base.max_bytes, max_redirects=base.max_redirects,
        allow_private=base.allow_private, allowed_networks=base.allowed_networks, max_seconds=timeout * 2,
    )


def scdl_max_bytes() -> int:
    return tk.asint(tk.config.get(SCDL_MAX_BYTES_OPTION, SCDL_DEFAULT_MAX_BYTES))


def scdl_max_rows() -> int:
    return tk.asint(tk.config.get(SCDL_MAX_ROWS_OPTION, SCDL_DEFAULT_MAX_ROWS))
