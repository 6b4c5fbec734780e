"""Harvested extents for place search (issue #24): a source's own extent (CSW EX_GeographicBoundingBox, DCAT
locn:geometry / dcat:bbox) is what a bounding-box search finds, when it is valid and in or near the Métropole;
a world-wide default or an invalid geometry leaves the dataset harvested with its commune's territory, and the
harvest report says why. Real fixture servers on 127.0.0.1, real ckanext-harvest stages, real Solr."""

from __future__ import annotations

import json

import pytest
from ckan.tests import factories, helpers

from ckanext.communes.communes import seeding
from ckanext.communes.harvesters import jobs
from ckanext.communes.harvesters.report import report_for_job
from ckanext.communes.tests.communes.conftest import write_communes_csv
from ckanext.communes.tests.harvesters.checks import harvested
from ckanext.communes.tests.harvesters.test_csw_harvest import COMMUNES, GeoNetwork, make_source, record
from ckanext.communes.tests.harvesters.test_dcat_harvest import make_source as make_dcat_source

pytestmark = pytest.mark.usefixtures("clean_db", "clean_index", "allow_private_addresses")

AROUND_THE_3E_EXTENT = "4.84,45.742,4.87,45.76"
AROUND_VAULX = "4.88,45.745,4.97,45.81"  # Vaulx-en-Velin's box reaches into Lyon's (from 4.8798 east)
AROUND_GIVORS = "4.71,45.56,4.80,45.61"


@pytest.fixture
def portal(tmp_path):
    seeding.seed(path=str(write_communes_csv(tmp_path / "communes.csv", COMMUNES)))
    return {"sysadmin": factories.Sysadmin()}


def csw_record(identifier: str, title: str, west: str, east: str, south: str, north: str) -> str:
    """Lyon's fixture record (routed to Lyon) with another identifier, title and bounding box."""
    text = record("lyon-velov")
    for side, value in (("west", west), ("east", east), ("south", south), ("north", north)):
        old = {"west": "4.77", "east": "4.83", "south": "45.73", "north": "45.77"}[side]
        text = text.replace(f"<gmd:{side}BoundLongitude><gco:Decimal>{old}</gco:Decimal>",
                            f"<gmd:{side}BoundLongitude><gco:Decimal>{value}</gco:Decimal>")
        text = text.replace(f"<gmd:{side}BoundLatitude><gco:Decimal>{old}</gco:Decimal>",
                            f"<gmd:{side}BoundLatitude><gco:Decimal>{value}</gco:Decimal>")
    return (text.replace("2b3c4d5e-0002-4a6b-8c9d-b40a1f7e0002", identifier)
            .replace("Stations Vélo'v du 5e arrondissement", title))


def found(**params) -> set[str]:
    return {d["title"] for d in helpers.call_action("package_search", rows=100, **params)["results"]}


def warnings_of(job: dict) -> str:
    return " ".join(m["message"] for m in report_for_job(job["id"]).messages if m["level"] == "warning")


def test_a_csw_extent_inside_lyon_3e_is_found_by_a_box_around_it_and_not_by_one_around_vaulx(portal, source_server):
    gn = GeoNetwork(source_server, records=[
        csw_record("rec-3e", "Marchés du 3e", "4.845", "4.86", "45.745", "45.755"),
        csw_record("rec-world", "Jeu au monde entier", "-180", "180", "-90", "90"),
    ])
    source = make_source(portal, gn.url)
    job = jobs.run_source(source["id"])
    assert job["status"] == "Finished"
    datasets = harvested(source["id"])
    assert set(datasets) == {"Marchés du 3e", "Jeu au monde entier"}
    assert "Marchés du 3e" in found(ext_bbox=AROUND_THE_3E_EXTENT)
    assert "Marchés du 3e" not in found(ext_bbox=AROUND_VAULX)

    # The world-wide default box is not an extent: harvested all the same, located by its commune (Lyon,
    # whose box reaches into Vaulx-en-Velin's), the box kept aside and the report says why.
    world = datasets["Jeu au monde entier"]
    assert [entry.get("uri") for entry in world["spatial_coverage"]] == ["http://id.insee.fr/geo/commune/69123"]
    assert "-180" in json.loads(world["harvest_unmapped"])["spatial_coverage"][0]
    assert "Jeu au monde entier" in found(ext_bbox=AROUND_VAULX)
    assert "Jeu au monde entier" not in found(ext_bbox=AROUND_GIVORS)
    assert "spatial_coverage" in warnings_of(job) and "Métropole" in warnings_of(job)


DCAT_PAGE = """
@prefix dcat: <http://www.w3.org/ns/dcat#> .
@prefix dct: <http://purl.org/dc/terms/> .
@prefix foaf: <http://xmlns.com/foaf/0.1/> .
@prefix locn: <http://www.w3.org/ns/locn#> .
@prefix gsp: <http://www.opengis.net/ont/geosparql#> .

<{base}/catalog> a dcat:Catalog ; dct:title "Catalogue" ; dcat:dataset <{base}/ds/noeud>, <{base}/ds/place> .

<{base}/ds/noeud> a dcat:Dataset ;
    dct:identifier "noeud" ;
    dct:title "Noeud papillon" ;
    dct:description "Une géométrie qui se recoupe." ;
    dcat:theme <http://publications.europa.eu/resource/authority/data-theme/ENVI> ;
    dct:publisher [ a foaf:Agent ; foaf:name "Ville de Lyon" ; dct:identifier "69123" ] ;
    dct:spatial [ a dct:Location ;
        locn:geometry "POLYGON((4.85 45.75, 4.87 45.77, 4.87 45.75, 4.85 45.77, 4.85 45.75))"^^gsp:wktLiteral ] .

<{base}/ds/place> a dcat:Dataset ;
    dct:identifier "place" ;
    dct:title "Place Guichard" ;
    dct:description "Une emprise dans le 3e." ;
    dcat:theme <http://publications.europa.eu/resource/authority/data-theme/ENVI> ;
    dct:publisher [ a foaf:Agent ; foaf:name "Ville de Lyon" ; dct:identifier "69123" ] ;
    dct:spatial [ a dct:Location ;
        dcat:bbox "POLYGON((4.845 45.745, 4.86 45.745, 4.86 45.755, 4.845 45.755, 4.845 45.745))"^^gsp:wktLiteral ] .
"""


def test_an_invalid_dcat_geometry_leaves_the_dataset_harvested_with_its_communes_extent(portal, source_server):
    base = source_server.url("/").rstrip("/")
    source_server.serve("/dcat/catalog.ttl", DCAT_PAGE.replace("{base}", base), content_type="text/turtle")
    source = make_dcat_source(portal, source_server.url("/dcat/catalog.ttl"))
    job = jobs.run_source(source["id"])
    assert job["status"] == "Finished"
    datasets = harvested(source["id"])
    assert set(datasets) == {"Noeud papillon", "Place Guichard"}
    bowtie = datasets["Noeud papillon"]
    # ckanext-dcat reads locn:geometry into ckanext-spatial's ``spatial`` field (GeoJSON): set aside, kept.
    assert not bowtie.get("spatial")
    assert all(not entry.get("geom") for entry in bowtie.get("spatial_coverage") or [])
    assert "4.87, 45.77" in json.dumps(json.loads(bowtie["harvest_unmapped"]))
    # Located by Lyon's box, which reaches into Vaulx-en-Velin's; the report names the self-intersection.
    assert "Noeud papillon" in found(ext_bbox=AROUND_VAULX)
    assert "intersection" in warnings_of(job)
    # The valid dcat:bbox is the dataset's extent: inside the 3e, away from Vaulx-en-Velin.
    assert "Place Guichard" in found(ext_bbox=AROUND_THE_3E_EXTENT)
    assert "Place Guichard" not in found(ext_bbox=AROUND_VAULX)
