"""Resource formats stored before issue #23 (the EU file-type URI, e.g.
``http://publications.europa.eu/resource/authority/file-type/CSV``) rewritten as the short code the schema
stores now (``CSV``, vocabularies.format_code), for ``ckan communes formats migrate``.

A technical migration, like the owner sync (schema/owner_sync.py): the column is written directly, with no
activity and no new ``metadata_modified`` on the dataset or the resource (a commune changed nothing; the
SCDL check re-validates a resource whose ``metadata_modified`` moved), then each dataset touched is
reindexed so that ``res_format:CSV`` finds it. Idempotent: a stored code maps to itself. A value that
designates no EU file type is reported and left as it is (the form refused such values; an operator looks).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ckan import model
from ckan.lib import search

from ckanext.communes.vocabularies import format_code, resolve_file_type


@dataclass
class FormatMigration:
    """What the migration found: (stored value, new code) -> resources, the unknown values, the datasets."""

    changes: Counter[tuple[str, str]] = field(default_factory=Counter)
    unknown: Counter[str] = field(default_factory=Counter)
    kept: int = 0  # resources whose format is already the code (or empty)
    dataset_ids: set[str] = field(default_factory=set)
    applied: bool = False

    @property
    def resources_changed(self) -> int:
        return sum(self.changes.values())

    def lines(self) -> list[str]:
        """The report, one line per stored value."""
        lines = [f"{old} -> {new}: {count}" for (old, new), count in sorted(self.changes.items())]
        lines += [f"{value}: {count} (unknown, left as it is)" for value, count in sorted(self.unknown.items())]
        lines.append(f"already a code or empty: {self.kept}")
        verb = "migrated" if self.applied else "to migrate (dry run: nothing written; --apply writes)"
        lines.append(f"{self.resources_changed} resource(s) in {len(self.dataset_ids)} dataset(s) {verb}")
        return lines


def migrate_formats(apply: bool = False) -> FormatMigration:
    """Read every resource's stored format (every state: a deleted dataset may be restored) and, with
    ``apply``, write the code where it differs and reindex the datasets touched that are not deleted."""
    report = FormatMigration(applied=apply)
    resources = model.resource_table
    packages = model.package_table
    rows = model.Session.execute(
        resources.select().with_only_columns(resources.c.id, resources.c.package_id, resources.c.format)
        .order_by(resources.c.package_id, resources.c.position)
    ).all()
    updates: list[tuple[str, str]] = []
    for resource_id, package_id, stored in rows:
        if not stored or not stored.strip():
            report.kept += 1
            continue
        term = resolve_file_type(stored)
        if term is None:
            report.unknown[stored] += 1
            continue
        code = format_code(term)
        if code == stored:
            report.kept += 1
            continue
        report.changes[(stored, code)] += 1
        report.dataset_ids.add(package_id)
        updates.append((resource_id, code))
    if not apply or not updates:
        return report
    for resource_id, code in updates:
        # The column only: the ORM would not touch metadata_modified either, but a plain UPDATE says so.
        model.Session.execute(resources.update().where(resources.c.id == resource_id).values(format=code))
    model.Session.commit()
    live = model.Session.execute(
        packages.select().with_only_columns(packages.c.id)
        .where(packages.c.id.in_(sorted(report.dataset_ids)), packages.c.state != "deleted")
    ).scalars().all()
    for package_id in live:
        search.rebuild(package_id, defer_commit=True)
    search.commit()
    return report
