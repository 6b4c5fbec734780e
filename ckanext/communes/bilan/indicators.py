"""The programme's assessment (bilan): every indicator per commune (the 58 of the registry, with or without
an organisation or datasets) and per group of communes (bilan/groups.py), in bulk.

Where the figures come from (definitions: data/indicators.yaml):
- ONE Solr JSON-facet request (bilan/facets.py): per commune, the count, first/last creation date and
  the vocab_bilan keys (scores, months, licences, sources, missed criteria, frequency and SCDL flags);
  per convention, the datasets of the year before / after its signature and their scores;
- three SQL aggregates (bilan/sql.py): commune organisations, link checks, harvest source titles;
- the registry (communes, populations) and the programme rules (obligation, convention state).

Dates of publication are CKAN's ``metadata_created`` (when the dataset appeared on the portal: what
the programme measures), not the DCAT ``issued`` a source may declare, which predates the portal or is
missing. Shapes: dev/bilan-contract.md and the README.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import os
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml

from ckanext.communes.bilan import cache, facets, groups, mqa, sql
from ckanext.communes.bilan.facets import Tally, Window, WindowTally
from ckanext.communes.bilan.sql import CommuneOrg, LinkCounts
from ckanext.communes.communes import programme, registry
from ckanext.communes.communes.obligation import obligation
from ckanext.communes.translation import N_, gettext

DATA_DIR = os.path.join(os.path.dirname(__file__), "data")
GROUP_BY = ("commune", "phase")
SHARE_DIGITS = 4
SCORE_DIGITS = 2
WINDOW_DAYS = 365
HISTOGRAM_BINS = 10
MANUAL_SOURCE = "manual"
UNLISTED_SOURCE = "unlisted"  # the harvest sources that are private or deleted, counted together
UNLISTED_TITLE = N_("Harvest source not public (private or deleted)")
MANUAL_TITLE = N_("Published by hand")
OUR_SOURCE_TITLES = {MANUAL_SOURCE: MANUAL_TITLE, UNLISTED_SOURCE: UNLISTED_TITLE}
OBLIGED_STATUSES = frozenset({"obliged", "probably_obliged"})

# English msgids of the indicators (French in the catalogue); keys and units: data/indicators.yaml.
LABELS: dict[str, str] = {
    "datasets": N_("Datasets published"),
    "datasets_manual": N_("Published by hand"),
    "datasets_harvested": N_("Harvested"),
    "licence_compliant_share": N_("Licence on the CRPA list (share)"),
    "quality_mean": N_("Mean quality score"),
    "quality_median": N_("Median quality score"),
    "up_to_date_share": N_("Up to date with their declared frequency (share)"),
    "links_ok_share": N_("Working links (share)"),
    "scdl_datasets": N_("SCDL datasets"),
    "scdl_valid_share": N_("Valid SCDL datasets (share)"),
    "first_published": N_("First publication"),
    "last_published": N_("Last publication"),
    "obliged_without_data": N_("Obliged, nothing published"),
    "convention_days_left": N_("Days left in the convention"),
    "hvd_datasets": N_("High-value datasets"),
    "hvd_compliant_share": N_("High-value datasets meeting every condition (share)"),
    "mqa_points": N_("data.europa.eu quality rating (MQA, out of 405)"),
}


# ------------------------------------------------------------------------------------------ data files

@functools.cache
def definitions() -> tuple[dict[str, Any], ...]:
    with open(os.path.join(DATA_DIR, "indicators.yaml"), encoding="utf-8") as handle:
        loaded = tuple(yaml.safe_load(handle)["indicators"])
    keys = [item["key"] for item in loaded]
    if keys != list(LABELS):
        raise ValueError(f"data/indicators.yaml lists {keys}, indicators.LABELS {list(LABELS)}")
    return loaded


def indicator_keys() -> list[str]:
    return [item["key"] for item in definitions()]


def indicators() -> list[dict[str, str]]:
    """``[{"key", "label", "unit"}]`` in table order, labels in the current language."""
    labels = {key: gettext(msgid) for key, msgid in LABELS.items()}
    return [{"key": item["key"], "label": labels[item["key"]], "unit": item["unit"]} for item in definitions()]


def numeric_keys() -> list[str]:
    return [item["key"] for item in definitions() if item["unit"] in ("count", "share", "score", "days")]


@functools.cache
def relevant_scdl_schemas() -> tuple[str, ...]:
    """SCDL vocabulary codes a commune could publish (data/scdl-communes.csv): every schema of the list
    but the cycling facilities, the Métropole's competence (roads) in Lyon."""
    with open(os.path.join(DATA_DIR, "scdl-communes.csv"), encoding="utf-8", newline="") as handle:
        return tuple(row["code"].strip() for row in csv.DictReader(handle) if row["code"].strip())


@functools.lru_cache(maxsize=256)
def scdl_label(code: str) -> str:
    from ckanext.communes.vocabularies import get_vocabulary

    term = get_vocabulary("scdl-schema").lookup(code)
    return term.label("fr") if term is not None else code


# -------------------------------------------------------------------------------------------- figures

def share(part: int, whole: int) -> float | None:
    return round(part / whole, SHARE_DIGITS) if whole else None


def quality_mean(scores: Iterable[tuple[int, int]]) -> float | None:
    pairs = list(scores)
    total = sum(count for _score, count in pairs)
    return round(sum(score * count for score, count in pairs) / total, SCORE_DIGITS) if total else None


def quality_median(scores: dict[int, int]) -> float | None:
    total = sum(scores.values())
    if not total:
        return None
    middle = [(total - 1) // 2, total // 2]  # 0-based ranks of the middle value(s)
    found: list[int] = []
    seen = 0
    for score in sorted(scores):
        count = scores[score]
        found += [score for rank in middle if seen <= rank < seen + count]
        seen += count
    return round(sum(found) / 2, SCORE_DIGITS)


def histogram(scores: dict[int, int]) -> list[int]:
    """Datasets per score tenth: 0-9, 10-19, ..., 80-89, 90-100."""
    bins = [0] * HISTOGRAM_BINS
    for score, count in scores.items():
        bins[min(max(score, 0) // 10, HISTOGRAM_BINS - 1)] += count
    return bins


def _day(when: dt.datetime | None) -> str | None:
    return when.date().isoformat() if when is not None else None


def _date(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value or "").strip()[:10])
    except ValueError:
        return None


@functools.lru_cache(maxsize=1024)
def _authorised(licence_value: str) -> bool:
    from ckanext.communes.licences.policy import compliance_of_value

    return compliance_of_value(licence_value) == "authorised"


def licence_compliant(licences: dict[str, int]) -> int:
    """Datasets whose licence value (as indexed: an id, or what a harvested source wrote) is on the CRPA list."""
    return sum(count for value, count in licences.items() if _authorised(value))


def figures(tally: Tally, links: LinkCounts) -> dict[str, Any]:
    """The values a commune and a group compute alike from their counts."""
    harvested = sum(tally.sources.values())
    has_data = tally.datasets > 0
    return {
        "datasets": tally.datasets,
        "datasets_manual": tally.datasets - harvested,
        "datasets_harvested": harvested,
        "licence_compliant_share": share(licence_compliant(tally.licences), tally.datasets) if has_data else None,
        "quality_mean": quality_mean(tally.scores.items()),
        "quality_median": quality_median(tally.scores),
        "up_to_date_share": share(tally.frequency_respected, tally.frequency_declared),
        "links_ok_share": share(links.ok, links.checked),
        "scdl_datasets": tally.scdl_declared,
        "scdl_valid_share": share(tally.scdl_valid, tally.scdl_declared),
        "hvd_datasets": tally.hvd_datasets,
        "hvd_compliant_share": share(tally.hvd_compliant, tally.hvd_datasets),
        "first_published": _day(tally.first),
        "last_published": _day(tally.last),
    }


# -------------------------------------------------------------------------------------------- details

def _unlisted(count: int) -> dict[str, Any]:
    return {"source": UNLISTED_SOURCE, "title": gettext(UNLISTED_TITLE), "count": count}


def by_source(tally: Tally, titles: dict[str, str]) -> list[dict[str, Any]]:
    """Datasets per harvest source, then those published by hand. ``titles`` has the public sources only
    (sql.harvest_source_titles): the datasets of a private or deleted source are counted under one
    "unlisted" entry, without its id or title."""
    entries = [{"source": source, "title": titles[source], "count": count}
               for source, count in tally.sources.items() if source in titles]
    unlisted = sum(count for source, count in tally.sources.items() if source not in titles)
    if unlisted:
        entries.append(_unlisted(unlisted))
    manual = tally.datasets - sum(tally.sources.values())
    if manual > 0:
        entries.append({"source": MANUAL_SOURCE, "title": gettext(MANUAL_TITLE), "count": manual})
    return sorted(entries, key=lambda entry: (-entry["count"], entry["title"]))


def listed_sources(entries: list[dict[str, Any]], public: set[str]) -> list[dict[str, Any]]:
    """A frozen ``by_source`` list with the sources that are no longer public (made private or deleted
    since the snapshot) folded into the "unlisted" entry: a snapshot keeps its counts, not their names."""
    kept = [dict(entry) for entry in entries if entry.get("source") in public | {MANUAL_SOURCE, UNLISTED_SOURCE}]
    hidden = sum(int(entry.get("count") or 0) for entry in entries
                 if entry.get("source") not in public | {MANUAL_SOURCE, UNLISTED_SOURCE})
    if not hidden:
        return kept
    found = next((entry for entry in kept if entry["source"] == UNLISTED_SOURCE), None)
    if found is None:
        kept.append(_unlisted(hidden))
    else:
        found["count"] = int(found.get("count") or 0) + hidden
    return sorted(kept, key=lambda entry: (-entry["count"], entry["title"]))


def missed_criteria(tally: Tally) -> list[dict[str, Any]]:
    from ckanext.communes.quality import score

    order = [item["id"] for item in score.criteria()]
    missed = [{"criterion": cid, "label": score.criterion_label(cid), "count": tally.missed[cid]}
              for cid in order if tally.missed.get(cid)]
    return sorted(missed, key=lambda entry: -entry["count"])  # stable: criteria order among equals


def scdl_published(tally: Tally) -> list[dict[str, Any]]:
    entries = [{"schema": code, "label": scdl_label(code), "datasets": count,
                "valid": tally.scdl_valid_schemas.get(code, 0)} for code, count in tally.scdl_schemas.items()]
    return sorted(entries, key=lambda entry: (-entry["datasets"], entry["label"]))


def scdl_missing(published: set[str]) -> list[dict[str, Any]]:
    return [{"schema": code, "label": scdl_label(code)} for code in relevant_scdl_schemas() if code not in published]


def hvd_conditions(tally: Tally) -> list[dict[str, Any]]:
    """Per condition of regulation (EU) 2023/138 (quality/hvd.py), how many High-Value Datasets meet it."""
    from ckanext.communes.quality import hvd

    return [{"condition": key, "label": hvd.condition_label(key), "met": tally.hvd_met.get(key, 0)}
            for key in hvd.CONDITION_KEYS]


def per_month(tally: Tally) -> list[dict[str, Any]]:
    return [{"month": month, "count": tally.months[month]} for month in sorted(tally.months)]


def before_after(before: WindowTally, after: WindowTally) -> dict[str, Any]:
    return {"datasets_before": before.datasets, "datasets_after": after.datasets,
            "quality_before": quality_mean(before.scores.items()), "quality_after": quality_mean(after.scores.items())}


# ---------------------------------------------------------------------------------------------- rows

@dataclass
class CommuneState:
    """Everything a commune row is made of, kept for its groups."""

    commune: registry.Commune
    org: CommuneOrg | None
    partner_status: str
    obligation_status: str
    convention: dict[str, Any]
    tally: Tally
    links: LinkCounts
    windows: tuple[WindowTally, WindowTally] | None  # (before, after) when a convention was signed
    row: dict[str, Any] = field(default_factory=dict)

    @property
    def obliged(self) -> bool:
        return self.obligation_status in OBLIGED_STATUSES


def _partner_status(commune: registry.Commune, org: CommuneOrg | None) -> str:
    """The organisation's status; the 2019 deliberation's phase for a commune without organisation."""
    status = (org.extras.get("partner_status") if org is not None else commune.phase_2019) or "none"
    return status if status in programme.PARTNER_STATUSES else "none"


def _convention(extras: dict[str, Any], today: dt.date) -> dict[str, Any]:
    state = programme.convention_state(extras.get("convention_signed"), extras.get("convention_end"), today=today)
    signed = _date(extras.get("convention_signed"))
    return {"state": state["state"], "signed": signed.isoformat() if signed else None, "end": state["end"],
            "days_left": state["days_left"]}


def windows_of(states: list[CommuneState], orgs: dict[str, CommuneOrg]) -> list[Window]:
    """Two windows (before, after) per commune whose convention has a signature date, in commune order."""
    found = []
    for state in states:
        signed = _date(state.convention["signed"])
        if signed is not None:
            value = str(orgs[state.commune.insee].extras.get("insee_code"))
            span = dt.timedelta(days=WINDOW_DAYS)
            found += [Window(value, signed - span, signed), Window(value, signed, signed + span)]
    return found


def commune_row(state: CommuneState, titles: dict[str, str]) -> dict[str, Any]:
    values = figures(state.tally, state.links)
    values["obliged_without_data"] = state.obliged and state.tally.datasets == 0
    values["convention_days_left"] = state.convention["days_left"]
    published = scdl_published(state.tally)
    return {
        "key": state.commune.insee,
        "name": state.commune.name,
        "kind": "commune",
        "partner_status": state.partner_status,
        "obliged": state.obliged,
        "obligation": state.obligation_status,
        "organization": state.org.name if state.org else None,
        "population": state.commune.population,
        "values": values,
        "details": {
            "by_source": by_source(state.tally, titles),
            "missed_criteria": missed_criteria(state.tally),
            "scdl_published": published,
            "scdl_missing": scdl_missing({entry["schema"] for entry in published}),
            "per_month": per_month(state.tally),
            "quality_histogram": histogram(state.tally.scores),
            "hvd_conditions": hvd_conditions(state.tally),
            "convention": dict(state.convention),
            "before_after": before_after(*state.windows) if state.windows else None,
        },
    }


def medians(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    """Median over the communes of each numeric indicator (communes without a value left out)."""
    found: dict[str, float | None] = {}
    for key in numeric_keys():
        numbers = [row["values"][key] for row in rows if isinstance(row["values"].get(key), (int, float))
                   and not isinstance(row["values"][key], bool)]
        found[key] = round(statistics.median(numbers), SHARE_DIGITS) if numbers else None
    return found


def group_row(group: groups.Group, members: list[CommuneState], tally: Tally, links: LinkCounts,
              titles: dict[str, str]) -> dict[str, Any]:
    """A group's row from its communes and their summed counts."""
    values = figures(tally, links)
    values["obliged_without_data"] = sum(1 for state in members if state.row["values"]["obliged_without_data"])
    values["convention_days_left"] = None
    published = scdl_published(tally)
    signed = [state for state in members if state.windows]
    before, after = WindowTally(), WindowTally()
    for state in signed:
        for total, part in zip((before, after), state.windows or (), strict=True):
            total.datasets += part.datasets
            total.scores.update(part.scores)
    states: dict[str, int] = {}
    for state in members:
        states[state.convention["state"]] = states.get(state.convention["state"], 0) + 1
    missing = []
    for code in relevant_scdl_schemas():
        without = sum(1 for state in members if code not in state.tally.scdl_schemas)
        if without:
            missing.append({"schema": code, "label": scdl_label(code), "communes": without})
    return {
        "key": group.key,
        "name": group.name,
        "kind": "group",
        "communes": len(members),
        "obliged": sum(1 for state in members if state.obliged),
        "members": [state.commune.insee for state in members],
        "values": values,
        "medians": medians([state.row for state in members]),
        "details": {
            "by_source": by_source(tally, titles),
            "missed_criteria": missed_criteria(tally),
            "scdl_published": published,
            "scdl_missing": missing,
            "per_month": per_month(tally),
            "quality_histogram": histogram(tally.scores),
            "hvd_conditions": hvd_conditions(tally),
            "convention": {"state": None, "signed": None, "end": None, "days_left": None, "states": states},
            "before_after": dict(before_after(before, after), communes=len(signed)) if signed else None,
        },
    }


# ------------------------------------------------------------------------------------------- compute

def _tallies_by_commune(tallies: dict[str, Tally]) -> dict[str, Tally]:
    """Index values (an organisation's INSEE code, or its name for the Métropole) -> current communes."""
    found: dict[str, Tally] = {}
    for value, tally in tallies.items():
        commune = registry.get_commune(value) if registry.INSEE_RE.match(value) else None
        if commune is not None:
            found.setdefault(commune.insee, Tally()).add(tally)
    return found


def commune_states(today: dt.date) -> list[CommuneState]:
    """The 58 communes with their organisation, programme fields and link checks (SQL), no counts yet."""
    orgs = sql.commune_orgs()
    links = sql.link_counts()
    states = []
    for commune in registry.all_communes():
        org = orgs.get(commune.insee)
        extras = org.extras if org else {}
        states.append(CommuneState(
            commune=commune, org=org, partner_status=_partner_status(commune, org),
            obligation_status=obligation(extras.get("population") or commune.population,
                                         extras.get("agents_fte") or None).status,
            convention=_convention(extras, today), tally=Tally(), links=links.get(commune.insee, LinkCounts()),
            windows=None))
    return states


def count_datasets(states: list[CommuneState]) -> None:
    """Fill each commune's counts and convention windows from the one Solr request."""
    windows = windows_of(states, {state.commune.insee: state.org for state in states if state.org})
    tallies, window_tallies = facets.run(windows)
    by_commune = _tallies_by_commune(tallies)
    pairs = iter(zip(window_tallies[0::2], window_tallies[1::2], strict=True))
    for state in states:
        state.tally = by_commune.get(state.commune.insee, Tally())
        if state.convention["signed"] is not None:
            state.windows = next(pairs)


def _summed(parts: list[tuple[Tally, LinkCounts]]) -> tuple[Tally, LinkCounts]:
    tally, links = Tally(), LinkCounts()
    for part_tally, part_links in parts:
        tally.add(part_tally)
        links.add(part_links)
    return tally, links


def add_mqa(states: list[CommuneState], rows: list[dict[str, Any]]) -> None:
    """data.europa.eu's MQA (quality/mqa.py) of each commune's public datasets and of each group's (pooled:
    recomputed over all its datasets), from the stored evidence read once: ``values["mqa_points"]`` (None
    while none of them was checked) and ``details["mqa"]`` (rating, datasets, pending, points per dimension)."""
    evidence_by_org = mqa.public_evidence_by_org([state.org.id for state in states if state.org])

    def summary(evidences: list[Any]) -> tuple[float | None, dict[str, Any]]:
        result = mqa.assess_evidence(evidences)
        points = round(result["points"], SCORE_DIGITS) if result["datasets"] else None
        return points, {"rating": result["rating"], "rating_label": result["rating_label"],
                        "datasets": result["datasets"], "pending": result["pending"],
                        "dimensions": {d["name"]: round(d["points"], SCORE_DIGITS) for d in result["dimensions"]}}

    by_commune: dict[str, list[Any]] = {}
    for state in states:
        by_commune[state.commune.insee] = evidence_by_org.get(state.org.id, []) if state.org else []
        state.row["values"]["mqa_points"], state.row["details"]["mqa"] = summary(by_commune[state.commune.insee])
    points = {state.commune.insee: state.row["values"]["mqa_points"] for state in states}
    for row in rows:
        members = [e for insee in row["members"] for e in by_commune.get(insee, [])]
        row["values"]["mqa_points"], row["details"]["mqa"] = summary(members)
        numbers = [points[insee] for insee in row["members"] if points.get(insee) is not None]
        row["medians"]["mqa_points"] = round(statistics.median(numbers), SHARE_DIGITS) if numbers else None


def group_rows(states: list[CommuneState], titles: dict[str, str]) -> list[dict[str, Any]]:
    """The groups' rows, in groups.GROUPS order. The phase groups partition the communes (groups.py checks
    it): the whole Métropole adds up their totals rather than its 58 communes again."""
    members = {group.key: [state for state in states if group.includes(state.partner_status)]
               for group in groups.GROUPS}
    phases = [group.key for group in groups.GROUPS if group.statuses]
    totals = {key: _summed([(state.tally, state.links) for state in members[key]]) for key in phases}
    totals[groups.ALL_COMMUNES] = _summed([totals[key] for key in phases])
    return [group_row(group, members[group.key], *totals[group.key], titles) for group in groups.GROUPS]


def build(today: dt.date | None = None) -> dict[str, Any]:
    """Today's bilan, both groupings: ``{"generated_at", "communes": [rows], "groups": [rows]}``.
    Never cached (snapshots freeze exactly this)."""
    states = commune_states(today or dt.date.today())
    count_datasets(states)
    titles = sql.harvest_source_titles(source for state in states for source in state.tally.sources)
    for state in states:
        state.row = commune_row(state, titles)
    group_list = group_rows(states, titles)
    add_mqa(states, group_list)
    from ckanext.communes.quality import background

    return {
        "generated_at": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        # Datasets still waiting for their quality checks when the figures were computed (issue #20):
        # their score, SHACL and link figures were those of before the checks.
        "pending_checks": background.waiting_count(),
        "communes": [state.row for state in states],
        "groups": group_list,
    }


def _our_source_titled(entry: dict[str, Any]) -> dict[str, Any]:
    msgid = OUR_SOURCE_TITLES.get(str(entry.get("source")))
    return dict(entry, title=gettext(msgid)) if msgid else entry


def shaped(full: dict[str, Any], group_by: str, snapshot: dict[str, Any] | None = None) -> dict[str, Any]:
    """The contract's shape for one grouping of a full bilan (today's or a snapshot's payload)."""
    rows = full["communes"] if group_by == "commune" else full["groups"]
    if group_by == "phase":
        for row in rows:  # names follow the reader's language, also in a snapshot
            found = groups.get_group(row["key"])
            row["name"] = found.name if found else row["name"]
    for row in rows:  # so do the titles of the two source entries that are ours (frozen in the taker's)
        details = row.get("details") or {}
        if any(entry.get("source") in OUR_SOURCE_TITLES for entry in details.get("by_source") or ()):
            row["details"] = dict(details, by_source=[_our_source_titled(entry) for entry in details["by_source"]])
    return {"generated_at": full["generated_at"], "pending_checks": int(full.get("pending_checks") or 0),
            "snapshot": snapshot, "group_by": group_by, "indicators": indicators(), "rows": rows}


def _language() -> str:
    try:
        from ckan.lib.i18n import get_lang

        return str(get_lang() or "fr")
    except Exception:  # noqa: BLE001 - outside a request: the default language
        return "default"


def compute(group_by: str = "commune", today: dt.date | None = None) -> dict[str, Any]:
    """Today's figures for one grouping (``commune``: 58 rows; ``phase``: the 5 groups), cached (cache.py)."""
    if group_by not in GROUP_BY:
        raise ValueError(f"group_by must be one of {GROUP_BY}, not {group_by!r}")
    today = today or dt.date.today()

    def both() -> dict[str, dict[str, Any]]:
        full = build(today)
        return {name: shaped(full, name) for name in GROUP_BY}

    return cache.cached((_language(), today.isoformat()), both, group_by)
