"""Closing the harvest jobs a dead worker left "Running", and closing a job now (:func:`finish_job`).

ckanext-harvest refuses a new job for a source while one is New or Running, and closes a Running job only
when all its objects are COMPLETE or ERROR: a worker killed in the middle of a gather, an import, or a
queue wiped by a Redis restart leaves a job that blocks its source forever. :func:`close_stale_jobs`
(applied by our chained ``harvest_jobs_run``, actions.py) closes a "Running" job that has no heartbeat
(queues.py: written while a gather or a synchronous run is alive), is not waiting in the gather queue, saw
no activity for N minutes (``ckanext.communes.harvest.stale_job_minutes``) and either never finished its
gather or has only objects a worker took and never finished. The same delay lets a fetch worker take
back an object left in flight by a dead one (stages.claim).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
from typing import Any

import ckan.plugins.toolkit as tk
import redis
import sqlalchemy as sa
from ckan import model

from ckanext.communes.harvesters.queues import GATHER, harvest_redis, heartbeat_key, routing_key
from ckanext.communes.translation import gettext

log = logging.getLogger(__name__)

STALE_MINUTES_OPTION = "ckanext.communes.harvest.stale_job_minutes"
DEFAULT_STALE_MINUTES = 30
FINAL_OBJECT_STATES = ("COMPLETE", "ERROR")
IN_FLIGHT_OBJECT_STATES = ("FETCH", "IMPORT")


def stale_minutes() -> int:
    """Minutes without activity after which a job, or an object in flight, is taken for abandoned."""
    try:
        return max(1, int(tk.config.get(STALE_MINUTES_OPTION) or DEFAULT_STALE_MINUTES))
    except (TypeError, ValueError):
        return DEFAULT_STALE_MINUTES


def _last_activity(job: Any) -> datetime.datetime:
    from ckanext.harvest.model import HarvestObject

    times = [job.created, job.gather_started]
    row = model.Session.query(
        sa.func.max(HarvestObject.gathered), sa.func.max(HarvestObject.fetch_started),
        sa.func.max(HarvestObject.import_finished),
    ).filter(HarvestObject.harvest_job_id == job.id).one()
    times.extend(row)
    return max(t for t in times if t is not None)


def _job_is_queued_or_alive(client: redis.Redis, job_id: str) -> bool:
    if client.exists(heartbeat_key(job_id)):
        return True
    message = json.dumps({"harvest_job_id": job_id})
    # The gather queue of a site holds one message per job (RedisPublisher removes duplicates).
    return message in client.lrange(routing_key(GATHER), 0, -1)


def finish_job(job: Any, message: str | None) -> None:
    """Mark a job Finished now, its unfinished objects in error, with a gather error when given."""
    from ckanext.harvest.model import HarvestGatherError, HarvestObject

    now = datetime.datetime.utcnow()
    (model.Session.query(HarvestObject)
     .filter(HarvestObject.harvest_job_id == job.id)
     .filter(HarvestObject.state.notin_(FINAL_OBJECT_STATES))
     .update({"state": "ERROR", "report_status": "errored"}, synchronize_session=False))
    job.status = "Finished"
    job.finished = now
    if message:
        model.Session.add(HarvestGatherError(message=message, job=job))
    model.Session.commit()


def _objects_in_flight(job: Any) -> int:
    """Objects of a job a worker took and never finished (FETCH, IMPORT), 0 while some still wait in
    the fetch queue (WAITING: ckanext-harvest resubmits those, the job is not stuck)."""
    from ckanext.harvest.model import HarvestObject

    counts = dict(model.Session.query(HarvestObject.state, sa.func.count(HarvestObject.id))
                  .filter(HarvestObject.harvest_job_id == job.id,
                          HarvestObject.state.in_(("WAITING",) + IN_FLIGHT_OBJECT_STATES))
                  .group_by(HarvestObject.state).all())
    return 0 if counts.get("WAITING") else sum(counts.values())


def close_stale_jobs(minutes: int | None = None, *, source_id: str | None = None,
                     client: redis.Redis | None = None, now: datetime.datetime | None = None) -> list[str]:
    """Close the "Running" jobs a dead worker left behind; the ids of the jobs closed.

    Stale = no heartbeat (of a gather or of a synchronous run), not waiting in the gather queue, no
    activity (creation, gather start, any object's progress) for ``minutes``, and either the gather never
    finished, or it did and the objects left are all in flight (taken by a worker that died in the
    middle of an import: ckanext-harvest would wait for them forever). When Redis cannot be read nothing
    is closed: a live job could not be told from a dead one."""
    from ckanext.harvest.model import HarvestJob

    minutes = minutes or stale_minutes()
    now = now or datetime.datetime.utcnow()
    limit = now - datetime.timedelta(minutes=minutes)
    query = model.Session.query(HarvestJob).filter(HarvestJob.status == "Running")
    if source_id:
        query = query.filter(HarvestJob.source_id == source_id)
    candidates: dict[str, str] = {}  # job id -> why
    jobs = {job.id: job for job in query.all()}
    for job in jobs.values():
        if _last_activity(job) >= limit:
            continue
        if job.gather_finished is None:
            candidates[job.id] = gettext(
                "Job interrupted (harvest worker stopped): its gather did not finish and nothing happened for "
                "{minutes} minutes. Run the source again.").format(minutes=minutes)
        elif (in_flight := _objects_in_flight(job)):
            candidates[job.id] = gettext(
                "Job interrupted (harvest worker stopped during the import): {count} records were being "
                "imported and nothing happened for {minutes} minutes. Run the source again.").format(
                    count=in_flight, minutes=minutes)
    if not candidates:
        return []
    try:
        client = client or harvest_redis()
        alive = {job_id for job_id in candidates if _job_is_queued_or_alive(client, job_id)}
    except redis.RedisError as error:
        log.warning("stale harvest jobs not checked: Redis unavailable (%s)", error)
        return []
    closed = []
    for job_id, message in candidates.items():
        if job_id in alive:
            continue
        job = jobs[job_id]
        finish_job(job, message)
        with contextlib.suppress(redis.RedisError):
            # Its gather message, if a dead worker left it protected, must not come back in 2 h.
            client.delete(routing_key(GATHER) + ":" + job.id)
        log.warning("harvest job %s of source %s closed: interrupted (no worker for %d minutes)",
                    job.id, job.source_id, minutes)
        closed.append(job.id)
    return closed
