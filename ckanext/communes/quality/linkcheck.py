"""Link checking jobs: is each resource URL of a dataset reachable? In the background, spread over time,
re-run on a schedule.

A check of one URL is link_probe.py's, within the per-host limits of host_limiter.py; here the results
are stored per resource in ``communes_link_check`` (models.py) with a stable reason code, rows of
removed links dropped, and the search index refreshed when what the score reads changed
(``evidence.refresh``).

Jobs run on CKAN's queue (``ckan jobs worker``): a page view or a package_update never waits for a check.
After a save, the background checks (``background.py``) check the dataset's new or changed links
(:func:`check_changed_now`); the CLI (``ckan communes linkcheck``, cli.py) and the schedule queue
:func:`check_dataset_job` for the datasets :func:`due_dataset_ids` lists. Each result sets
``next_check_at``: ``recheck_days`` later for a working link, sooner for a broken one (doubling from
``retry_hours`` with each consecutive failure, capped at ``recheck_days``) so that a fixed link is seen
soon without hammering a dead host.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import ckan.plugins.toolkit as tk
from ckan import model

from ckanext.communes.quality import evidence, options, shacl
from ckanext.communes.quality.link_probe import Outcome, check_urls
from ckanext.communes.quality.models import LinkCheck

log = logging.getLogger(__name__)


def _now() -> dt.datetime:
    return dt.datetime.utcnow()


def next_check_after(row: LinkCheck, now: dt.datetime) -> dt.datetime:
    recheck = dt.timedelta(days=options.linkcheck_option("recheck_days"))
    if not row.error:
        return now + recheck
    backoff = (dt.timedelta(hours=options.linkcheck_option("retry_hours"))
               * (2 ** max(0, (row.consecutive_failures or 1) - 1)))
    return now + min(backoff, recheck)


def store(package_id: str, resource_id: str, url: str, outcome: Outcome, now: dt.datetime | None = None) -> bool:
    """Save one result (not committed); True when what the score reads changed (first check, URL changed,
    ok flipped)."""
    now = now or _now()
    row = model.Session.get(LinkCheck, resource_id)
    changed = row is None or row.url != url or (row.error is None) != outcome.ok or row.checked_at is None
    if row is None:
        row = LinkCheck(resource_id=resource_id, package_id=package_id, url=url, consecutive_failures=0)
        model.Session.add(row)
    elif row.url != url:  # another link: its history starts again
        row.url, row.failing_since, row.consecutive_failures = url, None, 0
    row.package_id = package_id
    row.status, row.final_url, row.media_type, row.size = (
        outcome.status, outcome.final_url, outcome.media_type, outcome.size)
    row.checked_at = now
    if outcome.ok:
        row.error, row.failing_since, row.consecutive_failures = None, None, 0
    else:
        row.error = outcome.error or "unknown"
        row.failing_since = row.failing_since or now
        row.consecutive_failures = (row.consecutive_failures or 0) + 1
    row.next_check_at = next_check_after(row, now)
    return changed


def _package(package_id: str) -> dict[str, Any] | None:
    """The dataset as package_show gives it; None when it is gone or deleted."""
    try:
        package = tk.get_action("package_show")({"ignore_auth": True}, {"id": package_id})
    except tk.ObjectNotFound:
        return None
    return None if package.get("state") == "deleted" else package


def _resources(package_id: str) -> list[dict[str, Any]]:
    return (_package(package_id) or {}).get("resources") or []


def check_dataset_now(package_id: str, resource_ids: list[str] | None = None) -> None:
    """Check the dataset's resource links (all, or those listed) now, store the results, drop the rows of
    resources that are gone, read the dataset's MQA facts again, and refresh the quality score when a result
    changed."""
    package = _package(package_id)
    resources = (package or {}).get("resources") or []
    changed = _check(package_id, resources, resource_ids)
    if package is not None and to_check(resources, resource_ids):
        # The dataset's RDF writes what the link checker measured (a download URL only for a link that is a file,
        # not a web page; a byte size): a scheduled re-check changes the MQA's facts without anyone saving.
        shacl.refresh_mqa_facts(package)
        model.Session.commit()
    if changed:
        evidence.refresh(package_id)


def changed_links(package_id: str, resources: list[dict[str, Any]]) -> list[str] | None:
    """The ids of the dataset's links that are new or changed since their last check; None when there is
    nothing to do at all (no such link, no row of a removed link to drop)."""
    known = dict(model.Session.query(LinkCheck.resource_id, LinkCheck.url)
                 .filter(LinkCheck.package_id == package_id).all())
    checkable = [r for r in resources if evidence.checkable(r)]
    changed = [r["id"] for r in checkable if known.get(r["id"]) != r["url"].strip()]
    removed = set(known) - {r["id"] for r in checkable}
    return changed if changed or removed else None


def check_changed_now(package_id: str) -> int:
    """After a save: check the links that are new or changed since their last check (the others keep
    their schedule), drop the rows of removed links. Returns how many links were checked."""
    resources = _resources(package_id)
    changed = changed_links(package_id, resources)
    if changed is None:
        return 0
    if _check(package_id, resources, changed):
        evidence.refresh(package_id)
    return len(changed)


def to_check(resources: list[dict[str, Any]], resource_ids: list[str] | None) -> list[dict[str, Any]]:
    return [r for r in resources if evidence.checkable(r) and (resource_ids is None or r["id"] in resource_ids)]


def store_outcomes(package_id: str, resources: list[dict[str, Any]], resource_ids: list[str] | None,
                   outcomes: dict[str, Outcome], now: dt.datetime | None = None) -> bool:
    """Store the outcomes of the dataset's links (all, or those listed) and drop the rows of resources gone
    or no longer checked; not committed. True when what the score reads changed."""
    now = now or _now()
    changed = False
    for resource in to_check(resources, resource_ids):
        url = resource["url"].strip()
        changed |= store(package_id, resource["id"], url, outcomes[url], now)
    kept = {r["id"] for r in resources if evidence.checkable(r)}
    for row in model.Session.query(LinkCheck).filter(LinkCheck.package_id == package_id):
        if row.resource_id not in kept:
            model.Session.delete(row)
            changed = True
    return changed


def _check(package_id: str, resources: list[dict[str, Any]], resource_ids: list[str] | None) -> bool:
    outcomes = check_urls([r["url"].strip() for r in to_check(resources, resource_ids)])
    changed = store_outcomes(package_id, resources, resource_ids, outcomes)
    model.Session.commit()
    return changed


def check_dataset_job(package_id: str, resource_ids: list[str] | None = None) -> None:
    """The background job (``ckan jobs worker``)."""
    check_dataset_now(package_id, resource_ids)


def enqueue_dataset(package_id: str, resource_ids: list[str] | None = None) -> int:
    """Schedule a check of the dataset's links (all, or those listed) on CKAN's queue; how many links."""
    resources = to_check(_resources(package_id), resource_ids)
    # Nothing to check, but rows of removed links may be left: the job cleans them.
    if not resources and resource_ids is None and not (
            model.Session.query(LinkCheck.resource_id).filter(LinkCheck.package_id == package_id).first()):
        return 0
    ids = None if resource_ids is None else [r["id"] for r in resources]
    if ids == []:
        return 0
    tk.enqueue_job(check_dataset_job, [package_id, ids], title=f"communes: link check of dataset {package_id}")
    return len(resources)


def due_dataset_ids(now: dt.datetime | None = None) -> list[str]:
    """Datasets with a link whose next check is due, or never checked."""
    now = now or _now()
    due = {row[0] for row in model.Session.query(LinkCheck.package_id).filter(LinkCheck.next_check_at <= now)}
    checked = {row[0] for row in model.Session.query(LinkCheck.resource_id)}
    never = (model.Session.query(model.Resource.package_id, model.Resource.id, model.Resource.url_type)
             .join(model.Package, model.Package.id == model.Resource.package_id)
             .filter(model.Resource.state == "active", model.Package.state == "active",
                     model.Resource.url != ""))
    due |= {pid for pid, rid, url_type in never if rid not in checked and url_type != "upload"}
    return sorted(due)
