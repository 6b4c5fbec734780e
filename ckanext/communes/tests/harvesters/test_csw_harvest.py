"""The CSW (GeoNetwork, ISO 19139) source type end to end: a real HTTP server on 127.0.0.1 answers GetRecords
as GeoNetwork does (startPosition/maxRecords, csw:SearchResults with numberOfRecordsMatched and nextRecord,
a csw:SearchStatus timestamp that changes at every request, HTTP Basic for restricted records), gather,
fetch and import run for real through ckanext-harvest's stages, and the assertions read PostgreSQL
(package_show) and Solr (package_search)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import pathlib
from urllib.parse import parse_qsl

import pytest
from ckan.tests import factories, helpers

from ckanext.communes.communes import seeding
from ckanext.communes.harvesters import credentials, jobs
from ckanext.communes.harvesters.report import report_for_job
from ckanext.communes.tests.communes.conftest import FEW, write_communes_csv
from ckanext.communes.tests.harvesters.checks import assert_failed_safely, harvested, state_of

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures" / "csw"
COMMUNES = FEW + ("69266",)  # + Villeurbanne
CSW_PATH = "/geonetwork/srv/fre/csw"
RECORDS = ("bron-arbres", "lyon-velov", "villeurbanne-ecoles", "sytral-bus", "metropole-voirie", "service-wms")
TITLES = {"Arbres d'alignement de Bron", "Stations Vélo'v du 5e arrondissement", "Écoles de Villeurbanne",
          "Réseau de bus du syndicat", "Voirie métropolitaine"}
EU = "http://publications.europa.eu/resource/authority/"
SECRET = "s3cr3t-Basic-pw"
pytestmark = pytest.mark.usefixtures("clean_db", "clean_index", "allow_private_addresses")


def record(name: str) -> str:
    return (FIXTURES / "records" / f"{name}.xml").read_text(encoding="utf-8")


class GeoNetwork:
    """GetRecords of a GeoNetwork CSW over the fixture server, on a list of records the test can change.
    Records listed in ``restricted`` are returned only to a request with the right HTTP Basic credentials
    (a wrong password gets 401, as GeoNetwork answers)."""

    def __init__(self, server, records: list[str] | None = None, credentials: tuple[str, str] | None = None,
                 restricted: frozenset[int] = frozenset()) -> None:
        self.server = server
        self.records = list(records if records is not None else (record(name) for name in RECORDS))
        self.credentials = credentials
        self.restricted = restricted
        self.queries: list[dict[str, str]] = []
        self.fail_at: int | None = None  # startPosition answered with HTTP 500
        server.handle(CSW_PATH, self.answer)
        self.url = server.url(CSW_PATH)

    def answer(self, method, path, query, body):
        params = {key.lower(): value for key, value in parse_qsl(query)}
        self.queries.append(params)
        start, size = int(params.get("startposition", "1")), int(params.get("maxrecords", "10"))
        if self.fail_at == start:
            return 500, {"Content-Type": "text/plain"}, "Internal Server Error"
        authorization = self.server.headers[-1].get("authorization")  # this request's (recorded just before)
        allowed = False
        if authorization and self.credentials:
            expected = "Basic " + base64.b64encode(":".join(self.credentials).encode()).decode()
            if authorization != expected:
                return 401, {"WWW-Authenticate": 'Basic realm="GeoNetwork"'}, "Unauthorized"
            allowed = True
        visible = [r for i, r in enumerate(self.records) if allowed or i not in self.restricted]
        page = visible[start - 1:start - 1 + size]
        following = start + len(page)
        template = (FIXTURES / "getrecords-response.xml").read_text(encoding="utf-8")
        body = template.format(timestamp=dt.datetime.now().isoformat(), matched=len(visible),
                               returned=len(page), next=following if following <= len(visible) else 0,
                               records="\n".join(page))
        return 200, {"Content-Type": "application/xml;charset=UTF-8"}, body


@pytest.fixture
def portal(tmp_path):
    seeding.seed(path=str(write_communes_csv(tmp_path / "communes.csv", COMMUNES)))
    return {"sysadmin": factories.Sysadmin()}


def make_source(portal, url: str, config: dict | None = None, owner: str = "metropole-de-lyon") -> dict:
    return helpers.call_action("harvest_source_create", context={"user": portal["sysadmin"]["name"]},
                               name="geonetwork-metropole", title="GeoNetwork", url=url,
                               source_type="communes_csw", owner_org=owner, config=json.dumps(config or {}))


def org_name(dataset: dict) -> str:
    return dataset["organization"]["name"]


def generated_records(count: int) -> list[str]:
    """``count`` distinct records made from the Métropole's fixture record (for paging and benchmarks)."""
    template = record("metropole-voirie")
    return [template.replace("2b3c4d5e-0005-4a6b-8c9d-b40a1f7e0005", f"2b3c4d5e-9999-4a6b-8c9d-{i:012d}")
            .replace("Voirie métropolitaine", f"Voirie métropolitaine, lot {i}") for i in range(count)]


def test_iso_records_are_mapped_onto_our_schema_and_routed_by_responsible_party(portal, source_server):
    gn = GeoNetwork(source_server)
    source = make_source(portal, gn.url, config={"page_size": 2})
    job = jobs.run_source(source["id"])
    assert job["status"] == "Finished"
    datasets = harvested(source["id"])
    assert set(datasets) == TITLES  # the service record is left out
    # Paging: 6 records by 2, to nextRecord 0.
    assert source_server.requested(CSW_PATH) == 3
    assert [q["startposition"] for q in gn.queries] == ["1", "3", "5"]
    assert {q["outputschema"] for q in gn.queries} == {"http://www.isotc211.org/2005/gmd"}

    # Routing by the responsible parties' organisation names: the owner "Ville de Bron" before the point of
    # contact, the publisher "Ville de Lyon" before the Métropole, an unknown syndicate stays with the source.
    assert org_name(datasets["Arbres d'alignement de Bron"]) == "bron"
    assert org_name(datasets["Stations Vélo'v du 5e arrondissement"]) == "lyon"
    assert org_name(datasets["Écoles de Villeurbanne"]) == "villeurbanne"
    assert org_name(datasets["Voirie métropolitaine"]) == "metropole-de-lyon"
    assert org_name(datasets["Réseau de bus du syndicat"]) == "metropole-de-lyon"

    bron = datasets["Arbres d'alignement de Bron"]
    assert bron["notes"].startswith("Arbres d'alignement gérés par la Ville de Bron")
    assert bron["identifier"] == "abr_arbres_alignement.abrarbre_bron"
    assert bron["url"] == source_server.url("/geonetwork/srv/api/records/2b3c4d5e-0001-4a6b-8c9d-b40a1f7e0001")
    assert (bron["issued"][:10], bron["modified"][:10]) == ("2016-01-15", "2024-05-10")  # publication, revision
    # INSPIRE theme "Répartition des espèces" -> ENVI; free keywords (even "Bâtiments") -> tags.
    assert bron["theme"] == [EU + "data-theme/ENVI"]
    assert sorted(t["name"] for t in bron["tags"]) == ["Bâtiments", "arbres", "patrimoine végétal"]
    # Licence from an otherConstraints anchor, past "Pas de restriction d'accès public".
    assert bron["license_id"] == "etalab-2.0"
    assert bron["frequency"] == EU + "frequency/ANNUAL"
    assert bron["language"] == [EU + "language/FRA"]
    [area] = bron["spatial_coverage"]
    assert area["bbox"] == "POLYGON((4.8852 45.7123, 4.9497 45.7123, 4.9497 45.7497, 4.8852 45.7497, 4.8852 45.7123))"
    assert area["centroid"] == "POINT(4.91745 45.731)"
    assert json.loads(area["geom"])["coordinates"][0][2] == [4.9497, 45.7497]
    assert area["text"] == "Bron"
    assert [(p["start"][:10], p["end"][:10]) for p in bron["temporal_coverage"]] == [("2019-01-01", "2023-12-31")]
    assert [{k: c.get(k) for k in ("name", "email")} for c in bron["contact"]] == [
        {"name": "Bron - Direction des espaces verts", "email": "espaces.verts@ville-bron.example"}]
    formats = {r["url"].rsplit("/", 2)[-2] + "/" + r["url"].rsplit("/", 1)[-1]: r["format"] for r in bron["resources"]}
    assert formats == {
        "wms/grandlyon": "WMS",
        "wfs/grandlyon": "WFS",
        "abr_arbres_alignement.abrarbre/all.json": "JSON",
        "grandlyon/abr_arbres_alignement.shp.zip": "SHP",
        "cadre-de-vie/arbres": "HTML",
    }
    wms = next(r for r in bron["resources"] if r["url"].endswith("/wms/grandlyon"))
    assert wms["name"] == "Arbres d'alignement (carte)" and "abr_arbres_alignement.abrarbre" in wms["description"]

    # The Métropole's licences, from useLimitation (MD_LegalConstraints) and otherConstraints.
    lyon = datasets["Stations Vélo'v du 5e arrondissement"]
    assert lyon["license_id"] == "grandlyon-engagee"
    assert lyon["theme"] == [EU + "data-theme/TRAN"]  # an INSPIRE theme anchor, no thesaurus title
    assert lyon["frequency"] == EU + "frequency/UPDATE_CONT"  # continual
    assert [p["start"][:10] for p in lyon["temporal_coverage"]] == ["2018-09-01"]  # open-ended ("now")
    villeurbanne = datasets["Écoles de Villeurbanne"]
    assert villeurbanne["license_id"] == "grandlyon-associee"
    assert villeurbanne["theme"] == [EU + "data-theme/GOVE"]  # GEMET theme "administration"
    assert [t["name"] for t in villeurbanne["tags"]] == ["enseignement primaire"]  # GEMET concept not mapped
    assert villeurbanne["frequency"] == EU + "frequency/AS_NEEDED"
    assert villeurbanne["resources"][0]["format"] == "GeoJSON"
    assert datasets["Voirie métropolitaine"]["frequency"] == EU + "frequency/MONTHLY"

    # Unknown licence stored as « licence non reconnue », its text kept and flagged; reversed period dropped;
    # ISO "periodic" set aside.
    syndicat = datasets["Réseau de bus du syndicat"]
    assert syndicat["license_id"] == "unrecognised"
    assert syndicat["licence_compliance"] == "unknown"
    assert not syndicat.get("temporal_coverage")
    unmapped = json.loads(syndicat["harvest_unmapped"])
    assert unmapped["license_id"] == ["Licence de réutilisation du syndicat v1"]
    assert unmapped["frequency"] == ["periodic"] and len(unmapped["temporal_coverage"]) == 1

    # Solr: the commune facet follows the routing; the theme is indexed.
    found = helpers.call_action("package_search", fq="vocab_commune:69029")
    assert [d["title"] for d in found["results"]] == ["Arbres d'alignement de Bron"]
    report = report_for_job(job["id"])
    assert report.counts["create"] == 5
    assert report.per_commune["69029"] == {"create": 1}
    messages = " ".join(m["message"] for m in report.messages)
    assert "temporal_coverage" in messages and "Syndicat mixte des transports" in messages
    assert any(m["level"] == "info" and "1 " in m["message"] for m in report.messages)  # the service left out


def test_page_size_100_takes_ten_times_fewer_requests_than_10(portal, source_server):
    gn = GeoNetwork(source_server, records=generated_records(120))
    source = make_source(portal, gn.url)  # default page size: 100
    context = {"user": portal["sysadmin"]["name"]}
    preview = helpers.call_action("communes_harvest_preview", context=context, id=source["id"])
    assert preview["counts"]["create"] == 120
    assert source_server.requested(CSW_PATH) == 2
    assert [q["maxrecords"] for q in gn.queries] == ["100", "100"]
    source_server.requests.clear()
    gn.queries.clear()
    helpers.call_action("harvest_source_patch", context=context, id=source["id"],
                        config=json.dumps({"page_size": 10}))
    preview = helpers.call_action("communes_harvest_preview", context=context, id=source["id"])
    assert preview["counts"]["create"] == 120
    assert source_server.requested(CSW_PATH) == 12
    assert [q["startposition"] for q in gn.queries] == [str(s) for s in range(1, 121, 10)]


def test_the_cql_constraint_and_sort_are_sent_and_a_csw_exception_is_an_error(portal, source_server):
    gn = GeoNetwork(source_server)
    cql = "OrganisationName = 'Ville de Bron'"
    source = make_source(portal, gn.url, config={"cql": cql, "sort_by": "title:A"})
    jobs.run_source(source["id"])
    query = gn.queries[0]
    assert (query["constraint"], query["constraintlanguage"], query["constraint_language_version"]) == (
        cql, "CQL_TEXT", "1.1.0")
    assert query["sortby"] == "title:A"
    assert (query["service"], query["version"], query["request"], query["elementsetname"], query["resulttype"]) == (
        "CSW", "2.0.2", "GetRecords", "full", "results")
    # The server refuses the constraint with an ows:ExceptionReport: an error naming it, nothing changed.
    source_server.serve(CSW_PATH, (FIXTURES / "exception-report.xml").read_bytes(), content_type="application/xml")
    job = jobs.run_source(source["id"])
    report = report_for_job(job["id"])
    assert any(m["level"] == "error" and "Invalid CQL constraint" in m["message"] for m in report.messages)
    assert report.counts["withdraw"] == 0 and len(harvested(source["id"])) == 5


@pytest.mark.parametrize(("config", "error"), [
    ({"page_size": 0}, "page_size"), ({"page_size": 501}, "page_size"), ({"page_size": "100"}, "page_size"),
    ({"username": "lyon"}, "password"), ({"sort_by": "identifier"}, "sort_by"), ({"cql": ""}, "cql"),
])
def test_a_bad_config_is_refused_when_the_source_is_saved(portal, source_server, config, error):
    with pytest.raises(Exception) as raised:  # noqa: PT011 - ckanext-harvest wraps it in a ValidationError
        make_source(portal, source_server.url(CSW_PATH), config=config)
    assert error in str(raised.value)


def test_basic_auth_is_sent_and_the_password_is_never_shown_back(portal, source_server, app):
    gn = GeoNetwork(source_server, credentials=("lyon-harvest", SECRET), restricted=frozenset({0}))
    source = make_source(portal, gn.url, config={"username": "lyon-harvest", "password": SECRET, "page_size": 10})
    job = jobs.run_source(source["id"])
    assert job["status"] == "Finished"
    assert "Arbres d'alignement de Bron" in harvested(source["id"])  # the restricted record came with the auth
    expected = "Basic " + base64.b64encode(f"lyon-harvest:{SECRET}".encode()).decode()
    assert [h.get("authorization") for h in source_server.headers] == [expected]
    assert SECRET not in json.dumps(report_for_job(job["id"]).messages)

    sysadmin = portal["sysadmin"]
    context = {"user": sysadmin["name"]}
    shown = helpers.call_action("harvest_source_show", context=dict(context), id=source["id"])
    assert json.loads(shown["config"])["password"] == credentials.PASSWORD_MASK
    assert json.loads(shown["config"])["username"] == "lyon-harvest"
    assert SECRET not in json.dumps(shown)
    assert SECRET not in json.dumps(helpers.call_action("package_show", context=dict(context), id=source["id"]))
    assert SECRET not in json.dumps(helpers.call_action("harvest_source_list", context=dict(context)))
    # Search (the index is built from package_show): as a sysadmin, through the API (harvest sources are
    # hidden from package_search outside a request of an operator).
    token = factories.APIToken(user=sysadmin["name"])["token"]
    searched = app.get("/api/3/action/package_search", params={"fq": "dataset_type:harvest"},
                       headers={"Authorization": token}).json["result"]
    assert searched["count"] == 1 and SECRET not in json.dumps(searched)
    assert app.get("/api/3/action/package_search", params={"fq": "dataset_type:harvest", "q": SECRET},
                   headers={"Authorization": token}).json["result"]["count"] == 0
    activities = helpers.call_action("package_activity_list", context=dict(context), id=source["id"])
    for activity in activities:
        data = helpers.call_action("activity_data_show", context=dict(context), id=activity["id"])
        assert SECRET not in json.dumps(data)
    page = app.get(f"/harvest/edit/{source['name']}", headers={"Authorization": token})
    assert page.status_code == 200 and SECRET not in page.body and "********" in page.body
    for path in (f"/harvest/{source['name']}", f"/harvest/about/{source['name']}",
                 f"/api/3/action/harvest_source_show?id={source['id']}"):
        page = app.get(path, headers={"Authorization": token})
        assert page.status_code == 200 and SECRET not in page.body, path

    # Saving the source with what it shows back (the mask) keeps the stored password.
    helpers.call_action("harvest_source_update", context=dict(context), **{
        **{k: shown[k] for k in ("id", "name", "title", "url", "source_type", "owner_org", "config")},
        "title": "GeoNetwork de la Métropole"})
    helpers.call_action("harvest_source_patch", context=dict(context), id=source["id"], notes="Catalogue")
    source_server.headers.clear()
    jobs.run_source(source["id"])
    assert [h.get("authorization") for h in source_server.headers] == [expected]
    # A new password replaces it.
    gn.credentials = ("lyon-harvest", "n0uveau")
    helpers.call_action("harvest_source_patch", context=dict(context), id=source["id"], config=json.dumps(
        {"username": "lyon-harvest", "password": "n0uveau", "page_size": 10}))
    source_server.headers.clear()
    job = jobs.run_source(source["id"])
    assert report_for_job(job["id"]).counts["withdraw"] == 0
    assert source_server.headers[0]["authorization"] == "Basic " + base64.b64encode(
        b"lyon-harvest:n0uveau").decode()


def test_the_plugin_masks_the_password(portal, source_server):
    source = make_source(portal, source_server.url(CSW_PATH), config={"username": "u", "password": SECRET})
    shown = helpers.call_action("harvest_source_show", context={"user": portal["sysadmin"]["name"]}, id=source["id"])
    assert SECRET not in json.dumps(shown)


def test_an_unchanged_catalogue_writes_nothing_and_a_changed_record_is_updated_in_place(portal, source_server):
    gn = GeoNetwork(source_server)
    source = make_source(portal, gn.url, config={"page_size": 2})
    first_job = jobs.run_source(source["id"])
    before = harvested(source["id"])
    activities = {t: len(helpers.call_action("package_activity_list", id=d["id"])) for t, d in before.items()}
    job = jobs.run_source(source["id"])  # every page has a new SearchStatus timestamp, same records
    report = report_for_job(job["id"])
    assert (report.counts["unchanged"], report.counts["create"], report.counts["update"]) == (5, 0, 0)
    assert job["stats"].get("added", 0) == 0 and job["stats"].get("updated", 0) == 0
    # The page hashes leave out the SearchStatus timestamp: unchanged pages are recognised as such.
    assert [p["hash"] for p in report.pages] == [p["hash"] for p in report_for_job(first_job["id"]).pages]
    for title, dataset in harvested(source["id"]).items():
        assert dataset["metadata_modified"] == before[title]["metadata_modified"], title
        assert len(helpers.call_action("package_activity_list", id=dataset["id"])) == activities[title]

    gn.records[2] = gn.records[2].replace("Liste des écoles publiques.", "Écoles publiques, mise à jour.")
    job = jobs.run_source(source["id"])
    report = report_for_job(job["id"])
    assert (report.counts["update"], report.counts["unchanged"]) == (1, 4)
    after = harvested(source["id"])["Écoles de Villeurbanne"]
    first = before["Écoles de Villeurbanne"]
    assert (after["id"], after["name"], after["notes"]) == (first["id"], first["name"],
                                                            "Écoles publiques, mise à jour.")
    assert [r["id"] for r in after["resources"]] == [r["id"] for r in first["resources"]]


def test_the_circuit_breaker_holds_withdrawals_over_the_threshold(portal, source_server):
    gn = GeoNetwork(source_server)
    source = make_source(portal, gn.url)  # default threshold: 20 %
    jobs.run_source(source["id"])
    titles = harvested(source["id"])
    gn.records = [r for r in gn.records if "0003-4a6b" not in r and "0004-4a6b" not in r]  # 2 of 5 gone
    job = jobs.run_source(source["id"])
    report = report_for_job(job["id"])
    assert report.breaker == "tripped" and report.counts["withdraw"] == 0
    assert len(report.pending_withdrawals) == 2
    for title in ("Écoles de Villeurbanne", "Réseau de bus du syndicat"):
        assert helpers.call_action("package_show", id=titles[title]["id"])["state"] == "active"


@pytest.mark.parametrize("failure", ["page2_500", "empty", "dublin_core", "entities"])
def test_a_faulty_catalogue_finishes_the_job_with_an_error_and_withdraws_nothing(portal, source_server, failure):
    gn = GeoNetwork(source_server)
    source = make_source(portal, gn.url, config={"page_size": 2, "max_withdraw_percent": 100})
    jobs.run_source(source["id"])
    before = state_of(source["id"])
    if failure == "page2_500":
        gn.fail_at = 3
    elif failure == "empty":
        gn.records = []
    elif failure == "dublin_core":
        body = (FIXTURES / "getrecords-response.xml").read_text(encoding="utf-8").format(
            timestamp="2025-01-01T00:00:00", matched=1, returned=1, next=0,
            records='<csw:Record><dc:title xmlns:dc="http://purl.org/dc/elements/1.1/">x</dc:title></csw:Record>')
        source_server.serve(CSW_PATH, body, content_type="application/xml")
    else:
        body = (FIXTURES.parent / "faulty" / "billion-laughs.rdf").read_bytes()
        source_server.serve(CSW_PATH, body, content_type="application/xml")
    job = jobs.run_source(source["id"])
    assert_failed_safely(job, before, source["id"])


def test_the_dry_run_gives_the_routing_per_commune_without_writing(portal, source_server):
    gn = GeoNetwork(source_server)
    source = make_source(portal, gn.url)
    preview = helpers.call_action("communes_harvest_preview", context={"user": portal["sysadmin"]["name"]},
                                  id=source["id"])
    assert preview["counts"]["create"] == 5
    by_guid = {item["guid"]: item["commune"] for item in preview["sample"]}
    assert by_guid["2b3c4d5e-0001-4a6b-8c9d-b40a1f7e0001"] == "69029"
    assert by_guid["2b3c4d5e-0002-4a6b-8c9d-b40a1f7e0002"] == "69123"
    assert by_guid["2b3c4d5e-0003-4a6b-8c9d-b40a1f7e0003"] == "69266"
    assert by_guid["2b3c4d5e-0004-4a6b-8c9d-b40a1f7e0004"] == "metropole-de-lyon"
    assert harvested(source["id"]) == {}
    assert helpers.call_action("package_search", include_private=True)["count"] == 0
