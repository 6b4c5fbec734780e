"""Place search (issue #24) against the real Solr 9: every dataset indexed with an extent (its own, its
territories', its commune's, the Métropole's), ``ext_bbox`` through ckanext-spatial's solr-bbox backend in the
API and on the search page, combined with filters and facets; junk boxes and geometries refused in French;
a bad geometry in the database never stops a reindex."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from ckan import model
from ckan.tests import factories, helpers

pytestmark = pytest.mark.usefixtures("clean_db", "clean_index")

# Bounding boxes (minx,miny,maxx,maxy) of communes/data/communes-geo.csv, shrunk a little inside.
AROUND_VILLEURBANNE = "4.86,45.75,4.92,45.79"
AROUND_GIVORS = "4.71,45.56,4.80,45.61"
AROUND_VAULX = "4.88,45.745,4.97,45.81"
# The west of Lyon 3e (4.838-4.898 x 45.739-45.764), away from Vaulx-en-Velin's box (from 4.8798).
IN_LYON_3E = "4.84,45.742,4.87,45.76"
NARROW_EXTENT = {"type": "Polygon", "coordinates": [[[4.845, 45.745], [4.86, 45.745], [4.86, 45.755],
                                                      [4.845, 45.755], [4.845, 45.745]]]}
BOWTIE = {"type": "Polygon", "coordinates": [[[4.85, 45.75], [4.87, 45.77], [4.87, 45.75], [4.85, 45.77],
                                              [4.85, 45.75]]]}


def _commune(sysadmin: dict[str, Any], name: str, title: str, insee: str) -> dict[str, Any]:
    return factories.Organization(user=sysadmin, name=name, title=title, insee_code=insee, kind="commune")


def _dataset(sysadmin: dict[str, Any], name: str, org: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return helpers.call_action(
        "package_create", context={"user": sysadmin["name"]}, name=name, title=name.replace("-", " ").title(),
        notes="Données.", owner_org=org["id"], license_id="etalab-2.0", **{"theme": ["ENVI"], **fields})


@pytest.fixture
def places(sysadmin) -> dict[str, Any]:
    """Villeurbanne (two datasets: ENVI, ECON), Givors (one, ENVI), Lyon (one with a narrower extent in the
    3e arrondissement), the Métropole (one, no commune)."""
    villeurbanne = _commune(sysadmin, "villeurbanne", "Villeurbanne", "69266")
    givors = _commune(sysadmin, "givors", "Givors", "69091")
    lyon = _commune(sysadmin, "lyon", "Lyon", "69123")
    metropole = factories.Organization(user=sysadmin, name="metropole-de-lyon", title="Métropole de Lyon",
                                       kind="metropole")
    _dataset(sysadmin, "arbres-villeurbanne", villeurbanne, theme=["ENVI"])
    _dataset(sysadmin, "budget-villeurbanne", villeurbanne, theme=["ECON"])
    _dataset(sysadmin, "arbres-givors", givors, theme=["ENVI"])
    _dataset(sysadmin, "marche-lyon-3e", lyon, theme=["ECON"], spatial=json.dumps(NARROW_EXTENT))
    _dataset(sysadmin, "voirie-metropole", metropole, theme=["TRAN"])
    return {"sysadmin": sysadmin}


def _names(**params: Any) -> set[str]:
    return {d["name"] for d in helpers.call_action("package_search", rows=100, **params)["results"]}


def test_a_box_around_villeurbanne_returns_its_datasets_and_not_those_of_givors(places):
    found = _names(ext_bbox=AROUND_VILLEURBANNE)
    assert {"arbres-villeurbanne", "budget-villeurbanne"} <= found
    assert "arbres-givors" not in found
    assert _names(ext_bbox=AROUND_GIVORS) == {"arbres-givors", "voirie-metropole"}


def test_a_communes_exact_box_finds_its_datasets(places):
    # What a commune page's « datasets on this territory » link will search: the registry's box itself.
    from ckanext.communes.communes import registry

    for insee, name in (("69266", "arbres-villeurbanne"), ("69091", "arbres-givors")):
        box = ",".join(f"{n!r}" for n in registry.get_commune_geometry(insee).bbox)
        assert name in _names(ext_bbox=box), box


def test_a_dataset_of_the_metropole_without_commune_has_the_metropoles_extent(places):
    for box in (AROUND_GIVORS, AROUND_VILLEURBANNE, "4.70,45.92,4.72,45.93"):  # the far south, the north-west
        assert "voirie-metropole" in _names(ext_bbox=box), box
    assert "voirie-metropole" not in _names(ext_bbox="2.2,48.8,2.4,48.9")  # Paris


def test_an_editors_narrower_extent_is_what_place_search_uses(places):
    assert "marche-lyon-3e" in _names(ext_bbox=IN_LYON_3E)
    # Lyon's own box reaches into Vaulx-en-Velin's: the narrower extent does not.
    assert "marche-lyon-3e" not in _names(ext_bbox=AROUND_VAULX)
    assert "marche-lyon-3e" not in _names(ext_bbox="4.78,45.76,4.80,45.78")  # the west of Lyon (9e)


def test_ext_bbox_combines_with_filters_and_facets_in_the_api(places, app):
    result = app.get("/api/3/action/package_search", params={
        "ext_bbox": AROUND_VILLEURBANNE, "fq": "vocab_theme:ENVI", "facet.field": '["vocab_commune"]'}).json
    assert result["success"] is True
    names = {d["name"] for d in result["result"]["results"]}
    assert "arbres-villeurbanne" in names and not names & {"budget-villeurbanne", "arbres-givors"}
    communes = {i["name"]: i["count"] for i in result["result"]["search_facets"]["vocab_commune"]["items"]}
    assert communes.get("69266") == 1 and "69091" not in communes


def test_the_search_page_keeps_ext_bbox_with_a_facet(places, app):
    html = app.get("/dataset/", params={"ext_bbox": AROUND_GIVORS, "vocab_theme": "ENVI"}).body
    assert "/dataset/arbres-givors" in html
    assert "/dataset/arbres-villeurbanne" not in html


def test_each_dataset_is_indexed_with_where_its_extent_comes_from(places):
    origins = {d["name"]: d["vocab_spatial_origin"] for d in helpers.call_action(
        "package_search", rows=100, fl="name,vocab_spatial_origin,minx,maxy")["results"]}
    # A commune's datasets have its territory as default spatial coverage (the schema's validator); the
    # Métropole's organisation has no commune, hence no default coverage: its own extent.
    assert origins == {"arbres-villeurbanne": ["territory"], "budget-villeurbanne": ["territory"],
                       "arbres-givors": ["territory"], "marche-lyon-3e": ["spatial"], "voirie-metropole": ["owner"]}


JUNK_BOXES = {
    "letters": "a,b,c,d",
    "three numbers": "4.8,45.7,4.9",
    "min above max": "4.9,45.8,4.8,45.7",
    "out of range": "4.8,45.7,200,95",
    "not a number": "nan,45.7,4.9,45.8",
    "10 kB": ",".join(["4.85"] * 2500),
    "Solr syntax": "4.8,45.7,4.9,45.8) OR (*:*",
}


@pytest.mark.parametrize("junk", JUNK_BOXES.values(), ids=JUNK_BOXES.keys())
def test_junk_ext_bbox_is_a_french_400_naming_the_parameter_in_the_api(app, junk):
    response = app.get("/api/3/action/package_search", params={"ext_bbox": junk}, status=400)
    message = response.json["error"]["message"]
    assert "ext_bbox" in message and ("nombres" in message or "minimum" in message or "longitudes" in message
                                      or "trop long" in message), message


@pytest.mark.parametrize("junk", JUNK_BOXES.values(), ids=JUNK_BOXES.keys())
def test_junk_ext_bbox_in_a_json_body_is_a_french_400(app, junk):
    for body in ({"ext_bbox": junk}, {"extras": {"ext_bbox": junk}}):
        response = app.post("/api/3/action/package_search", json=body, status=400)
        assert "ext_bbox" in response.json["error"]["message"], response.json


@pytest.mark.parametrize("junk", JUNK_BOXES.values(), ids=JUNK_BOXES.keys())
def test_junk_ext_bbox_on_the_search_page_is_a_french_400(app, junk):
    html = app.get("/dataset/", params={"ext_bbox": junk}, status=400).body
    assert "ext_bbox" in html


def test_junk_ext_bbox_in_an_internal_call_is_refused_before_ckanext_spatial_reads_it():
    from ckan.lib.search.common import SearchQueryError

    for junk in JUNK_BOXES.values():
        with pytest.raises(SearchQueryError, match="ext_bbox"):
            helpers.call_action("package_search", ext_bbox=junk)


@pytest.mark.parametrize("value, expected", [
    ("{not json", "GeoJSON"),
    (json.dumps(BOWTIE), "recoupe"),
    (json.dumps({"type": "Point", "coordinates": [2.35, 48.85]}), "Métropole"),  # Paris
    (json.dumps({"type": "Polygon", "coordinates": [[[-180, -90], [180, -90], [180, 90], [-180, 90],
                                                     [-180, -90]]]}), "Métropole"),  # the world
    ("POLYGON((4.85 45.75, 4.86 45.75, 4.86 45.76, 4.85 45.75))", "GeoJSON"),
    (json.dumps({"type": "Polygon", "coordinates": [[[4.85, 45.75], [4.86, 45.76]]]}), "géométrie GeoJSON"),
    (json.dumps({"type": "Feature", "geometry": NARROW_EXTENT}), "géométrie GeoJSON"),
])
def test_an_invalid_extent_is_refused_with_a_french_error_on_the_spatial_field(app, sysadmin, value, expected):
    org = _commune(sysadmin, "lyon", "Lyon", "69123")
    response = app.post("/api/3/action/package_create", json={
        "name": "marche", "title": "Marché", "notes": "Données.", "owner_org": org["id"], "theme": ["ECON"],
        "spatial": value,
    }, headers={"Authorization": factories.APIToken(user=sysadmin["name"])["token"]}, status=409)
    errors = response.json["error"]
    assert list(errors) == ["spatial", "__type"] or set(errors) == {"spatial", "__type"}, errors
    assert "Emprise (GeoJSON)" in errors["spatial"][0] and expected in errors["spatial"][0], errors
    assert model.Package.get("marche") is None


def test_an_extent_is_stored_as_compact_geojson_with_its_rings_closed(sysadmin):
    org = _commune(sysadmin, "lyon", "Lyon", "69123")
    open_ring = {"type": "Polygon", "coordinates": [[[4.845, 45.745], [4.86, 45.745], [4.86, 45.755]]]}
    dataset = _dataset(sysadmin, "ouvert", org, spatial=json.dumps(open_ring))
    stored = json.loads(dataset["spatial"])
    assert stored["coordinates"][0][0] == stored["coordinates"][0][-1]


@pytest.mark.parametrize("bad", [
    "not json at all",
    '{"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}',  # shapely raises: a ring of two points
    '{"type": "Polygon", "coordinates": [[[4.85, 45.75], [4.87, 45.77], [4.87, 45.75], [4.85, 45.77], '
    '[4.85, 45.75]]]}',  # crosses itself
    "-180.0 -90.0 180.0 90.0",
])
def test_a_rebuild_over_a_bad_geometry_in_the_database_finishes_and_keeps_the_communes_extent(cli, sysadmin, bad):
    from ckan.cli.cli import ckan as ckan_cli

    villeurbanne = _commune(sysadmin, "villeurbanne", "Villeurbanne", "69266")
    dataset = _dataset(sysadmin, "arbres", villeurbanne)
    _dataset(sysadmin, "budget", villeurbanne)  # indexed after it: the rebuild must reach it
    # CKAN 2.12 keeps a dataset's extras in package.extras (JSONB): written there, past every validator.
    model.Session.execute(sa.text(
        "update package set extras = coalesce(extras, '{}'::jsonb) || jsonb_build_object('spatial', cast(:v as text)) "
        "where id = :pkg"), {"pkg": dataset["id"], "v": bad})
    model.Session.commit()
    helpers.call_action("package_search")  # nothing cached
    from ckan.lib import search

    search.clear_all()
    result = cli.invoke(ckan_cli, ["search-index", "rebuild"])
    assert result.exit_code == 0, result.output
    assert _names(ext_bbox=AROUND_VILLEURBANNE) == {"arbres", "budget"}
    assert _names(ext_bbox=AROUND_GIVORS) == set()


def test_results_are_ordered_by_overlap_with_the_box_when_sorted_by_score(places):
    # ckanext-spatial boosts by 2 x overlap / (box area + extent area): the narrow extent that fills the box
    # comes before Lyon's and the Métropole's wide boxes.
    box = "4.845,45.745,4.86,45.755"
    results = helpers.call_action("package_search", ext_bbox=box, sort="score desc", rows=10)["results"]
    assert [d["name"] for d in results][0] == "marche-lyon-3e"
    assert "voirie-metropole" in [d["name"] for d in results]
