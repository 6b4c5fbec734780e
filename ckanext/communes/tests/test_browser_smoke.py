"""The portal renders in a real browser (Chromium driven by Playwright), in French, with the communes of
the programme one click away from the home page."""

import urllib.parse

import pytest
from ckan.tests import factories, helpers

from ckanext.communes.communes import seeding
from ckanext.communes.tests.communes.conftest import write_communes_csv
from ckanext.communes.tests.conftest import browser_log_in


@pytest.mark.usefixtures("clean_db", "clean_index")
def test_home_page_leads_to_the_communes_in_chromium(live_server, browser_page, screenshot):
    response = browser_page.goto(live_server + "/")
    assert response.status == 200
    assert browser_page.locator("html").get_attribute("lang") == "fr"
    screenshot("home")
    browser_page.get_by_role("link", name="Communes", exact=True).first.click()
    browser_page.wait_for_url(live_server + "/communes")
    assert browser_page.locator("h1").first.inner_text().strip() != ""
    assert "Statut de partenaire" in browser_page.content()


OUTSIDE_PASSWORD = "Bron-donnees-2019"


def _outside_requests(page, base_url: str) -> list[str]:
    """Every request the browser makes to a host other than the portal's, recorded from now on."""
    portal_host = urllib.parse.urlsplit(base_url).netloc
    outside: list[str] = []

    def record(request) -> None:
        parts = urllib.parse.urlsplit(request.url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.netloc != portal_host:
            outside.append(f"{request.url} (asked by {page.url})")

    page.on("request", record)
    return outside


@pytest.mark.usefixtures("clean_db", "clean_index")
def test_the_browser_asks_no_outside_host_as_a_visitor_or_a_logged_in_member(live_server, browser_page, tmp_path):
    """No CDN, no avatar service, no tile server unless an operator configures one: the portal works offline and
    tells no third party who reads what. A member's pages show avatars (CKAN's default asks gravatar.com)."""
    seeding.seed(path=str(write_communes_csv(tmp_path / "bron.csv", ("69029",))))
    user = factories.User(name="agent-bron", password=OUTSIDE_PASSWORD, email="agent@ville-bron.fr",
                            image_url="")  # no picture of its own: the portal shows its default avatar
    helpers.call_action("organization_member_create", context={"ignore_auth": True}, id="bron",
                        username=user["name"], role="editor")
    page = browser_page
    outside = _outside_requests(page, live_server)
    for path in ("/", "/dataset/", "/communes", "/communes/bilan", "/organization/bron", "/accessibilite"):
        page.goto(live_server + path)
    browser_log_in(page, live_server, user["name"], OUTSIDE_PASSWORD)
    for path in (f"/user/{user['name']}", "/dashboard/datasets", "/organization/members/bron", "/dataset/new"):
        page.goto(live_server + path)
        page.wait_for_load_state("networkidle")
    assert not outside, "requests to outside hosts:\n" + "\n".join(outside)


def test_goto_returns_once_ckans_modules_are_bound_even_when_the_translations_come_late(live_server, browser_page):
    """CKAN binds its modules after fetching the page's translations: a test that clicks right after page.goto
    must find them bound (browser_page waits), or its click follows the link instead of opening the dialog."""
    page = browser_page
    # The translations answered late, as on a machine running three test processes and their browsers.
    page.route("**/api/i18n/**", lambda route: (page.wait_for_timeout(1500), route.continue_()))
    page.goto(live_server + "/dataset/")
    assert page.evaluate("() => window.__communesModulesReady === true")
    assert page.evaluate("() => Object.keys(window.ckan.module.instances).length") > 0
