"""The vocabulary loader: every vocabulary loads from the package, lookups are exact and
tolerant of case and URI spelling, and file types are guessed from URLs and media types, never
failing on a malformed URL. (That the URIs exist in the EU NALs: test_eu_nal.py.)"""

from __future__ import annotations

import pytest
from ckan.tests import factories

from ckanext.communes.tests.shared import BRON
from ckanext.communes.vocabularies import VOCABULARY_FILES, get_vocabulary, guess_file_type
from ckanext.communes.vocabularies import helpers as vocabulary_helpers

EU = "http://publications.europa.eu/resource/authority/"

EXPECTED_URI_PREFIX = {
    "data-theme": EU + "data-theme/",
    "frequency": EU + "frequency/",
    "file-type": EU + "file-type/",
    "access-right": EU + "access-right/",
    "language": EU + "language/",
    "scdl-schema": "https://schema.data.gouv.fr/",
    "hvd-category": "http://data.europa.eu/bna/",
}


@pytest.mark.parametrize("name", sorted(VOCABULARY_FILES))
def test_each_vocabulary_loads_terms_with_uri_code_and_both_labels(name):
    vocabulary = get_vocabulary(name)
    assert vocabulary.name == name
    assert vocabulary.terms
    for term in vocabulary.terms:
        assert term.uri.startswith(EXPECTED_URI_PREFIX[name]), term
        assert term.code and term.label_fr and term.label_en, term
    assert len({t.uri for t in vocabulary.terms}) == len(vocabulary.terms), "duplicate URI"


@pytest.mark.parametrize("name", sorted(n for n in VOCABULARY_FILES if n != "scdl-schema"))
def test_eu_vocabulary_uris_end_with_their_code(name):
    for term in get_vocabulary(name).terms:
        assert term.uri == EXPECTED_URI_PREFIX[name] + term.code


def test_get_vocabulary_rejects_unknown_names():
    with pytest.raises(KeyError):
        get_vocabulary("colours")


def test_required_terms_are_present():
    codes = {name: {t.code for t in get_vocabulary(name).terms} for name in VOCABULARY_FILES}
    assert {"PUBLIC", "RESTRICTED", "NON_PUBLIC"} == codes["access-right"]
    assert {"FRA", "ENG", "DEU", "ITA", "SPA"} <= codes["language"]
    assert {"CSV", "JSON", "GEOJSON", "XLSX", "SHP", "GPKG", "WMS_SRVC", "WFS_SRVC", "PARQUET"} <= codes["file-type"]
    assert len(codes["data-theme"]) == 14
    assert "scdl/deliberations" in codes["scdl-schema"]


@pytest.mark.parametrize(
    ("name", "value", "code"),
    [
        ("frequency", EU + "frequency/MONTHLY", "MONTHLY"),
        ("frequency", "https://publications.europa.eu/resource/authority/frequency/MONTHLY/", "MONTHLY"),
        ("frequency", "publications.europa.eu/resource/authority/frequency/monthly", "MONTHLY"),
        ("frequency", "monthly", "MONTHLY"),  # code, any case
        ("frequency", "Mensuelle", "MONTHLY"),  # French label
        ("frequency", "semiannual", "ANNUAL_2"),  # udata id
        ("frequency", "punctual", "AS_NEEDED"),  # udata id
        ("frequency", "threeTimesADay", "OTHER"),  # udata id with no EU code (no DAILY_3 in the NAL)
        ("data-theme", "Environnement", "ENVI"),
        ("data-theme", "regions and cities", "REGI"),
        ("language", "fr", "FRA"),
        ("language", "Français", "FRA"),
        ("language", "english", "ENG"),
        ("file-type", "Shapefile", "SHP"),
        ("file-type", "geopackage", "GPKG"),
        ("file-type", "xlsx", "XLSX"),
        ("file-type", "Esri REST", "REST"),
        ("file-type", "arcgis rest", "REST"),
        ("file-type", "arcgis mapserver", "MAP_SRVC"),
        ("access-right", "Restreint", "RESTRICTED"),
        ("scdl-schema", "scdl/deliberations", "scdl/deliberations"),
        ("scdl-schema", "https://schema.data.gouv.fr/scdl/deliberations", "scdl/deliberations"),
    ],
)
def test_lookup_finds_terms_by_uri_code_label_alias_and_udata_id(name, value, code):
    term = get_vocabulary(name).lookup(value)
    assert term is not None and term.code == code


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("frequency", ""),
        ("frequency", "   "),
        ("frequency", "mensuel-ish"),
        ("frequency", "http://example.org/frequency/MONTHLY"),
        ("frequency", "MONTHL"),
        ("frequency", EU + "frequency/DAILY_3"),  # not in the EU NAL: never stored
        ("frequency", "DAILY_3"),
        ("file-type", "http://[x/a.csv"),
        # The NAL's REST is Esri's REST: a generic API is no file type of the NAL.
        ("file-type", "API"),
        ("file-type", "API REST"),
        ("file-type", "REST API"),
    ],
)
def test_lookup_returns_none_for_unknown_or_partial_values(name, value):
    assert get_vocabulary(name).lookup(value) is None


def test_by_uri_matches_only_uris():
    frequency = get_vocabulary("frequency")
    assert frequency.by_uri(EU + "frequency/DAILY").code == "DAILY"
    assert frequency.by_uri("DAILY") is None


def test_label_in_french_and_english_and_falls_back_to_the_value():
    theme = get_vocabulary("data-theme")
    assert theme.label(EU + "data-theme/TRAN") == "Transports"
    assert theme.label(EU + "data-theme/TRAN", "en") == "Transport"
    assert theme.label("http://example.org/not-a-theme") == "http://example.org/not-a-theme"


def test_choices_have_the_scheming_shape_with_uri_values():
    choices = get_vocabulary("access-right").choices("en")
    assert choices == [
        {"value": EU + "access-right/PUBLIC", "label": "Public"},
        {"value": EU + "access-right/RESTRICTED", "label": "Restricted"},
        {"value": EU + "access-right/NON_PUBLIC", "label": "Non-public"},
    ]


def test_choices_helper_reads_the_vocabulary_name_from_the_scheming_field():
    choices = vocabulary_helpers.communes_vocabulary_choices({"field_name": "frequency", "vocabulary": "frequency"})
    assert len(choices) == len(get_vocabulary("frequency").terms)
    assert {"value": EU + "frequency/DAILY", "label": "Quotidienne"} in choices
    assert vocabulary_helpers.communes_vocabulary_label("language", EU + "language/FRA") == "Français"


@pytest.mark.parametrize(
    ("url", "media_type", "code"),
    [
        ("https://example.org/data/arbres.csv", None, "CSV"),
        ("https://example.org/data/ARBRES.CSV?download=1", None, "CSV"),
        ("https://example.org/data/zones.geojson", None, "GEOJSON"),
        ("https://example.org/data/zones.json", None, "JSON"),
        ("https://example.org/data/budget.xlsx", None, "XLSX"),
        ("https://example.org/data/parcelles.shp.zip", None, "SHP"),
        ("https://example.org/data/archive.zip", None, "ZIP"),
        ("https://example.org/data/archive.tar.gz", None, "TAR_GZ"),
        ("https://example.org/data/photo.JPG", None, "JPEG"),
        ("https://example.org/data/couche.gpkg", None, "GPKG"),
        ("https://example.org/data/data.parquet", None, "PARQUET"),
        ("https://example.org/geoserver/ows?SERVICE=WFS&REQUEST=GetCapabilities", None, "WFS_SRVC"),
        ("https://example.org/geoserver/wms?service=wms&request=GetMap", None, "WMS_SRVC"),
        ("https://example.org/geoserver/gwc/service/wmts", None, "WMTS_SRVC"),
        ("https://example.org/arcgis/rest/services/Voirie/MapServer", None, "MAP_SRVC"),
        ("https://x.opendatasoft.com/api/explore/v2.1/catalog/datasets/arbres/exports/csv", None, "CSV"),
        ("https://x.opendatasoft.com/api/explore/v2.1/catalog/datasets/arbres/exports/shp", None, "SHP"),
        ("https://example.org/download?id=42", "text/csv; charset=utf-8", "CSV"),
        ("https://example.org/download.php", "application/vnd.ms-excel", "XLS"),
        # Malformed URLs (urllib's urlsplit raises "Invalid IPv6 URL"): the path still tells.
        ("http://[x/a.csv", None, "CSV"),
        ("https://[::1/geoserver/ows?SERVICE=WFS&REQUEST=GetCapabilities", None, "WFS_SRVC"),
        ("http://[x/download", "text/csv", "CSV"),
        (None, "application/geo+json", "GEOJSON"),
        (None, "image/tiff; application=geotiff", "GEOTIFF"),
        (None, "image/tiff", "TIFF"),
        (None, "APPLICATION/PDF", "PDF"),
    ],
)
def test_guess_file_type_from_url_or_media_type(url, media_type, code):
    term = guess_file_type(url, media_type)
    assert term is not None and term.code == code


@pytest.mark.parametrize(
    ("url", "media_type"),
    [
        (None, None),
        ("", ""),
        ("https://example.org/download?id=42", None),
        ("https://example.org/download", "application/octet-stream"),
        ("https://example.org/file.unknownext", "application/x-something"),
        ("http://[x/a", None),
        ("http://[", "application/octet-stream"),
        ("http://exa mple.org/%zz?%%&=", None),
    ],
)
def test_guess_file_type_returns_none_without_a_clue(url, media_type):
    assert guess_file_type(url, media_type) is None


@pytest.mark.usefixtures("clean_db", "clean_index")
def test_a_resource_with_a_malformed_url_and_no_format_is_an_answer_not_a_server_error(app):
    """It used to be HTTP 500: the format validator guessed the type with urlsplit, which raises.
    Whether the schema accepts such a URL is the URL validator's business; the format validator
    must not fail on it (validators of different fields all run)."""
    sysadmin = factories.SysadminWithToken()
    org = factories.Organization(user=sysadmin, **BRON)
    response = app.post("/api/3/action/package_create", headers={"Authorization": sysadmin["token"]}, json={
        "name": "url-malformee", "title": "URL malformée", "notes": "Une ressource à l'URL malformée.",
        "owner_org": org["id"], "theme": ["ENVI"],
        "resources": [{"url": "http://[x/a.csv"}, {"url": "http://[x/telechargement"}],
    })
    assert response.status_code in (200, 409), response.body
    if response.status_code == 200:
        assert [r["format"] for r in response.json["result"]["resources"]] == ["CSV", ""]
    else:  # refused: for the URL only, never for the format
        error = response.json["error"]
        assert set(error) == {"resources", "__type"}, error
        assert all(set(resource_errors) <= {"url"} for resource_errors in error["resources"]), error
