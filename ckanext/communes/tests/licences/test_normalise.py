"""normalize_licence against a fixed table of licence values as sources actually write them.

The expected registry id of each value is typed out here, not derived from the registry: a
test that iterated the registry's own aliases would pass whatever the registry said (an alias
moved to the wrong licence would "normalise to its own licence").
"""

from __future__ import annotations

import pytest

from ckanext.communes.licences.normalise import MATCH_ORDER, normalize_licence

EU = "http://publications.europa.eu/resource/authority/licence/"

# (value as a source writes it, registry id it designates, index that recognised it)
RECOGNISED = [
    # CKAN's default licence ids (a CKAN source's license_id)
    ("cc-by", "CC-BY-4.0", "udata_id"),
    ("cc-by-sa", "CC-BY-SA-4.0", "udata_id"),
    ("cc-zero", "CC0-1.0", "udata_id"),
    ("odc-odbl", "ODbL-1.0", "udata_id"),
    ("odc-by", "ODC-By-1.0", "udata_id"),
    ("odc-pddl", "PDDL-1.0", "udata_id"),
    ("other-open", "other-open", "id"),
    ("other-at", "other-at", "id"),
    ("other-nc", "other-nc", "id"),
    ("other-closed", "other-closed", "id"),
    ("notspecified", "notspecified", "id"),
    # data.gouv.fr (udata) licence ids
    ("lov2", "etalab-2.0", "udata_id"),
    ("fr-lo", "fr-lo", "id"),
    # data.gouv.fr titles (its API and exports write them)
    ("Licence Ouverte / Open Licence version 2.0", "etalab-2.0", "title"),
    ("Creative Commons CCZero", "CC0-1.0", "alternate_title"),
    ("Open Data Commons Open Database License (ODbL)", "ODbL-1.0", "alternate_title"),
    ("Open Data Commons Public Domain Dedication and Licence (PDDL)", "PDDL-1.0", "alternate_title"),
    ("License Not Specified", "notspecified", "alternate_title"),
    ("Other (Attribution)", "other-at", "alternate_title"),
    # SPDX ids, any case, and SPDX pages
    ("etalab-2.0", "etalab-2.0", "id"),
    ("Etalab-2.0", "etalab-2.0", "id"),
    ("ODbL-1.0", "ODbL-1.0", "id"),
    ("CC-BY-4.0", "CC-BY-4.0", "id"),
    ("CC0-1.0", "CC0-1.0", "id"),
    ("MIT", "MIT", "id"),
    ("Apache-2.0", "Apache-2.0", "id"),
    ("CECILL-B", "CECILL-B", "id"),
    ("AGPL-3.0-or-later", "AGPL-3.0-or-later", "id"),
    ("https://spdx.org/licenses/MIT.html", "MIT", "spdx"),
    ("spdx.org/licenses/EUPL-1.2.json", "EUPL-1.2", "spdx"),
    ("https://spdx.org/licenses/etalab-2.0.html", "etalab-2.0", "alternate_url"),
    # Opendatasoft licence labels
    ("Licence Ouverte v2.0 (Etalab)", "etalab-2.0", "alternate_title"),
    ("Licence Ouverte v1.0 (Etalab)", "fr-lo", "alternate_title"),
    ("Open Database License (ODbL)", "ODbL-1.0", "alternate_title"),
    ("Open Data Commons Attribution License (ODC-By)", "ODC-By-1.0", "alternate_title"),
    ("CC BY 4.0", "CC-BY-4.0", "alternate_title"),
    ("CC0 1.0 Universal (CC0 1.0) Public Domain Dedication", "CC0-1.0", "alternate_title"),
    # case, accents, spacing and typographic dashes do not matter; words do
    ("LICENCE ASSOCIEE", "grandlyon-associee", "alternate_title"),
    ("  Licence engagée  ", "grandlyon-engagee", "alternate_title"),
    ("licence ouverte / open licence VERSION 2.0", "etalab-2.0", "title"),
    ("Creative Commons Attribution - Partage dans les mêmes conditions 4.0 International (CC BY-SA 4.0)",
     "CC-BY-SA-4.0", "title"),
    ("Licence\u00a0Ouverte v2.0", "etalab-2.0", "alternate_title"),
    # URLs with or without scheme, www., trailing slash, fragment
    ("https://www.etalab.gouv.fr/licence-ouverte-open-licence", "etalab-2.0", "url"),
    ("http://www.etalab.gouv.fr/licence-ouverte-open-licence", "etalab-2.0", "url"),
    ("https://www.etalab.gouv.fr/licence-ouverte-open-licence/", "etalab-2.0", "url"),
    ("etalab.gouv.fr/licence-ouverte-open-licence", "etalab-2.0", "url"),
    ("www.etalab.gouv.fr/licence-ouverte-open-licence#preambule", "etalab-2.0", "url"),
    ("HTTPS://WWW.ETALAB.GOUV.FR/LICENCE-OUVERTE-OPEN-LICENCE", "etalab-2.0", "url"),
    ("https://www.etalab.gouv.fr/wp-content/uploads/2017/04/ETALAB-Licence-Ouverte-v2.0.pdf",
     "etalab-2.0", "alternate_url"),
    ("https://www.etalab.gouv.fr/wp-content/uploads/2014/05/Licence_Ouverte.pdf", "fr-lo", "url"),
    ("https://opendatacommons.org/licenses/odbl/1-0", "ODbL-1.0", "url"),
    ("http://opendatacommons.org/licenses/odbl/summary/", "ODbL-1.0", "alternate_url"),
    ("https://opendefinition.org/licenses/odc-odbl", "ODbL-1.0", "alternate_url"),
    ("http://www.opendefinition.org/licenses/cc-by", "CC-BY-4.0", "alternate_url"),
    ("https://creativecommons.org/licenses/by/4.0/deed.fr", "CC-BY-4.0", "url"),
    ("creativecommons.org/licenses/by-sa/4.0/legalcode.fr", "CC-BY-SA-4.0", "url"),
    ("https://creativecommons.org/publicdomain/zero/1.0/", "CC0-1.0", "url"),
    # EU licence NAL URIs (DCAT-AP dct:license), http or https, trailing slash
    (EU + "ETALAB_2_0", "etalab-2.0", "eu_uri"),
    (EU + "ODC_BL", "ODbL-1.0", "eu_uri"),
    (EU + "CC_BY_4_0", "CC-BY-4.0", "eu_uri"),
    ("https://publications.europa.eu/resource/authority/licence/CC_BY_4_0", "CC-BY-4.0", "eu_uri"),
    ("https://publications.europa.eu/resource/authority/licence/ODC_BL/", "ODbL-1.0", "eu_uri"),
    (EU + "CC0", "CC0-1.0", "eu_uri"),
    (EU + "MIT", "MIT", "eu_uri"),
    (EU + "CECILL_2_1", "CECILL-2.1", "eu_uri"),
    (EU + "EUPL_1_2", "EUPL-1.2", "eu_uri"),
]


@pytest.mark.parametrize(("value", "licence_id", "matched_by"), RECOGNISED)
def test_values_sources_write_are_recognised(value, licence_id, matched_by):
    match = normalize_licence(value)
    assert (match.licence.id if match.licence else None, match.matched_by) == (licence_id, matched_by)
    assert match.original == value


def test_the_table_exercises_every_match_kind():
    # A kind no row reaches is a kind nothing tests (e.g. a new index added to MATCH_ORDER).
    assert {kind for _, _, kind in RECOGNISED} == set(MATCH_ORDER)


@pytest.mark.parametrize(
    "value",
    [
        "Licence Ouverte (Etalab)",  # Opendatasoft, no version: 1.0 or 2.0? never guessed
        "licence ouverte (etalab)",
        "Licence Etalab",  # udata #2618 guessed it wrong
        "License Ouverte",  # a data.gouv.fr alternate title of lov2, version-less too
        "Licence Ouverte",
        "Open Licence",
        "Etalab",
        "licence-ouverte",
        "CC BY 2.0",  # another version of a registry licence is another licence
        "CC BY-NC 3.0",
        "CC BY",  # no version: CC BY 1.0 to 4.0 differ (issue #22)
        "CC-BY",  # a name, not CKAN's and udata's lower-case id "cc-by"
        "Creative Commons Attribution",  # CKAN's and udata's title of cc-by: their conventions settle it
        "Licence Ouverte / Open Licence",  # data.gouv.fr's title of fr-lo: the udata convention settles it
        "EUPL",  # 1.0, 1.1 and 1.2 exist
        "cc-nc",  # CKAN's Creative Commons Non-Commercial: not in the registry
        "ODbL 2.0",
        "GPL-3.0",  # SPDX "only": the registry has the "or later" licence
        "Licence Ouvert",  # one letter off in a family word is forgiven, but the version is still missing
        "Licence Ouverte v2.O",  # never a typo tolerance on a version
        "CC BY-SB 4.0",  # nor on the conditions
        EU + "CC_BY",  # deprecated, version-less NAL concept
        EU + "GPL_3_0",  # "GPL-3.0 only"
        EU + "ETALAB_2",  # mistyped code
        "https://www.etalab.gouv.fr/",
        "https://opendatacommons.org/licenses/",
        "https://example.org/licence",
        "http://[x/licence",  # malformed URL
        "gfdl",
        "uk-ogl",
        "Licence propriétaire",
        "n/a",
        "-",
    ],
)
def test_ambiguous_unknown_or_junk_values_match_nothing_and_keep_the_original(value):
    match = normalize_licence(value)
    assert (match.licence, match.matched_by) == (None, None)
    assert match.original == value


@pytest.mark.parametrize(("value", "original"), [(None, ""), ("", ""), ("   ", "   ")])
def test_empty_values_match_nothing(value, original):
    match = normalize_licence(value)
    assert (match.licence, match.matched_by, match.original) == (None, None, original)


def test_no_key_names_two_licences():
    """A key shared by two licences makes every value spelt that way ambiguous (it matches nothing):
    the registry must not have one."""
    from ckanext.communes.licences.normalise import _indices

    shared = {(kind, key): ids for kind, index in _indices().items() for key, ids in index.items() if len(ids) > 1}
    assert shared == {}
