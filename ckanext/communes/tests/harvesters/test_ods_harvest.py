"""The Opendatasoft source type end to end against a real HTTP server on 127.0.0.1 answering like the
Explore API v2.1 (``/catalog/datasets`` paged by at most 100 with HTTP 400 beyond offset + limit = 10,000,
``/catalog/exports/json``): gather, fetch and import run for real through ckanext-harvest's stages, and
the assertions read PostgreSQL (package_show) and Solr (package_search)."""

from __future__ import annotations

import copy
import json
import pathlib
from urllib.parse import parse_qs, parse_qsl

import pytest
from ckan.tests import factories, helpers

from ckanext.communes.communes import seeding
from ckanext.communes.harvesters import jobs, ods
from ckanext.communes.harvesters.base import ConfigError
from ckanext.communes.harvesters.report import report_for_job
from ckanext.communes.tests.communes.conftest import FEW, write_communes_csv
from ckanext.communes.tests.harvesters.checks import assert_failed_safely, harvested, state_of
from ckanext.communes.vocabularies import get_vocabulary

FIXTURE = pathlib.Path(__file__).resolve().parent / "fixtures" / "ods" / "datasets.json"
COMMUNES = FEW + ("69266",)  # + Villeurbanne
LIST_PATH = "/api/explore/v2.1/catalog/datasets"
EXPORT_PATH = "/api/explore/v2.1/catalog/exports/json"
EU_THEME = "http://publications.europa.eu/resource/authority/data-theme/"
EU_FREQUENCY = "http://publications.europa.eu/resource/authority/frequency/"
pytestmark = pytest.mark.usefixtures("clean_db", "clean_index", "allow_private_addresses")


def fixture_datasets() -> list[dict]:
    return copy.deepcopy(json.loads(FIXTURE.read_text(encoding="utf-8")))


def copies(count: int, template_index: int = 2) -> list[dict]:
    """Generated datasets (volume is made in code, not committed)."""
    template = fixture_datasets()[template_index]
    made = []
    for index in range(count):
        dataset = copy.deepcopy(template)
        dataset["dataset_id"] = f"jeu-{index:04d}"
        dataset["dataset_uid"] = f"da_gen{index:04d}"
        dataset["metas"]["default"]["title"] = f"Jeu {index:04d}"
        made.append(dataset)
    return made


# The only ODSQL conditions the fixture server understands (the test proves the condition reaches the
# API and that what the API answers is what is harvested).
WHERE = {"records_count > 0": lambda d: d["metas"]["default"].get("records_count", 0) > 0}


class RemoteODS:
    """An Opendatasoft portal's Explore API v2.1 over the fixture server, on a list the test can change.

    ``announced`` makes the list endpoint announce another ``total_count`` (a catalogue over the offset cap
    without generating 10,000 datasets); the endpoint still refuses offset + limit > 10,000 with HTTP 400,
    as Opendatasoft does, and the export serves the datasets themselves."""

    def __init__(self, server, datasets: list[dict], announced: int | None = None) -> None:
        self.datasets = datasets
        self.announced = announced
        self.server = server
        server.handle(LIST_PATH, self.list_page)
        server.handle(EXPORT_PATH, self.export)
        self.url = server.url("/")

    def selected(self, params: dict[str, list[str]]) -> list[dict]:
        chosen = list(self.datasets)
        for refine in params.get("refine", []):
            facet, _, value = refine.partition(":")
            chosen = [d for d in chosen if value in ods._texts(d["metas"]["default"].get(facet))]
        for where in params.get("where", []):
            chosen = [d for d in chosen if WHERE[where](d)]
        if params.get("order_by") == ["dataset_id"]:
            chosen.sort(key=lambda d: d["dataset_id"])
        return chosen

    def list_page(self, method, path, query, body):
        params = parse_qs(query)
        limit, offset = int(params.get("limit", ["10"])[0]), int(params.get("offset", ["0"])[0])
        if limit > 100 or offset + limit > 10_000:
            error = {"error_code": "InvalidRESTParameterError",
                     "message": "Invalid value for limit/offset: offset + limit must be lower than 10000"}
            return 400, {"Content-Type": "application/json"}, json.dumps(error)
        chosen = self.selected(params)
        total = self.announced if self.announced is not None else len(chosen)
        page = {"total_count": total, "results": chosen[offset:offset + limit]}
        return 200, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(page, ensure_ascii=False)

    def export(self, method, path, query, body):
        chosen = self.selected(parse_qs(query))
        return 200, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(chosen, ensure_ascii=False)

    def list_queries(self) -> list[dict[str, str]]:
        return [dict(parse_qsl(q)) for _m, p, q in self.server.requests if p == LIST_PATH]


@pytest.fixture
def portal(tmp_path):
    seeding.seed(path=str(write_communes_csv(tmp_path / "communes.csv", COMMUNES)))
    return {"sysadmin": factories.Sysadmin()}


def make_source(portal, url: str, config: dict | None = None) -> dict:
    return helpers.call_action("harvest_source_create", context={"user": portal["sysadmin"]["name"]},
                               name="ods-metropole", title="Opendatasoft", url=url, source_type="communes_ods",
                               owner_org="metropole-de-lyon", config=json.dumps(config or {}))


def org_name(dataset: dict) -> str:
    return dataset["organization"]["name"]


# ------------------------------------------------------------------------------------------ mapping, routing


def test_an_ods_catalogue_is_mapped_onto_our_schema_and_routed_to_communes(portal, source_server):
    remote = RemoteODS(source_server, fixture_datasets())
    source = make_source(portal, remote.url)
    job = jobs.run_source(source["id"])
    assert job["status"] == "Finished"
    datasets = harvested(source["id"])
    assert set(datasets) == {"Arbres d'alignement de Bron", "Parkings de Villeurbanne",
                             "Budget du syndicat des eaux", "Équipements sportifs"}
    # Routing: publisher name ("Ville de Bron", "Mairie de Villeurbanne"), the territory when the publisher
    # names no commune ("Direction des sports" + "Lyon"), an unrouted publisher stays with the Métropole.
    assert org_name(datasets["Arbres d'alignement de Bron"]) == "bron"
    assert org_name(datasets["Parkings de Villeurbanne"]) == "villeurbanne"
    assert org_name(datasets["Équipements sportifs"]) == "lyon"
    assert org_name(datasets["Budget du syndicat des eaux"]) == "metropole-de-lyon"

    bron = datasets["Arbres d'alignement de Bron"]
    base = remote.url.rstrip("/")
    assert bron["notes"].startswith("## Contenu\n\nInventaire des **arbres d'alignement** de la commune")
    assert "[patrimoine arboré](https://www.ville-bron.fr/patrimoine-arbore)" in bron["notes"]
    assert sorted(t["name"] for t in bron["tags"]) == ["arbres", "l arbre en ville", "végétation"]
    assert bron["theme"] == [EU_THEME + "ENVI"]
    assert bron["license_id"] == "etalab-2.0"
    assert bron["language"] == ["http://publications.europa.eu/resource/authority/language/FRA"]
    assert bron["modified"].startswith("2024-03-01")
    assert bron["issued"] == "2019-05-01"
    assert bron["frequency"] == EU_FREQUENCY + "ANNUAL"
    assert bron["contact"] == [{"name": "Service des espaces verts", "email": "espaces.verts@ville-bron.fr"}]
    assert bron["temporal_coverage"] == [{"start": "2019-01-01", "end": "2023-12-31"}]
    assert bron["url"] == f"{base}/explore/dataset/arbres-alignement-bron/"
    assert bron["identifier"] == "da_7u3k2p"
    assert bron["publisher"][0]["identifier"] == "216900290"  # derived from the owner commune
    exports = f"{base}/api/explore/v2.1/catalog/datasets/arbres-alignement-bron"
    assert [(r["name"], r["url"], r["format"]) for r in bron["resources"]] == [
        ("Export CSV", f"{exports}/exports/csv", "CSV"),
        ("Export JSON", f"{exports}/exports/json", "JSON"),
        ("Export GeoJSON", f"{exports}/exports/geojson", "GeoJSON"),
        ("Export Shapefile", f"{exports}/exports/shp", "SHP"),
        ("Notice de l'inventaire", f"{exports}/attachments/notice_pdf", "PDF"),
    ]
    assert bron["resources"][0]["mimetype"] == "text/csv"

    parkings = datasets["Parkings de Villeurbanne"]
    assert parkings["theme"] == [EU_THEME + "TRAN"]
    assert parkings["frequency"] == EU_FREQUENCY + "UPDATE_CONT"  # « Temps réel »
    assert parkings["license_id"] == "ODbL-1.0"
    # No geo field: no GeoJSON nor Shapefile export.
    assert [r["name"] for r in parkings["resources"]] == ["Export CSV", "Export JSON"]

    budget = datasets["Budget du syndicat des eaux"]
    assert sorted(budget["theme"]) == [EU_THEME + "ECON", EU_THEME + "GOVE"]
    # No records: no export, the attachment only.
    assert [(r["name"], r["format"]) for r in budget["resources"]] == [("Budget 2023", "XLSX")]
    assert [t["name"] for t in budget["tags"]] == ["budget"]

    sports = datasets["Équipements sportifs"]
    assert sports["theme"] == [EU_THEME + "EDUC"]
    assert json.loads(sports["harvest_unmapped"])["theme"] == ["Thème maison"]
    assert sports["frequency"] == EU_FREQUENCY + "MONTHLY"
    # "Licence Ouverte (Etalab)" alone names no single version, but on Opendatasoft portals it is version
    # 1.0 (their convention, licences/data/conventions/ods.csv; 2.0 is « Licence Ouverte v2.0 (Etalab) »).
    # The URL beside it is Etalab's generic page, which does not say which version the publisher chose.
    assert sports["license_id"] == "fr-lo"

    # Solr: the commune facet follows the routing.
    found = helpers.call_action("package_search", fq="vocab_commune:69266")
    assert [d["title"] for d in found["results"]] == ["Parkings de Villeurbanne"]
    report = report_for_job(job["id"])
    assert report.counts["create"] == 4
    assert report.per_commune["69029"] == {"create": 1}
    assert any("Syndicat mixte des eaux du Grand Lyon" in m["message"] for m in report.messages)


def test_a_script_in_an_html_description_never_reaches_notes(portal, source_server):
    remote = RemoteODS(source_server, fixture_datasets()[:1])
    source = make_source(portal, remote.url)
    jobs.run_source(source["id"])
    notes = harvested(source["id"])["Arbres d'alignement de Bron"]["notes"]
    for forbidden in ("<script", "script>", "alert", "pirate", "document.cookie", "evil.example", "javascript:",
                      "marqueur-style", "color: red"):
        assert forbidden not in notes, forbidden
    assert "lien piégé" in notes  # the link's text stays, its javascript: target goes
    assert "- essence\n- hauteur" in notes
    assert helpers.call_action("package_search", q="pirate")["count"] == 0
    assert helpers.call_action("package_search", q="alignement")["count"] == 1


def test_an_unknown_licence_is_stored_as_unrecognised_its_text_kept_and_flagged(portal, source_server):
    remote = RemoteODS(source_server, fixture_datasets())
    source = make_source(portal, remote.url)
    jobs.run_source(source["id"])
    budget = harvested(source["id"])["Budget du syndicat des eaux"]
    assert (budget["license_id"], budget["licence_compliance"]) == ("unrecognised", "unknown")
    # The label first (the licence URL designates no licence either).
    assert json.loads(budget["harvest_unmapped"])["license_id"] == ["Licence maison de la régie"]


def test_a_period_ending_before_it_starts_is_dropped_and_reported(portal, source_server):
    remote = RemoteODS(source_server, fixture_datasets())
    source = make_source(portal, remote.url)
    job = jobs.run_source(source["id"])
    sports = harvested(source["id"])["Équipements sportifs"]
    assert sports["state"] == "active"
    assert not sports.get("temporal_coverage")
    assert json.loads(sports["harvest_unmapped"])["temporal_coverage"] == [
        json.dumps({"start": "2024-12-31", "end": "2020-01-01"}, ensure_ascii=False)]
    warnings = [m for m in report_for_job(job["id"]).messages
                if m["level"] == "warning" and m.get("guid") == "da_5e0a71"]
    assert any("temporal_coverage" in m["message"] for m in warnings)


# ------------------------------------------------------------------------------------------ GUIDs, updates


def test_harvesting_an_unchanged_catalogue_again_writes_nothing(portal, source_server):
    remote = RemoteODS(source_server, fixture_datasets())
    source = make_source(portal, remote.url)
    jobs.run_source(source["id"])
    before = harvested(source["id"])
    activities = {t: len(helpers.call_action("package_activity_list", id=d["id"])) for t, d in before.items()}
    job = jobs.run_source(source["id"])
    report = report_for_job(job["id"])
    assert report.counts["unchanged"] == 4
    assert report.counts["create"] == report.counts["update"] == report.counts["withdraw"] == 0
    for title, dataset in harvested(source["id"]).items():
        assert dataset["metadata_modified"] == before[title]["metadata_modified"], title
        assert len(helpers.call_action("package_activity_list", id=dataset["id"])) == activities[title]


def test_a_changed_dataset_is_updated_in_place_keeping_its_id_and_name(portal, source_server):
    remote = RemoteODS(source_server, fixture_datasets())
    source = make_source(portal, remote.url)
    jobs.run_source(source["id"])
    first = harvested(source["id"])["Parkings de Villeurbanne"]
    remote.datasets[1]["metas"]["default"]["description"] = "<p>Places libres, <em>mise à jour</em>.</p>"
    job = jobs.run_source(source["id"])
    report = report_for_job(job["id"])
    assert (report.counts["update"], report.counts["unchanged"], report.counts["create"]) == (1, 3, 0)
    updated = harvested(source["id"])["Parkings de Villeurbanne"]
    assert (updated["id"], updated["name"]) == (first["id"], first["name"])
    assert updated["notes"] == "Places libres, *mise à jour*."
    assert [r["id"] for r in updated["resources"]] == [r["id"] for r in first["resources"]]


def test_a_renamed_dataset_id_updates_the_same_dataset(portal, source_server):
    remote = RemoteODS(source_server, fixture_datasets())
    source = make_source(portal, remote.url)
    jobs.run_source(source["id"])
    first = harvested(source["id"])["Parkings de Villeurbanne"]
    remote.datasets[1]["dataset_id"] = "stationnement-villeurbanne"  # same dataset_uid
    job = jobs.run_source(source["id"])
    report = report_for_job(job["id"])
    assert (report.counts["update"], report.counts["create"], report.counts["withdraw"]) == (1, 0, 0)
    renamed = helpers.call_action("package_show", id=first["id"])
    assert (renamed["name"], renamed["state"]) == (first["name"], "active")
    assert renamed["url"].endswith("/explore/dataset/stationnement-villeurbanne/")
    assert renamed["resources"][0]["url"].endswith("/catalog/datasets/stationnement-villeurbanne/exports/csv")
    assert len(harvested(source["id"])) == 4


# ------------------------------------------------------------------------------------------ paging, exports


def test_paging_reads_the_catalogue_to_the_end_100_at_a_time(portal, source_server):
    remote = RemoteODS(source_server, fixture_datasets() + copies(101))
    source = make_source(portal, remote.url)
    job = jobs.run_source(source["id"])
    assert len(harvested(source["id"])) == 105
    assert [(q["limit"], q["offset"]) for q in remote.list_queries()] == [("100", "0"), ("100", "100")]
    assert source_server.requested(EXPORT_PATH) == 0
    assert report_for_job(job["id"]).counts["create"] == 105


def test_a_catalogue_over_the_offset_cap_is_read_from_the_catalogue_export(portal, source_server):
    # The list endpoint announces 10,004 datasets and, like Opendatasoft, answers HTTP 400 beyond offset +
    # limit = 10,000. Generating 10,004 datasets would prove nothing more: the switch is decided on the
    # announced total, so the harvester asks for the first page only, then reads the export (here 120
    # datasets, handed to the core in chunks of 100), and never pages into the 400s.
    remote = RemoteODS(source_server, fixture_datasets() + copies(116), announced=10_004)
    source = make_source(portal, remote.url)
    job = jobs.run_source(source["id"])
    assert job["status"] == "Finished"
    assert [q["offset"] for q in remote.list_queries()] == ["0"]
    assert source_server.requested(EXPORT_PATH) == 1
    assert len(harvested(source["id"])) == 120
    report = report_for_job(job["id"])
    assert report.counts["create"] == 120
    assert [page["url"].rsplit("#", 1)[1] for page in report.pages] == ["records=1-100", "records=101-120"]
    assert not [m for m in report.messages if m["level"] == "error"]
    # Read again from the export: nothing changed, nothing written.
    job = jobs.run_source(source["id"])
    assert report_for_job(job["id"]).counts["unchanged"] == 120


def test_an_export_over_the_response_size_limit_stops_with_an_error_and_writes_nothing(portal, source_server,
                                                                                        monkeypatch):
    monkeypatch.setattr(ods, "PAGE_SIZE", 1)  # the first list page (one dataset) fits in the limit, the export not
    remote = RemoteODS(source_server, fixture_datasets(), announced=10_004)
    source = make_source(portal, remote.url, config={"max_response_bytes": 3000})
    job = jobs.run_source(source["id"])
    assert job["status"] == "Finished"
    report = report_for_job(job["id"])
    [error] = [m for m in report.messages if m["level"] == "error"]
    assert "larger than the limit" in error["message"] and EXPORT_PATH in error["message"]
    assert harvested(source["id"]) == {}


# ------------------------------------------------------------------------------------------ source config


def test_refine_where_and_excluded_datasets_are_applied(portal, source_server):
    remote = RemoteODS(source_server, fixture_datasets())
    config = {"refine": ["language:fr"], "where": "records_count > 0", "exclude_datasets": ["parkings-villeurbanne"]}
    source = make_source(portal, remote.url, config=config)
    jobs.run_source(source["id"])
    # where: the budget has no records; exclude_datasets: the parkings.
    assert set(harvested(source["id"])) == {"Arbres d'alignement de Bron", "Équipements sportifs"}
    [query] = remote.list_queries()
    assert (query["refine"], query["where"], query["order_by"]) == ("language:fr", "records_count > 0", "dataset_id")

    # Excluding a dataset already harvested withdraws it, though the API's bytes did not change.
    config["exclude_datasets"] = ["da_5e0a71"]  # by dataset_uid this time
    config["max_withdraw_percent"] = 100
    helpers.call_action("harvest_source_patch", context={"user": portal["sysadmin"]["name"]}, id=source["id"],
                        config=json.dumps(config))
    job = jobs.run_source(source["id"])
    report = report_for_job(job["id"])
    assert (report.counts["withdraw"], report.counts["create"]) == (1, 1)
    states = {t: d["state"] for t, d in harvested(source["id"]).items()}
    assert states == {"Arbres d'alignement de Bron": "active", "Équipements sportifs": "deleted",
                      "Parkings de Villeurbanne": "active"}


@pytest.mark.parametrize(("config", "message"), [
    ({"refine": "sans deux-points"}, 'Configuration key "refine"'),
    ({"refine": {"theme": []}}, 'Configuration key "refine"'),
    ({"where": 12}, 'Configuration key "where"'),
    ({"exclude_datasets": "un-seul"}, 'Configuration key "exclude_datasets"'),
    ({"excluded": ["x"]}, 'Unknown configuration key "excluded"'),
])
def test_a_bad_source_config_is_refused_naming_the_key(config, message):
    with pytest.raises(ConfigError) as error:
        ods.OpendatasoftHarvester().parse_config(json.dumps(config))
    assert message in str(error.value)


def test_a_good_source_config_is_accepted():
    config = {"refine": {"publisher": ["Ville de Bron", "Mairie de Villeurbanne"]}, "where": "records_count > 0",
              "exclude_datasets": ["a", "da_1"], "max_withdraw_percent": 10}
    assert ods.OpendatasoftHarvester().parse_config(json.dumps(config)) == config
    assert ods._query(config)[:2] == [("refine", "publisher:Ville de Bron"),
                                      ("refine", "publisher:Mairie de Villeurbanne")]


# ------------------------------------------------------------------------------------------ safety


@pytest.mark.parametrize("failure", ["page2_500", "empty", "malformed", "not_ods", "shifted"])
def test_a_faulty_catalogue_finishes_the_job_with_an_error_and_changes_nothing(portal, source_server, monkeypatch,
                                                                               failure):
    monkeypatch.setattr(ods, "PAGE_SIZE", 2)  # two pages from the four fixture datasets
    remote = RemoteODS(source_server, fixture_datasets())
    source = make_source(portal, remote.url, config={"max_withdraw_percent": 100})
    jobs.run_source(source["id"])
    before = state_of(source["id"])
    assert len(before) == 4
    if failure == "page2_500":
        source_server.fail(f"{LIST_PATH}?limit=2&offset=2&order_by=dataset_id", 500)
    elif failure == "empty":
        remote.datasets = []
    elif failure == "malformed":
        source_server.serve(f"{LIST_PATH}?limit=2&offset=2&order_by=dataset_id", "{\"results\": [", "application/json")
    elif failure == "not_ods":
        source_server.serve(LIST_PATH, json.dumps({"success": True, "result": []}), "application/json")
    else:  # a dataset moved from page 2 to page 1 between the two requests: one read twice, one never
        answer = remote.list_page

        def shifting(method, path, query, body):
            if "offset=2" in query:
                remote.datasets.insert(0, remote.datasets.pop())  # arrives first in dataset_id order
                remote.datasets[0]["dataset_id"] = "aaa-" + remote.datasets[0]["dataset_id"]
            return answer(method, path, query, body)

        source_server.handle(LIST_PATH, shifting)
    job = jobs.run_source(source["id"])
    assert_failed_safely(job, before, source["id"])


def test_the_circuit_breaker_holds_withdrawals_over_the_threshold(portal, source_server):
    remote = RemoteODS(source_server, fixture_datasets())
    source = make_source(portal, remote.url)  # default threshold: 20 %
    jobs.run_source(source["id"])
    titles = harvested(source["id"])
    remote.datasets = remote.datasets[:2]  # 2 of 4 (50 %) would go
    job = jobs.run_source(source["id"])
    report = report_for_job(job["id"])
    assert report.breaker == "tripped"
    assert report.counts["withdraw"] == 0
    assert sorted(report.pending_withdrawals) == sorted(titles[t]["id"] for t in ("Budget du syndicat des eaux",
                                                                                  "Équipements sportifs"))
    assert all(helpers.call_action("package_show", id=d["id"])["state"] == "active" for d in titles.values())


def test_the_dry_run_gives_the_routing_per_commune_without_writing(portal, source_server):
    remote = RemoteODS(source_server, fixture_datasets())
    source = make_source(portal, remote.url)
    preview = helpers.call_action("communes_harvest_preview", context={"user": portal["sysadmin"]["name"]},
                                  id=source["id"])
    assert preview["counts"]["create"] == 4
    communes = {item["guid"]: item["commune"] for item in preview["sample"]}
    assert communes == {"da_7u3k2p": "69029", "da_9f1c8e": "69266", "da_5e0a71": "69123",
                        "da_2b6d4a": "metropole-de-lyon"}
    assert preview["per_commune"]["69029"] == {"create": 1}
    assert harvested(source["id"]) == {}
    assert helpers.call_action("package_search", include_private=True)["count"] == 0


# ------------------------------------------------------------------------------------------ mapping tables


def test_the_mapping_tables_use_only_codes_our_vocabularies_carry():
    themes = {term.code for term in get_vocabulary("data-theme").terms}
    frequencies = {term.code for term in get_vocabulary("frequency").terms}
    assert {code for codes in ods.theme_table().values() for code in codes} <= themes
    assert set(ods.frequency_table().values()) <= frequencies
    for label in ("Environnement", "Transports, Déplacements", "Administration, Gouvernement, Finances publiques, "
                  "Citoyenneté", "Aménagement du territoire, Urbanisme, Bâtiments, Equipements, Logement",
                  "Culture, Patrimoine", "Economie, Entreprise, PME, Développement économique, Emploi",
                  "Education, Formation, Recherche, Enseignement", "Santé", "Sports, Loisirs", "Services, Social",
                  "Justice, Sécurité, Police, Criminalité", "Energie", "Agriculture, Pêche, Forêt", "Tourisme",
                  "Patrimoine culturel", "Population et société"):
        assert ods.label_key(label) in ods.theme_table(), label
    assert ods.map_themes(["ÉCONOMIE,entreprise, PME , Développement économique, Emploi"]) == ["ECON"]
    assert [ods.map_frequency(w) for w in ("Annuelle", "mensuelle", "Temps réel", "Trimestrielle")] == [
        "ANNUAL", "MONTHLY", "UPDATE_CONT", "QUARTERLY"]
