"""What data.europa.eu's MQA counts on a distribution, written when the portal knows it and only then (issue #25
item 3): dcat:downloadURL of a file (an upload, a link whose format is a file), dcat:mediaType as a REGISTERED
IANA media type, dcat:byteSize from the stored size or the size the link checker measured, dct:modified from
the data's last change; dct:accessRights on every dataset. Links are checked against the harvest tests' real
HTTP server on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import rdflib
from ckan.tests import helpers
from rdflib import URIRef
from rdflib.namespace import DCTERMS, XSD

from ckanext.communes.quality import link_probe, linkcheck
from ckanext.communes.tests.dcat.conftest import PROFILES, create_dataset, dataset_graph, minimal_fields
from ckanext.communes.tests.shared import PUBLIC
from ckanext.dcat.processors import RDFParser

pytestmark = pytest.mark.usefixtures("clean_db", "clean_index")

DCAT = rdflib.Namespace("http://www.w3.org/ns/dcat#")
IANA = "https://www.iana.org/assignments/media-types/"


@pytest.fixture(autouse=True)
def _fast_checks(ckan_config, monkeypatch):
    monkeypatch.setitem(ckan_config, "ckanext.communes.linkcheck.per_host_interval", "0")
    monkeypatch.setitem(ckan_config, "ckanext.communes.linkcheck.timeout", "2")


def with_resources(sysadmin: dict[str, Any], org: dict[str, Any], resources: list[dict[str, Any]],
                   **fields: Any) -> dict[str, Any]:
    return create_dataset(sysadmin, **{**minimal_fields(org, name="distributions"), "resources": resources,
                                       **fields})


def distributions(graph: rdflib.Graph) -> dict[str, URIRef]:
    """dct:title -> distribution node."""
    return {str(graph.value(d, DCTERMS.title)): d for d in graph.subjects(rdflib.RDF.type, DCAT.Distribution)}


def media_types(graph: rdflib.Graph, distribution: URIRef) -> set[str]:
    return {str(v) for v in graph.objects(distribution, DCAT.mediaType)}


# ------------------------------------------------------------------------------------------ download URL

def test_a_link_to_a_file_has_a_download_url_and_keeps_its_access_url(app, sysadmin, bron):
    url = "https://data.ville-bron.fr/budget.csv"
    dataset = with_resources(sysadmin, bron, [{"url": url, "name": "Budget", "format": "CSV"}])
    graph = dataset_graph(app, dataset["id"])
    budget = distributions(graph)["Budget"]
    assert graph.value(budget, DCAT.downloadURL) == URIRef(url)
    assert graph.value(budget, DCAT.accessURL) == URIRef(url)  # mandatory in DCAT-AP 3


def test_an_uploaded_file_has_the_portal_download_address_as_download_url(app, sysadmin, bron, create_with_upload):
    dataset = with_resources(sysadmin, bron, [])
    resource = create_with_upload("nom,type\nStade,stade\n", "equipements.csv", package_id=dataset["id"],
                                  name="Déposé", context={"user": sysadmin["name"]})
    graph = dataset_graph(app, dataset["id"])
    deposited = distributions(graph)["Déposé"]
    assert resource["url_type"] == "upload"
    assert str(graph.value(deposited, DCAT.downloadURL)).endswith("/download/equipements.csv")
    assert graph.value(deposited, DCAT.downloadURL) == graph.value(deposited, DCAT.accessURL)


@pytest.mark.parametrize(("url", "fmt"), [
    ("https://data.ville-bron.fr/geoserver/wms?SERVICE=WMS&REQUEST=GetCapabilities", "WMS"),
    ("https://www.ville-bron.fr/deliberations", "HTML"),
    ("https://www.ville-bron.fr/donnees/export", ""),  # no format, none guessed: not known to be a file
])
def test_a_service_a_web_page_or_a_link_of_unknown_format_has_no_download_url(app, sysadmin, bron, url, fmt):
    dataset = with_resources(sysadmin, bron, [{"url": url, "name": "Lien", "format": fmt}])
    graph = dataset_graph(app, dataset["id"])
    link = distributions(graph)["Lien"]
    assert graph.value(link, DCAT.downloadURL) is None
    assert graph.value(link, DCAT.accessURL) == URIRef(url)


def test_a_stored_download_url_stays_the_one_written(app, sysadmin, bron):
    dataset = with_resources(sysadmin, bron, [{
        "url": "https://data.ville-bron.fr/budget", "name": "Budget", "format": "CSV",
        "download_url": "https://data.ville-bron.fr/budget/export.csv"}])
    graph = dataset_graph(app, dataset["id"])
    assert set(graph.objects(distributions(graph)["Budget"], DCAT.downloadURL)) == {
        URIRef("https://data.ville-bron.fr/budget/export.csv")}


def test_a_stored_download_url_equal_to_the_url_keeps_the_access_url(app, sysadmin, bron):
    """ckanext-dcat writes no dcat:accessURL when download_url equals url and no access_url is stored (how CKAN
    clients and harvested records often store a file): DCAT-AP 3 makes it mandatory, and the MQA's accessibility
    counts it (50 points)."""
    url = "https://data.ville-bron.fr/budget.csv"
    dataset = with_resources(sysadmin, bron, [{"url": url, "name": "Budget", "format": "CSV", "download_url": url}])
    graph = dataset_graph(app, dataset["id"])
    budget = distributions(graph)["Budget"]
    assert set(graph.objects(budget, DCAT.accessURL)) == {URIRef(url)}
    assert set(graph.objects(budget, DCAT.downloadURL)) == {URIRef(url)}


# ------------------------------------------------------------------------------------------ media type

def test_the_media_type_of_the_format_when_none_is_stored(app, sysadmin, bron):
    # A URL without extension: nothing guesses a media type when the resource is saved.
    dataset = with_resources(sysadmin, bron, [
        {"url": "https://data.ville-bron.fr/export?id=3", "name": "Arbres", "format": "GeoJSON"},
        {"url": "https://data.ville-bron.fr/export?id=4", "name": "Tableur", "format": "XLSX"}])
    graph = dataset_graph(app, dataset["id"])
    found = distributions(graph)
    assert media_types(graph, found["Arbres"]) == {f"{IANA}application/geo+json"}
    assert media_types(graph, found["Tableur"]) == {
        f"{IANA}application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def test_an_unregistered_media_type_becomes_the_registered_one_or_goes(app, sysadmin, bron):
    dataset = with_resources(sysadmin, bron, [
        {"url": "https://data.ville-bron.fr/a", "name": "Archive", "format": "GZIP", "mimetype": "application/x-gzip"},
        {"url": "https://data.ville-bron.fr/b", "name": "Points", "format": "GeoJSON",
         "mimetype": "application/vnd.geo+json"},
        {"url": "https://data.ville-bron.fr/c", "name": "Flux", "format": "RSS", "mimetype": "application/rss+xml"},
        {"url": "https://data.ville-bron.fr/d", "name": "Archive 7z", "format": "7Z"},
        {"url": "https://data.ville-bron.fr/e", "name": "Données", "format": "CSV", "mimetype": "text/plain"}])
    graph = dataset_graph(app, dataset["id"])
    found = distributions(graph)
    assert media_types(graph, found["Archive"]) == {f"{IANA}application/gzip"}
    assert media_types(graph, found["Points"]) == {f"{IANA}application/geo+json"}
    # RSS and 7-Zip have no registered media type: none rather than an IANA URI that does not exist.
    assert media_types(graph, found["Flux"]) == set()
    assert media_types(graph, found["Archive 7z"]) == set()
    # A registered type stored by the editor is theirs to state.
    assert media_types(graph, found["Données"]) == {f"{IANA}text/plain"}


# ------------------------------------------------------------------------------------------ byte size

@pytest.mark.usefixtures("allow_private_addresses")
def test_the_size_the_link_checker_measured_is_the_byte_size(app, sysadmin, bron, source_server):
    source_server.serve("/arbres.csv", "x" * 1234, content_type="text/csv")
    source_server.serve("/stated.csv", "x" * 10, content_type="text/csv")
    source_server.fail("/broken.csv", status=404)
    dataset = with_resources(sysadmin, bron, [
        {"url": source_server.url("/arbres.csv"), "name": "Mesuré", "format": "CSV"},
        {"url": source_server.url("/stated.csv"), "name": "Déclaré", "format": "CSV", "size": 99},
        {"url": source_server.url("/broken.csv"), "name": "Cassé", "format": "CSV"}])
    linkcheck.check_dataset_now(dataset["id"])
    graph = dataset_graph(app, dataset["id"])
    found = distributions(graph)
    measured = graph.value(found["Mesuré"], DCAT.byteSize)
    assert measured == rdflib.Literal(1234, datatype=XSD.nonNegativeInteger)
    assert int(graph.value(found["Déclaré"], DCAT.byteSize)) == 99  # what the resource states comes first
    assert graph.value(found["Cassé"], DCAT.byteSize) is None


def test_a_size_measured_at_a_former_address_or_on_a_web_page_is_not_the_byte_size(app, sysadmin, bron):
    dataset = with_resources(sysadmin, bron, [
        {"url": "https://data.ville-bron.fr/nouveau.csv", "name": "Déplacé", "format": "CSV"},
        {"url": "https://www.ville-bron.fr/page", "name": "Page", "format": "HTML"}])
    moved, page = (r["id"] for r in dataset["resources"])
    now = dt.datetime(2026, 1, 5)
    linkcheck.store(dataset["id"], moved, "https://data.ville-bron.fr/ancien.csv",
                    link_probe.Outcome(ok=True, status=200, size=500), now)
    linkcheck.store(dataset["id"], page, "https://www.ville-bron.fr/page",
                    link_probe.Outcome(ok=True, status=200, media_type="text/html", size=800), now)
    from ckan import model

    model.Session.commit()
    graph = dataset_graph(app, dataset["id"])
    found = distributions(graph)
    assert graph.value(found["Déplacé"], DCAT.byteSize) is None
    assert graph.value(found["Page"], DCAT.byteSize) is None


# ------------------------------------------------------------------------------------------ dates

def test_an_uploaded_file_is_modified_when_its_data_last_changed(app, sysadmin, bron, create_with_upload):
    dataset = with_resources(sysadmin, bron, [])
    resource = create_with_upload("nom\nStade\n", "stades.csv", package_id=dataset["id"], name="Stades",
                                  context={"user": sysadmin["name"]})
    helpers.call_action("resource_patch", context={"user": sysadmin["name"]}, id=resource["id"],
                        description="Une description ajoutée plus tard.")
    shown = helpers.call_action("resource_show", id=resource["id"])
    assert shown["last_modified"] and shown["metadata_modified"] > shown["last_modified"]
    graph = dataset_graph(app, dataset["id"])
    stades = distributions(graph)["Stades"]
    assert str(graph.value(stades, DCTERMS.modified)).startswith(shown["last_modified"][:19])
    assert str(graph.value(stades, DCTERMS.issued)).startswith(shown["created"][:19])


# ------------------------------------------------------------------------------------------ access rights

def test_a_dataset_saved_without_access_rights_is_public(app, sysadmin, bron):
    fields = minimal_fields(bron)
    fields.pop("access_rights", None)
    dataset = create_dataset(sysadmin, **fields)
    graph = dataset_graph(app, dataset["id"])
    assert set(graph.objects(None, DCTERMS.accessRights)) == {URIRef(PUBLIC)}


# ------------------------------------------------------------------------------------------ round trip

def test_download_urls_and_media_types_written_for_mqa_are_not_parsed_back_as_stored_values(app, sysadmin, bron):
    dataset = with_resources(sysadmin, bron, [
        {"url": "https://data.ville-bron.fr/budget.csv", "name": "Budget", "format": "CSV", "mimetype": "text/csv"},
        {"url": "https://data.ville-bron.fr/b", "name": "Points", "format": "GeoJSON",
         "download_url": "https://data.ville-bron.fr/b.geojson"}])
    parser = RDFParser(profiles=PROFILES.split())
    parser.parse(app.get(f"/dataset/{dataset['id']}.ttl", status=200).body, _format="ttl")
    (parsed,) = list(parser.datasets())
    back = {r["name"]: r for r in parsed["resources"]}
    assert back["Budget"]["url"] == "https://data.ville-bron.fr/budget.csv"
    assert not back["Budget"].get("download_url")
    assert back["Budget"]["mimetype"] == "text/csv"
    assert back["Points"]["download_url"] == "https://data.ville-bron.fr/b.geojson"


@pytest.mark.usefixtures("allow_private_addresses")
def test_our_catalogue_harvested_back_by_our_dcat_harvester_gives_the_stored_resources(
        app, sysadmin, bron, source_server, create_with_upload):
    from ckanext.communes.harvesters.base import GatherContext, harvester_for
    from ckanext.communes.harvesters.mapping import map_to_schema
    from ckanext.communes.harvesters.report import ReportBuilder
    from ckanext.communes.net import fetch as guarded

    dataset = with_resources(sysadmin, bron, [
        {"url": "https://data.ville-bron.fr/budget.csv", "name": "Budget", "format": "CSV", "mimetype": "text/csv",
         "size": 2048},
        {"url": "https://data.ville-bron.fr/export?id=3", "name": "Arbres", "format": "GeoJSON"},
        {"url": "https://data.ville-bron.fr/geoserver/wms?SERVICE=WMS&REQUEST=GetCapabilities", "name": "Carte",
         "format": "WMS"},
        {"url": "https://www.ville-bron.fr/deliberations", "name": "Page", "format": "HTML"}])
    create_with_upload("nom\nStade\n", "stades.csv", package_id=dataset["id"], name="Déposé",
                       context={"user": sysadmin["name"]})
    stored = {r["name"]: r for r in helpers.call_action("package_show", id=dataset["id"])["resources"]}
    source_server.serve("/catalog.ttl", app.get("/communes/69029/catalog.ttl", status=200).body)
    url = source_server.url("/catalog.ttl")
    context = GatherContext(None, "", url, bron["id"], {}, guarded.limits_from_config({}), ReportBuilder())
    (record,) = [record for page in harvester_for("communes_dcat").pages(context) for record in page.records()]
    mapped = {r["name"]: r for r in map_to_schema(record.dataset).dataset["resources"]}
    assert set(mapped) == set(stored)
    for name, resource in stored.items():
        assert mapped[name]["url"] == resource["url"], name
        assert not mapped[name].get("download_url"), name  # written for files, not a value to store
        assert mapped[name]["format"] == resource["format"], name
        for field in ("mimetype", "size"):
            if resource.get(field) not in (None, ""):
                assert mapped[name].get(field) == resource[field], (name, field)
    # What the output adds, the harvested copy keeps: the registered media type of the format.
    assert mapped["Arbres"]["mimetype"] == "application/geo+json"


def test_the_rdf_is_served_without_measured_sizes_when_they_cannot_be_read(app, sysadmin, bron, monkeypatch):
    from ckanext.communes.quality import evidence

    dataset = with_resources(sysadmin, bron, [
        {"url": "https://data.ville-bron.fr/budget.csv", "name": "Budget", "format": "CSV"}])
    now = dt.datetime(2026, 1, 5)
    linkcheck.store(dataset["id"], dataset["resources"][0]["id"], "https://data.ville-bron.fr/budget.csv",
                    link_probe.Outcome(ok=True, status=200, size=700), now)
    from ckan import model

    model.Session.commit()
    assert [int(size) for size in dataset_graph(app, dataset["id"]).objects(None, DCAT.byteSize)] == [700]

    def unreadable(package_id: str) -> dict[str, Any]:
        raise RuntimeError("the link check table cannot be read")

    monkeypatch.setattr(evidence, "measured_links", unreadable)
    graph = dataset_graph(app, dataset["id"])  # 200, not a server error
    assert list(graph.objects(None, DCAT.byteSize)) == []
    assert graph.value(distributions(graph)["Budget"], DCAT.downloadURL) is not None
