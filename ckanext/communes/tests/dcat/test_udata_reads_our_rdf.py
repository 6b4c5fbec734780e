"""Our RDF read the way data.gouv.fr's DCAT harvester (udata) reads it (issue #12): what udata looks at
on each node, and nothing else."""

from __future__ import annotations

import json
import re

import pytest
import rdflib
from rdflib import URIRef
from rdflib.namespace import DCTERMS, RDF, RDFS

from ckanext.communes.communes.registry import get_commune_geometry
from ckanext.communes.licences.registry import get_licence
from ckanext.communes.tests.dcat.conftest import (
    DATAGOUV_LICENCES,
    SCDL_EQUIPEMENTS,
    WFS_URL,
    create_dataset,
    full_fields,
    minimal_fields,
    several_resources_fields,
)

pytestmark = pytest.mark.usefixtures("clean_db", "clean_index")

DCAT = rdflib.Namespace("http://www.w3.org/ns/dcat#")
SPDX = rdflib.Namespace("http://spdx.org/rdf/terms#")
WKT = URIRef("http://www.opengis.net/ont/geosparql#wktLiteral")


def commune_catalogue(app) -> rdflib.Graph:
    return rdflib.Graph().parse(data=app.get("/communes/69029/catalog.ttl", status=200).body, format="turtle")


def by_access_url(graph: rdflib.Graph) -> dict[str, URIRef]:
    return {str(graph.value(d, DCAT.accessURL)): d for d in graph.subjects(RDF.type, DCAT.Distribution)}


def datagouv_titles() -> dict[str, set[str]]:
    """data.gouv.fr licence id -> every title it recognises (title and alternate titles)."""
    licences = json.loads(DATAGOUV_LICENCES.read_text(encoding="utf-8"))
    return {entry["id"]: {entry["title"], *entry["alternate_titles"]} for entry in licences}


def wkt_bounds(text: str) -> tuple[float, float, float, float]:
    """Bounds of a WKT geometry: shapely when installed, else its coordinates read as numbers."""
    try:
        from shapely import wkt as shapely_wkt
    except ImportError:
        numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", text)]
        assert text.strip().upper().startswith(("POLYGON", "POINT")) and len(numbers) % 2 == 0
        return min(numbers[0::2]), min(numbers[1::2]), max(numbers[0::2]), max(numbers[1::2])
    return shapely_wkt.loads(text).bounds


@pytest.mark.parametrize(
    ("licence_id", "url"),
    [("etalab-2.0", "https://data.ville-bron.fr/budget.csv"), ("ODbL-1.0", "https://data.ville-bron.fr/budget.json")],
)
def test_licence_label_is_a_title_data_gouv_fr_knows_for_that_licence(app, sysadmin, bron, licence_id, url):
    fields = several_resources_fields(bron)
    fields["license_id"] = licence_id
    create_dataset(sysadmin, **fields)
    graph = commune_catalogue(app)
    licence = graph.value(by_access_url(graph)[url], DCTERMS.license)
    # udata reads rdfs:label (or dct:description) of the licence node, never dct:title.
    labels = {str(label) for label in graph.objects(licence, RDFS.label)}
    udata_id = get_licence(licence_id).udata_id
    assert labels and labels <= datagouv_titles()[udata_id]
    assert (licence, RDF.type, DCTERMS.LicenseDocument) in graph
    assert URIRef(get_licence(licence_id).url) in set(graph.objects(licence, RDFS.seeAlso))


def test_commune_territory_has_a_wkt_bbox_and_centroid_inside_the_commune(app, sysadmin, bron):
    create_dataset(sysadmin, **minimal_fields(bron))
    graph = commune_catalogue(app)
    territory = URIRef("http://id.insee.fr/geo/commune/69029")
    west, south, east, north = get_commune_geometry("69029").bbox
    assert 4.8 < west < east < 5.0 and 45.6 < south < north < 45.8  # Bron, not a swapped lat/lon
    for predicate in (DCAT.bbox, DCAT.centroid):
        (literal,) = list(graph.objects(territory, predicate))
        assert literal.datatype == WKT
        min_x, min_y, max_x, max_y = wkt_bounds(str(literal))
        assert west - 1e-9 <= min_x <= max_x <= east + 1e-9
        assert south - 1e-9 <= min_y <= max_y <= north + 1e-9


def test_a_stored_bbox_gets_a_wkt_bbox_and_centroid(app, sysadmin, bron):
    bbox = {"type": "Polygon",
            "coordinates": [[[4.9, 45.72], [4.92, 45.72], [4.92, 45.74], [4.9, 45.74], [4.9, 45.72]]]}
    create_dataset(
        sysadmin,
        **{**minimal_fields(bron), "spatial_coverage": [{"text": "Parc de Parilly", "bbox": json.dumps(bbox)}]}
    )
    graph = commune_catalogue(app)
    dataset = next(graph.subjects(RDF.type, DCAT.Dataset))
    (location,) = list(graph.objects(dataset, DCTERMS.spatial))
    assert wkt_bounds(str(graph.value(location, DCAT.bbox))) == pytest.approx((4.9, 45.72, 4.92, 45.74))
    assert graph.value(location, DCAT.centroid).datatype == WKT
    assert wkt_bounds(str(graph.value(location, DCAT.centroid))) == pytest.approx((4.91, 45.73, 4.91, 45.73))


def test_wfs_is_a_data_service_and_files_stay_files(app, sysadmin, bron):
    create_dataset(sysadmin, **several_resources_fields(bron))
    graph = commune_catalogue(app)
    distributions = by_access_url(graph)
    wfs = distributions[WFS_URL]
    service = graph.value(wfs, DCAT.accessService)
    assert (service, RDF.type, DCAT.DataService) in graph
    assert graph.value(service, DCTERMS.conformsTo) == URIRef("http://www.opengeospatial.org/standards/wfs")
    assert graph.value(service, DCAT.endpointURL) == URIRef("https://data.ville-bron.fr/geoserver/wfs")
    assert graph.value(service, DCTERMS.title) is not None
    assert graph.value(wfs, DCAT.accessURL) == URIRef(WFS_URL)
    assert graph.value(distributions["https://data.ville-bron.fr/budget.csv"], DCAT.accessService) is None


def test_byte_size_and_checksum_when_known(app, sysadmin, bron):
    create_dataset(sysadmin, **several_resources_fields(bron))
    graph = commune_catalogue(app)
    distributions = by_access_url(graph)
    csv = distributions["https://data.ville-bron.fr/budget.csv"]
    assert int(graph.value(csv, DCAT.byteSize)) == 2048
    checksum = graph.value(csv, SPDX.checksum)
    assert str(graph.value(checksum, SPDX.checksumValue)) == (
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    )
    assert str(graph.value(checksum, SPDX.algorithm)).endswith("checksumAlgorithm_sha256")
    json_distribution = distributions["https://data.ville-bron.fr/budget.json"]
    assert graph.value(json_distribution, DCAT.byteSize) is None
    assert graph.value(json_distribution, SPDX.checksum) is None


def test_scdl_schema_is_on_the_distributions_the_dataset_declares_it_for(app, sysadmin, bron):
    fields = full_fields(bron)
    fields["resources"].append({"url": "https://data.ville-bron.fr/equipements.xlsx", "name": "Tableur"})
    create_dataset(sysadmin, **fields)
    graph = commune_catalogue(app)
    distributions = by_access_url(graph)
    schema = URIRef(SCDL_EQUIPEMENTS)
    dataset = next(graph.subjects(RDF.type, DCAT.Dataset))
    assert (dataset, DCTERMS.conformsTo, schema) in graph
    # Stored on the CSV; copied down to the spreadsheet (tabular); not on the GeoJSON nor the WFS.
    assert (distributions["https://data.ville-bron.fr/equipements.csv"], DCTERMS.conformsTo, schema) in graph
    assert (distributions["https://data.ville-bron.fr/equipements.xlsx"], DCTERMS.conformsTo, schema) in graph
    assert (distributions["https://data.ville-bron.fr/equipements.geojson"], DCTERMS.conformsTo, None) not in graph
    assert (distributions[WFS_URL], DCTERMS.conformsTo, schema) not in graph
