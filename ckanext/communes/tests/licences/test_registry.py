"""The licence registry: one source of truth (data/licences.csv), the CKAN licence list
generated from it, and the facts it carries: CRPA art. D323-2-1, the EU licence NAL URIs
(their membership of the NAL is checked in tests/vocabularies/test_eu_nal.py) and the titles
data.gouv.fr gives its licences."""

from __future__ import annotations

import json
import os

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


EU_LICENCE = "http://publications.europa.eu/resource/authority/licence/"


# Every EU licence NAL concept there is for a registry licence (licences-skos.rdf 20230927-0),
# typed out: a wrong but existing concept (CC_BY, deprecated, for CC-BY-4.0) would pass the NAL check.
# "" where the NAL has none: Licence Ouverte 1.0, CeCILL-B/C, the Métropole's licences, and the GNU
# licences "or later" (the NAL has only GPL_3_0/LGPL_3_0/AGPL_3_0, i.e. "only").
@pytest.mark.parametrize(
    ("licence_id", "eu_uri"),
    [
        ("etalab-2.0", EU_LICENCE + "ETALAB_2_0"),
        ("fr-lo", ""),
        ("ODbL-1.0", EU_LICENCE + "ODC_BL"),
        ("CC-BY-4.0", EU_LICENCE + "CC_BY_4_0"),
        ("CC-BY-SA-4.0", EU_LICENCE + "CC_BYSA_4_0"),
        ("CC0-1.0", EU_LICENCE + "CC0"),
        ("ODC-By-1.0", EU_LICENCE + "ODC_BY"),
        ("PDDL-1.0", EU_LICENCE + "ODC_PDDL"),
        ("grandlyon-engagee", ""),
        ("grandlyon-associee", ""),
        ("Apache-2.0", EU_LICENCE + "APACHE_2_0"),
        ("BSD-2-Clause", EU_LICENCE + "BSD_2_CLAUSE"),
        ("BSD-3-Clause", EU_LICENCE + "BSD_3_CLAUSE"),
        ("CECILL-B", ""),
        ("MIT", EU_LICENCE + "MIT"),
        ("CECILL-2.1", EU_LICENCE + "CECILL_2_1"),
        ("CECILL-C", ""),
        ("GPL-3.0-or-later", ""),
        ("LGPL-3.0-or-later", ""),
        ("AGPL-3.0-or-later", ""),
        ("MPL-2.0", EU_LICENCE + "MPL_2_0"),
        ("EPL-2.0", EU_LICENCE + "EPL_2_0"),
        ("EUPL-1.2", EU_LICENCE + "EUPL_1_2"),
    ],
)
def test_each_licence_carries_the_eu_licence_nal_uri_that_exists_for_it(licence_id, eu_uri):
    assert get_licence(licence_id).eu_uri == eu_uri


def test_licence_rdf_uri_prefers_the_eu_vocabulary_then_the_canonical_url():
    assert licence_rdf_uri(get_licence("etalab-2.0")) == EU_LICENCE + "ETALAB_2_0"
    # No EU NAL concept for CeCILL-B: its canonical URL stands in; nothing at all for the Métropole's own.
    assert licence_rdf_uri(get_licence("CECILL-B")) == "https://cecill.info/licences/Licence_CeCILL-B_V1-fr.html"
    assert licence_rdf_uri(get_licence("grandlyon-engagee")) == ""
    eu_uris = [lic.eu_uri for lic in all_licences() if lic.eu_uri]
    assert len(set(eu_uris)) == len(eu_uris), "two licences share an EU URI"


DATAGOUV_LICENCES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "datagouv-licences.json")


def test_udata_title_is_the_title_data_gouv_fr_gives_that_udata_id():
    """data.gouv.fr's /api/1/datasets/licenses/ (copy in tests/data): the udata_title of each licence
    is exactly the title there of its udata_id, and empty when the licence has no udata id."""
    with open(DATAGOUV_LICENCES, encoding="utf-8") as f:
        datagouv = {entry["id"]: entry["title"] for entry in json.load(f)}
    wrong = [
        (lic.id, lic.udata_id, lic.udata_title, datagouv.get(lic.udata_id, ""))
        for lic in all_licences()
        if lic.udata_title != (datagouv.get(lic.udata_id, "") if lic.udata_id else "")
    ]
    assert wrong == []
    # Every licence data.gouv.fr offers has its registry entry (and so its title).
    assert set(datagouv) <= {lic.udata_id for lic in all_licences()}
    assert get_licence("etalab-2.0").udata_title == "Licence Ouverte / Open Licence version 2.0"
    assert get_licence("CC0-1.0").udata_title == "Creative Commons CCZero"


def test_ckan_json_marks_open_licences_as_approved_and_carries_our_keys():
    entries = {e["id"]: e for e in json.loads(ckan_licences_json())}
    assert entries["etalab-2.0"]["od_conformance"] == "approved"
    assert entries["etalab-2.0"]["eu_licence_uri"] == EU_LICENCE + "ETALAB_2_0"
    assert entries["ODbL-1.0"]["udata_title"] == "Open Data Commons Open Database License (ODbL)"
    assert entries["MIT"]["udata_title"] == ""
    assert entries["MIT"]["osd_conformance"] == "approved"
    assert entries["grandlyon-engagee"]["od_conformance"] != "approved"
    assert entries["grandlyon-engagee"]["osd_conformance"] != "approved"


def test_ckan_serves_the_registry_as_its_licence_list():
    register = model.Package.get_license_register()
    assert set(register.keys()) == {licence.id for licence in all_licences()}
    assert register["etalab-2.0"].isopen()
    assert not register["grandlyon-associee"].isopen()
    # CKAN keeps our extra keys on its License objects: templates and the DCAT profile can read them.
    assert register["etalab-2.0"].udata_title == "Licence Ouverte / Open Licence version 2.0"
