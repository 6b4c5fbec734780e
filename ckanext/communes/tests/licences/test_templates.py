"""The dataset page shows the licence with its mark (authorised for public bodies, open but
not on the legal list, not open), and the dataset form's licence select puts the authorised
licences first, with the rule in one line."""

from __future__ import annotations

import re

import pytest
from ckan.tests import factories, helpers

pytestmark = pytest.mark.usefixtures("clean_db", "clean_index")

REQUIRED = {"notes": "Un jeu de données de test.",
            "theme": ["http://publications.europa.eu/resource/authority/data-theme/ENVI"]}


@pytest.fixture
def org():
    return factories.Organization()


def harvested(org, name, licence_id):
    """Created as ckanext-harvest does (site user), so any licence is accepted and flagged."""
    site_user = helpers.call_action("get_site_user", context={"ignore_auth": True})
    return helpers.call_action("package_create", context={"user": site_user["name"], "ignore_auth": True},
                               name=name, title=name, owner_org=org["id"], license_id=licence_id, **REQUIRED)


@pytest.mark.parametrize(("licence_id", "compliance", "mark"), [
    ("etalab-2.0", "authorised", "Autorisée pour les administrations (CRPA D323-2-1)"),
    ("CC-BY-4.0", "open_not_listed", "Ouverte mais hors liste légale"),
    ("grandlyon-engagee", "not_open", "Non ouverte"),
    ("Licence Ouverte (Etalab)", "unknown", "Licence non reconnue"),
])
def test_dataset_page_shows_the_licence_and_its_french_mark(app, org, licence_id, compliance, mark):
    dataset = harvested(org, "jeu-" + compliance.replace("_", "-"), licence_id)
    body = app.get(f"/dataset/{dataset['name']}").body
    found = re.search(r'<span class="communes-licence-mark[^"]*" data-licence-compliance="([a-z_]+)"[^>]*>([^<]+)<',
                      body)
    assert found, "no licence mark on the dataset page"
    assert found.group(1) == compliance
    assert found.group(2) == mark
    assert dataset["license_title"] in body


def test_dataset_form_lists_authorised_licences_first_in_their_own_group(app, org):
    user = factories.User()
    helpers.call_action("organization_member_create", context={"ignore_auth": True},
                        id=org["id"], username=user["name"], role="editor")
    token = factories.APIToken(user=user["name"])["token"]
    body = app.get("/dataset/new", headers={"Authorization": token}).body
    select = re.search(r'<select id="field-license_id" name="license_id".*?</select>', body, re.S)
    assert select, "licence select missing from the dataset form"
    groups = re.findall(r'<optgroup label="([^"]+)" data-licence-group="([a-z_]+)">(.*?)</optgroup>',
                        select.group(0), re.S)
    assert [g[1] for g in groups] == ["authorised", "open_not_listed", "not_open", "software"]
    assert groups[0][0] == "Autorisée pour les administrations (CRPA D323-2-1)"
    assert re.findall(r'<option value="([^"]+)"', groups[0][2]) == ["etalab-2.0", "ODbL-1.0"]
    assert "art. D323-2-1 du CRPA (Licence Ouverte 2.0 ou ODbL)" in body


def test_dataset_form_keeps_a_harvested_licence_outside_the_registry_as_an_option(app, org):
    dataset = harvested(org, "jeu-moissonne", "Licence Ouverte (Etalab)")
    sysadmin = factories.SysadminWithToken()
    body = app.get(f"/dataset/edit/{dataset['name']}", headers={"Authorization": sysadmin["token"]}).body
    assert re.search(r'<optgroup label="Licence indiquée par la source" data-licence-group="unknown">\s*'
                     r'<option value="Licence Ouverte \(Etalab\)" selected>', body)


def test_licence_marks_are_visible_in_a_real_browser(org, live_server, browser_page, screenshot):
    harvested(org, "arbres-autorise", "etalab-2.0")
    harvested(org, "arbres-non-ouvert", "grandlyon-associee")
    browser_page.goto(f"{live_server}/dataset/arbres-autorise")
    mark = browser_page.locator(".communes-licence-mark")
    assert mark.is_visible()
    assert mark.inner_text() == "Autorisée pour les administrations (CRPA D323-2-1)"
    screenshot("licence-mark-authorised")
    browser_page.goto(f"{live_server}/dataset/arbres-non-ouvert")
    assert browser_page.locator(".communes-licence-mark").inner_text() == "Non ouverte"
    screenshot("licence-mark-not-open")
