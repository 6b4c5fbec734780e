"""Harvest messages stored before the guarded client learnt not to name a resolved private address
(« intranet.example désigne l'adresse 10.20.30.40, privée ou réservée ») are shown without it, wherever the
source's readers read them: our report (``communes_harvest_report_show``, the job page), ckanext-harvest's
job page, ``harvest_job_show`` / ``harvest_job_report`` / ``harvest_job_list``, ``harvest_object_show``, the
source's status (``harvest_source_show``, ``package_show``, the search index).
Operators read them masked too (they find the address in the log). A URL keeps its host as written (what an
operator or the remote typed, not what a name resolved to).

The messages are written in the tables as the previous version wrote them; the reads go through the real
pages and API."""

from __future__ import annotations

import json
from typing import Any

import lxml.html
import pytest
from ckan import model
from ckan.tests import helpers

from ckanext.communes.communes import seeding
from ckanext.communes.harvesters import jobs
from ckanext.communes.harvesters.report import report_for_job
from ckanext.communes.tests import portal_snapshot
from ckanext.communes.tests.communes.conftest import make_people, write_communes_csv
from ckanext.communes.tests.harvesters.test_dcat_harvest import COMMUNES
from ckanext.harvest.model import (
    HarvestGatherError,
    HarvestJob,
    HarvestObject,
    HarvestObjectError,
    HarvestSource,
)

pytestmark = pytest.mark.usefixtures("clean_db", "clean_index", "allow_private_addresses")

HIDDEN = ("10.20.30.40", "fd00::1234", "192.168.1.7", "169.254.169.254", "100.64.0.9")
# As the previous versions wrote them: the guarded client's refusal (French and English), an unexpected
# error's repr holding the connection layer's text, an IPv4-mapped IPv6 address, shared address space.
OLD_MESSAGES = (
    "http://intranet.example/catalog.ttl : intranet.example désigne l'adresse 10.20.30.40, privée ou réservée : "
    "la moissonner n'est pas autorisé",
    "http://intranet.example/page2.ttl: intranet.example resolves to fd00::1234, a private or reserved address: "
    "harvesting it is not allowed",
    "Erreur inattendue à la lecture de la source : _BlockedAddress('metadata.internal resolves to 169.254.169.254')",
    "http://cache.example/x.ttl : cache.example désigne l'adresse ::ffff:192.168.1.7, privée ou réservée",
    "http://cgnat.example/x.ttl : cgnat.example désigne l'adresse 100.64.0.9, privée ou réservée",
)


@pytest.fixture
def world(tmp_path: Any, source_server: Any) -> dict[str, Any]:
    """Communes, people, a failed harvest and the messages stored before the masking: built once in the session,
    put back from a copy for the next tests (portal_snapshot.py); the failing route served again for each test."""
    source_server.fail("/intranet/catalog.ttl", status=404, body="Not Found")

    def build() -> dict[str, Any]:
        seeding.seed(path=str(write_communes_csv(tmp_path / "communes.csv", COMMUNES)))
        people = make_people()
        source = helpers.call_action(
            "harvest_source_create", context={"user": people.sysadmin["name"]}, name="catalogue-de-bron",
            title="Catalogue de Bron", url=source_server.url("/intranet/catalog.ttl"), source_type="communes_dcat",
            owner_org="bron", config=json.dumps({}))
        job = jobs.run_source(source["id"])
        job_row = HarvestJob.get(job["id"])
        for message in OLD_MESSAGES:
            HarvestGatherError(message=message, job=job_row).save()
        harvest_object = HarvestObject(guid="arbres-bron", job=job_row, source=HarvestSource.get(source["id"]))
        harvest_object.save()
        for message in OLD_MESSAGES:
            HarvestObjectError(message=message, object=harvest_object, stage="Import").save()
        report = report_for_job(job["id"])
        report.messages = [*report.messages, *({"level": "error", "message": m, "url": "http://intranet.example/catalog.ttl",
                                                "value": "10.20.30.40"} for m in OLD_MESSAGES)]
        model.Session.add(report)
        model.Session.commit()
        return {"people": people, "source": source, "job": job, "object_id": harvest_object.id,
                "source_url": source_server.url("/intranet/catalog.ttl")}

    return portal_snapshot.restored("hidden_report_addresses_world", build)


def _routes(world: dict[str, Any]) -> list[str]:
    name, job_id, source_id = world["source"]["name"], world["job"]["id"], world["source"]["id"]
    return [
        f"/api/3/action/communes_harvest_report_show?id={job_id}",
        f"/api/3/action/communes_harvest_report_show?source_id={source_id}",
        f"/api/3/action/harvest_job_show?id={job_id}",
        f"/api/3/action/harvest_job_report?id={job_id}",
        f"/api/3/action/harvest_job_list?source_id={source_id}",
        f"/api/3/action/harvest_object_show?id={world['object_id']}",
        f"/api/3/action/harvest_source_show_status?id={source_id}",
        f"/api/3/action/harvest_source_show?id={name}",
        f"/api/3/action/package_show?id={name}",
        f"/harvest/{name}/job/{job_id}",
        f"/harvest/{name}/job/last",
        f"/harvest/{name}/job",
        f"/harvest/{name}",
    ]


@pytest.mark.parametrize("role", ["commune_editor", "commune_admin", "operator", "sysadmin"])
def test_no_reader_of_a_source_sees_a_private_address_stored_in_its_job_messages(app: Any, world: dict[str, Any],
                                                                                 role: str) -> None:
    headers = {"Authorization": world["people"].token(role)}
    for path in _routes(world):
        response = app.get(path, headers=headers)
        assert response.status_code == 200, (path, response.status_code)
        for address in HIDDEN:
            assert address not in response.body, (role, path, address)
    # The messages are still there, the address replaced, the URLs whole (the fixture server's, as typed).
    page = " ".join(lxml.html.fromstring(
        app.get(f"/harvest/{world['source']['name']}/job/{world['job']['id']}", headers=headers).body
    ).text_content().split())
    assert "intranet.example désigne l'adresse …, privée ou réservée" in page
    assert "metadata.internal resolves to …" in page
    assert world["source_url"] in page
    shown = app.get(f"/api/3/action/communes_harvest_report_show?id={world['job']['id']}", headers=headers).json
    old = [m for m in shown["result"]["messages"] if "intranet.example" in m["message"]]
    assert old[0]["url"] == "http://intranet.example/catalog.ttl" and old[0]["value"] == "…"
    status = app.get(f"/api/3/action/harvest_source_show_status?id={world['source']['id']}", headers=headers).json
    summary = {e["message"] for e in status["result"]["last_job"]["gather_error_summary"]}
    assert "http://cache.example/x.ttl : cache.example désigne l'adresse …, privée ou réservée" in summary


def test_the_source_in_the_search_index_shows_its_status_without_private_addresses(
        app: Any, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """The index keeps the source's status (with its last job's error summary) as package_show gave it when
    the source was last indexed: by the previous version, with the addresses; masked when read."""
    from ckan.lib.search import rebuild
    from ckan.lib.search.common import make_connection

    from ckanext.communes.harvesters import job_reading

    with monkeypatch.context() as previous_version:  # package_show's status as it was: not masked
        previous_version.setattr(job_reading, "shown_text", lambda text: text)  # the readers mask nothing
        rebuild(world["source"]["id"])
    indexed = json.dumps(make_connection().search(q=f'id:"{world["source"]["id"]}"', fl="*").docs, default=str)
    assert "10.20.30.40" in indexed  # the index holds them

    headers = {"Authorization": world["people"].token("commune_editor")}
    for query in ("fq=dataset_type:harvest", "fq=dataset_type:harvest&fl=id,validated_data_dict",
                  "fq=dataset_type:harvest&fl=id,data_dict", "fq=dataset_type:harvest&use_default_schema=true"):
        response = app.get(f"/api/3/action/package_search?{query}&include_private=true", headers=headers)
        assert response.status_code == 200, (query, response.body[:500])
        assert response.json["result"]["count"] == 1, query
        for address in HIDDEN:
            assert address not in response.body, (query, address)
    result = app.get("/api/3/action/package_search?fq=dataset_type:harvest", headers=headers).json["result"]
    summary = {e["message"] for e in result["results"][0]["status"]["last_job"]["gather_error_summary"]}
    assert any("intranet.example désigne l'adresse …" in message for message in summary), summary


@pytest.mark.parametrize(("text", "shown"), [
    ("a.example désigne l'adresse 10.0.0.1, privée", "a.example désigne l'adresse …, privée"),
    ("resolves to 127.0.0.1.", "resolves to …."),
    ("resolves to [fe80::1%eth0]:80", "resolves to […]:80"),
    ("désigne l'adresse ::ffff:192.168.1.7, privée", "désigne l'adresse …, privée"),
    ("NAT64 64:ff9b::a00:1 and fd00::1.", "NAT64 … and …."),
    ("http://10.0.0.1:8080/catalog.ttl : 10.0.0.1 ne désigne pas une adresse publique",
     "http://10.0.0.1:8080/catalog.ttl : … ne désigne pas une adresse publique"),
    ("public 193.51.24.1 and 2001:4860:4860::8888 stay", "public 193.51.24.1 and 2001:4860:4860::8888 stay"),
    ("version 1.2.3 at 12:30:00, code 69029", "version 1.2.3 at 12:30:00, code 69029"),
    ("http://lyon:Mot2passe@10.0.0.1/x : HTTP 404", "http://lyon:********@10.0.0.1/x : HTTP 404"),
])
def test_which_addresses_and_url_passwords_are_hidden(text: str, shown: str) -> None:
    from ckanext.communes.harvesters.report import shown_text

    assert shown_text(text) == shown


def test_source_activities_recorded_before_lose_their_private_addresses_when_the_database_is_upgraded(
        app: Any, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """An activity keeps the source as package_show gave it, its status included; the activity streams give
    it to the source's readers. The plugin's migration (``ckan db upgrade``) masks those recorded before."""
    import importlib.util
    import pathlib

    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    from ckanext.communes.harvesters import job_reading

    sysadmin = {"user": world["people"].sysadmin["name"]}
    with monkeypatch.context() as previous_version:  # the source's status as it was recorded then
        previous_version.setattr(job_reading, "shown_text", lambda text: text)  # the readers mask nothing
        helpers.call_action("harvest_source_patch", context=sysadmin, id=world["source"]["id"], notes="Les arbres")
    headers = {"Authorization": world["people"].token("commune_admin")}
    streams = (f"/api/3/action/package_activity_list?id={world['source']['id']}",
               "/api/3/action/organization_activity_list?id=bron")
    assert all("10.20.30.40" in app.get(path, headers=headers).body for path in streams)  # as recorded

    import ckanext.communes

    versions = pathlib.Path(ckanext.communes.__file__).parent / "migration" / "communes" / "versions"
    [path] = versions.glob("*_harvest_activity_addresses.py")
    spec = importlib.util.spec_from_file_location("harvest_activity_addresses", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    with model.meta.engine.begin() as connection, Operations.context(MigrationContext.configure(connection)):
        migration.upgrade()
    model.Session.remove()

    for path in streams:
        body = app.get(path, headers=headers).body
        for address in HIDDEN:
            assert address not in body, (path, address)
        assert "intranet.example d\\u00e9signe l'adresse \\u2026" in body or "désigne l'adresse …" in body, path
    # A second run finds nothing left to do.
    with model.meta.engine.begin() as connection:
        assert job_reading.hide_addresses_in_source_activities(connection) == 0
