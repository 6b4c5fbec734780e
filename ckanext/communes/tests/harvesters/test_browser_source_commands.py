"""An operator, in Chromium, stops a job, clears a source and deletes another with its datasets through the
buttons of the source pages, and reharvests from the confirmation page a link leads to: every command leaves
the browser as a POST carrying the page's CSRF token (harvesters/views.py), none as a GET."""

from __future__ import annotations

import pytest
from ckan import model
from ckan.tests import helpers

from ckanext.communes.tests.conftest import browser_log_in
from ckanext.communes.tests.harvesters.test_browser_harvest import PASSWORD, operator  # noqa: F401
from ckanext.communes.tests.harvesters.test_source_commands_post_only import jobs_of, new_job, new_source

pytestmark = pytest.mark.usefixtures("clean_db", "clean_index", "clean_queues")
COMMAND_PATHS = ("/harvest/refresh/", "/harvest/clear/", "/harvest/delete/", "/abort")


def _confirm(page) -> None:
    """Accept CKAN's confirmation dialog (a Bootstrap modal) and wait for the page the POST leads to."""
    page.wait_for_selector(".modal.show .btn-primary")
    with page.expect_navigation():
        page.locator(".modal.show .btn-primary").first.click()


def test_the_source_buttons_post_with_the_token(operator, live_server, browser_page, screenshot) -> None:  # noqa: F811
    page = browser_page
    sent: list[tuple[str, str]] = []
    page.on("request", lambda request: sent.append((request.method, request.url))
            if any(part in request.url for part in COMMAND_PATHS) else None)
    browser_log_in(page, live_server, operator["name"], PASSWORD, next_path="/dataset/")
    source, other, third = new_source(), new_source(), new_source()
    job = new_job(source, "Running")

    page.goto(live_server + f"/harvest/admin/{source['name']}")
    page.locator('a[href*="/abort"]').first.click()
    _confirm(page)
    assert helpers.call_action("harvest_job_show", context={"ignore_auth": True}, id=job["id"])["status"] == "Finished"

    page.goto(live_server + f"/harvest/admin/{source['name']}")
    page.locator('a[href*="/harvest/clear/"]').first.click()
    _confirm(page)
    screenshot("harvest-source-cleared")
    assert not jobs_of(source)

    page.goto(live_server + f"/harvest/edit/{other['name']}")
    page.locator(".dropdown-toggle.btn-danger").click()
    page.locator('a[href$="?clear=True"]').click()
    _confirm(page)
    model.Session.expire_all()
    assert model.Package.get(other["id"]).state == "deleted"

    # A link followed without the dialog (another tab, no JavaScript): the page asks, its button posts.
    page.goto(live_server + f"/harvest/refresh/{third['id']}")
    screenshot("harvest-confirm-reharvest")
    assert not jobs_of(third)
    with page.expect_navigation():
        page.locator("form.communes-harvest-confirm button[type=submit]").click()
    assert len(jobs_of(third)) == 1

    # Stop, Clear, Delete and clear posted; the reharvest link opened (GET) and its page posted.
    assert [method for method, _url in sent] == ["POST", "POST", "POST", "GET", "POST"], sent
