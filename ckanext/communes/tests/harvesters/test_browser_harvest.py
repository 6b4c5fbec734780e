"""An operator, in Chromium, creates a DCAT source for a commune through the French source form, runs the
dry run and sees the counts and mapped values, starts the job, which the gather and fetch workers (the
ones `make run` starts) carry out over the real Redis queues, and finds the datasets on the commune's
page. Screenshots in test-artifacts/screenshots/harvest-*.png."""

from __future__ import annotations

import threading
import time

import pytest
from ckan.tests import helpers

from ckanext.communes.communes import seeding
from ckanext.communes.harvesters import workers
from ckanext.communes.tests.communes.conftest import make_people, write_communes_csv
from ckanext.communes.tests.conftest import browser_log_in
from ckanext.communes.tests.harvesters.test_dcat_harvest import COMMUNES, serve_catalogue

PASSWORD = "correct horse battery staple"
pytestmark = pytest.mark.usefixtures("clean_db", "clean_index", "allow_private_addresses")


@pytest.fixture
def operator(tmp_path, live_server, ckan_config, monkeypatch):
    monkeypatch.setitem(ckan_config, "ckan.site_url", live_server)
    from ckan import model

    seeding.seed(path=str(write_communes_csv(tmp_path / "communes.csv", COMMUNES)))
    operator = make_people().operator
    account = model.User.get(operator["name"])
    account.password = PASSWORD  # the factory's password is random: one the browser can type
    model.repo.commit()
    return operator


@pytest.fixture
def running_workers(app):
    """The gather and fetch workers in threads of the test process, on the test's Redis."""
    settings = workers.WorkerSettings(block_seconds=1, socket_timeout=5)
    started = [workers.make_worker(kind, settings, app_context=app.flask_app.test_request_context)
               for kind in (workers.GATHER, workers.FETCH)]
    threads = [threading.Thread(target=w.run, daemon=True) for w in started]
    for thread in threads:
        thread.start()
    yield started
    for worker in started:
        worker.stop()
    for thread in threads:
        thread.join(timeout=15)


def _log_in(page, base_url: str, user_name: str) -> None:
    browser_log_in(page, base_url, user_name, PASSWORD, next_path="/dataset/")


def test_an_operator_creates_a_source_runs_the_dry_run_then_the_job(
    app, operator, live_server, source_server, browser_page, screenshot, running_workers
):
    page = browser_page
    url = serve_catalogue(source_server)  # 5 datasets on two pages
    _log_in(page, live_server, operator["name"])

    page.goto(live_server + "/harvest/new")
    screenshot("harvest-source-form-empty")
    assert "Catalogue DCAT (DCAT-AP)" in page.content()  # French type names and help
    page.fill("#field-url", url)
    page.fill("#field-title", "Catalogue de Bron")
    page.check('input[name="source_type"][value="communes_dcat"]')
    page.select_option("#field-organizations", label="Bron")
    screenshot("harvest-source-form")
    with page.expect_navigation():
        page.locator('#save').click()

    page.goto(live_server + "/harvest/admin/catalogue-de-bron")
    with page.expect_navigation():
        page.locator(".communes-harvest-preview-button").click()
    screenshot("harvest-dry-run")
    assert page.locator('td[data-count="create"]').inner_text().strip() == "5"
    rows = page.locator("table.communes-preview-sample tbody tr")
    assert rows.count() == 5
    assert "Arbres d'alignement de Bron" in page.locator("table.communes-preview-sample").inner_text()
    assert helpers.call_action("package_search", include_private=True)["count"] == 0  # nothing written

    page.goto(live_server + "/harvest/admin/catalogue-de-bron")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator('a[href*="/harvest/refresh/"]').first.click()
    page.wait_for_load_state("networkidle")
    confirm = page.locator(".modal.show .btn-primary")
    if confirm.count():
        with page.expect_navigation():
            confirm.first.click()

    deadline = time.monotonic() + 90
    source = helpers.call_action("harvest_source_show", context={"ignore_auth": True}, id="catalogue-de-bron")
    while time.monotonic() < deadline:
        helpers.call_action("harvest_jobs_run", context={"ignore_auth": True}, source_id=source["id"])
        jobs = helpers.call_action("harvest_job_list", context={"ignore_auth": True}, source_id=source["id"])
        if jobs and jobs[0]["status"] == "Finished":
            break
        time.sleep(1)
    assert jobs and jobs[0]["status"] == "Finished", jobs
    assert jobs[0]["stats"]["added"] == 5, jobs[0]

    page.goto(live_server + f"/harvest/catalogue-de-bron/job/{jobs[0]['id']}")
    screenshot("harvest-job-report")
    assert "Rapport de moissonnage" in page.content()
    per_commune = page.locator("table.communes-harvest-per-commune tbody tr").first.inner_text()
    assert per_commune.split() == ["Bron", "5", "0", "0", "0", "0", "0", "0"], per_commune

    page.goto(live_server + "/organization/bron")
    screenshot("harvest-commune-page")
    listed = page.locator(".dataset-list .dataset-heading").all_inner_texts()
    # A commune-owned source puts every dataset in the commune, whoever the publisher names.
    assert len(listed) == 5, listed
    assert any("Arbres d'alignement de Bron" in title for title in listed)


def _create_source(page, live_server: str, url: str, title: str, source_type: str, organisation: str) -> None:
    page.goto(live_server + "/harvest/new")
    page.fill("#field-url", url)
    page.fill("#field-title", title)
    page.check(f'input[name="source_type"][value="{source_type}"]')
    page.select_option("#field-organizations", label=organisation)
    with page.expect_navigation():
        page.locator("#save").click()


def _dry_run_per_commune(page, live_server: str, name: str, shot: str, screenshot) -> dict[str, str]:
    page.goto(live_server + f"/harvest/admin/{name}")
    with page.expect_navigation():
        page.locator(".communes-harvest-preview-button").click()
    screenshot(shot)
    rows = page.locator("table.communes-harvest-per-commune tbody tr").all_inner_texts()
    return {row.split("\t")[0].strip(): row.split("\t")[1].strip() for row in rows}


def test_an_operator_dry_runs_an_opendatasoft_source_of_a_commune_and_the_metropoles_csw(
    operator, live_server, source_server, browser_page, screenshot
):
    from ckanext.communes.tests.harvesters.test_csw_harvest import CSW_PATH, GeoNetwork
    from ckanext.communes.tests.harvesters.test_ods_harvest import RemoteODS, fixture_datasets

    page = browser_page
    ods_portal = RemoteODS(source_server, fixture_datasets())
    GeoNetwork(source_server)
    _log_in(page, live_server, operator["name"])
    _create_source(page, live_server, ods_portal.url, "Portail de Bron", "communes_ods", "Bron")
    _create_source(page, live_server, source_server.url(CSW_PATH), "GeoNetwork de la Métropole", "communes_csw",
                   "Métropole de Lyon")

    # A commune's source puts everything in that commune, whatever the publisher says.
    assert _dry_run_per_commune(page, live_server, "portail-de-bron", "harvest-dry-run-ods", screenshot) == {
        "Bron": "4"}
    # The Métropole's catalogue is routed commune by commune; what names no commune stays with the Métropole.
    routed = _dry_run_per_commune(page, live_server, "geonetwork-de-la-metropole", "harvest-dry-run-csw", screenshot)
    assert {"Bron", "Lyon", "Villeurbanne"} <= set(routed), routed
    assert routed.get("Métropole de Lyon", routed.get("metropole-de-lyon")), routed
    assert helpers.call_action("package_search", include_private=True)["count"] == 0
