"""The communes registry: the bundled data file, its history, and code resolution."""

from __future__ import annotations

import datetime

import pytest

from ckanext.communes.communes import registry


def test_bundled_file_lists_the_58_communes_with_valid_sirens():
    communes = registry.all_communes()
    assert len(communes) == 58
    assert len({c.insee for c in communes}) == len({c.siren for c in communes}) == 58
    assert all(registry.siren_checksum_ok(c.siren) for c in communes)
    assert registry.siren_checksum_ok(registry.METROPOLE_SIREN)
    assert {c.population_year for c in communes} == {2022}


def test_partner_phases_of_deliberation_2019_3364():
    phases = {c.name: c.phase_2019 for c in registry.all_communes() if c.phase_2019}
    assert sorted(n for n, p in phases.items() if p == "phase1") == sorted([
        "Bron", "Champagne-au-Mont-d'Or", "Lyon", "Mions", "Rillieux-la-Pape", "Saint-Didier-au-Mont-d'Or",
        "Vaulx-en-Velin"])
    assert sorted(n for n, p in phases.items() if p == "phase2") == sorted([
        "Saint-Cyr-au-Mont-d'Or", "Sainte-Foy-lès-Lyon", "Villeurbanne", "Limonest", "Charbonnières-les-Bains"])


def test_pierre_benite_code_and_oullins_resolve_to_oullins_pierre_benite():
    merged = registry.get_commune("69152")
    assert merged is not None and (merged.insee, merged.name, merged.siren) == (
        "69149", "Oullins-Pierre-Bénite", "200102747")
    assert registry.get_commune("69149") == merged
    assert registry.get_commune_by_name("Oullins") == merged
    assert registry.get_commune_by_name("pierre benite") == merged
    assert registry.get_commune_by_name("Oullins", on=datetime.date(2024, 6, 1)) is None
    assert {(f.insee, f.name, f.until) for f in merged.former} == {
        ("69149", "Oullins", datetime.date(2024, 1, 1)), ("69152", "Pierre-Bénite", datetime.date(2024, 1, 1))}
    assert registry.is_metropole_insee("69152")


def test_grigny_renamed_grigny_sur_rhone_keeps_its_code():
    grigny = registry.get_commune("69096")
    assert grigny is not None and grigny.name == "Grigny-sur-Rhône" and grigny.slug == "grigny-sur-rhone"
    assert registry.get_commune_by_name("Grigny") == grigny
    assert grigny.former == (registry.FormerIdentity("69096", "Grigny", datetime.date(2025, 1, 1)),)


@pytest.mark.parametrize("code", [f"6938{i}" for i in range(1, 10)])
def test_lyon_arrondissements_resolve_to_lyon(code):
    assert registry.get_commune(code).insee == "69123"


@pytest.mark.parametrize("code", ["75056", "69001", "01004", "", "abc", "6902"])
def test_codes_outside_the_metropole_resolve_to_nothing(code):
    assert registry.get_commune(code) is None
    assert not registry.is_metropole_insee(code)


def test_siren_resolves_but_is_not_an_insee_code():
    assert registry.get_commune("216900290").name == "Bron"
    assert not registry.is_metropole_insee("216900290")


def test_slugs_are_the_organisation_names():
    slugs = {c.slug for c in registry.all_communes()}
    assert {"bron", "lyon", "oullins-pierre-benite", "ecully", "champagne-au-mont-d-or", "la-mulatiere"} <= slugs
    assert len(slugs) == 58


HEADER = ",".join(registry.COLUMNS)


@pytest.mark.parametrize(("rows", "line", "message"), [
    (["69029,Bron,216900290,69500,42850,2022,phase1,,", "69029,Bron bis,216900332,69500,1,2022,,,"], 3,
     "INSEE code 69029 already used on line 2"),
    (["69029,Bron,216900290,69500,42850,2022,phase1"], 2, "expected 9 columns"),
    (["69029,Bron,216900290,6950,42850,2022,,,"], 2, "invalid postcodes"),
    (["69029,Bron,216900290,69500,beaucoup,2022,,,"], 2, "must be integers"),
    (["69029,Bron,216900290,69500,42850,2022,,,69152:Pierre-Bénite"], 2, "is not CODE:NAME:YYYY-MM-DD"),
    ([], 1, "no commune"),
])
def test_malformed_files_are_reported_with_the_line_number(tmp_path, rows, line, message):
    path = tmp_path / "communes.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    with pytest.raises(registry.DataFileError) as error:
        registry.load_communes(str(path))
    assert error.value.line == line and message in error.value.message


def test_file_without_a_column_is_refused_at_line_1(tmp_path):
    path = tmp_path / "communes.csv"
    path.write_text("insee,name\n69029,Bron\n", encoding="utf-8")
    with pytest.raises(registry.DataFileError, match="line 1: missing columns"):
        registry.load_communes(str(path))


def test_every_commune_has_an_outline_whose_bounds_are_its_box_and_arrondissements_have_none():
    """The two data files agree: the outline drawn on a commune's page fills the box place search uses."""
    import shapely.geometry

    communes = [g for g in registry.all_geometries() if g.kind == "commune"]
    assert len(communes) == 58
    for geometry in communes:
        outline = shapely.geometry.shape(registry.get_commune_outline(geometry.insee))
        assert outline.is_valid and outline.bounds == pytest.approx(geometry.bbox, abs=1e-5), geometry.name
    assert registry.get_commune_outline("69383") is None  # Lyon 3e: a box only
    assert registry.get_commune_outline("69152") == registry.get_commune_outline("69149")  # Pierre-Bénite, merged
    assert registry.get_commune_outline("75056") is None
