"""The licence registry: one source of truth (data/licences.csv), the CKAN licence list
generated from it, and the legal facts of CRPA art. D323-2-1 it carries."""

from __future__ import annotations

import json

import ckan.model as model
import pytest

from ckanext.communes.licences import CKAN_LICENCES_FILE
from ckanext.communes.licences.registry import (
    all_licences,
    ckan_licences_json,
    get_licence,
    licence_rdf_uri,
)

LISTED_FOR_DATA = {"etalab-2.0", "ODbL-1.0"}
LISTED_FOR_SOFTWARE = {
    "Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "CECILL-B", "MIT", "CECILL-2.1", "CECILL-C",
    "GPL-3.0-or-later", "LGPL-3.0-or-later", "AGPL-3.0-or-later", "MPL-2.0", "EPL-2.0", "EUPL-1.2",
}


def test_ckan_licence_file_is_generated_from_the_registry_csv():
    with open(CKAN_LICENCES_FILE, encoding="utf-8") as f:
        on_disk = f.read()
    assert on_disk == ckan_licences_json(), (
        "data/licences.json is stale: run `python -m ckanext.communes.licences.registry`"
    )


def test_registry_holds_the_licences_the_issue_requires():
    ids = {licence.id for licence in all_licences()}
    required = {"etalab-2.0", "fr-lo", "ODbL-1.0", "CC-BY-4.0", "CC-BY-SA-4.0", "CC0-1.0", "ODC-By-1.0",
                "PDDL-1.0", "grandlyon-engagee", "grandlyon-associee", "notspecified"}
    assert required | LISTED_FOR_SOFTWARE <= ids


def test_legal_list_of_crpa_d323_2_1_is_exactly_the_one_of_the_decree():
    listed = {(lic.id, lic.domain) for lic in all_licences() if lic.legal_status == "listed"}
    assert listed == {(i, "data") for i in LISTED_FOR_DATA} | {(i, "software") for i in LISTED_FOR_SOFTWARE}
    assert {lic.id for lic in all_licences() if lic.is_authorised_for_data} == LISTED_FOR_DATA


def test_licence_ouverte_1_is_superseded_and_metropole_licences_are_not_open():
    assert get_licence("fr-lo").legal_status == "superseded"
    assert get_licence("fr-lo").is_open
    for licence_id in ("grandlyon-engagee", "grandlyon-associee"):
        licence = get_licence(licence_id)
        assert not licence.is_open and licence.legal_status == "not_listed"


def test_get_licence_is_exact_on_ids():
    assert get_licence("etalab-2.0").title == "Licence Ouverte / Open Licence version 2.0"
    assert get_licence("ETALAB-2.0") is None
    assert get_licence("") is None and get_licence(None) is None


def test_licence_rdf_uri_prefers_the_eu_vocabulary_then_the_canonical_url():
    assert licence_rdf_uri(get_licence("ODbL-1.0")) == "http://publications.europa.eu/resource/authority/licence/ODC_BL"
    # No EU licence NAL entry exists for Licence Ouverte: its canonical URL stands in.
    assert licence_rdf_uri(get_licence("etalab-2.0")) == "https://www.etalab.gouv.fr/licence-ouverte-open-licence"
    eu_uris = [lic.eu_uri for lic in all_licences() if lic.eu_uri]
    assert all(u.startswith("http://publications.europa.eu/resource/authority/licence/") for u in eu_uris)
    assert len(set(eu_uris)) == len(eu_uris)


def test_ckan_json_marks_open_licences_as_approved():
    entries = {e["id"]: e for e in json.loads(ckan_licences_json())}
    assert entries["etalab-2.0"]["od_conformance"] == "approved"
    assert entries["MIT"]["osd_conformance"] == "approved"
    assert entries["grandlyon-engagee"]["od_conformance"] != "approved"
    assert entries["grandlyon-engagee"]["osd_conformance"] != "approved"


def test_ckan_serves_the_registry_as_its_licence_list():
    register = model.Package.get_license_register()
    assert set(register.keys()) == {licence.id for licence in all_licences()}
    assert register["etalab-2.0"].isopen()
    assert not register["grandlyon-associee"].isopen()


@pytest.mark.usefixtures("clean_db", "clean_index")
def test_license_list_action_returns_the_registry(app):
    result = app.get("/api/3/action/license_list").json["result"]
    assert [entry["id"] for entry in result] == [licence.id for licence in all_licences()]
