"""Closing the jobs a dead harvest worker left Running (harvesters/stale_jobs.py), against the real Redis and
database: a job whose gather never finished, closed by the next ``harvest_jobs_run``, and a job whose
fetch worker died in the middle of an import; a live, queued, waiting or recent job is left alone."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from ckan import model
from ckan.tests import helpers

from ckanext.communes.harvesters import jobs, queues, stale_jobs
from ckanext.communes.harvesters.base import harvester_for
from ckanext.communes.tests.harvesters.test_stages import objects_of, portal  # noqa: F401 - fixture
from ckanext.communes.tests.harvesters.test_udata_source import RemoteUdata, fixture_datasets, make_source
from ckanext.communes.tests.harvesters.test_workers import (  # noqa: F401 - fixtures
    PLUGINS_WITH_CKAN_HARVESTER,
    bron,
    french,
    harvest_env,
    site_context,
    wired,
)
from ckanext.communes.tests.harvesters.test_workers import make_source as make_ckan_source
from ckanext.harvest import queue
from ckanext.harvest.model import HarvestJob, HarvestObject

# --- a gather that never finished (ckanext-harvest's `ckan` type on a closed port) ------------------------

def _running_job(source_id: str, age_minutes: int) -> Any:
    job_id = helpers.call_action("harvest_job_create", context=site_context(), source_id=source_id,
                                 run=False)["id"]
    job = HarvestJob.get(job_id)
    then = datetime.datetime.utcnow() - datetime.timedelta(minutes=age_minutes)
    job.status, job.created, job.gather_started = "Running", then, then
    model.Session.add(HarvestObject(guid="g1", job=job, source=job.source, state="WAITING", gathered=then))
    model.Session.commit()
    return job_id


@pytest.mark.ckan_config("ckan.plugins", PLUGINS_WITH_CKAN_HARVESTER)
@pytest.mark.usefixtures("clean_queues")
def test_a_job_left_running_by_a_killed_worker_is_closed_by_the_next_run_with_an_error(
        bron: dict[str, Any], app: Any) -> None:  # noqa: F811 - the fixture imported above
    dead = make_ckan_source(bron["id"])
    dead_job = _running_job(dead["id"], age_minutes=90)
    # A dead worker's popped message keeps its persistence key: it must not bring the job back.
    client = queues.harvest_redis()
    client.set(queues.routing_key(queues.GATHER) + ":" + dead_job, str(datetime.datetime.now()))

    alive = make_ckan_source(bron["id"])
    alive_job = _running_job(alive["id"], age_minutes=90)
    queued = make_ckan_source(bron["id"])
    queued_job = _running_job(queued["id"], age_minutes=90)
    client.rpush(queues.routing_key(queues.GATHER), json.dumps({"harvest_job_id": queued_job}))
    recent = make_ckan_source(bron["id"])
    recent_job = _running_job(recent["id"], age_minutes=1)

    # As `ckan communes harvest run-periodic` runs it: in a request context, in the site's language.
    with queues.job_heartbeat(alive_job), app.flask_app.test_request_context():
        helpers.call_action("harvest_jobs_run", context=site_context())

    model.Session.remove()
    job = HarvestJob.get(dead_job)
    assert job.status == "Finished" and job.finished is not None
    messages = [error.message for error in job.gather_errors]
    assert any("30 minutes" in message for message in messages), messages
    assert messages == [french(
        "Job interrupted (harvest worker stopped): its gather did not finish and nothing happened for "
        "{minutes} minutes. Run the source again.").format(minutes=30)]
    assert {o.state for o in model.Session.query(HarvestObject).filter_by(harvest_job_id=dead_job)} == {"ERROR"}
    assert not client.exists(queues.routing_key(queues.GATHER) + ":" + dead_job)
    for kept in (alive_job, queued_job, recent_job):
        assert HarvestJob.get(kept).status == "Running"
    # The source is free again.
    helpers.call_action("harvest_job_create", context=site_context(), source_id=dead["id"], run=False)


# --- an import that never finished (our udata type on the fixture server) --------------------------------

def _job_left_in_flight(source_id: str, *, waiting: int, age_minutes: int) -> str:
    """A job gathered and partly imported long ago: its fetch worker died on the first object."""
    job = HarvestJob.get(jobs.create_job(source_id))
    queue.gather_stage(harvester_for("communes_udata"), job)
    then = datetime.datetime.utcnow() - datetime.timedelta(minutes=age_minutes)
    objects = objects_of(job.id)
    job = HarvestJob.get(job.id)
    job.status, job.created, job.gather_started, job.gather_finished = "Running", then, then, then
    for index, obj in enumerate(objects):
        obj.gathered = then
        if index == 0:
            obj.state, obj.fetch_started = "IMPORT", then
        elif index > waiting:
            obj.state, obj.report_status, obj.fetch_started, obj.import_finished = "COMPLETE", "added", then, then
    model.Session.commit()
    return job.id


@pytest.mark.usefixtures("clean_db", "clean_index", "allow_private_addresses", "clean_queues")
def test_a_job_whose_fetch_worker_died_in_an_import_is_closed_and_a_live_or_waiting_one_is_not(
        portal, source_server, app):  # noqa: F811 - the fixture imported above
    remote = RemoteUdata(source_server, fixture_datasets(source_server))
    # One URL, four sources: ckanext-harvest wants the URL and config pair unique.
    sources = [make_source(portal, remote.url, {"page_size": 10 + index}, name=f"udata-{index}")
               for index in range(4)]
    dead = _job_left_in_flight(sources[0]["id"], waiting=0, age_minutes=90)
    waiting = _job_left_in_flight(sources[1]["id"], waiting=2, age_minutes=90)  # resubmitted, not stuck
    alive = _job_left_in_flight(sources[2]["id"], waiting=0, age_minutes=90)  # a synchronous run, alive
    recent = _job_left_in_flight(sources[3]["id"], waiting=0, age_minutes=5)

    with queues.job_heartbeat(alive), app.flask_app.test_request_context():
        closed = stale_jobs.close_stale_jobs()

    assert closed == [dead]
    model.Session.remove()
    job = HarvestJob.get(dead)
    assert job.status == "Finished"
    assert [e.message for e in job.gather_errors] == [french(
        "Job interrupted (harvest worker stopped during the import): {count} records were being imported and "
        "nothing happened for {minutes} minutes. Run the source again.").format(count=1, minutes=30)]
    assert {o.state for o in objects_of(dead)} == {"ERROR", "COMPLETE"}
    for kept in (waiting, alive, recent):
        assert HarvestJob.get(kept).status == "Running"
