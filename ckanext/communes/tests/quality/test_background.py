"""The dataset's quality job (quality/background.py): a save queues one job when it commits, none when it
rolls back; the job runs the three checks (SHACL, SCDL, links) on the dataset as saved, each on its own;
and the score reads what the checks stored in one query, the same as the three readers."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from ckan import model
from ckan.lib import jobs
from ckan.tests import helpers

from ckanext.communes.quality import (
    background,
    evidence,
    hooks,
    link_probe,
    linkcheck,
    models,
    score,
    shacl,
)
from ckanext.communes.tests.quality.test_scdl import SUBVENTIONS, VALID_CSV
from ckanext.communes.tests.shared import CSV, ENVI

pytestmark = pytest.mark.usefixtures("clean_db", "clean_index", "allow_private_addresses")


@pytest.fixture(autouse=True)
def _fast_checks(ckan_config, monkeypatch):
    monkeypatch.setitem(ckan_config, "ckanext.communes.linkcheck.per_host_interval", "0")
    monkeypatch.setitem(ckan_config, "ckanext.communes.linkcheck.timeout", "1")


def _create(user: dict[str, Any], org: dict[str, Any], urls: list[str], **fields: Any) -> dict[str, Any]:
    return helpers.call_action(
        "package_create", context={"user": user["name"]}, name=fields.pop("name", "subventions"),
        title="Subventions versées", notes="Les subventions.", owner_org=org["id"], theme=[ENVI],
        license_id="etalab-2.0", resources=[{"url": url, "name": f"R{i}", "format": CSV} for i, url in enumerate(urls)],
        **fields)


def _quality_jobs() -> list[Any]:
    return [job for job in jobs.get_queue().jobs if job.func_name.endswith("background.check_dataset_job")]


def test_each_save_queues_one_quality_job_of_the_dataset(sysadmin, bron, source_server):
    jobs.get_queue().empty()
    dataset = _create(sysadmin, bron, [source_server.url("/a.csv")])
    [job] = jobs.get_queue().jobs  # nothing else: SHACL, links and SCDL are the job's steps
    assert job.func_name.endswith("background.check_dataset_job") and job.args == [dataset["id"]]
    assert job.meta["title"] == f"communes: quality checks of dataset {dataset['id']}"
    assert helpers.call_action("job_show", id=job.id)["title"] == job.meta["title"]  # as `ckan jobs list` shows it
    helpers.call_action("package_patch", context={"user": sysadmin["name"]}, id=dataset["id"], title="Autre")
    assert [j.args for j in _quality_jobs()] == [[dataset["id"]], [dataset["id"]]]


def test_the_job_is_queued_when_the_save_commits_once_per_dataset_and_never_after_a_rollback(sysadmin, bron,
                                                                                              source_server):
    dataset = _create(sysadmin, bron, [source_server.url("/a.csv")])
    jobs.get_queue().empty()
    background.after_dataset_change(dataset["id"])
    background.after_dataset_change(dataset["id"])  # saved twice in one transaction
    assert jobs.get_queue().jobs == []  # a worker must find what the transaction saved
    model.Session.commit()
    assert [job.args for job in jobs.get_queue().jobs] == [[dataset["id"]]]

    # Rolled back, with or without a query in the transaction: no job, not even at the next commit.
    for query_first in (True, False):
        jobs.get_queue().empty()
        if query_first:
            model.Package.get(dataset["id"])
        background.after_dataset_change(dataset["id"])
        model.Session.rollback()
        model.Session.commit()
        assert jobs.get_queue().jobs == []

    # A savepoint released inside the transaction is not the commit.
    jobs.get_queue().empty()
    background.after_dataset_change(dataset["id"])
    model.Session.begin_nested().commit()
    assert jobs.get_queue().jobs == []
    model.Session.commit()
    assert [job.args for job in jobs.get_queue().jobs] == [[dataset["id"]]]


def test_a_deleted_or_non_dataset_save_queues_nothing(sysadmin, bron, source_server):
    dataset = _create(sysadmin, bron, [source_server.url("/a.csv")])
    jobs.get_queue().empty()
    hooks.after_dataset_change(dict(dataset, state="deleted"))
    hooks.after_dataset_change(dict(dataset, type="harvest"))
    model.Session.commit()
    assert jobs.get_queue().jobs == []


def test_the_job_runs_shacl_scdl_and_links_then_only_what_changed(sysadmin, bron, source_server):
    source_server.serve("/subventions.csv", VALID_CSV, content_type="text/csv")
    source_server.serve("/v2.csv", VALID_CSV, content_type="text/csv")
    jobs.get_queue().empty()
    dataset = _create(sysadmin, bron, [source_server.url("/subventions.csv")], conforms_to=[SUBVENTIONS])
    resource_id = dataset["resources"][0]["id"]
    assert source_server.requested("/subventions.csv") == 0  # the save waited for nothing
    jobs.Worker().work(burst=True)  # the quality job, then the SCDL validation it queued
    model.Session.expire_all()
    assert evidence.shacl_row_for(dataset["id"]) is not None
    assert evidence.link_results_for(dataset["id"])[resource_id].ok is True
    assert evidence.scdl_results_for(dataset["id"])[resource_id].valid is True
    assert source_server.requested("/subventions.csv") == 2  # the link check and the SCDL download
    shown = helpers.call_action("package_show", id=dataset["id"])["quality"]
    assert {"links", "scdl"} <= set(shown["met"])

    # A save that moves no link nor file: SHACL again, nothing downloaded.
    checked_at = evidence.shacl_row_for(dataset["id"]).checked_at
    helpers.call_action("package_patch", context={"user": sysadmin["name"]}, id=dataset["id"], notes="Autre texte.")
    jobs.Worker().work(burst=True)
    model.Session.expire_all()
    assert evidence.shacl_row_for(dataset["id"]).checked_at > checked_at
    assert source_server.requested("/subventions.csv") == 2

    # A new URL: link checked and file validated again, at the new address only.
    resource = dict(helpers.call_action("package_show", id=dataset["id"])["resources"][0],
                    url=source_server.url("/v2.csv"))
    helpers.call_action("package_patch", context={"user": sysadmin["name"]}, id=dataset["id"], resources=[resource])
    jobs.Worker().work(burst=True)
    assert (source_server.requested("/subventions.csv"), source_server.requested("/v2.csv")) == (2, 2)
    model.Session.expire_all()
    assert evidence.link_results_for(dataset["id"])[resource_id].final_url == source_server.url("/v2.csv")


def test_a_failing_step_does_not_stop_the_others_and_the_job_fails(sysadmin, bron, source_server, monkeypatch):
    source_server.serve("/a.csv", "a\n", content_type="text/csv")
    dataset = _create(sysadmin, bron, [source_server.url("/a.csv")])

    def broken(package_id: str) -> None:
        raise ValueError("profil DCAT cassé")

    monkeypatch.setattr(shacl, "check_dataset", broken)
    with pytest.raises(RuntimeError, match="shacl"):
        background.check_dataset_job(dataset["id"])
    model.Session.expire_all()
    assert evidence.link_results_for(dataset["id"])[dataset["resources"][0]["id"]].ok is True


def test_the_evidence_read_in_one_query_is_what_the_three_readers_return(sysadmin, bron, source_server):
    dataset = _create(sysadmin, bron, [source_server.url(f"/{name}.csv") for name in ("ok", "ko", "new", "gone")],
                      conforms_to=[SUBVENTIONS])
    ok, ko, new, gone = (r["id"] for r in dataset["resources"])
    now = dt.datetime(2026, 11, 28, 12, 0, 0, 123400)  # a fraction JSON writes with 4 digits
    linkcheck.store(dataset["id"], ok, source_server.url("/ok.csv"),
                    link_probe.Outcome(ok=True, status=200, media_type="text/csv", size=12), now)
    linkcheck.store(dataset["id"], ko, source_server.url("/ko.csv"),
                    link_probe.Outcome(ok=False, status=404, error="http_status"), now)
    linkcheck.store(dataset["id"], new, source_server.url("/old-address.csv"), link_probe.Outcome(ok=True), now)
    linkcheck.store(dataset["id"], gone, source_server.url("/gone.csv"), link_probe.Outcome(ok=True), now)
    model.Session.add(models.ScdlValidation(
        resource_id=ok, package_id=dataset["id"], schema_url=SUBVENTIONS, valid=False, error_count=3,
        errors_by_type={"constraint-error": 3}, first_errors=[{"row": 2}], rows_checked=29, checked_at=now))
    model.Session.add(models.ShaclCheck(package_id=dataset["id"], conforms=False, violations=2,
                                       messages=[{"path": "p", "message": "m", "focus": "f"}], checked_at=now))
    model.Session.commit()
    helpers.call_action("resource_delete", context={"user": sysadmin["name"]}, id=gone)
    upload = helpers.call_action("resource_create", context={"user": sysadmin["name"]}, package_id=dataset["id"],
                                 url="plan.csv", url_type="upload", name="Plan")["id"]
    linkcheck.store(dataset["id"], upload, "plan.csv", link_probe.Outcome(ok=True), now)  # left from a link
    model.Session.commit()
    model.Session.expire_all()

    shown = helpers.call_action("package_show", id=dataset["id"])
    links, validations, check = evidence.evidence(dataset["id"], shown["resources"])
    assert links == evidence.link_results_for(dataset["id"])
    # new: its URL changed since; gone: deleted; the upload is served by the portal, not a link to check.
    assert {rid: r.ok for rid, r in links.items()} == {ok: True, ko: False, new: None}
    assert upload in {r["id"] for r in shown["resources"]}
    assert links[ok].checked_at == now and links[ko].failing_since == now and links[ko].consecutive_failures == 1
    assert validations == evidence.scdl_results_for(dataset["id"])
    assert validations[ok].errors_by_type == {"constraint-error": 3} and validations[ok].checked_at == now
    row = evidence.shacl_row_for(dataset["id"])
    assert (check.conforms, check.violations, check.messages, check.checked_at) == (
        row.conforms, row.violations, row.messages, row.checked_at) == (False, 2, row.messages, now)
    assert evidence.evidence("no-such-dataset", []) == ({}, {}, None)


def test_within_a_request_the_stored_rows_are_read_once_and_a_stored_result_is_seen_after_refresh(
        app, sysadmin, bron, source_server):
    """package_update shows the dataset before and after the change: one read of the three tables."""
    from sqlalchemy import event

    dataset = _create(sysadmin, bron, [source_server.url("/a.csv")])
    reads = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if models.ShaclCheck.__tablename__ in statement and "UNION ALL" in statement:
            reads.append(statement)

    engine = model.meta.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        with app.flask_app.test_request_context():
            before = score.cached_quality_of(dataset)
            after = score.cached_quality_of(dict(dataset, metadata_modified="2030-01-01T00:00:00"))
            assert len(reads) == 1
            assert "shacl" in {m["criterion"] for m in before["missed"]} and before == after
            # A background result stored and the score refreshed (as the jobs do): read again, and seen.
            model.Session.add(models.ShaclCheck(package_id=dataset["id"], conforms=True, violations=0, messages=[],
                                               checked_at=dt.datetime.utcnow()))
            model.Session.commit()
            evidence.refresh(dataset["id"])
            again = score.cached_quality_of(dataset)
            assert len(reads) == 2 and "shacl" in again["met"]
        # Another request reads afresh.
        with app.flask_app.app_context(), app.flask_app.test_request_context():
            score.cached_quality_of(dataset)
        assert len(reads) == 3
    finally:
        event.remove(engine, "before_cursor_execute", count)
