"""The publisher in the RDF is the owner organisation's CURRENT profile, not the copy the dataset
stored when it was last saved."""

from __future__ import annotations

import pytest
import rdflib
from ckan.tests import helpers
from rdflib import Literal, URIRef
from rdflib.namespace import DCTERMS, FOAF, RDF

from ckanext.communes.tests.dcat.conftest import MIONS, create_dataset, dataset_graph, minimal_fields

pytestmark = pytest.mark.usefixtures("clean_db", "clean_index")

DCAT = rdflib.Namespace("http://www.w3.org/ns/dcat#")


def publisher_of(graph: rdflib.Graph) -> URIRef:
    (publisher,) = list(graph.objects(next(graph.subjects(RDF.type, DCAT.Dataset)), DCTERMS.publisher))
    return publisher


def test_publisher_follows_the_dataset_to_its_new_commune(app, sysadmin, bron, make_org):
    mions = make_org(MIONS)
    dataset = create_dataset(sysadmin, **minimal_fields(bron))
    helpers.call_action(
        "package_owner_org_update", context={"user": sysadmin["name"], "ignore_auth": True},
        id=dataset["id"], organization_id=mions["id"],
    )
    for graph in (
        dataset_graph(app, dataset["id"]),
        rdflib.Graph().parse(data=app.get("/communes/69283/catalog.ttl", status=200).body, format="turtle"),
    ):
        publisher = publisher_of(graph)
        assert publisher == URIRef("http://test.ckan.net/communes/69283")
        assert graph.value(publisher, FOAF.name) == Literal("Commune de Mions")
        assert graph.value(publisher, DCTERMS.identifier) == Literal("216902833")
        assert not list(graph.subjects(FOAF.name, Literal("Commune de Bron")))


def test_publisher_follows_a_corrected_official_name(app, sysadmin, bron):
    dataset = create_dataset(sysadmin, **minimal_fields(bron))
    helpers.call_action(
        "organization_patch", context={"user": sysadmin["name"], "ignore_auth": True},
        id=bron["id"], official_name="Ville de Bron",
    )
    graph = rdflib.Graph().parse(data=app.get("/communes/69029/catalog.ttl", status=200).body, format="turtle")
    publisher = publisher_of(graph)
    assert list(graph.objects(publisher, FOAF.name)) == [Literal("Ville de Bron")]
    assert list(dataset_graph(app, dataset["id"]).objects(publisher, FOAF.name)) == [Literal("Ville de Bron")]


def test_a_stale_stored_publisher_gives_way_to_the_owner(sysadmin, bron, make_org):
    """A record indexed before its owner changed (Solr's copy, a harvest) still carries the former
    publisher: the RDF states the current owner's."""
    from ckanext.communes.tests.dcat.conftest import PROFILES
    from ckanext.dcat.processors import RDFSerializer

    mions = make_org(MIONS)
    stale = {"uri": "http://test.ckan.net/communes/69029", "name": "Commune de Bron", "identifier": "216900290"}
    serializer = RDFSerializer(profiles=PROFILES.split())
    dataset_ref = serializer.graph_from_dataset(
        {"id": "abc", "name": "x", "title": "X", "notes": "Y", "owner_org": mions["id"], "publisher": [stale],
         "resources": []}
    )
    graph = serializer.g
    assert list(graph.objects(dataset_ref, DCTERMS.publisher)) == [URIRef("http://test.ckan.net/communes/69283")]
    assert not list(graph.subjects(FOAF.name, Literal("Commune de Bron")))
