"""The harvest workers against the real Redis and database: idle queues, Redis restarts, signals, jobs
that cannot run twice, a synchronous run that works twice (stale jobs closed: test_stale_jobs.py)."""

from __future__ import annotations

import configparser
import datetime
import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from ckan import model
from ckan.tests import factories, helpers

from ckanext.communes.harvesters import actions, queues, workers

ROOT = pathlib.Path(__file__).resolve().parents[4]


def _test_ini_plugins() -> str:
    parser = configparser.RawConfigParser(strict=False)
    parser.read(ROOT / "test.ini", encoding="utf-8")
    return parser.get("app:main", "ckan.plugins")


# test.ini's plugins plus ckanext-harvest's own CKAN harvester (source type "ckan"): a registered type
# that needs none of our source types.
PLUGINS_WITH_CKAN_HARVESTER = _test_ini_plugins() + " ckan_harvester"
CLOSED_URL = "http://127.0.0.1:9/"  # nothing listens on the discard port: a gather fails at once


# --- wiring (a no-op once plugin.py registers the harvest actions and auth functions) ----------------

@pytest.fixture
def wired(monkeypatch: pytest.MonkeyPatch) -> None:
    from ckan import authz, logic

    logic.clear_actions_cache()
    authz.clear_auth_functions_cache()
    yield
    logic.clear_actions_cache()
    authz.clear_auth_functions_cache()


@pytest.fixture
def harvest_env(wired: None, request: pytest.FixtureRequest) -> None:
    """ckanext-harvest's `ckan` source type loaded (tests mark ckan.plugins), our pieces wired."""
    request.getfixturevalue("with_plugins")


def site_context() -> dict[str, Any]:
    return workers.site_user_context()


def make_source(owner_org: str, name: str | None = None, url: str = CLOSED_URL) -> dict[str, Any]:
    name = name or "src-" + uuid.uuid4().hex[:10]
    return helpers.call_action("harvest_source_create", context=site_context(), name=name, title=f"Source {name}",
                               url=url + name, source_type="ckan", owner_org=owner_org, frequency="MANUAL")


def wait_for(condition: Callable[[], Any], timeout: float = 15.0, step: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"condition not met within {timeout:.0f} s")


def french(msgid: str) -> str:
    """The French of a msgid, from the compiled catalogue of the plugin."""
    from babel.messages import mofile

    mo = ROOT / "ckanext/communes/i18n/fr/LC_MESSAGES/ckanext-communes.mo"
    with mo.open("rb") as f:
        catalog = mofile.read_mo(f)
    message = catalog.get(msgid)
    assert message is not None and message.string, (
        f"{msgid!r} is not in the compiled French catalogue: merge dev/i18n/workers.tsv (make i18n)")
    return message.string


# --- the bare consumer loop ---------------------------------------------------------------------------

class Recorder:
    """A callback like ckanext-harvest's: it acks; it also checks the message was protected meanwhile."""

    def __init__(self) -> None:
        self.bodies: list[str] = []
        self.protected: list[bool] = []

    def __call__(self, channel: Any, method: Any, _header: Any, body: str) -> None:
        self.protected.append(bool(channel.redis.exists(channel.persistance_key(body))))
        self.bodies.append(body)
        channel.basic_ack(method.delivery_tag)


def start(worker: workers.QueueWorker) -> threading.Thread:
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def queue_key(ckan_config: Any) -> Iterator[str]:
    key = f"test-communes:{uuid.uuid4().hex}:harvest_job_id"
    yield key
    client = queues.harvest_redis()
    client.delete(key, *client.keys(key + ":*"))


def test_stock_consumer_dies_on_an_idle_queue_which_is_the_bug(queue_key: str) -> None:
    from ckanext.harvest.queue import RedisConsumer

    client = queues.harvest_redis(socket_timeout=2)
    client.connection_pool.connection_kwargs["retry"] = redis.retry.Retry(redis.backoff.NoBackoff(), 0)
    with pytest.raises(redis.TimeoutError):
        next(RedisConsumer(client, queue_key).consume(queue=None))


def test_worker_survives_an_idle_queue_longer_than_the_socket_timeout(queue_key: str) -> None:
    recorder = Recorder()
    settings = workers.WorkerSettings(block_seconds=1, socket_timeout=2)
    worker = workers.QueueWorker(queue_key, recorder,
                                 redis_factory=lambda: queues.harvest_redis(settings.socket_timeout),
                                 settings=settings)
    thread = start(worker)
    try:
        time.sleep(5)  # idle for 2.5 socket timeouts
        assert thread.is_alive() and worker.reconnections == 0
        body = json.dumps({"harvest_job_id": "job-1"})
        queues.harvest_redis().rpush(queue_key, body)
        wait_for(lambda: recorder.bodies == [body])
        assert recorder.protected == [True]  # persistence key written before processing...
        assert not queues.harvest_redis().exists(queue_key + ":job-1")  # ... and deleted by the ack
    finally:
        worker.stop()
        thread.join(10)
    assert not thread.is_alive()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _redis_server(port: int, tmp: pathlib.Path) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind", "127.0.0.1",
         "--save", "", "--appendonly", "no", "--dir", str(tmp)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: _answers(port), timeout=10)
    return server


def _answers(port: int) -> bool:
    try:
        return bool(redis.Redis(port=port, socket_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed")
def test_worker_survives_a_redis_restart_and_then_processes_messages(tmp_path: pathlib.Path) -> None:
    port = _free_port()
    server = _redis_server(port, tmp_path)
    key = "test-communes:restart:harvest_object_id"
    settings = workers.WorkerSettings(block_seconds=1, socket_timeout=2, backoff_initial=0.2, backoff_max=1)

    def factory() -> redis.Redis:
        # redis-py's own retries (about 6 s) would hide a short outage from the loop under test.
        return redis.Redis(port=port, decode_responses=True, socket_timeout=2, socket_connect_timeout=1,
                           retry=redis.retry.Retry(redis.backoff.NoBackoff(), 0))

    recorder = Recorder()
    worker = workers.QueueWorker(key, recorder, redis_factory=factory, settings=settings)
    thread = start(worker)
    try:
        factory().rpush(key, json.dumps({"harvest_object_id": "a"}))
        wait_for(lambda: len(recorder.bodies) == 1)
        server.terminate()
        server.wait(10)
        time.sleep(3)  # the worker meets the dead server, backs off, retries
        assert thread.is_alive()
        server = _redis_server(port, tmp_path)
        factory().rpush(key, json.dumps({"harvest_object_id": "b"}))
        wait_for(lambda: len(recorder.bodies) == 2)
        assert json.loads(recorder.bodies[1]) == {"harvest_object_id": "b"}
        assert worker.reconnections >= 1
    finally:
        worker.stop()
        thread.join(10)
        server.terminate()
        server.wait(10)
    assert not thread.is_alive()


SIGNAL_SCRIPT = """
import json, sys, redis
from ckanext.communes.harvesters import workers
url, key = sys.argv[1], sys.argv[2]
settings = workers.WorkerSettings(block_seconds=1, socket_timeout=2)
def callback(channel, method, header, body):
    channel.basic_ack(method.delivery_tag)
    print("processed", body, flush=True)
worker = workers.QueueWorker(key, callback, settings=settings,
                             redis_factory=lambda: redis.Redis.from_url(url, decode_responses=True, socket_timeout=2))
worker.install_signal_handlers()
print("ready", flush=True)
worker.run()
print("stopped", worker.processed, flush=True)
"""


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGINT"])
def test_worker_stops_cleanly_on_a_signal(signame: str, queue_key: str, ckan_config: Any) -> None:
    import signal

    url = ckan_config["ckan.redis.url"]
    process = subprocess.Popen([sys.executable, "-c", SIGNAL_SCRIPT, url, queue_key], stdout=subprocess.PIPE,
                               text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert process.stdout.readline().strip() == "ready"
        queues.harvest_redis().rpush(queue_key, json.dumps({"harvest_job_id": "x"}))
        assert process.stdout.readline().startswith("processed")
        time.sleep(3)  # idle beyond the socket timeout first
        process.send_signal(getattr(signal, signame))
        out, _ = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    assert "stopped 1" in out


# --- jobs: one at a time, a synchronous run ------------------------------------------

@pytest.fixture
def bron(clean_db: None, clean_index: None, harvest_env: None) -> dict[str, Any]:
    return factories.Organization(name="bron", title="Bron")


@pytest.mark.ckan_config("ckan.plugins", PLUGINS_WITH_CKAN_HARVESTER)
@pytest.mark.usefixtures("clean_queues")
def test_a_second_job_for_a_source_is_a_409_in_french_naming_the_source(bron: dict[str, Any], app: Any) -> None:
    source = make_source(bron["id"])
    token = factories.APIToken(user=factories.Sysadmin()["name"])["token"]
    headers = {"Authorization": token}
    first = app.post("/api/3/action/harvest_job_create", json={"source_id": source["id"], "run": False},
                     headers=headers, status=200).json["result"]
    response = app.post("/api/3/action/harvest_job_create", json={"source_id": source["id"]},
                        headers=headers, status=409).json
    message = response["error"]["source_id"][0]
    assert source["title"] in message
    created = datetime.datetime.fromisoformat(first["created"]).strftime("%Y-%m-%d %H:%M")
    assert message == french(
        "The harvest source “{source}” already has a job ({status}, created {created}): wait for it to finish, "
        "or stop it, before starting another.").format(source=source["title"], status=french("waiting"),
                                                       created=created)


@pytest.mark.ckan_config("ckan.plugins", PLUGINS_WITH_CKAN_HARVESTER)
@pytest.mark.usefixtures("clean_queues")
def test_scheduled_runs_still_skip_a_source_with_a_job(bron: dict[str, Any]) -> None:
    """ckanext-harvest's _make_scheduled_jobs catches HarvestJobExists: our 409 must still be one."""
    from ckanext.harvest.logic import HarvestJobExists

    source = make_source(bron["id"])
    helpers.call_action("harvest_job_create", context=site_context(), source_id=source["id"], run=False)
    with pytest.raises(HarvestJobExists):
        helpers.call_action("harvest_job_create", context=site_context(), source_id=source["id"], run=False)


@pytest.mark.ckan_config("ckan.plugins", PLUGINS_WITH_CKAN_HARVESTER)
@pytest.mark.usefixtures("clean_queues")
def test_two_jobs_of_one_source_never_start_together(bron: dict[str, Any]) -> None:
    from ckanext.harvest.model import HarvestJob

    source = make_source(bron["id"])
    model.Session.remove()
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def create() -> None:
        try:
            barrier.wait()
            helpers.call_action("harvest_job_create", context=site_context(), source_id=source["id"], run=False)
            outcomes.append("created")
        except actions.HarvestJobAlreadyActive:
            outcomes.append("refused")
        finally:
            model.Session.remove()

    threads = [threading.Thread(target=create) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["created", "refused", "refused", "refused"]
    assert model.Session.query(HarvestJob).filter_by(source_id=source["id"]).count() == 1


@pytest.mark.ckan_config("ckan.plugins", PLUGINS_WITH_CKAN_HARVESTER)
@pytest.mark.usefixtures("clean_queues")
def test_gather_worker_runs_ckanext_harvest_gather_and_skips_finished_jobs(bron: dict[str, Any]) -> None:
    from ckanext.harvest.model import HarvestJob

    source = make_source(bron["id"])
    finished = make_source(bron["id"])
    finished_job = helpers.call_action("harvest_job_create", context=site_context(), source_id=finished["id"])["id"]
    helpers.call_action("harvest_job_abort", context=site_context(), id=finished_job)
    job_id = helpers.call_action("harvest_job_create", context=site_context(), source_id=source["id"])["id"]
    model.Session.remove()

    worker = workers.make_worker(queues.GATHER, workers.WorkerSettings(block_seconds=1, socket_timeout=3))
    thread = start(worker)
    try:
        def gathered() -> bool:
            model.Session.remove()
            return HarvestJob.get(job_id).gather_finished is not None
        wait_for(gathered, timeout=30)
        wait_for(lambda: worker.processed == 2)
    finally:
        worker.stop()
        thread.join(15)
    model.Session.remove()
    assert HarvestJob.get(finished_job).gather_started is None  # not gathered after its abort
    helpers.call_action("harvest_jobs_run", context=site_context())
    model.Session.remove()
    job = HarvestJob.get(job_id)
    assert job.status == "Finished"
    assert job.gather_errors  # the closed port, reported by ckanext-harvest's CKAN harvester


@pytest.mark.ckan_config("ckan.plugins", PLUGINS_WITH_CKAN_HARVESTER)
@pytest.mark.usefixtures("clean_queues")
def test_a_synchronous_run_works_twice_and_the_source_keeps_its_type(bron: dict[str, Any]) -> None:
    source = make_source(bron["id"])
    for _ in range(2):
        job = actions.run_source_sync(source["name"])
        assert job["status"] == "Finished"
        # ckanext-harvest's reindex used to cache a source without source_type (run-test's KeyError).
        shown = helpers.call_action("harvest_source_show", context=site_context(), id=source["id"])
        assert shown["source_type"] == "ckan"
    assert not queues.harvest_redis().llen(queues.routing_key(queues.GATHER))  # nothing queued


@pytest.mark.ckan_config("ckan.plugins", PLUGINS_WITH_CKAN_HARVESTER)
@pytest.mark.usefixtures("clean_queues")
def test_a_synchronous_run_closes_its_job_when_it_fails(bron: dict[str, Any],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from ckanext.harvest import queue
    from ckanext.harvest.model import HarvestJob

    source = make_source(bron["id"])

    def boom(harvester: Any, job: Any) -> None:
        raise KeyboardInterrupt()

    monkeypatch.setattr(queue, "gather_stage", boom)
    with pytest.raises(KeyboardInterrupt):
        actions.run_source_sync(source["id"])
    model.Session.remove()
    job = model.Session.query(HarvestJob).filter_by(source_id=source["id"]).one()
    assert job.status == "Finished"
    assert job.gather_errors
