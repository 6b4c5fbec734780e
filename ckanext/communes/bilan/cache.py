"""The computed bilan, cached in Redis.

Keys carry a generation counter (``communes:bilan:{site_id}:generation``) that is bumped whenever a
dataset is indexed or deleted (plugin.py), when a snapshot is taken (snapshots.py) and when an organisation
or group is updated (its partner status, convention or population feed the figures): a bump makes every
cached bilan unreachable at once, and the old entries expire with their TTL
(``ckanext.communes.bilan.cache_seconds``; 0 turns the cache off).

The organisation edits reach the bilan through CKAN's ``action_succeeded`` signal, to which the plugin
subscribes :func:`on_action_succeeded`: the communes room, below the bilan, does not know the bilan exists.

Redis unavailable: the bilan is computed each time (logged), never refused.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import ckan.plugins.toolkit as tk

log = logging.getLogger(__name__)

TTL_OPTION = "ckanext.communes.bilan.cache_seconds"
DEFAULT_TTL = 600


def ttl() -> int:
    try:
        return max(0, int(tk.config.get(TTL_OPTION, DEFAULT_TTL)))
    except (TypeError, ValueError):
        return DEFAULT_TTL


def _prefix() -> str:
    return f"communes:bilan:{tk.config.get('ckan.site_id') or ''}"


def generation_key() -> str:
    return f"{_prefix()}:generation"


def _redis() -> Any:
    from ckan.lib.redis import connect_to_redis

    return connect_to_redis()


def generation() -> int:
    return int(_redis().get(generation_key()) or 0)


def bump() -> None:
    """Forget every cached bilan (a dataset changed, a snapshot was taken). Never raises."""
    try:
        _redis().incr(generation_key())
    except Exception:  # noqa: BLE001 - Redis down: nothing is cached either
        log.warning("Could not bump the bilan cache generation", exc_info=True)


# Actions after which the programme's figures may have changed without any dataset being indexed.
ORGANISATION_ACTIONS = frozenset({"organization_update", "group_update"})


def on_action_succeeded(action_name: str, **_details: Any) -> None:
    """Subscriber of CKAN's ``action_succeeded`` signal (sent with the action's name as its sender)."""
    if action_name in ORGANISATION_ACTIONS:
        bump()


def cached(parts: tuple[str, ...], compute: Callable[[], dict[str, dict[str, Any]]], wanted: str) -> dict[str, Any]:
    """The entry ``wanted`` of what ``compute`` returns (entry name -> JSON-able dict), from the cache of
    the current generation when there, else computed and every entry stored."""
    seconds = ttl()
    if seconds <= 0:
        return compute()[wanted]
    try:
        connection = _redis()
        base = f"{_prefix()}:{generation()}:" + ":".join(parts)
        found = connection.get(f"{base}:{wanted}")
    except Exception:  # noqa: BLE001
        log.warning("Bilan cache unavailable: computing without it", exc_info=True)
        return compute()[wanted]
    if found is not None:
        return json.loads(found)
    entries = compute()
    try:
        pipeline = connection.pipeline()
        for name, entry in entries.items():
            pipeline.set(f"{base}:{name}", json.dumps(entry, ensure_ascii=False), ex=seconds)
        pipeline.execute()
    except Exception:  # noqa: BLE001
        log.warning("Could not store the bilan in the cache", exc_info=True)
    return entries[wanted]
