"""SCDL conformance: the CSV resources of a dataset that declares a schema of schema.data.gouv.fr are
validated with frictionless (the Table Schema library schema.data.gouv.fr's own validator is built on)
against the copy of the schema shipped in ``data/scdl/``, in a background job on CKAN's queue.

Which schema: the ``conforms_to`` of the resource, else the dataset's; the first value naming a schema
we ship (``vocabularies/data/scdl-schema.csv`` code or URI, or a versioned URL of schema.data.gouv.fr).
A resource without such a schema, or not a CSV, has no result row.

The file comes through the harvesters' guarded client (private addresses refused, redirects, time and
size capped by ``ckanext.communes.quality.scdl_max_bytes``); frictionless reads at most
``ckanext.communes.quality.scdl_max_rows`` rows. Each validation replaces the resource's row of
``communes_scdl_validation``: valid (None when the file could not be read: see ``error``), error counts
by type, the first errors with French labels, rows checked. A result that changed asks the quality score
to recompute the dataset.

frictionless fetches a schema, a dialect or a path given as a URL by itself: it gets a schema object
built from the shipped descriptor and a file in a folder of ours, and runs inside
``net.safe_tables.offline`` (its HTTP session refuses everything, no connection from the thread), so a
descriptor can never make it fetch.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import functools
import json
import logging
import os
import re
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import ckan.plugins.toolkit as tk
from ckan import model
from sqlalchemy import Boolean, Column, DateTime, Integer, UnicodeText
from sqlalchemy.dialects.postgresql import JSONB

from ckanext.communes.net import safe_tables

log = logging.getLogger(__name__)

MAX_BYTES_OPTION = "ckanext.communes.quality.scdl_max_bytes"
MAX_ROWS_OPTION = "ckanext.communes.quality.scdl_max_rows"
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_ROWS = 10000
# Stored errors: enough for a commune to see the pattern, small enough for a JSONB cell per resource.
FIRST_ERRORS_KEPT = 20
# frictionless stops counting past this: "1000+ errors" says as much as the exact figure would.
ERROR_LIMIT = 1000

DATA_DIR = os.path.join(os.path.dirname(__file__), "data")
SCHEMA_DIR = os.path.join(DATA_DIR, "scdl")
SCHEMA_SITE_HOST = "schema.data.gouv.fr"
CSV_FILE_TYPE = "CSV"
# Errors about the file as a whole: nothing was checked against the schema, so no verdict (valid None).
FILE_LEVEL_ERRORS = frozenset({
    "source-error", "scheme-error", "format-error", "encoding-error", "compression-error", "dialect-error",
    "schema-error", "resource-error", "detector-error", "file-error", "byte-count", "hash-count",
})


class ScdlValidation(tk.BaseModel):
    __tablename__ = "communes_scdl_validation"

    resource_id = Column(UnicodeText, primary_key=True)  # resource.id (no foreign key: see the migration)
    package_id = Column(UnicodeText, nullable=False, index=True)
    schema_url = Column(UnicodeText, nullable=False)
    valid = Column(Boolean, nullable=True)
    error_count = Column(Integer, nullable=False, default=0)
    errors_by_type = Column(JSONB, nullable=False, default=dict)
    first_errors = Column(JSONB, nullable=False, default=list)
    rows_checked = Column(Integer, nullable=False, default=0)
    error = Column(UnicodeText, nullable=True)
    checked_at = Column(DateTime, nullable=True)


@dataclass(frozen=True)
class ScdlResult:
    valid: bool | None  # None: the file could not be validated (see error)
    schema_url: str
    error_count: int = 0
    errors_by_type: dict[str, int] = field(default_factory=dict)
    first_errors: list[dict[str, Any]] = field(default_factory=list)
    checked_at: datetime.datetime | None = None
    error: str | None = None
    rows_checked: int = 0
    # Only the first scdl_max_rows rows were read (rows_checked reached the cap in force now).
    truncated: bool = False

    @property
    def schema_label(self) -> str:
        schema = shipped_schema(self.schema_url)
        return schema.label if schema else self.schema_url


@dataclass(frozen=True)
class ShippedSchema:
    code: str  # scdl-schema vocabulary code, e.g. "scdl/subventions"
    uri: str  # the vocabulary URI, stored as schema_url
    label: str
    path: str


# --------------------------------------------------------------------------------------------- options


def max_bytes() -> int:
    return tk.asint(tk.config.get(MAX_BYTES_OPTION, DEFAULT_MAX_BYTES))


def max_rows() -> int:
    return tk.asint(tk.config.get(MAX_ROWS_OPTION, DEFAULT_MAX_ROWS))


# --------------------------------------------------------------------------------------------- schemas


def _folder(code: str) -> str:
    return os.path.join(SCHEMA_DIR, code.replace("/", "__"))


@functools.cache
def _shipped() -> tuple[ShippedSchema, ...]:
    from ckanext.communes.vocabularies import get_vocabulary

    schemas = []
    for term in get_vocabulary("scdl-schema").terms:
        path = os.path.join(_folder(term.code), "schema.json")
        if os.path.exists(path):  # BAL and the JSON Schemas are not shipped: see data/scdl/SOURCES.txt
            schemas.append(ShippedSchema(code=term.code, uri=term.uri, label=term.label("fr"), path=path))
    return tuple(schemas)


def shipped_schema(value: str | None) -> ShippedSchema | None:
    """The shipped schema a conforms_to value names: a vocabulary URI, code or label, or a URL of
    schema.data.gouv.fr that carries the code in its path (``/schemas/scdl/subventions/2.1.1/schema.json``,
    ``/scdl/subventions/latest.html``). We validate against the version we ship whatever the URL says."""
    if not value or not value.strip():
        return None
    from ckanext.communes.vocabularies import get_vocabulary

    term = get_vocabulary("scdl-schema").lookup(value)
    codes = {s.code: s for s in _shipped()}
    if term is not None:
        return codes.get(term.code)
    parts = urlsplit(value.strip())
    if parts.hostname != SCHEMA_SITE_HOST:
        return None
    segments = [s for s in parts.path.split("/") if s]
    if segments and segments[0] == "schemas":
        segments = segments[1:]
    return codes.get("/".join(segments[:2])) if len(segments) >= 2 else None


@functools.cache
def _schema_descriptor(code: str) -> str:
    # Kept as text: each validation builds its own Schema (frictionless objects are mutable).
    with open(os.path.join(_folder(code), "schema.json"), encoding="utf-8") as f:
        return f.read()


@functools.cache
def error_labels() -> dict[str, str]:
    """French label of each frictionless error type (data/scdl-error-types.csv)."""
    with open(os.path.join(DATA_DIR, "scdl-error-types.csv"), encoding="utf-8", newline="") as f:
        return {row["type"]: row["label_fr"] for row in csv.DictReader(f)}


def error_label(error_type: str) -> str:
    return error_labels().get(error_type, error_type)


def _values(value: Any) -> list[str]:
    """conforms_to as stored: a list, a JSON list in a string (scheming), or one string."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError:
                return [text]
        else:
            return [text]
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if v and str(v).strip()]
    return []


def declared_schema(resource: dict[str, Any], pkg_dict: dict[str, Any]) -> ShippedSchema | None:
    """The shipped schema the resource declares, else the dataset's. A resource that declares schemas of
    its own is judged by those only (a dataset of subventions may carry a PDF following another schema)."""
    own = _values(resource.get("conforms_to"))
    for value in own or _values(pkg_dict.get("conforms_to")):
        schema = shipped_schema(value)
        if schema is not None:
            return schema
    return None


def is_csv(resource: dict[str, Any]) -> bool:
    from ckanext.communes.vocabularies import get_vocabulary, guess_file_type

    fmt = (resource.get("format") or "").strip()
    term = get_vocabulary("file-type").lookup(fmt) if fmt else None
    if term is None and not fmt:
        term = guess_file_type(resource.get("url"), resource.get("mimetype"))
    return term is not None and term.code == CSV_FILE_TYPE


def _to_check(pkg_dict: dict[str, Any]) -> Iterable[tuple[dict[str, Any], ShippedSchema]]:
    for resource in pkg_dict.get("resources") or []:
        schema = declared_schema(resource, pkg_dict)
        if schema is not None and resource.get("url") and is_csv(resource):
            yield resource, schema


# --------------------------------------------------------------------------------------------- validation


def _download(url: str) -> bytes:
    from ckanext.communes.net.fetch import fetch, limits_from_config

    limits = dataclasses.replace(limits_from_config(), max_bytes=max_bytes())
    return fetch(url, limits, accept="text/csv, text/plain;q=0.5, */*;q=0.1").body


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

    rows = rows if rows is not None else max_rows()
    descriptor = json.loads(_schema_descriptor(schema.code))
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


def validate_resource(resource: dict[str, Any], pkg_dict: dict[str, Any]) -> ScdlResult | None:
    """Validate one resource now and store its result; None (and any old row removed) when the resource
    has no shipped schema or is not a CSV."""
    resource_id = resource["id"]
    schema = declared_schema(resource, pkg_dict)
    if schema is None or not resource.get("url") or not is_csv(resource):
        _forget([resource_id])
        return None
    from ckanext.communes.net.fetch import FetchError

    try:
        figures = validate_bytes(_download(resource["url"]), schema)
    except FetchError as e:
        figures = {"valid": None, "error": e.message}
    except Exception as e:  # frictionless on a hostile file: a stored error, never a crashed worker
        log.exception("SCDL validation of resource %s failed", resource_id)
        figures = {"valid": None, "error": tk._("The file could not be validated: {detail}").format(
            detail=str(e)[:300])}
    return _store(resource_id, pkg_dict["id"], schema.uri, figures)


_COMPARED = ("schema_url", "valid", "error_count", "errors_by_type", "error")


def _store(resource_id: str, package_id: str, schema_url: str, figures: dict[str, Any]) -> ScdlResult:
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
        _refresh_score(package_id)
    return _result(row)


def _forget(resource_ids: list[str], *, commit: bool = True) -> None:
    if not resource_ids:
        return
    deleted = model.Session.query(ScdlValidation).filter(
        ScdlValidation.resource_id.in_(resource_ids)).delete(synchronize_session=False)
    if commit:
        model.Session.commit()
    if deleted:
        log.debug("Forgot %d SCDL results", deleted)


def _refresh_score(package_id: str) -> None:
    try:
        from ckanext.communes.quality import score
    except ImportError:  # the score part is not there yet
        return
    score.refresh(package_id)


# The guarded client's refusal named the address a host resolves to before it learnt not to: in a result
# stored then, the address is hidden when read (commune staff read these results).
_RESOLVED_ADDRESS = re.compile(r"(désigne l'adresse |resolves to )[^\s,]+")


def _without_resolved_address(error: str | None) -> str | None:
    return _RESOLVED_ADDRESS.sub("\\1…", error) if error else error


def _result(row: ScdlValidation) -> ScdlResult:
    return ScdlResult(
        valid=row.valid, schema_url=row.schema_url, error_count=row.error_count or 0,
        errors_by_type=dict(row.errors_by_type or {}), first_errors=list(row.first_errors or []),
        checked_at=row.checked_at, error=_without_resolved_address(row.error), rows_checked=row.rows_checked or 0,
        truncated=row.valid is not None and (row.rows_checked or 0) >= max_rows(),
    )


# --------------------------------------------------------------------------------------------- public API


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
    return _enqueue(pkg_dict, [resource for resource, _schema in _to_check(pkg_dict)])


def _enqueue(pkg_dict: dict[str, Any], resources: list[dict[str, Any]]) -> int:
    for resource in resources:
        tk.enqueue_job(validate_resource_job, [pkg_dict["id"], resource["id"]],
                       title=f"communes: SCDL validation of resource {resource['id']}")
    return len(resources)


def enqueue_changed(package_id: str) -> int:
    """The dataset's quality job (background.py), after a save: queue the resources whose URL, file or
    declared schema changed since their last validation, and forget those no longer concerned. The URL is
    not stored with the result: CKAN moves a resource's metadata_modified only when one of its fields
    changed (a new URL or upload among them), so a resource modified after its check, or whose schema
    differs from the one checked, is validated again. Returns how many were queued."""
    pkg_dict = _saved(package_id)
    concerned = list(_to_check(pkg_dict))
    ids = [resource["id"] for resource, _schema in concerned]
    rows = {row.resource_id: row for row in model.Session.query(ScdlValidation).filter(
        ScdlValidation.package_id == pkg_dict["id"])}
    # The score already ignores these rows (score._check): dropping them changes no figure, no reindex.
    _forget([rid for rid in rows if rid not in ids])
    stale = []
    for resource, schema in concerned:
        row = rows.get(resource["id"])
        if row is None or row.schema_url != schema.uri or row.checked_at is None:
            stale.append(resource)
            continue
        modified = _parse_time(resource.get("metadata_modified"))
        if modified is None or modified > row.checked_at:
            stale.append(resource)
    return _enqueue(pkg_dict, stale)


def _saved(package_id: str) -> dict[str, Any]:
    """The dataset as saved, read from the model (resources and conforms_to only: what _to_check needs),
    cheaper than package_show, which would run the whole schema. Scheming keeps conforms_to in the
    extras, as a JSON list."""
    package = model.Package.get(package_id)
    if package is None:
        return {"id": package_id, "resources": []}
    return {
        "id": package.id,
        "conforms_to": package.extras.get("conforms_to"),
        "resources": [
            {"id": r.id, "url": r.url, "format": r.format, "mimetype": r.mimetype,
             "conforms_to": (r.extras or {}).get("conforms_to"), "metadata_modified": r.metadata_modified}
            for r in package.resources
        ],
    }


def _parse_time(value: Any) -> datetime.datetime | None:
    if isinstance(value, datetime.datetime):
        return value
    try:
        return datetime.datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _forget_gone(pkg_dict: dict[str, Any]) -> None:
    concerned = {resource["id"] for resource, _schema in _to_check(pkg_dict)}
    _forget([row.resource_id for row in model.Session.query(ScdlValidation.resource_id).filter(
        ScdlValidation.package_id == pkg_dict["id"]) if row.resource_id not in concerned])


def _forget_dataset(package_id: str) -> None:
    model.Session.query(ScdlValidation).filter(ScdlValidation.package_id == package_id).delete(
        synchronize_session=False)
    model.Session.commit()


def results_for(package_id: str) -> dict[str, ScdlResult]:
    """The stored result of each validated resource of the dataset, by resource id."""
    rows = model.Session.query(ScdlValidation).filter(ScdlValidation.package_id == package_id)
    return {row.resource_id: _result(row) for row in rows}


def result_for_resource(resource_id: str) -> ScdlResult | None:
    row = model.Session.get(ScdlValidation, resource_id)
    return _result(row) if row is not None else None


# --------------------------------------------------------------------------------------------- templates


def communes_scdl_result(resource_id: str) -> ScdlResult | None:
    """Template helper: the SCDL result of a resource, None when it was never validated."""
    if not resource_id:
        return None
    return result_for_resource(resource_id)


def communes_scdl_error_label(error_type: str) -> str:
    return error_label(error_type)


def get_helpers() -> dict[str, Any]:
    return {"communes_scdl_result": communes_scdl_result, "communes_scdl_error_label": communes_scdl_error_label}
