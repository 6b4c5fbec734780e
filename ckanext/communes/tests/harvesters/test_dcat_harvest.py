"""The DCAT source type end to end: a real HTTP server on 127.0.0.1 serves a two-page Hydra catalogue
(Turtle, and the same graph as RDF/XML and JSON-LD), gather, fetch and import run for real through
ckanext-harvest's stages, and the assertions read PostgreSQL (package_show) and Solr (package_search)."""

from __future__ import annotations

import json
import pathlib

import pytest
import rdflib
from ckan.tests import factories, helpers

from ckanext.communes.communes import seeding
from ckanext.communes.harvesters import jobs
from ckanext.communes.harvesters.report import report_for_job
from ckanext.communes.tests.communes.conftest import FEW, write_communes_csv
from ckanext.communes.tests.harvesters.checks import assert_failed_safely, harvested, state_of

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures" / "dcat"
COMMUNES = FEW + ("69266",)  # + Villeurbanne
pytestmark = pytest.mark.usefixtures("clean_db", "clean_index", "allow_private_addresses")


@pytest.fixture
def portal(tmp_path):
    seeding.seed(path=str(write_communes_csv(tmp_path / "communes.csv", COMMUNES)))
    return {"sysadmin": factories.Sysadmin()}


def serve_catalogue(server, fmt: str = "turtle", pages: tuple[str, ...] = ("page1", "page2")) -> str:
    """Serve the fixture pages, {base} replaced by the server's address; returns the first page's URL."""
    base = server.url("/").rstrip("/")
    extension = {"turtle": "ttl", "xml": "rdf", "json-ld": "jsonld"}[fmt]
    for page in pages:
        text = (FIXTURES / f"{page}.ttl").read_text(encoding="utf-8").replace("{base}", base)
        text = text.replace(".ttl\"", f".{extension}\"")
        if fmt != "turtle":
            graph = rdflib.Graph().parse(data=text, format="turtle")
            text = graph.serialize(format=fmt)
        content_type = {"turtle": "text/turtle", "xml": "application/rdf+xml", "json-ld": "application/ld+json"}[fmt]
        server.serve(f"/dcat/{page}.{extension}", text, content_type=content_type)
    return server.url(f"/dcat/{pages[0]}.{extension}")


def make_source(portal, url: str, owner: str = "metropole-de-lyon", config: dict | None = None) -> dict:
    return helpers.call_action("harvest_source_create", context={"user": portal["sysadmin"]["name"]},
                               name=f"source-{owner}", title="Catalogue", url=url, source_type="communes_dcat",
                               owner_org=owner, config=json.dumps(config or {}))


def org_name(dataset: dict) -> str:
    return dataset["organization"]["name"]


@pytest.mark.parametrize("fmt", ["turtle", "xml", "json-ld"])
def test_a_paged_catalogue_lands_in_the_right_communes_with_our_schema(portal, source_server, fmt):
    source = make_source(portal, serve_catalogue(source_server, fmt))
    job = jobs.run_source(source["id"])
    assert job["status"] == "Finished"
    datasets = harvested(source["id"])
    assert set(datasets) == {"Arbres d'alignement de Bron", "Bancs publics d'Oullins-Pierre-Bénite",
                             "Stations vélo du 5e arrondissement", "Écoles de Villeurbanne",
                             "Réseau d'eau du syndicat"}
    # Routing: by name ("Ville de Bron"), former INSEE code 69152, arrondissement 69385, INSEE URI; unroutable
    # publisher stays with the Métropole.
    assert org_name(datasets["Arbres d'alignement de Bron"]) == "bron"
    assert org_name(datasets["Bancs publics d'Oullins-Pierre-Bénite"]) == "oullins-pierre-benite"
    assert org_name(datasets["Stations vélo du 5e arrondissement"]) == "lyon"
    assert org_name(datasets["Écoles de Villeurbanne"]) == "villeurbanne"
    assert org_name(datasets["Réseau d'eau du syndicat"]) == "metropole-de-lyon"
    bron = datasets["Arbres d'alignement de Bron"]
    # Publisher derived from the owner commune, not the source's wording.
    assert bron["publisher"][0]["identifier"] == "216900290"
    # Licences: EU URIs through the normaliser; an unknown one kept as written and flagged.
    assert bron["license_id"] == "etalab-2.0"
    assert datasets["Bancs publics d'Oullins-Pierre-Bénite"]["license_id"] == "ODbL-1.0"
    assert datasets["Écoles de Villeurbanne"]["license_id"] == "etalab-2.0"
    syndicat = datasets["Réseau d'eau du syndicat"]
    assert syndicat["license_id"] == "unrecognised"  # « licence non reconnue », the source's text kept
    assert json.loads(syndicat["harvest_unmapped"])["license_id"] == ["http://example.org/licence-maison"]
    assert syndicat["licence_compliance"] == "unknown"
    # Vocabularies: the EU theme kept, the unknown one set aside in harvest_unmapped, never invented.
    assert bron["theme"] == ["http://publications.europa.eu/resource/authority/data-theme/ENVI"]
    assert json.loads(bron["harvest_unmapped"]) == {"theme": ["http://example.org/themes/nature"]}
    assert bron["frequency"] == "http://publications.europa.eu/resource/authority/frequency/ANNUAL"
    assert bron["resources"][0]["format"] == "CSV"
    # Solr: the commune facet follows the routing.
    found = helpers.call_action("package_search", fq="vocab_commune:69029")
    assert [d["title"] for d in found["results"]] == ["Arbres d'alignement de Bron"]
    report = report_for_job(job["id"])
    assert report.counts["create"] == 5
    assert report.per_commune["69029"] == {"create": 1}
    assert any("Syndicat intercommunal des eaux" in m["message"] for m in report.messages)


def test_harvesting_an_unchanged_source_again_writes_nothing(portal, source_server):
    source = make_source(portal, serve_catalogue(source_server))
    jobs.run_source(source["id"])
    before = harvested(source["id"])
    activities = {t: len(helpers.call_action("package_activity_list", id=d["id"])) for t, d in before.items()}
    job = jobs.run_source(source["id"])
    report = report_for_job(job["id"])
    assert report.counts["unchanged"] == 5
    assert report.counts["create"] == report.counts["update"] == report.counts["withdraw"] == 0
    after = harvested(source["id"])
    for title, dataset in after.items():
        assert dataset["metadata_modified"] == before[title]["metadata_modified"], title
        assert len(helpers.call_action("package_activity_list", id=dataset["id"])) == activities[title]
    assert job["stats"].get("added", 0) == 0 and job["stats"].get("updated", 0) == 0



def _page_without(server, dataset_path: str) -> None:
    """Serve page 2 without one of its datasets (the source stopped listing it)."""
    base = server.url("/").rstrip("/")
    text = (FIXTURES / "page2.ttl").read_text(encoding="utf-8").replace("{base}", base)
    graph = rdflib.Graph().parse(data=text, format="turtle")
    gone = rdflib.URIRef(f"{base}{dataset_path}")
    for triple in list(graph.triples((gone, None, None))) + list(graph.triples((None, None, gone))):
        graph.remove(triple)
    server.serve("/dcat/page2.ttl", graph.serialize(format="turtle"), content_type="text/turtle")


def test_a_changed_dataset_is_updated_in_place_keeping_its_id_and_name(portal, source_server):
    source = make_source(portal, serve_catalogue(source_server))
    jobs.run_source(source["id"])
    first = harvested(source["id"])["Écoles de Villeurbanne"]
    base = source_server.url("/").rstrip("/")
    text = (FIXTURES / "page2.ttl").read_text(encoding="utf-8").replace("{base}", base)
    source_server.serve("/dcat/page2.ttl",
                        text.replace("Liste des écoles publiques.", "Écoles publiques, mise à jour."))
    job = jobs.run_source(source["id"])
    assert report_for_job(job["id"]).counts["update"] == 1
    assert report_for_job(job["id"]).counts["unchanged"] == 4
    updated = harvested(source["id"])["Écoles de Villeurbanne"]
    assert (updated["id"], updated["name"]) == (first["id"], first["name"])
    assert updated["notes"] == "Écoles publiques, mise à jour."
    assert [r["id"] for r in updated["resources"]] == [r["id"] for r in first["resources"]]


def test_a_dataset_no_longer_listed_is_withdrawn_then_comes_back_with_the_same_id(portal, source_server):
    source = make_source(portal, serve_catalogue(source_server), config={"max_withdraw_percent": 50})
    jobs.run_source(source["id"])
    dataset = harvested(source["id"])["Écoles de Villeurbanne"]
    _page_without(source_server, "/ds/ecoles-villeurbanne")
    job = jobs.run_source(source["id"])
    assert report_for_job(job["id"]).counts["withdraw"] == 1
    assert helpers.call_action("package_show", id=dataset["id"])["state"] == "deleted"
    assert helpers.call_action("package_search", fq="vocab_commune:69266")["count"] == 0
    serve_catalogue(source_server)  # listed again
    job = jobs.run_source(source["id"])
    assert report_for_job(job["id"]).counts["restore"] == 1
    back = helpers.call_action("package_show", id=dataset["id"])
    assert (back["state"], back["name"]) == ("active", dataset["name"])
    assert helpers.call_action("package_search", fq="vocab_commune:69266")["count"] == 1


def test_the_circuit_breaker_holds_withdrawals_over_the_threshold_until_an_operator_approves(portal, source_server):
    source = make_source(portal, serve_catalogue(source_server))  # default threshold: 20 %
    jobs.run_source(source["id"])
    titles = harvested(source["id"])
    # Page 1 alone, without its link to page 2: 2 of 5 datasets (40 %) would go.
    base = source_server.url("/").rstrip("/")
    text = (FIXTURES / "page1.ttl").read_text(encoding="utf-8").replace("{base}", base)
    text = "\n".join(line for line in text.splitlines() if "hydra:nextPage" not in line)
    source_server.serve("/dcat/page1.ttl", text)
    job = jobs.run_source(source["id"])
    report = report_for_job(job["id"])
    assert report.breaker == "tripped"
    assert report.counts["withdraw"] == 0
    assert len(report.pending_withdrawals) == 2
    assert any("nothing is withdrawn until an operator approves" in m["message"] for m in report.messages)
    for title in ("Écoles de Villeurbanne", "Réseau d'eau du syndicat"):
        assert helpers.call_action("package_show", id=titles[title]["id"])["state"] == "active"
    result = helpers.call_action("communes_harvest_approve_withdrawal", context={"user": portal["sysadmin"]["name"]},
                                 id=job["id"])
    assert sorted(result["withdrawn"]) == sorted(titles[t]["id"] for t in ("Écoles de Villeurbanne",
                                                                           "Réseau d'eau du syndicat"))
    for title in ("Écoles de Villeurbanne", "Réseau d'eau du syndicat"):
        assert helpers.call_action("package_show", id=titles[title]["id"])["state"] == "deleted"
    assert report_for_job(job["id"]).breaker == "approved"


@pytest.mark.parametrize("failure", ["page2_500", "empty", "loop", "malformed", "billion_laughs", "xxe"])
def test_a_faulty_source_finishes_the_job_with_an_error_and_changes_nothing(portal, source_server, failure):
    source = make_source(portal, serve_catalogue(source_server), config={"max_withdraw_percent": 100})
    jobs.run_source(source["id"])
    before = state_of(source["id"])
    base = source_server.url("/").rstrip("/")
    if failure == "page2_500":
        source_server.fail("/dcat/page2.ttl", 500)
    elif failure == "empty":
        source_server.serve("/dcat/page1.ttl", "@prefix dcat: <http://www.w3.org/ns/dcat#> .\n")
    elif failure == "loop":
        text = (FIXTURES / "page2.ttl").read_text(encoding="utf-8").replace("{base}", base)
        text = text.replace("hydra:lastPage", f'hydra:nextPage "{base}/dcat/page1.ttl" ;\n    hydra:lastPage')
        source_server.serve("/dcat/page2.ttl", text)
    elif failure == "malformed":
        source_server.serve("/dcat/page2.ttl", "@prefix dcat: <http://www.w3.org/ns/dcat#> .\n<a> dcat:x [[[ .")
    else:
        name = "billion-laughs.rdf" if failure == "billion_laughs" else "xxe.rdf"
        body = (FIXTURES.parent / "faulty" / name).read_bytes()
        source_server.serve("/dcat/page2.ttl", body, content_type="application/rdf+xml")
    job = jobs.run_source(source["id"])
    report = assert_failed_safely(job, before, source["id"])
    assert "root:" not in json.dumps(report.messages)  # /etc/passwd never read into anything


def test_a_private_address_is_refused_unless_allowed(portal, source_server, ckan_config, monkeypatch):
    monkeypatch.setitem(ckan_config, "ckanext.communes.fetch.allow_private_addresses", False)
    source = make_source(portal, serve_catalogue(source_server))
    job = jobs.run_source(source["id"])
    assert job["status"] == "Finished"
    assert harvested(source["id"]) == {}
    assert source_server.requested("/dcat/page1.ttl") == 0  # refused before connecting
    [error] = [m for m in report_for_job(job["id"]).messages if m["level"] == "error"]
    assert "127.0.0.1" in error["message"]


def test_the_dry_run_lists_decisions_and_mapped_values_without_writing(portal, source_server):
    source = make_source(portal, serve_catalogue(source_server))
    preview = helpers.call_action("communes_harvest_preview", context={"user": portal["sysadmin"]["name"]},
                                  id=source["id"])
    assert preview["counts"]["create"] == 5
    assert len(preview["sample"]) == 5
    by_guid = {item["guid"].rsplit("/", 1)[-1]: item for item in preview["sample"]}
    assert by_guid["arbres-bron"]["commune"] == "69029"
    assert by_guid["arbres-bron"]["dataset"]["license_id"]
    assert any("harvest_unmapped" in m["message"] for m in preview["messages"])
    assert harvested(source["id"]) == {}
    assert helpers.call_action("package_search", include_private=True)["count"] == 0


@pytest.mark.parametrize("url", ["ftp://data.example.org/catalog.ttl", "file:///etc/passwd", "http://[x/a.ttl",
                                 "javascript:alert(1)", "https://" + "x" * 3000, "https://exemple.fr:port/"])
def test_a_source_url_that_is_not_http_or_https_is_refused_in_french(app, portal, url):
    token = factories.APIToken(user=portal["sysadmin"]["name"])["token"]
    response = app.post("/api/3/action/harvest_source_create", headers={"Authorization": token}, json={
        "name": "source-refusee", "title": "Refusée", "url": url, "source_type": "communes_dcat",
        "owner_org": "metropole-de-lyon"})
    assert response.status_code == 409, response.json
    assert response.json["error"]["url"][0].startswith("Donnez l'adresse http:// ou https://")
    assert helpers.call_action("harvest_source_list", context={"ignore_auth": True}) == []


@pytest.mark.parametrize("url", ["https://agent:secret@data.example.org/catalog.ttl",
                                 "https://agent@data.example.org/catalog.ttl", "http://:secret@data.example.org/c.ttl"])
def test_a_source_url_carrying_credentials_is_refused_in_french(app, portal, url):
    """A URL is stored, indexed and shown in clear: a password in it would escape the encryption at rest."""
    token = factories.APIToken(user=portal["sysadmin"]["name"])["token"]
    response = app.post("/api/3/action/harvest_source_create", headers={"Authorization": token}, json={
        "name": "source-refusee", "title": "Refusée", "url": url, "source_type": "communes_dcat",
        "owner_org": "metropole-de-lyon"})
    assert response.status_code == 409, response.json
    assert response.json["error"]["url"][0].startswith("Donnez l'adresse sans nom d'utilisateur ni mot de passe")
    assert "secret" not in str(response.json)
    assert helpers.call_action("harvest_source_list", context={"ignore_auth": True}) == []


def test_a_config_number_too_large_for_python_is_a_french_field_error(app, portal):
    token = factories.APIToken(user=portal["sysadmin"]["name"])["token"]
    response = app.post("/api/3/action/harvest_source_create", headers={"Authorization": token},
                        data='{"name": "s", "title": "S", "url": "https://data.example.org/c.ttl", "source_type": '
                             '"communes_dcat", "owner_org": "metropole-de-lyon", '
                             '"config": "{\\"request_timeout\\": 1e309}"}',
                        content_type="application/json")
    assert response.status_code == 409, response.json
    assert "request_timeout" in response.json["error"]["config"][0]
    assert "nombre entier positif" in response.json["error"]["config"][0]


def test_a_new_routing_rule_reaches_datasets_of_unchanged_pages(portal, source_server):
    """Unchanged pages are not parsed again, unless what routing depends on changed (the source's
    routing table here): the dataset of the syndicate then moves to the commune the operator names."""
    source = make_source(portal, serve_catalogue(source_server))
    jobs.run_source(source["id"])
    assert org_name(harvested(source["id"])["Réseau d'eau du syndicat"]) == "metropole-de-lyon"
    helpers.call_action("harvest_source_patch", context={"user": portal["sysadmin"]["name"]}, id=source["id"],
                        config=json.dumps({"routing": {"Syndicat intercommunal des eaux": "69029"}}))
    job = jobs.run_source(source["id"])
    assert report_for_job(job["id"]).counts["update"] == 1
    assert org_name(harvested(source["id"])["Réseau d'eau du syndicat"]) == "bron"


def test_the_cli_dry_run_and_approval(cli, ckan_config, portal, source_server):
    """`ckan communes harvest preview SOURCE` prints the decisions per commune and writes nothing;
    `approve-withdrawal` on a job that holds nothing says so and exits non-zero."""
    from ckan.cli.cli import ckan

    source = make_source(portal, serve_catalogue(source_server))
    result = cli.invoke(ckan, ["communes", "harvest", "preview", source["id"]])
    assert result.exit_code == 0, result.output
    assert "create: 5" in result.output
    assert "69029: create: 1" in result.output
    assert harvested(source["id"]) == {}
    job = jobs.run_source(source["id"])
    result = cli.invoke(ckan, ["communes", "harvest", "approve-withdrawal", job["id"]])
    assert result.exit_code == 1
