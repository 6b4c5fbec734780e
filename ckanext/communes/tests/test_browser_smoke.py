"""The portal renders in a real browser (Chromium driven by Playwright)."""

import pytest


@pytest.mark.usefixtures("clean_db", "clean_index")
def test_home_page_renders_in_chromium(live_server, browser_page, screenshot):
    response = browser_page.goto(live_server + "/")
    assert response.status == 200
    assert browser_page.locator("body").count() == 1
    assert "Données ouvertes des communes" in browser_page.title()
    screenshot("home")
