"""The udata (data.gouv.fr) source type end to end: a real HTTP server on 127.0.0.1 answers udata's API v1
(``/api/1/datasets/?organization=…&page=&page_size=``, paged by an absolute ``next_page``, and
``/api/1/organizations/{slug}/``) from the fixture files; gather, fetch and import run for real through
ckanext-harvest's stages; the assertions read PostgreSQL (package_show) and Solr (package_search).

The fixture organisation is a syndicate (SIGERLy), which designates no commune: its datasets are routed
by their ``spatial.zones``."""

from __future__ import annotations

import copy
import json
import pathlib
from urllib.parse import parse_qsl, urlencode

import pytest
from ckan.tests import factories, helpers

from ckanext.communes.communes import seeding
from ckanext.communes.harvesters import jobs, udata
from ckanext.communes.harvesters.base import ConfigError
from ckanext.communes.harvesters.report import report_for_job
from ckanext.communes.tests.communes.conftest import FEW, write_communes_csv
from ckanext.communes.tests.harvesters.checks import assert_failed_safely, harvested
from ckanext.communes.tests.harvesters.test_dcat_harvest import serve_catalogue
from ckanext.communes.vocabularies import get_vocabulary

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures" / "udata"
COMMUNES = FEW + ("69266",)  # + Villeurbanne
ORG_ID = "5b7e9c2a8b4c4173a2b0f001"
EU_FREQ = "http://publications.europa.eu/resource/authority/frequency/"
DATASETS_PATH = "/api/1/datasets/"
pytestmark = pytest.mark.usefixtures("clean_db", "clean_index", "allow_private_addresses")


class RemoteUdata:
    """udata's API v1 over the fixture server, on a list of datasets the test can change."""

    def __init__(self, server, datasets: list[dict]) -> None:
        self.server = server
        self.datasets = datasets
        self.total: int | None = None  # a "total" other than the list's length (a portal that lies)
        server.handle(DATASETS_PATH, self.answer)
        organisation = (FIXTURES / "organization.json").read_text(encoding="utf-8")
        server.serve("/api/1/organizations/sigerly/", organisation, content_type="application/json")
        server.serve(f"/api/1/organizations/{ORG_ID}/", organisation, content_type="application/json")

    def answer(self, method, path, query, body):
        params = dict(parse_qsl(query))
        if params.get("organization") != ORG_ID:  # udata refuses a slug in the filter
            return 400, {"Content-Type": "application/json"}, '{"message": "Organization arg must be an identifier"}'
        page, size = int(params.get("page", "1")), int(params.get("page_size", "20"))
        items = self.datasets[(page - 1) * size:page * size]

        def link(number: int) -> str:
            return self.server.url(f"{DATASETS_PATH}?{urlencode({**params, 'page': number})}")

        payload = {"data": items, "page": page, "page_size": size,
                   "total": len(self.datasets) if self.total is None else self.total,
                   "next_page": link(page + 1) if page * size < len(self.datasets) else None,
                   "previous_page": link(page - 1) if page > 1 else None}
        return 200, {"Content-Type": "application/json"}, json.dumps(payload, ensure_ascii=False)

    @property
    def url(self) -> str:
        return self.server.url(f"{DATASETS_PATH}?organization={ORG_ID}")

    def pages_requested(self) -> list[int]:
        return [int(dict(parse_qsl(q)).get("page", "1")) for _m, p, q in self.server.requests if p == DATASETS_PATH]


def fixture_datasets(server) -> list[dict]:
    base = server.url("/").rstrip("/")
    return json.loads((FIXTURES / "datasets.json").read_text(encoding="utf-8").replace("{base}", base))


@pytest.fixture
def portal(tmp_path):
    seeding.seed(path=str(write_communes_csv(tmp_path / "communes.csv", COMMUNES)))
    return {"sysadmin": factories.Sysadmin()}


@pytest.fixture
def remote(source_server):
    return RemoteUdata(source_server, fixture_datasets(source_server))


def make_source(portal, url: str, config: dict | None = None, name: str = "udata-sigerly") -> dict:
    return helpers.call_action("harvest_source_create", context={"user": portal["sysadmin"]["name"]},
                               name=name, title="SIGERLy sur data.gouv.fr", url=url, source_type="communes_udata",
                               owner_org="metropole-de-lyon", config=json.dumps(config or {}))


def harvest(portal, remote, config: dict | None = None) -> tuple[dict, dict, dict[str, dict]]:
    source = make_source(portal, remote.url, {"page_size": 3, **(config or {})})
    job = jobs.run_source(source["id"])
    return source, job, harvested(source["id"])


def warnings_of(job: dict) -> list[str]:
    return [m["message"] for m in report_for_job(job["id"]).messages if m["level"] == "warning"]


# ------------------------------------------------------------------------------------ mapping


def test_an_organisation_s_datasets_are_mapped_onto_our_schema(portal, remote):
    _source, job, datasets = harvest(portal, remote)
    assert job["status"] == "Finished"
    assert report_for_job(job["id"]).counts["create"] == 6
    bron = datasets["Arbres d'alignement de Bron"]
    assert bron["notes"].startswith("Inventaire des **arbres d'alignement**")  # Markdown kept
    assert bron["url"] == "https://www.data.gouv.fr/fr/datasets/arbres-d-alignement-de-bron/"
    assert sorted(t["name"] for t in bron["tags"]) == ["arbres", "environnement", "patrimoine-vegetal"]
    assert (bron["license_id"], bron["licence_compliance"]) == ("etalab-2.0", "authorised")  # udata "lov2"
    assert bron["frequency"] == EU_FREQ + "ANNUAL"
    assert bron["issued"].startswith("2021-03-02")  # created_at
    assert bron["modified"].startswith("2024-05-01")  # last_update, as udata's own DCAT export
    assert bron["identifier"] == "5e1f0d3e8b4c4173a2b00001"  # udata id, also the GUID
    assert bron["temporal_coverage"] == [{"start": "2020-01-01", "end": "2020-12-31"}]
    # Only the contact point, not the "publisher" role; the publisher is derived from the owner commune.
    assert bron["contact"] == [{"name": "Service des espaces verts", "email": "espaces.verts@ville-bron.fr"}]
    assert bron["publisher"][0]["identifier"] == "216900290"
    assert not bron.get("provenance") and not bron.get("uri")  # published on data.gouv.fr itself
    by_name = {r["name"]: r for r in bron["resources"]}
    assert list(by_name) == ["Arbres (CSV)", "Arbres (GeoJSON)", "Notice"]
    assert by_name["Arbres (CSV)"]["format"] == "CSV"
    assert by_name["Arbres (GeoJSON)"]["format"] == "GeoJSON"
    assert by_name["Notice"]["format"] == "PDF"
    assert by_name["Arbres (CSV)"]["issued"].startswith("2021-03-02")
    assert datasets["Stations vélo du 5e arrondissement"]["license_id"] == "ODbL-1.0"  # "odc-odbl"
    assert datasets["Bancs publics d'Oullins-Pierre-Bénite"]["license_id"] == "fr-lo"
    assert datasets["Réseau d'eau du syndicat"]["license_id"] == "CC-BY-4.0"  # "cc-by"
    # Solr has them with the udata licences normalised.
    found = helpers.call_action("package_search", fq="license_id:etalab-2.0")
    assert [d["title"] for d in found["results"]] == ["Arbres d'alignement de Bron"]


def test_resources_keep_checksum_size_and_media_type(portal, remote):
    _source, _job, datasets = harvest(portal, remote)
    resources = {r["name"]: r for d in datasets.values() for r in d["resources"]}
    csv = resources["Arbres (CSV)"]
    assert (csv["hash"], csv["hash_algorithm"]) == ("da39a3ee5e6b4b0d3255bfef95601890afd80709", "sha1")
    assert (csv["size"], csv["mimetype"]) == (48213, "text/csv")
    geojson = resources["Arbres (GeoJSON)"]
    assert geojson["hash_algorithm"] == "sha256" and geojson["size"] == 102400
    assert geojson["mimetype"] == "application/geo+json"
    assert resources["Stations"]["hash_algorithm"] == "md5"
    assert resources["Réseau"]["size"] == 7340032
    # No checksum, no size: nothing invented.
    assert not resources["Notice"].get("hash") and not resources["Notice"].get("size")
    assert not resources["Mesures"].get("hash") and resources["Mesures"]["size"] == 900
    # The RDF says it as an SPDX checksum.
    ttl = helpers.call_action("package_show", id=datasets["Arbres d'alignement de Bron"]["id"])
    graph = _dataset_graph(ttl["id"])
    assert "da39a3ee5e6b4b0d3255bfef95601890afd80709" in graph
    assert "checksumAlgorithm_sha1" in graph


def _dataset_graph(package_id: str) -> str:
    from ckanext.dcat.processors import RDFSerializer

    dataset = helpers.call_action("package_show", id=package_id)
    return RDFSerializer().serialize_dataset(dataset, _format="turtle")


def test_current_legacy_and_unknown_frequencies_map_to_eu_codes_or_are_set_aside(portal, remote):
    _source, job, datasets = harvest(portal, remote)
    frequencies = {title: d.get("frequency") for title, d in datasets.items()}
    assert frequencies == {
        "Arbres d'alignement de Bron": EU_FREQ + "ANNUAL",  # annual
        "Stations vélo du 5e arrondissement": None,  # fiveYears: no udata id, set aside
        "Bancs publics d'Oullins-Pierre-Bénite": EU_FREQ + "OTHER",  # legacy fourTimesADay: no EU code
        "Qualité de l'air à Bron et Villeurbanne": EU_FREQ + "AS_NEEDED",  # punctual
        "Réseau d'eau du syndicat": EU_FREQ + "UPDATE_CONT",  # legacy realtime
        "Consommations d'énergie du département": EU_FREQ + "UPDATE_CONT",  # continuous, not CONT
    }
    velos = datasets["Stations vélo du 5e arrondissement"]
    assert json.loads(velos["harvest_unmapped"]) == {"frequency": ["fiveYears"]}
    assert any("frequency = fiveYears" in m for m in warnings_of(job))


def test_the_udata_frequency_table_names_only_eu_codes_that_exist():
    vocabulary = get_vocabulary("frequency")
    table = udata.frequency_table()
    assert {"continuous", "realtime", "fourtimesaday", "fourtimesaweek", "fortnighly", "biannual"} <= set(table)
    for udata_id, uri in table.items():
        assert vocabulary.by_uri(uri) is not None, udata_id
    assert table["biannual"] == EU_FREQ + "ANNUAL_2"
    assert udata.map_frequency("fiveYears") == "fiveYears"  # left for mapping.py to set aside


def test_an_unknown_licence_is_kept_flagged_and_a_reversed_period_dropped_with_a_warning(portal, remote):
    _source, job, datasets = harvest(portal, remote)
    air = datasets["Qualité de l'air à Bron et Villeurbanne"]
    assert (air["license_id"], air["licence_compliance"]) == ("unrecognised", "unknown")
    assert json.loads(air["harvest_unmapped"])["license_id"] == ["licence-maison"]
    water = datasets["Réseau d'eau du syndicat"]  # the dataset is kept, without its period
    assert not water.get("temporal_coverage")
    assert json.loads(water["harvest_unmapped"]) == {"temporal_coverage": [
        json.dumps({"start": "2023-12-31", "end": "2023-01-01"}, ensure_ascii=False)]}
    assert any("temporal_coverage" in m for m in warnings_of(job))


# ------------------------------------------------------------------------------------ routing


def test_zones_route_to_one_commune_and_give_the_spatial_coverage(portal, remote):
    _source, job, datasets = harvest(portal, remote)
    orgs = {title: d["organization"]["name"] for title, d in datasets.items()}
    assert orgs == {
        "Arbres d'alignement de Bron": "bron",  # fr:commune:69029
        "Stations vélo du 5e arrondissement": "lyon",  # 69385, an arrondissement of Lyon
        "Bancs publics d'Oullins-Pierre-Bénite": "oullins-pierre-benite",  # former code 69152, old zone id
        "Qualité de l'air à Bron et Villeurbanne": "metropole-de-lyon",  # two communes: nobody's alone
        "Réseau d'eau du syndicat": "metropole-de-lyon",  # no zone
        "Consommations d'énergie du département": "metropole-de-lyon",  # a department is no commune
    }
    assert datasets["Arbres d'alignement de Bron"]["spatial_coverage"] == [
        {"uri": "http://id.insee.fr/geo/commune/69029", "text": "Bron"}]
    assert datasets["Stations vélo du 5e arrondissement"]["spatial_coverage"] == [
        {"uri": "http://id.insee.fr/geo/arrondissementMunicipal/69385", "text": "Lyon 5e Arrondissement"}]
    assert datasets["Bancs publics d'Oullins-Pierre-Bénite"]["spatial_coverage"] == [
        {"uri": "http://id.insee.fr/geo/commune/69152", "text": "Pierre-Bénite"}]
    assert datasets["Qualité de l'air à Bron et Villeurbanne"]["spatial_coverage"] == [
        {"uri": "http://id.insee.fr/geo/commune/69029", "text": "Bron"},
        {"uri": "http://id.insee.fr/geo/commune/69266", "text": "Villeurbanne"}]
    # Solr's commune facet follows the routing, not the coverage.
    found = helpers.call_action("package_search", fq="vocab_commune:69029")
    assert [d["title"] for d in found["results"]] == ["Arbres d'alignement de Bron"]
    report = report_for_job(job["id"])
    assert report.per_commune["69029"] == {"create": 1}
    assert report.per_commune["69123"] == {"create": 1}
    unrouted = [m for m in warnings_of(job) if "Publisher not recognised" in m]
    assert len(unrouted) == 3 and all("sigerly" in m for m in unrouted)


def test_the_organisation_s_name_routes_before_the_zones(portal, source_server):
    datasets = fixture_datasets(source_server)
    for dataset in datasets:
        dataset["organization"] = dict(dataset["organization"], name="Ville de Villeurbanne", slug="villeurbanne")
    remote = RemoteUdata(source_server, datasets)
    _source, _job, harvested_datasets = harvest(portal, remote)
    assert {d["organization"]["name"] for d in harvested_datasets.values()} == {"villeurbanne"}


# ------------------------------------------------------------------------------------ udata's own harvest


def test_a_dataset_udata_harvested_elsewhere_is_marked_with_its_origin(portal, remote):
    _source, _job, datasets = harvest(portal, remote)
    base = remote.server.url("/").rstrip("/")
    benches = datasets["Bancs publics d'Oullins-Pierre-Bénite"]
    assert benches["provenance"].startswith("Jeu de données que 127.0.0.1 a lui-même moissonné depuis "
                                            "data.grandlyon.com (identifiant distant : bancs-opb ;")
    assert "https://data.grandlyon.com/portail/fr/jeux-de-donnees/bancs-opb" in benches["provenance"]
    assert benches["uri"] == f"{base}/ds/bancs-opb"  # the original's URI, as udata's DCAT export gives it
    # Older udata: harvest:* extras.
    energy = datasets["Consommations d'énergie du département"]
    assert "depuis opendata.example.org (identifiant distant : conso-energie-69" in energy["provenance"]
    udata_datasets = {d["title"]: d for d in fixture_datasets(remote.server)}
    assert udata.remote_identifiers(udata_datasets["Bancs publics d'Oullins-Pierre-Bénite"]) == [
        "bancs-opb", f"{base}/ds/bancs-opb", "https://data.grandlyon.com/portail/fr/jeux-de-donnees/bancs-opb"]
    assert udata.remote_identifiers(udata_datasets["Consommations d'énergie du département"]) == ["conso-energie-69"]
    assert udata.remote_identifiers(udata_datasets["Arbres d'alignement de Bron"]) == []


def test_a_udata_copy_of_a_dataset_already_harvested_from_its_origin_is_not_created_twice(portal, remote):
    origin = helpers.call_action("harvest_source_create", context={"user": portal["sysadmin"]["name"]},
                                 name="catalogue-grandlyon", title="Catalogue DCAT", source_type="communes_dcat",
                                 url=serve_catalogue(remote.server), owner_org="metropole-de-lyon", config="{}")
    jobs.run_source(origin["id"])
    source, job, _datasets = harvest(portal, remote)
    report = report_for_job(job["id"])
    assert (report.counts["duplicate"], report.counts["create"]) == (1, 5)
    found = helpers.call_action("package_search", q='title:"Bancs publics"')
    assert found["count"] == 1
    assert "Bancs publics d'Oullins-Pierre-Bénite" not in harvested(source["id"])


# ------------------------------------------------------------------------------------ runs and paging


def test_harvesting_an_unchanged_organisation_again_writes_nothing(portal, remote):
    source, _job, before = harvest(portal, remote)
    activities = {t: len(helpers.call_action("package_activity_list", id=d["id"])) for t, d in before.items()}
    job = jobs.run_source(source["id"])
    report = report_for_job(job["id"])
    assert report.counts["unchanged"] == 6
    assert report.counts["create"] == report.counts["update"] == report.counts["withdraw"] == 0
    for title, dataset in harvested(source["id"]).items():
        assert dataset["metadata_modified"] == before[title]["metadata_modified"], title
        assert len(helpers.call_action("package_activity_list", id=dataset["id"])) == activities[title]


def test_a_changed_dataset_is_updated_in_place_even_with_a_new_slug(portal, remote):
    source, _job, before = harvest(portal, remote)
    first = before["Arbres d'alignement de Bron"]
    changed = remote.datasets[0]
    changed.update(slug="arbres-de-bron", page="https://www.data.gouv.fr/fr/datasets/arbres-de-bron/",
                   description="Inventaire mis à jour.")
    job = jobs.run_source(source["id"])
    report = report_for_job(job["id"])
    assert (report.counts["update"], report.counts["unchanged"], report.counts["create"]) == (1, 5, 0)
    updated = helpers.call_action("package_show", id=first["id"])
    assert (updated["name"], updated["notes"]) == (first["name"], "Inventaire mis à jour.")
    assert updated["url"] == "https://www.data.gouv.fr/fr/datasets/arbres-de-bron/"
    assert [r["id"] for r in updated["resources"]] == [r["id"] for r in first["resources"]]


def test_paging_follows_next_page_to_the_end(portal, source_server):
    datasets = fixture_datasets(source_server)
    template = datasets[4]
    for index in range(114):  # 120 datasets: three pages of the default 50
        extra = copy.deepcopy(template)
        extra.update(id=f"6a00000000000000000{index:05d}", slug=f"jeu-{index}", title=f"Jeu {index}")
        datasets.append(extra)
    remote = RemoteUdata(source_server, datasets)
    source = make_source(portal, remote.url)
    job = jobs.run_source(source["id"])
    assert report_for_job(job["id"]).counts["create"] == 120
    assert len(harvested(source["id"])) == 120
    assert remote.pages_requested() == [1, 2, 3]  # stopped at next_page null
    first = dict(parse_qsl(next(q for _m, p, q in source_server.requests if p == DATASETS_PATH)))
    assert (first["page_size"], first["sort"]) == ("50", "created")


@pytest.mark.parametrize("form", ["api_id", "api_slug", "organisation_page", "root_and_config"])
def test_the_source_may_name_its_organisation_by_api_address_page_or_config(portal, remote, form):
    base = remote.server.url("/").rstrip("/")
    url, config = {
        "api_id": (remote.url, {}),
        "api_slug": (f"{base}/api/1/datasets/?organization=sigerly", {}),
        "organisation_page": (f"{base}/fr/organizations/sigerly/", {}),
        "root_and_config": (f"{base}/", {"udata_organization": "sigerly"}),
    }[form]
    source = make_source(portal, url, config)
    job = jobs.run_source(source["id"])
    assert report_for_job(job["id"]).counts["create"] == 6
    assert remote.server.requested("/api/1/organizations/sigerly/") == (0 if form == "api_id" else 1)


def test_a_source_naming_no_organisation_is_refused_before_reading_the_portal(portal, remote):
    source = make_source(portal, remote.server.url(DATASETS_PATH))
    job = jobs.run_source(source["id"])
    assert job["status"] == "Finished"
    [error] = [m for m in report_for_job(job["id"]).messages if m["level"] == "error"]
    assert "organization" in error["message"]
    assert remote.server.requested(DATASETS_PATH) == 0


def test_the_configuration_keys_of_the_type_are_checked():
    harvester = udata.UdataHarvester()
    assert harvester.parse_config('{"udata_organization": "sigerly", "page_size": 100}') == {
        "udata_organization": "sigerly", "page_size": 100}
    for bad in ('{"udata_organization": "a b/c"}', '{"page_size": 0}', '{"page_size": "50"}', '{"page_size": 5000}'):
        with pytest.raises(ConfigError):
            harvester.parse_config(bad)


# ------------------------------------------------------------------------------------ safety


@pytest.mark.parametrize("failure", ["page2_500", "empty", "loop", "other_site", "malformed", "not_udata",
                                     "short_listing"])
def test_a_faulty_source_finishes_the_job_with_an_error_and_changes_nothing(portal, remote, failure):
    source, _job, first = harvest(portal, remote, {"max_withdraw_percent": 100})
    before = {t: (d["state"], d["metadata_modified"]) for t, d in first.items()}
    server = remote.server
    page2 = f"{DATASETS_PATH}?organization={ORG_ID}&page=2&page_size=3&sort=created"
    page1 = page2.replace("page=2", "page=1")
    if failure == "page2_500":
        server.fail(page2, 500)
    elif failure == "empty":
        remote.datasets = []
    elif failure in ("loop", "other_site"):
        # Another site: the same server under another name, answering an empty last page if asked.
        target = server.url(page1) if failure == "loop" else (
            f"http://localhost:{server.port}{page2.replace('page=2', 'page=3')}")
        answer = json.loads(remote.answer("GET", DATASETS_PATH, page2.split("?", 1)[1], b"")[2])
        answer["next_page"] = target
        server.serve(page2, json.dumps(answer), content_type="application/json")
    elif failure == "malformed":
        server.serve(page2, '{"data": [', content_type="application/json")
    elif failure == "not_udata":
        server.serve(page2, "<html><body>Maintenance</body></html>", content_type="text/html")
    else:  # the portal announces more than it lists (a dataset deleted while the job paged)
        remote.total = 7
        remote.datasets = remote.datasets[:5]
    job = jobs.run_source(source["id"])
    assert_failed_safely(job, before, source["id"])
    assert not any("page=3" in q for _m, _p, q in server.requests)  # never followed off the site


def test_the_circuit_breaker_holds_withdrawals_over_the_threshold(portal, remote):
    source, _job, titles = harvest(portal, remote)  # default threshold: 20 %
    remote.datasets = remote.datasets[:4]  # 2 of 6 (33 %) would go
    job = jobs.run_source(source["id"])
    report = report_for_job(job["id"])
    assert report.breaker == "tripped"
    assert report.counts["withdraw"] == 0
    assert sorted(report.pending_withdrawals) == sorted(
        titles[t]["id"] for t in ("Réseau d'eau du syndicat", "Consommations d'énergie du département"))
    assert all(helpers.call_action("package_show", id=d["id"])["state"] == "active" for d in titles.values())


def test_the_dry_run_gives_the_routing_per_commune_without_writing(portal, remote):
    source = make_source(portal, remote.url, {"page_size": 3})
    preview = helpers.call_action("communes_harvest_preview", context={"user": portal["sysadmin"]["name"]},
                                  id=source["id"])
    assert preview["counts"]["create"] == 6
    communes = {item["title"]: item["commune"] for item in preview["decisions"]}
    assert communes == {
        "Arbres d'alignement de Bron": "69029",
        "Stations vélo du 5e arrondissement": "69123",
        "Bancs publics d'Oullins-Pierre-Bénite": "69149",
        "Qualité de l'air à Bron et Villeurbanne": "metropole-de-lyon",
        "Réseau d'eau du syndicat": "metropole-de-lyon",
        "Consommations d'énergie du département": "metropole-de-lyon",
    }
    assert preview["per_commune"]["69149"] == {"create": 1}
    sample = {item["guid"]: item["dataset"] for item in preview["sample"]}
    assert sample["5e1f0d3e8b4c4173a2b00001"]["license_id"] == "etalab-2.0"  # udata's "lov2", recognised
    assert sample["5e1f0d3e8b4c4173a2b00001"]["frequency"] == EU_FREQ + "ANNUAL"
    assert harvested(source["id"]) == {}
    assert helpers.call_action("package_search", include_private=True)["count"] == 0
