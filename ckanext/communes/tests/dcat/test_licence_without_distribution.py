"""Issue #22 item 4: a dataset with no distribution yet still states its licence in RDF, where data.gouv.fr's
DCAT harvester (udata) reads it: ``dct:license`` on the dataset node (udata's ``dataset_from_rdf`` reads the
dataset's own dct:license first, the label of the node when it has one, then its distributions'), and the
output still has no DCAT-AP 3.0.1 violation."""

from __future__ import annotations

import pytest
import rdflib
from rdflib.namespace import DCTERMS, RDF, RDFS

from ckanext.communes.licences.registry import get_licence
from ckanext.communes.tests.dcat.conftest import (
    PROFILES,
    create_dataset,
    dataset_graph,
    minimal_fields,
    several_resources_fields,
)
from ckanext.communes.tests.dcat.test_shacl import assert_valid
from ckanext.communes.tests.dcat.test_udata_reads_our_rdf import datagouv_titles
from ckanext.dcat.processors import RDFParser

pytestmark = pytest.mark.usefixtures("clean_db", "clean_index")

DCAT = rdflib.Namespace("http://www.w3.org/ns/dcat#")


def udata_dataset_licence_hints(graph: rdflib.Graph, dataset: rdflib.term.Node) -> list[str]:
    """What udata's dataset_from_rdf hands License.guess, in its order: the dataset's dct:license and
    dct:rights values (the rdfs:label of a node when it has one, else its URI), then its distributions'."""
    def serialised(value: rdflib.term.Node) -> str:
        label = graph.value(value, RDFS.label) if not isinstance(value, rdflib.Literal) else None
        return str(label) if label is not None else str(value)

    hints = [serialised(v) for p in (DCTERMS.license, DCTERMS.rights) for v in graph.objects(dataset, p)]
    for distribution in graph.objects(dataset, DCAT.distribution):
        hints += [serialised(v) for p in (DCTERMS.license, DCTERMS.rights) for v in graph.objects(distribution, p)]
    return hints


def udata_guess(hints: list[str]) -> str | None:
    """udata's License.guess on exact matches (id, title, alternate titles): the data.gouv.fr licence id."""
    for hint in hints:
        for udata_id, titles in datagouv_titles().items():
            if hint.strip().lower() == udata_id or hint.strip().lower() in {t.lower() for t in titles}:
                return udata_id
    return None


@pytest.mark.parametrize("licence_id", ["etalab-2.0", "ODbL-1.0", "fr-lo"])
def test_a_dataset_without_distribution_states_its_licence_and_udata_reads_it(app, sysadmin, bron, licence_id):
    dataset = create_dataset(sysadmin, **{**minimal_fields(bron), "license_id": licence_id})
    assert not dataset["resources"]
    graph = dataset_graph(app, dataset["id"])
    node = next(graph.subjects(RDF.type, DCAT.Dataset))
    licences = list(graph.objects(node, DCTERMS.license))
    assert len(licences) == 1
    assert (licences[0], RDF.type, DCTERMS.LicenseDocument) in graph
    assert udata_guess(udata_dataset_licence_hints(graph, node)) == get_licence(licence_id).udata_id
    assert_valid(graph)


def test_the_dataset_licence_is_parsed_back_when_there_is_no_distribution(app, sysadmin, bron):
    dataset = create_dataset(sysadmin, **{**minimal_fields(bron), "license_id": "ODbL-1.0"})
    parser = RDFParser(profiles=PROFILES.split())
    parser.parse(app.get(f"/dataset/{dataset['id']}.ttl", status=200).body, _format="ttl")
    (parsed,) = list(parser.datasets())
    assert parsed["license_id"] == "ODbL-1.0"


def test_with_distributions_the_licence_stays_on_them_only(app, sysadmin, bron):
    dataset = create_dataset(sysadmin, **several_resources_fields(bron))
    graph = dataset_graph(app, dataset["id"])
    node = next(graph.subjects(RDF.type, DCAT.Dataset))
    assert not list(graph.objects(node, DCTERMS.license))
