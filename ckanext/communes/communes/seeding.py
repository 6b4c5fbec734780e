"""Create or update the organisations of the Métropole and its communes from the communes data file.

Idempotent, and respectful of operators: each organisation keeps in `seeded_values` (JSON) what the
seeder wrote last time. A field whose current value differs from that was changed by someone since, and
is kept unless `force`. The whole file is checked before anything is written, and all writes happen
in one transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import ckan.plugins.toolkit as tk
from ckan import model

from ckanext.communes.communes import programme, registry


@dataclass
class SeedReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    # (organisation name, field) of values changed by someone since the last seed, left as they are.
    kept: list[tuple[str, str]] = field(default_factory=list)

    def counts(self) -> str:
        return f"created: {len(self.created)}, updated: {len(self.updated)}, unchanged: {len(self.unchanged)}"


def commune_values(commune: registry.Commune) -> dict[str, str]:
    """What the data file says about a commune, as organisation fields (strings, like extras)."""
    values = {
        "title": commune.name,
        "official_name": commune.name,
        "kind": "commune",
        "insee_code": commune.insee,
        "siren": commune.siren,
        "population": str(commune.population),
        "population_year": str(commune.population_year),
    }
    # Only the 12 partners of deliberation 2019-3364 get a status; nothing else is invented.
    if commune.phase_2019:
        values["partner_status"] = commune.phase_2019
    return values


def metropole_values(communes: list[registry.Commune]) -> dict[str, str]:
    # The municipal population of the Métropole is the sum of its communes' (same vintage).
    return {
        "title": registry.METROPOLE_NAME,
        "official_name": registry.METROPOLE_NAME,
        "kind": "metropole",
        "siren": registry.METROPOLE_SIREN,
        "population": str(sum(c.population for c in communes)),
        "population_year": str(max(c.population_year for c in communes)),
    }


def _check_against_registry(lines_and_communes: list[tuple[int, registry.Commune]]) -> None:
    """A file given with --file must still describe communes of the Métropole (the INSEE validator
    would refuse the others half-way through the run)."""
    for line, commune in lines_and_communes:
        if registry.get_commune(commune.insee) is None:
            raise registry.DataFileError(line, f"INSEE code {commune.insee} is not a commune of the Métropole")


def _find_group(values: dict[str, str], slug: str) -> model.Group | None:
    key = "insee_code" if values["kind"] == "commune" else "siren"
    return programme.org_by_extra(key, values.get(key, "")) or model.Group.get(slug)


def _plan(group: model.Group, values: dict[str, str], force: bool,
          report: SeedReport) -> tuple[dict[str, str], dict[str, str]]:
    """The changes to write on an existing organisation, and the new seeded_values."""
    current = programme.stored_values(group)
    current["title"] = group.title or ""
    try:
        previous = json.loads(current.get("seeded_values") or "{}")
    except ValueError:
        previous = {}
    changes: dict[str, str] = {}
    for name, new in values.items():
        now = current.get(name)
        if programme.normalise_value(now) == programme.normalise_value(new):
            continue
        untouched = (name in previous and programme.normalise_value(now) == programme.normalise_value(previous[name]))
        if force or untouched or programme.normalise_value(now) == "":
            changes[name] = new
        else:
            report.kept.append((group.name, name))
    seeded = json.dumps(values, sort_keys=True, ensure_ascii=False)
    if changes or seeded != current.get("seeded_values"):
        changes["seeded_values"] = seeded
    return changes, values


def seed(path: str | None = None, force: bool = False) -> SeedReport:
    """Seed from the bundled data file (or `path`). Raises registry.DataFileError, before any write,
    if the file is malformed."""
    lines_and_communes = registry.read_communes_file(path or registry.DATA_FILE)
    _check_against_registry(lines_and_communes)
    communes = [commune for _line, commune in lines_and_communes]

    site_user = tk.get_action("get_site_user")({"ignore_auth": True}, {})["name"]
    report = SeedReport()
    targets = [(programme.metropole_org_name(), metropole_values(communes))]
    targets += [(commune.slug, commune_values(commune)) for commune in communes]
    try:
        for slug, values in targets:
            context = {"user": site_user, "ignore_auth": True, "defer_commit": True}
            group = _find_group(values, slug)
            if group is None:
                data = dict(values, name=slug, seeded_values=json.dumps(values, sort_keys=True, ensure_ascii=False))
                tk.get_action("organization_create")(context, data)
                report.created.append(slug)
                continue
            changes, _seeded = _plan(group, values, force, report)
            if not changes:
                report.unchanged.append(group.name)
                continue
            tk.get_action("organization_patch")(context, dict(changes, id=group.id))
            report.updated.append(group.name)
        model.repo.commit()
    except Exception:
        model.Session.rollback()
        raise
    return report
