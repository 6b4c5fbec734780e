"""High-Value Datasets in DCAT (issue #25 items 4 and 5): a dataset with an HVD category states
dcatap:hvdCategory and dcatap:applicableLegislation <.../reg_impl/2023/138/oj>, its distributions and data
services state the legislation too; its RDF passes the SEMIC DCAT-AP HVD 3.0.0 shapes with 0 violations AND
still the DCAT-AP 3.0.1 shapes; `/catalog.ttl?hvd=1` and `/communes/{insee}/catalog.ttl?hvd=1` list the public
HVD datasets only; a junk `hvd` value is a clear 400."""

from __future__ import annotations

import functools
from typing import Any

import pytest
import rdflib
from rdflib import URIRef
from rdflib.namespace import RDF, SH, SKOS

from ckanext.communes.tests.dcat.conftest import (
    WFS,
    WFS_URL,
    create_dataset,
    dataset_graph,
    minimal_fields,
    with_official_vocabularies,
)
from ckanext.communes.tests.dcat.test_shacl import assert_valid
from ckanext.communes.tests.shared import CSV, REGI

pytestmark = pytest.mark.usefixtures("clean_db", "clean_index")

DCAT = rdflib.Namespace("http://www.w3.org/ns/dcat#")
DCATAP = rdflib.Namespace("http://data.europa.eu/r5r/")
ELI = rdflib.Namespace("http://data.europa.eu/eli/ontology#")
FOAF = rdflib.Namespace("http://xmlns.com/foaf/0.1/")
HVD_LEGISLATION = URIRef("http://data.europa.eu/eli/reg_impl/2023/138/oj")
ADDRESSES = URIRef("http://data.europa.eu/bna/c_c3de25e4")
HVD_SCHEME = URIRef("http://data.europa.eu/bna/asd487ae75")


def hvd_fields(org: dict[str, Any], name: str = "adresses-hvd") -> dict[str, Any]:
    """An HVD dataset with a bulk download (CSV, loaded into the DataStore: the Data API) and an API (WFS)."""
    return {
        "name": name,
        "title": "Base adresse locale",
        "notes": "Les adresses de la commune (BAL).",
        "owner_org": org["id"],
        "theme": [REGI],
        "hvd_category": [str(ADDRESSES)],
        "license_id": "etalab-2.0",
        "frequency": "http://publications.europa.eu/resource/authority/frequency/MONTHLY",
        "contact": [{"name": "Service SIG", "email": "sig@ville-bron.fr"}],
        "resources": [
            {"url": "https://data.ville-bron.fr/adresses.csv", "name": "Adresses (CSV)", "format": CSV,
             "datastore_active": True},
            {"url": WFS_URL, "name": "Adresses (WFS)", "format": WFS},
        ],
    }


@functools.cache
def hvd_shapes() -> rdflib.Graph:
    from ckanext.communes.quality import shacl

    graph = rdflib.Graph().parse(shacl.HVD_SHAPES_FILE, format="turtle")
    return graph


def hvd_violations(data: rdflib.Graph) -> tuple[int, str]:
    import pyshacl

    _, report_graph, report_text = pyshacl.validate(
        with_official_vocabularies(data), shacl_graph=hvd_shapes(), inference="none", allow_warnings=True)
    violations = sum(1 for result in report_graph.subjects(SH.resultSeverity, SH.Violation))
    return violations, report_text


def test_an_hvd_dataset_states_its_category_and_the_regulation_everywhere(app, sysadmin, bron):
    dataset = create_dataset(sysadmin, **hvd_fields(bron))
    graph = dataset_graph(app, dataset["id"])
    dataset_ref = next(graph.subjects(RDF.type, DCAT.Dataset))
    assert set(graph.objects(dataset_ref, DCATAP.hvdCategory)) == {ADDRESSES}
    assert set(graph.objects(dataset_ref, DCATAP.applicableLegislation)) == {HVD_LEGISLATION}
    assert (HVD_LEGISLATION, RDF.type, ELI.LegalResource) in graph
    assert (ADDRESSES, RDF.type, SKOS.Concept) in graph
    assert (ADDRESSES, SKOS.inScheme, HVD_SCHEME) in graph
    assert rdflib.Literal("Adresses", lang="fr") in set(graph.objects(ADDRESSES, SKOS.prefLabel))
    distributions = list(graph.objects(dataset_ref, DCAT.distribution))
    assert len(distributions) == 2
    for distribution in distributions:
        assert (distribution, DCATAP.applicableLegislation, HVD_LEGISLATION) in graph
    services = set(graph.subjects(RDF.type, DCAT.DataService))
    assert len(services) == 2  # the Data API of the CSV and the WFS
    for service in services:
        assert (service, DCATAP.applicableLegislation, HVD_LEGISLATION) in graph
        assert (service, DCATAP.hvdCategory, ADDRESSES) in graph
        assert graph.value(service, DCAT.contactPoint) is not None
        assert (graph.value(service, FOAF.page), RDF.type, FOAF.Document) in graph


def test_a_dataset_without_category_states_no_hvd_property(app, sysadmin, bron):
    dataset = create_dataset(sysadmin, **minimal_fields(bron))
    graph = dataset_graph(app, dataset["id"])
    assert not list(graph.triples((None, DCATAP.applicableLegislation, None)))
    assert not list(graph.triples((None, DCATAP.hvdCategory, None)))


def test_hvd_output_passes_the_hvd_shapes_and_the_dcat_ap_3_shapes(app, sysadmin, bron):
    dataset = create_dataset(sysadmin, **hvd_fields(bron))
    graph = dataset_graph(app, dataset["id"])
    violations, report = hvd_violations(graph)
    assert violations == 0, report
    assert_valid(graph)


def test_the_hvd_shapes_bite_on_an_hvd_dataset_without_the_legislation(app, sysadmin, bron):
    dataset = create_dataset(sysadmin, **hvd_fields(bron))
    graph = dataset_graph(app, dataset["id"])
    graph.remove((None, DCATAP.applicableLegislation, None))
    violations, _ = hvd_violations(graph)
    assert violations >= 4  # the dataset, its two distributions, its two services


def _catalogue_datasets(app: Any, url: str) -> set[str]:
    graph = rdflib.Graph().parse(data=app.get(url, status=200).body, format="turtle")
    return {str(graph.value(ref, rdflib.namespace.DCTERMS.title)) for ref in graph.subjects(RDF.type, DCAT.Dataset)}


def test_catalogues_with_hvd_1_list_the_public_hvd_datasets_only(app, sysadmin, bron):
    create_dataset(sysadmin, **hvd_fields(bron))
    create_dataset(sysadmin, **dict(hvd_fields(bron, name="adresses-brouillon"), title="Privé", private=True))
    create_dataset(sysadmin, **minimal_fields(bron))
    assert _catalogue_datasets(app, "/catalog.ttl") == {"Base adresse locale", "Arbres d'alignement"}
    assert _catalogue_datasets(app, "/catalog.ttl?hvd=1") == {"Base adresse locale"}
    assert _catalogue_datasets(app, "/communes/69029/catalog.ttl?hvd=1") == {"Base adresse locale"}
    assert _catalogue_datasets(app, "/communes/69029/catalog.ttl?hvd=0") == {
        "Base adresse locale", "Arbres d'alignement"}


@pytest.mark.parametrize("url", ["/catalog.ttl?hvd=oui", "/catalog.rdf?hvd=2", "/communes/69029/catalog.ttl?hvd=x",
                                 "/catalog.ttl?hvd=1&hvd=0"])
def test_a_junk_hvd_value_is_a_clear_400(app, url):
    response = app.get(url, status=400)
    assert "hvd" in response.body and "hvd=1" in response.body


@pytest.mark.ckan_config("ckanext.dcat.datasets_per_page", "1")
@pytest.mark.parametrize("path", ["/catalog.ttl", "/communes/69029/catalog.ttl"])
def test_the_page_links_of_an_hvd_catalogue_keep_hvd_1(app, sysadmin, bron, path):
    create_dataset(sysadmin, **hvd_fields(bron))
    create_dataset(sysadmin, **hvd_fields(bron, name="adresses-2"))
    create_dataset(sysadmin, **minimal_fields(bron))
    graph = rdflib.Graph().parse(data=app.get(f"{path}?hvd=1", status=200).body, format="turtle")
    hydra = rdflib.Namespace("http://www.w3.org/ns/hydra/core#")
    assert {str(total) for total in graph.objects(None, hydra.totalItems)} == {"2"}
    (next_page,) = graph.objects(None, hydra.next)
    assert "hvd=1" in str(next_page) and "page=2" in str(next_page)
    second = rdflib.Graph().parse(data=app.get(str(next_page).split("test.ckan.net", 1)[-1], status=200).body,
                                  format="turtle")
    assert len(list(second.subjects(RDF.type, DCAT.Dataset))) == 1
