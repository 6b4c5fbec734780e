"""What our profile adds to ckanext-dcat's euro_dcat_ap_3 output of a dataset and of the portal catalogue."""

from __future__ import annotations

import pytest
import rdflib
from rdflib import Literal, URIRef
from rdflib.namespace import DCTERMS, FOAF, RDF, RDFS, SKOS

from ckanext.communes import uris
from ckanext.communes.tests.dcat.conftest import (
    PROFILES,
    WFS,
    WFS_URL,
    create_dataset,
    dataset_graph,
    full_fields,
    minimal_fields,
    several_resources_fields,
)
from ckanext.communes.tests.shared import CSV, EU
from ckanext.dcat.processors import RDFSerializer

pytestmark = pytest.mark.usefixtures("clean_db", "clean_index")

DCAT = rdflib.Namespace("http://www.w3.org/ns/dcat#")
ADMS = rdflib.Namespace("http://www.w3.org/ns/adms#")
VCARD = rdflib.Namespace("http://www.w3.org/2006/vcard/ns#")
ETALAB = URIRef("https://www.etalab.gouv.fr/licence-ouverte-open-licence")
ETALAB_EU = URIRef(f"{EU}/licence/ETALAB_2_0")
ODBL_EU = URIRef(f"{EU}/licence/ODC_BL")
BRON_AGENT = URIRef("http://test.ckan.net/communes/69029")


def distributions(graph: rdflib.Graph) -> dict[str, URIRef]:
    return {str(graph.value(d, DCAT.accessURL)): d for d in graph.subjects(RDF.type, DCAT.Distribution)}


def test_licences_are_eu_uris_on_every_distribution_and_not_on_the_dataset(app, sysadmin, bron):
    dataset = create_dataset(sysadmin, **full_fields(bron))
    graph = dataset_graph(app, dataset["id"])
    dataset_ref = next(graph.subjects(RDF.type, DCAT.Dataset))
    assert list(graph.objects(dataset_ref, DCTERMS.license)) == []
    by_url = distributions(graph)
    # Inherited licence (Licence Ouverte 2.0: its EU URI) and an explicit one (ODbL).
    assert list(graph.objects(by_url["https://data.ville-bron.fr/equipements.csv"], DCTERMS.license)) == [ETALAB_EU]
    assert list(graph.objects(by_url["https://data.ville-bron.fr/equipements.geojson"], DCTERMS.license)) == [
        ODBL_EU
    ]
    assert (ODBL_EU, RDF.type, DCTERMS.LicenseDocument) in graph
    assert (ETALAB_EU, DCTERMS.type, URIRef(uris.LICENCE_TYPE_UNKNOWN)) not in graph
    assert (ETALAB_EU, RDFS.seeAlso, ETALAB) in graph


def test_formats_are_eu_file_types_and_media_types_iana_uris(app, sysadmin, bron):
    dataset = create_dataset(sysadmin, **several_resources_fields(bron))
    graph = dataset_graph(app, dataset["id"])
    formats = {url: graph.value(d, DCTERMS["format"]) for url, d in distributions(graph).items()}
    assert formats == {
        "https://data.ville-bron.fr/budget.csv": URIRef(CSV),
        "https://data.ville-bron.fr/budget.json": URIRef(f"{EU}/file-type/JSON"),
        "https://data.ville-bron.fr/budget.xlsx": URIRef(f"{EU}/file-type/XLSX"),
        "https://data.ville-bron.fr/budget.pdf": URIRef(f"{EU}/file-type/PDF"),
        WFS_URL: URIRef(WFS),
        "https://data.grandlyon.com/budget-detail.csv": URIRef(CSV),
    }
    for media_type in graph.objects(None, DCAT.mediaType):
        assert isinstance(media_type, URIRef) and str(media_type).startswith(uris.IANA_MEDIA_TYPES_PREFIX)


def test_minimal_dataset_gets_the_commune_as_publisher_territory_and_contact(app, sysadmin, bron):
    dataset = create_dataset(sysadmin, **minimal_fields(bron))
    graph = dataset_graph(app, dataset["id"])
    dataset_ref = next(graph.subjects(RDF.type, DCAT.Dataset))
    assert list(graph.objects(dataset_ref, DCTERMS.publisher)) == [BRON_AGENT]
    assert graph.value(BRON_AGENT, DCTERMS.identifier) == Literal("216900290")
    identifier = graph.value(BRON_AGENT, ADMS.identifier)
    assert graph.value(identifier, SKOS.notation) == Literal("216900290")
    publisher_type = graph.value(BRON_AGENT, DCTERMS.type)
    assert publisher_type == URIRef(uris.PUBLISHER_TYPE_LOCAL_AUTHORITY)
    assert (publisher_type, RDF.type, SKOS.Concept) in graph
    territory = URIRef("http://id.insee.fr/geo/commune/69029")
    assert list(graph.objects(dataset_ref, DCTERMS.spatial)) == [territory]
    assert (territory, RDF.type, DCTERMS.Location) in graph
    contact = graph.value(dataset_ref, DCAT.contactPoint)
    assert graph.value(contact, VCARD.hasEmail) == URIRef("mailto:opendata@ville-bron.fr")
    theme = graph.value(dataset_ref, DCAT.theme)
    assert (theme, SKOS.prefLabel, Literal("Environnement", lang="fr")) in graph


def test_dataset_saved_without_derived_fields_still_gets_the_commune_publisher(sysadmin, bron):
    """A dataset dict without publisher (older or harvested record): the profile derives it like the
    schema does, instead of ckanext-dcat's /organization/{id} fallback."""
    serializer = RDFSerializer(profiles=PROFILES.split())
    dataset_ref = serializer.graph_from_dataset(
        {"id": "abc", "name": "x", "title": "X", "notes": "Y", "owner_org": bron["id"],
         "organization": {"id": bron["id"], "name": "bron", "title": "Bron"}, "resources": []}
    )
    graph = serializer.g
    assert list(graph.objects(dataset_ref, DCTERMS.publisher)) == [BRON_AGENT]
    assert not list(graph.subjects(FOAF.name, Literal("Bron")))  # the organisation fallback is gone
    assert list(graph.objects(dataset_ref, DCTERMS.spatial)) == [URIRef("http://id.insee.fr/geo/commune/69029")]


def test_portal_catalogue_is_published_by_the_metropole_in_french(app, sysadmin, bron):
    create_dataset(sysadmin, **minimal_fields(bron))
    graph = rdflib.Graph().parse(data=app.get("/catalog.ttl", status=200).body, format="turtle")
    catalog = next(graph.subjects(RDF.type, DCAT.Catalog))
    publisher = graph.value(catalog, DCTERMS.publisher)
    assert publisher == URIRef(uris.siren_uri("200046977"))
    assert graph.value(publisher, FOAF.name) == Literal("Métropole de Lyon")
    assert graph.value(catalog, DCTERMS.language) == URIRef(uris.LANGUAGE_FRA)
    assert graph.value(catalog, DCAT.themeTaxonomy) == URIRef(uris.SCHEMES["data-theme"])
    assert graph.value(catalog, DCTERMS.description) is not None
