"""A portal a fixture builds (organisations, people, datasets, harvest sources...), built once per test session
and put back from a copy the next times a test or a module asks for it.

Building a seeded portal goes through the actions (validation, one Solr commit per dataset saved): seconds each
time, and several test modules, or every test of a module that changes its portal, build the same one. The first
``restored(name, build)`` of a session runs ``build`` on the database and index as they are (just reset) and copies
every table that then holds rows into a schema of its own (``tests_snapshot_<name>``, in the test database). The
next calls, on a database just reset as well, put those rows back in one transaction (every table emptied first,
as CKAN's reset does), reindex the datasets the index held after the build (one Solr commit), tell Faker's unique
names (cleared by module_database()) what the build drew, and return a copy of what ``build`` returned.

What is not put back: anything outside the tables of CKAN's metadata (the DataStore database, Redis, files),
so ``build`` must not write there; a build that does is not for this helper. A copy that no longer fits the tables
(a migration test changed them) is dropped and the portal built again. ``CKAN_TESTS_REUSE_PORTAL=0`` builds every
time (reused_portal.py)."""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from ckanext.communes.tests import reused_portal

log = logging.getLogger(__name__)

T = TypeVar("T")
SCHEMA_PREFIX = "tests_snapshot_"
# The version tables say which migrations ran: they stay as they are.
VERSION_TABLES_END = "alembic_version"
STATS = {"built": 0, "restored": 0}


@dataclass
class _Saved:
    schema: str
    tables: list[str]  # the tables that held rows, parents before children (CKAN's metadata order)
    package_ids: list[str]  # the datasets the index held
    faker_seen: dict[Any, set[Any]]  # the unique names Faker's factories drew during the build
    result: Any


_saved: dict[str, _Saved] = {}


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _tables() -> list[str]:
    """CKAN's tables (core and plugins sharing its metadata) that exist, parents before children."""
    import sqlalchemy as sa
    from ckan import model

    existing = set(sa.inspect(model.Session.bind).get_table_names())
    return [table.name for table in model.meta.metadata.sorted_tables if table.name in existing
            and not table.name.endswith(VERSION_TABLES_END)]


def _indexed_package_ids() -> list[str]:
    from ckan import model
    from ckan.lib import search

    return list(search.query_for(model.Package).get_all_entity_ids(max_results=100000))


def _save(name: str, result: Any) -> _Saved:
    import sqlalchemy as sa
    from ckan import model
    from ckan.tests import factories

    schema = SCHEMA_PREFIX + name
    model.Session.remove()
    saved_tables = []
    with model.Session.bind.begin() as connection:
        connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {_quoted(schema)} CASCADE")
        connection.exec_driver_sql(f"CREATE SCHEMA {_quoted(schema)}")
        for table in _tables():
            if connection.execute(sa.text(f"SELECT EXISTS (SELECT 1 FROM {_quoted(table)})")).scalar():
                connection.exec_driver_sql(
                    f"CREATE TABLE {_quoted(schema)}.{_quoted(table)} AS TABLE public.{_quoted(table)}")
                saved_tables.append(table)
    faker_seen = {key: set(seen) for key, seen in factories.fake.unique._seen.items()}
    return _Saved(schema, saved_tables, _indexed_package_ids(), faker_seen, copy.deepcopy(result))


def _restore(saved: _Saved) -> bool:
    """The saved rows back (False, nothing changed, when they no longer fit the tables), the datasets reindexed."""
    import sqlalchemy as sa
    from ckan import model
    from ckan.lib import search
    from ckan.tests import factories

    statements = [f"DELETE FROM public.{_quoted(table)}" for table in reversed(_tables())]
    statements += [f"INSERT INTO public.{_quoted(table)} SELECT * FROM {_quoted(saved.schema)}.{_quoted(table)}"
                   for table in saved.tables]
    model.Session.remove()
    try:
        with model.Session.bind.begin() as connection:
            connection.exec_driver_sql(";\n".join(statements))
    except sa.exc.DBAPIError as error:
        log.warning("portal snapshot %s no longer fits the database (%s): building it again", saved.schema, error)
        return False
    model.Session.remove()
    for key, seen in saved.faker_seen.items():
        factories.fake.unique._seen.setdefault(key, set()).update(seen)
    search.clear_all()
    search.rebuild(package_ids=saved.package_ids)
    search.commit()
    model.Session.remove()
    return True


def restored(name: str, build: Callable[[], T]) -> T:
    """What ``build()`` returns, on a database and index just reset: built the first time in the session, put back
    from the copy made then the next times. ``name`` says which portal (letters, digits, underscores); tests that
    change the portal may use it (each call puts the whole portal back)."""
    saved = _saved.get(name)
    if reused_portal.ENABLED and saved is not None and _restore(saved):
        STATS["restored"] += 1
        return copy.deepcopy(saved.result)
    STATS["built"] += 1
    result = build()
    if reused_portal.ENABLED:
        _saved[name] = _save(name, result)
    return result


def drop_all() -> None:
    """Drop the copies (at the end of the session: the test database keeps no schema of ours)."""
    from ckan import model

    if not _saved:
        return
    model.Session.remove()
    with model.Session.bind.begin() as connection:
        for saved in _saved.values():
            connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {_quoted(saved.schema)} CASCADE")
    _saved.clear()
