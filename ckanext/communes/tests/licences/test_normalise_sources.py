"""normalize_licence's inputs beyond the string (issue #22): the source type's convention, operator aliases
(read on every call, ahead of the cached string path), and the registry titles only a convention may use."""

from __future__ import annotations

import pytest

from ckanext.communes.licences import normalise
from ckanext.communes.licences.normalise import CONVENTIONS, normalize_licence


def test_a_convention_settles_what_the_string_alone_does_not():
    assert normalize_licence("Licence Ouverte (Etalab)").licence is None
    match = normalize_licence("Licence Ouverte (Etalab)", "ods")
    assert (match.licence.id, match.matched_by) == ("fr-lo", "convention")
    # Another source type's convention says nothing about Opendatasoft's label.
    assert normalize_licence("Licence Ouverte (Etalab)", "udata").licence is None


@pytest.mark.parametrize("convention", [None, "", "sparql", "ODS"])
def test_no_or_an_unknown_source_type_is_the_strictest_reading(convention):
    assert normalize_licence("Licence Ouverte (Etalab)", convention).licence is None
    assert normalize_licence("Licence Ouverte v2.0 (Etalab)", convention).licence.id == "etalab-2.0"


def test_every_source_type_has_a_convention_file_naming_registry_ids():
    tables = normalise._conventions()
    assert set(tables) == set(CONVENTIONS) == {"ods", "udata", "ckan", "dcat", "csw"}
    assert tables["ckan"]["cc-nc"] == ""  # a value the convention says designates no single licence
    assert normalize_licence("cc-nc", "ckan").licence is None


def test_registry_titles_left_to_conventions_are_exactly_the_version_less_ones():
    """A registry title that reads as its family without the version it needs is not used without a
    convention; none reads as ANOTHER licence (that would be a wrong alias in licences.csv)."""
    assert sorted(normalise.dropped_titles()) == [
        ("CC-BY-4.0", "Creative Commons Attribution", None),
        ("CC-BY-SA-4.0", "Creative Commons Attribution Share-Alike", None),
        ("fr-lo", "Licence Ouverte / Open Licence", None),
    ]


def test_an_operator_alias_wins_and_applies_at_once_even_after_the_string_was_cached(monkeypatch):
    value = "Licence de la Ville de Bron v3"
    assert normalize_licence(value).licence is None  # now in the string path's cache
    aliases = {"licence de la ville de bron v3": "etalab-2.0"}
    monkeypatch.setattr(normalise, "operator_aliases", lambda: aliases)
    match = normalize_licence(f"  {value.upper()} ")
    assert (match.licence.id, match.matched_by) == ("etalab-2.0", "operator_alias")
    # An exact operator alias wins over a convention and over reading the name.
    aliases["licence ouverte (etalab)"] = "etalab-2.0"
    assert normalize_licence("Licence Ouverte (Etalab)", "ods").licence.id == "etalab-2.0"
    # Removed: the inference applies again at once.
    aliases.clear()
    assert normalize_licence(value).licence is None
    assert normalize_licence("Licence Ouverte (Etalab)", "ods").licence.id == "fr-lo"


def test_an_operator_alias_to_an_id_outside_the_registry_is_ignored(monkeypatch):
    monkeypatch.setattr(normalise, "operator_aliases", lambda: {"odbl": "ODbL-9.9", "ma licence": "nope"})
    assert normalize_licence("ma licence").licence is None
    match = normalize_licence("ODbL")
    assert (match.licence.id, match.matched_by) == ("ODbL-1.0", "alternate_title")


def test_the_string_path_is_cached():
    normalise._match.cache_clear()
    for _ in range(3):
        normalize_licence("Licence ouverte d'Etalab v2.0", "csw")
    info = normalise._match.cache_info()
    assert (info.misses, info.hits) == (1, 2)
