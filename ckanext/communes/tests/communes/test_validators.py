"""The organisation schema refuses bad input with a field-level French error (HTTP 409) and saves nothing.

All tests share one seeded database (`world`): each works on its own organisation or compares before/after."""

from __future__ import annotations

import pytest
from ckan.tests import helpers

from ckanext.communes.tests.communes.conftest import api_post

BAD_INPUTS = [
    ("insee_code", "6902", "Un code INSEE comporte 5 caractères"),
    ("insee_code", "75056", "n'est pas celui d'une commune de la Métropole de Lyon"),
    ("insee_code", "69381x", "Un code INSEE comporte 5 caractères"),
    ("siren", "216900291", "clé de contrôle erronée"),
    ("siren", "21690029", "Un numéro SIREN comporte 9 chiffres"),
    ("population", "0", "nombre entier strictement positif"),
    ("population", "-42", "nombre entier strictement positif"),
    ("population", "12.5", "nombre entier strictement positif"),
    ("population", "beaucoup", "nombre entier strictement positif"),
    ("population_year", "22", "année sur 4 chiffres"),
    ("agents_fte", "-1", "positif ou nul"),
    ("partner_status", "phase3", "Statut de partenaire inconnu phase3"),
    ("kind", "departement", "Type inconnu"),
    ("referent_email", "pas-un-courriel", "adresse électronique valide"),
    ("referent_email", "a@b", "adresse électronique valide"),
    ("website", "www.bron.fr", "adresse web commençant par http"),
    ("convention_signed", "12/03/2019", "format AAAA-MM-JJ"),
]


@pytest.mark.parametrize(("field", "value", "french"), BAD_INPUTS)
def test_bad_value_is_refused_with_a_french_field_error_and_nothing_saved(app, world, field, value, french):
    people = world
    before = helpers.call_action("organization_show", id="bron", include_users=False)
    response = api_post(app, "organization_patch", {"id": "bron", field: value}, people.token("sysadmin"), status=409)
    error = response.json["error"]
    assert error["__type"] == "Validation Error"
    assert french in " ".join(error[field]), error
    after = helpers.call_action("organization_show", id="bron", include_users=False)
    assert after == before


def test_convention_ending_before_its_signature_is_refused_on_the_end_date(app, world):
    people = world
    response = api_post(app, "organization_patch", {
        "id": "bron", "convention_signed": "2024-06-01", "convention_end": "2024-05-31",
    }, people.token("operator"), status=409)
    assert "ne peut pas prendre fin avant sa signature (2024-06-01)" in response.json["error"]["convention_end"][0]
    assert not helpers.call_action("organization_show", id="bron").get("convention_signed")


def test_convention_end_defaults_to_one_year_after_signature(app, world):
    people = world
    api_post(app, "organization_patch", {"id": "limonest", "convention_signed": "2019-06-15"},
             people.token("operator"), status=200)
    limonest = helpers.call_action("organization_show", id="limonest")
    assert (limonest["convention_signed"], limonest["convention_end"]) == ("2019-06-15", "2020-06-15")


def test_explicit_convention_end_is_kept(app, world):
    people = world
    api_post(app, "organization_patch", {"id": "albigny-sur-saone", "convention_signed": "2019-06-15",
                                         "convention_end": "2021-12-31"}, people.token("operator"), status=200)
    assert helpers.call_action("organization_show", id="albigny-sur-saone")["convention_end"] == "2021-12-31"


def test_former_insee_code_is_stored_as_the_current_code(app, world):
    people = world
    api_post(app, "organization_patch", {"id": "oullins-pierre-benite", "insee_code": "69152"},
             people.token("sysadmin"), status=200)
    assert helpers.call_action("organization_show", id="oullins-pierre-benite")["insee_code"] == "69149"


def test_second_organisation_for_the_same_commune_is_refused_even_by_its_former_code(app, world):
    people = world
    response = api_post(app, "organization_create", {"name": "pierre-benite", "insee_code": "69152"},
                        people.token("sysadmin"), status=409)
    assert "La commune 69149 a déjà une organisation : oullins-pierre-benite" in response.json["error"]["insee_code"][0]
    assert "pierre-benite" not in helpers.call_action("organization_list")


def test_valid_values_are_normalised_and_saved(app, world):
    people = world
    api_post(app, "organization_patch", {
        "id": "bron", "siren": "216 900 290", "population": "42 850", "agents_fte": "612,5",
        "referent_email": "opendata@ville-bron.fr", "website": "https://www.ville-bron.fr",
    }, people.token("sysadmin"), status=200)
    bron = helpers.call_action("organization_show", id="bron")
    assert (bron["siren"], bron["population"], bron["agents_fte"]) == ("216900290", "42850", "612.5")
    assert bron["referent_email"] == "opendata@ville-bron.fr"


def test_organisations_of_other_helpers_need_no_commune_fields(app, world):
    people = world
    created = api_post(app, "organization_create", {"name": "association-x", "title": "Association X"},
                       people.token("sysadmin"), status=200).json["result"]
    assert "obligation" not in created
    assert created.get("kind") in (None, "")
