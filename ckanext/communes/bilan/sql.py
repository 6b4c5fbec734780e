"""The bilan's SQL aggregates: one query each, whatever the number of datasets.

- the commune organisations and their programme fields (partner status, convention, agents);
- link checks per commune: resources checked at their current URL, and those whose last check succeeded
  (the rule of quality/evidence.py: a row counts when it was checked and its URL is the resource's);
- the titles of the harvest sources the index names (public and active ones only).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from ckan import model

from ckanext.communes.communes import registry


@dataclass(frozen=True)
class CommuneOrg:
    id: str
    name: str
    extras: dict[str, Any]


@dataclass
class LinkCounts:
    checked: int = 0
    ok: int = 0

    def add(self, other: LinkCounts) -> LinkCounts:
        self.checked += other.checked
        self.ok += other.ok
        return self


def commune_orgs() -> dict[str, CommuneOrg]:
    """Current INSEE code -> the commune's organisation (the oldest active one with that code, as
    programme.org_by_extra finds it)."""
    rows = (
        model.Session.query(model.Group.id, model.Group.name, model.Group.extras)
        .filter(model.Group.is_organization.is_(True), model.Group.state == "active",
                model.Group.extras["insee_code"].astext != "")
        .order_by(model.Group.created)
        .all()
    )
    found: dict[str, CommuneOrg] = {}
    for group_id, name, extras in rows:
        commune = registry.get_commune(str((extras or {}).get("insee_code") or ""))
        if commune is not None:
            found.setdefault(commune.insee, CommuneOrg(group_id, name, dict(extras or {})))
    return found


_LINKS = sa.text("""
    SELECT g.extras ->> 'insee_code' AS insee,
           count(*) AS checked,
           count(*) FILTER (WHERE lc.error IS NULL) AS ok
    FROM communes_link_check lc
    JOIN resource r ON r.id = lc.resource_id AND r.state = 'active'
                   AND coalesce(r.url_type, '') <> 'upload'
                   AND btrim(r.url, E' \\t\\r\\n') = lc.url
    JOIN package p ON p.id = r.package_id AND p.state = 'active' AND p.private IS FALSE AND p.type = 'dataset'
    JOIN "group" g ON g.id = p.owner_org
    WHERE lc.checked_at IS NOT NULL
    GROUP BY 1
""")


def link_counts() -> dict[str, LinkCounts]:
    """Current INSEE code -> link checks of the commune's public datasets."""
    counts: dict[str, LinkCounts] = {}
    for insee, checked, ok in model.Session.execute(_LINKS):
        commune = registry.get_commune(str(insee or ""))
        if commune is not None:
            counts.setdefault(commune.insee, LinkCounts()).add(LinkCounts(int(checked), int(ok)))
    return counts


def harvest_source_titles(source_ids: Iterable[str]) -> dict[str, str]:
    """Id -> title of the harvest sources among ``source_ids`` that anyone may see: a source is a dataset
    of type ``harvest`` (same id), and a private or deleted one is nobody's business in a public report;
    its datasets still count as harvested (bilan/indicators.py: ``by_source`` lists them as unlisted)."""
    from ckanext.harvest.model import HarvestSource

    ids = sorted({str(source_id) for source_id in source_ids if source_id})
    if not ids:
        return {}
    rows = (
        model.Session.query(HarvestSource.id, HarvestSource.title)
        .join(model.Package, model.Package.id == HarvestSource.id)
        .filter(HarvestSource.id.in_(ids), model.Package.state == "active", model.Package.private.is_(False))
    )
    return {source_id: title or source_id for source_id, title in rows}
