"""A harvested dataset belongs to its source: what the source provides is not edited by hand.

A commune editor (or admin) who changes a field the source provides, or its resources, or deletes the
dataset, is refused with a French message naming the source: the next harvest would undo the change, or
bring the dataset back. Fields the source leaves empty stay editable (a contact point the source lacks,
say). Operators may edit anything, and may detach the dataset from its source (operators.py), after
which it is an ordinary dataset of the commune.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import ckan.plugins.toolkit as tk
from ckan import model

from ckanext.communes.communes import programme
from ckanext.communes.harvesters.base import DETACHED_KEY
from ckanext.communes.licences.policy import HARVEST_CONTEXT_FLAG
from ckanext.communes.schema.values import as_list, is_blank
from ckanext.harvest.model import HarvestJob, HarvestObject, HarvestSource

# Keys of a harvested dataset that are bookkeeping, not content.
IGNORED_KEYS = frozenset({"id", "name", "owner_org", "harvest_unmapped", "publisher", "licence_compliance"})


@dataclass(frozen=True)
class HarvestOrigin:
    source_id: str
    source_title: str
    source_url: str
    last_harvested: str | None
    detached: bool
    content: dict[str, Any]


def origin_of(package_id: str | None) -> HarvestOrigin | None:
    """Where a dataset was harvested from (its current harvest object), None if it was not."""
    if not package_id:
        return None
    current = (
        model.Session.query(HarvestObject)
        .filter(HarvestObject.package_id == package_id, HarvestObject.current.is_(True))
        .order_by(HarvestObject.import_finished.desc().nullslast())
        .first()
    )
    if current is None:
        return None
    source = HarvestSource.get(current.harvest_source_id)
    if source is None:
        return None
    last_job = (
        model.Session.query(HarvestJob)
        .filter(HarvestJob.source_id == source.id, HarvestJob.status == "Finished")
        .order_by(HarvestJob.finished.desc().nullslast())
        .first()
    )
    try:
        content = json.loads(current.content or "{}")
    except ValueError:
        content = {}
    return HarvestOrigin(
        source_id=source.id,
        source_title=source.title or source.url,
        source_url=source.url,
        last_harvested=last_job.finished.isoformat() if last_job and last_job.finished else None,
        detached=any(extra.key == DETACHED_KEY for extra in current.extras),
        content=content if isinstance(content, dict) else {},
    )


def _comparable(key: str, value: Any) -> Any:
    if key == "tags":
        return sorted({t.get("name") if isinstance(t, dict) else str(t) for t in value or []})
    if key == "resources":
        return sorted(str(r.get("url", "")) for r in value or [] if isinstance(r, dict))
    if isinstance(value, (list, dict)) or (isinstance(value, str) and value.strip().startswith("[")):
        if isinstance(value, list) and value and isinstance(value[0], dict):
            return json.dumps(value, sort_keys=True, default=str)
        return sorted(as_list(value))
    return "" if is_blank(value) else str(value).strip()


def changed_harvested_fields(origin: HarvestOrigin, stored: dict[str, Any], submitted: dict[str, Any]) -> list[str]:
    """Fields the source provides whose submitted value differs from the stored one."""
    changed = []
    for key in origin.content:
        if key in IGNORED_KEYS or key not in submitted:
            continue
        if _comparable(key, submitted[key]) != _comparable(key, stored.get(key)):
            changed.append(key)
    return changed


def _may_bypass(context: dict[str, Any]) -> bool:
    # The harvest itself, operators, and internal calls (ignore_auth is never set by an API caller).
    return bool(context.get(HARVEST_CONTEXT_FLAG) or context.get("ignore_auth")
                or programme.is_programme_operator(context.get("user")))


def _refusal(origin: HarvestOrigin, fields: list[str]) -> tk.NotAuthorized:
    return tk.NotAuthorized(tk._(
        'This dataset is harvested from the source "{source}": these fields come from it and are changed there, '
        "not here: {fields}. A programme operator can detach the dataset from its source.").format(
        source=origin.source_title, fields=", ".join(fields)))


@tk.chained_action
def package_update(next_action: Any, context: dict[str, Any], data_dict: dict[str, Any]) -> Any:
    if not _may_bypass(context):
        package = model.Package.get(str(data_dict.get("id") or data_dict.get("name") or ""))
        origin = origin_of(package.id) if package is not None else None
        if origin is not None and not origin.detached:
            stored = tk.get_action("package_show")({"ignore_auth": True}, {"id": package.id})
            changed = changed_harvested_fields(origin, stored, data_dict)
            if changed:
                raise _refusal(origin, changed)
    return next_action(context, data_dict)


@tk.chained_action
def package_delete(next_action: Any, context: dict[str, Any], data_dict: dict[str, Any]) -> Any:
    if not _may_bypass(context):
        package = model.Package.get(str(data_dict.get("id") or ""))
        origin = origin_of(package.id) if package is not None else None
        if origin is not None and not origin.detached:
            raise _refusal(origin, [tk._("the dataset itself")])
    return next_action(context, data_dict)


def communes_harvest_origin(pkg_dict: dict[str, Any]) -> dict[str, Any] | None:
    """Template helper: the dataset's source (title, link to its page, last harvest), None if not harvested."""
    origin = origin_of((pkg_dict or {}).get("id"))
    if origin is None:
        return None
    return {"source_id": origin.source_id, "title": origin.source_title, "url": origin.source_url,
            "page": tk.url_for("harvest.read", id=origin.source_id), "last_harvested": origin.last_harvested,
            "detached": origin.detached}


def get_actions() -> dict[str, Any]:
    return {"package_update": package_update, "package_delete": package_delete}


def get_helpers() -> dict[str, Any]:
    return {"communes_harvest_origin": communes_harvest_origin}
