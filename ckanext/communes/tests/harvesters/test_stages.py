"""Fetch and import of harvest objects (harvesters/stages.py) through a real udata source (fixture server
on 127.0.0.1), PostgreSQL, Solr and Redis: the synchronous run and the queue workers, what each object
records, the fetch queue left alone during a synchronous run, a dataset and its link written together
(a job whose fetch worker died in the middle of an import: test_stale_jobs.py)."""

from __future__ import annotations

import datetime
import json
import threading
from typing import Any

import pytest
from ckan import model
from ckan.tests import helpers

from ckanext.communes.communes import seeding
from ckanext.communes.harvesters import jobs, queues, stages, workers
from ckanext.communes.harvesters.base import harvester_for
from ckanext.communes.tests.communes.conftest import write_communes_csv
from ckanext.communes.tests.harvesters.checks import harvested
from ckanext.communes.tests.harvesters.test_udata_source import (
    COMMUNES,
    RemoteUdata,
    fixture_datasets,
    make_source,
)
from ckanext.harvest import queue
from ckanext.harvest.model import HarvestJob, HarvestObject, HarvestObjectError

pytestmark = pytest.mark.usefixtures("clean_db", "clean_index", "allow_private_addresses", "clean_queues")


@pytest.fixture
def portal(tmp_path):
    from ckan.tests import factories

    seeding.seed(path=str(write_communes_csv(tmp_path / "communes.csv", COMMUNES)))
    return {"sysadmin": factories.Sysadmin()}


def objects_of(job_id: str) -> list[HarvestObject]:
    model.Session.remove()
    return model.Session.query(HarvestObject).filter(HarvestObject.harvest_job_id == job_id).all()


def fetch_queue() -> list[str]:
    return queues.harvest_redis().lrange(queues.routing_key(queues.FETCH), 0, -1)


def assert_object_finished(obj: HarvestObject, report_status: str) -> None:
    assert (obj.state, obj.report_status) == ("COMPLETE", report_status), obj.id
    assert obj.fetch_started <= obj.fetch_finished <= obj.import_started <= obj.import_finished


def test_a_synchronous_run_records_each_object_as_ckanext_harvest_does(portal, source_server):
    datasets = fixture_datasets(source_server)
    remote = RemoteUdata(source_server, datasets)
    source = make_source(portal, remote.url)
    first = jobs.run_source(source["id"])
    assert first["status"] == "Finished" and first["stats"]["added"] == 6
    for obj in objects_of(first["id"]):
        assert_object_finished(obj, "added")
        assert obj.current is True and model.Package.get(obj.package_id).state == "active"

    remote.datasets = [{**datasets[0], "title": "Arbres d'alignement de Bron (2026)"}] + datasets[2:]
    second = jobs.run_source(source["id"])
    assert (second["stats"]["updated"], second["stats"]["deleted"], second["stats"]["added"]) == (1, 1, 0)
    by_guid = {o.guid: o for o in objects_of(second["id"])}
    assert set(by_guid) == {datasets[0]["id"], datasets[1]["id"]}  # the 4 unchanged wrote no object
    assert_object_finished(by_guid[datasets[0]["id"]], "updated")
    assert_object_finished(by_guid[datasets[1]["id"]], "deleted")
    assert by_guid[datasets[0]["id"]].current is True and by_guid[datasets[1]["id"]].current is False


def test_a_harvested_dataset_is_indexed_with_its_source_as_soon_as_it_is_created(portal, source_server):
    """ckanext-harvest indexes harvest_source_id (what its source page lists) only for a current object:
    the object is current in the dataset's own commit, so the index has it without a reindex."""
    source = make_source(portal, RemoteUdata(source_server, fixture_datasets(source_server)).url)
    jobs.run_source(source["id"])
    found = helpers.call_action("package_search", fq=f'+harvest_source_id:"{source["id"]}"', rows=20)
    assert found["count"] == 6
    assert {d["title"] for d in found["results"]} == set(harvested(source["id"]))


def test_objects_of_a_synchronous_run_are_not_handed_to_the_fetch_workers_meanwhile(
        portal, source_server, monkeypatch):
    """The portal's periodic runner calls harvest_jobs_run, whose resubmit_objects sends every WAITING
    object missing from the fetch queue to the fetch workers: the run's objects must not be WAITING."""
    source = make_source(portal, RemoteUdata(source_server, fixture_datasets(source_server)).url)
    harvester = harvester_for("communes_udata")
    import_stage = harvester.import_stage
    queued_during_run: list[list[str]] = []

    def import_while_the_periodic_runner_runs(harvest_object: Any) -> Any:
        queue.resubmit_objects()  # what harvest_jobs_run does at its end, every minute
        queued_during_run.append(fetch_queue())
        return import_stage(harvest_object)

    monkeypatch.setattr(harvester, "import_stage", import_while_the_periodic_runner_runs)
    job = jobs.run_source(source["id"])

    assert job["stats"]["added"] == 6 and len(queued_during_run) == 6
    assert queued_during_run == [[]] * 6
    assert all(o.retry_times == 0 for o in objects_of(job["id"]))


def test_a_refused_dataset_leaves_no_dataset_and_no_current_object(portal, source_server):
    datasets = fixture_datasets(source_server)
    datasets[2]["title"] = " "
    source = make_source(portal, RemoteUdata(source_server, datasets).url)
    job = jobs.run_source(source["id"])
    refused = next(o for o in objects_of(job["id"]) if o.guid == datasets[2]["id"])
    assert (refused.state, refused.report_status, refused.current, refused.package_id) == (
        "ERROR", "errored", False, None)
    assert len(harvested(source["id"])) == 5


def test_an_unexpected_error_in_one_import_is_recorded_and_the_job_goes_on(portal, source_server, monkeypatch):
    datasets = fixture_datasets(source_server)
    source = make_source(portal, RemoteUdata(source_server, datasets).url)
    harvester = harvester_for("communes_udata")
    import_stage = harvester.import_stage

    def failing_on_the_third(harvest_object: Any) -> Any:
        if harvest_object.guid == datasets[2]["id"]:
            raise RuntimeError("disk full")
        return import_stage(harvest_object)

    monkeypatch.setattr(harvester, "import_stage", failing_on_the_third)
    job = jobs.run_source(source["id"])
    assert job["status"] == "Finished"
    assert (job["stats"]["added"], job["stats"]["errored"]) == (5, 1)
    failed = next(o for o in objects_of(job["id"]) if o.guid == datasets[2]["id"])
    assert (failed.state, failed.report_status, failed.current) == ("ERROR", "errored", False)
    errors = model.Session.query(HarvestObjectError).filter(HarvestObjectError.harvest_object_id == failed.id).all()
    assert [(e.message, e.stage) for e in errors] == [("disk full", "Import")]


def test_an_import_failing_on_a_database_flush_is_recorded_in_error_not_left_in_fetch(portal, source_server,
                                                                                      monkeypatch):
    """After a failed flush the session refuses every read until it is rolled back: the error handler used to
    read the object's id first, raised, and left the object in FETCH for ever (two fetch workers, same names)."""
    datasets = fixture_datasets(source_server)
    source = make_source(portal, RemoteUdata(source_server, datasets).url)
    harvester = harvester_for("communes_udata")
    import_stage = harvester.import_stage

    def flush_failing_on_the_third(harvest_object: Any) -> Any:
        if harvest_object.guid == datasets[2]["id"]:
            model.Session.add(model.Package(name=None))  # NOT NULL: the flush fails, the session needs a rollback
            model.Session.flush()
        return import_stage(harvest_object)

    monkeypatch.setattr(harvester, "import_stage", flush_failing_on_the_third)
    job = jobs.run_source(source["id"])
    assert (job["stats"]["added"], job["stats"]["errored"]) == (5, 1)
    failed = next(o for o in objects_of(job["id"]) if o.guid == datasets[2]["id"])
    assert (failed.state, failed.report_status, failed.current) == ("ERROR", "errored", False)


def _run_workers_until(condition: Any, timeout: float = 60.0,
                       kinds: tuple[str, ...] = (queues.GATHER, queues.FETCH)) -> None:
    settings = workers.WorkerSettings(block_seconds=1, socket_timeout=3)
    pool = [workers.make_worker(kind, settings) for kind in kinds]
    threads = [threading.Thread(target=worker.run, daemon=True) for worker in pool]
    for thread in threads:
        thread.start()
    try:
        deadline = datetime.datetime.now() + datetime.timedelta(seconds=timeout)
        while not condition():
            assert datetime.datetime.now() < deadline, "the workers did not finish in time"
            threading.Event().wait(0.2)
    finally:
        for worker in pool:
            worker.stop()
        for thread in threads:
            thread.join(15)


def test_the_fetch_worker_imports_our_objects_once_each_and_the_job_finishes(portal, source_server):
    source = make_source(portal, RemoteUdata(source_server, fixture_datasets(source_server)).url)
    context = workers.site_user_context()
    job_id = helpers.call_action("harvest_job_create", context=dict(context), source_id=source["id"])["id"]
    model.Session.remove()

    def all_imported() -> bool:
        objects = objects_of(job_id)
        return len(objects) == 6 and all(o.state in ("COMPLETE", "ERROR") for o in objects)

    _run_workers_until(all_imported)
    helpers.call_action("harvest_jobs_run", context=dict(context), source_id=source["id"])
    job = helpers.call_action("harvest_job_show", context=dict(context), id=job_id)
    assert job["status"] == "Finished" and job["stats"]["added"] == 6
    for obj in objects_of(job_id):
        assert_object_finished(obj, "added")
        assert obj.retry_times == 1 and obj.current is True
    assert fetch_queue() == []
    assert len(harvested(source["id"])) == 6


def test_the_fetch_worker_sets_an_object_of_a_finished_job_in_error(portal, source_server):
    source = make_source(portal, RemoteUdata(source_server, fixture_datasets(source_server)).url)
    job = HarvestJob.get(jobs.create_job(source["id"]))
    object_ids = queue.gather_stage(harvester_for("communes_udata"), job)
    job.status = "Finished"
    job.save()
    for object_id in object_ids:
        queues.harvest_redis().rpush(queues.routing_key(queues.FETCH),
                                      json.dumps({"harvest_object_id": object_id}))
    model.Session.remove()
    _run_workers_until(lambda: not fetch_queue() and all(o.state == "ERROR" for o in objects_of(job.id)))
    assert {(o.state, o.report_status) for o in objects_of(job.id)} == {("ERROR", "errored")}
    assert harvested(source["id"]) == {}




def test_mark_in_flight_takes_only_the_waiting_objects_of_the_job(portal, source_server):
    source = make_source(portal, RemoteUdata(source_server, fixture_datasets(source_server)).url)
    job = HarvestJob.get(jobs.create_job(source["id"]))
    queue.gather_stage(harvester_for("communes_udata"), job)
    first = objects_of(job.id)[0]
    first.state, first_id = "COMPLETE", first.id
    model.Session.commit()
    assert stages.mark_in_flight(job.id) == {o.id for o in objects_of(job.id) if o.id != first_id}
    assert sorted(o.state for o in objects_of(job.id)) == ["COMPLETE"] + ["FETCH"] * 5


def test_the_fetch_worker_drops_malformed_messages_and_goes_on(portal, source_server):
    """Each is acknowledged (no persistence key left for harvest_jobs_run to resubmit forever), and a good
    message after them is imported."""
    source = make_source(portal, RemoteUdata(source_server, fixture_datasets(source_server)[:1]).url)
    job = HarvestJob.get(jobs.create_job(source["id"]))
    job.status = "Running"
    job.save()
    [object_id] = queue.gather_stage(harvester_for("communes_udata"), job)
    client = queues.harvest_redis()
    key = queues.routing_key(queues.FETCH)
    junk = ["nonsense", "[1]", "{}", '{"harvest_object_id": 5}', '{"harvest_object_id": null}',
            '{"harvest_object_id": ""}', '{"harvest_object_id": ["a"]}', '{"harvest_object_id": "unknown-id"}']
    for body in [*junk, json.dumps({"harvest_object_id": object_id})]:
        client.rpush(key, body)
    model.Session.remove()
    _run_workers_until(lambda: not fetch_queue() and objects_of(job.id)[0].state == "COMPLETE")
    assert [k for k in client.keys(key + ":*")] == []
    assert len(harvested(source["id"])) == 1


def test_one_object_delivered_twice_to_two_fetch_workers_is_imported_once(portal, source_server, monkeypatch):
    """ckanext-harvest's resubmission can queue an object a worker has just popped: with a slow import the
    two deliveries overlap, and only one may import it."""
    import time

    source = make_source(portal, RemoteUdata(source_server, fixture_datasets(source_server)[:1]).url)
    job = HarvestJob.get(jobs.create_job(source["id"]))
    job.status = "Running"
    job.save()
    [object_id] = queue.gather_stage(harvester_for("communes_udata"), job)
    harvester = harvester_for("communes_udata")
    import_stage = harvester.import_stage
    imports: list[str] = []

    def slow_import(harvest_object: Any) -> Any:
        imports.append(harvest_object.id)
        time.sleep(1.5)
        return import_stage(harvest_object)

    monkeypatch.setattr(harvester, "import_stage", slow_import)
    message = json.dumps({"harvest_object_id": object_id})
    queues.harvest_redis().rpush(queues.routing_key(queues.FETCH), message, message)
    model.Session.remove()
    _run_workers_until(lambda: not fetch_queue() and objects_of(job.id)[0].state == "COMPLETE"
                       and len(imports) >= 1, kinds=(queues.FETCH, queues.FETCH))
    # Both messages popped, and the workers stopped after finishing the one in hand: all is done.
    assert imports == [object_id]
    assert len(harvested(source["id"])) == 1
    [obj] = objects_of(job.id)
    assert (obj.state, obj.report_status, obj.current, obj.retry_times) == ("COMPLETE", "added", True, 1)


def test_an_imported_object_delivered_again_after_its_job_finished_stays_imported(portal, source_server):
    """ckanext-harvest's callback would set it in error (its job is finished): it was imported, it stays so."""
    source = make_source(portal, RemoteUdata(source_server, fixture_datasets(source_server)[:2]).url)
    job = jobs.run_source(source["id"])
    assert job["status"] == "Finished"
    for obj in objects_of(job["id"]):
        queues.harvest_redis().rpush(queues.routing_key(queues.FETCH),
                                      json.dumps({"harvest_object_id": obj.id}))
    model.Session.remove()
    _run_workers_until(lambda: not fetch_queue(), kinds=(queues.FETCH,))
    assert {(o.state, o.report_status, o.current) for o in objects_of(job["id"])} == {("COMPLETE", "added", True)}


def test_an_object_left_in_flight_by_a_worker_dead_long_ago_is_taken_again_and_imported(portal, source_server):
    """resubmit_jobs puts back the message of a worker that died: if its object has been in flight for longer
    than the stale delay, the next worker takes it; if it was taken just now, it is left alone."""
    source = make_source(portal, RemoteUdata(source_server, fixture_datasets(source_server)[:2]).url)
    job = HarvestJob.get(jobs.create_job(source["id"]))
    job.status = "Running"
    job.save()
    object_ids = queue.gather_stage(harvester_for("communes_udata"), job)
    long_ago = datetime.datetime.utcnow() - datetime.timedelta(minutes=90)
    just_now = datetime.datetime.utcnow()
    for obj, started in zip(objects_of(job.id), (long_ago, just_now), strict=True):
        obj.state, obj.fetch_started, obj.retry_times = "FETCH", started, 1
    model.Session.commit()
    stale_id, live_id = (o.id for o in sorted(objects_of(job.id), key=lambda o: o.fetch_started))
    assert sorted(object_ids) == sorted((stale_id, live_id))
    for object_id in (stale_id, live_id):
        queues.harvest_redis().rpush(queues.routing_key(queues.FETCH),
                                      json.dumps({"harvest_object_id": object_id}))
    model.Session.remove()
    _run_workers_until(lambda: not fetch_queue(), kinds=(queues.FETCH,))
    by_id = {o.id: o for o in objects_of(job.id)}
    assert (by_id[stale_id].state, by_id[stale_id].report_status, by_id[stale_id].retry_times) == (
        "COMPLETE", "added", 2)
    assert (by_id[live_id].state, by_id[live_id].retry_times) == ("FETCH", 1)
    assert len(harvested(source["id"])) == 1
