"""The plugins loaded and the test app built once, reused by the next test while nothing asks for others.

CKAN's ``with_plugins`` fixture unloads and reloads every plugin around each test, and its ``app`` fixture
builds a new Flask app, which reloads them once more: about 1.5 s per test that makes requests (the config
declarations, ckanext-scheming's schemas, ckanext-harvest's and our assets read again each time), a third of
the suite's time. The fixtures of conftest.py call ``plugins_for_test`` and ``app_for_test`` instead, which
reload and rebuild only when the test would not get the same ones:

- a reload happens when the configuration the test starts from differs (a ``ckan_config`` or ``with_plugins``
  mark, another ``ckan.plugins``) or when anybody else loaded or unloaded a plugin since (a module fixture, a
  test): every load and unload is counted;
- a new app is built when the configuration at the time the test asks for it differs from the one the cached
  app was built with, or when plugins were (re)loaded since.

What a reload does that is cheap and that a test may notice is done again for each test that reuses them: the
configuration is set back to what the reload produced, the action, auth and validator caches are emptied (a
test that patched an action leaves no trace), plugin helpers and IConfigurable plugins see the configuration
again, the database session is closed and the site user exists again after a database reset (make_app and
every plugin load create it), CKAN's app globals are read again."""

from __future__ import annotations

import contextlib
import copy
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import ckan.plugins
import ckan.plugins.core as plugins_core
from ckan.common import config

# CKAN_TESTS_REUSE_PORTAL=0: CKAN's own fixtures' behaviour (a reload and a new app for every test), to tell
# whether a test depends on the reuse.
ENABLED = os.environ.get("CKAN_TESTS_REUSE_PORTAL", "1") != "0"

@dataclass
class _Reload:
    """A state the plugins (or plugins and app) were brought to: the configuration before and after."""

    generation: int
    before: dict[str, Any]
    after: dict[str, Any]


_generation = 0  # plugin loads and unloads so far, by anybody
_plugins: _Reload | None = None
_app: tuple[_Reload, Any, Any] | None = None  # (state, CKAN's WSGI app, its internal test request context)
# How often each path was taken (printed with -v): a reuse that never happens is a slow suite again.
STATS = {"plugins_reused": 0, "plugins_loaded": 0, "app_reused": 0, "app_built": 0}


def count_plugin_changes() -> None:
    """Count every plugin load and unload (they all end in plugins_update), whoever does them."""
    original = plugins_core.plugins_update
    if getattr(original, "counted", False):
        return

    def counted() -> None:
        global _generation
        _generation += 1
        original()

    counted.counted = True  # type: ignore[attr-defined]
    plugins_core.plugins_update = counted


# ckanext-spatial's update_config appends its query parser ("frange") to this list in place: to the list object
# of CKAN's declared default, which every configuration reset hands back, so that the list grew by one at each
# load and no test ever started from the configuration the previous one did (every test reloaded: the suite
# took twice as long). Each test starts from a list of its own, without repeats, and the snapshots compared
# ignore the repeat a load adds.
APPENDED_BY_PLUGINS = ("ckan.search.solr_allowed_query_parsers",)


def _fresh_appended_lists() -> None:
    for key in APPENDED_BY_PLUGINS:
        value = config.get(key)
        if isinstance(value, list):
            config[key] = list(dict.fromkeys(value))


def _current() -> dict[str, Any]:
    current = copy.deepcopy(dict(config))
    for key in APPENDED_BY_PLUGINS:  # a load appends again what the configuration already has
        if isinstance(current.get(key), list):
            current[key] = list(dict.fromkeys(current[key]))
    return current


def _restore(values: dict[str, Any]) -> None:
    config.clear()
    config.update(copy.deepcopy(values))


def _as_after_a_reload() -> None:
    """The cheap effects of a plugin load (ckan.config.environment.update_config) a test may observe."""
    from ckan import authz, logic, model
    from ckan.lib import app_globals, helpers
    from ckan.lib import plugins as lib_plugins
    from sqlalchemy import inspect

    lib_plugins.reset_package_plugins()
    lib_plugins.register_package_plugins()
    lib_plugins.reset_group_plugins()
    lib_plugins.register_group_plugins()
    app_globals.app_globals._init()
    helpers.load_plugin_helpers()
    for plugin in ckan.plugins.PluginImplementations(ckan.plugins.IConfigurable):
        plugin.configure(config)
    logic.clear_actions_cache()
    logic.clear_validators_cache()
    authz.clear_auth_functions_cache()
    model.Session.remove()
    if inspect(model.Session.bind).has_table("user"):
        logic.get_action("get_site_user")({"ignore_auth": True}, {})
    model.Session.remove()
    model.Session.bind.dispose()


def plugins_for_test() -> None:
    """Like ckan.plugins.load_all() for a test whose ckan.plugins and marks are already in the config."""
    global _plugins
    _fresh_appended_lists()
    before = _current()
    if _plugins is not None and _plugins.generation == _generation and _plugins.before == before:
        _restore(_plugins.after)
        _as_after_a_reload()
        STATS["plugins_reused"] += 1
        return
    STATS["plugins_loaded"] += 1
    ckan.plugins.load_all()
    _plugins = _Reload(_generation, before, _current())


def forget() -> None:
    """Reuse nothing any more (after a test that loaded plugins of its own, with provide_plugin)."""
    global _plugins, _app
    _plugins = _app = None


def app_for_test() -> Any:
    """What ckan.tests.helpers._get_test_app() returns (a CKANTestApp with a client of its own, no cookie),
    around the cached WSGI app when the configuration is the one it was built with."""
    global _app, _plugins
    from ckan.config import middleware
    from ckan.lib import app_globals
    from ckan.tests.helpers import CKANTestApp

    config["testing"] = True
    _fresh_appended_lists()
    before = _current()
    if _app is not None and _app[0].generation == _generation and _app[0].before == before:
        state, wsgi_app, request_context = _app
        _restore(state.after)
        _as_after_a_reload()
        app_globals.reset()
        middleware._internal_test_request_context = request_context
        STATS["app_reused"] += 1
        return CKANTestApp(wsgi_app)
    STATS["app_built"] += 1
    wsgi_app = middleware.make_app(config)
    _app = (_Reload(_generation, before, _current()), wsgi_app, middleware._internal_test_request_context)
    # make_app reloaded the plugins: from the configuration they were loaded with, that is the same state.
    if _plugins is not None and _plugins.after == before:
        _plugins.generation = _generation
    return CKANTestApp(wsgi_app)


@contextlib.contextmanager
def plugins_for_module() -> Iterator[None]:
    """For a module-scoped fixture (before any test's with_plugins): the portal's plugins (ckan.plugins, no mark)
    as a test without marks gets them, reused when they are loaded already, and left loaded for the module's tests;
    the configuration set back afterwards, as the end of a test does. Loading and unloading them here instead
    made the module's first test load them again and build a new app (1.5 s a module)."""
    between_tests = copy.deepcopy(dict(config))
    plugins = config["ckan.plugins"]
    config["ckan.plugins"] = list(plugins.split() if isinstance(plugins, str) else plugins)  # as with_plugins
    try:
        plugins_for_test()
        yield
    finally:
        _restore(between_tests)
