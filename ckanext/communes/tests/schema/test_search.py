"""Search for reusers: facet fields in the index, counts through package_search, fq filters, and French
labels of facet items (API and /dataset page)."""

from __future__ import annotations

from typing import Any

import pytest
from ckan.tests import factories, helpers

from ckanext.communes.schema import indexing

EU = "http://publications.europa.eu/resource/authority"
FACETS = ["vocab_commune", "vocab_theme", "vocab_frequency", "vocab_format", "license_id"]

pytestmark = pytest.mark.usefixtures("clean_db", "clean_index")


@pytest.fixture
def catalogue(sysadmin, bron) -> dict[str, Any]:
    """Three datasets: two of Bron (environment/CSV/annual; transport+environment/GeoJSON/monthly),
    one of Vaulx-en-Velin (economy/CSV/annual)."""
    vaulx = factories.Organization(user=sysadmin, name="vaulx-en-velin", title="Vaulx-en-Velin",
                                   insee_code="69256", siren="216902569", kind="commune")
    context = {"user": sysadmin["name"]}
    for name, org, themes, frequency, url in (
        ("arbres", bron, ["ENVI"], "ANNUAL", "https://bron.fr/arbres.csv"),
        ("pistes-cyclables", bron, ["TRAN", "ENVI"], "MONTHLY", "https://bron.fr/pistes.geojson"),
        ("subventions", vaulx, ["ECON"], "ANNUAL", "https://vaulx.fr/subventions.csv"),
    ):
        helpers.call_action(
            "package_create", context=context, name=name, title=name.title(), notes="Données.",
            owner_org=org["id"], theme=themes, frequency=frequency, license_id="etalab-2.0",
            resources=[{"url": url}],
        )
    return {"bron": bron, "vaulx": vaulx}


def _counts(result: dict[str, Any], facet: str) -> dict[str, int]:
    return {item["name"]: item["count"] for item in result["search_facets"][facet]["items"]}


def test_package_search_returns_commune_theme_frequency_format_and_licence_facets(catalogue):
    result = helpers.call_action("package_search", q="*:*", **{"facet.field": FACETS})
    assert _counts(result, "vocab_commune") == {"69029": 2, "69256": 1}
    assert _counts(result, "vocab_theme") == {"ENVI": 2, "TRAN": 1, "ECON": 1}
    assert _counts(result, "vocab_frequency") == {"ANNUAL": 2, "MONTHLY": 1}
    assert _counts(result, "vocab_format") == {"CSV": 2, "GEOJSON": 1}
    assert _counts(result, "license_id") == {"etalab-2.0": 3}


@pytest.mark.parametrize("fq, expected", [
    ("vocab_theme:ENVI", {"arbres", "pistes-cyclables"}),
    (f'vocab_theme_uri:"{EU}/data-theme/ECON"', {"subventions"}),
    ("vocab_commune:69029 AND vocab_format:GEOJSON", {"pistes-cyclables"}),
    ("vocab_frequency:ANNUAL", {"arbres", "subventions"}),
    (f'vocab_format_uri:"{EU}/file-type/CSV"', {"arbres", "subventions"}),
    ("license_id:etalab-2.0 AND vocab_commune:69256", {"subventions"}),
])
def test_fq_filters_on_the_facet_fields(catalogue, fq, expected):
    result = helpers.call_action("package_search", fq=fq)
    assert {d["name"] for d in result["results"]} == expected


def test_after_dataset_search_gives_french_labels_to_facet_items(catalogue):
    result = helpers.call_action("package_search", q="*:*", **{"facet.field": FACETS})
    labelled = indexing.after_dataset_search(result, {})
    names = {item["name"]: item["display_name"] for item in labelled["search_facets"]["vocab_theme"]["items"]}
    assert names["ENVI"] == "Environnement"
    communes = {i["name"]: i["display_name"] for i in labelled["search_facets"]["vocab_commune"]["items"]}
    assert communes == {"69029": "Bron", "69256": "Vaulx-en-Velin"}
    formats = {i["name"]: i["display_name"] for i in labelled["search_facets"]["vocab_format"]["items"]}
    assert formats["GEOJSON"] == "GeoJSON"


def test_package_search_api_facet_items_carry_french_labels(catalogue):
    # Needs plugin.py to delegate IPackageController.after_dataset_search to indexing.after_dataset_search.
    result = helpers.call_action("package_search", q="*:*", **{"facet.field": FACETS})
    frequencies = {i["name"]: i["display_name"] for i in result["search_facets"]["vocab_frequency"]["items"]}
    assert frequencies == {"ANNUAL": "Annuelle", "MONTHLY": "Mensuelle"}


def test_dataset_page_shows_facets_with_french_titles_and_labels(app, catalogue):
    html = app.get("/dataset/").body
    for title in ("Commune", "Thème", "Licence", "Format", "Fréquence de mise à jour"):
        assert title in html
    for label in ("Environnement", "Transports", "Économie et finances", "Annuelle", "Mensuelle",
                  "Vaulx-en-Velin", "GeoJSON"):
        assert label in html
    assert "vocab_theme=ENVI" in html  # facet links filter on the code


def test_dataset_page_filter_by_theme_shows_only_matching_datasets(app, catalogue):
    html = app.get("/dataset/", query_string={"vocab_theme": "ECON"}).body
    assert "/dataset/subventions" in html
    assert "/dataset/arbres" not in html


def test_resource_format_is_shown_as_a_short_label_in_search_results(app, catalogue):
    html = app.get("/dataset/").body
    assert 'data-format="csv"' in html
    assert f">{EU}/file-type/CSV<" not in html


def test_documented_http_query_filters_with_fq_and_returns_facet_counts(app, catalogue):
    response = app.get("/api/3/action/package_search", query_string={
        "fq": "vocab_commune:69029 AND vocab_theme:ENVI",
        "facet.field": '["vocab_commune","vocab_theme","license_id","vocab_format","vocab_frequency"]',
    })
    result = response.json["result"]
    assert {d["name"] for d in result["results"]} == {"arbres", "pistes-cyclables"}
    assert _counts(result, "vocab_format") == {"CSV": 1, "GEOJSON": 1}
    assert _counts(result, "vocab_frequency") == {"ANNUAL": 1, "MONTHLY": 1}


def test_organisation_without_insee_code_is_faceted_by_its_name(sysadmin):
    metropole = factories.Organization(name="metropole-de-lyon", title="Métropole de Lyon", kind="metropole",
                                       siren="200046977")
    helpers.call_action("package_create", context={"user": sysadmin["name"]}, name="voirie", title="Voirie",
                        notes="Voirie.", owner_org=metropole["id"], theme=["TRAN"])
    result = helpers.call_action("package_search", **{"facet.field": ["vocab_commune"]})
    assert _counts(result, "vocab_commune") == {"metropole-de-lyon": 1}
    labelled = indexing.after_dataset_search(result, {})
    assert labelled["search_facets"]["vocab_commune"]["items"][0]["display_name"] == "Métropole de Lyon"
