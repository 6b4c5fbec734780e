"""Actions of the bilan: communes_bilan, communes_bilan_snapshot_list/show/compare (public) and
communes_bilan_snapshot_create (programme operators). Every parameter is checked: a wrong one gets a
ValidationError (HTTP 409) in French naming the field, an unknown snapshot ObjectNotFound (404)."""

from __future__ import annotations

import base64
import re
from typing import Any

import ckan.plugins.toolkit as tk

from ckanext.communes.bilan import exports, indicators, snapshots

FORMATS = ("json", "csv", "xlsx")
SNAPSHOT_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")
SHOWN_MAX = 40  # characters of a refused value repeated in the message


def _shown(value: Any) -> str:
    text = str(value) if isinstance(value, (str, int, float)) else type(value).__name__
    return text if len(text) <= SHOWN_MAX else text[:SHOWN_MAX] + "…"


def _choice(data_dict: dict[str, Any], key: str, allowed: tuple[str, ...]) -> str:
    value = data_dict.get(key)
    if value in (None, ""):
        return allowed[0]
    if not isinstance(value, str) or value.strip() not in allowed:
        raise tk.ValidationError({key: [tk._("{field}: unknown value \"{value}\"; use one of: {choices}.").format(
            field=key, value=_shown(value), choices=", ".join(allowed))]})
    return value.strip()


def _snapshot_id(data_dict: dict[str, Any], key: str, required: bool = True) -> str | None:
    """A snapshot id, or None for "today" (when allowed: required False)."""
    value = data_dict.get(key)
    if value in (None, "", snapshots.TODAY) and not required:
        return None
    if value in (None, ""):
        raise tk.ValidationError({key: [tk._("{field}: this field is required.").format(field=key)]})
    if not isinstance(value, str) or not SNAPSHOT_ID.match(value.strip()):
        raise tk.ValidationError({key: [tk._("{field}: \"{value}\" is not a snapshot identifier.").format(
            field=key, value=_shown(value))]})
    return value.strip()


def _authors_shown(context: dict[str, Any]) -> bool:
    """Who froze a snapshot is a user name: shown to anonymous visitors only when the portal makes user
    details public (CKAN's ``ckan.auth.public_user_details``, true by default), as user_show does."""
    return bool(context.get("user")) or tk.asbool(tk.config.get("ckan.auth.public_user_details", True))


def _meta_for(context: dict[str, Any], meta: dict[str, Any] | None) -> dict[str, Any] | None:
    if meta is None or _authors_shown(context):
        return meta
    return dict(meta, created_by=None)


def _file(bilan: dict[str, Any], file_format: str) -> dict[str, Any]:
    name, media_type, content = exports.export(bilan, file_format)
    text = content.decode("utf-8") if file_format == "csv" else base64.b64encode(content).decode("ascii")
    return {"filename": name, "media_type": media_type, "content": text}


@tk.side_effect_free
def communes_bilan(context: dict[str, Any], data_dict: dict[str, Any]) -> dict[str, Any]:
    """The bilan: ``group_by`` commune (default) or phase, ``snapshot`` an id or "today" (default),
    ``format`` json (default: the bilan itself), csv (``content`` is the text, with its byte order mark) or
    xlsx (``content`` in base64), as ``{"filename", "media_type", "content"}``."""
    tk.check_access("communes_bilan", context, data_dict)
    group_by = _choice(data_dict, "group_by", indicators.GROUP_BY)
    file_format = _choice(data_dict, "format", FORMATS)
    snapshot_id = _snapshot_id(data_dict, "snapshot", required=False)
    bilan = (snapshots.show(snapshot_id, group_by) if snapshot_id else indicators.compute(group_by))
    if bilan.get("snapshot"):
        bilan = dict(bilan, snapshot=_meta_for(context, bilan["snapshot"]))
    return bilan if file_format == "json" else _file(bilan, file_format)


@tk.side_effect_free
def communes_bilan_snapshot_list(context: dict[str, Any], data_dict: dict[str, Any]) -> list[dict[str, Any]]:
    """Every snapshot (id, label, created, created_by), newest first."""
    tk.check_access("communes_bilan_snapshot_list", context, data_dict)
    return [_meta_for(context, meta) or meta for meta in snapshots.list_snapshots()]


@tk.side_effect_free
def communes_bilan_snapshot_show(context: dict[str, Any], data_dict: dict[str, Any]) -> dict[str, Any]:
    """A snapshot (``id``) in the shape of communes_bilan, ``group_by`` commune or phase."""
    tk.check_access("communes_bilan_snapshot_show", context, data_dict)
    group_by = _choice(data_dict, "group_by", indicators.GROUP_BY)
    shown = snapshots.show(str(_snapshot_id(data_dict, "id")), group_by)
    return dict(shown, snapshot=_meta_for(context, shown["snapshot"]))


@tk.side_effect_free
def communes_bilan_snapshot_compare(context: dict[str, Any], data_dict: dict[str, Any]) -> dict[str, Any]:
    """Snapshot ``a`` against snapshot ``b`` or today (``b`` missing or "today"): per row and indicator,
    a's value, b's and the difference b - a (numbers only)."""
    tk.check_access("communes_bilan_snapshot_compare", context, data_dict)
    group_by = _choice(data_dict, "group_by", indicators.GROUP_BY)
    a = str(_snapshot_id(data_dict, "a"))
    b = _snapshot_id(data_dict, "b", required=False)
    compared = snapshots.compare(a, b, group_by)
    return dict(compared, a=_meta_for(context, compared["a"]), b=_meta_for(context, compared["b"]))


def communes_bilan_snapshot_create(context: dict[str, Any], data_dict: dict[str, Any]) -> dict[str, Any]:
    """Freeze today's bilan under ``label`` (required, at most 200 characters): programme operators only."""
    tk.check_access("communes_bilan_snapshot_create", context, data_dict)
    label = snapshots.clean_label(data_dict.get("label"))
    return snapshots.create(label, str(context.get("user") or ""))


def get_actions() -> dict[str, Any]:
    return {
        "communes_bilan": communes_bilan,
        "communes_bilan_snapshot_list": communes_bilan_snapshot_list,
        "communes_bilan_snapshot_show": communes_bilan_snapshot_show,
        "communes_bilan_snapshot_compare": communes_bilan_snapshot_compare,
        "communes_bilan_snapshot_create": communes_bilan_snapshot_create,
    }
