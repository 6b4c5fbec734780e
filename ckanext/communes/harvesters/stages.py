"""Fetch and import of one harvest object, in place of ckanext-harvest's ``fetch_and_import_stages`` and
``fetch_callback``: the fetch worker and the synchronous run both go through :func:`fetch_and_import`.

Why not ckanext-harvest's: it commits the object five times (FETCH, fetch finished, IMPORT, COMPLETE,
its report status) and queries the package's objects to tell "added" from "updated". On the small
records of a CSW catalogue that was a fifth of a harvest's time (issue #9's benchmark, ``dev/bench/
sources.py``). For our harvesters the fetch does nothing (the gather read the whole page) and the import
knows what it did, so the object is written three times:

1. **in flight**: state FETCH, delivery count, fetch start, in one conditional UPDATE (:func:`claim`):
   only a WAITING object can be taken. ckanext-harvest's ``resubmit_objects`` (run by every
   ``harvest_jobs_run``) re-sends to the fetch queue every WAITING object it does not find there,
   including one a worker has just popped: the second delivery finds the object taken and is dropped,
   so two workers never import one record together (two datasets for it), and an object already
   imported is never set back to an error. The synchronous run marks all its objects in flight at once
   (:func:`mark_in_flight`), for the same reason: the portal's periodic runner would otherwise hand them
   to the fetch workers while the run imports them.
2. **with the dataset**: the import's ``package_create`` / ``package_update`` commit carries the object's
   state IMPORT, its package and its ``current`` flag (base.py ``import_stage``).
3. **done**: COMPLETE or ERROR, the times, and the report status the import decided.

Same states, columns and report statuses as ckanext-harvest's: its job closing (a job is finished when
none of its objects is outside COMPLETE / ERROR), its reports and its resubmission read them unchanged.
An object whose worker died after step 1 stays FETCH or IMPORT: ``stale_jobs.close_stale_jobs`` closes
its job when nothing moved for the configured minutes. Other harvesters (ckanext-harvest's own ``ckan``
type, say) keep ckanext-harvest's stages.
"""

from __future__ import annotations

import datetime
import json
import logging
from typing import Any

import sqlalchemy as sa
from ckan import model
from ckan import plugins as p

from ckanext.communes.harvesters.stale_jobs import stale_minutes
from ckanext.harvest import queue as harvest_queue
from ckanext.harvest.interfaces import IHarvester
from ckanext.harvest.model import HarvestJob, HarvestObject, HarvestObjectError

log = logging.getLogger(__name__)

IN_FLIGHT = "FETCH"
IMPORTING = "IMPORT"
# ckanext-harvest's fetch_callback gives up on an object delivered this many times.
MAX_DELIVERIES = 5


def _utcnow() -> datetime.datetime:
    return datetime.datetime.utcnow()  # naive UTC, as ckanext-harvest writes its columns


def harvester_of(source_type: str) -> Any:
    for harvester in p.PluginImplementations(IHarvester):
        if harvester.info().get("name") == source_type:
            return harvester
    return None


def _is_ours(harvester: Any) -> bool:
    from ckanext.communes.harvesters.base import CommunesHarvester

    return isinstance(harvester, CommunesHarvester)


def mark_in_flight(job_id: str) -> set[str]:
    """Every WAITING object of the job in flight (one UPDATE, committed); the ids taken. An object a fetch
    worker claimed first is not among them: that worker imports it."""
    table = HarvestObject.__table__
    taken = model.Session.execute(
        sa.update(table)
        .where(table.c.harvest_job_id == job_id, table.c.state == "WAITING")
        .values(state=IN_FLIGHT, fetch_started=_utcnow())
        .returning(table.c.id)
    ).scalars().all()
    model.Session.commit()
    return set(taken)


def fetch_and_import(harvester: Any, obj: HarvestObject) -> None:
    """Fetch and import one object already taken (:func:`claim`, :func:`mark_in_flight`); its final state
    (COMPLETE or ERROR) committed whatever happens. An exception of the harvester is recorded as an
    import error of the object, not raised: one record does not stop a job."""
    ours = _is_ours(harvester)
    # Read now: after a failed flush the object's attributes cannot be read until the rollback, and the
    # error handler below needs the id first (reading it there raised, leaving the object in FETCH).
    object_id = obj.id
    if ours:
        obj.fetch_started = _utcnow()
        obj.state = IN_FLIGHT
    try:
        if not ours:
            harvest_queue.fetch_and_import_stages(harvester, obj)
            return
        fetched = harvester.fetch_stage(obj)
        obj.fetch_finished = obj.import_started = _utcnow()
        if fetched is True:
            obj.state = IMPORTING
            imported = harvester.import_stage(obj)  # 2. commits with the dataset
        else:
            imported = "unchanged" if fetched == "unchanged" else False
    except Exception as error:  # noqa: BLE001 - recorded on the object, the job goes on
        log.exception("harvest object %s failed", object_id)
        model.Session.rollback()
        obj = model.Session.get(HarvestObject, object_id)
        model.Session.add(HarvestObjectError(message=str(error)[:1000] or type(error).__name__, object=obj,
                                             stage="Import"))
        imported = False
    _finish(obj, imported)  # 3.


def _finish(obj: HarvestObject, imported: bool | str) -> None:
    obj.import_finished = _utcnow()
    if imported == "unchanged":
        obj.state, obj.report_status = "COMPLETE", "not modified"
    elif imported:
        obj.state = "COMPLETE"
        if not obj.report_status:
            # Imported before a crash, delivered again: ckanext-harvest's own test.
            obj.report_status = _report_status(obj)
    else:
        obj.state, obj.report_status = "ERROR", "errored"
    obj.save()


def _report_status(obj: HarvestObject) -> str:
    if obj.current is False:
        return "deleted"
    same_package = (model.Session.query(HarvestObject.id)
                    .filter(HarvestObject.package_id == obj.package_id).limit(2).count())
    return "updated" if same_package == 2 else "added"


def claim(obj: HarvestObject) -> bool:
    """Take the object for this worker in one UPDATE (committed): state FETCH, delivery counted. Only a
    WAITING object can be taken, or one left in flight by a worker dead for longer than the stale delay
    (``ckanext.communes.harvest.stale_job_minutes``). ckanext-harvest's resubmission can send one object
    twice (it re-sends WAITING objects missing from the queue, and a worker has popped it but not yet
    written anything): the second delivery finds it taken, and two workers never import it together (two
    datasets for one remote record)."""
    now = _utcnow()
    stale_before = now - datetime.timedelta(minutes=stale_minutes())
    taken = (model.Session.query(HarvestObject)
             .filter(HarvestObject.id == obj.id,
                     sa.or_(HarvestObject.state == "WAITING",
                            sa.and_(HarvestObject.state.in_((IN_FLIGHT, IMPORTING)),
                                    sa.or_(HarvestObject.fetch_started.is_(None),
                                           HarvestObject.fetch_started < stale_before))))
             .update({"state": IN_FLIGHT, "fetch_started": now,
                      "retry_times": sa.func.coalesce(HarvestObject.retry_times, 0) + 1},
                     synchronize_session=False))
    model.Session.commit()
    model.Session.refresh(obj)
    return taken == 1


def fetch_callback(channel: Any, method: Any, header: Any, body: str) -> bool | None:
    """The fetch worker's callback: ckanext-harvest's ``fetch_callback`` (same message, same checks, same
    acknowledgement) with, for our harvesters, the object claimed (:func:`claim`) and :func:`fetch_and_import`;
    other harvesters' objects go to ckanext-harvest's own callback."""
    try:
        object_id = json.loads(body)["harvest_object_id"]
    except (ValueError, KeyError, TypeError):
        object_id = None
    if not isinstance(object_id, str) or not object_id:
        # Acknowledged: left protected, a malformed message would be resubmitted forever.
        log.error("fetch message without a harvest object id: %r", body[:200] if isinstance(body, str) else body)
        channel.basic_ack(method.delivery_tag)
        return False
    try:
        obj = HarvestObject.get(object_id)
    except sa.exc.DatabaseError:
        # A lost connection: not acknowledged, so resubmitted later.
        log.exception("database error while reading harvest object %s", object_id)
        model.Session.remove()
        return None
    if obj is None or obj.source is None:
        log.error("harvest object %s does not exist, or its source is gone", object_id)
        if obj is not None:
            obj.state, obj.report_status = "ERROR", "errored"
            obj.save()
        channel.basic_ack(method.delivery_tag)
        return False
    harvester = harvester_of(obj.source.type)
    if not _is_ours(harvester):
        model.Session.remove()
        return harvest_queue.fetch_callback(channel, method, header, body)
    if not claim(obj):
        log.info("harvest object %s skipped: already %s (delivered twice)", obj.id, obj.state)
        model.Session.remove()
        channel.basic_ack(method.delivery_tag)
        return False
    job = HarvestJob.get(obj.harvest_job_id)
    if obj.retry_times >= MAX_DELIVERIES or job is None or job.status == "Finished":
        log.error("harvest object %s set to error: %s", obj.id,
                  "delivered too many times" if obj.retry_times >= MAX_DELIVERIES else "its job is finished")
        obj.state, obj.report_status = "ERROR", "errored"
        obj.save()
    else:
        fetch_and_import(harvester, obj)
    model.Session.remove()
    channel.basic_ack(method.delivery_tag)
    return True
