"""In Chromium: a commune admin logs in, edits the commune's profile, cannot change the SIREN (read-only
field, and a forged field is refused by the server) and gets a French error for a bad e-mail."""

from __future__ import annotations

import pytest
from ckan.tests import factories, helpers

from ckanext.communes.tests.conftest import browser_log_in

PASSWORD = "Bron-donnees-2019"


@pytest.fixture
def site(live_server, ckan_config, monkeypatch) -> str:
    """CKAN redirects to absolute URLs on ckan.site_url (test.ini's host does not resolve, and the
    login session would be lost): point it at the live server."""
    monkeypatch.setitem(ckan_config, "ckan.site_url", live_server)
    return live_server


@pytest.fixture
def bron_admin(few_communes) -> dict:
    user = factories.User(name="referente-bron", password=PASSWORD)
    helpers.call_action("organization_member_create", context={"ignore_auth": True}, id="bron",
                        username=user["name"], role="admin")
    return user


def _log_in(page, base: str, user: dict) -> None:
    browser_log_in(page, base, user["name"], PASSWORD)


def test_commune_admin_edits_profile_is_refused_siren_and_sees_french_email_error(
    site, browser_page, screenshot, bron_admin
):
    page, live_server = browser_page, site
    siren_before = helpers.call_action("organization_show", id="bron")["siren"]
    _log_in(page, live_server, bron_admin)

    page.goto(live_server + "/organization/edit/bron")
    # Identity and programme fields are shown read-only, with the reason; no input to type in.
    assert page.locator("#field-siren-readonly").inner_text().strip().endswith(siren_before)
    assert page.locator("input[name=siren]").count() == 0
    assert page.locator("text=Modifiable uniquement par les opérateurs du programme").first.is_visible()
    screenshot("communes-edit-form-commune-admin")

    # A bad e-mail: French field-level error, nothing saved.
    page.fill("#field-description", "Les données ouvertes de la ville de Bron.")
    page.fill("#field-referent_email", "pas-un-courriel")
    page.locator("form.dataset-form button[name=save]").click()
    page.wait_for_load_state("networkidle")
    error = page.locator(".error-explanation")
    assert "Saisissez une adresse électronique valide" in error.inner_text()
    assert "Courriel du référent" in error.inner_text()
    screenshot("communes-edit-form-bad-email")
    assert not helpers.call_action("organization_show", id="bron").get("referent_email")

    # A SIREN slipped into the form (as a crafted request would): the server refuses it.
    page.evaluate("""() => {
        const form = document.querySelector('form.dataset-form');
        const input = document.createElement('input');
        input.type = 'hidden'; input.name = 'siren'; input.value = '216900332';
        form.appendChild(input);
    }""")
    page.fill("#field-referent_email", "donnees@ville-bron.fr")
    page.locator("form.dataset-form button[name=save]").click()
    page.wait_for_load_state("networkidle")
    assert "Seuls les opérateurs du programme" in page.locator(".error-explanation").inner_text()
    assert page.locator("#field-siren-readonly").inner_text().strip().endswith(siren_before)  # not the forged one
    screenshot("communes-edit-form-siren-refused")
    assert helpers.call_action("organization_show", id="bron")["siren"] == siren_before

    # The same edit without the forged field is saved; the profile shows it above the datasets.
    page.goto(live_server + "/organization/edit/bron")
    page.fill("#field-description", "Les données ouvertes de la ville de Bron.")
    page.fill("#field-referent_name", "Camille Martin")
    page.fill("#field-referent_email", "donnees@ville-bron.fr")
    page.locator("form.dataset-form button[name=save]").click()
    page.wait_for_url("**/organization/bron")
    profile = page.locator("#commune-profile")
    assert "Camille Martin" in profile.inner_text() and "donnees@ville-bron.fr" in profile.inner_text()
    screenshot("communes-commune-page-after-edit")
    bron = helpers.call_action("organization_show", id="bron")
    assert (bron["referent_email"], bron["siren"], bron["partner_status"]) == (
        "donnees@ville-bron.fr", siren_before, "phase1")


def test_communes_index_renders_in_chromium(live_server, browser_page, screenshot, few_communes):
    response = browser_page.goto(live_server + "/communes")
    assert response.status == 200
    assert browser_page.locator("table.communes-table tbody tr.communes-row").count() == 6
    screenshot("communes-index")
