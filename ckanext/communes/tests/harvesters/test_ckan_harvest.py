"""The CKAN source type end to end against a real HTTP server on 127.0.0.1 answering package_search
(paged by 100, as a remote CKAN does): mapping of remote fields and extras, licences through the
normaliser, routing by the remote organisation, paging, deletions propagated (ckanext-harvest's own CKAN
harvester never deletes), a renamed remote slug updating the same dataset."""

from __future__ import annotations

import copy
import json
import pathlib
from urllib.parse import parse_qs

import pytest
from ckan.tests import factories, helpers

from ckanext.communes.communes import seeding
from ckanext.communes.harvesters import jobs
from ckanext.communes.harvesters.report import report_for_job
from ckanext.communes.tests.communes.conftest import FEW, write_communes_csv
from ckanext.communes.tests.harvesters.test_dcat_harvest import harvested

FIXTURE = pathlib.Path(__file__).resolve().parent / "fixtures" / "ckan" / "datasets.json"
pytestmark = pytest.mark.usefixtures("clean_db", "clean_index", "allow_private_addresses")


class RemoteCKAN:
    """package_search of a remote CKAN over the fixture server, on a list the test can change."""

    def __init__(self, server, datasets: list[dict]) -> None:
        self.datasets = datasets
        server.handle("/api/3/action/package_search", self.answer)
        self.url = server.url("/")

    def answer(self, method, path, query, body):
        params = parse_qs(query)
        start, rows = int(params.get("start", ["0"])[0]), int(params.get("rows", ["10"])[0])
        ordered = sorted(self.datasets, key=lambda d: d["id"])
        result = {"count": len(ordered), "results": ordered[start:start + rows]}
        return 200, {"Content-Type": "application/json"}, json.dumps({"success": True, "result": result})


@pytest.fixture
def portal(tmp_path):
    seeding.seed(path=str(write_communes_csv(tmp_path / "communes.csv", FEW)))
    return {"sysadmin": factories.Sysadmin()}


def make_source(portal, url: str, config: dict | None = None) -> dict:
    return helpers.call_action("harvest_source_create", context={"user": portal["sysadmin"]["name"]},
                               name="ckan-metropole", title="CKAN", url=url, source_type="communes_ckan",
                               owner_org="metropole-de-lyon", config=json.dumps(config or {}))


def fixture_datasets() -> list[dict]:
    return copy.deepcopy(json.loads(FIXTURE.read_text(encoding="utf-8")))


def test_remote_datasets_are_mapped_and_routed(portal, source_server):
    remote = RemoteCKAN(source_server, fixture_datasets())
    source = make_source(portal, remote.url)
    job = jobs.run_source(source["id"])
    datasets = harvested(source["id"])
    bron = datasets["Parkings de Bron"]
    assert bron["organization"]["name"] == "bron"
    assert bron["license_id"] == "etalab-2.0"
    assert bron["theme"] == ["http://publications.europa.eu/resource/authority/data-theme/TRAN"]
    assert bron["frequency"] == "http://publications.europa.eu/resource/authority/frequency/MONTHLY"
    assert sorted(t["name"] for t in bron["tags"]) == ["l auto", "stationnement"]
    assert bron["resources"][0]["format"] == "CSV"
    lyon = datasets["Écoles du 3e arrondissement"]
    assert lyon["organization"]["name"] == "lyon"
    assert (lyon["license_id"], lyon["licence_compliance"]) == ("CC-BY-4.0", "open_not_listed")
    assert datasets["Budget du syndicat"]["organization"]["name"] == "metropole-de-lyon"
    assert report_for_job(job["id"]).counts["create"] == 3


def test_paging_deletions_and_a_renamed_slug(portal, source_server):
    datasets = fixture_datasets()
    template = datasets[2]
    for index in range(150):  # more than one page of 100
        extra = copy.deepcopy(template)
        extra.update(id=f"1b1f0d3e-0000-4000-8000-{index:012d}", name=f"jeu-{index}", title=f"Jeu {index}")
        datasets.append(extra)
    remote = RemoteCKAN(source_server, datasets)
    source = make_source(portal, remote.url, config={"max_withdraw_percent": 10})
    jobs.run_source(source["id"])
    assert len(harvested(source["id"])) == 153
    assert source_server.requested("/api/3/action/package_search") == 2
    first = harvested(source["id"])["Parkings de Bron"]

    # The remote portal renames a slug and deletes 5 datasets (3 %, under the 10 % threshold).
    remote.datasets[0]["name"] = "parkings-publics-bron"
    remote.datasets[0]["title"] = "Parkings publics de Bron"
    gone = {d["id"] for d in remote.datasets[10:15]}
    remote.datasets = [d for d in remote.datasets if d["id"] not in gone]
    job = jobs.run_source(source["id"])
    report = report_for_job(job["id"])
    assert (report.counts["update"], report.counts["withdraw"], report.counts["unchanged"]) == (1, 5, 147)
    renamed = helpers.call_action("package_show", id=first["id"])
    assert (renamed["name"], renamed["title"]) == (first["name"], "Parkings publics de Bron")
    states = [d["state"] for d in harvested(source["id"]).values()]
    assert states.count("deleted") == 5
