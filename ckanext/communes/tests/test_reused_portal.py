"""The suite's speed rests on reusing the loaded plugins between tests (tests/reused_portal.py): a test in the
same configuration as the one before it must not reload them. A plugin that changes the configuration in place at
each load (ckanext-spatial appends to a list) made every test reload, and the suite took twice as long."""

from __future__ import annotations

import pytest

from ckanext.communes.tests import reused_portal
from ckanext.communes.tests.harvesters.conftest import (  # noqa: F401 - the fixture, for the tests below
    allow_private_addresses,
)

_loads_after_the_first: dict[str, int] = {}


@pytest.mark.usefixtures("with_plugins")
def test_reuse_a_first_test_loads_or_reuses_the_plugins():
    assert reused_portal.ENABLED, "CKAN_TESTS_REUSE_PORTAL=0: nothing to check"
    _loads_after_the_first["plugins_loaded"] = reused_portal.STATS["plugins_loaded"]


@pytest.mark.usefixtures("with_plugins")
def test_reuse_the_next_test_in_the_same_configuration_reloads_nothing():
    if "plugins_loaded" not in _loads_after_the_first:
        pytest.skip("runs after the test before it (pytest -p no:randomly)")
    assert reused_portal.STATS["plugins_loaded"] == _loads_after_the_first["plugins_loaded"]


@pytest.fixture(scope="module")
def module_portal() -> str:
    """A module-scoped portal as the test modules build theirs (conftest.module_database)."""
    from ckan.tests import factories

    from ckanext.communes.tests.conftest import module_database

    with module_database():
        return factories.Organization(name="commune-du-module")["id"]


@pytest.mark.usefixtures("with_plugins")
def test_reuse_a_test_before_a_module_portal_loads_or_reuses_the_plugins_and_app(app):
    """Records the counts the next test compares with; the portal it gets must serve."""
    app.get("/", status=200)
    assert reused_portal.STATS["plugins_loaded"] >= 1 and reused_portal.STATS["app_built"] >= 1
    _loads_after_the_first["before_module_portal"] = (reused_portal.STATS["plugins_loaded"],
                                                      reused_portal.STATS["app_built"])


@pytest.mark.usefixtures("with_plugins")
def test_reuse_a_module_portal_reloads_neither_the_plugins_nor_the_app(module_portal, app):
    if "before_module_portal" not in _loads_after_the_first:
        pytest.skip("runs after the test before it (pytest -p no:randomly)")
    from ckan import model

    assert model.Group.get(module_portal) is not None
    app.get("/organization/commune-du-module", status=200)
    assert (reused_portal.STATS["plugins_loaded"], reused_portal.STATS["app_built"]) == (
        _loads_after_the_first["before_module_portal"])


@pytest.mark.usefixtures("with_plugins", "allow_private_addresses")
def test_reuse_a_test_with_a_patched_configuration_loads_or_reuses_the_plugins_and_app(app):
    """Records the counts the next test compares with; the patch must have reached the app's configuration."""
    import ckan.plugins.toolkit as tk

    assert tk.asbool(tk.config.get("ckanext.communes.fetch.allow_private_addresses"))
    app.get("/", status=200)
    _loads_after_the_first["patched"] = (reused_portal.STATS["plugins_loaded"], reused_portal.STATS["app_built"])


@pytest.mark.usefixtures("with_plugins", "allow_private_addresses")
def test_reuse_the_next_test_with_the_same_patch_reloads_neither(app):
    """A fixture that patches the configuration (allow_private_addresses, in 43 modules) once made every test
    reload the plugins and build an app: the app was built on the patched configuration, the plugins not."""
    if "patched" not in _loads_after_the_first:
        pytest.skip("runs after the test before it (pytest -p no:randomly)")
    app.get("/", status=200)
    loads = (reused_portal.STATS["plugins_loaded"], reused_portal.STATS["app_built"])
    assert loads == _loads_after_the_first["patched"]
