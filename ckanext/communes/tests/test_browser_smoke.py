"""The portal renders in a real browser (Chromium driven by Playwright), in French, with the communes of
the programme one click away from the home page."""

import pytest


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
