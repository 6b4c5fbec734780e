"""The quality score of a dataset (issue #10): 0 to 100, the criteria met and missed, a French
sentence per missed criterion. Criteria, weights and thresholds: ``data/criteria.yaml``.

The score reads what the background checks stored (link checks, SCDL validations, SHACL check) in
one query for the three tables (``evidence``), no network, once per web request and dataset
(package_create runs package_show three times, package_update four), so it is cheap enough for
package_show and indexing:
``make bench`` measures package_create/update with it on vs off. It is stored in the search index:

- ``quality_score``: zero-padded 3-digit string ("007", "100") in Solr's catch-all ``*`` field (the
  CKAN schema has no int dynamic field; a padded string sorts like the number), for
  ``sort=quality_score desc``;
- ``vocab_quality_missed``: the ids of the missed criteria (multi-valued facet).

It is recomputed whenever the dataset is indexed (every change), and ``refresh(package_id)``
reindexes a dataset when a background result changes. A save queues the dataset's background checks as
one job when it commits (``background.py``).
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import functools
import json
import logging
import os
import re
from collections.abc import Iterator
from typing import Any

import ckan.plugins.toolkit as tk
import yaml

from ckanext.communes.quality import frequency

log = logging.getLogger(__name__)

DATA_FILE = os.path.join(os.path.dirname(__file__), "data", "criteria.yaml")
SCORE_FIELD = "quality_score"
MISSED_FIELD = "vocab_quality_missed"
SORT_DESC = f"{SCORE_FIELD} desc, metadata_modified desc"
SORT_ASC = f"{SCORE_FIELD} asc, metadata_modified desc"
DATASET_TYPE = "dataset"
# The time a score is judged at (the frequency's deadline): now, unless a caller says otherwise (the scheduled
# recompute judges at its schedule's clock, which its tests advance).
_judged_at: contextvars.ContextVar[datetime.datetime | None] = contextvars.ContextVar(
    "communes_quality_judged_at", default=None)


@contextlib.contextmanager
def judged_at(now: datetime.datetime) -> Iterator[None]:
    """Scores computed in the block (indexing included) are judged at ``now`` (naive UTC)."""
    token = _judged_at.set(now)
    try:
        yield
    finally:
        _judged_at.reset(token)


@functools.cache
def criteria() -> tuple[dict[str, Any], ...]:
    with open(DATA_FILE, encoding="utf-8") as handle:
        loaded = yaml.safe_load(handle)["criteria"]
    total = sum(int(item["weight"]) for item in loaded)
    if total != 100:
        raise ValueError(f"{DATA_FILE}: the weights sum to {total}, not 100")
    return tuple(loaded)


def criterion(criterion_id: str) -> dict[str, Any]:
    return next(item for item in criteria() if item["id"] == criterion_id)


def criterion_label(criterion_id: str) -> str:
    try:
        return criterion(criterion_id)["label"]
    except StopIteration:
        return criterion_id


# ----------------------------------------------------------------------------------- the evidence

def link_results(package_id: str) -> dict[str, Any]:
    """resource id -> linkcheck.LinkResult, for every resource the link checker checks (ok None: not yet)."""
    from ckanext.communes.quality import linkcheck

    return linkcheck.results_for(package_id)


def scdl_results(package_id: str) -> dict[str, Any]:
    """resource id -> scdl.ScdlResult of each validated resource."""
    from ckanext.communes.quality import scdl

    return scdl.results_for(package_id)


def shacl_result(package_id: str) -> Any:
    from ckanext.communes.quality.shacl import result_for

    return result_for(package_id)


@functools.cache
def _evidence_query() -> Any:
    """What the background checks stored about one dataset, the three tables in one round trip (this runs
    in package_show, during every save): one JSON row per stored row, tagged with its table."""
    import sqlalchemy as sa

    from ckanext.communes.quality import linkcheck, scdl, shacl

    return sa.text(" UNION ALL ".join(
        f"SELECT '{kind}' AS kind, row_to_json(t) AS row FROM {table} t WHERE t.package_id = :id"
        for kind, table in (("links", linkcheck.LinkCheck.__tablename__), ("scdl", scdl.ScdlValidation.__tablename__),
                            ("shacl", shacl.ShaclCheck.__tablename__))))


def _row(model_class: Any, data: dict[str, Any] | None) -> Any:
    """A row read as JSON, shaped like the ORM object (timestamps parsed) for the modules' own readers."""
    import types

    from sqlalchemy import DateTime

    if data is None:
        return None
    data = dict(data)  # the rows may be memoised for the request: not changed in place
    for column in model_class.__table__.columns:
        if isinstance(column.type, DateTime) and isinstance(data.get(column.name), str):
            data[column.name] = datetime.datetime.fromisoformat(data[column.name])
    return types.SimpleNamespace(**data)


def _stored_rows(package_id: str) -> dict[str, list[dict[str, Any]]]:
    """The rows of the three tables about the dataset, read once per web request (package_update shows
    the dataset before and after the change: the rows are the same, the background jobs write them and
    ``refresh`` forgets them). The resources they are matched with are always the dict's own."""
    from ckan import model

    cache = _request_cache("rows")
    if cache is not None and package_id in cache:
        return cache[package_id]
    stored: dict[str, list[dict[str, Any]]] = {"links": [], "scdl": [], "shacl": []}
    for kind, row in model.Session.execute(_evidence_query(), {"id": package_id}):
        stored[kind].append(row)
    if cache is not None:
        cache[package_id] = stored
    return stored


def evidence(package_id: str, resources: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any], Any]:
    """(links, scdl, shacl) of a dataset whose resources (package_show's) are given, in one query: the same
    as ``linkcheck.results_for``, ``scdl.results_for`` and ``shacl.result_for``."""
    from ckanext.communes.quality import linkcheck, scdl, shacl

    stored = _stored_rows(package_id)
    checks = {row["resource_id"]: row for row in stored["links"]}
    links = {
        res["id"]: linkcheck._result(_row(linkcheck.LinkCheck, checks.get(res["id"])), (res.get("url") or "").strip())
        for res in resources
        if isinstance(res, dict) and res.get("id") and linkcheck._checkable(res)
    }
    validations = {row["resource_id"]: scdl._result(_row(scdl.ScdlValidation, row)) for row in stored["scdl"]}
    return links, validations, _row(shacl.ShaclCheck, stored["shacl"][0] if stored["shacl"] else None)


# ------------------------------------------------------------------------------------ the criteria

def _present(value: Any) -> bool:
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, (list, tuple, dict)):
        return bool(value)
    return value is not None


def _entries(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        return [value]
    return [entry for entry in value if isinstance(entry, dict)] if isinstance(value, list) else []


def _file_type_code(resource: dict[str, Any]) -> str | None:
    from ckanext.communes.vocabularies import get_vocabulary

    vocab = get_vocabulary("file-type")
    for value in (resource.get("format"), resource.get("mimetype")):
        term = vocab.lookup(value) if isinstance(value, str) else None
        if term is not None:
            return term.code
    return None


def _declares_scdl(pkg: dict[str, Any], resources: list[dict[str, Any]]) -> bool:
    from ckanext.communes.quality import scdl as scdl_module
    from ckanext.communes.vocabularies import get_vocabulary

    vocab = get_vocabulary("scdl-schema")
    values = pkg.get("conforms_to") or []
    values = [values] if isinstance(values, str) else values
    if any(vocab.lookup(v) is not None for v in values if isinstance(v, str)):
        return True
    return any(scdl_module.declared_schema(res, pkg) is not None for res in resources)


def _links_ok_since(resources: list[dict[str, Any]], links: dict[str, Any]) -> datetime.datetime | None:
    """The oldest last check when the link checker reached every checked resource; None otherwise."""
    found = [links[res["id"]] for res in resources if res.get("id") in links]
    if not found or any(result.ok is not True or result.checked_at is None for result in found):
        return None
    return min(result.checked_at for result in found)


def _check(
    item: dict[str, Any], pkg: dict[str, Any], links: dict[str, Any], scdl: dict[str, Any], shacl: Any,
    now: datetime.datetime,
) -> tuple[bool, str | None, bool]:
    """(met, the French sentence when missed, pending: missed because a check has not run yet)."""
    cid = item["id"]
    resources = [res for res in pkg.get("resources") or [] if isinstance(res, dict)]
    if cid == "dcat_properties":
        return all(_present(pkg.get(name)) for name in item["fields"]), item["todo"], False
    if cid == "shacl":
        if shacl is None:
            return False, item["pending"], True
        return bool(shacl.conforms), item["todo"], False
    if cid == "licence":
        from ckanext.communes.licences.policy import compliance_of_value

        return compliance_of_value(pkg.get("license_id")) == "authorised", item["todo"], False
    if cid == "description":
        notes = re.sub(r"\s+", " ", str(pkg.get("notes") or "")).strip()
        title = str(pkg.get("title") or "").strip()
        return len(notes) >= int(item["min_chars"]) and notes.lower() != title.lower(), item["todo"], False
    if cid == "theme":
        themes = pkg.get("theme") or []
        themes = [themes] if isinstance(themes, str) else themes
        return len([t for t in themes if t]) >= int(item["min_themes"]), item["todo"], False
    if cid == "spatial":
        entries = _entries(pkg.get("spatial_coverage"))
        return any(_present(e.get("uri")) or _present(e.get("text")) for e in entries), item["todo"], False
    if cid == "temporal":
        entries = _entries(pkg.get("temporal_coverage"))
        return any(_present(e.get("start")) or _present(e.get("end")) for e in entries), item["todo"], False
    if cid == "contact":
        entries = _entries(pkg.get("contact"))
        return any(_present(e.get(k)) for e in entries for k in ("email", "url", "uri")), item["todo"], False
    if cid == "frequency":
        judged = frequency.judge(pkg, now=now, links_checked_ok_at=_links_ok_since(resources, links))
        if judged.verdict == "undeclared":
            return False, item["todo_undeclared"], False
        return judged.verdict == "respected", item["todo"], False
    if cid == "open_format":
        formats = set(item["formats"])
        return any(_file_type_code(res) in formats for res in resources), item["todo"], False
    if cid == "links":
        if not resources:
            return False, item["todo_no_resource"], False
        # Only the resources the link checker checks (remote links: an upload is served by the portal).
        found = [links[res["id"]] for res in resources if res.get("id") in links]
        if any(result.ok is False for result in found):
            return False, item["todo"], False
        if any(result.ok is None for result in found):
            return False, item["pending"], True
        return True, None, False
    if cid == "scdl":
        from ckanext.communes.quality import scdl as scdl_module

        if not _declares_scdl(pkg, resources):
            return True, None, False  # not applicable
        # Only the results of the resources concerned now (a CSV with a shipped schema): the dataset's
        # job forgets the others after the save, and the score must not wait for it.
        concerned = [res for res in resources
                     if scdl_module.is_csv(res) and scdl_module.declared_schema(res, pkg) is not None]
        if any(scdl[res["id"]].valid for res in concerned if res.get("id") in scdl):
            return True, None, False
        # Pending while a concerned resource has no result yet.
        waiting = [res for res in concerned if res.get("id") not in scdl]
        return False, item["pending"] if waiting else item["todo"], bool(waiting)
    raise ValueError(f"unknown quality criterion {cid!r} in {DATA_FILE}")


def quality_of(
    pkg_dict: dict[str, Any],
    now: datetime.datetime | None = None,
    links: dict[str, Any] | None = None,
    scdl: dict[str, Any] | None = None,
    shacl: Any = "read",
) -> dict[str, Any]:
    """``{"score": 0-100, "met": [ids], "missed": [{"criterion", "label", "message", "pending",
    "weight"}]}``. The evidence is read from the tables unless given (tests, bulk callers)."""
    package_id = pkg_dict.get("id") or ""
    if links is None or scdl is None or isinstance(shacl, str):
        stored = evidence(package_id, pkg_dict.get("resources") or []) if package_id else ({}, {}, None)
        links = stored[0] if links is None else links
        scdl = stored[1] if scdl is None else scdl
        shacl = stored[2] if isinstance(shacl, str) else shacl
    now = now or _judged_at.get() or datetime.datetime.utcnow()
    score = 0
    met: list[str] = []
    missed: list[dict[str, Any]] = []
    for item in criteria():
        ok, message, pending = _check(item, pkg_dict, links, scdl, shacl, now)
        if ok:
            score += int(item["weight"])
            met.append(item["id"])
        else:
            missed.append({"criterion": item["id"], "label": item["label"], "message": message,
                           "pending": pending, "weight": int(item["weight"])})
    return {"score": score, "met": met, "missed": missed}


def padded(score: int) -> str:
    return f"{int(score):03d}"


def _request_cache(name: str) -> dict[Any, Any] | None:
    """What the current web request computed, one dict per ``name``: ``quality`` by (dataset id,
    metadata_modified), as one package_create runs package_show three times (the action, the index, the
    answer), all alike; ``rows`` (see _stored_rows) by dataset id. None outside a request (workers, CLI):
    always computed there."""
    import flask

    if not flask.has_request_context():
        return None
    return flask.g.setdefault(f"_communes_quality_{name}", {})


def clear_cache() -> None:
    """Forget what this request computed (a background result was stored: see refresh)."""
    for name in ("quality", "rows"):
        cache = _request_cache(name)
        if cache is not None:
            cache.clear()


def cached_quality_of(pkg_dict: dict[str, Any]) -> dict[str, Any]:
    cache = _request_cache("quality")
    key = (pkg_dict.get("id") or "", str(pkg_dict.get("metadata_modified") or ""))
    if cache is None or not all(key):
        return quality_of(pkg_dict)
    if key not in cache:
        cache[key] = quality_of(pkg_dict)
    found = cache[key]  # a copy: a caller may change the dict it gets
    return {"score": found["score"], "met": list(found["met"]), "missed": [dict(m) for m in found["missed"]]}


def refresh(package_id: str) -> None:
    """Recompute the score of a dataset and reindex it (called when a background result changed)."""
    from ckan.lib import search

    clear_cache()
    try:
        search.rebuild(package_id)
    except Exception:  # the dataset may be gone meanwhile; the result is kept, the next change reindexes
        log.exception("Reindexing %s after a quality result failed", package_id)


# ------------------------------------------------------------------------------- the plugin hooks

def _is_dataset(pkg_dict: dict[str, Any]) -> bool:
    return (pkg_dict.get("type") or DATASET_TYPE) == DATASET_TYPE


def after_dataset_show(context: dict[str, Any], pkg_dict: dict[str, Any]) -> dict[str, Any]:
    """IPackageController.after_dataset_show: ``quality`` in every package_show (also in the
    dict indexed, which before_dataset_index then reuses)."""
    if _is_dataset(pkg_dict) and pkg_dict.get("id"):
        pkg_dict["quality"] = cached_quality_of(pkg_dict)
    return pkg_dict


def before_dataset_index(pkg_dict: dict[str, Any]) -> dict[str, Any]:
    """IPackageController.before_dataset_index: ``quality_score`` and ``vocab_quality_missed``."""
    if not _is_dataset(pkg_dict):
        return pkg_dict
    try:
        dataset = json.loads(pkg_dict.get("validated_data_dict") or "{}")
    except ValueError:
        dataset = {}
    # after_dataset_show ran on the validated dict in the same indexing pass: reuse its result.
    quality = dataset.get("quality") or quality_of(dataset or pkg_dict)
    pkg_dict[SCORE_FIELD] = padded(quality["score"])
    pkg_dict[MISSED_FIELD] = [item["criterion"] for item in quality["missed"]]
    return pkg_dict


def after_dataset_change(pkg_dict: dict[str, Any]) -> None:
    """IPackageController.after_dataset_create / after_dataset_update: the dataset's quality checks (SHACL,
    SCDL, links) are queued as one job when the save commits (background.py). Never refuses a save."""
    if not _is_dataset(pkg_dict) or not pkg_dict.get("id") or pkg_dict.get("state", "active") != "active":
        return
    from ckanext.communes.quality import background

    try:
        background.after_dataset_change(pkg_dict["id"])
    except Exception:  # noqa: BLE001 - a save never fails because its checks could not be scheduled
        log.exception("The quality checks of %s could not be scheduled", pkg_dict["id"])


def facet_titles() -> dict[str, str]:
    """The facet of the dataset search page (schema/indexing.py adds it to its facets)."""
    return {MISSED_FIELD: tk._("Quality: missed criterion")}


def after_dataset_search(search_results: dict[str, Any], search_params: dict[str, Any]) -> dict[str, Any]:
    """French labels of the missed-criterion facet items (display_name), for the page and the API."""
    block = (search_results.get("search_facets") or {}).get(MISSED_FIELD)
    for item in (block or {}).get("items", []):
        item["display_name"] = criterion_label(item["name"])
    return search_results


def sort_options() -> list[tuple[str, str]]:
    """(label, sort) for /dataset's sort menu."""
    return [(tk._("Quality (best first)"), SORT_DESC), (tk._("Quality (worst first)"), SORT_ASC)]
