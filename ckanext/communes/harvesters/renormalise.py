"""``ckan communes licences renormalise``: datasets stored with a licence id that is no registry id (the
source's raw text, which versions before issue #22 stored), and those under « licence non reconnue » whose
source text was kept, recognised again with today's normaliser, its source type's convention and the
operators' aliases.

Dry run by default (the report of what would change, nothing written); ``--apply`` writes. Writes go through
``package_patch`` (as the site user, with the harvest context flag: a harvested value being re-read, not an
editor's choice the licence policy would judge), not a direct SQL update: the schema's validators then recompute
``licence_compliance`` (a stored field), the dataset is reindexed (the bilan's licence counts are read from
the index, and its cache follows each reindex), the quality score is recomputed, and the change is in the
dataset's activity stream. Idempotent: a dataset whose licence would stay the same is not written, so a second
run changes nothing.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any

import ckan.plugins.toolkit as tk
import sqlalchemy as sa
from ckan import model

from ckanext.communes.licences.policy import HARVEST_CONTEXT_FLAG
from ckanext.communes.licences.recognise import convention_of, stored_licence_id
from ckanext.communes.licences.registry import UNRECOGNISED_ID, all_licences
from ckanext.harvest.model import HarvestObject, HarvestSource

log = logging.getLogger(__name__)

UNMAPPED_FIELD = "harvest_unmapped"
LICENCE_KEY = "license_id"


@dataclass(frozen=True)
class Change:
    package_id: str
    name: str
    text: str  # what is re-read: the stored raw id, or the source text kept for « licence non reconnue »
    old: str
    new: str


def _source_types() -> dict[str, str]:
    """package id -> the type of the harvest source its current harvest object comes from."""
    rows = (model.Session.query(HarvestObject.package_id, HarvestSource.type)
            .join(HarvestSource, HarvestSource.id == HarvestObject.harvest_source_id)
            .filter(HarvestObject.current.is_(True), HarvestObject.package_id.isnot(None)).all())
    return {package_id: source_type for package_id, source_type in rows}


def _kept_text(extras: dict[str, str] | None) -> str | None:
    try:
        unmapped = json.loads((extras or {}).get(UNMAPPED_FIELD) or "{}")
    except ValueError:
        return None
    texts = unmapped.get(LICENCE_KEY) if isinstance(unmapped, dict) else None
    return texts[0] if isinstance(texts, list) and texts and isinstance(texts[0], str) else None


def plan() -> list[Change]:
    """What a run would change, dataset by dataset (deleted datasets left alone)."""
    registry_ids = [licence.id for licence in all_licences()]
    rows = (model.Session.query(model.Package.id, model.Package.name, model.Package.license_id, model.Package.extras)
            .filter(model.Package.type == "dataset", model.Package.state != "deleted",
                    model.Package.license_id.isnot(None), model.Package.license_id != "",
                    sa.or_(model.Package.license_id.notin_(registry_ids), model.Package.license_id == UNRECOGNISED_ID))
            .order_by(model.Package.name).all())
    source_types = _source_types() if rows else {}
    changes = []
    for package_id, name, license_id, extras in rows:
        text = _kept_text(extras) if license_id == UNRECOGNISED_ID else license_id
        if not text:
            continue
        new, _ = stored_licence_id(text, convention_of(source_types.get(package_id)))
        if new and new != license_id:  # a raw id always changes (to a licence or to UNRECOGNISED_ID)
            changes.append(Change(package_id, name, text, license_id, new))
    return changes


def _unmapped_after(extras: dict[str, str] | None, change: Change) -> str | None:
    """harvest_unmapped once the change is made: the source text kept under « licence non reconnue », dropped
    once the text is recognised."""
    try:
        unmapped = json.loads((extras or {}).get(UNMAPPED_FIELD) or "{}")
    except ValueError:
        unmapped = {}
    if not isinstance(unmapped, dict):
        unmapped = {}
    if change.new == UNRECOGNISED_ID:
        unmapped[LICENCE_KEY] = [change.text]
    else:
        unmapped.pop(LICENCE_KEY, None)
    return json.dumps(unmapped, ensure_ascii=False, sort_keys=True) if unmapped else ""


def apply(changes: list[Change]) -> list[tuple[Change, str]]:
    """Write the changes through package_patch; (change, French error) for each that failed."""
    site_user = tk.get_action("get_site_user")({"ignore_auth": True}, {})
    failed = []
    for change in changes:
        package = model.Package.get(change.package_id)
        if package is None:
            continue
        patch = {"id": change.package_id, LICENCE_KEY: change.new,
                 UNMAPPED_FIELD: _unmapped_after(package.extras, change)}
        context = {"user": site_user["name"], "ignore_auth": True, HARVEST_CONTEXT_FLAG: True}
        try:
            tk.get_action("package_patch")(context, patch)
        except tk.ValidationError as error:
            model.Session.rollback()
            failed.append((change, json.dumps(error.error_dict, ensure_ascii=False)[:300]))
    return failed


def summary(changes: list[Change]) -> list[tuple[str, str, str, int]]:
    """(text, old id, new id, datasets) per distinct change, most frequent first."""
    counts = Counter((c.text, c.old, c.new) for c in changes)
    return [(text, old, new, count) for (text, old, new), count in
            sorted(counts.items(), key=lambda item: (-item[1], item[0]))]


def run(apply_changes: bool) -> dict[str, Any]:
    changes = plan()
    failed = apply(changes) if apply_changes else []
    return {"changes": changes, "summary": summary(changes), "failed": failed}
