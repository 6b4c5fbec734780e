"""The scheduled work of the periodic runner (issue #20, item 4): the link re-checks and the nightly quality
recompute run at each round of `ckan communes harvest run-periodic` when due, time advanced by an injectable
clock (no sleeping); a failed run is logged, recorded and tried again at the next round without stopping the
runner; two runners never run one task at once (a Redis lock with expiry); the operators see the last and next
runs on /communes/taches-planifiees, nobody else does."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Any

import pytest
from ckan import model
from ckan.tests import factories, helpers

from ckanext.communes.quality import evidence
from ckanext.communes.schedule import runner, store, tasks
from ckanext.communes.tests.schedule.conftest import Clock
from ckanext.communes.tests.shared import ENVI, EU

pytestmark = pytest.mark.usefixtures("clean_db", "clean_index", "clean_schedule")

PARIS = runner.zoneinfo.ZoneInfo("Europe/Paris")


@pytest.fixture(autouse=True)
def _fast_checks(ckan_config, monkeypatch):
    """No spacing between link-check requests, short timeouts (as the link checker's own tests)."""
    monkeypatch.setitem(ckan_config, "ckanext.communes.linkcheck.per_host_interval", "0")
    monkeypatch.setitem(ckan_config, "ckanext.communes.linkcheck.timeout", "1")


def only(name: str) -> list[runner.Task]:
    return [task for task in runner.default_tasks() if task.name == name]


def _dataset(user: dict[str, Any], org: dict[str, Any], **fields: Any) -> dict[str, Any]:
    values = {"name": "arbres", "title": "Arbres remarquables", "notes": "Les arbres remarquables de la commune.",
              "owner_org": org["id"], "theme": [ENVI]}
    values.update(fields)
    return helpers.call_action("package_create", context={"user": user["name"]}, **values)


def _quality_queues() -> tuple[str, ...]:
    from ckanext.communes.quality import background

    return background.QUEUES


def _run_queued_jobs() -> None:
    """What `make run`'s jobs worker does: the editor's quality queue, CKAN's default one, the bulk queue."""
    from ckan.lib import jobs

    from ckanext.communes.quality import background

    jobs.Worker([background.PRIORITY_QUEUE, "default", background.BULK_QUEUE]).work(burst=True)
    model.Session.expire_all()


def _missed(name: str) -> list[str]:
    """The missed criteria the search index holds for the dataset (what the facets, the bilan read)."""
    [found] = helpers.call_action("package_search", fq=f"name:{name}")["results"]
    indexed = helpers.call_action("package_search", fq=f"name:{name} AND vocab_quality_missed:*",
                                  fl="name,vocab_quality_missed")["results"]
    assert found["name"] == name
    return sorted(indexed[0]["vocab_quality_missed"]) if indexed else []


# --- the required behaviours ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("allow_private_addresses")
def test_a_link_that_breaks_after_its_first_check_is_found_broken_by_the_scheduled_recheck(
        source_server, sysadmin, bron):
    from ckan.lib import jobs

    source_server.serve("/arbres.csv", "a;b\n1;2\n", content_type="text/csv")
    for queue in ("default", *_quality_queues()):
        jobs.get_queue(queue).empty()
    dataset = _dataset(sysadmin, bron, resources=[{"url": source_server.url("/arbres.csv"), "name": "CSV"}])
    [resource_id] = [r["id"] for r in dataset["resources"]]
    _run_queued_jobs()  # the save's quality job: the link's first check
    assert evidence.link_results_for(dataset["id"])[resource_id].ok is True
    assert source_server.requested("/arbres.csv") == 1

    source_server.fail("/arbres.csv", status=404)  # the commune's server loses the file
    clock = Clock(dt.datetime.utcnow())
    scheduler = runner.Scheduler(only(tasks.LINKCHECK), clock=clock)

    # An hour later: the re-check runs, but the link, checked an hour ago, is not due.
    clock.advance(hours=1)
    [outcome] = scheduler.tick()
    assert (outcome.ran, outcome.ok) == (True, True)
    _run_queued_jobs()
    assert source_server.requested("/arbres.csv") == 1
    assert evidence.link_results_for(dataset["id"])[resource_id].ok is True

    # Eight days later (a working link is re-checked after 7): queued by the schedule, found broken.
    clock.advance(days=8)
    [outcome] = scheduler.tick()
    assert (outcome.ran, outcome.ok) == (True, True)
    assert store.read(tasks.LINKCHECK).counts == {"datasets": 1, "links": 1, "waiting": 0}
    _run_queued_jobs()
    result = evidence.link_results_for(dataset["id"])[resource_id]
    assert (result.ok, result.status) == (False, 404)
    assert source_server.requested("/arbres.csv") == 2
    assert "links" in _missed("arbres")  # the score reindexed with the broken link


@pytest.mark.usefixtures("allow_private_addresses")
def test_a_dataset_queued_by_the_recheck_is_not_queued_again_while_its_job_waits(source_server, sysadmin, bron):
    """Behind a large harvest the jobs worker may not reach a queued check before the next round: the dataset
    is not queued a second time; once its job ran, its next check follows the link checker's plan."""
    from ckan.lib import jobs

    source_server.serve("/arbres.csv", "a;b\n1;2\n", content_type="text/csv")
    dataset = _dataset(sysadmin, bron, resources=[{"url": source_server.url("/arbres.csv"), "name": "CSV"}])
    for queue in ("default", *_quality_queues()):
        jobs.get_queue(queue).empty()  # the save's own quality job lost (Redis restarted): the link never checked
    clock = Clock(dt.datetime.utcnow())
    scheduler = runner.Scheduler(only(tasks.LINKCHECK), clock=clock)

    scheduler.tick()
    assert store.read(tasks.LINKCHECK).counts == {"datasets": 1, "links": 1, "waiting": 0}
    clock.advance(hours=1)
    scheduler.tick()
    assert store.read(tasks.LINKCHECK).counts == {"datasets": 0, "links": 0, "waiting": 1}
    assert [job.args[0] for job in jobs.get_queue().jobs] == [dataset["id"]]

    _run_queued_jobs()
    assert [r.ok for r in evidence.link_results_for(dataset["id"]).values()] == [True]
    clock.advance(hours=1)
    scheduler.tick()
    assert store.read(tasks.LINKCHECK).counts == {"datasets": 0, "links": 0, "waiting": 0}
    assert source_server.requested("/arbres.csv") == 1


def test_a_dataset_past_its_frequency_deadline_is_marked_late_by_the_scheduled_recompute_without_a_save(
        sysadmin, bron):
    today = dt.date.today()
    dataset = _dataset(sysadmin, bron, frequency=f"{EU}/frequency/DAILY", modified=today.isoformat())
    saved_at = dataset["metadata_modified"]
    clock = Clock(dt.datetime.combine(today, dt.time(12)))  # noon UTC: 13:00 or 14:00 in Lyon
    scheduler = runner.Scheduler(only(tasks.RECOMPUTE), clock=clock)

    [outcome] = scheduler.tick()  # never ran: runs at once
    assert (outcome.ran, outcome.ok) == (True, True)
    assert "frequency" not in _missed("arbres")  # a daily dataset modified today

    clock.advance(hours=1)  # the next recompute is at 03:00 tomorrow
    assert scheduler.tick()[0].why == "not due"

    # Ten days later, nobody saved it: the index still says "respected" until the nightly run...
    clock.advance(days=10)
    assert "frequency" not in _missed("arbres")
    [outcome] = scheduler.tick()
    assert (outcome.ran, outcome.ok) == (True, True)
    # ...which marks it late.
    assert "frequency" in _missed("arbres")
    assert helpers.call_action("package_show", id=dataset["id"])["metadata_modified"] == saved_at
    status = store.read(tasks.RECOMPUTE)
    assert status.outcome == "ok" and status.counts == {"datasets": 1} and status.succeeded_at == clock.now


def test_a_failing_scheduled_run_is_logged_recorded_and_tried_again_at_the_next_round(caplog, monkeypatch):
    # The migrations clean_db runs (alembic's fileConfig) disable the loggers that existed before.
    monkeypatch.setattr(runner.log, "disabled", False)
    calls: list[dt.datetime] = []

    def flaky(now: dt.datetime) -> dict[str, int]:
        calls.append(now)
        if len(calls) == 1:
            raise RuntimeError("Solr unreachable\nsecond line not kept")
        return {"datasets": 3}

    clock = Clock(dt.datetime(2026, 12, 6, 12))
    scheduler = runner.Scheduler(
        [runner.Task(tasks.RECOMPUTE, flaky, lambda last, now: runner.next_every(dt.timedelta(hours=24), last, now))],
        clock=clock)
    with caplog.at_level(logging.ERROR, logger="ckanext.communes.schedule.runner"):
        [outcome] = scheduler.tick()
    assert (outcome.ran, outcome.ok) == (True, False)
    assert "scheduled task recompute failed" in caplog.text and "Solr unreachable" in caplog.text
    failed = store.read(tasks.RECOMPUTE)
    assert (failed.outcome, failed.error, failed.failures, failed.succeeded_at) == (
        "failed", "RuntimeError: Solr unreachable", 1, None)

    clock.advance(minutes=1)  # the runner's next round: tried again, not 24 h later
    [outcome] = scheduler.tick()
    assert (outcome.ran, outcome.ok) == (True, True) and len(calls) == 2
    done = store.read(tasks.RECOMPUTE)
    assert (done.outcome, done.error, done.failures, done.succeeded_at, done.counts) == (
        "ok", None, 0, clock.now, {"datasets": 3})
    clock.advance(minutes=1)
    assert scheduler.tick()[0].why == "not due" and len(calls) == 2


def test_the_periodic_runner_runs_the_scheduled_tasks_and_outlives_a_failing_round(ckan_config, monkeypatch):
    """`run-periodic`'s loop (harvesters/workers.py) sends its round signal; the schedule, subscribed by the
    plugin, runs its due tasks there. A round whose scheduled work raises is logged, and the loop goes on."""
    from ckanext.communes.harvesters import workers

    stop = threading.Event()
    rounds: list[int] = []

    def failing_subscriber(_sender: Any, **_kwargs: Any) -> None:
        rounds.append(1)
        if len(rounds) == 1:
            raise RuntimeError("a subscriber failed")
        stop.set()

    workers.periodic_round.connect(failing_subscriber)
    try:
        workers.run_periodic(0.01, stop)
    finally:
        workers.periodic_round.disconnect(failing_subscriber)
    assert len(rounds) == 2  # the failure did not end the loop
    # The plugin's subscriber ran both tasks at each round: never run before, so due at once.
    for name in (tasks.LINKCHECK, tasks.RECOMPUTE):
        status = store.read(name)
        assert status.outcome == "ok", (name, status)


def test_two_runners_never_run_one_task_at_once_and_a_lock_expires(ckan_config):
    started, release = threading.Event(), threading.Event()
    runs: list[str] = []

    def slow(now: dt.datetime) -> dict[str, int]:
        runs.append(threading.current_thread().name)
        started.set()
        assert release.wait(10), "the test never released the first run"
        return {"datasets": 1}

    def task() -> list[runner.Task]:
        return [runner.Task(tasks.LINKCHECK, slow,
                            lambda last, now: runner.next_every(dt.timedelta(hours=1), last, now))]

    clock = Clock(dt.datetime(2026, 12, 6, 12))
    first, second = runner.Scheduler(task(), clock=clock), runner.Scheduler(task(), clock=clock)
    outcomes: list[runner.Outcome] = []
    thread = threading.Thread(target=lambda: outcomes.extend(first.tick()), name="container-1")
    thread.start()
    try:
        assert started.wait(10)
        # The lock is held, with an expiry (a runner killed now frees it within LOCK_TTL seconds).
        ttl = store.redis_client().pttl(store.lock_key(tasks.LINKCHECK))
        assert 0 < ttl <= store.LOCK_TTL * 1000
        assert store.read(tasks.LINKCHECK).running_since == clock.now
        [other] = second.tick()
        assert (other.ran, other.why) == (False, "locked")
    finally:
        release.set()
        thread.join(10)
    assert [o.ok for o in outcomes] == [True] and runs == ["container-1"]
    # Done by the first runner: not due for the second one either.
    assert second.tick()[0].why == "not due" and len(runs) == 1
    assert not store.redis_client().exists(store.lock_key(tasks.LINKCHECK))

    # A lock left by a runner that died (never released) keeps the task off until Redis expires it.
    clock.advance(hours=2)
    client = store.redis_client()
    client.set(store.lock_key(tasks.LINKCHECK), "dead-runner", px=store.LOCK_TTL * 1000)
    assert second.tick()[0].why == "locked" and len(runs) == 1
    assert 0 < client.pttl(store.lock_key(tasks.LINKCHECK)) <= store.LOCK_TTL * 1000
    client.delete(store.lock_key(tasks.LINKCHECK))  # what Redis does when that expiry comes
    assert second.tick()[0].ok is True and len(runs) == 2


# --- the plans ------------------------------------------------------------------------------------------------


def _utc(local: dt.datetime) -> dt.datetime:
    return local.replace(tzinfo=PARIS).astimezone(dt.timezone.utc).replace(tzinfo=None)


@pytest.mark.parametrize(("last_local", "expected_local"), [
    (dt.datetime(2026, 12, 6, 2, 0), dt.datetime(2026, 12, 6, 3, 0)),    # before today's slot: today
    (dt.datetime(2026, 12, 6, 3, 0), dt.datetime(2026, 12, 7, 3, 0)),    # at the slot: tomorrow
    (dt.datetime(2026, 12, 6, 14, 0), dt.datetime(2026, 12, 7, 3, 0)),   # a run at startup: tomorrow at 03:00
    (dt.datetime(2026, 3, 28, 3, 5), dt.datetime(2026, 3, 29, 3, 0)),    # the night summer time starts
    (dt.datetime(2026, 10, 24, 3, 5), dt.datetime(2026, 10, 25, 3, 0)),  # the night it ends
])
def test_the_recompute_is_planned_each_day_at_its_local_time(last_local, expected_local):
    assert runner.next_daily(dt.time(3), PARIS, _utc(last_local), dt.datetime(2030, 1, 1)) == _utc(expected_local)


def test_a_task_never_run_is_due_at_once_and_a_missed_slot_is_caught_up(ckan_config, monkeypatch):
    monkeypatch.setitem(ckan_config, runner.RECOMPUTE_AT_OPTION, "03:00")
    now = dt.datetime(2026, 12, 6, 12)
    [recompute] = only(tasks.RECOMPUTE)
    assert recompute.plan(None, now) == now
    # The runner was down at 03:00 (last success two days ago): due at its first round.
    assert recompute.plan(now - dt.timedelta(days=2), now) < now
    [link] = only(tasks.LINKCHECK)
    assert link.plan(now - dt.timedelta(minutes=59), now) > now
    assert link.plan(now - dt.timedelta(minutes=60), now) == now


@pytest.mark.parametrize(("option", "value", "why"), [
    (runner.LINKCHECK_EVERY_OPTION, "0", "off"),
    (runner.RECOMPUTE_AT_OPTION, "off", "off"),
    (runner.RECOMPUTE_AT_OPTION, "3h", "invalid option"),
    (runner.LINKCHECK_EVERY_OPTION, "hourly", "invalid option"),
])
def test_a_task_turned_off_or_badly_configured_does_not_run(ckan_config, monkeypatch, option, value, why):
    monkeypatch.setitem(ckan_config, option, value)
    name = tasks.LINKCHECK if option == runner.LINKCHECK_EVERY_OPTION else tasks.RECOMPUTE
    ran: list[dt.datetime] = []
    [task] = only(name)
    scheduler = runner.Scheduler([runner.Task(name, lambda now: ran.append(now) or {}, task.plan)],
                                 clock=Clock(dt.datetime(2026, 12, 6, 12)))
    assert scheduler.tick()[0].why == why and ran == []


# --- the operators' page --------------------------------------------------------------------------------------


@pytest.fixture
def portal(tmp_path) -> dict[str, Any]:
    from ckanext.communes.communes import seeding
    from ckanext.communes.tests.communes.conftest import FEW, write_communes_csv

    seeding.seed(path=str(write_communes_csv(tmp_path / "communes.csv", FEW)))
    admin = factories.Sysadmin()
    users = {role: factories.User() for role in ("operator", "commune_admin", "stranger")}
    for org, role in (("metropole-de-lyon", "operator"), ("bron", "commune_admin")):
        helpers.call_action("organization_member_create", context={"user": admin["name"]}, id=org,
                            username=users[role]["name"], role="admin")
    users["sysadmin"] = admin
    return {role: factories.APIToken(user=user["name"])["token"] for role, user in users.items()}


def _get(app, url: str, token: str | None, status: int = 200) -> Any:
    return app.get(url, headers={"Authorization": token} if token else {}, status=status)


def test_the_operators_see_each_tasks_last_and_next_run_in_french(app, portal, ckan_config, monkeypatch):
    monkeypatch.setitem(ckan_config, runner.RECOMPUTE_AT_OPTION, "03:00")
    monkeypatch.setitem(ckan_config, runner.TIMEZONE_OPTION, "Europe/Paris")
    now = dt.datetime.utcnow().replace(microsecond=0)
    store.record(tasks.LINKCHECK, now - dt.timedelta(minutes=10), now - dt.timedelta(minutes=9),
                 {"datasets": 1204, "links": 3000, "waiting": 2}, None)
    store.record(tasks.RECOMPUTE, now - dt.timedelta(minutes=5), now - dt.timedelta(minutes=4), None,
                 "OperationalError: could not connect to server")
    for role in ("operator", "sysadmin"):
        body = _get(app, "/communes/taches-planifiees", portal[role]).body
        assert "Tâches planifiées" in body and "Revérification des liens" in body
        assert "Toutes les 60 minutes" in body and "Tous les jours à 03:00 (Europe/Paris)" in body
        assert "1\u202f204 jeux de données mis en file pour une vérification des liens (3\u202f000 liens)" in body
        assert "2 encore en attente" in body
        assert "Échouée" in body and "OperationalError: could not connect to server" in body
        started = runner.to_local(now - dt.timedelta(minutes=10)).strftime("%d/%m/%Y %H:%M")
        assert started in body
        # The recompute failed: tried again at the next round; the link re-check in 50 minutes.
        assert "À la prochaine ronde du lanceur" in body
        assert runner.to_local(now + dt.timedelta(minutes=50)).strftime("%d/%m/%Y %H:%M") in body
    harvest_page = _get(app, "/harvest", portal["operator"]).body
    assert "/communes/taches-planifiees" in harvest_page


@pytest.mark.parametrize("role", ["commune_admin", "stranger", None])
def test_nobody_else_sees_the_scheduled_tasks(app, portal, role):
    body = _get(app, "/communes/taches-planifiees", portal[role] if role else None, status=403).body
    assert "Seuls les opérateurs du programme" in body
    assert "Revérification des liens" not in body
