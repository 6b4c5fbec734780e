"""Shared fixtures. The CKAN app and the services are shared across the session; the
database and the index are cleaned between tests with CKAN's own fixtures."""

from __future__ import annotations

import pytest

# Plugins whose tables live in their own migrations: CKAN's reset_db only rebuilds core tables.
PLUGINS_WITH_MIGRATIONS = ("activity", "harvest")


@pytest.fixture(autouse=True)
def _portal_plugins(with_plugins):
    """Every test runs with the portal's plugins (ckan.plugins of test.ini) loaded."""


@pytest.fixture
def clean_db(reset_db, migrate_db_for):
    """CKAN's clean_db, plus the migrations of the plugins the portal loads."""
    reset_db()
    for plugin in PLUGINS_WITH_MIGRATIONS:
        migrate_db_for(plugin)
