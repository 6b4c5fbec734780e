"""A commune editor creates a dataset through the form in Chromium: theme, frequency and Licence
Ouverte 2.0, then sees the licence mark on the dataset page; a non-authorised licence is refused
with a French error."""

from __future__ import annotations

import re

import pytest
from ckan.tests import helpers

from ckanext.communes.tests.conftest import browser_log_in

EU = "http://publications.europa.eu/resource/authority"
PASSWORD = "correct horse battery staple"

pytestmark = pytest.mark.usefixtures("clean_db", "clean_index")


@pytest.fixture
def site_on_live_server(live_server, ckan_config, monkeypatch) -> str:
    """CKAN redirects to absolute URLs on ckan.site_url (test.ini's host does not resolve): point
    it at the live server for the browser tests."""
    monkeypatch.setitem(ckan_config, "ckan.site_url", live_server)
    return live_server


def _log_in(page, base_url: str, user_name: str) -> None:
    browser_log_in(page, base_url, user_name, PASSWORD, next_path="/dataset/")


def _fill_first_stage(page, title: str, licence: str) -> None:
    page.fill("#field-title", title)
    page.fill("#field-notes", "Inventaire des arbres remarquables de la commune.")
    page.check(f'input[name="theme"][value="{EU}/data-theme/ENVI"]')
    page.select_option("#field-frequency", f"{EU}/frequency/ANNUAL")
    page.select_option("#field-license_id", licence)


def test_commune_editor_creates_a_dataset_with_licence_ouverte_and_sees_the_mark(
    site_on_live_server, browser_page, screenshot, bron_editor
):
    page = browser_page
    live_server = site_on_live_server
    _log_in(page, live_server, bron_editor["name"])

    page.goto(live_server + "/dataset/new")
    screenshot("schema-dataset-form-new")
    # The commune defaults are already there; the publisher is shown, not typed.
    assert page.input_value('input[name="spatial_coverage-0-uri"]') == "http://id.insee.fr/geo/commune/69029"
    assert page.input_value('input[name="contact-0-email"]') == "opendata@ville-bron.fr"
    _fill_first_stage(page, "Arbres remarquables", "etalab-2.0")
    screenshot("schema-dataset-form-stage1")
    page.locator('button[name="save"]').last.click()
    page.wait_for_load_state("networkidle")

    # Second stage: the data resource (a link).
    assert "/resource/new" in page.url, page.url
    page.click("#resource-link-button")
    page.fill("#field-resource-url", "https://data.ville-bron.fr/arbres.csv")
    page.fill("#field-name", "Arbres (CSV)")
    screenshot("schema-dataset-form-stage2")
    page.locator('button[name="save"][value="go-metadata"]').click()
    page.wait_for_load_state("networkidle")

    if not re.search(r"/dataset/arbres-remarquables$", page.url):
        screenshot("schema-dataset-form-stage2-error")
    assert re.search(r"/dataset/arbres-remarquables$", page.url), page.url
    mark = page.locator(".communes-licence-mark")
    assert mark.count() == 1
    assert mark.get_attribute("data-licence-compliance") == "authorised"
    assert "Environnement" in page.content() and "Annuelle" in page.content()
    screenshot("schema-dataset-page-licence-mark")

    # Reusers' search page: facets with French titles and labels.
    page.goto(live_server + "/dataset/")
    facets = page.locator("#search-facets")
    assert facets.locator("text=Environnement").count() == 1
    assert facets.locator("text=Annuelle").count() == 1
    screenshot("schema-dataset-search-facets")

    dataset = helpers.call_action("package_show", id="arbres-remarquables")
    assert dataset["license_id"] == "etalab-2.0"
    assert dataset["theme"] == [f"{EU}/data-theme/ENVI"]
    assert dataset["frequency"] == f"{EU}/frequency/ANNUAL"
    assert dataset["publisher"][0]["identifier"] == "216900290"
    assert dataset["resources"][0]["format"] == "CSV"


def test_choosing_a_non_authorised_licence_shows_the_french_error(
    site_on_live_server, browser_page, screenshot, bron_editor
):
    page = browser_page
    live_server = site_on_live_server
    _log_in(page, live_server, bron_editor["name"])
    page.goto(live_server + "/dataset/new")
    _fill_first_stage(page, "Arbres sous licence engagée", "grandlyon-engagee")
    page.locator('button[name="save"]').last.click()
    page.wait_for_load_state("networkidle")

    error_block = page.locator(".error-explanation, .alert-error, .alert-danger").first
    assert error_block.is_visible()
    assert "ne figure pas sur la liste des licences" in page.content()
    screenshot("schema-dataset-form-licence-refused")
    assert helpers.call_action("package_search", q="*:*", include_private=True)["count"] == 0
