"""SCDL conformance: the CSV resources of a dataset that declares a schema of schema.data.gouv.fr are
validated with frictionless (the Table Schema library schema.data.gouv.fr's own validator is built on)
against the copy of the schema shipped in ``data/scdl/`` (scdl_schemas.py: which resources, which schema),
in a background job on CKAN's queue.

A resource whose whole current file xloader loaded into the DataStore is read from its table
(dataapi/tables.py, datastore_search): no second download. Otherwise the file comes through the guarded
client (private addresses refused, redirects, time and size capped by
``ckanext.communes.quality.scdl_max_bytes``); frictionless reads at most
``ckanext.communes.quality.scdl_max_rows`` rows. Each validation replaces the resource's row of
``communes_scdl_validation`` (models.py): valid (None when the file could not be read: see ``error``),
error counts by type, the first errors with French labels, rows checked. A result that changed refreshes
the dataset's score (``evidence.refresh``).

frictionless fetches a schema, a dialect or a path given as a URL by itself: it gets a schema object
built from the shipped descriptor and a file in a folder of ours, and runs inside
``net.safe_tables.offline`` (its HTTP session refuses everything, no connection from the thread), so a
descriptor can never make it fetch.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import os
import tempfile
from collections import Counter
from typing import Any

import ckan.plugins.toolkit as tk
from ckan import model

from ckanext.communes.net import safe_tables
from ckanext.communes.quality import evidence, options
from ckanext.communes.quality.models import ScdlValidation
from ckanext.communes.quality.scdl_schemas import (
    ShippedSchema,
    declared_schema,
    error_label,
    is_csv,
    schema_descriptor,
    to_validate,
)
from ckanext.communes.timestamps import parse_datetime

log = logging.getLogger(__name__)

# Stored errors: enough for a commune to see the pattern, small enough for a JSONB cell per resource.
FIRST_ERRORS_KEPT = 20
# frictionless stops counting past this: "1000+ errors" says as much as the exact figure would.
ERROR_LIMIT = 1000
# Errors about the file as a whole: nothing was checked against the schema, so no verdict (valid None).
FILE_LEVEL_ERRORS = frozenset({
    "source-error", "scheme-error", "format-error", "encoding-error", "compression-error", "dialect-error",
    "schema-error", "resource-error", "detector-error", "file-error", "byte-count", "hash-count",
})


# --------------------------------------------------------------------------------------------- validation


def _download(url: str) -> bytes:
    from ckanext.communes.net.fetch import fetch, limits_from_config

    limits = dataclasses.replace(limits_from_config(), max_bytes=options.scdl_max_bytes())
    return fetch(url, limits, accept="text/csv, text/plain;q=0.5, */*;q=0.1").body


def _body(resource: dict[str, Any]) -> bytes:
    """The CSV to validate: the resource's table in the DataStore when its whole current file is loaded there
    (no second download from the publisher's server), else the file through the guarded client."""
    from ckanext.communes.dataapi.tables import loaded_table_csv

    table = loaded_table_csv(resource, options.scdl_max_rows())
    return table if table is not None else _download(resource["url"])


def _french_error(error: dict[str, Any]) -> str:
    label = error_label(error["type"])
    where = []
    if error.get("row"):
        where.append(tk._("row {row}").format(row=error["row"]))
    if error.get("field"):
        where.append(tk._("column « {field} »").format(field=error["field"]))
    text = f"{', '.join(where)} : {label}" if where else label
    if error.get("cell") not in (None, ""):
        text += " (" + tk._("value « {cell} »").format(cell=str(error["cell"])[:80]) + ")"
    return text[:1].upper() + text[1:]


def validate_bytes(body: bytes, schema: ShippedSchema, rows: int | None = None) -> dict[str, Any]:
    """Validate a CSV body against a shipped schema, at most ``rows`` rows. Returns the figures stored
    in the table (valid, error_count, errors_by_type, first_errors, rows_checked, error)."""
    from frictionless import Resource, Schema

    rows = rows if rows is not None else options.scdl_max_rows()
    descriptor = json.loads(schema_descriptor(schema.code))
    # frictionless 5 refuses absolute paths ("not safe"): a relative name under a base path of our own.
    with tempfile.TemporaryDirectory(prefix="communes-scdl-") as folder, safe_tables.offline():
        with open(os.path.join(folder, "data.csv"), "wb") as f:
            f.write(body)
        resource = Resource(path="data.csv", basepath=folder, format="csv",
                            schema=Schema.from_descriptor(descriptor))
        report = resource.validate(limit_rows=rows, limit_errors=ERROR_LIMIT)
    task = report.tasks[0] if report.tasks else None
    errors = [
        {"type": e.type, "row": getattr(e, "row_number", None), "field": getattr(e, "field_name", None),
         "cell": getattr(e, "cell", None), "note": e.note}
        for e in (task.errors if task else report.errors)
    ]
    by_type = dict(Counter(e["type"] for e in errors))
    file_level = [e for e in errors if e["type"] in FILE_LEVEL_ERRORS]
    rows_checked = int((task.stats.get("rows") if task else 0) or 0)
    if file_level:
        first = file_level[0]
        return {"valid": None, "error_count": len(errors), "errors_by_type": by_type, "first_errors": [],
                "rows_checked": rows_checked,
                "error": tk._("The file could not be read as CSV: {label} ({note})").format(
                    label=error_label(first["type"]), note=first["note"][:300])}
    first_errors = []
    for e in errors[:FIRST_ERRORS_KEPT]:
        e = {**e, "cell": None if e["cell"] is None else str(e["cell"])[:200], "label": error_label(e["type"])}
        e["message"] = _french_error(e)
        first_errors.append(e)
    return {"valid": not errors, "error_count": len(errors), "errors_by_type": by_type,
            "first_errors": first_errors, "rows_checked": rows_checked, "error": None}


def validate_resource(resource: dict[str, Any], pkg_dict: dict[str, Any]) -> evidence.ScdlResult | None:
    """Validate one resource now and store its result; None (and any old row removed) when the resource
    has no shipped schema or is not a CSV."""
    resource_id = resource["id"]
    schema = declared_schema(resource, pkg_dict)
    if schema is None or not resource.get("url") or not is_csv(resource):
        _forget([resource_id])
        return None
    from ckanext.communes.net.fetch import FetchError

    try:
        figures = validate_bytes(_body(resource), schema)
    except FetchError as e:
        figures = {"valid": None, "error": e.message}
    except Exception as e:  # frictionless on a hostile file: a stored error, never a crashed worker
        log.exception("SCDL validation of resource %s failed", resource_id)
        figures = {"valid": None, "error": tk._("The file could not be validated: {detail}").format(
            detail=str(e)[:300])}
    return _store(resource_id, pkg_dict["id"], schema.uri, figures)


_COMPARED = ("schema_url", "valid", "error_count", "errors_by_type", "error")


def _store(resource_id: str, package_id: str, schema_url: str, figures: dict[str, Any]) -> evidence.ScdlResult:
    row = model.Session.get(ScdlValidation, resource_id)
    before = None if row is None else tuple(getattr(row, name) for name in _COMPARED)
    if row is None:
        row = ScdlValidation(resource_id=resource_id)
        model.Session.add(row)
    row.package_id = package_id
    row.schema_url = schema_url
    row.valid = figures.get("valid")
    row.error_count = figures.get("error_count", 0)
    row.errors_by_type = figures.get("errors_by_type", {})
    row.first_errors = figures.get("first_errors", [])
    row.rows_checked = figures.get("rows_checked", 0)
    row.error = figures.get("error")
    row.checked_at = datetime.datetime.utcnow()
    after = tuple(getattr(row, name) for name in _COMPARED)
    model.Session.commit()
    if before != after:
        evidence.refresh(package_id)
    return evidence.scdl_result(row)


def _forget(resource_ids: list[str], *, commit: bool = True) -> None:
    if not resource_ids:
        return
    deleted = model.Session.query(ScdlValidation).filter(
        ScdlValidation.resource_id.in_(resource_ids)).delete(synchronize_session=False)
    if commit:
        model.Session.commit()
    if deleted:
        log.debug("Forgot %d SCDL results", deleted)


# --------------------------------------------------------------------------------------------- jobs


def _package(package_id: str) -> dict[str, Any] | None:
    try:
        return tk.get_action("package_show")({"ignore_auth": True}, {"id": package_id})
    except tk.ObjectNotFound:
        return None


def validate_dataset_now(package_id: str) -> None:
    """Validate every CSV resource of the dataset that declares a shipped schema, synchronously; rows of
    resources gone or no longer concerned are removed."""
    pkg_dict = _package(package_id)
    if pkg_dict is None:
        _forget_dataset(package_id)
        return
    for resource in pkg_dict.get("resources") or []:
        validate_resource(resource, pkg_dict)
    _forget_gone(pkg_dict)


def validate_resource_job(package_id: str, resource_id: str) -> None:
    """The queued job: one resource, read from the dataset as it is when the job runs."""
    pkg_dict = _package(package_id)
    if pkg_dict is None:
        _forget_dataset(package_id)
        return
    for resource in pkg_dict.get("resources") or []:
        if resource["id"] == resource_id:
            validate_resource(resource, pkg_dict)
            return
    _forget([resource_id])


def enqueue_dataset(package_id: str) -> int:
    """Queue the validation of each concerned resource of the dataset (one job per resource, so a big
    file delays nobody else); returns how many were queued."""
    pkg_dict = _package(package_id)
    if pkg_dict is None:
        return 0
    _forget_gone(pkg_dict)
    return _enqueue(pkg_dict, [resource for resource, _schema in to_validate(pkg_dict)])


def _enqueue(pkg_dict: dict[str, Any], resources: list[dict[str, Any]]) -> int:
    for resource in resources:
        tk.enqueue_job(validate_resource_job, [pkg_dict["id"], resource["id"]],
                       title=f"communes: SCDL validation of resource {resource['id']}")
    return len(resources)


def enqueue_changed(package_id: str, commit: bool = True) -> int:
    """After a save (background.py): queue the resources whose URL, file or declared schema changed since
    their last validation, and forget those no longer concerned. The URL is not stored with the result: CKAN moves
    a resource's metadata_modified only when one of its fields changed (a new URL or upload among them), so a
    resource modified after its check, or whose schema differs from the one checked, is validated again. Returns
    how many were queued. ``commit`` False: the caller commits the rows dropped with its own results."""
    pkg_dict = _saved(package_id)
    concerned = list(to_validate(pkg_dict))
    ids = [resource["id"] for resource, _schema in concerned]
    rows = {row.resource_id: row for row in model.Session.query(ScdlValidation).filter(
        ScdlValidation.package_id == pkg_dict["id"])}
    # The score already ignores these rows (score.py's scdl criterion): dropping them changes no figure,
    # no reindex.
    _forget([rid for rid in rows if rid not in ids], commit=commit)
    stale = []
    for resource, schema in concerned:
        row = rows.get(resource["id"])
        if row is None or row.schema_url != schema.uri or row.checked_at is None:
            stale.append(resource)
            continue
        modified = parse_datetime(resource.get("metadata_modified"))
        if modified is None or modified > row.checked_at:
            stale.append(resource)
    return _enqueue(pkg_dict, stale)


def _saved(package_id: str) -> dict[str, Any]:
    """The dataset as saved, read from the model (resources and conforms_to only: what to_validate needs),
    cheaper than package_show, which would run the whole schema. Scheming keeps conforms_to in the
    extras, as a JSON list."""
    package = model.Package.get(package_id)
    if package is None:
        return {"id": package_id, "resources": []}
    return {
        "id": package.id,
        "conforms_to": (package.extras or {}).get("conforms_to"),
        "resources": [
            {"id": r.id, "url": r.url, "format": r.format, "mimetype": r.mimetype,
             "conforms_to": (r.extras or {}).get("conforms_to"), "metadata_modified": r.metadata_modified}
            for r in package.resources
        ],
    }



def _forget_gone(pkg_dict: dict[str, Any]) -> None:
    concerned = {resource["id"] for resource, _schema in to_validate(pkg_dict)}
    _forget([row.resource_id for row in model.Session.query(ScdlValidation.resource_id).filter(
        ScdlValidation.package_id == pkg_dict["id"]) if row.resource_id not in concerned])


def _forget_dataset(package_id: str) -> None:
    model.Session.query(ScdlValidation).filter(ScdlValidation.package_id == package_id).delete(
        synchronize_session=False)
    model.Session.commit()
