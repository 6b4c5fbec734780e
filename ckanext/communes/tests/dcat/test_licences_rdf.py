"""Every licence appears in the RDF as a dct:LicenseDocument node, open or not: never dropped, never a
literal, never on the dataset node (DCAT-AP 3 puts it on distributions and the catalogue)."""

from __future__ import annotations

import pytest
import rdflib
from rdflib import BNode, Literal, URIRef
from rdflib.namespace import DCTERMS, RDF, RDFS, SKOS

from ckanext.communes import uris
from ckanext.communes.tests.dcat.conftest import PROFILES, create_dataset, dataset_graph, minimal_fields
from ckanext.communes.tests.shared import EU
from ckanext.dcat.processors import RDFParser, RDFSerializer

pytestmark = pytest.mark.usefixtures("clean_db", "clean_index")

DCAT = rdflib.Namespace("http://www.w3.org/ns/dcat#")
NOT_OPEN = URIRef("http://purl.org/adms/licencetype/OtherRestrictiveClauses")


def with_one_resource(fields: dict, **resource) -> dict:
    return {**fields, "resources": [{"url": "https://data.ville-bron.fr/x.csv", "name": "X", **resource}]}


def only_licence(graph: rdflib.Graph):
    distribution = next(graph.subjects(RDF.type, DCAT.Distribution))
    licences = list(graph.objects(distribution, DCTERMS.license))
    assert len(licences) == 1
    return licences[0]


@pytest.mark.parametrize(
    ("licence_id", "title", "licence_type"),
    [
        ("grandlyon-engagee", "Licence engagée (Métropole de Lyon)", NOT_OPEN),
        ("other-closed", "Autre licence (non ouverte)", NOT_OPEN),
        ("other-nc", "Autre licence (pas d'usage commercial)", URIRef("http://purl.org/adms/licencetype/NonCommercialUseOnly")),
    ],
)
def test_a_licence_that_is_not_open_is_a_licence_document_saying_so(app, sysadmin, bron, licence_id, title,
                                                                    licence_type):
    dataset = create_dataset(sysadmin, **with_one_resource({**minimal_fields(bron), "license_id": licence_id}))
    graph = dataset_graph(app, dataset["id"])
    node = only_licence(graph)
    # No URL and no EU URI: the portal's own URI, which /licences/<id> serves.
    assert node == URIRef(uris.licence_uri(licence_id))
    assert (node, RDF.type, DCTERMS.LicenseDocument) in graph
    assert (node, DCTERMS.title, Literal(title, lang="fr")) in graph
    assert graph.value(node, RDFS.label) == Literal(title)
    assert list(graph.objects(node, DCTERMS.type)) == [licence_type]
    assert (licence_type, SKOS.inScheme, URIRef(uris.LICENCE_TYPE_SCHEME)) in graph
    comments = {c.language: str(c) for c in graph.objects(node, RDFS.comment)}
    assert comments["fr"].startswith("Licence non ouverte")


def test_an_open_licence_says_it_is_open_and_carries_its_eu_concept_labels(app, sysadmin, bron):
    dataset = create_dataset(sysadmin, **with_one_resource(minimal_fields(bron)))
    graph = dataset_graph(app, dataset["id"])
    node = only_licence(graph)
    assert node == URIRef(f"{EU}/licence/ETALAB_2_0")
    assert not list(graph.objects(node, DCTERMS.type))
    assert {c.language: str(c) for c in graph.objects(node, RDFS.comment)}["fr"].startswith("Licence ouverte")
    assert (node, SKOS.inScheme, URIRef(f"{EU}/licence")) in graph
    assert (node, SKOS.prefLabel, Literal("Licence Ouverte / Open Licence version 2.0", lang="fr")) in graph


@pytest.mark.parametrize(
    "value", ["Licence maison de la commune, voir conditions", "https://www.example.org/conditions-reutilisation"]
)
def test_a_licence_unknown_to_the_registry_is_a_node_labelled_with_the_original_text(bron, value):
    """A harvested dataset stores its source's licence as-is: it never becomes a literal dct:license."""
    serializer = RDFSerializer(profiles=PROFILES.split())
    serializer.graph_from_dataset(
        {"id": "abc", "name": "x", "title": "X", "notes": "Y", "owner_org": bron["id"], "license_id": value,
         "resources": [{"id": "r1", "url": "https://example.org/x.csv", "package_id": "abc"}]}
    )
    graph = serializer.g
    licences = list(graph.objects(None, DCTERMS.license))
    assert licences and not any(isinstance(node, Literal) for node in licences)
    (node,) = set(licences)
    assert isinstance(node, BNode if not value.startswith("http") else URIRef)
    assert (node, RDF.type, DCTERMS.LicenseDocument) in graph
    assert graph.value(node, RDFS.label) == Literal(value)
    assert graph.value(node, DCTERMS.type) == URIRef(uris.LICENCE_TYPE_UNKNOWN)
    # ... and parses back to the original text.
    parser = RDFParser(profiles=PROFILES.split())
    parser.g = graph
    assert next(iter(parser.datasets()))["license_id"] == value


def test_no_licence_on_the_dataset_node_and_parsed_back_from_the_distributions(app, sysadmin, bron):
    dataset = create_dataset(
        sysadmin, **with_one_resource({**minimal_fields(bron), "license_id": "grandlyon-associee"})
    )
    body = app.get(f"/dataset/{dataset['id']}.ttl", status=200).body
    graph = rdflib.Graph().parse(data=body, format="turtle")
    assert not list(graph.objects(next(graph.subjects(RDF.type, DCAT.Dataset)), DCTERMS.license))
    parser = RDFParser(profiles=PROFILES.split())
    parser.parse(body, _format="ttl")
    (parsed,) = list(parser.datasets())
    assert parsed["license_id"] == "grandlyon-associee"
    assert "license" not in parsed["resources"][0]


@pytest.mark.parametrize("path", ["/catalog.ttl", "/communes/69029/catalog.ttl"])
def test_catalogues_state_the_licence_of_their_metadata(app, bron, ckan_config, monkeypatch, path):
    graph = rdflib.Graph().parse(data=app.get(path, status=200).body, format="turtle")
    catalog = next(graph.subjects(RDF.type, DCAT.Catalog))
    assert list(graph.objects(catalog, DCTERMS.license)) == [URIRef(f"{EU}/licence/ETALAB_2_0")]
    monkeypatch.setitem(ckan_config, "ckanext.communes.catalogue_licence", "ODbL-1.0")
    graph = rdflib.Graph().parse(data=app.get(path, status=200).body, format="turtle")
    catalog = next(graph.subjects(RDF.type, DCAT.Catalog))
    licence = graph.value(catalog, DCTERMS.license)
    assert licence == URIRef(f"{EU}/licence/ODC_BL")
    assert (licence, RDF.type, DCTERMS.LicenseDocument) in graph
