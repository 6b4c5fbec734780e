"""The scheduled work itself, through quality's public entry points only (what `ckan communes linkcheck --due`
and `ckan communes quality recompute` do), each judged at the schedule's clock.

Each task takes the time of its run (naive UTC) and returns its counts, which the page words."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from ckanext.communes.schedule import store

log = logging.getLogger(__name__)

LINKCHECK = "linkcheck"
RECOMPUTE = "recompute"
DEFAULT_RETRY_HOURS = 6


def _queued_key(package_id: str) -> str:
    return f"{store.prefix()}:{LINKCHECK}:queued:{package_id}"


def _queued_ttl() -> int:
    """Seconds a dataset queued by the schedule is not queued again while its job may still wait (a queue
    behind a large harvest): the link checker's first retry of a broken link, so that a retry is never held
    back (its job ran after the queueing, so its next check falls after this expires)."""
    from ckanext.communes.quality import options

    try:
        hours = float(options.linkcheck_option("retry_hours"))
    except (KeyError, TypeError, ValueError):
        hours = DEFAULT_RETRY_HOURS
    return max(60, int(hours * 3600))


def recheck_due_links(now: dt.datetime) -> dict[str, int]:
    """`linkcheck --due`: queue a link check (CKAN's jobs worker, with its per-host limits) of each dataset
    with a link due at ``now`` (a working link 7 days after its check, a broken one with back-off, a link
    never checked). A dataset queued by an earlier round whose job has not run yet is not queued twice."""
    from ckanext.communes.quality import linkcheck

    client = store.redis_client()
    ttl = _queued_ttl()
    counts = {"datasets": 0, "links": 0, "waiting": 0}
    for package_id in linkcheck.due_dataset_ids(now):
        key = _queued_key(package_id)
        if not client.set(key, now.strftime(store.ISO), nx=True, ex=ttl):
            counts["waiting"] += 1
            continue
        try:
            counts["links"] += linkcheck.enqueue_dataset(package_id)
        except Exception:
            client.delete(key)  # not queued: due again at the next round
            raise
        counts["datasets"] += 1
    return counts


def recompute_scores(now: dt.datetime) -> dict[str, int]:
    """`quality recompute`: every dataset's score judged at ``now`` (a dataset past its frequency's deadline
    becomes late without anyone saving it) and reindexed."""
    from ckanext.communes.quality import cli as quality_cli
    from ckanext.communes.quality import score

    count = len(quality_cli.dataset_ids(None))
    with score.judged_at(now):
        quality_cli.recompute.callback(commune=None, shacl=False)
    return {"datasets": count}


def describe(task: str, counts: dict[str, Any]) -> str:
    """What a run did, in the reader's language."""
    from ckanext.communes.translation import french_number, ngettext

    datasets = int(counts.get("datasets") or 0)
    if task == LINKCHECK:
        text = ngettext("{datasets} dataset queued for a link check ({links} links)",
                        "{datasets} datasets queued for a link check ({links} links)", datasets).format(
            datasets=french_number(datasets), links=french_number(int(counts.get("links") or 0)))
        waiting = int(counts.get("waiting") or 0)
        if waiting:
            text += " " + ngettext("; {count} still waiting in the queue from an earlier round",
                                   "; {count} still waiting in the queue from an earlier round", waiting).format(
                count=french_number(waiting))
        return text
    return ngettext("{datasets} dataset recomputed", "{datasets} datasets recomputed", datasets).format(
        datasets=french_number(datasets))
