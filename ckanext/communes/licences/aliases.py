"""The operators' licence aliases as the normaliser reads them: ``operator_aliases()`` maps
``text_key(alias)`` -> registry id.

Read from the table ``communes_licence_alias`` (model.py) and kept in memory: harvests normalise thousands of
values. An alias added in any process reaches every other one within ``RECHECK_SECONDS``: the cache is kept
while the table's (count, max id, last creation time) is unchanged, which one query checks at most that often
(rows are only added); the process that adds one forgets its cache at once (``forget_operator_aliases``).
The read runs on a connection of its own, so that a missing table (migration not run yet) cannot break the
caller's transaction: then there is no alias, and the log says why.

This module imports neither the normaliser nor the registry (the normaliser imports it): the key of each alias
is computed when it is added and stored with it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from types import MappingProxyType

import sqlalchemy as sa

from ckanext.communes.licences.model import LicenceAlias

log = logging.getLogger(__name__)

RECHECK_SECONDS = 5.0

_lock = threading.Lock()
_cache: dict[str, object] = {"version": None, "aliases": MappingProxyType({}), "checked_at": 0.0}


def _engine() -> sa.engine.Engine:
    from ckan import model

    return model.meta.engine


Version = tuple[int, int, str]


def _read(connection: sa.engine.Connection, version_only: bool) -> tuple[Version, dict[str, str]]:
    table = LicenceAlias.__table__
    count, max_id, last = connection.execute(sa.select(
        sa.func.count(), sa.func.coalesce(sa.func.max(table.c.id), 0), sa.func.max(table.c.created))).one()
    current = (int(count), int(max_id), str(last or ""))
    if version_only:
        return current, {}
    rows = connection.execute(sa.select(table.c.alias_key, table.c.licence_id)).all()
    return current, {key: licence_id for key, licence_id in rows}


def version() -> Version | None:
    """(count, max id, last creation time) of the table as last read: what a harvest's fingerprint includes,
    so that pages read before an alias was added are read again."""
    operator_aliases()
    value = _cache["version"]
    return value if isinstance(value, tuple) else None


def operator_aliases() -> Mapping[str, str]:
    """text_key(alias) -> registry id of every operator alias (read-only)."""
    now = time.monotonic()
    with _lock:
        if _cache["version"] is not None and now - float(_cache["checked_at"]) < RECHECK_SECONDS:  # type: ignore[arg-type]
            return _cache["aliases"]  # type: ignore[return-value]
        try:
            with _engine().connect() as connection:
                current, _ = _read(connection, version_only=True)
                if current != _cache["version"]:
                    current, aliases = _read(connection, version_only=False)
                    _cache["aliases"] = MappingProxyType(aliases)
                    _cache["version"] = current
        except sa.exc.SQLAlchemyError as error:
            log.warning("Licence aliases unreadable (is the communes migration applied?): %s", error)
            _cache["aliases"], _cache["version"] = MappingProxyType({}), (0, 0, "")
        _cache["checked_at"] = now
        return _cache["aliases"]  # type: ignore[return-value]


def forget_operator_aliases() -> None:
    """Read the table again at the next call (after this process added an alias)."""
    with _lock:
        _cache["version"] = None
        _cache["checked_at"] = 0.0
