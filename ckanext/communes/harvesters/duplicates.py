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


def find_duplicate(dataset: dict[str, Any], same_as: list[str], source_id: str) -> Duplicate | None:
    """An active dataset another source harvested that this record designates too, None if there is none."""
    identifiers = sorted({str(v).strip() for v in (dataset.get("uri"), dataset.get("identifier"), *same_as)
                          if isinstance(v, str) and v.strip()})
    landing_page = dataset.get("url") if isinstance(dataset.get("url"), str) and dataset["url"].strip() else None
    conditions = []
    if identifiers:
        conditions += [model.Package.extras["uri"].astext.in_(identifiers),
                       model.Package.extras["identifier"].astext.in_(identifiers)]
    # The record's landing page, and any page it says it copies (udata's harvest.remote_url), against the
    # landing page another source stored.
    pages = ({landing_page.strip()} if landing_page else set()) | {
        v.strip() for v in same_as if isinstance(v, str) and v.strip().startswith(("http://", "https://"))}
    if pages:
        conditions.append(model.Package.url.in_(sorted(pages)))
    if not conditions:
        return None
    row = (
        model.Session.query(model.Package.id, model.Package.url, model.Package.extras, HarvestSource)
        .join(HarvestObject, sa.and_(HarvestObject.package_id == model.Package.id, HarvestObject.current.is_(True)))
        .join(HarvestSource, HarvestSource.id == HarvestObject.harvest_source_id)
        .filter(model.Package.state == "active", HarvestObject.harvest_source_id != source_id, sa.or_(*conditions))
        .order_by(model.Package.metadata_created)
        .first()
    )
    if row is None:
        return None
    package_id, url, extras, source = row
    extras = extras or {}
    if extras.get("uri") in identifiers or extras.get("identifier") in identifiers:
        matched_on = "identifier"
    else:
        matched_on = "landing_page" if url in pages else "identifier"
    return Duplicate(package_id, source.id, source.title or source.url, source_priority(source.config), matched_on)
