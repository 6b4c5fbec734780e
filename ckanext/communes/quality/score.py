"""The quality score of a dataset (issue #10): 0 to 100, the criteria met and missed, a French
sentence per missed criterion. Criteria, weights and thresholds: ``data/criteria.yaml``.

The score reads what the background checks stored (link checks, SCDL validations, SHACL check) through
evidence.py, in one query for the three tables, no network, once per web request and dataset, so it is
cheap enough for package_show and indexing: ``make bench`` measures package_create/update with it on vs
off. The plugin hooks (hooks.py) put it in package_show and in the search index:

- ``quality_score``: zero-padded 3-digit string ("007", "100") in Solr's catch-all ``*`` field (the
  CKAN schema has no int dynamic field; a padded string sorts like the number), for
  ``sort=quality_score desc``;
- ``vocab_quality_missed``: the ids of the missed criteria (multi-valued facet).

It is recomputed whenever the dataset is indexed (every change), and a check whose result changed
reindexes the dataset (``evidence.refresh``).
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import functools
import os
import re
from collections.abc import Iterator
from typing import Any

import ckan.plugins.toolkit as tk
import yaml

from ckanext.communes.quality import evidence, frequency, scdl_schemas

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
    from ckanext.communes.vocabularies import get_vocabulary

    vocab = get_vocabulary("scdl-schema")
    values = pkg.get("conforms_to") or []
    values = [values] if isinstance(values, str) else values
    if any(vocab.lookup(v) is not None for v in values if isinstance(v, str)):
        return True
    return any(scdl_schemas.declared_schema(res, pkg) is not None for res in resources)


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
        if not _declares_scdl(pkg, resources):
            return True, None, False  # not applicable
        # Only the results of the resources concerned now (a CSV with a shipped schema): the checks
        # after the save forget the others, and the score must not wait for it.
        concerned = [res for res in resources
                     if scdl_schemas.is_csv(res) and scdl_schemas.declared_schema(res, pkg) is not None]
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
        stored = evidence.evidence(package_id, pkg_dict.get("resources") or []) if package_id else ({}, {}, None)
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


def cached_quality_of(pkg_dict: dict[str, Any]) -> dict[str, Any]:
    cache = evidence.request_cache("quality")
    key = (pkg_dict.get("id") or "", str(pkg_dict.get("metadata_modified") or ""))
    if cache is None or not all(key):
        return quality_of(pkg_dict)
    if key not in cache:
        cache[key] = quality_of(pkg_dict)
    found = cache[key]  # a copy: a caller may change the dict it gets
    return {"score": found["score"], "met": list(found["met"]), "missed": [dict(m) for m in found["missed"]]}


def sort_options() -> list[tuple[str, str]]:
    """(label, sort) for /dataset's sort menu."""
    return [(tk._("Quality (best first)"), SORT_DESC), (tk._("Quality (worst first)"), SORT_ASC)]
