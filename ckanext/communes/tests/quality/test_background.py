"""The quality checks in batches (quality/background.py, issue #20): a save marks its dataset as waiting
in its own transaction and kicks one drain job per queue when it commits (nothing after a rollback); an
editor's save goes to the priority queue, a harvest's to the bulk queue; a drain checks a batch (SHACL,
SCDL, links), stores each dataset's results with its row, reindexes the batch once; a dataset is checked
once even when a worker dies mid-batch; and the score reads what the checks stored in one query, the same
as the three readers."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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

ROOT = pathlib.Path(__file__).resolve().parents[4]
ALL_QUEUES = [background.PRIORITY_QUEUE, "default", background.BULK_QUEUE]  # as dev/run.sh's worker


@pytest.fixture(autouse=True)
def _fast_checks(ckan_config, monkeypatch):
    monkeypatch.setitem(ckan_config, "ckanext.communes.linkcheck.per_host_interval", "0")
    monkeypatch.setitem(ckan_config, "ckanext.communes.linkcheck.timeout", "1")


@pytest.fixture(autouse=True)
def _empty_queues() -> Iterator[None]:
    from ckan.lib.redis import connect_to_redis

    def empty() -> None:
        for queue in ALL_QUEUES:
            jobs.get_queue(queue).empty()
            connect_to_redis().delete(background._waiting_key(queue))

    empty()
    yield
    empty()


def _create(user: dict[str, Any], org: dict[str, Any], urls: list[str], **fields: Any) -> dict[str, Any]:
    return helpers.call_action(
        "package_create", context={"user": user["name"]}, name=fields.pop("name", "subventions"),
        title="Subventions versées", notes="Les subventions.", owner_org=org["id"], theme=[ENVI],
        license_id="etalab-2.0", resources=[{"url": url, "name": f"R{i}", "format": CSV} for i, url in enumerate(urls)],
        **fields)


def _drain_jobs(queue: str) -> list[Any]:
    return [job for job in jobs.get_queue(queue).jobs if job.func_name.endswith("background.drain_job")]


def _waiting() -> dict[str, models.PendingCheck]:
    model.Session.expire_all()
    return {row.package_id: row for row in model.Session.query(models.PendingCheck)}


def _work() -> None:
    """What dev/run.sh's worker does, in this process, until the queues are empty."""
    jobs.Worker(ALL_QUEUES).work(burst=True)
    model.Session.expire_all()


# --- the save ----------------------------------------------------------------------------------------

def test_a_save_marks_its_dataset_waiting_and_queues_one_drain_when_it_commits(sysadmin, bron, source_server):
    dataset = _create(sysadmin, bron, [source_server.url("/a.csv")])
    [job] = _drain_jobs(background.BULK_QUEUE)  # helpers.call_action: no web request, not an editor's
    assert job.args == [background.BULK_QUEUE] and set(_waiting()) == {dataset["id"]}
    assert job.meta["title"] == "communes: quality checks of the datasets waiting (communes_quality_bulk)"
    # Saved again while the drain waits: the same row, no second job (the waiting drain will see it).
    helpers.call_action("package_patch", context={"user": sysadmin["name"]}, id=dataset["id"], title="Autre")
    assert len(_drain_jobs(background.BULK_QUEUE)) == 1 and set(_waiting()) == {dataset["id"]}


def test_nothing_waits_after_a_rollback_and_a_savepoint_is_not_the_commit(sysadmin, bron, source_server):
    dataset = _create(sysadmin, bron, [source_server.url("/a.csv")])
    model.Session.query(models.PendingCheck).delete()
    model.Session.commit()
    jobs.get_queue(background.BULK_QUEUE).empty()
    from ckan.lib.redis import connect_to_redis

    connect_to_redis().delete(background._waiting_key(background.BULK_QUEUE))

    # Rolled back, with or without a query in the transaction: no row, no job, not even at the next commit.
    for query_first in (True, False):
        if query_first:
            model.Package.get(dataset["id"])
        background.after_dataset_change(dataset["id"])
        model.Session.rollback()
        model.Session.commit()
        assert _waiting() == {} and _drain_jobs(background.BULK_QUEUE) == []

    # A savepoint released inside the transaction is not the commit.
    background.after_dataset_change(dataset["id"])
    model.Session.begin_nested().commit()
    assert _drain_jobs(background.BULK_QUEUE) == []
    model.Session.commit()
    assert [job.args for job in _drain_jobs(background.BULK_QUEUE)] == [[background.BULK_QUEUE]]
    assert set(_waiting()) == {dataset["id"]}


def test_an_editors_save_goes_to_the_priority_queue_a_harvests_to_the_bulk_queue(app, sysadmin, bron):
    from ckanext.communes.licences.policy import HARVEST_CONTEXT_FLAG

    with app.flask_app.test_request_context():
        edited = _create(sysadmin, bron, [], name="formulaire")
        harvested = helpers.call_action(
            "package_create", context={"user": sysadmin["name"], HARVEST_CONTEXT_FLAG: True}, name="moissonne",
            title="Moissonné", notes="Un jeu moissonné.", owner_org=bron["id"], theme=[ENVI],
            license_id="etalab-2.0")
    waiting = _waiting()
    assert (waiting[edited["id"]].priority, waiting[harvested["id"]].priority) == (True, False)
    assert len(_drain_jobs(background.PRIORITY_QUEUE)) == 1 and len(_drain_jobs(background.BULK_QUEUE)) == 1


def test_a_deleted_or_non_dataset_save_marks_nothing(sysadmin, bron, source_server):
    dataset = _create(sysadmin, bron, [source_server.url("/a.csv")])
    model.Session.query(models.PendingCheck).delete()
    model.Session.commit()
    hooks.after_dataset_change({}, dict(dataset, state="deleted"))
    hooks.after_dataset_change({}, dict(dataset, type="harvest"))
    model.Session.commit()
    assert _waiting() == {}


# --- the drain ---------------------------------------------------------------------------------------

def test_the_drain_runs_shacl_scdl_and_links_then_only_what_changed(sysadmin, bron, source_server):
    source_server.serve("/subventions.csv", VALID_CSV, content_type="text/csv")
    source_server.serve("/v2.csv", VALID_CSV, content_type="text/csv")
    dataset = _create(sysadmin, bron, [source_server.url("/subventions.csv")], conforms_to=[SUBVENTIONS])
    resource_id = dataset["resources"][0]["id"]
    assert source_server.requested("/subventions.csv") == 0  # the save waited for nothing
    _work()  # the drain, then the SCDL validation it queued
    assert evidence.shacl_row_for(dataset["id"]) is not None and _waiting() == {}
    assert evidence.link_results_for(dataset["id"])[resource_id].ok is True
    assert evidence.scdl_results_for(dataset["id"])[resource_id].valid is True
    assert source_server.requested("/subventions.csv") == 2  # the link check and the SCDL download
    shown = helpers.call_action("package_show", id=dataset["id"])["quality"]
    assert {"links", "scdl"} <= set(shown["met"])
    indexed = helpers.call_action("package_search", fq=f"id:{dataset['id']}")["results"][0]
    assert indexed["quality"]["score"] == shown["score"]

    # A save that moves no link nor file: SHACL again, nothing downloaded.
    checked_at = evidence.shacl_row_for(dataset["id"]).checked_at
    helpers.call_action("package_patch", context={"user": sysadmin["name"]}, id=dataset["id"], notes="Autre texte.")
    _work()
    assert evidence.shacl_row_for(dataset["id"]).checked_at > checked_at
    assert source_server.requested("/subventions.csv") == 2

    # A new URL: link checked and file validated again, at the new address only.
    resource = dict(helpers.call_action("package_show", id=dataset["id"])["resources"][0],
                    url=source_server.url("/v2.csv"))
    helpers.call_action("package_patch", context={"user": sysadmin["name"]}, id=dataset["id"], resources=[resource])
    _work()
    assert (source_server.requested("/subventions.csv"), source_server.requested("/v2.csv")) == (2, 2)
    assert evidence.link_results_for(dataset["id"])[resource_id].final_url == source_server.url("/v2.csv")


def test_a_failing_check_does_not_stop_the_others_and_the_drain_fails(sysadmin, bron, source_server, monkeypatch):
    source_server.serve("/a.csv", "a\n", content_type="text/csv")
    dataset = _create(sysadmin, bron, [source_server.url("/a.csv")])

    def broken(pkg_dict: dict[str, Any]) -> None:
        raise ValueError("profil DCAT cassé")

    monkeypatch.setattr(shacl, "validate_dataset", broken)
    with pytest.raises(RuntimeError, match=dataset["id"]):
        background.drain_job(background.BULK_QUEUE)
    model.Session.expire_all()
    assert evidence.link_results_for(dataset["id"])[dataset["resources"][0]["id"]].ok is True
    assert _waiting() == {}  # not retried in a loop: its next save or the scheduled runs check it again


def test_a_batch_is_reindexed_in_one_solr_commit(sysadmin, bron, source_server, monkeypatch):
    from ckan.lib import search

    ids = [_create(sysadmin, bron, [source_server.url(f"/{n}.csv")], name=f"jeu-{n}")["id"] for n in range(3)]
    commits: list[int] = []
    real_commit = search.commit
    monkeypatch.setattr(search, "commit", lambda: commits.append(1) or real_commit())
    indexed: list[str] = []
    index = search.index_for("Package")
    real_update = index.update_dict

    def update_dict(pkg_dict: dict[str, Any], defer_commit: bool = False) -> None:
        indexed.append(pkg_dict["id"])
        assert defer_commit
        real_update(pkg_dict, defer_commit)

    monkeypatch.setattr(type(index), "update_dict", lambda self, d, defer_commit=False: update_dict(d, defer_commit))
    checked, failed, left = background.drain(size=10)
    assert (checked, failed, left) == (3, set(), False)
    assert sorted(indexed) == sorted(ids) and commits == [1]  # once each, one commit
    found = helpers.call_action("package_search", q="*:*", rows=10)["results"]
    assert len(found) == 3 and not [m for d in found for m in d["quality"]["missed"] if m["pending"]]


def test_a_dataset_saved_again_during_its_batch_is_checked_again(sysadmin, bron, source_server, monkeypatch):
    dataset = _create(sysadmin, bron, [source_server.url("/a.csv")])
    real = shacl.validate_dataset

    def saved_meanwhile(pkg_dict: dict[str, Any]) -> Any:
        result = real(pkg_dict)
        with model.meta.engine.begin() as other:  # another process's save, committed during the batch
            other.execute(background._MARK, {"id": dataset["id"], "priority": False})
        return result

    monkeypatch.setattr(shacl, "validate_dataset", saved_meanwhile)
    background.drain(size=10, seconds=0)
    assert set(_waiting()) == {dataset["id"]} and not _waiting()[dataset["id"]].checked
    monkeypatch.setattr(shacl, "validate_dataset", real)
    background.drain(size=10)
    assert _waiting() == {}


def test_a_batch_stopped_after_storing_is_only_reindexed_when_retried(sysadmin, bron, source_server, monkeypatch):
    source_server.fail("/casse.csv", status=404)
    dataset = _create(sysadmin, bron, [source_server.url("/casse.csv")])
    resource_id = dataset["resources"][0]["id"]

    def killed(package_ids: list[str], *read: Any) -> None:
        raise SystemExit("worker killed")

    monkeypatch.setattr(background, "_reindex", killed)
    with pytest.raises(SystemExit):
        background.drain(size=10, token="job:killed")
    model.Session.rollback()
    assert _waiting()[dataset["id"]].checked and source_server.requested("/casse.csv") == 1
    monkeypatch.undo()
    background.drain(size=10, token="job:killed")  # the job retried: same claim
    model.Session.expire_all()
    row = model.Session.get(models.LinkCheck, resource_id)
    assert (row.consecutive_failures, source_server.requested("/casse.csv")) == (1, 1)  # checked once
    assert _waiting() == {}
    indexed = helpers.call_action("package_search", fq=f"id:{dataset['id']}")["results"][0]
    assert "links" in [m["criterion"] for m in indexed["quality"]["missed"] if not m["pending"]]


# --- a real worker -----------------------------------------------------------------------------------

class LinkServer:
    """Answers 404 to every path, counting the answers; one path may hang until released (a request
    cut by a killed worker is not an answer)."""

    def __init__(self) -> None:
        self.answered: Counter[str] = Counter()
        self.hang_path: str | None = None
        self.delay = 0.0  # seconds before each answer
        self.hanging = threading.Event()
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_HEAD(self) -> None:  # noqa: N802
                if self.path == server.hang_path and not server.release.is_set():
                    server.hanging.set()
                    server.release.wait(60)
                    return  # the worker that asked is dead: no answer
                time.sleep(server.delay)
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                server.answered[self.path] += 1

            do_GET = do_HEAD  # noqa: N815

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}{path}"

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def link_server() -> Iterator[LinkServer]:
    server = LinkServer()
    yield server
    server.close()


def _worker_ini(tmp_path: pathlib.Path, **options: Any) -> pathlib.Path:
    """test.ini for a worker process, the test's own switches added (private addresses: our servers)."""
    ini = tmp_path / "worker.ini"
    lines = ["[app:main]", f"use = config:{ROOT / 'test.ini'}",
             "ckanext.communes.fetch.allow_private_addresses = true",
             "ckanext.communes.linkcheck.per_host_interval = 0"]
    lines += [f"{key} = {value}" for key, value in options.items()]
    ini.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ini


def _start_worker(ini: pathlib.Path, *extra: str, queues: list[str] = ALL_QUEUES) -> subprocess.Popen[bytes]:
    """`ckan jobs worker` as dev/run.sh starts it, in its own process group (its work horse with it)."""
    ckan = pathlib.Path(sys.executable).parent / "ckan"
    log = open(ini.with_suffix(".log"), "ab")  # noqa: SIM115 - the worker's own log, read when a test fails
    return subprocess.Popen([str(ckan), "-c", str(ini), "jobs", "worker", *extra, *queues],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=os.environ.copy())


def _descendants(pid: int) -> list[int]:
    children = []
    for task in pathlib.Path(f"/proc/{pid}/task").glob("*/children"):
        children += [int(child) for child in task.read_text().split()]
    return children + [grandchild for child in children for grandchild in _descendants(child)]


def _kill(worker: subprocess.Popen[bytes]) -> None:
    """SIGKILL to the worker and its work horse (RQ puts the horse in a process group of its own: killing
    the worker's group would leave it running)."""
    for pid in [*_descendants(worker.pid), worker.pid]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    worker.wait(10)


def _until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        model.Session.expire_all()
        found = condition()
        model.Session.rollback()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _saved_in_bulk(org_id: str, count: int, url: Callable[[int], str] | None = None) -> list[str]:
    """``count`` datasets written straight to the tables (the package_create of 500 would take a minute)
    and marked waiting as a harvest's saves are, in one transaction."""
    ids = []
    for number in range(count):
        package = model.Package(name=f"lot-{number:04d}", title=f"Lot {number}", type="dataset", state="active",
                                owner_org=org_id, license_id="etalab-2.0", notes="Un lot moissonné.")
        model.Session.add(package)
        model.Session.flush()
        if url is not None:
            resource = model.Resource(package_id=package.id, url=url(number), format="CSV", name="Données")
            resource.position, resource.state = 0, "active"
            model.Session.add(resource)
        ids.append(package.id)
    for package_id in ids:
        background.after_dataset_change(package_id)
    model.Session.commit()
    return ids


def test_a_form_save_made_while_a_500_dataset_batch_is_queued_gets_its_score_before_the_batch_ends(
        app, tmp_path, sysadmin, bron):
    from ckan.tests import factories

    bulk = _saved_in_bulk(bron["id"], 500)
    assert len(_drain_jobs(background.BULK_QUEUE)) == 1
    token = factories.APIToken(user=sysadmin["name"])["token"]
    worker = _start_worker(_worker_ini(tmp_path))
    try:
        _until(lambda: background.waiting_count() < 500, 120, "the worker to start the harvest's batch")
        response = app.post("/api/action/package_create", headers={"Authorization": token}, json={
            "name": "saisie-du-formulaire", "title": "Saisie du formulaire", "owner_org": bron["id"],
            "license_id": "etalab-2.0", "notes": "Un jeu saisi par la commune.", "theme": [ENVI]})
        saved = response.json["result"]

        def scored() -> bool:  # its score in the index, computed from its checks (none pending)
            found = helpers.call_action("package_search", fq=f"id:{saved['id']}")["results"]
            return bool(found) and not [m for m in found[0]["quality"]["missed"] if m["pending"]]

        _until(scored, 60, "the form save's score")
        assert background.waiting_count() > 0  # the harvest's batch is not over
        assert evidence.shacl_row_for(saved["id"]) is not None
    finally:
        _kill(worker)
    assert len(bulk) == 500


def test_a_worker_killed_mid_batch_leaves_every_dataset_checked_exactly_once(tmp_path, bron, link_server):
    from rq.registry import StartedJobRegistry

    link_server.hang_path = "/lot/25"  # in the last batch: the others are done when it hangs
    ids = _saved_in_bulk(bron["id"], 30, url=lambda n: link_server.url(f"/lot/{n}"))
    # A link check waits as long as the test needs (the hanging link), not the default 10 s.
    ini = _worker_ini(tmp_path, **{"ckanext.communes.quality.batch_size": 10, "ckanext.communes.linkcheck.timeout": 60})
    worker = _start_worker(ini)
    try:
        assert link_server.hanging.wait(120), "the worker never reached the last batch"
    finally:
        _kill(worker)  # SIGKILL: the worker and its work horse, mid-batch
    waiting = _waiting()
    done_before = {n for n, package_id in enumerate(ids) if package_id not in waiting}
    assert done_before and 25 not in done_before  # batches were done before the kill, not the one in hand
    assert {row.package_id for row in waiting.values() if row.claimed_by} and not any(
        row.checked for row in waiting.values())

    # A live worker's maintenance, once the dead one's heartbeat has expired (time advanced): the job is
    # retried and takes its rows back.
    StartedJobRegistry(queue=jobs.get_queue(background.BULK_QUEUE)).cleanup(timestamp=time.time() + 3600)
    link_server.release.set()
    assert subprocess.run([str(pathlib.Path(sys.executable).parent / "ckan"), "-c", str(ini), "jobs", "worker",
                           "--burst", *ALL_QUEUES], capture_output=True, timeout=300).returncode == 0
    assert _waiting() == {}
    model.Session.expire_all()
    rows = {row.package_id: row for row in model.Session.query(models.LinkCheck)}
    assert set(rows) == set(ids) and {row.consecutive_failures for row in rows.values()} == {1}
    assert {evidence.shacl_row_for(i) is not None for i in ids} == {True}
    # Each dataset's result stored once: one failure counted, not two. The batches done before the kill
    # were not checked again (their links answered once); the one in hand was.
    assert all(link_server.answered[f"/lot/{n}"] == 1 for n in done_before)
    assert all(link_server.answered[f"/lot/{n}"] >= 1 for n in range(30))


def test_a_backlog_is_shared_by_two_workers_of_the_bulk_queue_each_dataset_checked_once(tmp_path, bron, link_server):
    """make run's two workers (dev/run.sh: one on every queue, one on the bulk queue only) and a harvest's
    backlog of 4 batches: the first drain queues another (the fan-out), so both workers take batches."""
    from rq.job import Job
    from rq.registry import FinishedJobRegistry

    link_server.delay = 1.0  # each link answered after 1 s: a batch lasts long enough to be shared
    ini = _worker_ini(tmp_path, **{"ckanext.communes.quality.batch_size": 5})
    queue = jobs.get_queue(background.BULK_QUEUE)
    finished_before = set(FinishedJobRegistry(queue=queue).get_job_ids())  # an earlier test's drains
    workers = [_start_worker(ini), _start_worker(ini, queues=[background.BULK_QUEUE])]
    try:
        from rq import Worker

        listening = {worker.pid for worker in workers}  # not a killed worker's registration left in Redis
        _until(lambda: listening <= {w.pid for w in Worker.all(queue=queue)}, 120,
               "the two workers to listen to the bulk queue")
        ids = _saved_in_bulk(bron["id"], 20, url=lambda n: link_server.url(f"/lot/{n}"))
        _until(lambda: background.waiting_count() == 0, 180, "the backlog to be checked")
        _until(lambda: not queue.jobs and not queue.started_job_registry.get_job_ids(), 60, "the drains to end")
    finally:
        for worker in workers:
            _kill(worker)
    drains = [Job.fetch(job_id, connection=queue.connection)
              for job_id in set(FinishedJobRegistry(queue=queue).get_job_ids()) - finished_before]
    checked_by: Counter[str] = Counter()
    for drain in drains:
        checked_by[drain.worker_name] += drain.return_value() or 0
    assert sum(checked_by.values()) == 20, checked_by
    assert len([name for name, count in checked_by.items() if count]) == 2, checked_by  # both workers worked
    # Each dataset checked exactly once: one link answer each, one failure counted, one SHACL result.
    assert all(link_server.answered[f"/lot/{n}"] == 1 for n in range(20)), link_server.answered
    model.Session.expire_all()
    rows = {row.package_id: row for row in model.Session.query(models.LinkCheck)}
    assert set(rows) == set(ids) and {row.consecutive_failures for row in rows.values()} == {1}
    assert {evidence.shacl_row_for(i) is not None for i in ids} == {True}


# --- progress ----------------------------------------------------------------------------------------

def test_the_bilan_says_how_many_datasets_wait_and_marks_the_figures_computed_meanwhile(app, sysadmin, bron):
    from ckanext.communes.quality import helpers as quality_helpers

    model.Session.execute(models.PendingCheck.__table__.insert(), [
        {"package_id": f"attente-{n}", "priority": False, "queued_at": dt.datetime.utcnow(), "checked": False}
        for n in range(1204)])
    model.Session.commit()
    from ckanext.communes.bilan import cache

    cache.bump()
    with app.flask_app.test_request_context():
        assert quality_helpers.communes_quality_waiting() == "1\u202f204 jeux en attente de vérification"
        assert quality_helpers.waiting_text(1) == "1 jeu en attente de vérification"
    page = app.get("/communes/bilan").body
    assert "1\u202f204 jeux en attente de vérification" in page
    assert 'data-figure="quality_mean" data-pending-checks' in page


def test_the_operators_harvest_job_page_says_how_many_of_its_datasets_wait(app, sysadmin, bron):
    from ckan.tests import factories

    from ckanext.harvest.model import HarvestJob, HarvestObject, HarvestSource

    source = helpers.call_action("harvest_source_create", context={"user": sysadmin["name"]}, name="catalogue",
                                 title="Catalogue", url="https://catalogue.example.org/catalog.ttl",
                                 source_type="communes_dcat", owner_org=bron["id"])
    ids = _saved_in_bulk(bron["id"], 3)
    job = HarvestJob(source=HarvestSource.get(source["id"]), status="Finished")
    model.Session.add(job)
    for package_id in ids:
        model.Session.add(HarvestObject(guid=f"guid-{package_id}", job=job, source=job.source, package_id=package_id,
                                        current=True, state="COMPLETE"))
    model.Session.query(models.PendingCheck).filter(models.PendingCheck.package_id == ids[0]).delete()
    model.Session.commit()
    token = factories.APIToken(user=sysadmin["name"])["token"]
    page = app.get(f"/harvest/catalogue/job/{job.id}", headers={"Authorization": token}).body
    assert "2 jeux en attente de vérification" in page

# --- the evidence --------------------------------------------------------------------------------------

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


def test_a_scheduled_recheck_reads_the_mqa_facts_again(sysadmin, bron, source_server):
    """A link found to be a web page at its scheduled re-check (a parked domain, a landing page in place of the
    file) is no longer counted as a download URL by the MQA, without anyone saving the dataset."""
    source_server.serve("/a.csv", "a;b\n1;2\n", content_type="text/csv")
    dataset = _create(sysadmin, bron, [source_server.url("/a.csv")])
    background.drain(size=10)

    def distribution_facts() -> dict[str, Any]:
        model.Session.expire_all()
        return model.Session.get(models.ShaclCheck, dataset["id"]).mqa_facts["distributions"][0]

    assert distribution_facts()["download_url"] == source_server.url("/a.csv")
    source_server.serve("/a.csv", "<html><body>Nouveau site</body></html>", content_type="text/html")
    linkcheck.check_dataset_now(dataset["id"])  # what the schedule's job runs (linkcheck --due)
    assert distribution_facts()["download_url"] is None
