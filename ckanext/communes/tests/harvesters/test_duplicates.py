"""The same datasets reached by two sources are kept once, with a report line naming both sources; a
source with a higher priority takes them over, and the other source then meets them as duplicates."""

from __future__ import annotations

import json

import pytest
from ckan import model
from ckan.tests import factories, helpers

from ckanext.communes.communes import seeding
from ckanext.communes.harvesters import jobs
from ckanext.communes.harvesters.report import report_for_job
from ckanext.communes.tests.communes.conftest import write_communes_csv
from ckanext.communes.tests.harvesters.test_dcat_harvest import COMMUNES, FIXTURES, harvested
from ckanext.harvest.model import HarvestObject

pytestmark = pytest.mark.usefixtures("clean_db", "clean_index", "allow_private_addresses")


@pytest.fixture
def sysadmin(tmp_path):
    seeding.seed(path=str(write_communes_csv(tmp_path / "communes.csv", COMMUNES)))
    return factories.Sysadmin()


def serve_under(server, prefix: str) -> str:
    """The fixture catalogue served a second time under another address: the same datasets (same URIs)."""
    base = server.url("/").rstrip("/")
    for page in ("page1", "page2"):
        text = (FIXTURES / f"{page}.ttl").read_text(encoding="utf-8").replace("{base}", base)
        text = text.replace(f'"{base}/dcat/', f'"{base}/{prefix}/')
        server.serve(f"/{prefix}/{page}.ttl", text)
    return server.url(f"/{prefix}/page1.ttl")


def source(sysadmin, name: str, url: str, priority: int = 0) -> dict:
    return helpers.call_action("harvest_source_create", context={"user": sysadmin["name"]}, name=name,
                               title=name.replace("-", " ").title(), url=url, source_type="communes_dcat",
                               owner_org="metropole-de-lyon", config=json.dumps({"priority": priority}))


def test_two_sources_listing_the_same_datasets_give_one_dataset_each_and_name_both(sysadmin, source_server):
    first = source(sysadmin, "portail-commune", serve_under(source_server, "a"))
    second = source(sysadmin, "catalogue-metropole", serve_under(source_server, "b"))
    jobs.run_source(first["id"])
    job = jobs.run_source(second["id"])
    assert helpers.call_action("package_search", rows=100)["count"] == 5
    report = report_for_job(job["id"])
    assert report.counts["duplicate"] == 5 and report.counts["create"] == 0
    messages = [m["message"] for m in report.messages if "Portail Commune" in m["message"]]
    assert len(messages) == 5
    assert all("déjà moissonné" in m.lower() or "already harvested" in m.lower() for m in messages)
    assert harvested(second["id"]) == {}
    # Harvested again: still one of each, still reported.
    job = jobs.run_source(second["id"])
    assert report_for_job(job["id"]).counts["duplicate"] == 5
    assert helpers.call_action("package_search", rows=100)["count"] == 5


def test_a_source_with_a_higher_priority_takes_the_datasets_over(sysadmin, source_server):
    low = source(sysadmin, "portail-commune", serve_under(source_server, "a"))
    high = source(sysadmin, "catalogue-metropole", serve_under(source_server, "b"), priority=10)
    jobs.run_source(low["id"])
    ids = {d["id"] for d in harvested(low["id"]).values()}
    job = jobs.run_source(high["id"])
    assert report_for_job(job["id"]).counts["takeover"] == 5
    assert {d["id"] for d in harvested(high["id"]).values()} == ids  # the same datasets, not copies
    assert helpers.call_action("package_search", rows=100)["count"] == 5
    current = {row[0] for row in model.Session.query(HarvestObject.harvest_source_id)
               .filter(HarvestObject.package_id.in_(ids), HarvestObject.current.is_(True))}
    assert current == {high["id"]}
    job = jobs.run_source(low["id"])
    report = report_for_job(job["id"])
    assert report.counts["duplicate"] == 5 and report.counts["withdraw"] == 0
    assert helpers.call_action("package_search", rows=100)["count"] == 5
