"""The registry's « licence non reconnue » entry (issue #22): what a harvested licence that maps to nothing
becomes. Not open, not on the legal list, flagged « unknown », French label; an id neither CKAN nor
data.gouv.fr uses (``notspecified`` means the publisher said nothing, which is not the case); never offered in
the form and never set by a person."""

from __future__ import annotations

import json

import pytest
from ckan.model.license import LicenseRegister
from ckan.tests import factories, helpers

from ckanext.communes.licences import policy
from ckanext.communes.licences.registry import ckan_licence_dict, get_licence
from ckanext.communes.tests.dcat.conftest import DATAGOUV_LICENCES

UNRECOGNISED = "unrecognised"


def test_the_entry_is_not_open_not_listed_and_flagged_unknown():
    licence = get_licence(UNRECOGNISED)
    assert licence is not None
    assert licence.title == "Licence non reconnue"
    assert not licence.is_open and licence.legal_status == "not_listed" and licence.domain == "data"
    assert policy.compliance_of(licence, licence.id) == "unknown"
    assert policy.compliance_of_value(UNRECOGNISED) == "unknown"
    assert ckan_licence_dict(licence)["od_conformance"] == "not reviewed"


def test_the_id_is_not_one_ckan_or_data_gouv_fr_gives_another_meaning():
    datagouv_ids = {entry["id"] for entry in json.loads(DATAGOUV_LICENCES.read_text(encoding="utf-8"))}
    ckan_default_ids = set(LicenseRegister.default_license_list) if hasattr(
        LicenseRegister, "default_license_list") else set()
    from ckan.model import license as ckan_license

    ckan_default_ids |= {cls().id if hasattr(cls(), "id") else "" for cls in vars(ckan_license).values()
                         if isinstance(cls, type) and cls.__name__.startswith("License") and cls.__name__ not in (
                             "License", "LicenseRegister")}
    assert get_licence(UNRECOGNISED) is not None
    assert UNRECOGNISED not in datagouv_ids | ckan_default_ids


def test_the_form_never_offers_it():
    from ckanext.communes.licences.helpers import communes_licence_form_groups

    offered = {o["value"] for group in communes_licence_form_groups() for o in group["options"]}
    assert get_licence(UNRECOGNISED) is not None
    assert UNRECOGNISED not in offered


@pytest.mark.usefixtures("clean_db", "with_request_context")
@pytest.mark.parametrize("mode", ["enforce", "warn", "off"])
def test_a_person_cannot_set_it(mode, ckan_config, monkeypatch):
    monkeypatch.setitem(ckan_config, policy.POLICY_OPTION, mode)
    sysadmin = factories.Sysadmin()
    org = factories.Organization()
    with pytest.raises(helpers.logic.ValidationError) as raised:
        helpers.call_action("package_create", context={"user": sysadmin["name"]}, name="jeu-x", title="Jeu",
                            notes="n", owner_org=org["id"], license_id=UNRECOGNISED,
                            theme=["http://publications.europa.eu/resource/authority/data-theme/ENVI"])
    assert "moissonnage" in " ".join(raised.value.error_dict["license_id"])


@pytest.mark.usefixtures("clean_db", "clean_index")
def test_the_edit_form_of_a_dataset_harvested_under_it_opens_and_keeps_it_on_save(app):
    """A harvested dataset whose licence maps to nothing is stored as « licence non reconnue »: its editor opens
    the form (a 500 on the crawl before: the entry fell in no group of the licence select) and saves it
    unchanged without being refused."""
    from ckan import model
    from ckan.lib.search import rebuild

    sysadmin = factories.Sysadmin()
    org = factories.Organization()
    dataset = helpers.call_action(
        "package_create", context={"user": sysadmin["name"]}, name="jeu-moissonne", title="Jeu moissonné",
        notes="n", owner_org=org["id"], license_id="etalab-2.0",
        theme=["http://publications.europa.eu/resource/authority/data-theme/ENVI"])
    model.Package.get(dataset["id"]).license_id = UNRECOGNISED  # as a harvest stores it
    model.Session.commit()
    rebuild(dataset["id"])
    token = factories.APIToken(user=sysadmin["name"])["token"]

    page = app.get("/dataset/edit/jeu-moissonne", headers={"Authorization": token})
    assert page.status_code == 200
    assert f'<option value="{UNRECOGNISED}" selected' in page.body.replace('selected="selected"', "selected")
    assert "Licence non reconnue" in page.body

    patched = helpers.call_action("package_patch", context={"user": sysadmin["name"]}, id=dataset["id"],
                                  notes="Description revue")
    assert patched["license_id"] == UNRECOGNISED and patched["notes"] == "Description revue"
