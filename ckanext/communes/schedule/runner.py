"""The schedule: which task is due, run it under its lock, record what happened. Called at each round of the
periodic runner (``ckan communes harvest run-periodic``, through its ``periodic_round`` signal); the clock is
injectable, so that the tests advance time instead of sleeping.

Each task is due when no run has *succeeded* since its last planned time:

- the link re-check every ``linkcheck_every_minutes`` after the start of its last successful run;
- the recompute each day at ``recompute_at`` (local time of ``timezone``), or at the first round after it when
  the runner was down then; a task that never ran is due at once.

A run that fails is logged with its traceback and recorded (outcome, error); the task stays due and is tried
again at the next round, and the runner carries on. Two runners (two containers) never run one task at once:
the second finds the lock held and leaves it (store.task_lock)."""

from __future__ import annotations

import datetime as dt
import logging
import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ckan.plugins.toolkit as tk
from ckan import model

from ckanext.communes.schedule import store, tasks

log = logging.getLogger(__name__)

OPTION_PREFIX = "ckanext.communes.schedule."
LINKCHECK_EVERY_OPTION = OPTION_PREFIX + "linkcheck_every_minutes"
RECOMPUTE_AT_OPTION = OPTION_PREFIX + "recompute_at"
TIMEZONE_OPTION = OPTION_PREFIX + "timezone"
DEFAULT_LINKCHECK_EVERY = 60
DEFAULT_RECOMPUTE_AT = "03:00"
DEFAULT_TIMEZONE = "Europe/Paris"
ERROR_MAX = 500
_HH_MM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.utcnow()


class ScheduleError(ValueError):
    """An option of the schedule that cannot be read: the task is off, the page says why."""


# --------------------------------------------------------------------------------------------- options

def linkcheck_every() -> dt.timedelta | None:
    """Interval of the link re-check; None: off (0)."""
    raw = tk.config.get(LINKCHECK_EVERY_OPTION)
    try:
        minutes = int(raw if raw not in (None, "") else DEFAULT_LINKCHECK_EVERY)
    except (TypeError, ValueError):
        raise ScheduleError(f"{LINKCHECK_EVERY_OPTION}: {raw!r} is not a number of minutes") from None
    if minutes < 0:
        raise ScheduleError(f"{LINKCHECK_EVERY_OPTION}: {raw!r} is negative")
    return dt.timedelta(minutes=minutes) if minutes else None


def recompute_at() -> dt.time | None:
    """Local time of the daily recompute; None: off (empty or "off")."""
    raw = tk.config.get(RECOMPUTE_AT_OPTION)
    text = (DEFAULT_RECOMPUTE_AT if raw is None else str(raw)).strip()
    if text.lower() in ("", "off"):
        return None
    found = _HH_MM.match(text)
    if not found:
        raise ScheduleError(f"{RECOMPUTE_AT_OPTION}: {text!r} is not a time HH:MM")
    return dt.time(int(found.group(1)), int(found.group(2)))


def timezone() -> zoneinfo.ZoneInfo:
    name = str(tk.config.get(TIMEZONE_OPTION) or DEFAULT_TIMEZONE).strip()
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"{TIMEZONE_OPTION}: {name!r} is not a time zone (e.g. Europe/Paris)") from None


def to_local(when: dt.datetime) -> dt.datetime:
    """A naive UTC time in the schedule's time zone (the page shows those); UTC when the option is wrong."""
    try:
        zone: dt.tzinfo = timezone()
    except ScheduleError:
        zone = dt.timezone.utc
    return when.replace(tzinfo=dt.timezone.utc).astimezone(zone)


# --------------------------------------------------------------------------------------------- plans

def next_every(interval: dt.timedelta, last_success: dt.datetime | None, now: dt.datetime) -> dt.datetime:
    return now if last_success is None else last_success + interval


def next_daily(at: dt.time, zone: dt.tzinfo, last_success: dt.datetime | None, now: dt.datetime) -> dt.datetime:
    """The first ``at`` (local) after the last successful run; now when it never ran. Naive UTC."""
    if last_success is None:
        return now
    local = last_success.replace(tzinfo=dt.timezone.utc).astimezone(zone)
    day = local.date()
    for _ in range(3):  # today's slot may already be past (or skipped by a DST change): the next day's
        slot = dt.datetime.combine(day, at, tzinfo=zone)
        if slot > local:
            return slot.astimezone(dt.timezone.utc).replace(tzinfo=None)
        day += dt.timedelta(days=1)
    raise AssertionError("unreachable: a slot within three days")


@dataclass(frozen=True)
class Task:
    """A scheduled task: ``run(now) -> counts``; ``plan(last success, now)`` its next due time (naive UTC),
    None when it is off. ``plan`` raises ScheduleError for an option that cannot be read."""

    name: str
    run: Callable[[dt.datetime], dict[str, int]]
    plan: Callable[[dt.datetime | None, dt.datetime], dt.datetime | None]


def _plan_linkcheck(last_success: dt.datetime | None, now: dt.datetime) -> dt.datetime | None:
    interval = linkcheck_every()
    return None if interval is None else next_every(interval, last_success, now)


def _plan_recompute(last_success: dt.datetime | None, now: dt.datetime) -> dt.datetime | None:
    at = recompute_at()
    return None if at is None else next_daily(at, timezone(), last_success, now)


def default_tasks() -> list[Task]:
    return [Task(tasks.LINKCHECK, tasks.recheck_due_links, _plan_linkcheck),
            Task(tasks.RECOMPUTE, tasks.recompute_scores, _plan_recompute)]


# --------------------------------------------------------------------------------------------- the rounds

@dataclass
class Outcome:
    """What a round did with one task (the tests and the log read it)."""

    task: str
    ran: bool
    ok: bool | None = None  # None: not run
    why: str = ""  # not run: "not due", "off", "locked", "invalid option"


class Scheduler:
    def __init__(self, task_list: list[Task] | None = None, clock: Clock = utc_now, client: Any = None,
                 lock_ttl: int = store.LOCK_TTL) -> None:
        self.tasks = default_tasks() if task_list is None else task_list
        self.clock = clock
        self._client = client
        self.lock_ttl = lock_ttl

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = store.redis_client()
        return self._client

    def tick(self) -> list[Outcome]:
        """Run every due task, one after the other. Never raises for a task's failure."""
        return [self._tick_one(task) for task in self.tasks]

    def _due(self, task: Task, now: dt.datetime) -> tuple[bool, str]:
        try:
            planned = task.plan(store.read(task.name, self.client).succeeded_at, now)
        except ScheduleError as error:
            log.error("scheduled task %s is off: %s", task.name, error)
            return False, "invalid option"
        if planned is None:
            return False, "off"
        return planned <= now, "" if planned <= now else "not due"

    def _tick_one(self, task: Task) -> Outcome:
        try:
            due, why = self._due(task, self.clock())
            if not due:
                return Outcome(task.name, False, why=why)
            started = self.clock()
            with store.task_lock(task.name, started, self.client, self.lock_ttl):
                # Another runner may have finished it between our reading and our lock.
                due, why = self._due(task, started)
                if not due:
                    return Outcome(task.name, False, why=why)
                return self._run(task, started)
        except store.LockHeld:
            log.info("scheduled task %s: running in another runner, left to it", task.name)
            return Outcome(task.name, False, why="locked")
        except Exception:  # noqa: BLE001 - Redis unreachable: nothing can be planned now; the next round tries
            log.exception("scheduled task %s not run (its status or lock could not be read)", task.name)
            return Outcome(task.name, False, ok=False, why="error")

    def _run(self, task: Task, started: dt.datetime) -> Outcome:
        log.info("scheduled task %s: started", task.name)
        try:
            counts = task.run(started)
        except Exception as error:  # noqa: BLE001 - recorded; retried at the next round; the runner goes on
            log.exception("scheduled task %s failed; tried again at the next round", task.name)
            model.Session.rollback()
            store.record(task.name, started, self.clock(), None, _error_text(error), self.client)
            return Outcome(task.name, True, ok=False)
        store.record(task.name, started, self.clock(), counts, None, self.client)
        log.info("scheduled task %s: done %s", task.name, counts)
        return Outcome(task.name, True, ok=True)


def _error_text(error: BaseException) -> str:
    first = (str(error).strip().splitlines() or [""])[0]
    return f"{type(error).__name__}: {first}"[:ERROR_MAX]


def on_periodic_round(_sender: Any, **_kwargs: Any) -> None:
    """Subscribed to harvesters.workers.periodic_round (plugin.py): each round of the periodic runner."""
    Scheduler().tick()


# --------------------------------------------------------------------------------------------- the page

@dataclass
class TaskView:
    name: str
    status: store.TaskStatus
    next_run: dt.datetime | None  # naive UTC; None: off
    due_now: bool
    problem: str | None  # an option that cannot be read


def overview(clock: Clock = utc_now, task_list: list[Task] | None = None) -> list[TaskView]:
    """Each task's last run and next run, for the operators' page."""
    now = clock()
    views = []
    for task in default_tasks() if task_list is None else task_list:
        status = store.read(task.name)
        problem = None
        try:
            planned = task.plan(status.succeeded_at, now)
        except ScheduleError as error:
            planned, problem = None, str(error)
        views.append(TaskView(task.name, status, planned, planned is not None and planned <= now, problem))
    return views
