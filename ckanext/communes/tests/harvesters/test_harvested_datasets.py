"""Harvested datasets as commune staff and operators meet them: the page names the source; fields the
source provides are refused to commune editors and admins (French message naming the source), fields it
leaves empty are not; operators may edit and detach; a detached dataset is no longer updated or
withdrawn by its source. And who may run the operators' harvesting actions, role by role."""

from __future__ import annotations

import json

import pytest
from ckan.tests import helpers

from ckanext.communes.communes import seeding
from ckanext.communes.harvesters import jobs
from ckanext.communes.harvesters.report import report_for_job
from ckanext.communes.tests import portal_snapshot
from ckanext.communes.tests.communes.conftest import ROLES, make_people, write_communes_csv
from ckanext.communes.tests.harvesters.test_dcat_harvest import (
    COMMUNES,
    harvested,
    make_source,
    serve_catalogue,
)

pytestmark = pytest.mark.usefixtures("clean_db", "clean_index", "allow_private_addresses")


@pytest.fixture
def world(tmp_path, source_server):
    """Communes, people and a finished harvest of the catalogue: harvested once in the session, put back from a
    copy for the next tests (portal_snapshot.py); the catalogue served again for each test."""
    url = serve_catalogue(source_server)

    def build() -> dict:
        seeding.seed(path=str(write_communes_csv(tmp_path / "communes.csv", COMMUNES)))
        people = make_people()
        source = make_source({"sysadmin": people.sysadmin}, url, config={"max_withdraw_percent": 100})
        job = jobs.run_source(source["id"])
        datasets = harvested(source["id"])
        return {"people": people, "source": source, "job": job, "bron": datasets["Arbres d'alignement de Bron"]}

    return portal_snapshot.restored("harvested_datasets_world", build)


def _post(app, action, data, token):
    headers = {"Authorization": token} if token else {}
    return app.post(f"/api/3/action/{action}", json=data, headers=headers)


def test_the_dataset_page_names_its_source(app, world):
    page = app.get(f"/dataset/{world['bron']['name']}", status=200).body
    assert "Moissonné depuis" in page
    assert f'data-harvest-source="{world["source"]["id"]}"' in page


@pytest.mark.parametrize("role", ["commune_admin", "commune_editor"])
def test_commune_staff_cannot_change_what_the_source_provides(app, world, role):
    token = world["people"].token(role)
    dataset = world["bron"]
    for change in ({"title": "Titre changé"}, {"notes": "Autre description"},
                   {"resources": [{"url": "https://example.org/autre.csv"}]}):
        response = _post(app, "package_patch", {"id": dataset["id"], **change}, token)
        assert response.status_code == 403, response.json
        message = response.json["error"]["message"]
        assert "moissonné depuis la source « Catalogue »" in message, message
        assert list(change)[0] in message  # the field is named
    response = _post(app, "resource_create", {"package_id": dataset["id"], "url": "https://example.org/x.csv"}, token)
    assert response.status_code == 403
    response = _post(app, "package_delete", {"id": dataset["id"]}, token)
    assert response.status_code == 403
    after = helpers.call_action("package_show", id=dataset["id"])
    assert (after["title"], after["state"], len(after["resources"])) == (dataset["title"], "active", 1)


def test_commune_staff_may_fill_what_the_source_left_empty(app, world):
    token = world["people"].token("commune_editor")
    response = _post(app, "package_patch", {"id": world["bron"]["id"], "url": "https://www.ville-bron.fr/arbres"},
                     token)
    assert response.status_code == 200, response.json
    assert response.json["result"]["url"] == "https://www.ville-bron.fr/arbres"


def test_an_operator_edits_and_detaches_and_the_source_then_leaves_the_dataset_alone(app, world, source_server):
    token = world["people"].token("operator")
    dataset = world["bron"]
    assert _post(app, "communes_harvest_detach", {"id": dataset["id"]}, token).status_code == 200
    # The commune may now edit it as its own.
    editor = world["people"].token("commune_editor")
    assert _post(app, "package_patch", {"id": dataset["id"], "title": "Arbres (corrigé)", "notes": "Notre texte"},
                 editor).status_code == 200
    # The source stops listing it: not withdrawn. The next harvest does not update it either.
    base = source_server.url("/").rstrip("/")
    serve_catalogue(source_server)
    job = jobs.run_source(world["source"]["id"])
    after = helpers.call_action("package_show", id=dataset["id"])
    assert (after["title"], after["notes"], after["state"]) == ("Arbres (corrigé)", "Notre texte", "active")
    assert report_for_job(job["id"]).counts["update"] == 0
    assert base


OPERATOR_ACTIONS = ("communes_harvest_preview", "communes_harvest_approve_withdrawal", "communes_harvest_detach")


@pytest.mark.parametrize("role", ROLES)
def test_only_operators_run_the_harvesting_tools_and_the_commune_reads_its_reports(app, world, role):
    token = world["people"].token(role)
    is_operator = role in ("sysadmin", "operator")
    preview = _post(app, "communes_harvest_preview", {"id": world["source"]["id"]}, token)
    assert preview.status_code == (200 if is_operator else 403), preview.json
    detach = _post(app, "communes_harvest_detach", {"id": world["bron"]["id"]}, token)
    assert detach.status_code == (200 if is_operator else 403), detach.json
    approve = _post(app, "communes_harvest_approve_withdrawal", {"id": world["job"]["id"]}, token)
    # Nothing is held by this job: operators get a 409 explaining it, the others a 403.
    assert approve.status_code == (409 if is_operator else 403), approve.json
    report = _post(app, "communes_harvest_report_show", {"id": world["job"]["id"]}, token)
    # The source belongs to the Métropole: its operators read the report, commune staff do not.
    assert report.status_code == (200 if is_operator else 403), report.json
    if is_operator:
        assert report.json["result"]["counts"]["create"] == 5
    assert json.dumps(OPERATOR_ACTIONS)


def test_job_error_mails_go_to_the_programme_operators_too(world):
    """ckanext-harvest mails sysadmins and the source organisation's admins; the operators (admins of the
    Métropole) run the harvests, so they are on the list whatever organisation owns the source."""
    people = world["people"]
    bron_source = helpers.call_action(
        "harvest_source_create", context={"user": people.sysadmin["name"]}, name="source-bron",
        title="Bron", url="https://data.example.org/bron.ttl", source_type="communes_dcat", owner_org="bron")
    recipients = helpers.call_action("harvest_get_notifications_recipients", context={"ignore_auth": True},
                                     source_id=bron_source["id"])
    emails = [r["email"] for r in recipients]
    from ckan import model

    for user in (people.operator, people.commune_admin, people.sysadmin):
        assert model.User.get(user["name"]).email in emails, user["name"]
    assert model.User.get(people.commune_editor["name"]).email not in emails
    assert len(emails) == len(set(emails))
