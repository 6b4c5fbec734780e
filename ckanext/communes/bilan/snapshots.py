"""Snapshots of the bilan: the indicators of every commune and group frozen with a label and a date (table
``communes_bilan_snapshot``), never changed afterwards; listed, shown, and compared with each other or
with today (differences per indicator and per row)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import ckan.plugins.toolkit as tk
from ckan import model

from ckanext.communes.bilan import cache, indicators, sql
from ckanext.communes.bilan.model import BilanSnapshot

LABEL_MAX = 200
TODAY = "today"


def clean_label(label: Any) -> str:
    """The label trimmed; a French ValidationError naming the field when it is missing or too long."""
    if not isinstance(label, (str, type(None))):
        raise tk.ValidationError({"label": [tk._("Label: enter a text.")]})
    text = (label or "").strip()
    if not text:
        raise tk.ValidationError({"label": [tk._("Label: this field is required.")]})
    if len(text) > LABEL_MAX:
        raise tk.ValidationError({"label": [tk._("Label: at most {max} characters ({length} given).").format(
            max=LABEL_MAX, length=len(text))]})
    if any(ord(char) < 32 for char in text):
        raise tk.ValidationError({"label": [tk._("Label: line breaks and control characters are not allowed.")]})
    return text


def meta(snapshot: BilanSnapshot) -> dict[str, Any]:
    return {"id": snapshot.id, "label": snapshot.label, "created": snapshot.created.isoformat(timespec="seconds"),
            "created_by": snapshot.created_by}


def today_meta(bilan: dict[str, Any]) -> dict[str, Any]:
    return {"id": TODAY, "label": tk._("Today"), "created": bilan["generated_at"], "created_by": None}


def create(label: str, user: str) -> dict[str, Any]:
    """Freeze today's bilan (computed afresh, not from the cache) under a label; its meta."""
    text = clean_label(label)
    payload = indicators.build()
    snapshot = BilanSnapshot(id=str(uuid.uuid4()), label=text, created=dt.datetime.utcnow(),
                             created_by=str(user or ""), payload=payload)
    model.Session.add(snapshot)
    model.Session.commit()
    cache.bump()
    return meta(snapshot)


def list_snapshots() -> list[dict[str, Any]]:
    """Every snapshot's meta, newest first (the payloads are not read)."""
    rows = (model.Session.query(BilanSnapshot.id, BilanSnapshot.label, BilanSnapshot.created, BilanSnapshot.created_by)
            .order_by(BilanSnapshot.created.desc(), BilanSnapshot.id))
    return [{"id": row.id, "label": row.label, "created": row.created.isoformat(timespec="seconds"),
             "created_by": row.created_by} for row in rows]


def get(snapshot_id: str) -> BilanSnapshot:
    snapshot = model.Session.get(BilanSnapshot, str(snapshot_id)) if snapshot_id else None
    if snapshot is None:
        raise tk.ObjectNotFound(tk._("Bilan snapshot not found: {id}").format(id=str(snapshot_id)[:100]))
    return snapshot


def show(snapshot_id: str, group_by: str = "commune") -> dict[str, Any]:
    """A snapshot in the shape of indicators.compute, with ``snapshot`` filled."""
    if group_by not in indicators.GROUP_BY:
        raise ValueError(f"group_by must be one of {indicators.GROUP_BY}, not {group_by!r}")
    snapshot = get(snapshot_id)
    # A copy: the caller may change what it gets, the session's object must stay as stored.
    payload = {"generated_at": snapshot.payload["generated_at"],
               "pending_checks": snapshot.payload.get("pending_checks", 0), "communes": [dict(row) for row in
               snapshot.payload["communes"]], "groups": [dict(row) for row in snapshot.payload["groups"]]}
    _hide_sources_no_longer_public(payload["communes"] + payload["groups"])
    return indicators.shaped(payload, group_by, meta(snapshot))


def _hide_sources_no_longer_public(rows: list[dict[str, Any]]) -> None:
    """A harvest source public when the bilan was frozen may be private or deleted now: the snapshot
    keeps its counts, its name and id are no longer shown (rows: copies, changed in place)."""
    named = {str(entry.get("source")) for row in rows for entry in (row.get("details") or {}).get("by_source") or []}
    named -= {indicators.MANUAL_SOURCE, indicators.UNLISTED_SOURCE}
    public = set(sql.harvest_source_titles(named)) if named else set()
    if named <= public:
        return
    for row in rows:
        details = row.get("details") or {}
        if details.get("by_source"):
            row["details"] = dict(details, by_source=indicators.listed_sources(details["by_source"], public))


def _delta(before: Any, after: Any) -> float | int | None:
    numbers = [value for value in (before, after) if isinstance(value, (int, float)) and not isinstance(value, bool)]
    if len(numbers) != 2:
        return None
    return round(after - before, indicators.SHARE_DIGITS)


def compare_bilans(a: dict[str, Any], b: dict[str, Any],
                   a_meta: dict[str, Any], b_meta: dict[str, Any]) -> dict[str, Any]:
    keys = indicators.indicator_keys()
    rows_b = {row["key"]: row for row in b["rows"]}
    order = [row["key"] for row in a["rows"]] + [row["key"] for row in b["rows"] if row["key"] not in
                                                 {r["key"] for r in a["rows"]}]
    rows_a = {row["key"]: row for row in a["rows"]}
    rows = []
    for key in order:
        values_a = (rows_a.get(key) or {}).get("values") or {}
        values_b = (rows_b.get(key) or {}).get("values") or {}
        changes = {name: {"a": values_a.get(name), "b": values_b.get(name),
                          "delta": _delta(values_a.get(name), values_b.get(name))} for name in keys}
        rows.append({"key": key, "name": (rows_b.get(key) or rows_a.get(key) or {}).get("name", key),
                     "changes": changes,
                     "changed": [name for name in keys if changes[name]["a"] != changes[name]["b"]]})
    return {"a": a_meta, "b": b_meta, "group_by": a["group_by"], "indicators": indicators.indicators(),
            "rows": rows, "changed_rows": sum(1 for row in rows if row["changed"])}


def compare(a: str, b: str | None = None, group_by: str = "commune") -> dict[str, Any]:
    """Snapshot ``a`` against snapshot ``b``, or against today when b is None or "today"."""
    bilan_a = show(a, group_by)
    if b in (None, "", TODAY):
        bilan_b = indicators.compute(group_by)
        b_meta = today_meta(bilan_b)
    else:
        bilan_b = show(str(b), group_by)
        b_meta = bilan_b["snapshot"]
    return compare_bilans(bilan_a, bilan_b, bilan_a["snapshot"], b_meta)
