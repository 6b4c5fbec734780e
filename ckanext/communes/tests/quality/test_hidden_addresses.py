"""A commune editor cannot map the internal network by typing host names: when a link, a CSV to validate
or a harvest source names a host whose address is private or reserved, the link check, the SCDL result,
the resource page and the harvest report say that the address is not public, never which address it is.
(``localhost`` resolves to 127.0.0.1 here: the host name typed is shown, the address it resolves to is
not.) The operators find the address in the logs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ckan.tests import helpers

from ckanext.communes.harvesters import jobs
from ckanext.communes.harvesters.report import report_for_job
from ckanext.communes.quality import evidence, link_probe, linkcheck, scdl
from ckanext.communes.tests.harvesters.test_dcat_harvest import make_source, portal  # noqa: F401 - fixture
from ckanext.communes.tests.harvesters.test_no_remote_fetch import every_log  # noqa: F401 - fixture
from ckanext.communes.tests.shared import CSV, ENVI

pytestmark = pytest.mark.usefixtures("clean_db", "clean_index")

SUBVENTIONS = "https://schema.data.gouv.fr/scdl/subventions/"
PRIVATE_ADDRESSES = ("127.0.0.1", "::1", "10.0.0.1", "10.1.2.3")


@pytest.fixture
def private_refused(ckan_config, monkeypatch):
    monkeypatch.setitem(ckan_config, "ckanext.communes.fetch.allow_private_addresses", False)
    monkeypatch.setitem(ckan_config, "ckanext.communes.linkcheck.per_host_interval", "0")


def local_name_url(source_server, path: str) -> str:
    """The fixture server's URL under the host name ``localhost`` (which resolves to 127.0.0.1)."""
    return source_server.url(path).replace("127.0.0.1", "localhost")


def assert_no_address(text: str | None) -> None:
    assert text
    for address in PRIVATE_ADDRESSES:
        assert address not in text, text


def _dataset(org_id: str, url: str) -> dict[str, Any]:
    user = helpers.call_action("get_site_user", context={"ignore_auth": True})["name"]
    return helpers.call_action(
        "package_create", context={"user": user}, name="subventions", title="Subventions versées",
        notes="Les subventions.", theme=[ENVI], owner_org=org_id, license_id="etalab-2.0",
        conforms_to=[SUBVENTIONS], resources=[{"url": url, "name": "Subventions", "format": CSV}],
    )


@pytest.mark.usefixtures("private_refused")
def test_the_link_check_says_not_public_without_the_address(app, source_server):
    outcome = link_probe.check_url(local_name_url(source_server, "/x.csv"))
    assert (outcome.ok, outcome.error) == (False, "private_address")
    with app.flask_app.test_request_context():
        message = evidence.message_for(outcome.error)
    assert message == "Le lien mène à une adresse qui n'est pas publique : il n'est pas vérifié."
    assert source_server.requests == []


def test_a_code_stored_with_an_address_before_is_shown_without_it(app):
    with app.flask_app.test_request_context():
        message = evidence.message_for("private_address:10.1.2.3")
    assert_no_address(message)
    assert "pas publique" in message


@pytest.mark.usefixtures("private_refused")
def test_the_scdl_result_says_not_public_without_the_address(app, source_server, bron):
    url = local_name_url(source_server, "/subventions.csv")
    dataset = _dataset(bron["id"], url)
    with app.flask_app.test_request_context():
        scdl.validate_dataset_now(dataset["id"])
    [result] = evidence.scdl_results_for(dataset["id"]).values()
    assert result.valid is None
    assert_no_address(result.error)
    assert "localhost" in result.error and "pas une adresse publique" in result.error


def test_an_scdl_error_stored_with_an_address_before_is_shown_without_it(bron):
    dataset = _dataset(bron["id"], "https://example.org/subventions.csv")
    resource_id = dataset["resources"][0]["id"]
    for stored in (
        "http://intranet/s.csv : intranet désigne l'adresse 10.1.2.3, privée ou réservée : la moissonner n'est "
        "pas autorisé",
        "http://intranet/s.csv: intranet resolves to 10.1.2.3, a private or reserved address: harvesting it is "
        "not allowed",
    ):
        scdl._store(resource_id, dataset["id"], SUBVENTIONS, {"valid": None, "error": stored})
        error = evidence.scdl_result_for_resource(resource_id).error
        assert_no_address(error)
        assert "intranet" in error


@pytest.mark.usefixtures("private_refused")
def test_the_resource_page_a_commune_editor_reads_shows_no_address(app, source_server, bron, bron_editor):
    dataset = _dataset(bron["id"], local_name_url(source_server, "/subventions.csv"))
    with app.flask_app.test_request_context():
        linkcheck.check_dataset_now(dataset["id"])
        scdl.validate_dataset_now(dataset["id"])
    page = app.get(f"/dataset/{dataset['name']}/resource/{dataset['resources'][0]['id']}",
                   environ_overrides={"REMOTE_USER": bron_editor["name"]}).body
    assert "pas publique" in page  # the link check's sentence
    assert "pas une adresse publique" in page  # the SCDL result's
    assert_no_address(page)


@pytest.mark.usefixtures("private_refused")
def test_the_harvest_report_names_the_host_not_its_address(app, portal, source_server, every_log):  # noqa: F811
    source = make_source(portal, local_name_url(source_server, "/dcat/page1.ttl"))
    with app.flask_app.test_request_context():
        job = jobs.run_source(source["id"])
    [error] = [m for m in report_for_job(job["id"]).messages if m["level"] == "error"]
    assert "localhost" in error["message"] and "pas une adresse publique" in error["message"]
    shown = json.dumps(report_for_job(job["id"]).messages, ensure_ascii=False) + json.dumps(
        helpers.call_action("harvest_job_show", id=job["id"]), default=str, ensure_ascii=False)
    assert_no_address(shown)
    assert source_server.requests == []
    # The operators, who read the logs, still learn which address it was.
    assert "127.0.0.1" in every_log.text or "::1" in every_log.text

