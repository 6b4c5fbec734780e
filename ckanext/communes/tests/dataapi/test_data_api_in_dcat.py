"""The Data API in DCAT (issue #23 item 5): a resource loaded into the DataStore is accessed through a
dcat:DataService (its endpoint the datastore_search address of the resource, the dataset it serves, a title, the
API's documentation when the operator gives it), linked from its distribution with dcat:accessService, so that
data.gouv.fr, data.europa.eu and the HVD checks see the API. DCAT-AP 3.0.1's shapes find no violation, and the
distribution stays a file for udata's reader (its access URL, format)."""

from __future__ import annotations

import pytest
import rdflib
from ckan import model
from rdflib import Literal, URIRef
from rdflib.namespace import DCTERMS, RDF

from ckanext.communes.tests.dataapi.conftest import DATA_API, create_dataset, load
from ckanext.communes.tests.dcat.conftest import dataset_graph
from ckanext.communes.tests.dcat.test_shacl import assert_valid
from ckanext.communes.tests.shared import CSV

pytestmark = [DATA_API, pytest.mark.usefixtures("clean_db", "loader")]

DCAT = rdflib.Namespace("http://www.w3.org/ns/dcat#")
API_DOCS = "https://data.grandlyon.com/portail/fr/documentation/api-de-donnees"
EQUIPEMENTS = "nom,type\nStade Pierre Duboeuf,stade\nPiscine du Grand Large,piscine\n"


def _distribution(graph: rdflib.Graph) -> URIRef:
    (distribution,) = graph.subjects(RDF.type, DCAT.Distribution)
    return distribution


def test_a_loaded_resource_is_served_by_the_data_api_in_dcat_without_shacl_violation(
        app, loader, bron, source_server, allow_private_addresses, ckan_config, monkeypatch):
    monkeypatch.setitem(ckan_config, "ckanext.communes.datastore.api_docs_url", API_DOCS)
    source_server.serve("/equipements.csv", EQUIPEMENTS, content_type="text/csv")
    dataset = create_dataset(bron["id"], source_server.url("/equipements.csv"))
    resource_id = dataset["resources"][0]["id"]
    before = dataset_graph(app, dataset["id"])
    assert before.value(_distribution(before), DCAT.accessService) is None  # not loaded yet: a file only

    assert load(resource_id)["status"] == "complete"

    graph = dataset_graph(app, dataset["id"])
    dataset_ref = next(graph.subjects(RDF.type, DCAT.Dataset))
    distribution = _distribution(graph)
    service = graph.value(distribution, DCAT.accessService)
    assert (service, RDF.type, DCAT.DataService) in graph
    assert graph.value(service, DCAT.endpointURL) == URIRef(
        f"{loader}/api/3/action/datastore_search?resource_id={resource_id}")
    assert graph.value(service, DCAT.servesDataset) == dataset_ref
    assert graph.value(service, DCTERMS.title) == Literal("API de données : Équipements")
    assert graph.value(service, DCAT.endpointDescription) == URIRef(API_DOCS)
    # udata's reader: the distribution is still the file, with its access URL and EU format.
    assert graph.value(distribution, DCAT.accessURL) == URIRef(source_server.url("/equipements.csv"))
    assert graph.value(distribution, DCTERMS["format"]) == URIRef(CSV)
    assert_valid(graph)
    model.Session.remove()


def test_without_the_api_docs_option_the_service_has_no_endpoint_description(
        app, loader, bron, source_server, allow_private_addresses):
    source_server.serve("/equipements.csv", EQUIPEMENTS, content_type="text/csv")
    dataset = create_dataset(bron["id"], source_server.url("/equipements.csv"))
    assert load(dataset["resources"][0]["id"])["status"] == "complete"

    graph = dataset_graph(app, dataset["id"])
    service = graph.value(_distribution(graph), DCAT.accessService)
    assert (service, RDF.type, DCAT.DataService) in graph
    assert graph.value(service, DCAT.endpointDescription) is None
    model.Session.remove()
