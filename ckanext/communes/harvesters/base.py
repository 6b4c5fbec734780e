"""The harvesting core every source type of ours shares, on ckanext-harvest's gather / fetch / import.

A source type (dcat.py, ckan.py…) only says how to list a source's pages and turn each remote record into
a dataset dict with our schema's field names (``SourcePage``, ``SourceRecord``); it never touches the
database. The core does the rest:

- gather: pages through the source with the guarded client (net/fetch.py: http(s) only, private addresses
  refused, timeouts, size limits, job deadline); routes each record to a commune (routing.py); maps its
  vocabulary values (mapping.py); hashes the mapped dict and decides create / update / restore /
  unchanged; a page whose bytes did not change since the last job is not parsed again. Only creates,
  updates, restores and withdrawals become harvest objects: an unchanged source writes nothing.
- withdrawal and circuit breaker: a dataset no longer listed is withdrawn (state ``deleted``, never
  purged) and comes back, same id, when listed again. Nothing is withdrawn when a page failed, when the
  source listed nothing, or when more than ``max_withdraw_percent`` of the source's datasets would go:
  then the withdrawals wait for an operator's approval (actions.py).
- import: ``package_create`` / ``package_update`` with the ``communes_harvest`` context flag, through the
  same validators as the form (licence policy flags instead of refusing; publisher derived from the
  owner commune).
- a dry run (``plan(..., dry_run=True)``) does the gather without writing and returns the decisions.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import ckan.plugins as p
import ckan.plugins.toolkit as tk
import sqlalchemy as sa
from ckan import model
from ckan.lib import search
from ckan.lib.munge import munge_title_to_name
from ckan.logic import schema as ckan_schema
from ckan.model import PACKAGE_NAME_MAX_LENGTH

from ckanext.communes.harvesters.duplicates import Duplicate, find_duplicates, source_priority
from ckanext.communes.harvesters.mapping import content_hash, map_to_schema
from ckanext.communes.harvesters.report import (
    BREAKER_INCOMPLETE,
    BREAKER_TRIPPED,
    UNRECOGNISED_LICENCES_KEY,
    ReportBuilder,
    latest_report,
    without_url_passwords,
)
from ckanext.communes.harvesters.routing import Router, validate_routing_table
from ckanext.communes.licences import aliases as licence_aliases
from ckanext.communes.licences.policy import HARVEST_CONTEXT_FLAG
from ckanext.communes.licences.recognise import convention_of
from ckanext.communes.net import fetch as guarded
from ckanext.communes.translation import N_
from ckanext.harvest.harvesters.base import HarvesterBase
from ckanext.harvest.interfaces import IHarvester
from ckanext.harvest.logic import schema as harvest_schema
from ckanext.harvest.model import HarvestGatherError, HarvestObject, HarvestObjectExtra, HarvestSource

log = logging.getLogger(__name__)

MAX_WITHDRAW_OPTION = "ckanext.communes.harvest.max_withdraw_percent"
DEFAULT_MAX_WITHDRAW_PERCENT = 20
PREVIEW_SAMPLE_SIZE = 20
# Harvest object extras.
STATUS_KEY = "communes_status"
HASH_KEY = "communes_hash"
DETACHED_KEY = "communes_detached"
WRITING_DECISIONS = ("create", "update", "restore", "takeover")
MATCHED_ON_LABELS = {"identifier": N_("identifier"), "landing_page": N_("landing page")}


class ConfigError(ValueError):
    """A source config refused when the source is saved: French messages naming the key."""


class SourceError(Exception):
    """A source that cannot be read in full for a reason other than HTTP (a looping page chain, a
    document the parser refuses): the job records it, withdraws nothing and finishes."""

    def __init__(self, url: str, message: str) -> None:
        super().__init__(message)
        self.url = url
        self.message = message


@dataclass
class SourceRecord:
    """One remote dataset, in our schema's field names (vocabulary values as the source wrote them)."""

    guid: str
    dataset: dict[str, Any]
    publisher_values: list[str] = field(default_factory=list)
    # Identifiers of the same dataset elsewhere that the record names (udata's harvest.remote_id…): a
    # dataset another source harvested under one of them is a duplicate (duplicates.py).
    same_as: list[str] = field(default_factory=list)


@dataclass
class SourcePage:
    """One page of a source: its bytes' hash, and how to read its records (called only when needed)."""

    url: str
    content_hash: str
    records: Callable[[], Iterator[SourceRecord]]


@dataclass
class GatherContext:
    job_id: str | None
    source_id: str
    source_url: str
    owner_org: str
    config: dict[str, Any]
    limits: guarded.FetchLimits
    report: ReportBuilder
    routing_fingerprint: str = ""
    # Harvest objects and their extras decided but not written yet: rows for one bulk insert per page
    # (write_objects), not thousands of ORM instances for the session to flush.
    pending_objects: list[dict[str, Any]] = field(default_factory=list)
    pending_extras: list[dict[str, Any]] = field(default_factory=list)
    # Licence texts of the page being read that designate no registry licence -> datasets carrying them.
    page_unrecognised_licences: Counter[str] = field(default_factory=Counter)

    def fetch(self, url: str, accept: str | None = None) -> guarded.FetchedResponse:
        return guarded.fetch(url, self.limits, accept=accept)


@dataclass
class Existing:
    """What the source harvested before, per GUID (its current harvest object)."""

    package_id: str
    content_hash: str
    state: str
    commune: str
    detached: bool


@dataclass
class Plan:
    """A gather's outcome: the report, the harvest objects written (none in a dry run), and for a dry run
    the first mapped datasets and the decisions."""

    report: ReportBuilder
    object_ids: list[str] = field(default_factory=list)
    sample: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[dict[str, str]] = field(default_factory=list)
    withdrawals: list[dict[str, str]] = field(default_factory=list)


# The source's current object for a GUID, next to the object being imported (one alias for the process:
# one made per import costs more to build than the query takes to run).
_PREVIOUS_OBJECT = HarvestObject.__table__.alias("previous_object")


def _int_in_range(value: Any, low: int, high: int) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: 1e309 is a float infinity
        return None
    return number if low <= number <= high and str(number) == str(value).strip() else None


# Configuration keys that say who fetches, never how the fetched bytes map: left out of the fingerprint, which
# the job report keeps. A password there would be hashed into the report (in clear before encryption at rest)
# and, encrypted, would change at each key rotation and make every unchanged page be parsed again.
CREDENTIAL_CONFIG_KEYS = frozenset({"username", "password"})


def routing_fingerprint(owner_org: str, config: dict[str, Any]) -> str:
    """What the mapping of an unchanged page depends on besides its bytes: the source's owner and config
    (routing table…, credentials left out), the organisations routing can choose and the operators' licence
    aliases. When it changes, pages are read again."""
    organisations = (
        model.Session.query(model.Group.id, model.Group.name, model.Group.state, model.Group.extras)
        .filter(model.Group.is_organization.is_(True)).order_by(model.Group.id).all()
    )
    mapping_config = {key: value for key, value in config.items() if key not in CREDENTIAL_CONFIG_KEYS}
    # The operators' licence aliases map licences too: a page read before an alias was added is read again.
    material = json.dumps([owner_org, mapping_config,
                           [(i, n, st, sorted((e or {}).items())) for i, n, st, e in organisations],
                           licence_aliases.version()],
                          sort_keys=True, default=str)
    return content_hash({"routing": material})


# Keys ckanext-harvest puts in a source's dict after validation, which no schema declares: the job status
# (its after_dataset_show, and harvest_source_dictize with the publisher's title).
HARVEST_SOURCE_STATUS_FIELDS = ("status", "publisher_title")


@functools.cache
def source_dict_fields() -> frozenset[str]:
    """Every field of a harvest source's dict, which no configuration key may be named like.

    ckanext-harvest's show schema copies each key of a source's configuration into the source's dict
    (``harvest_source_convert_from_config``): a key named like a field replaces it there, and every reader
    of the dict gets the configuration's value instead (udata's former ``organization`` key put a string
    where ``/harvest`` reads the owner organisation's title: a 500). Derived from what makes the dict: CKAN's
    dataset schemas (a source is a dataset of type ``harvest``), ckanext-harvest's source schemas, the
    columns of the package and harvest_source tables, and the status ckanext-harvest adds after them."""
    fields: set[str] = set()
    for schema in (ckan_schema.default_create_package_schema(), ckan_schema.default_update_package_schema(),
                   ckan_schema.default_show_package_schema(), harvest_schema.harvest_source_create_package_schema(),
                   harvest_schema.harvest_source_update_package_schema(),
                   harvest_schema.harvest_source_show_package_schema()):
        fields.update(schema)
    fields.update(model.Package.__table__.columns.keys())
    fields.update(HarvestSource.__table__.columns.keys())
    fields.update(HARVEST_SOURCE_STATUS_FIELDS)
    return frozenset(name for name in fields if not name.startswith("__"))


class CommunesHarvester(HarvesterBase):
    """Base of our source types. Subclasses are CKAN plugins implementing IHarvester and define
    ``source_type``, ``title``, ``description``, ``type_config_keys`` and ``pages``."""

    source_type: str = ""
    title: str = ""
    description: str = ""
    # Config keys of the source type (beyond the common ones): key -> checker returning a French error or None.
    type_config_keys: dict[str, Callable[[Any], str | None]] = {}
    # Keys the type once had under another name, old -> new: still read from configurations saved before
    # the rename (``ckan communes harvest migrate-config`` renames them where they are stored), refused when
    # a source is saved (validate_config). An old name is one that shadowed a field of the source's dict.
    renamed_config_keys: dict[str, str] = {}

    # ------------------------------------------------------------------ IHarvester: description, config

    def info(self) -> dict[str, str]:
        return {"name": self.source_type, "title": tk._(self.title), "description": tk._(self.description),
                "form_config_interface": "Text"}

    def common_config_keys(self) -> dict[str, Callable[[Any], str | None]]:
        def percent(value: Any) -> str | None:
            if _int_in_range(value, 0, 100) is None:
                return tk._("a whole number from 0 to 100 is expected")
            return None

        def positive(value: Any) -> str | None:
            if _int_in_range(value, 1, 10**12) is None:
                return tk._("a positive whole number is expected")
            return None

        def routing(value: Any) -> str | None:
            errors = validate_routing_table(value)
            return "; ".join(errors) if errors else None

        def priority(value: Any) -> str | None:
            if _int_in_range(value, 0, 1000) is None:
                return tk._("a whole number from 0 to 1000 is expected")
            return None

        return {"max_withdraw_percent": percent, "routing": routing, "request_timeout": positive,
                "max_response_bytes": positive, "priority": priority}

    def parse_config(self, config: str | None) -> dict[str, Any]:
        """The source config as a dict; ConfigError (French, naming the key) when it is not acceptable."""
        text = (config or "").strip()
        if not text:
            return {}
        try:
            data = json.loads(text)
        except ValueError as error:
            raise ConfigError(tk._("The configuration is not valid JSON: {error}").format(error=error)) from None
        if not isinstance(data, dict):
            raise ConfigError(tk._("The configuration must be a JSON object, e.g. {example}").format(
                example='{"max_withdraw_percent": 20}'))
        data = self.with_current_key_names(data)
        checkers = {**self.common_config_keys(), **self.type_config_keys}
        errors = []
        for key, value in data.items():
            if key in source_dict_fields():
                errors.append(shadowing_message(key))
                continue
            checker = checkers.get(key)
            if checker is None:
                errors.append(tk._('Unknown configuration key "{key}" (known keys: {known}).').format(
                    key=str(key)[:80], known=", ".join(sorted(checkers))))
                continue
            message = checker(value)
            if message:
                errors.append(tk._('Configuration key "{key}": {message}.').format(key=key, message=message))
        if errors:
            raise ConfigError(" ".join(errors))
        return data

    def with_current_key_names(self, data: dict[str, Any]) -> dict[str, Any]:
        """The config with the type's former key names read under their current names (the current name
        wins when a config has both)."""
        if not any(old in data for old in self.renamed_config_keys):
            return data
        renamed = {key: value for key, value in data.items() if key not in self.renamed_config_keys}
        for old, new in self.renamed_config_keys.items():
            if old in data:
                renamed.setdefault(new, data[old])
        return renamed

    def validate_config(self, config: str | None) -> str:
        # ckanext-harvest calls this when a source is saved and shows the exception text as the field error.
        # A former key name is read from stored configurations, never saved again.
        self.refuse_former_key_names(config)
        self.parse_config(config)
        return config or ""

    def refuse_former_key_names(self, config: str | None) -> None:
        try:
            data = json.loads((config or "").strip() or "{}")
        except ValueError:
            return  # parse_config says what is wrong
        if isinstance(data, dict):
            errors = [shadowing_message(key, self.renamed_config_keys[key]) for key in data
                      if key in self.renamed_config_keys]
            if errors:
                raise ConfigError(" ".join(errors))

    # ------------------------------------------------------------------ source types implement

    def pages(self, ctx: GatherContext) -> Iterator[SourcePage]:  # pragma: no cover - abstract
        raise NotImplementedError

    # ------------------------------------------------------------------ gather

    def gather_stage(self, harvest_job: Any) -> list[str] | None:
        source = harvest_job.source
        try:
            config = self.parse_config(source.config)
        except ConfigError as error:
            self._save_gather_error(str(error), harvest_job)
            return []
        plan = self.plan(harvest_job.id, source.id, source.url, self._owner_of(source), config, dry_run=False)
        for message in plan.report.messages:
            if message["level"] == "error":
                HarvestGatherError(message=message["message"], job=harvest_job).save()
        return plan.object_ids

    @staticmethod
    def _owner_of(source: Any) -> str:
        package = model.Package.get(source.id)
        return package.owner_org if package is not None and package.owner_org else ""

    def plan(self, job_id: str | None, source_id: str, source_url: str, owner_org: str, config: dict[str, Any], *,
             dry_run: bool) -> Plan:
        started = time.monotonic()
        report = ReportBuilder()
        ctx = GatherContext(job_id, source_id, source_url, owner_org, config,
                            guarded.limits_from_config(config, job_started=started), report)
        plan = Plan(report)
        existing = self._existing(source_id)
        previous = latest_report(source_id, exclude_job=job_id)
        previous_pages = {page["url"]: page for page in (previous.pages if previous else []) if "url" in page}
        router = Router(source_owner_org_id=owner_org, routing_table=config.get("routing"))
        ctx.routing_fingerprint = routing_fingerprint(owner_org, config)
        listed: set[str] = set()
        complete = True
        try:
            for page in self.pages(ctx):
                # Pages are kept by URL without a password it may carry (the report holds no secret).
                previous_page = previous_pages.get(without_url_passwords(page.url))
                self._gather_page(ctx, page, previous_page, existing, router, listed, plan, dry_run)
        except (guarded.FetchError, SourceError) as error:
            complete = False
            report.say("error", error.message, url=error.url)
        except Exception as error:  # a source type's bug must not leave the job running nor withdraw
            log.exception("Harvest gather of source %s failed", source_id)
            complete = False
            report.say("error", tk._("Unexpected error while reading the source: {error}").format(
                error=repr(error)[:300]))
        self._plan_withdrawals(ctx, existing, listed, complete, plan, dry_run)
        if not dry_run and job_id:
            self._write_objects(ctx)
            report.save(job_id, source_id)
            model.Session.commit()
        return plan

    def _existing(self, source_id: str) -> dict[str, Existing]:
        """GUID -> what the source harvested before (one query, with the hash and detached flag)."""
        hash_extra = sa.orm.aliased(HarvestObjectExtra)
        detached_extra = sa.orm.aliased(HarvestObjectExtra)
        rows = (
            model.Session.query(HarvestObject.guid, HarvestObject.package_id, hash_extra.value, model.Package.state,
                                model.Package.owner_org, detached_extra.value)
            .join(model.Package, model.Package.id == HarvestObject.package_id)
            .outerjoin(hash_extra, sa.and_(hash_extra.harvest_object_id == HarvestObject.id,
                                           hash_extra.key == HASH_KEY))
            .outerjoin(detached_extra, sa.and_(detached_extra.harvest_object_id == HarvestObject.id,
                                               detached_extra.key == DETACHED_KEY))
            .filter(HarvestObject.harvest_source_id == source_id, HarvestObject.current.is_(True))
            .all()
        )
        return {
            guid: Existing(package_id, value or "", state, owner or "", bool(detached))
            for guid, package_id, value, state, owner, detached in rows
        }

    def _gather_page(self, ctx: GatherContext, page: SourcePage, previous_page: dict[str, Any] | None,
                     existing: dict[str, Existing], router: Router, listed: set[str], plan: Plan,
                     dry_run: bool) -> None:
        report = ctx.report
        if previous_page and previous_page.get("hash") == page.content_hash and previous_page.get(
                "routing") == ctx.routing_fingerprint and all(
            guid in existing and existing[guid].state == "active" for guid in previous_page.get("guids", [])
        ):
            # Same bytes as last time and everything still in place: nothing to parse, nothing to write.
            for guid in previous_page.get("guids", []):
                listed.add(guid)
                report.decided("unchanged", existing[guid].commune)
            report.pages.append(previous_page)
            return
        guids: list[str] = []
        ctx.page_unrecognised_licences = Counter()
        records = list(page.records())  # one page in memory, for one duplicate lookup per page
        duplicates = find_duplicates([(r.guid, r.dataset, r.same_as) for r in records
                                      if r.guid and r.guid not in existing], ctx.source_id)
        for record in records:
            if not record.guid:
                report.say("warning", tk._("A dataset without identifier was left out: {title}").format(
                    title=str(record.dataset.get("title", ""))[:200]), url=page.url)
                continue
            if record.guid in listed:
                report.say("warning", tk._("The source lists the same dataset twice: {guid}").format(
                    guid=record.guid), url=page.url)
                continue
            listed.add(record.guid)
            guids.append(record.guid)
            self._decide(ctx, record, existing.get(record.guid), duplicates.get(record.guid), router, plan,
                         dry_run)
        # Kept per page, so that a page skipped next time (same bytes) still counts in that job's report.
        report.pages.append({"url": without_url_passwords(page.url), "hash": page.content_hash,
                             "routing": ctx.routing_fingerprint, "guids": guids,
                             UNRECOGNISED_LICENCES_KEY: dict(ctx.page_unrecognised_licences)})
        if not dry_run:
            self._write_objects(ctx)
            model.Session.commit()  # page by page: memory holds GUIDs, not datasets

    def _decide(self, ctx: GatherContext, record: SourceRecord, before: Existing | None, duplicate: Duplicate | None,
                router: Router, plan: Plan, dry_run: bool) -> None:
        report = ctx.report
        route = router.route(record.publisher_values)
        if route.matched_by == "unrouted" and route.unrouted_values:
            report.say("warning", tk._("Publisher not recognised, dataset kept in the source's organisation: "
                                       "{value}").format(value=", ".join(route.unrouted_values)[:300]),
                       guid=record.guid)
        mapped = map_to_schema(record.dataset, convention=convention_of(self.source_type))
        ctx.page_unrecognised_licences.update(mapped.unrecognised_licences)
        dataset = mapped.dataset
        dataset["owner_org"] = route.org_id
        for problem in mapped.extent_problems:
            report.say("warning", tk._("Extent of the source not taken over, the dataset is located by its "
                                       "territories or its commune: {reason}").format(reason=problem[:300]),
                       guid=record.guid)
        for name, value in mapped.warnings:
            report.say("warning", tk._('Value not taken over (outside the EU vocabularies, or refused by the '
                                       'schema), kept in "harvest_unmapped": {field} = {value}').format(
                field=name, value=value[:200]), guid=record.guid)
        digest = content_hash(dataset)
        commune = route.insee or route.org_name
        if duplicate is not None and source_priority(ctx.config) <= duplicate.priority:
            report.decided("duplicate", commune)
            report.say("warning", tk._('Already harvested from the source "{source}" (same {matched}): kept there, '
                                       'that source has priority.').format(
                source=duplicate.source_title, matched=tk._(MATCHED_ON_LABELS[duplicate.matched_on])),
                       guid=record.guid)
            if dry_run:
                plan.decisions.append({"decision": "duplicate", "guid": record.guid,
                                       "title": str(dataset.get("title", ""))[:200], "commune": commune})
            return
        if duplicate is not None:
            decision = "takeover"
            report.say("info", tk._('Also harvested from the source "{source}": this source has priority and '
                                    'takes it over.').format(source=duplicate.source_title), guid=record.guid)
        elif before is None:
            decision = "create"
        elif before.detached:
            decision = "unchanged"  # an operator detached it: the source no longer updates it
        elif before.state != "active":
            decision = "restore"
        elif before.content_hash == digest and before.commune == route.org_id:
            decision = "unchanged"
        else:
            decision = "update"
        report.decided(decision, commune)
        if dry_run:
            if len(plan.sample) < PREVIEW_SAMPLE_SIZE:
                plan.sample.append({"decision": decision, "guid": record.guid, "commune": commune,
                                    "dataset": dataset})
            plan.decisions.append({"decision": decision, "guid": record.guid,
                                   "title": str(dataset.get("title", ""))[:200], "commune": commune})
            return
        if decision in WRITING_DECISIONS:
            package_id = duplicate.package_id if duplicate is not None else before.package_id if before else None
            plan.object_ids.append(self._new_object(ctx, record.guid, decision, digest, dataset, package_id))

    def _new_object(self, ctx: GatherContext, guid: str, decision: str, digest: str, dataset: dict[str, Any] | None,
                    package_id: str | None) -> str:
        # The id is set here so that the object can be named before it is written (write_objects, per page).
        object_id = str(uuid.uuid4())
        ctx.pending_objects.append({
            "id": object_id, "guid": guid, "harvest_job_id": ctx.job_id, "harvest_source_id": ctx.source_id,
            "content": json.dumps(dataset, ensure_ascii=False) if dataset is not None else None,
            "package_id": package_id})
        ctx.pending_extras += [
            {"id": str(uuid.uuid4()), "harvest_object_id": object_id, "key": STATUS_KEY, "value": decision},
            {"id": str(uuid.uuid4()), "harvest_object_id": object_id, "key": HASH_KEY, "value": digest}]
        return object_id

    @staticmethod
    def _write_objects(ctx: GatherContext) -> None:
        """The pending harvest objects and extras in two multi-row INSERTs (the tables' own defaults:
        state WAITING, gathered now, not current), in the caller's transaction."""
        if ctx.pending_objects:
            model.Session.execute(HarvestObject.__table__.insert(), ctx.pending_objects)
            model.Session.execute(HarvestObjectExtra.__table__.insert(), ctx.pending_extras)
        ctx.pending_objects, ctx.pending_extras = [], []

    def _plan_withdrawals(self, ctx: GatherContext, existing: dict[str, Existing], listed: set[str], complete: bool,
                          plan: Plan, dry_run: bool) -> None:
        report = ctx.report
        active = {guid: item for guid, item in existing.items() if item.state == "active" and not item.detached}
        gone = [guid for guid in active if guid not in listed]
        if not complete or report.has_errors:
            report.breaker = BREAKER_INCOMPLETE  # the listing is not to be trusted for withdrawals
        if not gone:
            return
        max_percent = _int_in_range(ctx.config.get("max_withdraw_percent"), 0, 100)
        if max_percent is None:
            max_percent = tk.asint(tk.config.get(MAX_WITHDRAW_OPTION, DEFAULT_MAX_WITHDRAW_PERCENT))
        if report.breaker == BREAKER_INCOMPLETE:
            report.say("error", tk._("{count} datasets are no longer listed, but the source could not be read in "
                                     "full: nothing is withdrawn.").format(count=len(gone)))
        elif not listed:
            report.breaker = BREAKER_INCOMPLETE
            report.say("error", tk._("The source lists no dataset at all: nothing is withdrawn ({count} datasets "
                                     "kept). Check the source.").format(count=len(gone)))
        elif len(gone) * 100 > max_percent * len(active):
            report.breaker = BREAKER_TRIPPED
            report.pending_withdrawals = [active[guid].package_id for guid in gone]
            report.say("error", tk._("{count} of {total} datasets would be withdrawn, more than {percent} %: "
                                     "nothing is withdrawn until an operator approves.").format(
                count=len(gone), total=len(active), percent=max_percent))
        for guid in gone:
            item = active[guid]
            if dry_run:
                plan.withdrawals.append({"guid": guid, "package_id": item.package_id, "commune": item.commune})
            if report.breaker is None:
                report.decided("withdraw", item.commune)
                if not dry_run:
                    plan.object_ids.append(self._new_object(ctx, guid, "withdraw", item.content_hash, None,
                                                            item.package_id))

    # ------------------------------------------------------------------ fetch and import

    def fetch_stage(self, harvest_object: Any) -> bool:
        return True  # the gather read the whole page already

    def import_stage(self, harvest_object: Any) -> bool | str:
        # Scaled fetch workers: two records with the same title, imported at the same time, both find the
        # munged title free, and the second insert of it fails (the unique index, or CKAN's validation when
        # the first import has committed). The losing import is rolled back whole (its dataset and the
        # object's links, written in one transaction) and done again: it then sees the other dataset and
        # chooses the next free name. Why not an advisory lock per name: it would only serialise the imports
        # that take it, not a dataset created from the form or the API, nor a title munged to another's
        # numbered name ("Arbres 31" and the second "Arbres 3"); the retry covers every writer, and costs
        # the loser the wait it would have spent on the lock anyway.
        unsaved = {attr.key: attr.value for attr in sa.inspect(harvest_object).attrs if attr.history.has_changes()}
        for _attempt in range(NAME_ATTEMPTS):
            try:
                return self._import_object(harvest_object)
            except _NameTaken:
                model.Session.rollback()
                for key, value in unsaved.items():  # what the caller set and had not committed (the stage times)
                    setattr(harvest_object, key, value)
        # Every name tried was taken first: refused as CKAN's validation would have refused it.
        self._save_object_error(tk._("The dataset was refused: {errors}").format(errors=json.dumps(
            {"Name": tk._("That URL is already in use.")}, ensure_ascii=False)), harvest_object, "Import")
        return False

    def _import_object(self, harvest_object: Any) -> bool | str:
        # ckanext-harvest may deliver an object twice (harvest_jobs_run resubmits WAITING objects that a
        # fetch worker has popped but not started): an object already imported is not imported again.
        # True, not "unchanged": it is reported as it was the first time (added, updated).
        if harvest_object.current and harvest_object.package_id and model.Package.get(harvest_object.package_id):
            return True
        context = {"user": self._get_user_name(), "ignore_auth": True, HARVEST_CONTEXT_FLAG: True,
                   "return_id_only": True}
        status, previous = self._status_and_previous(harvest_object)
        try:
            if status == "withdraw":
                return self._withdraw(harvest_object, previous, context)
            dataset = json.loads(harvest_object.content or "null")
            if not isinstance(dataset, dict):
                self._save_object_error(tk._("Empty content"), harvest_object, "Import")
                return False
            target = previous.package_id if previous is not None else harvest_object.package_id
            creating = status == "create" or target is None or model.Package.get(target) is None
            # The GUID's link (this object current, the previous one no longer) goes into the dataset's own
            # commit: the dataset and the link to it are written together or not at all (a crash between
            # two commits would leave a dataset no current object points to, and the next harvest would
            # create it a second time). Indexing inside package_create already sees the dataset's source.
            if previous is not None:
                previous.current = False
                previous.add()
            harvest_object.current = True
            harvest_object.add()
            # What ckanext-harvest's stages compute afterwards with a query; stages.py keeps it as is.
            harvest_object.report_status = "added" if creating else "updated"
            if status == "takeover":
                # The other source's record of the dataset is no longer current: it will meet the dataset
                # as a duplicate owned by this source from now on.
                (model.Session.query(HarvestObject)
                 .filter(HarvestObject.package_id == target, HarvestObject.current.is_(True),
                         HarvestObject.harvest_source_id != harvest_object.harvest_source_id)
                 .update({"current": False}, synchronize_session=False))
            if creating:
                self._create(harvest_object, dataset, context)
            else:
                self._update(harvest_object, target, dataset, context, restore=status == "restore")
        except tk.ValidationError as error:
            model.Session.rollback()  # the links above too
            self._save_object_error(tk._("The dataset was refused: {errors}").format(
                errors=json.dumps(error.error_summary, ensure_ascii=False)[:1000]), harvest_object, "Import")
            return False
        return True

    @staticmethod
    def _status_and_previous(harvest_object: Any) -> tuple[str | None, Any]:
        """The gather's decision for the object (its status extra) and the source's current object for
        the same GUID, if any, in one query: each query an import adds counts against package_create."""
        extra = HarvestObjectExtra.__table__
        previous = _PREVIOUS_OBJECT
        row = model.Session.execute(
            sa.select(extra.c.value, previous.c.id)
            .select_from(extra.outerjoin(previous, sa.and_(
                previous.c.guid == harvest_object.guid, previous.c.current.is_(True),
                previous.c.harvest_source_id == harvest_object.harvest_source_id,
                previous.c.id != harvest_object.id)))
            .where(extra.c.harvest_object_id == harvest_object.id, extra.c.key == STATUS_KEY)
            .limit(1)
        ).first()
        if row is not None:
            # Loaded only when there is one (an update): a new dataset, the common case, costs no more.
            return row[0], model.Session.get(HarvestObject, row[1]) if row[1] else None
        # No status (an object another harvester wrote): the current object alone.
        return None, (
            model.Session.query(HarvestObject)
            .filter(HarvestObject.guid == harvest_object.guid, HarvestObject.current.is_(True),
                    HarvestObject.harvest_source_id == harvest_object.harvest_source_id,
                    HarvestObject.id != harvest_object.id)
            .first()
        )

    def _new_name(self, title: str) -> str:
        """ckanext-harvest's name for a new dataset (the title munged, a number appended when taken), with
        the common case first: the munged title is free, which one indexed lookup says, where
        ``_gen_new_name`` reads every name starting like it (ILIKE: a scan of the package table)."""
        ideal = re.sub("-+", "-", munge_title_to_name(title))[:PACKAGE_NAME_MAX_LENGTH]
        if model.Session.query(model.Package.id).filter(model.Package.name == ideal).first() is None:
            return ideal
        return self._gen_new_name(title)

    def _create(self, harvest_object: Any, dataset: dict[str, Any], context: dict[str, Any]) -> None:
        dataset["id"] = str(uuid.uuid4())
        dataset["name"] = self._new_name(dataset.get("title") or harvest_object.guid)
        harvest_object.package_id = dataset["id"]
        harvest_object.add()
        # The harvest object refers to the package before it exists (ckanext-dcat does the same): the
        # check waits for the commit, and package_create's own flush writes both, in one transaction.
        model.Session.execute(sa.text("SET CONSTRAINTS harvest_object_package_id_fkey DEFERRED"))
        try:
            tk.get_action("package_create")(dict(context), dataset)
        except (sa.exc.IntegrityError, tk.ValidationError) as error:
            # Another transaction took the name (import_stage): committed before our validation read it
            # ("That URL is already in use."); inserted before ours (the unique index's IntegrityError); or
            # committed between our validation and our insert, when CKAN's table_dict_save, finding no
            # package with our id, takes the one with our name and rewrites it, id included: the other
            # dataset's harvest object still points to the old id, and the deferred foreign key refuses
            # our commit (an IntegrityError too). Whichever, the name now belongs to another dataset.
            if isinstance(error, tk.ValidationError) and set(error.error_dict) != {"name"}:
                raise
            model.Session.rollback()
            if not _taken_by_another(dataset["name"], dataset["id"]):
                raise
            if isinstance(error, sa.exc.IntegrityError):
                # Refused at the commit, our dataset was already in the search index (package_create
                # indexes before it commits): out of it, or a search would list a dataset that is not.
                search.clear(dataset["id"])
            raise _NameTaken(dataset["name"]) from error

    def _update(self, harvest_object: Any, package_id: str, dataset: dict[str, Any], context: dict[str, Any], *,
                restore: bool) -> None:
        package = model.Package.get(package_id)
        dataset["id"] = package.id
        dataset["name"] = package.name  # a renamed remote slug is the same dataset
        # Keep resource ids stable: a resource is the one with the same URL as before.
        ids_by_url = {r.url: r.id for r in package.resources_all if r.state == "active"}
        for resource in dataset.get("resources") or []:
            if resource.get("url") in ids_by_url:
                resource["id"] = ids_by_url.pop(resource["url"])
        if restore:
            dataset["state"] = "active"
        harvest_object.package_id = package.id
        harvest_object.add()
        tk.get_action("package_update")(dict(context), dataset)

    def _withdraw(self, harvest_object: Any, previous: Any, context: dict[str, Any]) -> bool:
        with contextlib.suppress(tk.ObjectNotFound):  # already gone: withdrawn is withdrawn
            tk.get_action("package_delete")(dict(context), {"id": harvest_object.package_id})
        # The previous object stays current: it keeps the GUID -> package link, so the dataset comes back,
        # same id, when the source lists it again. This one is not current: ckanext-harvest reports it
        # as "deleted".
        harvest_object.current = False
        harvest_object.report_status = "deleted"
        harvest_object.add()
        model.Session.commit()
        return True


# Imports of one record tried when other transactions keep taking its name: one more than the fetch
# workers creating same-titled datasets at that moment is enough.
NAME_ATTEMPTS = 10


class _NameTaken(Exception):
    """Another transaction's dataset took the name chosen for a new dataset, between choice and insert."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _taken_by_another(name: str, package_id: str) -> bool:
    """Whether a dataset other than ``package_id`` has the name now (read after our rollback)."""
    return model.Session.query(model.Package.id).filter(model.Package.name == name,
                                                        model.Package.id != package_id).first() is not None


def shadowing_message(key: str, replacement: str | None = None) -> str:
    message = tk._('Configuration key "{key}": it is the name of a field of the harvest source, which it would '
                   'replace in the source\'s record.').format(key=str(key)[:80])
    if replacement:
        return message + " " + tk._('Use "{new}" instead.').format(new=replacement)
    return message + " " + tk._("Choose another name.")


def harvester_for(source_type: str) -> CommunesHarvester | None:
    for harvester in p.PluginImplementations(IHarvester):
        if harvester.info().get("name") == source_type and isinstance(harvester, CommunesHarvester):
            return harvester
    return None
