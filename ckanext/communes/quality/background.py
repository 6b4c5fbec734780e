"""The quality checks of a saved dataset, in one background job.

A save (package_create, package_update, a harvest) queues ONE job per dataset on CKAN's queue (RQ on
Redis, ``ckan jobs worker``) when its transaction commits, never if it rolls back: a worker must find
what was saved. The save itself reads no table and talks to Redis once; everything else happens in the
worker, on the dataset as it is when the job runs:

1. the DCAT-AP 3 SHACL check (``shacl.check_dataset``);
2. SCDL: the CSV resources whose URL, file or declared schema changed since their last validation are
   queued, one job per resource so that a big file delays nobody else; results of resources no longer
   concerned are dropped (``scdl.enqueue_changed``);
3. the links that are new or changed since their last check are checked, rows of removed links dropped
   (``linkcheck.check_changed_now``).

Each step that changes a result reindexes the dataset (``evidence.refresh``). Several saves of one dataset
in one transaction queue one job.
"""

from __future__ import annotations

import logging
from typing import Any

import ckan.plugins.toolkit as tk
from ckan import model
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, SessionTransaction

log = logging.getLogger(__name__)

JOB_TITLE = "communes: quality checks of dataset {}"
# Session.info key: the datasets saved in the current transaction, whose job is queued at commit.
_PENDING = "communes_quality_pending"


def after_dataset_change(package_id: str) -> None:
    """Queue the dataset's job when the current transaction commits. No query, no Redis call now."""
    session = model.Session()
    if not session.in_transaction():  # so that a rollback, even before any query, ends it and drops the job
        session.begin()
    pending: dict[str, None] = session.info.setdefault(_PENDING, {})  # a dict keeps the order
    pending[package_id] = None
    if not sa_event.contains(Session, "after_commit", _flush_pending):
        sa_event.listen(Session, "after_commit", _flush_pending)
        sa_event.listen(Session, "after_transaction_end", _drop_pending)


def _flush_pending(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint released: the outer transaction may still roll back
        return
    for package_id in session.info.pop(_PENDING, None) or {}:
        try:
            enqueue(package_id)
        except Exception:  # noqa: BLE001 - no queue (Redis down): the save stands; the next change or the
            # scheduled runs (`ckan communes linkcheck --due`, `quality recompute --shacl`) catch up.
            log.exception("Could not queue the quality checks of dataset %s", package_id)


def _drop_pending(session: Session, transaction: SessionTransaction) -> None:
    """The outermost transaction ended without a commit (a commit has already flushed them)."""
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


def enqueue(package_id: str) -> Any:
    """Queue the dataset's job now (saves go through after_dataset_change).

    What ``tk.enqueue_job`` does (CKAN's default queue, ``ckan.jobs.timeout``, the title in the job's meta,
    as ``ckan jobs list`` shows it), in one Redis round trip instead of two: it saves the job a second time
    to add the title, here the title goes in with the job. This runs during every save."""
    from ckan.lib import jobs

    title = JOB_TITLE.format(package_id)
    job = jobs.get_queue().enqueue_call(func=check_dataset_job, args=[package_id],
                                        timeout=tk.config.get("ckan.jobs.timeout"), meta={"title": title})
    log.info('Added background job %s ("%s")', job.id, title)
    return job


def check_dataset_job(package_id: str) -> None:
    """The job: SHACL, SCDL, links, each on its own so that one failing does not stop the others; the
    job still ends in error (RQ's failed registry) when one failed."""
    from ckanext.communes.quality import linkcheck, scdl, shacl

    failed = []
    for name, step in (("shacl", shacl.check_dataset), ("scdl", scdl.enqueue_changed),
                       ("linkcheck", linkcheck.check_changed_now)):
        try:
            step(package_id)
        except Exception:  # noqa: BLE001 - logged with its traceback, re-raised below
            log.exception("quality.%s failed for dataset %s", name, package_id)
            model.Session.rollback()
            failed.append(name)
    if failed:
        raise RuntimeError(f"quality checks {', '.join(failed)} failed for dataset {package_id}")
