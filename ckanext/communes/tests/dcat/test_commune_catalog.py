"""/communes/{insee}/catalog.{ttl,rdf,xml,jsonld}: one commune's public datasets in a dcat:Catalog
published by the commune, paged like ckanext-dcat's /catalog."""

from __future__ import annotations

import pytest
import rdflib
from rdflib import Literal, URIRef
from rdflib.namespace import DCTERMS, FOAF, RDF

from ckanext.communes import uris
from ckanext.communes.tests.dcat.conftest import (
    MIONS,
    OULLINS_PIERRE_BENITE,
    create_dataset,
    minimal_fields,
)

pytestmark = pytest.mark.usefixtures("clean_db", "clean_index")

DCAT = rdflib.Namespace("http://www.w3.org/ns/dcat#")
HYDRA = rdflib.Namespace("http://www.w3.org/ns/hydra/core#")
RDFLIB_FORMATS = {"ttl": "turtle", "rdf": "xml", "xml": "xml", "jsonld": "json-ld"}


def catalogue(app, insee: str, fmt: str = "ttl", **params) -> rdflib.Graph:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    response = app.get(f"/communes/{insee}/catalog.{fmt}" + (f"?{query}" if query else ""), status=200)
    return rdflib.Graph().parse(data=response.body, format=RDFLIB_FORMATS[fmt])


def dataset_titles(graph: rdflib.Graph) -> set[str]:
    return {str(graph.value(d, DCTERMS.title)) for d in graph.subjects(RDF.type, DCAT.Dataset)}


def test_catalogue_is_published_by_the_commune_with_titles_in_french_and_english(app, sysadmin, bron):
    create_dataset(sysadmin, **minimal_fields(bron))
    graph = catalogue(app, "69029")
    catalog = URIRef(uris.commune_catalog_uri("69029"))
    assert (catalog, RDF.type, DCAT.Catalog) in graph
    publisher = graph.value(catalog, DCTERMS.publisher)
    assert publisher == URIRef("http://test.ckan.net/communes/69029")
    assert graph.value(publisher, DCTERMS.identifier) == Literal("216900290")
    assert graph.value(publisher, DCTERMS.type) == URIRef(uris.PUBLISHER_TYPE_LOCAL_AUTHORITY)
    assert graph.value(publisher, FOAF.name) == Literal("Commune de Bron")
    titles = {t.language: str(t) for t in graph.objects(catalog, DCTERMS.title)}
    assert titles == {"fr": "Données ouvertes – Commune de Bron", "en": "Open data – Commune de Bron"}
    assert {d.language for d in graph.objects(catalog, DCTERMS.description)} == {"fr", "en"}
    assert graph.value(catalog, DCTERMS.language) == URIRef(uris.LANGUAGE_FRA)
    assert (catalog, DCAT.dataset, None) in graph


def test_catalogue_lists_only_the_public_datasets_of_the_commune(app, sysadmin, bron, make_org):
    mions = make_org(MIONS)
    create_dataset(sysadmin, **{**minimal_fields(bron, "public-bron"), "title": "Public Bron"})
    create_dataset(sysadmin, **{**minimal_fields(bron, "private-bron"), "title": "Private Bron", "private": True})
    create_dataset(sysadmin, **{**minimal_fields(mions, "public-mions"), "title": "Public Mions"})
    assert dataset_titles(catalogue(app, "69029")) == {"Public Bron"}
    assert dataset_titles(catalogue(app, "69283")) == {"Public Mions"}


@pytest.mark.parametrize("fmt", ["ttl", "rdf", "xml", "jsonld"])
def test_catalogue_is_served_in_each_rdf_format_with_its_content_type(app, sysadmin, bron, fmt):
    create_dataset(sysadmin, **minimal_fields(bron))
    response = app.get(f"/communes/69029/catalog.{fmt}", status=200)
    expected = {"ttl": "text/turtle", "rdf": "application/rdf+xml", "xml": "application/rdf+xml",
                "jsonld": "application/ld+json"}[fmt]
    assert response.headers["Content-Type"].startswith(expected)
    assert dataset_titles(rdflib.Graph().parse(data=response.body, format=RDFLIB_FORMATS[fmt])) == {
        "Arbres d'alignement"
    }


def test_catalogue_pages_with_hydra_like_ckanext_dcat(app, sysadmin, bron, ckan_config, monkeypatch):
    monkeypatch.setitem(ckan_config, "ckanext.dcat.datasets_per_page", 2)
    for i in range(5):
        create_dataset(sysadmin, **{**minimal_fields(bron, f"jeu-{i}"), "title": f"Jeu {i}"})
    first, third = catalogue(app, "69029"), catalogue(app, "69029", page=3)
    assert len(dataset_titles(first)) == 2 and len(dataset_titles(third)) == 1
    assert dataset_titles(first).isdisjoint(dataset_titles(third))
    paging = next(first.subjects(RDF.type, HYDRA.PagedCollection))
    assert first.value(paging, HYDRA.totalItems) == Literal(5)
    assert str(first.value(paging, HYDRA.next)) == "http://test.ckan.net/communes/69029/catalog.ttl?page=2"
    assert str(first.value(paging, HYDRA.last)) == "http://test.ckan.net/communes/69029/catalog.ttl?page=3"


def test_unknown_insee_code_is_not_found(app):
    assert app.get("/communes/75056/catalog.ttl").status_code == 404
    assert app.get("/communes/nope/catalog.ttl").status_code == 404


def test_unknown_format_is_not_found(app, bron):
    assert app.get("/communes/69029/catalog.csv").status_code == 404


def test_bad_page_is_a_client_error(app, bron):
    assert app.get("/communes/69029/catalog.ttl?page=0").status_code == 400


def test_former_code_redirects_permanently_to_the_current_code(app, make_org):
    make_org(OULLINS_PIERRE_BENITE)
    response = app.get("/communes/69152/catalog.ttl?page=1", status=301, follow_redirects=False)
    assert response.headers["Location"].endswith("/communes/69149/catalog.ttl?page=1")


def test_commune_without_organisation_has_an_empty_catalogue_it_publishes(app):
    graph = catalogue(app, "69003")
    catalog = URIRef(uris.commune_catalog_uri("69003"))
    assert graph.value(catalog, DCTERMS.publisher) == URIRef("http://test.ckan.net/communes/69003")
    assert not list(graph.subjects(RDF.type, DCAT.Dataset))


def test_catalogue_without_extension_negotiates_the_format(app, bron):
    response = app.get("/communes/69029/catalog", headers={"Accept": "application/ld+json"}, status=200)
    assert response.headers["Content-Type"].startswith("application/ld+json")
    assert app.get("/communes/69029/catalog", status=200).headers["Content-Type"].startswith("text/turtle")
