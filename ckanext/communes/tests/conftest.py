"""Shared fixtures. The CKAN app and the services are shared across the session; the
database and the index are cleaned between tests with CKAN's own fixtures."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator

import pytest

from ckanext.communes.tests import portal_snapshot, reused_portal, worker_services

# Plugins whose tables live in their own migrations: CKAN's reset_db only rebuilds core tables.
PLUGINS_WITH_MIGRATIONS = ("activity", "harvest", "communes")


@contextlib.contextmanager
def module_database() -> Iterator[None]:
    """For a module-scoped fixture that builds a portal once per module (a database reset and dozens of
    organisations cost seconds): the plugins loaded (with_plugins, function-scoped, has not run yet), the
    database reset with every plugin's migrations, the index emptied. The plugins stay loaded for the module's
    tests (reused_portal.plugins_for_module); with CKAN_TESTS_REUSE_PORTAL=0 they are unloaded after."""
    import ckan.plugins
    from ckan.cli.db import _run_migrations
    from ckan.lib import search
    from ckan.tests import factories, helpers

    if reused_portal.ENABLED:
        plugins: contextlib.AbstractContextManager[None] = reused_portal.plugins_for_module()
    else:
        ckan.plugins.load_all()
        plugins = contextlib.ExitStack()
        plugins.callback(ckan.plugins.unload_all)
    with plugins:
        factories.fake.unique.clear()
        helpers.reset_db()
        if not _plugin_migrations_at_head():
            for plugin in PLUGINS_WITH_MIGRATIONS:
                _run_migrations(plugin, "head", True)
        search.clear_all()
        yield


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # Before CKAN's plugin reads the configuration (its pytest_sessionstart): an xdist worker's own services.
    worker_services.use_own_services(config.getoption("ckan_ini", default=None))
    reused_portal.count_plugin_changes()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    portal_snapshot.drop_all()


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    if config.option.verbose > 0:
        terminalreporter.write_line("plugins and app reuse (reused_portal.py): " + ", ".join(
            f"{name} {count}" for name, count in reused_portal.STATS.items()))
        terminalreporter.write_line("portals (portal_snapshot.py): " + ", ".join(
            f"{name} {count}" for name, count in portal_snapshot.STATS.items()))


@pytest.fixture(autouse=True)
def _portal_plugins(with_plugins):
    """Every test runs with the portal's plugins (ckan.plugins of test.ini) loaded."""


@pytest.fixture(autouse=True)
def _fresh_licence_aliases():
    """The operators' licence aliases are cached per process for a few seconds (licences/aliases.py); a test's
    database reset must not leave the previous test's aliases in that cache."""
    from ckanext.communes.licences.aliases import forget_operator_aliases

    forget_operator_aliases()


# Fixtures that patch the configuration, set up before the plugins when a test asks for them: the plugins and the
# app are then loaded from the configuration the test runs with. Set up after the plugins, before the app, the app
# was built on another configuration than the plugins, so that the next test reloaded the plugins, which made the
# app be built again (1.5 s a test in the 43 modules that allow private addresses). A new fixture that patches
# ckan_config for many tests belongs here.
CONFIG_PATCHING_FIXTURES = ("allow_private_addresses",)


@pytest.fixture
def with_plugins(ckan_config, provide_plugin, monkeypatch, request):
    """CKAN's with_plugins (ckan.plugins plus the plugins of with_plugins marks loaded for the test), the
    plugins left loaded for the next test that asks for the same (reused_portal.py): a reload per test
    costs half a second. A test that provides plugins of its own (provide_plugin) gets CKAN's behaviour."""
    names: list[str] = []
    provided = any(True for _ in request.node.iter_markers("provide_plugin"))
    for mark in request.node.iter_markers("with_plugins"):
        for plugin in mark.args:
            if isinstance(plugin, str):
                names.append(plugin)
            elif isinstance(plugin, dict):
                for name, implementation in plugin.items():
                    provide_plugin(name, implementation)
                    names.append(name)
                provided = True
            else:
                raise AssertionError(f"Unexpected argument {plugin} for with_plugins mark")
    for fixture in CONFIG_PATCHING_FIXTURES:
        if fixture in request.fixturenames:
            request.getfixturevalue(fixture)
    current = ckan_config["ckan.plugins"]
    if isinstance(current, str):
        current = current.split()
    monkeypatch.setitem(ckan_config, "ckan.plugins", list(current) + names)
    if provided or not reused_portal.ENABLED:
        import ckan.plugins

        reused_portal.forget()
        ckan.plugins.load_all()
        yield
        ckan.plugins.unload_all()
        return
    reused_portal.plugins_for_test()
    yield


@pytest.fixture
def app(make_app):
    """CKAN's app fixture (a test client of the portal's app, cookies of its own), the Flask app reused from
    the previous test when the configuration is the same (reused_portal.py): building one costs a second."""
    return reused_portal.app_for_test() if reused_portal.ENABLED else make_app()


@functools.cache
def _migration_heads() -> dict[str, frozenset[str]]:
    """The head revisions of the plugins' migrations, read once from their scripts."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from ckan.cli.db import _resolve_alembic_config

    return {plugin: frozenset(ScriptDirectory.from_config(Config(_resolve_alembic_config(plugin))).get_heads())
            for plugin in PLUGINS_WITH_MIGRATIONS}


def _plugin_migrations_at_head() -> bool:
    """Whether every plugin's version table says head: asking alembic costs 50 ms a plugin, this one query."""
    import sqlalchemy as sa
    from ckan import model

    with model.Session.bind.connect() as connection:
        for plugin, heads in _migration_heads().items():
            try:
                found = {row[0] for row in connection.execute(
                    sa.text(f"select version_num from {plugin}_alembic_version"))}
            except sa.exc.ProgrammingError:  # no version table: the reset dropped the tables
                return False
            if found != heads:
                return False
    return True


@pytest.fixture
def clean_db(reset_db, migrate_db_for):
    """CKAN's clean_db, plus the migrations of the plugins the portal loads (run when a plugin's tables are
    not at head: the first reset of a session drops every table, later ones only empty them)."""
    reset_db()
    if not _plugin_migrations_at_head():
        for plugin in PLUGINS_WITH_MIGRATIONS:
            migrate_db_for(plugin)


@pytest.fixture
def live_server(app, ckan_config, monkeypatch):
    """The test app served over real HTTP on 127.0.0.1 (random port), for browser tests.

    Same process, same database and Solr core as the test: data made by factories is
    visible to the browser. Yields the base URL, which is also ckan.site_url for the test
    (CKAN redirects to absolute URLs on it; test.ini's host does not resolve)."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app.flask_app, threaded=True)
    monkeypatch.setitem(ckan_config, "ckan.site_url", f"http://127.0.0.1:{server.server_port}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def browser_log_in(page, base_url: str, user_name: str, password: str, next_path: str = "") -> None:
    """Log in through the login form, as a person does; fails when the page does not show the user."""
    page.goto(base_url + "/user/login" + (f"?next={next_path}" if next_path else ""))
    page.fill("#field-login", user_name)
    page.fill("#field-password", password)
    with page.expect_navigation():
        page.locator("#field-password").press("Enter")
    assert page.locator(f'a[href*="/user/{user_name}"]').count() >= 1, "not logged in"


# CKAN binds its JavaScript modules (confirmation dialogs, the resource form's buttons, our maps) only after its
# script has fetched the page's translations (ckan.initialize in main.js): after the load event, on a loaded machine.
# A click in between follows a link itself (a GET) instead of opening a dialog. The page marks when they are bound.
MARK_CKAN_MODULES_READY = """
document.addEventListener("DOMContentLoaded", () => {
  if (window.ckan && window.ckan.module && window.ckan.module.initialize) {
    const initialize = window.ckan.module.initialize;
    window.ckan.module.initialize = function () {
      const result = initialize.apply(this, arguments);
      window.__communesModulesReady = true;
      return result;
    };
  }
});
"""


def _goto_waits_for_ckan_modules(page) -> None:
    """page.goto returns once CKAN's modules are bound (at once on a page without CKAN's script)."""
    goto = page.goto

    def goto_then_wait(url: str, **kwargs):
        response = goto(url, **kwargs)
        page.wait_for_function("() => !(window.ckan && window.ckan.module && window.ckan.module.initialize)"
                               " || window.__communesModulesReady === true")
        return response

    page.goto = goto_then_wait


@pytest.fixture
def browser_page():
    """A Playwright page in Debian's Chromium (no browser download). Skips nothing: if
    Chromium is missing the test fails, because CI installs it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
                  "--no-first-run", "--disable-component-update", "--disable-sync"],
        )
        context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 1000})
        context.add_init_script(MARK_CKAN_MODULES_READY)
        page = context.new_page()
        page.set_default_timeout(20000)
        _goto_waits_for_ckan_modules(page)
        try:
            yield page
        finally:
            context.close()
            browser.close()


SCREENSHOTS = __import__("pathlib").Path(__file__).resolve().parents[3] / "test-artifacts" / "screenshots"


@pytest.fixture
def screenshot(browser_page):
    """screenshot(name) saves test-artifacts/screenshots/NAME.png of the current page."""

    def take(name: str) -> str:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        browser_page.screenshot(path=str(path), full_page=True)
        return str(path)

    return take
