"""Every validator of the dataset schema, good and bad input, through package_create / package_update:
bad input is a field-level ValidationError and nothing is saved."""

from __future__ import annotations

from typing import Any

import ckan.logic as logic
import pytest
from ckan.tests import factories, helpers

from ckanext.communes.tests.shared import ANNUAL, CSV, ENG, ENVI, EU, FRA, PUBLIC, RESTRICTED, TRAN

SCDL_SUBVENTIONS = "https://schema.data.gouv.fr/scdl/subventions/"

pytestmark = pytest.mark.usefixtures("clean_db", "clean_index")


def _dataset(org: dict[str, Any], **fields: Any) -> dict[str, Any]:
    data = {
        "name": "arbres-remarquables",
        "title": "Arbres remarquables",
        "notes": "Les arbres remarquables de la commune.",
        "owner_org": org["id"],
        "theme": ["ENVI"],
        "resources": [{"url": "https://data.ville-bron.fr/arbres.csv"}],
    }
    data.update(fields)
    return data


def _create(user: dict[str, Any], org: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return helpers.call_action("package_create", context={"user": user["name"]}, **_dataset(org, **fields))


def _rejected(user: dict[str, Any], org: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """Create a dataset that must be refused; returns the error dict and checks nothing was saved."""
    with pytest.raises(logic.ValidationError) as raised:
        _create(user, org, **fields)
    with pytest.raises(logic.NotFound):
        helpers.call_action("package_show", id="arbres-remarquables")
    return raised.value.error_dict


# --- theme -------------------------------------------------------------------------------------------

def test_theme_given_as_code_uri_or_label_is_stored_as_uris(sysadmin, bron):
    dataset = _create(sysadmin, bron, theme=["ENVI", TRAN, "Économie et finances"])
    assert dataset["theme"] == [ENVI, TRAN, f"{EU}/data-theme/ECON"]


def test_unknown_theme_is_a_field_error(sysadmin, bron):
    errors = _rejected(sysadmin, bron, theme=["ENVI", "http://example.org/theme/ARBRES"])
    assert "theme" in errors
    assert "http://example.org/theme/ARBRES" in errors["theme"][0]


def test_a_dataset_without_theme_is_refused(sysadmin, bron):
    errors = _rejected(sysadmin, bron, theme=[])
    assert "theme" in errors


def test_a_single_theme_string_is_accepted(sysadmin, bron):
    assert _create(sysadmin, bron, theme="TRAN")["theme"] == [TRAN]


# --- frequency ---------------------------------------------------------------------------------------

def test_frequency_code_is_stored_as_eu_uri(sysadmin, bron):
    assert _create(sysadmin, bron, frequency="annual")["frequency"] == ANNUAL


def test_unknown_frequency_is_a_field_error(sysadmin, bron):
    errors = _rejected(sysadmin, bron, frequency="http://publications.europa.eu/resource/authority/frequency/SOMETIMES")
    assert list(errors) == ["frequency"]


def test_frequency_is_optional(sysadmin, bron):
    assert "frequency" not in _create(sysadmin, bron)


# --- access rights and language (defaults) ------------------------------------------------------------

def test_access_rights_default_to_public(sysadmin, bron):
    assert _create(sysadmin, bron)["access_rights"] == PUBLIC


def test_access_rights_accept_another_eu_term(sysadmin, bron):
    assert _create(sysadmin, bron, access_rights="RESTRICTED")["access_rights"] == RESTRICTED


def test_unknown_access_right_is_a_field_error(sysadmin, bron):
    errors = _rejected(sysadmin, bron, access_rights="OPEN_BAR")
    assert list(errors) == ["access_rights"]


def test_language_defaults_to_french(sysadmin, bron):
    assert _create(sysadmin, bron)["language"] == [FRA]


def test_language_aliases_are_stored_as_eu_uris(sysadmin, bron):
    assert _create(sysadmin, bron, language=["fr", "en"])["language"] == [FRA, ENG]


def test_unknown_language_is_a_field_error(sysadmin, bron):
    errors = _rejected(sysadmin, bron, language=["klingon"])
    assert list(errors) == ["language"]


# --- conforms_to -------------------------------------------------------------------------------------

def test_conforms_to_takes_scdl_schemas_and_free_uris(sysadmin, bron):
    dataset = _create(sysadmin, bron, conforms_to=["scdl/subventions", "https://example.org/schema.json"])
    assert dataset["conforms_to"] == [SCDL_SUBVENTIONS, "https://example.org/schema.json"]


def test_conforms_to_refuses_text_that_is_neither_a_schema_nor_a_uri(sysadmin, bron):
    errors = _rejected(sysadmin, bron, conforms_to=["le schéma de la mairie"])
    assert list(errors) == ["conforms_to"]


# --- dates -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["2024", "2024-02", "2024-02-29", "2024-02-29T10:30:00"])
def test_iso_dates_of_any_precision_are_accepted(sysadmin, bron, value):
    assert _create(sysadmin, bron, issued=value)["issued"] == value


@pytest.mark.parametrize("value", ["2024-02-30", "2023-02-29", "2024-13", "30/01/2024", "hier"])
def test_malformed_or_impossible_dates_are_field_errors(sysadmin, bron, value):
    errors = _rejected(sysadmin, bron, modified=value)
    assert list(errors) == ["modified"]
    assert value in errors["modified"][0]


def test_impossible_temporal_start_is_an_error_on_the_period(sysadmin, bron):
    errors = _rejected(sysadmin, bron, temporal_coverage=[{"start": "2024-02-30", "end": "2024-12-31"}])
    assert "start" in errors["temporal_coverage"][0]


def test_temporal_coverage_is_stored_with_start_and_end(sysadmin, bron):
    dataset = _create(sysadmin, bron, temporal_coverage=[{"start": "2020-01-01", "end": "2020-12-31"}])
    assert dataset["temporal_coverage"] == [{"start": "2020-01-01", "end": "2020-12-31"}]


def test_temporal_end_before_start_is_refused(sysadmin, bron):
    errors = _rejected(sysadmin, bron, temporal_coverage=[{"start": "2024-03-01", "end": "2024-02-28"}])
    assert "end" in errors["temporal_coverage"][0]


def test_temporal_period_of_partial_dates_within_one_year_is_accepted(sysadmin, bron):
    # "2024" ends on 31 December 2024, so a period starting in June 2024 and ending "2024" is valid.
    dataset = _create(sysadmin, bron, temporal_coverage=[{"start": "2024-06", "end": "2024"}])
    assert dataset["temporal_coverage"][0]["end"] == "2024"


# --- resources ---------------------------------------------------------------------------------------

def test_resource_without_url_is_refused(sysadmin, bron):
    errors = _rejected(sysadmin, bron, resources=[{"name": "Arbres", "format": "CSV"}])
    assert "url" in errors["resources"][0]


def test_resource_format_is_guessed_from_the_url(sysadmin, bron):
    dataset = _create(sysadmin, bron, resources=[{"url": "https://data.ville-bron.fr/arbres.geojson"}])
    assert dataset["resources"][0]["format"] == "GeoJSON"


def test_resource_format_is_guessed_from_the_media_type(sysadmin, bron):
    dataset = _create(sysadmin, bron, resources=[{"url": "https://data.ville-bron.fr/api/arbres",
                                                  "mimetype": "text/csv; charset=utf-8"}])
    assert dataset["resources"][0]["format"] == "CSV"


@pytest.mark.parametrize("typed", ["csv", "CSV", "text/csv", CSV])
def test_resource_format_typed_by_hand_is_stored_as_the_short_code(sysadmin, bron, typed):
    dataset = _create(sysadmin, bron, resources=[{"url": "https://data.ville-bron.fr/export", "format": typed}])
    assert dataset["resources"][0]["format"] == "CSV"


def test_unknown_resource_format_is_a_field_error(sysadmin, bron):
    errors = _rejected(sysadmin, bron, resources=[{"url": "https://x.fr/a", "format": "Tableur maison"}])
    assert "format" in errors["resources"][0]


def test_resource_byte_size_must_be_a_natural_number(sysadmin, bron):
    assert _create(sysadmin, bron, resources=[{"url": "https://x.fr/a.csv", "size": "2048"}])["resources"][0][
        "size"] == 2048
    helpers.call_action("dataset_purge", context={"user": sysadmin["name"]}, id="arbres-remarquables")
    errors = _rejected(sysadmin, bron, resources=[{"url": "https://x.fr/a.csv", "size": "-3"}])
    assert "size" in errors["resources"][0]


def test_resource_distribution_fields_are_stored(sysadmin, bron):
    resource = _create(sysadmin, bron, resources=[{
        "url": "https://x.fr/a.csv",
        "availability": "http://publications.europa.eu/resource/authority/planned-availability/STABLE",
        "status": "http://purl.org/adms/status/Completed",
        "conforms_to": ["scdl/subventions"],
    }])["resources"][0]
    assert resource["availability"].endswith("/STABLE")
    assert resource["status"] == "http://purl.org/adms/status/Completed"
    assert resource["conforms_to"] == [SCDL_SUBVENTIONS]
    # Empty licence: the distribution inherits the dataset's licence in the DCAT export.
    assert not resource.get("license")


# --- owner-derived fields ----------------------------------------------------------------------------

def test_publisher_is_derived_from_the_owner_commune(sysadmin, bron):
    (publisher,) = _create(sysadmin, bron)["publisher"]
    assert publisher["name"] == "Commune de Bron"
    assert publisher["identifier"] == "216900290"
    assert publisher["uri"].endswith("/communes/69029")
    assert publisher["type"] == "http://purl.org/adms/publishertype/LocalAuthority"


def test_publisher_typed_for_another_organisation_is_refused(sysadmin, bron):
    errors = _rejected(sysadmin, bron, publisher=[{"name": "Commune de Vaulx-en-Velin", "identifier": "216902569"}])
    assert list(errors) == ["publisher"]
    assert "owner organisation" in errors["publisher"][0] or "organisation propriétaire" in errors["publisher"][0]


def test_publisher_with_another_siren_is_refused_even_under_the_owner_name(sysadmin, bron):
    errors = _rejected(sysadmin, bron, publisher=[{"name": "Bron", "identifier": "200046977"}])
    assert list(errors) == ["publisher"]


def test_publisher_with_the_owner_siren_is_accepted_and_normalised(sysadmin, bron):
    (publisher,) = _create(sysadmin, bron, publisher=[{"name": "Ville de Bron", "identifier": "216 900 290",
                                                        "uri": "https://www.data.gouv.fr/organizations/bron"}])["publisher"]
    assert publisher["name"] == "Commune de Bron" and publisher["uri"].endswith("/communes/69029")


def test_harvested_dataset_gets_the_derived_publisher_whatever_the_source_wrote(bron):
    site_user = helpers.call_action("get_site_user", context={"ignore_auth": True})
    dataset = helpers.call_action(
        "package_create", context={"user": site_user["name"], "ignore_auth": True},
        **_dataset(bron, publisher=[{"name": "Mairie de Bron (source)", "uri": "https://source.example/org/1"}]),
    )
    assert dataset["publisher"][0]["identifier"] == "216900290"


def test_publisher_naming_the_owner_is_replaced_by_the_derived_one(sysadmin, bron):
    (publisher,) = _create(sysadmin, bron, publisher=[{"name": "Bron"}])["publisher"]
    assert publisher["identifier"] == "216900290"


def test_package_update_with_the_shown_dataset_keeps_the_derived_publisher(sysadmin, bron):
    dataset = _create(sysadmin, bron)
    dataset["title"] = "Arbres remarquables de Bron"
    updated = helpers.call_action("package_update", context={"user": sysadmin["name"]}, **dataset)
    assert updated["publisher"] == dataset["publisher"]


def test_moving_a_dataset_to_another_commune_with_its_old_publisher_is_refused(sysadmin, bron):
    dataset = _create(sysadmin, bron)
    vaulx = factories.Organization(name="vaulx-en-velin", title="Vaulx-en-Velin", insee_code="69256",
                                   siren="216902569", kind="commune")
    dataset["owner_org"] = vaulx["id"]
    with pytest.raises(logic.ValidationError) as raised:
        helpers.call_action("package_update", context={"user": sysadmin["name"]}, **dataset)
    assert "publisher" in raised.value.error_dict
    assert helpers.call_action("package_show", id=dataset["id"])["owner_org"] == bron["id"]


def test_spatial_coverage_defaults_to_the_owner_commune(sysadmin, bron):
    assert _create(sysadmin, bron)["spatial_coverage"] == [
        {"uri": "http://id.insee.fr/geo/commune/69029", "text": "Bron"}
    ]


def test_spatial_coverage_given_by_the_caller_is_kept(sysadmin, bron):
    lyon = {"uri": "http://id.insee.fr/geo/commune/69123", "text": "Lyon"}
    assert _create(sysadmin, bron, spatial_coverage=[lyon])["spatial_coverage"] == [lyon]


def test_contact_point_defaults_to_the_commune_referent(sysadmin, bron):
    assert _create(sysadmin, bron)["contact"] == [{"name": "Camille Martin", "email": "opendata@ville-bron.fr"}]


def test_blank_form_panels_are_replaced_by_the_defaults(sysadmin, bron):
    dataset = _create(sysadmin, bron, contact=[{"name": "", "email": ""}],
                      spatial_coverage=[{"uri": "", "text": ""}])
    assert dataset["contact"][0]["email"] == "opendata@ville-bron.fr"
    assert dataset["spatial_coverage"][0]["uri"].endswith("/69029")


def test_organisation_without_profile_gets_no_commune_defaults(sysadmin):
    plain = factories.Organization(name="association-des-arbres", title="Association des arbres")
    dataset = _create(sysadmin, plain)
    assert "spatial_coverage" not in dataset and "contact" not in dataset
    assert dataset["publisher"][0]["name"] == "Association des arbres"


# --- through the HTTP API: 409 with French field errors -------------------------------------------------

def test_api_answers_409_with_french_field_errors_and_saves_nothing(app, bron):
    user = factories.SysadminWithToken()
    response = app.post(
        "/api/3/action/package_create",
        json=_dataset(bron, theme=["XYZ"], frequency="parfois", modified="2024-02-30",
                      resources=[{"name": "sans URL"}]),
        headers={"Authorization": user["token"]},
        status=409,
    )
    error = response.json["error"]
    assert error["theme"] == ["Thème inconnu : XYZ. Choisissez un thème du vocabulaire européen des thèmes de données."]
    assert error["frequency"][0].startswith("Fréquence de mise à jour inconnue")
    assert error["modified"][0].startswith("Date invalide : 2024-02-30")
    assert error["resources"][0]["url"] == ["Une ressource doit avoir une URL d'accès ou de téléchargement."]
    assert helpers.call_action("package_search", q="*:*")["count"] == 0


@pytest.mark.parametrize("text, expected", [
    ("2024-01-02T10:00:00Z", "2024-01-02T10:00:00+00:00"),
    ("2024-01-02T10:00:00+0100", "2024-01-02T10:00:00+01:00"),
    ("2024-01-02T10:00:00+01:00", "2024-01-02T10:00:00+01:00"),
    ("2024-01-02 10:00", "2024-01-02T10:00:00"),
    ("2024-01-02T10:00:00.250-0330", "2024-01-02T10:00:00.250000-03:30"),
])
def test_date_times_as_sources_write_them_parse_on_every_supported_python(text, expected):
    """Python 3.10's fromisoformat refuses "Z" and "+0100"; harvested dates carry both."""
    from ckanext.communes.schema.validators import parse_iso_datetime

    assert parse_iso_datetime(text).isoformat() == expected


@pytest.mark.parametrize("text", ["2024-13-02T10:00:00Z", "2024-02-30T10:00:00Z", "hier", ""])
def test_impossible_date_times_do_not_parse(text):
    from ckanext.communes.schema.validators import parse_iso_datetime

    with pytest.raises(ValueError):
        parse_iso_datetime(text)
