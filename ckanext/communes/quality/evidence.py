"""What the quality checks found about a dataset, as the score and the pages read it, and the refresh of
the search index when a result changes.

The checks (linkcheck.py, scdl.py, shacl.py) store their results in the tables of models.py and call
:func:`refresh`; the score (score.py) reads the three tables about one dataset in one query
(:func:`evidence`), once per web request and dataset: package_create runs package_show three times,
package_update four. Nothing here checks anything or imports a check: the imports run checks → evidence,
score → evidence."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
import types
from dataclasses import dataclass, field
from typing import Any

import ckan.plugins.toolkit as tk
from ckan import model

from ckanext.communes.net import fetch as guarded
from ckanext.communes.quality import options
from ckanext.communes.quality.models import LinkCheck, ScdlValidation, ShaclCheck
from ckanext.communes.quality.scdl_schemas import shipped_schema

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------------ link checks

@dataclass
class LinkResult:
    """A link check as the score and the pages read it. ``ok`` None: never checked (or the URL changed since)."""

    ok: bool | None
    status: int | None = None
    final_url: str | None = None
    media_type: str | None = None
    size: int | None = None
    error: str | None = None  # French sentence
    reason: str | None = None  # stable code: http_status, timeout, private_address, ...
    checked_at: dt.datetime | None = None
    failing_since: dt.datetime | None = None
    consecutive_failures: int = 0
    too_large: bool = False  # reachable, but over the harvest's max_response_bytes


def checkable(resource: dict[str, Any]) -> bool:
    """Whether the link checker checks the resource: uploads are served by the portal itself, not a
    remote link to check."""
    url = (resource.get("url") or "").strip()
    return bool(url) and resource.get("url_type") != "upload"


def message_for(code: str | None, status: int | None = None) -> str | None:
    """The French sentence (through the catalogue) of a stored reason code: what is stored does not depend
    on the locale of the worker that checked it."""
    if not code:
        return None
    reason, _, detail = code.partition(":")
    if reason == "http_status":
        return tk._("The server answered HTTP {status}.").format(status=status if status else "?")
    if reason == "timeout":
        return tk._("The server did not answer in time.")
    if reason == "too_many_redirects":
        return tk._("Too many redirects (a redirect loop?).")
    if reason == "private_address":  # a detail stored by an older version (the address) is not shown
        return tk._("The link leads to an address that is not public: not checked.")
    if reason == "dns":
        return tk._("The host name {host} cannot be resolved.").format(host=detail or "?")
    if reason == "scheme":
        return tk._("Not a valid web address (http or https only).")
    if reason == "connection":
        return tk._("The connection to the server failed.")
    if reason == "job_timeout":
        return tk._("The check ran out of time.")
    return tk._("The link could not be checked ({reason}).").format(reason=reason)


def link_result(row: Any, url: str | None) -> LinkResult:
    """The result of a stored row (a LinkCheck or a row read as JSON) for the resource's current URL."""
    if row is None or (url is not None and row.url != url) or row.checked_at is None:
        return LinkResult(ok=None)
    ok = row.error is None
    max_bytes = guarded.limits_from_config().max_bytes
    return LinkResult(
        ok=ok, status=row.status, final_url=row.final_url, media_type=row.media_type, size=row.size,
        error=message_for(row.error, row.status), reason=(row.error or "").partition(":")[0] or None,
        checked_at=row.checked_at, failing_since=row.failing_since,
        consecutive_failures=row.consecutive_failures or 0,
        too_large=bool(ok and row.size is not None and row.size > max_bytes),
    )


def link_results_for(package_id: str) -> dict[str, LinkResult]:
    """resource id -> result, for every active resource of the dataset with a remote link (ok None when
    not checked yet, or checked under another URL)."""
    rows = {row.resource_id: row for row in
            model.Session.query(LinkCheck).filter(LinkCheck.package_id == package_id)}
    resources = (model.Session.query(model.Resource.id, model.Resource.url, model.Resource.url_type)
                 .filter(model.Resource.package_id == package_id, model.Resource.state == "active").all())
    return {
        rid: link_result(rows.get(rid), (url or "").strip())
        for rid, url, url_type in resources
        if checkable({"url": url, "url_type": url_type})
    }


def measured_links(package_id: str) -> dict[str, Any]:
    """resource id -> what the link checker measured (dcat/distribution.py's MeasuredLink) on each link of the
    dataset it reached at its last check: the URL it checked, the size and the media type the server gave."""
    from ckanext.communes.dcat.distribution import MeasuredLink

    rows = (model.Session.query(LinkCheck.resource_id, LinkCheck.url, LinkCheck.size, LinkCheck.media_type)
            .filter(LinkCheck.package_id == package_id, LinkCheck.error.is_(None), LinkCheck.checked_at.isnot(None)))
    return {rid: MeasuredLink(url=(url or "").strip(), size=size, media_type=media_type)
            for rid, url, size, media_type in rows}


def link_result_for_resource(resource_id: str, url: str | None = None) -> LinkResult:
    return link_result(model.Session.get(LinkCheck, resource_id), url.strip() if url else None)


# ------------------------------------------------------------------------------------- SCDL validations

@dataclass(frozen=True)
class ScdlResult:
    valid: bool | None  # None: the file could not be validated (see error)
    schema_url: str
    error_count: int = 0
    errors_by_type: dict[str, int] = field(default_factory=dict)
    first_errors: list[dict[str, Any]] = field(default_factory=list)
    checked_at: dt.datetime | None = None
    error: str | None = None
    rows_checked: int = 0
    # Only the first scdl_max_rows rows were read (rows_checked reached the cap in force now).
    truncated: bool = False

    @property
    def schema_label(self) -> str:
        schema = shipped_schema(self.schema_url)
        return schema.label if schema else self.schema_url


# The guarded client's refusal named the address a host resolves to before it learnt not to: in a result
# stored then, the address is hidden when read (commune staff read these results).
_RESOLVED_ADDRESS = re.compile(r"(désigne l'adresse |resolves to )[^\s,]+")


def _without_resolved_address(error: str | None) -> str | None:
    return _RESOLVED_ADDRESS.sub("\\1…", error) if error else error


def scdl_result(row: Any) -> ScdlResult:
    """The result of a stored row (a ScdlValidation or a row read as JSON)."""
    return ScdlResult(
        valid=row.valid, schema_url=row.schema_url, error_count=row.error_count or 0,
        errors_by_type=dict(row.errors_by_type or {}), first_errors=list(row.first_errors or []),
        checked_at=row.checked_at, error=_without_resolved_address(row.error), rows_checked=row.rows_checked or 0,
        truncated=row.valid is not None and (row.rows_checked or 0) >= options.scdl_max_rows(),
    )


def scdl_results_for(package_id: str) -> dict[str, ScdlResult]:
    """The stored result of each validated resource of the dataset, by resource id."""
    rows = model.Session.query(ScdlValidation).filter(ScdlValidation.package_id == package_id)
    return {row.resource_id: scdl_result(row) for row in rows}


def scdl_result_for_resource(resource_id: str) -> ScdlResult | None:
    row = model.Session.get(ScdlValidation, resource_id)
    return scdl_result(row) if row is not None else None


# ------------------------------------------------------------------------------------------- SHACL check

def shacl_row_for(package_id: str) -> ShaclCheck | None:
    return model.Session.get(ShaclCheck, package_id)


# --------------------------------------------------------------------------- the three, in one query

@functools.cache
def _evidence_query() -> Any:
    """What the background checks stored about one dataset, the three tables in one round trip (this runs
    in package_show, during every save): one JSON row per stored row, tagged with its table."""
    import sqlalchemy as sa

    return sa.text(" UNION ALL ".join(
        f"SELECT '{kind}' AS kind, row_to_json(t) AS row FROM {table} t WHERE t.package_id = :id"
        for kind, table in (("links", LinkCheck.__tablename__), ("scdl", ScdlValidation.__tablename__),
                            ("shacl", ShaclCheck.__tablename__))))


def _row(model_class: Any, data: dict[str, Any] | None) -> Any:
    """A row read as JSON, shaped like the ORM object (timestamps parsed) for the readers above."""
    from sqlalchemy import DateTime

    if data is None:
        return None
    data = dict(data)  # the rows may be memoised for the request: not changed in place
    for column in model_class.__table__.columns:
        if isinstance(column.type, DateTime) and isinstance(data.get(column.name), str):
            data[column.name] = dt.datetime.fromisoformat(data[column.name])
    return types.SimpleNamespace(**data)


def request_cache(name: str) -> dict[Any, Any] | None:
    """What the current web request computed, one dict per ``name``: ``quality`` (score.py) by (dataset
    id, metadata_modified), as one package_create runs package_show three times (the action, the index,
    the answer), all alike; ``rows`` (see _stored_rows) by dataset id. None outside a request (workers,
    CLI): always computed there."""
    import flask

    if not flask.has_request_context():
        return None
    return flask.g.setdefault(f"_communes_quality_{name}", {})


CACHES = ("quality", "rows")


def clear_cache() -> None:
    """Forget what this request computed (a background result was stored: see refresh)."""
    for name in CACHES:
        cache = request_cache(name)
        if cache is not None:
            cache.clear()


def _stored_rows(package_id: str) -> dict[str, list[dict[str, Any]]]:
    """The rows of the three tables about the dataset, read once per web request (package_update shows
    the dataset before and after the change: the rows are the same, the background jobs write them and
    ``refresh`` forgets them). The resources they are matched with are always the dict's own."""
    cache = request_cache("rows")
    if cache is not None and package_id in cache:
        return cache[package_id]
    stored: dict[str, list[dict[str, Any]]] = {"links": [], "scdl": [], "shacl": []}
    for kind, row in model.Session.execute(_evidence_query(), {"id": package_id}):
        stored[kind].append(row)
    if cache is not None:
        cache[package_id] = stored
    return stored


def evidence(package_id: str, resources: list[dict[str, Any]]) -> tuple[dict[str, LinkResult],
                                                                           dict[str, ScdlResult], Any]:
    """(links, scdl, shacl) of a dataset whose resources (package_show's) are given, in one query: the same
    as ``link_results_for``, ``scdl_results_for`` and ``shacl_row_for``."""
    stored = _stored_rows(package_id)
    checks = {row["resource_id"]: row for row in stored["links"]}
    links = {
        res["id"]: link_result(_row(LinkCheck, checks.get(res["id"])), (res.get("url") or "").strip())
        for res in resources
        if isinstance(res, dict) and res.get("id") and checkable(res)
    }
    validations = {row["resource_id"]: scdl_result(_row(ScdlValidation, row)) for row in stored["scdl"]}
    return links, validations, _row(ShaclCheck, stored["shacl"][0] if stored["shacl"] else None)


# ------------------------------------------------------------------------------------------- refresh

def refresh(package_id: str) -> None:
    """Recompute the score of a dataset and reindex it (called when a stored result changed)."""
    from ckan.lib import search

    clear_cache()
    try:
        search.rebuild(package_id)
    except Exception:  # the dataset may be gone meanwhile; the result is kept, the next change reindexes
        log.exception("Reindexing %s after a quality result failed", package_id)
