"""A job report holds nothing secret of its source: the routing fingerprint of each page (what decides
whether an unchanged page is parsed again) leaves the credentials out of the configuration, so that it
neither hashes a password (a clear one before encryption at rest) nor changes when the stored ciphertext
does (``ckan communes secrets rotate``): same routing, same fingerprint, the unchanged pages are skipped.
A real GeoNetwork fixture server on 127.0.0.1 checks the Basic credentials."""

from __future__ import annotations

import base64
import json

import pytest
import sqlalchemy as sa
from ckan import model
from ckan.tests import helpers
from click.testing import CliRunner
from cryptography.fernet import Fernet

from ckanext.communes.harvesters import jobs
from ckanext.communes.harvesters.base import routing_fingerprint
from ckanext.communes.harvesters.report import report_for_job
from ckanext.communes.tests.harvesters.test_csw_harvest import GeoNetwork, make_source, portal  # noqa: F401

OPTION = "ckanext.communes.secrets_key"
USER = "lyon-harvest"
SECRET = "Tr3s-s3cr3t-Basic"
pytestmark = pytest.mark.usefixtures("clean_db", "clean_index", "allow_private_addresses")


def test_the_routing_fingerprint_depends_on_the_routing_not_on_the_credentials(portal) -> None:  # noqa: F811
    routing = {"routing": {"Syndicat des eaux": "69029"}, "page_size": 10}
    bare = routing_fingerprint("metropole", routing)
    assert routing_fingerprint("metropole", {**routing, "username": USER, "password": SECRET}) == bare
    assert routing_fingerprint("metropole", {**routing, "username": "autre", "password": {"fernet": "gAAA…"}}) == bare
    assert routing_fingerprint("metropole", {**routing, "routing": {"Syndicat des eaux": "69149"}}) != bare
    assert routing_fingerprint("bron", routing) != bare


def test_a_key_rotation_changes_no_page_fingerprint_and_the_report_holds_no_secret(
        portal, source_server, ckan_config, monkeypatch) -> None:  # noqa: F811
    from ckanext.communes.harvesters.cli import secrets

    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setitem(ckan_config, OPTION, old_key)
    geonetwork = GeoNetwork(source_server, credentials=(USER, SECRET), restricted=frozenset({0}))
    source = make_source(portal, geonetwork.url, config={"username": USER, "password": SECRET, "page_size": 10})
    first = report_for_job(jobs.run_source(source["id"])["id"])
    assert first.pages and first.counts["create"] > 0

    monkeypatch.setitem(ckan_config, OPTION, f"{new_key}, {old_key}")
    rotated = CliRunner().invoke(secrets, ["rotate"])
    assert rotated.exit_code == 0 and "re-encrypted with the first key: 2" in rotated.output, rotated.output
    second = report_for_job(jobs.run_source(source["id"])["id"])

    assert [page["routing"] for page in second.pages] == [page["routing"] for page in first.pages]
    assert second.counts["unchanged"] == first.counts["create"]
    # The fingerprint is the routing's alone: owner and configuration without the credentials.
    owner = model.Package.get(source["id"]).owner_org
    assert {page["routing"] for page in second.pages} == {routing_fingerprint(owner, {"page_size": 10})}
    # Nothing of the credentials in either report, clear, encrypted or as the Basic header.
    stored = json.loads(model.Session.execute(sa.text("SELECT config FROM harvest_source WHERE id = :id"),
                                              {"id": source["id"]}).scalar())
    secret_forms = (SECRET, stored["password"]["fernet"], base64.b64encode(f"{USER}:{SECRET}".encode()).decode())
    reports = model.Session.execute(sa.text("SELECT t::text FROM communes_harvest_report t WHERE source_id = :id"),
                                    {"id": source["id"]}).scalars().all()
    assert len(reports) == 2
    for text in reports:
        for secret in secret_forms:
            assert secret not in text



def test_a_password_written_in_the_source_url_stays_out_of_the_job_reports(portal, source_server, app) -> None:  # noqa: F811
    """A URL may carry credentials (``http://user:password@host/``; credentials belong in the configuration,
    encrypted: harvesters/credentials.py). The job's report (its pages and messages) and ckanext-harvest's
    gather errors keep the URL with the password masked, however they are read; as do messages stored
    before."""
    from ckanext.communes.tests.communes.conftest import make_people
    from ckanext.communes.tests.harvesters.test_dcat_harvest import serve_catalogue
    from ckanext.harvest.model import HarvestGatherError, HarvestJob

    people = make_people()
    clean_url = serve_catalogue(source_server)
    url = clean_url.replace("http://", "http://lyon:Mot2passe@")
    source = helpers.call_action("harvest_source_create", context={"user": portal["sysadmin"]["name"]},
                                 name="catalogue-de-bron", title="Catalogue de Bron", url=clean_url,
                                 source_type="communes_dcat", owner_org="bron", config="{}")
    # Such a URL is refused on save now (harvesters/actions.check_source_url): stored as earlier versions did.
    for table in ("harvest_source", "package"):
        model.Session.execute(sa.text(f"UPDATE {table} SET url = :url WHERE id = :id"),
                              {"url": url, "id": source["id"]})
    model.Session.commit()
    read = jobs.run_source(source["id"])
    source_server.fail("/dcat/page1.ttl", status=404)
    failed = jobs.run_source(source["id"])
    for job in (read, failed):
        stored = model.Session.execute(sa.text("SELECT t::text FROM communes_harvest_report t WHERE job_id = :id"),
                                       {"id": job["id"]}).scalar()
        assert "Mot2passe" not in stored and "lyon:********@127.0.0.1" in stored
    assert report_for_job(read["id"]).counts["create"] == 5 and report_for_job(failed["id"]).breaker == "incomplete"
    # A message stored before (in ckanext-harvest's table, as earlier versions wrote it).
    HarvestGatherError(message=f"{url}: the server answered HTTP 404", job=HarvestJob.get(failed["id"])).save()
    headers = {"Authorization": people.token("commune_editor")}
    for path in (f"/api/3/action/communes_harvest_report_show?id={failed['id']}",
                 f"/api/3/action/harvest_job_show?id={failed['id']}",
                 f"/api/3/action/harvest_job_report?id={failed['id']}",
                 f"/harvest/{source['name']}/job/{failed['id']}"):
        response = app.get(path, headers=headers)
        assert response.status_code == 200, path
        assert "Mot2passe" not in response.body and "lyon:********@" in response.body, path
