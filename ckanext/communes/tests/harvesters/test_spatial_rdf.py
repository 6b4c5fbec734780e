"""Dataset extents in DCAT (issue #24, item 4): a commune catalogue holding a CSW-harvested dataset with an
extent validates against the official DCAT-AP 3.0.1 shapes (``locn:geometry`` a ``locn:Geometry`` node, not a
literal), data.gouv.fr's reader still gets the extent from ``dcat:bbox``, our DCAT harvester reads extents
written every way a source writes them (``locn:geometry`` literal or node, ``dcat:bbox``; WKT or GeoJSON) so a
dataset harvested from our own catalogue keeps its extent, and an invalid or huge geometry from a source never
breaks a harvest. Real fixture servers on 127.0.0.1, real ckanext-harvest stages, real Solr."""

from __future__ import annotations

import json

import pytest
import rdflib
from ckan.tests import factories
from geomet import wkt
from rdflib import BNode, Literal, URIRef
from rdflib.namespace import DCTERMS, RDF

from ckanext.communes.communes import seeding
from ckanext.communes.harvesters import jobs
from ckanext.communes.tests.communes.conftest import write_communes_csv
from ckanext.communes.tests.dcat.test_shacl import assert_valid
from ckanext.communes.tests.harvesters.checks import harvested
from ckanext.communes.tests.harvesters.test_csw_harvest import COMMUNES, GeoNetwork, make_source
from ckanext.communes.tests.harvesters.test_dcat_harvest import make_source as make_dcat_source
from ckanext.communes.tests.harvesters.test_spatial_harvest import (
    AROUND_THE_3E_EXTENT,
    AROUND_VAULX,
    csw_record,
    found,
    warnings_of,
)

pytestmark = pytest.mark.usefixtures("clean_db", "clean_index", "allow_private_addresses")

DCAT = rdflib.Namespace("http://www.w3.org/ns/dcat#")
LOCN = rdflib.Namespace("http://www.w3.org/ns/locn#")
GSP = rdflib.Namespace("http://www.opengis.net/ont/geosparql#")
IANA_GEOJSON = URIRef("https://www.iana.org/assignments/media-types/application/vnd.geo+json")
THE_3E_EXTENT = (4.845, 45.745, 4.86, 45.755)
LYON_CATALOGUE = "/communes/69123/catalog.ttl"


@pytest.fixture
def portal(tmp_path):
    seeding.seed(path=str(write_communes_csv(tmp_path / "communes.csv", COMMUNES)))
    return {"sysadmin": factories.Sysadmin()}


def harvest_csw_extent(portal, source_server) -> dict:
    """A CSW record routed to Lyon whose EX_GeographicBoundingBox lies inside Lyon 3e, harvested."""
    gn = GeoNetwork(source_server, records=[csw_record("rec-3e", "Marchés du 3e", "4.845", "4.86", "45.745", "45.755")])
    job = jobs.run_source(make_source(portal, gn.url)["id"])
    assert job["status"] == "Finished"
    return job


def catalogue(app, path: str = LYON_CATALOGUE) -> rdflib.Graph:
    return rdflib.Graph().parse(data=app.get(path, status=200).body, format="turtle")


def dataset_titled(graph: rdflib.Graph, title: str) -> rdflib.term.Node:
    (dataset,) = [d for d in graph.subjects(RDF.type, DCAT.Dataset) if str(graph.value(d, DCTERMS.title)) == title]
    return dataset


def bounds(geojson: dict) -> tuple[float, float, float, float]:
    numbers: list[float] = []

    def walk(item):
        if isinstance(item[0], (int, float)):
            numbers.extend(item[:2])
        else:
            for sub in item:
                walk(sub)

    walk(geojson["coordinates"])
    return min(numbers[0::2]), min(numbers[1::2]), max(numbers[0::2]), max(numbers[1::2])


def udata_spatial_from_rdf(graph: rdflib.Graph, dataset: rdflib.term.Node) -> dict | None:
    """udata's reader of a dataset's spatial coverage, as data.gouv.fr runs it (opendatateam/udata,
    udata/core/dataset/rdf.py ``spatial_from_rdf``, commit 25b5a2dd): every literal directly on each
    dct:spatial node, GeoJSON or WKT by datatype, Polygons and MultiPolygons merged into one MultiPolygon,
    any other type (the centroid's Point) skipped with a warning. A node under a Location is not read."""
    geojsons = []
    for term in graph.objects(dataset, DCTERMS.spatial):
        if isinstance(term, Literal):
            continue
        for value in graph.objects(term, None):
            if not isinstance(value, Literal):
                continue
            if value.datatype in (GSP.geoJSONLiteral, IANA_GEOJSON):
                geojsons.append(json.loads(str(value)))
            elif value.datatype in (GSP.wktLiteral, URIRef("http://www.opengis.net/rdf#wktLiteral")):
                geojsons.append(wkt.loads(str(value).strip().upper()))
    polygons = []
    for geojson in geojsons:
        if geojson["type"] == "Polygon":
            if geojson["coordinates"] not in polygons:
                polygons.append(geojson["coordinates"])
        elif geojson["type"] == "MultiPolygon":
            polygons.extend(c for c in geojson["coordinates"] if c not in polygons)
    return {"type": "MultiPolygon", "coordinates": polygons} if polygons else None


# ------------------------------------------------------------------------------------------ writing

def test_a_commune_catalogue_holding_a_csw_harvested_extent_has_no_dcat_ap_3_violation(app, portal, source_server):
    harvest_csw_extent(portal, source_server)
    graph = catalogue(app)
    assert_valid(graph)

    # The extent is a dct:Location with its dcat:bbox and a locn:Geometry node (WKT), beside the territories.
    dataset = dataset_titled(graph, "Marchés du 3e")
    extents = [loc for loc in graph.objects(dataset, DCTERMS.spatial) if (loc, LOCN.geometry, None) in graph]
    assert len(extents) == 1
    (location,) = extents
    assert (location, RDF.type, DCTERMS.Location) in graph
    bbox = graph.value(location, DCAT.bbox)
    assert bbox.datatype == GSP.wktLiteral
    assert bounds(wkt.loads(str(bbox))) == pytest.approx(THE_3E_EXTENT)
    (geometry,) = list(graph.objects(location, LOCN.geometry))
    assert isinstance(geometry, (BNode, URIRef))
    assert (geometry, RDF.type, LOCN.Geometry) in graph
    as_wkt = graph.value(geometry, GSP.asWKT)
    assert as_wkt.datatype == GSP.wktLiteral
    assert bounds(wkt.loads(str(as_wkt))) == pytest.approx(THE_3E_EXTENT)


def test_a_geometry_literal_is_a_violation_of_the_3_0_1_shapes(app, portal, source_server):
    """The check bites: the same catalogue with the extent written back as a literal (what ckanext-dcat
    writes) has violations."""
    from ckanext.communes.tests.dcat.conftest import shacl_violations

    harvest_csw_extent(portal, source_server)
    graph = catalogue(app)
    for location, _, geometry in list(graph.triples((None, LOCN.geometry, None))):
        graph.remove((location, LOCN.geometry, geometry))
        graph.add((location, LOCN.geometry, graph.value(geometry, GSP.asWKT)))
    conforms, violations, _ = shacl_violations(graph, "single", "self")
    assert not conforms and violations >= 1


def test_data_gouv_fr_reads_the_extent_of_a_csw_harvested_dataset(app, portal, source_server):
    harvest_csw_extent(portal, source_server)
    graph = catalogue(app)
    coverage = udata_spatial_from_rdf(graph, dataset_titled(graph, "Marchés du 3e"))
    assert coverage is not None
    assert bounds(coverage) == pytest.approx(THE_3E_EXTENT)


EDITORS_EXTENT = (4.8512345, 45.7512345, 4.8567891, 45.7567891)


def create_with_editors_extent(portal) -> dict:
    """A dataset of Lyon (its territory the default spatial coverage) with a narrower extent an editor drew."""
    from ckan.tests import helpers

    west, south, east, north = EDITORS_EXTENT
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return helpers.call_action(
        "package_create", context={"user": portal["sysadmin"]["name"]}, name="marches-editeur",
        title="Marchés (éditeur)", notes="Une emprise tracée.", owner_org="lyon",
        theme=["http://publications.europa.eu/resource/authority/data-theme/ECON"], license_id="etalab-2.0",
        spatial=json.dumps({"type": "Polygon", "coordinates": [ring]}))


def test_an_editors_extent_is_written_beside_the_communes_territory(app, portal):
    create_with_editors_extent(portal)
    graph = catalogue(app)
    assert_valid(graph)
    dataset = dataset_titled(graph, "Marchés (éditeur)")
    locations = set(graph.objects(dataset, DCTERMS.spatial))
    assert URIRef("http://id.insee.fr/geo/commune/69123") in locations
    (extent,) = [loc for loc in locations if (loc, LOCN.geometry, None) in graph]
    # Full precision (ckanext-dcat rounds to 4 decimals, about 10 m).
    as_wkt = graph.value(graph.value(extent, LOCN.geometry), GSP.asWKT)
    assert bounds(wkt.loads(str(as_wkt))) == pytest.approx(EDITORS_EXTENT, abs=1e-9)
    assert bounds(wkt.loads(str(graph.value(extent, DCAT.bbox)))) == pytest.approx(EDITORS_EXTENT)
    coverage = udata_spatial_from_rdf(graph, dataset)
    # data.gouv.fr gets the extent's box beside the commune's (one MultiPolygon of both).
    assert coverage is not None and [[list(p) for p in ring] for ring in wkt.loads(
        str(graph.value(extent, DCAT.bbox)))["coordinates"]] in coverage["coordinates"]


# ------------------------------------------------------------------------------------------ reading

WAYS_PAGE = """
@prefix dcat: <http://www.w3.org/ns/dcat#> .
@prefix dct: <http://purl.org/dc/terms/> .
@prefix foaf: <http://xmlns.com/foaf/0.1/> .
@prefix locn: <http://www.w3.org/ns/locn#> .
@prefix gsp: <http://www.opengis.net/ont/geosparql#> .

<{base}/catalog> a dcat:Catalog ; dct:title "Catalogue" ;
    dcat:dataset <{base}/ds/wkt-literal>, <{base}/ds/geojson-literal>, <{base}/ds/wkt-node>,
                 <{base}/ds/geojson-node>, <{base}/ds/iana-geojson> .
"""
WAYS = {
    "wkt-literal": '"POLYGON((4.845 45.745, 4.86 45.745, 4.86 45.755, 4.845 45.755, 4.845 45.745))"^^gsp:wktLiteral',
    "geojson-literal": '"{\\"type\\": \\"Polygon\\", \\"coordinates\\": [[[4.845, 45.745], [4.86, 45.745], '
                       '[4.86, 45.755], [4.845, 45.755], [4.845, 45.745]]]}"^^gsp:geoJSONLiteral',
    "wkt-node": '[ a locn:Geometry ; gsp:asWKT "POLYGON((4.845 45.745, 4.86 45.745, 4.86 45.755, 4.845 45.755, '
                '4.845 45.745))"^^gsp:wktLiteral ]',
    "geojson-node": '[ a locn:Geometry ; gsp:asGeoJSON "{\\"type\\": \\"Polygon\\", \\"coordinates\\": '
                    '[[[4.845, 45.745], [4.86, 45.745], [4.86, 45.755], [4.845, 45.755], [4.845, 45.745]]]}"'
                    '^^gsp:geoJSONLiteral ]',
    "iana-geojson": '"{\\"type\\": \\"Polygon\\", \\"coordinates\\": [[[4.845, 45.745], [4.86, 45.745], '
                    '[4.86, 45.755], [4.845, 45.755], [4.845, 45.745]]]}"'
                    '^^<https://www.iana.org/assignments/media-types/application/vnd.geo+json>',
}
DATASET_TEMPLATE = """
<{{base}}/ds/{name}> a dcat:Dataset ;
    dct:identifier "{name}" ;
    dct:title "{title}" ;
    dct:description "Une emprise dans le 3e." ;
    dcat:theme <http://publications.europa.eu/resource/authority/data-theme/ENVI> ;
    dct:publisher [ a foaf:Agent ; foaf:name "Ville de Lyon" ; dct:identifier "69123" ] ;
    dct:spatial <http://id.insee.fr/geo/commune/69123>, [ a dct:Location ; locn:geometry {geometry} ] .
"""


def serve_page(source_server, path: str, datasets: dict[str, str], header: str = WAYS_PAGE) -> str:
    base = source_server.url("/").rstrip("/")
    body = header + "".join(DATASET_TEMPLATE.format(name=name, title=f"Emprise {name}", geometry=geometry)
                            for name, geometry in datasets.items())
    listed = ", ".join(f"<{{base}}/ds/{name}>" for name in datasets)
    body = body.replace("dcat:dataset <{base}/ds/wkt-literal>, <{base}/ds/geojson-literal>, <{base}/ds/wkt-node>,\n"
                        "                 <{base}/ds/geojson-node>, <{base}/ds/iana-geojson>", f"dcat:dataset {listed}")
    source_server.serve(path, body.replace("{base}", base), content_type="text/turtle")
    return source_server.url(path)


def test_the_dcat_harvester_reads_a_geometry_written_every_way(portal, source_server):
    source = make_dcat_source(portal, serve_page(source_server, "/dcat/ways.ttl", WAYS))
    job = jobs.run_source(source["id"])
    assert job["status"] == "Finished", job
    datasets = harvested(source["id"])
    assert set(datasets) == {f"Emprise {name}" for name in WAYS}
    inside, away = found(ext_bbox=AROUND_THE_3E_EXTENT), found(ext_bbox=AROUND_VAULX)
    for title, dataset in datasets.items():
        # Its own extent, beside Lyon's territory: found by a box around the 3e, not by one around Vaulx.
        assert title in inside and title not in away, (title, dataset.get("spatial_coverage"))
        uris = [entry.get("uri") for entry in dataset["spatial_coverage"]]
        assert "http://id.insee.fr/geo/commune/69123" in uris
    assert "spatial" not in warnings_of(job)


def copy_of(graph: rdflib.Graph, title: str, uri: str) -> None:
    """The dataset under another URI, without identifier or landing page (else the copy would be the
    original again: a duplicate, kept where it is); its Locations untouched."""
    dataset, copy_uri = dataset_titled(graph, title), URIRef(uri)
    for s, p, o in list(graph.triples((dataset, None, None))):
        graph.remove((s, p, o))
        if p not in (DCTERMS.identifier, DCAT.landingPage):
            graph.add((copy_uri, p, o))
    for s, p, o in list(graph.triples((None, None, dataset))):
        graph.remove((s, p, o))
        graph.add((s, p, copy_uri))


def test_a_dataset_harvested_from_our_own_catalogue_keeps_its_extent(app, portal, source_server):
    harvest_csw_extent(portal, source_server)
    create_with_editors_extent(portal)
    graph = catalogue(app)
    copy_of(graph, "Marchés du 3e", "http://copie.example.org/dataset/rec-3e")
    copy_of(graph, "Marchés (éditeur)", "http://copie.example.org/dataset/editeur")
    source_server.serve("/portail/catalog.ttl", graph.serialize(format="turtle"), content_type="text/turtle")
    source = make_dcat_source(portal, source_server.url("/portail/catalog.ttl"))
    job = jobs.run_source(source["id"])
    assert job["status"] == "Finished", job
    copies = harvested(source["id"])
    assert set(copies) == {"Marchés du 3e", "Marchés (éditeur)"}
    assert "spatial" not in warnings_of(job)
    from ckanext.communes.geo import bbox_of_wkt

    for title, extent in (("Marchés du 3e", THE_3E_EXTENT), ("Marchés (éditeur)", EDITORS_EXTENT)):
        geometries = [entry for entry in copies[title]["spatial_coverage"] if entry.get("geom") or entry.get("bbox")]
        assert len(geometries) == 1, copies[title]["spatial_coverage"]
        assert bbox_of_wkt(geometries[0].get("geom") or geometries[0]["bbox"]) == pytest.approx(extent)
        # Original and copy are found by a box around their extent, neither by one around Vaulx-en-Velin.
        assert [d["title"] for d in helpers_search(ext_bbox=AROUND_THE_3E_EXTENT)].count(title) == 2
        assert title not in found(ext_bbox=AROUND_VAULX)


def helpers_search(**params) -> list[dict]:
    from ckan.tests import helpers

    return helpers.call_action("package_search", rows=100, **params)["results"]


HUGE = "POLYGON((" + ", ".join(f"4.85{i:06d} 45.75" for i in range(20_000)) + "))"
NESTED = "[" * 5_000 + "]" * 5_000  # deeper than Python's recursion limit


@pytest.mark.parametrize(("name", "geometry", "why"), [
    ("huge-literal", f'"{HUGE}"^^gsp:wktLiteral', f"({len(HUGE)} "),
    ("nested-geojson", f'"{{\\"type\\": \\"Polygon\\", \\"coordinates\\": {NESTED}}}"^^gsp:geoJSONLiteral',
     "spatial_coverage"),
    ("junk-node", '[ a locn:Geometry ; gsp:asWKT "POLYGON((a b, c d))"^^gsp:wktLiteral ]', "spatial_coverage"),
    ("empty-node", "[ a locn:Geometry ]", None),
], ids=["huge", "nested", "junk-node", "empty-node"])
def test_an_invalid_or_huge_geometry_never_breaks_a_harvest(portal, source_server, name, geometry, why):
    source = make_dcat_source(portal, serve_page(source_server, f"/dcat/{name}.ttl", {name: geometry}))
    job = jobs.run_source(source["id"])
    assert job["status"] == "Finished", job
    (dataset,) = harvested(source["id"]).values()
    # Harvested, located by Lyon's territory (its box reaches into Vaulx-en-Velin's), the report says why.
    assert [entry.get("uri") for entry in dataset["spatial_coverage"]] == ["http://id.insee.fr/geo/commune/69123"]
    assert not any(entry.get("geom") or entry.get("bbox") for entry in dataset["spatial_coverage"])
    assert dataset["title"] in found(ext_bbox=AROUND_VAULX)
    if why:
        assert why in warnings_of(job)
