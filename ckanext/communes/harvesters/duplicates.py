"""The same dataset reached by two sources (a commune's Opendatasoft portal and the Métropole's CSW, a
udata copy of an Opendatasoft dataset…): kept once (ckanext-harvest's own harvesters create it twice,
their issue #377).

A new record of a source is the same dataset as one another source already harvested when they share
the dataset URI or identifier, the landing page, or an identifier the record says it copies (udata's
``harvest.remote_id``: ``SourceRecord.same_as``). The source with the higher ``priority`` (source config,
default 0) owns the dataset; on a tie, the one that harvested it first keeps it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from ckan import model

from ckanext.harvest.model import HarvestObject, HarvestSource


@dataclass(frozen=True)
class Duplicate:
    package_id: str
    source_id: str
    source_title: str
    priority: int
    matched_on: str


def source_priority(config: str | dict[str, Any] | None) -> int:
    if isinstance(config, str):
        try:
            config = json.loads(config or "{}")
        except ValueError:
            config = {}
    value = (config or {}).get("priority", 0) if isinstance(config, dict) else 0
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _keys(dataset: dict[str, Any], same_as: list[str]) -> tuple[set[str], set[str]]:
    """(identifiers, landing pages) by which a record designates a dataset."""
    identifiers = {str(v).strip() for v in (dataset.get("uri"), dataset.get("identifier"), *same_as)
                   if isinstance(v, str) and v.strip()}
    landing_page = dataset.get("url") if isinstance(dataset.get("url"), str) and dataset["url"].strip() else None
    # The record's landing page, and any page it says it copies (udata's harvest.remote_url), against the
    # landing page another source stored.
    pages = ({landing_page.strip()} if landing_page else set()) | {
        v.strip() for v in same_as if isinstance(v, str) and v.strip().startswith(("http://", "https://"))}
    return identifiers, pages


def find_duplicates(records: list[tuple[str, dict[str, Any], list[str]]], source_id: str) -> dict[str, Duplicate]:
    """For records (guid, dataset, same_as) of one page, the active datasets another source harvested that they
    designate too, by guid: one query per page, not one per record."""
    keys = {guid: _keys(dataset, same_as) for guid, dataset, same_as in records}
    identifiers = sorted(set().union(*(ids for ids, _pages in keys.values()))) if keys else []
    pages = sorted(set().union(*(urls for _ids, urls in keys.values()))) if keys else []
    conditions = []
    if identifiers:
        conditions += [model.Package.extras["uri"].astext.in_(identifiers),
                       model.Package.extras["identifier"].astext.in_(identifiers)]
    if pages:
        conditions.append(model.Package.url.in_(pages))
    if not conditions:
        return {}
    rows = (
        model.Session.query(model.Package.id, model.Package.url, model.Package.extras, HarvestSource)
        .join(HarvestObject, sa.and_(HarvestObject.package_id == model.Package.id, HarvestObject.current.is_(True)))
        .join(HarvestSource, HarvestSource.id == HarvestObject.harvest_source_id)
        .filter(model.Package.state == "active", HarvestObject.harvest_source_id != source_id, sa.or_(*conditions))
        .order_by(model.Package.metadata_created)
        .all()
    )
    by_identifier: dict[str, Duplicate] = {}
    by_page: dict[str, Duplicate] = {}
    for package_id, url, extras, source in rows:  # oldest first: setdefault keeps the first harvested
        for key in ((extras or {}).get("uri"), (extras or {}).get("identifier")):
            if key:
                by_identifier.setdefault(key, Duplicate(package_id, source.id, source.title or source.url,
                                                        source_priority(source.config), "identifier"))
        if url:
            by_page.setdefault(url, Duplicate(package_id, source.id, source.title or source.url,
                                              source_priority(source.config), "landing_page"))
    found: dict[str, Duplicate] = {}
    for guid, (ids, urls) in keys.items():
        match = next((by_identifier[i] for i in sorted(ids) if i in by_identifier), None) or next(
            (by_page[u] for u in sorted(urls) if u in by_page), None)
        if match is not None:
            found[guid] = match
    return found
