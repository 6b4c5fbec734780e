"""``ckan communes harvest migrate-config``: the configurations saved before a source type renamed a key.

ckanext-harvest's show schema copies every key of a source's configuration into the source's dict, so a key
named like a field of that dict replaces the field for every reader (issue #18: udata's ``organization`` put
the udata slug where ``/harvest`` reads the owner organisation, a 500). Saving such a key is now refused
(base.py); the sources saved before keep it until this runs:

- a key the source type renamed (``CommunesHarvester.renamed_config_keys``: udata's ``organization`` →
  ``udata_organization``) is renamed where the configuration is stored, in ``harvest_source.config`` and in
  the source dataset's ``config`` extra (when the current name is already there, it wins, as it does when a
  job reads the configuration: the old key is dropped); the source is then indexed again, since
  ``/harvest`` and ``package_show`` serve the dict Solr keeps;
- any other key named like a field of the source's dict (a type that is not ours, a plugin not loaded) is
  listed, not guessed: an operator renames or removes it.

A migration of data rather than of the schema, so a command rather than an alembic revision: it needs the
source types' own renames (the plugins) and the search index, neither of which an alembic revision has; it
can say what it would do (``--dry-run``) and what it cannot do. Idempotent: a second run changes nothing.
``make run`` and the Docker image run it after ``ckan db upgrade``. Jobs do not wait for it: a job reads
a renamed key under its former name too (base.CommunesHarvester.with_current_key_names).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

import ckan.plugins.toolkit as tk
from ckan import model

from ckanext.communes.harvesters.base import harvester_for, source_dict_fields

log = logging.getLogger(__name__)


@dataclass
class SourceMigration:
    """What the migration does (or would do) to one source's configuration."""

    source: str  # the source's name (its id when its dataset is gone)
    source_type: str
    renamed: dict[str, str] = field(default_factory=dict)  # former key -> current key
    dropped: list[str] = field(default_factory=list)  # former keys dropped: the current key was there too
    shadowing: list[str] = field(default_factory=list)  # keys still named like a field, left to an operator
    unreadable: bool = False  # a stored configuration that is not a JSON object

    @property
    def changed(self) -> bool:
        return bool(self.renamed or self.dropped)


@dataclass
class MigrationReport:
    sources: list[SourceMigration] = field(default_factory=list)
    dry_run: bool = False

    @property
    def migrated(self) -> list[SourceMigration]:
        return [s for s in self.sources if s.changed]

    @property
    def shadowing(self) -> list[SourceMigration]:
        return [s for s in self.sources if s.shadowing]

    def lines(self) -> list[str]:
        """The report the command prints (English: an operator's console, like the other commands)."""
        lines = [f"harvest sources read: {len(self.sources)}, "
                 f"{'to migrate' if self.dry_run else 'migrated'}: {len(self.migrated)}"]
        for item in self.migrated:
            moves = [f'"{old}" -> "{new}"' for old, new in item.renamed.items()]
            moves += [f'"{old}" dropped (its current name is set)' for old in item.dropped]
            lines.append(f"  {item.source} ({item.source_type}): {', '.join(moves)}")
        for item in self.shadowing:
            lines.append(f"  {item.source} ({item.source_type}): key(s) {', '.join(item.shadowing)} named like a "
                         "field of the source, with no known new name: rename or remove them in the source's "
                         "configuration")
        for item in self.sources:
            if item.unreadable:
                lines.append(f"  {item.source} ({item.source_type}): stored configuration is not a JSON object, "
                             "left as it is")
        if self.dry_run:
            lines.append("(dry run: nothing written)")
        return lines


def _renamed_config(text: str | None, renames: dict[str, str], found: SourceMigration) -> str | None:
    """The stored configuration with the former key names replaced (same order), or None when nothing
    changes; what is left shadowing a field is added to ``found``."""
    if not (text or "").strip():
        return None
    try:
        data = json.loads(text or "")
    except ValueError:
        data = None
    if not isinstance(data, dict):
        found.unreadable = True
        return None
    renamed: dict[str, Any] = {}
    for key, value in data.items():
        new = renames.get(key)
        if new is None:
            renamed.setdefault(key, value)
        elif new in data:  # the current name wins, as when a job reads the configuration
            if key not in found.dropped:
                found.dropped.append(key)
        else:
            renamed[new] = value
            found.renamed[key] = new
    fields = source_dict_fields()
    found.shadowing += [key for key in renamed if key in fields and key not in found.shadowing]
    return json.dumps(renamed, ensure_ascii=False) if renamed != data else None


def migrate_source_configs(*, dry_run: bool) -> MigrationReport:
    """Rename, in every stored source configuration, the keys its source type renamed; reindex the
    sources changed; list what still shadows a field of the source's dict."""
    from ckanext.harvest.model import HarvestSource

    report = MigrationReport(dry_run=dry_run)
    changed_ids: list[str] = []
    for source in model.Session.query(HarvestSource).order_by(HarvestSource.id):
        package = model.Package.get(source.id)
        harvester = harvester_for(source.type)
        found = SourceMigration(package.name if package is not None else source.id, source.type or "")
        renames = dict(harvester.renamed_config_keys) if harvester is not None else {}
        new_config = _renamed_config(source.config, renames, found)
        extras = dict(package.extras or {}) if package is not None else {}
        new_extra = _renamed_config(extras.get("config"), renames, found)
        report.sources.append(found)
        if dry_run or (new_config is None and new_extra is None):
            continue
        if new_config is not None:
            source.config = new_config
        if new_extra is not None:
            package.extras = {**extras, "config": new_extra}
        changed_ids.append(source.id)
    if dry_run:
        model.Session.rollback()
        return report
    model.Session.commit()
    for source_id in changed_ids:
        # /harvest and package_show serve the dict Solr keeps: it still has the former keys spread over the
        # source's fields until the source is indexed again (our harvest_source_reindex: the validated dict).
        if model.Package.get(source_id) is not None:
            tk.get_action("harvest_source_reindex")({"ignore_auth": True}, {"id": source_id})
        log.info("Harvest source %s: configuration keys renamed", source_id)
    return report
