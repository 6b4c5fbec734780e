"""Scaled fetch workers (``docker compose up --scale harvest-fetch=N``) and dataset names: two imports of
records with the same title choose the same free name at the same time; the one whose insert comes second
must take the next free name, not fail the record (issue #21).

The race is provoked two ways:

- deterministically, in this process: between the import's choice of a name and its insert, a second
  transaction (another connection: what another worker is to PostgreSQL) takes that name, either
  committed before the insert (CKAN's validation then says "That URL is already in use.") or uncommitted
  and committed only once the import's INSERT waits for it (the unique index then raises an
  IntegrityError);
- end to end: two real ``ckan communes harvest fetch-worker`` processes import 200 records whose 20
  titles come ten by ten, next to each other in the queue.

The workers' output goes to files, never to a pipe nobody reads: a worker blocked writing its log to a full
pipe keeps its transaction open, and the other worker, waiting on that transaction's uncommitted name,
stalls with it (what an earlier attempt at this test met after 33 imports)."""

from __future__ import annotations

import copy
import datetime
import os
import pathlib
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from ckan import model
from ckan.plugins import toolkit as tk

from ckanext.communes.harvesters import jobs, workers
from ckanext.communes.harvesters.base import CommunesHarvester
from ckanext.communes.tests.harvesters.test_stages import objects_of, portal  # noqa: F401 - fixture
from ckanext.communes.tests.harvesters.test_udata_source import RemoteUdata, fixture_datasets, make_source
from ckanext.harvest.model import HarvestObject, HarvestObjectError

pytestmark = pytest.mark.usefixtures("clean_db", "clean_index", "allow_private_addresses", "clean_queues")
ROOT = pathlib.Path(__file__).resolve().parents[4]
RECORDS, TITLES = 200, 20
TITLE = "Arbres d'alignement de Bron"
IDEAL_NAME = "arbres-dalignement-de-bron"


def small_record(template: dict[str, Any], index: int, title: str) -> dict[str, Any]:
    """A udata record with the template's organisation and zone, without resources: small and quick."""
    record = copy.deepcopy(template)
    record.update(id=f"{index:024x}", slug=f"jeu-{index}", title=title, description="Jeu de test.",
                  description_short="Jeu de test.", tags=[], resources=[])
    return record


# ------------------------------------------------------------------------------ a second transaction

class Competitor:
    """Another worker's transaction, on its own connection: it creates a dataset row named like ours."""

    def __init__(self) -> None:
        self.connection = model.meta.engine.connect()
        self.transaction = self.connection.begin()

    def insert(self, name: str) -> None:
        now = datetime.datetime.utcnow()
        self.connection.execute(sa.text(
            "INSERT INTO package (id, name, title, state, type, private, metadata_created, metadata_modified) "
            "VALUES (:id, :name, :title, 'active', 'dataset', false, :now, :now)"),
            {"id": str(uuid.uuid4()), "name": name, "title": TITLE, "now": now})

    def insert_harvested(self, name: str) -> None:
        """The dataset and the harvest object pointing to it, as another worker's import writes them."""
        package_id = str(uuid.uuid4())
        self.connection.execute(sa.text(
            "INSERT INTO package (id, name, title, state, type, private, metadata_created, metadata_modified) "
            "VALUES (:id, :name, :title, 'active', 'dataset', false, now(), now())"),
            {"id": package_id, "name": name, "title": TITLE})
        self.connection.execute(sa.text(
            "INSERT INTO harvest_object (id, guid, harvest_job_id, harvest_source_id, package_id, current, state) "
            "SELECT :id, 'other-worker', id, source_id, :package_id, true, 'COMPLETE' FROM harvest_job LIMIT 1"),
            {"id": str(uuid.uuid4()), "package_id": package_id})

    def commit(self) -> None:
        self.transaction.commit()

    def close(self) -> None:
        if self.transaction.is_active:
            self.transaction.rollback()
        self.connection.close()

    def lock_waiters(self, pid: int) -> int:
        """How many locks the backend ``pid`` waits for (a read outside the competitor's transaction)."""
        with model.meta.engine.connect() as connection:
            return connection.execute(sa.text("SELECT count(*) FROM pg_locks WHERE pid = :pid AND NOT granted"),
                                      {"pid": pid}).scalar()


@pytest.fixture
def competitor() -> Iterator[Competitor]:
    other = Competitor()
    yield other
    other.close()


def _hook_name_choice(monkeypatch: pytest.MonkeyPatch, when_chosen: Any) -> list[str]:
    """``when_chosen(name)`` runs once, right after the import chose its first name; the names chosen."""
    chosen: list[str] = []
    real = CommunesHarvester._new_name

    def new_name(self: CommunesHarvester, title: str) -> str:
        name = real(self, title)
        chosen.append(name)
        if len(chosen) == 1:
            when_chosen(name)
        return name

    monkeypatch.setattr(CommunesHarvester, "_new_name", new_name)
    return chosen


def _import_one(portal: Any, source_server: Any) -> tuple[dict[str, Any], HarvestObject]:  # noqa: F811
    record = small_record(fixture_datasets(source_server)[0], 1, TITLE)
    source = make_source(portal, RemoteUdata(source_server, [record]).url)
    job = jobs.run_source(source["id"])
    [obj] = [o for o in objects_of(job["id"]) if o.guid == record["id"]]
    return job, obj


def _assert_imported_once_under_the_next_name(obj: HarvestObject, chosen: list[str]) -> None:
    errors = model.Session.query(HarvestObjectError.message).filter_by(harvest_object_id=obj.id).all()
    assert errors == []
    assert (obj.state, obj.report_status, obj.current) == ("COMPLETE", "added", True)
    dataset = tk.get_action("package_show")({"ignore_auth": True}, {"id": obj.package_id})
    assert dataset["name"] == IDEAL_NAME + "1" and chosen[0] == IDEAL_NAME
    # Nothing half-written: the competitor's row and ours, no third one from the failed attempt.
    names = [n for (n,) in model.Session.query(model.Package.name).filter(model.Package.name.like(IDEAL_NAME + "%"))]
    assert sorted(names) == [IDEAL_NAME, IDEAL_NAME + "1"]
    assert model.Session.query(HarvestObject).filter_by(package_id=obj.package_id).count() == 1
    # In the search index, ours once (the competitor's raw row is not indexed, the failed attempt neither).
    found = tk.get_action("package_search")({"ignore_auth": True}, {"rows": 5})
    assert [d["name"] for d in found["results"]] == [IDEAL_NAME + "1"]


def test_a_name_taken_and_committed_between_choice_and_insert_gives_the_next_name(
        portal: Any, source_server: Any, competitor: Competitor, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    def take(name: str) -> None:  # the other worker's dataset is committed first: CKAN's validation refuses
        competitor.insert(name)
        competitor.commit()

    chosen = _hook_name_choice(monkeypatch, take)
    _job, obj = _import_one(portal, source_server)
    _assert_imported_once_under_the_next_name(obj, chosen)


def test_a_name_inserted_by_a_concurrent_transaction_gives_the_next_name(
        portal: Any, source_server: Any, competitor: Competitor, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    waited: list[bool] = []

    def take_uncommitted(name: str) -> None:
        # Our INSERT will wait on the competitor's uncommitted row; the competitor commits only once it sees
        # our backend waiting, and the unique index then refuses our row (IntegrityError).
        our_pid = model.Session.execute(sa.text("SELECT pg_backend_pid()")).scalar()
        competitor.insert(name)

        def commit_when_waited_for() -> None:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not competitor.lock_waiters(our_pid):
                time.sleep(0.05)
            waited.append(bool(competitor.lock_waiters(our_pid)))
            competitor.commit()

        threading.Thread(target=commit_when_waited_for, daemon=True).start()

    chosen = _hook_name_choice(monkeypatch, take_uncommitted)
    _job, obj = _import_one(portal, source_server)
    assert waited == [True]  # the import did wait on the competitor's row: the race took place
    _assert_imported_once_under_the_next_name(obj, chosen)


def test_a_name_committed_between_validation_and_insert_gives_the_next_name(
        portal: Any, source_server: Any, competitor: Competitor, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    # Our validation found the name free; the other worker's dataset is committed before our insert. CKAN's
    # table_dict_save, finding no package with our id, takes the one with our name and rewrites it: the
    # other worker's dataset must stay as it is, and ours get the next name.
    from ckan.lib.dictization import model_save

    real_save = model_save.package_dict_save
    saves: list[str] = []

    def save_after_the_other(pkg_dict: dict[str, Any], context: Any, *args: Any, **kwargs: Any) -> Any:
        if pkg_dict.get("type") == "dataset":  # not the harvest source's save
            if not saves:
                competitor.insert_harvested(pkg_dict["name"])
                competitor.commit()
            saves.append(pkg_dict["name"])
        return real_save(pkg_dict, context, *args, **kwargs)

    monkeypatch.setattr(model_save, "package_dict_save", save_after_the_other)
    chosen = _hook_name_choice(monkeypatch, lambda name: None)
    _job, obj = _import_one(portal, source_server)
    assert saves[0] == IDEAL_NAME
    _assert_imported_once_under_the_next_name(obj, chosen)
    other = model.Session.query(model.Package).filter_by(name=IDEAL_NAME).one()
    assert other.title == TITLE and other.notes is None  # not rewritten with our record
    assert model.Session.query(HarvestObject).filter_by(guid="other-worker", package_id=other.id).count() == 1


# ------------------------------------------------------------------------------ two real workers

def _fetch_worker(log_path: pathlib.Path) -> tuple[subprocess.Popen[bytes], Any]:
    ckan = pathlib.Path(sys.executable).parent / "ckan"
    log = log_path.open("wb")
    process = subprocess.Popen([str(ckan), "-c", str(ROOT / "test.ini"), "communes", "harvest", "fetch-worker",
                                "--block-seconds", "1", "--socket-timeout", "3"],
                               cwd=ROOT, env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    return process, log


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def _database_waits() -> list[tuple[Any, ...]]:
    """What the database's sessions are doing: said when the workers stall."""
    with model.meta.engine.connect() as connection:
        return connection.execute(sa.text(
            "SELECT pid, state, wait_event_type, wait_event, left(query, 120) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")).all()


def test_two_fetch_workers_importing_same_titled_records_create_every_dataset(
        portal: Any, source_server: Any, tmp_path: pathlib.Path) -> None:  # noqa: F811
    template = fixture_datasets(source_server)[0]
    # Ten records of each title next to each other in the queue: the two workers import them together.
    per_title = RECORDS // TITLES
    records = [small_record(template, index, f"Arbres d'alignement, lot {index // per_title}")
               for index in range(RECORDS)]
    source = make_source(portal, RemoteUdata(source_server, records).url, {"page_size": 100})
    logs = [tmp_path / "fetch-1.log", tmp_path / "fetch-2.log"]
    fetchers = [_fetch_worker(path) for path in logs]
    gatherer = workers.make_worker(workers.GATHER, workers.WorkerSettings(block_seconds=1, socket_timeout=3))
    thread = threading.Thread(target=gatherer.run, daemon=True)
    try:
        deadline = time.monotonic() + 120
        while not all(b"consuming" in path.read_bytes() for path in logs):  # both ready before the first record
            assert all(p.poll() is None for p, _ in fetchers), [path.read_text()[-2000:] for path in logs]
            assert time.monotonic() < deadline, "the fetch workers did not start"
            time.sleep(0.2)
        job = tk.get_action("harvest_job_create")(workers.site_user_context(),
                                                  {"source_id": source["id"], "run": True})
        thread.start()  # the gather here; its objects go to the fetch queue, the workers import them
        deadline = time.monotonic() + 240
        while True:
            states = [o.state for o in objects_of(job["id"])]
            if len(states) == RECORDS and all(state in ("COMPLETE", "ERROR") for state in states):
                break
            assert all(p.poll() is None for p, _ in fetchers), [path.read_text()[-2000:] for path in logs]
            assert time.monotonic() < deadline, (
                f"not imported in time: {states.count('COMPLETE')} of {RECORDS} done; database: {_database_waits()}")
            time.sleep(0.5)
    finally:
        gatherer.stop()
        if thread.is_alive():
            thread.join(30)
        for process, log in fetchers:
            _stop(process)
            log.close()
    model.Session.remove()
    outputs = [path.read_text(errors="replace") for path in logs]
    errors = [(e.message[:300], o.guid) for o in objects_of(job["id"]) for e in o.errors]
    assert errors == [], errors[:5]
    # Both workers imported records (the race needs two), none raised.
    processed = [re.findall(r"stopped \((\d+) messages processed\)", out) for out in outputs]
    assert all(counts and int(counts[-1]) > 0 for counts in processed), processed
    assert all("processing failed" not in out for out in outputs)
    imported = model.Session.query(HarvestObject).filter_by(harvest_job_id=job["id"], state="COMPLETE").all()
    assert len(imported) == RECORDS
    packages = model.Session.query(model.Package).filter(model.Package.type == "dataset",
                                                         model.Package.state == "active").all()
    assert len(packages) == RECORDS and len({p.name for p in packages}) == RECORDS
    assert {o.package_id for o in imported} == {p.id for p in packages}
    assert tk.get_action("package_search")({"ignore_auth": True}, {"rows": 0})["count"] == RECORDS
