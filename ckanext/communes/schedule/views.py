"""/communes/taches-planifiees: the scheduled tasks (last run, outcome, next run), for the programme operators
and sysadmins only; and the template helper that links it from the harvest sources' page."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import ckan.plugins.toolkit as tk
import redis
from flask import Blueprint

from ckanext.communes.communes import programme
from ckanext.communes.schedule import runner, tasks
from ckanext.communes.translation import N_

log = logging.getLogger(__name__)

schedule = Blueprint("communes_schedule", __name__)

REFUSAL = N_("Only programme operators (administrators of the Métropole de Lyon) and sysadmins see the scheduled "
             "tasks.")
TITLES = {tasks.LINKCHECK: N_("Link re-checks"), tasks.RECOMPUTE: N_("Quality recompute")}


def _user_name() -> str | None:
    user = getattr(tk, "current_user", None)
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return getattr(user, "name", None) or None


def may_see() -> bool:
    """Template helper ``communes_schedule_visible``."""
    return programme.is_programme_operator(_user_name())


def _when(value: dt.datetime | None) -> str | None:
    """A naive UTC time as the operators read it: local date and time (the schedule's time zone)."""
    return None if value is None else runner.to_local(value).strftime("%d/%m/%Y %H:%M")


def _planned_text(view: runner.TaskView) -> str:
    if view.problem:
        return tk._("Off: the option cannot be read ({problem})").format(problem=view.problem)
    if view.next_run is None:
        return tk._("Off (option set to 0 or off)")
    if view.due_now:
        return tk._("At the runner's next round")
    return _when(view.next_run) or ""


def _schedule_text(name: str) -> str:
    try:
        if name == tasks.LINKCHECK:
            every = runner.linkcheck_every()
            return "" if every is None else tk._("Every {minutes} minutes").format(
                minutes=int(every.total_seconds() // 60))
        at = runner.recompute_at()
        return "" if at is None else tk._("Every day at {time} ({zone})").format(
            time=at.strftime("%H:%M"), zone=runner.timezone().key)
    except runner.ScheduleError:
        return ""


def rows() -> list[dict[str, Any]]:
    result = []
    for view in runner.overview():
        status = view.status
        result.append({
            "name": view.name,
            "title": tk._(TITLES.get(view.name, view.name)),
            "schedule": _schedule_text(view.name),
            "running_since": _when(status.running_since),
            "last_started": _when(status.started_at),
            "last_finished": _when(status.finished_at),
            "outcome": status.outcome,
            "summary": tasks.describe(view.name, status.counts) if status.outcome == "ok" else None,
            "error": status.error if status.outcome == "failed" else None,
            "failures": status.failures,
            "last_success": _when(status.succeeded_at),
            "next_run": _planned_text(view),
        })
    return result


def index() -> Any:
    if not may_see():
        return tk.abort(403, tk._(REFUSAL))
    try:
        found, unavailable = rows(), False
    except redis.RedisError:  # the page says so rather than failing
        log.warning("scheduled tasks page: Redis unavailable", exc_info=True)
        found, unavailable = [], True
    return tk.render("schedule/index.html", {"tasks": found, "unavailable": unavailable})


schedule.add_url_rule("/communes/taches-planifiees", view_func=index, endpoint="index")


def get_blueprints() -> list[Blueprint]:
    return [schedule]


def get_helpers() -> dict[str, Any]:
    return {"communes_schedule_visible": may_see}
