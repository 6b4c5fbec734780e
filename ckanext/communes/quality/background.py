"""The quality checks of saved datasets, in batches on CKAN's queue (issue #20).

A save (package_create, package_update, a harvest) marks the dataset as waiting for its checks: one row
of ``communes_quality_pending`` (models.PendingCheck) written in the save's own transaction, so that a
rollback leaves nothing; when the transaction commits, a drain job is queued unless one already waits on
that queue. Two RQ queues, which ``ckan jobs worker`` listens to in this order (dev/run.sh, docker/):

- ``communes_quality`` for a commune editor's own save (a web request, the form or the API, not a
  harvest);
- ``communes_quality_bulk`` for the rest (harvests, jobs, commands).

A drain job takes the waiting datasets in batches of ``ckanext.communes.quality.batch_size``, an editor's
saves first, then the oldest, until none is left or ``ckanext.communes.quality.batch_seconds`` have
passed (it then queues its follow-up): an editor's save waits at most for the batch in hand, and the CKAN
environment is loaded once per job, not per dataset. A drain that starts with more than a batch waiting on its
queue queues one more drain there (at most one waits), so that a backlog is shared by every worker of that
queue (``make run`` and docker/ start a second worker on the bulk queue only). For each batch:

1. claim the rows (``FOR UPDATE SKIP LOCKED``: two workers never take the same dataset);
2. read each dataset once (its dict for the checks and for the index) and check it as it is now: the
   DCAT-AP 3 SHACL check (shacl.py: the batch's graphs validated as one, a dataset re-checked alone when
   that could differ from its own result), its new or changed links (linkcheck.py; the batch's links in
   one pool, within the per-host limits, while SHACL runs), SCDL validations queued for its changed CSV
   resources (scdl.py, one job per file, on the same queue);
3. store each dataset's results and mark its row ``checked`` in one transaction;
4. reindex the datasets whose results changed, from what was read in 2 (their score computed again),
   with one Solr commit, then delete the rows.

A worker killed mid-batch leaves its rows claimed: the job is retried (RQ's ``Retry``, once the dead
worker's heartbeat has expired) and takes them back, or any drain does once the claim is older than
``CLAIM_SECONDS``. Rows already ``checked`` are only reindexed, so no dataset is checked twice, and what
is stored is the same whoever stores it. A dataset saved again while its batch runs is released and
checked again on its new version.

``ckanext.communes.quality`` pages read :func:`waiting_count` (« 1 204 jeux en attente de
vérification »).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import ckan.plugins.toolkit as tk
import sqlalchemy as sa
from ckan import model
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, SessionTransaction

from ckanext.communes.quality import evidence, linkcheck, scdl, score, shacl
from ckanext.communes.quality.link_probe import check_urls
from ckanext.communes.quality.models import PendingCheck

log = logging.getLogger(__name__)

PRIORITY_QUEUE = "communes_quality"  # a commune editor's own save
BULK_QUEUE = "communes_quality_bulk"  # harvests and everything else
QUEUES = (PRIORITY_QUEUE, BULK_QUEUE)
JOB_TITLE = "communes: quality checks of the datasets waiting ({queue})"
BATCH_SIZE_OPTION = "ckanext.communes.quality.batch_size"
BATCH_SECONDS_OPTION = "ckanext.communes.quality.batch_seconds"
DEFAULT_BATCH_SIZE = 25
DEFAULT_BATCH_SECONDS = 60
# A claim older than this is a dead worker's: any drain takes the rows back. Longer than any batch (a
# batch's links on one slow host: 25 datasets x 3 links x per_host_interval, each check capped at 20 s).
CLAIM_SECONDS = 600
# The RQ job's own timeout: a drain stops starting batches after batch_seconds, well within it.
JOB_TIMEOUT = CLAIM_SECONDS
JOB_RETRIES = 3
# Redis key holding the id of the drain job that waits on a queue (not started): a commit queues another
# only when that job is no longer waiting (started, or lost: a queue emptied by hand). Two commits racing
# may queue two: a drain that finds nothing to do ends at once.
_WAITING_KEY = "communes:quality:drain-waiting:{site}:{queue}"
# Session.info key: the queues to kick when the current transaction commits.
_TO_KICK = "communes_quality_kick"


def batch_size() -> int:
    return max(1, tk.asint(tk.config.get(BATCH_SIZE_OPTION) or DEFAULT_BATCH_SIZE))


def batch_seconds() -> float:
    return max(0.0, float(tk.config.get(BATCH_SECONDS_OPTION) or DEFAULT_BATCH_SECONDS))


# ------------------------------------------------------------------------------------------ the save


_MARK = sa.text(
    "INSERT INTO communes_quality_pending (package_id, priority, queued_at, checked) "
    "VALUES (:id, :priority, clock_timestamp() AT TIME ZONE 'UTC', false) "
    "ON CONFLICT (package_id) DO UPDATE SET queued_at = excluded.queued_at, checked = false, "
    "priority = communes_quality_pending.priority OR excluded.priority, claimed_by = NULL, claimed_at = NULL")


def after_dataset_change(package_id: str, priority: bool = False) -> None:
    """The dataset waits for its checks (a row written in the save's transaction); its queue is kicked
    when the transaction commits, never if it rolls back. ``priority``: a commune editor's own save."""
    session = model.Session()
    if not session.in_transaction():  # so that a rollback, even before any query, ends it and drops the kick
        session.begin()
    session.execute(_MARK, {"id": package_id, "priority": priority})
    queues: dict[str, None] = session.info.setdefault(_TO_KICK, {})
    queues[PRIORITY_QUEUE if priority else BULK_QUEUE] = None
    if not sa_event.contains(Session, "after_commit", _kick_after_commit):
        sa_event.listen(Session, "after_commit", _kick_after_commit)
        sa_event.listen(Session, "after_transaction_end", _drop_kicks)


def _kick_after_commit(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint released: the outer transaction may still roll back
        return
    for queue in session.info.pop(_TO_KICK, None) or {}:
        try:
            kick(queue)
        except Exception:  # noqa: BLE001 - no queue (Redis down): the save stands, its row waits for the
            # next drain (any later save, or `ckan communes quality drain`).
            log.exception("Could not queue the quality checks (%s)", queue)


def _drop_kicks(session: Session, transaction: SessionTransaction) -> None:
    """The outermost transaction ended without a commit (a commit has already kicked them)."""
    if transaction.parent is None:
        session.info.pop(_TO_KICK, None)


def _waiting_key(queue: str) -> str:
    return _WAITING_KEY.format(site=tk.config.get("ckan.site_id") or "", queue=queue)


def kick(queue: str = BULK_QUEUE) -> Any:
    """Queue a drain job on ``queue`` unless one already waits there (it will see what was just committed:
    a drain forgets the waiting mark before it reads the rows). Returns the job, None when one waits."""
    from ckan.lib.redis import connect_to_redis
    from rq.exceptions import NoSuchJobError
    from rq.job import Job, JobStatus

    redis = connect_to_redis()
    waiting = redis.get(_waiting_key(queue))
    if waiting:
        try:
            if Job.fetch(waiting.decode(), connection=redis).get_status() == JobStatus.QUEUED:
                return None
        except NoSuchJobError:
            pass
    job = enqueue_drain(queue)
    redis.set(_waiting_key(queue), job.id, ex=CLAIM_SECONDS)
    return job


def enqueue_drain(queue: str = BULK_QUEUE) -> Any:
    from rq import Retry

    return tk.enqueue_job(drain_job, [queue], title=JOB_TITLE.format(queue=queue), queue=queue,
                          rq_kwargs={"timeout": JOB_TIMEOUT, "retry": Retry(max=JOB_RETRIES)})


# ------------------------------------------------------------------------------------------ the drain


@dataclass
class Claimed:
    package_id: str
    queued_at: dt.datetime
    checked: bool  # its results were stored by a drain that did not finish: only reindexed


_CLAIM = sa.text(
    "UPDATE communes_quality_pending SET claimed_by = :token, claimed_at = :now "
    "WHERE package_id IN (SELECT package_id FROM communes_quality_pending "
    "  WHERE (claimed_by IS NULL OR claimed_by = :token OR claimed_at < :expired) "
    "  AND NOT (package_id = ANY(:skipped)) "
    "  ORDER BY priority DESC, queued_at LIMIT :size FOR UPDATE SKIP LOCKED) "
    "RETURNING package_id, queued_at, checked")


def _claim(token: str, size: int, skipped: list[str]) -> list[Claimed]:
    now = dt.datetime.utcnow()
    rows = model.Session.execute(_CLAIM, {
        "token": token, "now": now, "expired": now - dt.timedelta(seconds=CLAIM_SECONDS),
        "skipped": skipped, "size": size}).fetchall()
    model.Session.commit()
    return sorted((Claimed(*row) for row in rows), key=lambda c: c.queued_at)


def _token() -> str:
    """The claim's owner: the RQ job (a retried job takes its own rows back), else this call."""
    from rq import get_current_job

    job = get_current_job()
    return f"job:{job.id}" if job is not None else f"call:{uuid.uuid4()}"


def drain_job(queue: str = BULK_QUEUE) -> int:
    """The job: drain what waits, batch by batch, within ``batch_seconds``; queue a follow-up when some is
    left. Ends in error (RQ's failed registry) when a check failed for a dataset (logged with it)."""
    from ckan.lib.redis import connect_to_redis

    try:
        connect_to_redis().delete(_waiting_key(queue))  # from now on a commit queues the next drain
    except Exception:  # noqa: BLE001 - Redis gone: this drain still runs
        log.warning("Could not clear the waiting mark of %s", queue)
    _fan_out(queue)
    checked, failed, left = drain(seconds=batch_seconds())
    if left:
        kick(queue)
    if failed:
        raise RuntimeError(f"quality checks failed for dataset(s) {', '.join(sorted(failed))}")
    return checked


def _fan_out(queue: str) -> None:
    """More than one batch waits on ``queue`` (a harvest's backlog): queue one more drain there (``kick``:
    at most one waits), so that every free worker of that queue takes batches, this one included once it is
    done; a starting drain does the same, as long as more than a batch waits. The claims (``FOR UPDATE SKIP
    LOCKED``) keep two drains from taking the same dataset. With a single worker this is harmless: the
    extra drain runs after this one and finds the rest, or nothing and ends at once."""
    try:
        if _more_than_a_batch_waits(queue):
            kick(queue)
    except Exception:  # noqa: BLE001 - Redis or the database gone: this drain still runs, alone
        model.Session.rollback()
        log.warning("Could not queue a second drain on %s", queue, exc_info=True)


_WAITING_UNCLAIMED = sa.text(
    "SELECT count(*) FROM (SELECT 1 FROM communes_quality_pending "
    "  WHERE (claimed_by IS NULL OR claimed_at < :expired) AND (priority OR NOT :priority_only) LIMIT :limit) w")


def _more_than_a_batch_waits(queue: str) -> bool:
    """More than a batch of datasets no drain has in hand: for the editors' queue, of editors' saves
    (its drains take them first), for the bulk queue, of any."""
    expired = dt.datetime.utcnow() - dt.timedelta(seconds=CLAIM_SECONDS)
    size = batch_size()
    count = model.Session.execute(_WAITING_UNCLAIMED, {
        "expired": expired, "priority_only": queue == PRIORITY_QUEUE, "limit": size + 1}).scalar()
    model.Session.commit()
    return int(count or 0) > size


def drain(seconds: float | None = None, size: int | None = None, token: str | None = None
          ) -> tuple[int, set[str], bool]:
    """Check the waiting datasets now, batch by batch, until none is left or ``seconds`` have passed.
    Returns (datasets checked, datasets whose check failed, whether some are left)."""
    token = token or _token()
    size = size or batch_size()
    started = time.monotonic()
    done = 0
    failed: set[str] = set()
    while True:
        batch = _claim(token, size, sorted(failed))
        if not batch:
            return done, failed, False
        done += len(batch)
        failed |= check_batch(batch, token)
        if seconds is not None and time.monotonic() - started >= seconds:
            left = model.Session.query(PendingCheck.package_id).filter(
                ~PendingCheck.package_id.in_(failed) if failed else sa.true()).first() is not None
            return done, failed, left


# A dataset as read once per batch: (its dict with CKAN's default show schema, with ours), what the index
# takes (logic.package_show_default_and_custom_schemas); the second is what package_show returns.
Read = tuple[dict[str, Any], dict[str, Any]]


def _read(package_id: str) -> Read | None:
    """The dataset as it is now, read once for its checks and its reindex; None when it is gone or deleted
    (its link rows are then dropped)."""
    from ckan import logic

    try:
        both = logic.package_show_default_and_custom_schemas({"ignore_auth": True}, package_id)
    except tk.ObjectNotFound:
        return None
    return None if both[1].get("state") == "deleted" else both


def check_batch(batch: list[Claimed], token: str) -> set[str]:
    """Check, store and reindex one claimed batch; returns the ids whose check failed."""
    failed: set[str] = set()
    reindex = [c.package_id for c in batch if c.checked]  # checked by a killed worker: only reindexed
    todo = [c for c in batch if not c.checked]
    read: dict[str, Read | None] = {}
    for claimed in todo:
        try:
            read[claimed.package_id] = _read(claimed.package_id)
        except Exception:  # noqa: BLE001 - one dataset that cannot be read does not stop the batch
            log.exception("quality checks: dataset %s could not be read", claimed.package_id)
            model.Session.rollback()
            failed.add(claimed.package_id)
            read[claimed.package_id] = None
    model.Session.commit()  # the reads: nothing held while the links are checked
    shown = {package_id: both[1] for package_id, both in read.items() if both is not None}

    # The batch's links in one pool (per-host limits across the batch and across workers).
    links: dict[str, tuple[list[dict[str, Any]], list[str] | None]] = {}
    for claimed in todo:
        pkg = shown.get(claimed.package_id)
        resources = (pkg.get("resources") or []) if pkg else []
        links[claimed.package_id] = (resources, linkcheck.changed_links(claimed.package_id, resources))
    urls = [r["url"].strip() for resources, changed in links.values() if changed is not None
            for r in linkcheck.to_check(resources, changed)]
    # The link checks mostly wait (for the servers, for the per-host intervals) while SHACL computes: both
    # at once.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="linkcheck-batch") as pool:
        checking = pool.submit(check_urls, urls) if urls else None
        shacl_results = shacl.validate_batch(list(shown.values()))
        outcomes = checking.result() if checking is not None else {}

    now = dt.datetime.utcnow()
    for claimed in todo:
        package_id = claimed.package_id
        changed, broken = _check_one(package_id, shacl_results.get(package_id), links[package_id], outcomes, now)
        if links[package_id][1] and package_id in shown:
            # Links checked in this batch: the profile now writes what they measured (MQA facts read again).
            try:
                shacl.refresh_mqa_facts(shown[package_id])
            except Exception:  # noqa: BLE001 - the facts of the SHACL check's graph stay
                log.exception("MQA facts of %s could not be read again", package_id)
        if broken:
            failed.add(package_id)
        model.Session.execute(sa.text(
            "UPDATE communes_quality_pending SET checked = true "
            "WHERE package_id = :id AND queued_at = :queued_at AND claimed_by = :token"),
            {"id": package_id, "queued_at": claimed.queued_at, "token": token})
        model.Session.commit()  # the dataset's results and its row, together
        if changed:
            reindex.append(package_id)

    _reindex(reindex, read)
    model.Session.execute(sa.text(
        "DELETE FROM communes_quality_pending WHERE package_id = ANY(:ids) AND checked AND claimed_by = :token"),
        {"ids": [c.package_id for c in batch], "token": token})
    model.Session.commit()
    return failed


def _check_one(package_id: str, shacl_result: shacl.ShaclResult | Exception | None,
               links: tuple[list[dict[str, Any]], list[str] | None], outcomes: dict[str, Any],
               now: dt.datetime) -> tuple[bool, bool]:
    """Store one dataset's results, each on its own so that one failing does not stop the others (the
    failure is logged; the dataset is not checked again until its next save or the scheduled runs); queue
    its SCDL validations. Not committed. ``shacl_result`` None: the dataset is gone. Returns (what the score
    reads changed, a check failed)."""
    changed, broken = False, False
    if isinstance(shacl_result, Exception):
        log.error("quality.shacl failed for dataset %s", package_id, exc_info=shacl_result)
        broken = True
    elif shacl_result is not None:
        try:
            changed |= shacl.store_result(package_id, shacl_result, now)
        except Exception:  # noqa: BLE001 - logged with its traceback, the job fails at the end
            log.exception("quality.shacl failed for dataset %s", package_id)
            broken = True
    resources, changed_ids = links
    if changed_ids is not None:
        try:
            changed |= linkcheck.store_outcomes(package_id, resources, changed_ids, outcomes, now)
        except Exception:  # noqa: BLE001
            log.exception("quality.linkcheck failed for dataset %s", package_id)
            broken = True
    try:
        with model.Session.begin_nested():
            scdl.enqueue_changed(package_id, commit=False)
    except Exception:  # noqa: BLE001
        log.exception("quality.scdl failed for dataset %s", package_id)
        broken = True
    return changed, broken


def _reindex(package_ids: list[str], read: dict[str, Read | None] | None = None) -> None:
    """One Solr batch update and one commit for the batch. A dataset read for its checks and not saved since
    is indexed from that read, its score computed again from the results just stored; any other is read
    again (a save during the batch, a batch taken back from a killed worker)."""
    if not package_ids:
        return
    from ckan import logic
    from ckan.lib import search

    evidence.clear_cache()
    read = read or {}
    ids = list(dict.fromkeys(package_ids))
    modified = dict(model.Session.execute(
        sa.text("SELECT id, metadata_modified FROM package WHERE id = ANY(:ids)"), {"ids": ids}).fetchall())
    for package_id in ids:
        both = read.get(package_id)
        try:
            if both is not None and modified.get(package_id) is not None and (
                    modified[package_id].isoformat() == both[1].get("metadata_modified")):
                both[1]["quality"] = score.quality_of(both[1])
                logic.index_update_package_dicts(both, True)
            else:
                logic.index_update_package({"ignore_auth": True}, package_id, True)
        except tk.ObjectNotFound:
            continue
        except Exception:  # noqa: BLE001 - the result is kept, the next change reindexes
            log.exception("Reindexing %s after its quality checks failed", package_id)
    search.commit()
    model.Session.commit()


# ------------------------------------------------------------------------------------------ progress


def waiting_count(package_ids: Any = None) -> int:
    """How many datasets wait for their checks (all, or among ``package_ids``: a query of ids)."""
    query = model.Session.query(sa.func.count(PendingCheck.package_id))
    if package_ids is not None:
        query = query.filter(PendingCheck.package_id.in_(package_ids))
    return int(query.scalar() or 0)


def waiting_count_for_harvest_job(job_id: str) -> int:
    """How many datasets a harvest job saved still wait for their checks."""
    from ckanext.harvest.model import HarvestObject

    return waiting_count(sa.select(HarvestObject.package_id).where(
        HarvestObject.harvest_job_id == job_id, HarvestObject.package_id.isnot(None)))


def check_dataset_job(package_id: str) -> None:
    """The job one save queued before the checks went in batches: a job left in the queue by the version
    before marks its dataset as waiting (a bulk drain checks it)."""
    after_dataset_change(package_id)
    model.Session.commit()
