"""Keep what datasets derive from their owner organisation in step with it.

The publisher of a dataset is derived from its owner commune when the dataset is saved (schema
validators) and stored with it; the commune facet (``vocab_commune``) is derived when it is indexed.
Two events change the owner side without saving the datasets:

- a dataset moves to another organisation (``package_owner_org_update`` writes the owner column only);
- a programme operator corrects an organisation's identity (official name, SIREN, INSEE code, kind,
  title, URL name or website).

After either, each affected dataset gets the derived publisher written back and is reindexed. That is a
derived value, not an edit: no activity, no new ``metadata_modified``. Up to
``ckanext.communes.owner_sync_inline_max`` datasets are done within the request; beyond, on CKAN's
background job queue (``ckan jobs worker``), so an operator's save never waits on a large commune.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import ckan.plugins.toolkit as tk
from ckan import model
from ckan.lib import search

from ckanext.communes.schema import owner

log = logging.getLogger(__name__)

INLINE_MAX_OPTION = "ckanext.communes.owner_sync_inline_max"
DEFAULT_INLINE_MAX = 50
# Organisation fields the datasets' publisher or commune facet are derived from.
DERIVED_FROM = ("name", "title", "insee_code", "siren", "official_name", "kind", "website")


def identity_of(org_id: str) -> tuple[str, ...] | None:
    """What the datasets of an organisation derive from it, comparable before and after an update."""
    profile = owner.owner_profile(org_id)
    if profile is None:
        return None
    return tuple(str(getattr(profile, name, "") or "") for name in DERIVED_FROM)


def _owned_dataset_ids(org_id: str) -> list[str]:
    rows = (
        model.Session.query(model.Package.id)
        .filter(model.Package.owner_org == org_id, model.Package.state != "deleted")
        .all()
    )
    return [row[0] for row in rows]


def _stored_publisher(package: model.Package) -> Any:
    try:
        return json.loads((package.extras or {}).get("publisher") or "[]")
    except ValueError:
        return None


def sync_datasets(package_ids: list[str]) -> int:
    """Write each dataset's derived publisher back where it differs and reindex every one of them.
    Returns how many publishers were rewritten. Safe to run twice (the job may be retried)."""
    rewritten = 0
    publishers: dict[str, list[dict[str, str]]] = {}
    for package_id in package_ids:
        package = model.Package.get(package_id)
        if package is None or package.state == "deleted" or not package.owner_org:
            continue
        if package.owner_org not in publishers:
            profile = owner.owner_profile(package.owner_org)
            publishers[package.owner_org] = [owner.publisher_for(profile)] if profile else []
        derived = publishers[package.owner_org]
        if derived and _stored_publisher(package) != derived:
            # Direct write of a derived value: package_update would add an activity and move
            # metadata_modified for a change the commune did not make.
            package.extras = {**(package.extras or {}), "publisher": json.dumps(derived)}
            rewritten += 1
    model.Session.commit()
    # Reindex every dataset, including those whose stored publisher was already right: the facet
    # follows the organisation's INSEE code or name, which the stored publisher does not show.
    for package_id in package_ids:
        if model.Package.get(package_id) is not None:
            search.rebuild(package_id, defer_commit=True)
    search.commit()
    return rewritten


def sync_organisation(org_id: str) -> int:
    """Background job body: every dataset of an organisation."""
    return sync_datasets(_owned_dataset_ids(org_id))


def inline_max() -> int:
    return tk.asint(tk.config.get(INLINE_MAX_OPTION, DEFAULT_INLINE_MAX))


def schedule_organisation_sync(org_id: str) -> str:
    """Sync now when the organisation has few datasets, else enqueue a job. Returns "inline" or "job"."""
    ids = _owned_dataset_ids(org_id)
    if len(ids) <= inline_max():
        sync_datasets(ids)
        return "inline"
    tk.enqueue_job(sync_organisation, [org_id], title=f"communes: sync the datasets of organisation {org_id}")
    log.info("Enqueued the sync of %d datasets of organisation %s", len(ids), org_id)
    return "job"


@tk.chained_action
def package_owner_org_update(next_action: Any, context: dict[str, Any], data_dict: dict[str, Any]) -> Any:
    package = model.Package.get(str(data_dict.get("id") or ""))
    owner_before = package.owner_org if package is not None else None
    result = next_action(context, data_dict)
    # package_create and package_update call this action too, with the owner they just saved: nothing
    # moved then, and the dataset is being indexed by them anyway.
    if package is not None and package.owner_org != owner_before and not context.get("defer_commit"):
        sync_datasets([package.id])
    return result



def _update_and_sync(next_action: Any, context: dict[str, Any], data_dict: dict[str, Any]) -> Any:
    """Run an organisation's (or group's) update; when it changed what its datasets derive from it
    (publisher, commune facet), bring them in step."""
    group = model.Group.get(str(data_dict.get("id") or ""))
    before = identity_of(group.id) if group is not None else None
    result = next_action(context, data_dict)
    if group is not None and not context.get("defer_commit") and identity_of(group.id) != before:
        schedule_organisation_sync(group.id)
    return result


@tk.chained_action
def organization_update(next_action: Any, context: dict[str, Any], data_dict: dict[str, Any]) -> Any:
    return _update_and_sync(next_action, context, data_dict)


@tk.chained_action
def group_update(next_action: Any, context: dict[str, Any], data_dict: dict[str, Any]) -> Any:
    return _update_and_sync(next_action, context, data_dict)


def get_actions() -> dict[str, Any]:
    return {"package_owner_org_update": package_owner_org_update, "organization_update": organization_update,
            "group_update": group_update}
