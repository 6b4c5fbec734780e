"""Shared fixtures. The CKAN app and the services are shared across the session; the
database and the index are cleaned between tests with CKAN's own fixtures."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

# Plugins whose tables live in their own migrations: CKAN's reset_db only rebuilds core tables.
PLUGINS_WITH_MIGRATIONS = ("activity", "harvest", "communes")


@contextlib.contextmanager
def module_database() -> Iterator[None]:
    """For a module-scoped fixture that builds a portal once per module (a database reset and dozens of
    organisations cost seconds): the plugins loaded (with_plugins, function-scoped, has not run yet), the
    database reset with every plugin's migrations, the index emptied. The plugins are unloaded after."""
    import ckan.plugins
    from ckan.cli.db import _run_migrations
    from ckan.lib import search
    from ckan.tests import factories, helpers

    ckan.plugins.load_all()
    try:
        factories.fake.unique.clear()
        helpers.reset_db()
        for plugin in PLUGINS_WITH_MIGRATIONS:
            _run_migrations(plugin, "head", True)
        search.clear_all()
        yield
    finally:
        ckan.plugins.unload_all()


@pytest.fixture(autouse=True)
def _portal_plugins(with_plugins):
    """Every test runs with the portal's plugins (ckan.plugins of test.ini) loaded."""


@pytest.fixture
def clean_db(reset_db, migrate_db_for):
    """CKAN's clean_db, plus the migrations of the plugins the portal loads."""
    reset_db()
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
        page = context.new_page()
        page.set_default_timeout(20000)
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
