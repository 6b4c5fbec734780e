"""The High-Value Dataset category field (hvd_category): EU HVD categories (regulation 2023/138), several
allowed, stored as URIs; a junk category is a French field error naming the field; the search facet."""

from __future__ import annotations

from typing import Any

import pytest
from ckan.tests import factories, helpers

pytestmark = pytest.mark.usefixtures("clean_db", "clean_index")

BNA = "http://data.europa.eu/bna"
ADDRESSES = f"{BNA}/c_c3de25e4"
GEOSPATIAL = f"{BNA}/c_ac64a52d"
MOBILITY = f"{BNA}/c_b79e35eb"


def _dataset(org: dict[str, Any], name: str = "adresses", **fields: Any) -> dict[str, Any]:
    data = {
        "name": name,
        "title": "Base adresse locale",
        "notes": "Les adresses de la commune.",
        "owner_org": org["id"],
        "theme": ["REGI"],
        "license_id": "etalab-2.0",
        "resources": [{"url": "https://data.ville-bron.fr/adresses.csv"}],
    }
    data.update(fields)
    return data


def _create(user: dict[str, Any], org: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return helpers.call_action("package_create", context={"user": user["name"]}, **_dataset(org, **fields))


def test_categories_given_as_uri_code_or_french_label_are_stored_as_uris(sysadmin, bron):
    dataset = _create(sysadmin, bron, hvd_category=[ADDRESSES, "c_ac64a52d", "Mobilité"])
    assert dataset["hvd_category"] == [ADDRESSES, GEOSPATIAL, MOBILITY]


def test_a_junk_category_is_a_french_error_naming_the_field(app, bron):
    user = factories.SysadminWithToken()
    response = app.post(
        "/api/3/action/package_create",
        json=_dataset(bron, hvd_category=[ADDRESSES, "Données de la cantine"]),
        headers={"Authorization": user["token"]},
        status=409,
    )
    error = response.json["error"]
    assert set(error) - {"__type"} == {"hvd_category"}, error
    message = error["hvd_category"][0]
    assert message.startswith("Catégorie de données de forte valeur inconnue : Données de la cantine"), message
    assert helpers.call_action("package_search", q="*:*")["count"] == 0


def test_the_form_explains_what_a_high_value_dataset_is(app, sysadmin, bron):
    user = factories.SysadminWithToken()
    html = app.get("/dataset/new", headers={"Authorization": user["token"]}, status=200).body
    assert "Données de forte valeur" in html
    assert "2023/138" in html  # the help text names the regulation
    assert "Données géospatiales › Adresses" in html  # the categories in French, each under its theme


def test_the_search_facet_counts_high_value_datasets_with_french_labels(sysadmin, bron):
    _create(sysadmin, bron, hvd_category=[ADDRESSES])
    _create(sysadmin, bron, name="reseau", hvd_category=[MOBILITY, ADDRESSES])
    _create(sysadmin, bron, name="budget")
    result = helpers.call_action("package_search", q="*:*", **{"facet.field": '["vocab_hvd_category"]'})
    items = {item["name"]: item for item in result["search_facets"]["vocab_hvd_category"]["items"]}
    assert {name: item["count"] for name, item in items.items()} == {"c_c3de25e4": 2, "c_b79e35eb": 1}
    assert items["c_c3de25e4"]["display_name"] == "Adresses"
    only_hvd = helpers.call_action("package_search", fq="vocab_hvd_category:c_b79e35eb")
    assert [d["name"] for d in only_hvd["results"]] == ["reseau"]


def test_the_search_page_shows_the_facet_in_french(app, sysadmin, bron):
    _create(sysadmin, bron, hvd_category=[ADDRESSES])
    html = app.get("/dataset/", status=200).body
    assert "Données de forte valeur" in html
    assert "Adresses" in html
