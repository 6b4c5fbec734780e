"""normalize_licence against every alias of the registry (parametrised from the registry
itself) and the tricky cases: URL variants, case, ambiguous and unknown values."""

from __future__ import annotations

import pytest

from ckanext.communes.licences.normalise import MATCH_ORDER, normalize_licence
from ckanext.communes.licences.registry import all_licences, get_licence


def _aliases() -> list[tuple[str, str, str]]:
    """(licence id, kind, alias) for every way the registry names each licence."""
    rows = []
    for lic in all_licences():
        named = [("id", lic.id), ("spdx", lic.spdx), ("udata_id", lic.udata_id), ("url", lic.url), ("title", lic.title)]
        named += [("alternate_url", u) for u in lic.alternate_urls]
        named += [("alternate_title", t) for t in lic.alternate_titles]
        rows += [(lic.id, kind, alias) for kind, alias in named if alias]
    return rows


LICENCE_IDS = [licence.id for licence in all_licences()]


def _url_variants(url: str) -> list[str]:
    bare = url.split("://", 1)[1]
    host_path = bare[4:] if bare.startswith("www.") else bare
    stripped = host_path.rstrip("/")
    return [
        "http://" + stripped, "https://" + stripped, "https://www." + stripped, stripped, "www." + stripped,
        "https://" + stripped + "/", "HTTPS://" + stripped.upper(), "https://" + stripped + "#section",
    ]


def _variants(kind: str, alias: str) -> list[str]:
    """The alias as written, plus the spellings sources use for the same thing."""
    if kind in ("url", "alternate_url"):
        return [alias, *_url_variants(alias)]
    return [alias, alias.upper(), alias.lower(), f"  {alias}  "]


# One test per registry licence (a test per alias and spelling would be ~2,000 tests); the
# failure message lists every alias or spelling that does not come back to the licence.
@pytest.mark.parametrize("licence_id", LICENCE_IDS)
def test_every_alias_of_the_registry_in_every_spelling_normalises_to_its_own_licence(licence_id):
    aliases = [(kind, alias) for lid, kind, alias in _aliases() if lid == licence_id]
    assert aliases
    wrong = []
    for kind, alias in aliases:
        for variant in _variants(kind, alias):
            match = normalize_licence(variant)
            found = match.licence.id if match.licence else None
            # Matched by this kind, or by a kind of higher priority naming the same licence.
            if (found != licence_id or match.original != variant
                    or MATCH_ORDER.index(match.matched_by) > MATCH_ORDER.index(kind)):
                wrong.append((kind, variant, found, match.matched_by))
    assert wrong == [], wrong


@pytest.mark.parametrize(
    ("value", "licence_id", "matched_by"),
    [
        # data.gouv.fr (udata) ids
        ("lov2", "etalab-2.0", "udata_id"),
        ("fr-lo", "fr-lo", "id"),
        ("odc-odbl", "ODbL-1.0", "udata_id"),
        ("notspecified", "notspecified", "id"),
        # CKAN's default licence ids
        ("cc-by", "CC-BY-4.0", "udata_id"),
        ("cc-by-sa", "CC-BY-SA-4.0", "udata_id"),
        ("cc-zero", "CC0-1.0", "udata_id"),
        ("odc-pddl", "PDDL-1.0", "udata_id"),
        ("other-open", "other-open", "id"),
        ("other-closed", "other-closed", "id"),
        # SPDX ids and SPDX pages
        ("Etalab-2.0", "etalab-2.0", "id"),
        ("ODbL-1.0", "ODbL-1.0", "id"),
        ("https://spdx.org/licenses/MIT.html", "MIT", "spdx"),
        ("spdx.org/licenses/EUPL-1.2.json", "EUPL-1.2", "spdx"),
        # Opendatasoft labels
        ("Licence Ouverte v2.0 (Etalab)", "etalab-2.0", "alternate_title"),
        ("Open Database License (ODbL)", "ODbL-1.0", "alternate_title"),
        ("CC BY 4.0", "CC-BY-4.0", "alternate_title"),
        # accents and typography do not matter, words do
        ("LICENCE ASSOCIEE", "grandlyon-associee", "alternate_title"),
        ("Licence engagée", "grandlyon-engagee", "alternate_title"),
        ("Creative Commons Attribution - Partage dans les mêmes conditions 4.0 International (CC BY-SA 4.0)",
         "CC-BY-SA-4.0", "title"),
        # URLs as sources write them
        ("http://www.etalab.gouv.fr/licence-ouverte-open-licence", "etalab-2.0", "url"),
        ("etalab.gouv.fr/licence-ouverte-open-licence/", "etalab-2.0", "url"),
        ("https://opendatacommons.org/licenses/odbl/1-0", "ODbL-1.0", "url"),
        ("https://creativecommons.org/licenses/by/4.0/deed.fr", "CC-BY-4.0", "url"),
        ("https://creativecommons.org/licenses/by/4.0/legalcode.fr", "CC-BY-4.0", "url"),
    ],
)
def test_values_sources_write_are_recognised(value, licence_id, matched_by):
    match = normalize_licence(value)
    assert match.licence == get_licence(licence_id)
    assert match.matched_by == matched_by
    assert match.original == value


@pytest.mark.parametrize(
    "value",
    [
        "Licence Ouverte (Etalab)",  # Opendatasoft, no version: 1.0 or 2.0? never guessed
        "licence ouverte (etalab)",
        "Licence Etalab",  # udata #2618 guessed it wrong
        "Licence Ouverte",
        "Open Licence",
        "Etalab",
        "licence-ouverte",
        "CC BY 3.0",  # another version of a registry licence is another licence
        "CC BY-NC 4.0",
        "ODbL 2.0",
        "Licence Ouvert v2.0",  # one letter off: no edit distance
        "https://www.etalab.gouv.fr/",
        "https://opendatacommons.org/licenses/",
        "https://example.org/licence",
        "gfdl",
        "uk-ogl",
        "Licence propriétaire",
    ],
)
def test_ambiguous_or_unknown_values_match_nothing_and_keep_the_original(value):
    match = normalize_licence(value)
    assert match.licence is None
    assert match.matched_by is None
    assert match.original == value


@pytest.mark.parametrize("value", [None, "", "   "])
def test_empty_values_match_nothing(value):
    match = normalize_licence(value)
    assert match.licence is None and match.matched_by is None
    assert match.original == (value or "")


def test_no_alias_names_two_licences():
    """A key shared by two licences would make a value ambiguous: the registry must not have one."""
    from ckanext.communes.licences.normalise import _indices

    shared = {(kind, key): ids for kind, index in _indices().items() for key, ids in index.items() if len(ids) > 1}
    assert shared == {}
