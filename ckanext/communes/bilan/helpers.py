"""Template helpers of the bilan, and the pure functions the page is built from: French formatting of a
figure by its unit, the commune table's sort, the charts' series (with their text alternative), the
side-by-side group table, the comparison tables and the commune dashboard.

The figures come from the core (bilan/indicators.py, bilan/snapshots.py) in the shape of
dev/bilan-contract.md; nothing here computes an indicator, it only arranges and formats them."""

from __future__ import annotations

import datetime
import re
import unicodedata
from typing import Any

import ckan.plugins.toolkit as tk
from ckan import authz

from ckanext.communes.bilan import groups as bilan_groups
from ckanext.communes.communes import programme
from ckanext.communes.communes.helpers import communes_number
from ckanext.communes.quality import mqa as quality_mqa
from ckanext.communes.quality import score
from ckanext.communes.translation import N_, gettext, ngettext

# The group rows of group_by=phase, in the order the page shows them side by side (the core's order).
GROUP_KEYS: tuple[str, ...] = bilan_groups.GROUP_KEYS
# The phase groups the per-phase charts draw (the whole Métropole would flatten the others).
PHASE_KEYS: tuple[str, ...] = tuple(key for key in GROUP_KEYS if key != bilan_groups.ALL_COMMUNES)
# Units the dashboard compares with the phase's median (higher is better for all of them).
COMPARABLE_UNITS: tuple[str, ...] = ("count", "share", "score")
# Column keys of the commune table that are not indicators.
NAME_SORT_KEYS: tuple[str, ...] = ("name", "partner_status")
QUALITY_BUCKETS: tuple[str, ...] = tuple(f"{low}–{low + 9}" for low in range(0, 90, 10)) + ("90–100",)
# A line chart over more months than this (a date typo in 1900, say) keeps only the months that have data.
MAX_TIMELINE_MONTHS = 600
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
DASHBOARD_DATASETS = 10  # datasets listed on the dashboard, worst first

CHART_TITLES = {
    "datasets_over_time": N_("Datasets published over time, per phase (cumulative)"),
    "quality_histogram": N_("Quality score distribution, per phase (number of datasets)"),
    "licence_compliance": N_("Share of datasets under a licence of the legal list (CRPA D323-2-1), per phase"),
    "scdl_coverage": N_("Datasets following an SCDL schema, per schema and phase"),
    "mqa_by_group": N_("data.europa.eu quality rating (MQA, out of 405), per group"),
    "mqa_by_commune": N_("data.europa.eu quality rating (MQA, out of 405), per commune (assessed communes)"),
}
# The indicator of data.europa.eu's MQA (issue #25): shown with "out of 405" and its rating, not as a plain score.
MQA_KEY = "mqa_points"


# ---------------------------------------------------------------------------------------------- formatting

def _decimal(number: float, digits: int = 1) -> str:
    """French decimal: 82.5 -> '82,5', 100.0 -> '100', 1234.0 -> '1 234'."""
    text = f"{number:,.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace(",", "\u202f").replace(".", ",")


def _date(value: Any) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(str(value)[:10])
    except (TypeError, ValueError):
        return None


def communes_bilan_format(value: Any, unit: str) -> str:
    """A figure as the page shows it, by its unit; '—' when there is none (no dataset, no convention)."""
    if value is None or value == "":
        return "—"
    if unit == "flag":
        if isinstance(value, bool):
            return gettext("Yes") if value else gettext("No")
        return communes_number(value)
    if unit == "share":
        return _decimal(float(value) * 100) + "\u202f%"
    if unit == "score":
        return _decimal(float(value))
    if unit == "date":
        day = _date(value)
        return day.strftime("%d/%m/%Y") if day else str(value)
    if unit == "days":
        return gettext("{count} d").format(count=communes_number(value))
    return communes_number(value)


def mqa_state(value: Any, details: dict[str, Any] | None) -> str:
    """The MQA's rating name (excellent, good, sufficient, bad), or why there is none: ``pending`` while none
    of the datasets was checked yet, ``none`` without any public dataset."""
    mqa_details = details or {}
    if value is None:
        return "pending" if mqa_details.get("pending") else "none"
    return str(mqa_details.get("rating") or quality_mqa.rating(float(value))["name"])


def mqa_text(value: Any, details: dict[str, Any] | None) -> str:
    """The MQA as the tables write it: '287,5 sur 405 — Bon'; 'en attente' while none of the datasets was
    checked yet; '—' without any public dataset (the page's note says so). The rating's label is the
    method's for the rating's name (a snapshot froze the label in its taker's language)."""
    state = mqa_state(value, details)
    if state == "pending":
        return gettext("pending (MQA not checked yet)")
    if state == "none":
        return "—"
    label = next((r["label"] for r in quality_mqa.method()["ratings"] if r["name"] == state), "")
    text = gettext("{points} out of {max}").format(points=_decimal(float(value)), max=quality_mqa.method()["max"])
    return f"{text} — {label}" if label else text


def communes_bilan_delta(change: dict[str, Any], unit: str) -> str:
    """The difference between two figures: '+3', '−12,5 pts' (shares, in percentage points), '=' when
    equal; '' when one side is missing or the unit has no arithmetic (dates, flags)."""
    delta = change.get("delta")
    if unit in ("date",) or isinstance(change.get("a"), bool) or isinstance(change.get("b"), bool):
        return ""
    if delta is None:
        return ""
    number = float(delta) * (100 if unit == "share" else 1)
    if number == 0:
        return "="
    sign = "+" if number > 0 else "\u2212"
    text = sign + _decimal(abs(number))
    return text + "\u202fpts" if unit == "share" else text


def communes_bilan_snapshot_title(bilan: dict[str, Any]) -> str:
    """'Bilan phase 1 (figé le 28/11/2026)' or 'Today's figures (28/11/2026)'."""
    snapshot = bilan.get("snapshot")
    if snapshot:
        return gettext("{label} (frozen on {date})").format(
            label=snapshot.get("label") or snapshot.get("id"),
            date=communes_bilan_format(snapshot.get("created"), "date"))
    return gettext("Today's figures ({date})").format(date=communes_bilan_format(bilan.get("generated_at"), "date"))


def communes_bilan_meta_label(meta: dict[str, Any] | None) -> str:
    """One side of a comparison: a snapshot's label and date, or today's figures."""
    if meta and meta.get("label") and meta.get("id") not in (None, "today"):
        return gettext("{label} (frozen on {date})").format(
            label=meta["label"], date=communes_bilan_format(meta.get("created"), "date"))
    return gettext("Today's figures")


# ---------------------------------------------------------------------------------------------- rows

def units(bilan: dict[str, Any]) -> dict[str, str]:
    return {item["key"]: item.get("unit", "count") for item in bilan.get("indicators", [])}


def labels(bilan: dict[str, Any]) -> dict[str, str]:
    return {item["key"]: item.get("label", item["key"]) for item in bilan.get("indicators", [])}


def rows_by_key(bilan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["key"]: row for row in bilan.get("rows", [])}


def group_rows(phase_bilan: dict[str, Any]) -> list[dict[str, Any]]:
    """The group rows in the page's order (a group the core does not return is left out)."""
    found = rows_by_key(phase_bilan)
    return [found[key] for key in GROUP_KEYS if key in found]


def sort_keys(bilan: dict[str, Any]) -> tuple[str, ...]:
    """The columns the commune table may be sorted by."""
    return NAME_SORT_KEYS + tuple(item["key"] for item in bilan.get("indicators", []))


def _name_key(text: Any) -> str:
    """Accents and case ignored, as a French reader sorts (Écully between Dardilly and Feyzin)."""
    decomposed = unicodedata.normalize("NFKD", str(text or ""))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def sort_commune_rows(rows: list[dict[str, Any]], key: str, descending: bool) -> list[dict[str, Any]]:
    """The commune rows sorted by a column; rows without a figure come last in both directions, and
    ties keep the order by name."""
    by_name = sorted(rows, key=lambda row: _name_key(row.get("name")))
    if key == "name":
        return list(reversed(by_name)) if descending else by_name
    if key == "partner_status":
        order = {status: i for i, status in enumerate(programme.PARTNER_STATUSES)}

        def value_of(row: dict[str, Any]) -> Any:
            return order.get(row.get("partner_status") or "none", len(order))
    else:
        def value_of(row: dict[str, Any]) -> Any:
            value = (row.get("values") or {}).get(key)
            return int(value) if isinstance(value, bool) else value

    present = [row for row in by_name if value_of(row) is not None]
    missing = [row for row in by_name if value_of(row) is None]
    # sorted() is stable: equal figures stay in name order whichever the direction.
    present.sort(key=value_of, reverse=descending)
    return present + missing


def commune_table(bilan: dict[str, Any], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The commune table's rows with their cells already formatted (58 rows x 14 indicators: formatting them in
    Python, not cell by cell in the template, keeps the page fast)."""
    indicators = [(item["key"], item.get("unit", "count")) for item in bilan.get("indicators", [])]
    table = []
    for row in rows:
        values = row.get("values") or {}
        cells = [{"key": key, "text": communes_bilan_format(values.get(key), unit),
                  "numeric": unit not in ("date", "flag")} for key, unit in indicators]
        for cell in cells:
            if cell["key"] == MQA_KEY:
                mqa_details = (row.get("details") or {}).get("mqa")
                cell.update(text=mqa_text(values.get(MQA_KEY), mqa_details),
                            mqa_rating=mqa_state(values.get(MQA_KEY), mqa_details))
        table.append({
            "key": row["key"], "name": row.get("name"), "organization": row.get("organization"),
            "partner_status": programme.partner_status_label(row.get("partner_status")),
            "obliged_without_data": bool(values.get("obliged_without_data")),
            "cells": cells,
        })
    return table


# ---------------------------------------------------------------------------------------------- headline

# Headline figures that move with the quality checks: marked when computed while some were pending.
CHECK_DEPENDENT_FIGURES = frozenset({"quality_mean", "scdl_datasets"})


def headline(commune_bilan: dict[str, Any], phase_bilan: dict[str, Any]) -> list[dict[str, Any]]:
    """The figures at the top of the report: the whole Métropole's row and counts over the communes. A
    figure that depends on the quality checks is marked ``pending`` when some were still waiting."""
    figures = _headline(commune_bilan, phase_bilan)
    pending = bool(phase_bilan.get("pending_checks") or commune_bilan.get("pending_checks"))
    for figure in figures:
        figure["pending"] = pending and figure["key"] in CHECK_DEPENDENT_FIGURES
    return figures


def _headline(commune_bilan: dict[str, Any], phase_bilan: dict[str, Any]) -> list[dict[str, Any]]:
    whole = rows_by_key(phase_bilan).get("all_communes") or {"values": {}}
    values = whole.get("values") or {}
    communes = [row for row in commune_bilan.get("rows", []) if row.get("kind", "commune") == "commune"]
    publishing = sum(1 for row in communes if (row.get("values") or {}).get("datasets"))
    partners = sum(1 for row in communes if row.get("partner_status") in ("phase1", "phase2", "generalisation"))
    return [
        {"key": "datasets", "label": gettext("Datasets published"),
         "value": communes_bilan_format(values.get("datasets"), "count"),
         "note": ngettext("of which {count} harvested", "of which {count} harvested",
                          int(values.get("datasets_harvested") or 0)).format(
             count=communes_bilan_format(values.get("datasets_harvested"), "count"))},
        {"key": "communes_publishing", "label": gettext("Communes publishing"),
         "value": communes_number(publishing),
         "note": gettext("out of {count}").format(count=communes_number(len(communes)))},
        {"key": "partners", "label": gettext("Partner communes"), "value": communes_number(partners),
         "note": gettext("phases 1, 2 and generalisation")},
        {"key": "quality_mean", "label": gettext("Mean quality score"),
         "value": communes_bilan_format(values.get("quality_mean"), "score"), "note": gettext("out of 100")},
        {"key": "licence_compliant_share", "label": gettext("Under a licence of the legal list"),
         "value": communes_bilan_format(values.get("licence_compliant_share"), "share"),
         "note": gettext("of the datasets")},
        {"key": "obliged_without_data", "label": gettext("Obliged communes with nothing published"),
         "value": communes_bilan_format(values.get("obliged_without_data"), "count"),
         "note": gettext("out of {count} obliged").format(count=communes_bilan_format(whole.get("obliged"), "count"))},
        {"key": "scdl_datasets", "label": gettext("Datasets following an SCDL schema"),
         "value": communes_bilan_format(values.get("scdl_datasets"), "count"),
         "note": gettext("{share} valid").format(share=communes_bilan_format(values.get("scdl_valid_share"), "share"))},
    ]


# ---------------------------------------------------------------------------------------------- charts

def _months_between(first: str, last: str) -> list[str]:
    year, month = int(first[:4]), int(first[5:7])
    end = (int(last[:4]), int(last[5:7]))
    months = []
    while (year, month) <= end and len(months) <= MAX_TIMELINE_MONTHS:
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _previous_month(month: str) -> str:
    year, number = int(month[:4]), int(month[5:7])
    return f"{year - 1:04d}-12" if number == 1 else f"{year:04d}-{number - 1:02d}"


def _timeline_months(rows: list[dict[str, Any]], until: str | None) -> list[str]:
    """From the month before the first dataset (the line starts at zero) to the month of the figures."""
    present = sorted({item["month"] for row in rows for item in (row.get("details") or {}).get("per_month", [])
                      if MONTH.match(str(item.get("month", "")))})
    if not present:
        return []
    last = max(present[-1], until if until and MONTH.match(until) else present[-1])
    months = _months_between(_previous_month(present[0]), last)
    return present if len(months) > MAX_TIMELINE_MONTHS else months


def _month_label(month: str) -> str:
    """'2024-02' as the reader says it: 'févr. 2024' in French."""
    try:
        from babel.dates import format_date

        return format_date(datetime.date(int(month[:4]), int(month[5:7]), 1), "MMM y", locale=_language())
    except (ValueError, LookupError):
        return month


def _language() -> str:
    try:
        return str(tk.h.lang() or "fr")
    except (RuntimeError, AttributeError, TypeError):  # outside a request
        return "fr"


def _chart(key: str, kind: str, unit: str, categories: list[str], series: list[dict[str, Any]],
           category_label: str, horizontal: bool = False) -> dict[str, Any]:
    """A chart's spec, read by bilan.js and shown as a table; `horizontal` bars for long category names."""
    return {"id": f"bilan-chart-{key}", "key": key, "type": kind, "unit": unit, "horizontal": horizontal,
            "title": gettext(CHART_TITLES[key]), "category_label": category_label,
            "labels": categories, "series": series}


def charts(phase_bilan: dict[str, Any], commune_bilan: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The charts of the page, each with the numbers its text alternative (a table) shows. Shares are given
    in percent, as drawn. The MQA per commune needs the commune bilan (none without it)."""
    found = rows_by_key(phase_bilan)
    phases = [found[key] for key in PHASE_KEYS if key in found]
    months = _timeline_months(phases, str(phase_bilan.get("generated_at") or "")[:7] or None)
    timeline = []
    for row in phases:
        added = {item["month"]: int(item.get("count") or 0) for item in row["details"].get("per_month", [])}
        total, cumulative = 0, []
        for month in months:
            total += added.get(month, 0)
            cumulative.append(total)
        timeline.append({"key": row["key"], "label": row["name"], "data": cumulative})

    histogram = [{"key": row["key"], "label": row["name"],
                  "data": [int(n) for n in (row["details"].get("quality_histogram") or [0] * 10)]} for row in phases]

    licence_groups = [found[key] for key in GROUP_KEYS if key in found]
    licence = [{"key": "licence", "label": gettext("Share under a legal-list licence (%)"),
                "data": [_percent(row["values"].get("licence_compliant_share")) for row in licence_groups],
                "colours": [row["key"] for row in licence_groups]}]

    schemas: dict[str, str] = {}
    for row in phases:
        for item in row["details"].get("scdl_published", []):
            schemas.setdefault(item["schema"], item.get("label") or item["schema"])
    schema_keys = sorted(schemas, key=lambda s: _name_key(schemas[s]))
    scdl = []
    for row in phases:
        published = {item["schema"]: int(item.get("datasets") or 0)
                     for item in row["details"].get("scdl_published", [])}
        scdl.append({"key": row["key"], "label": row["name"], "data": [published.get(s, 0) for s in schema_keys]})

    return [
        _chart("datasets_over_time", "line", "count", [_month_label(m) for m in months], timeline, gettext("Month")),
        _chart("quality_histogram", "bar", "count", list(QUALITY_BUCKETS), histogram, gettext("Quality score")),
        _chart("licence_compliance", "bar", "percent", [row["name"] for row in licence_groups], licence,
               gettext("Group"), horizontal=True),
        _chart("scdl_coverage", "bar", "count", [schemas[s] for s in schema_keys], scdl, gettext("SCDL schema"),
               horizontal=True),
        *mqa_charts(licence_groups, (commune_bilan or {}).get("rows", [])),
    ]


def mqa_charts(group_list: list[dict[str, Any]], commune_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """data.europa.eu's MQA per group (every group, '—' where none is assessed) and per commune (the assessed
    communes only, best first, each bar in its group's colour), on the scale of 405 points. A chart
    without any assessed row has no category: the page says there is no data yet."""
    maximum = int(quality_mqa.method()["max"])
    series_label = gettext("MQA points (out of {max})").format(max=maximum)
    by_group = [{"key": "mqa", "label": series_label,
                 "data": [(row.get("values") or {}).get(MQA_KEY) for row in group_list],
                 "colours": [row["key"] for row in group_list]}]
    group_labels = [row["name"] for row in group_list]
    if all(value is None for value in by_group[0]["data"]):
        group_labels, by_group[0]["data"], by_group[0]["colours"] = [], [], []
    assessed = [row for row in commune_rows if row.get("kind", "commune") == "commune"
                and (row.get("values") or {}).get(MQA_KEY) is not None]
    assessed = sorted(sorted(assessed, key=lambda row: _name_key(row.get("name"))),
                      key=lambda row: -float(row["values"][MQA_KEY]))
    by_commune = [{"key": "mqa", "label": series_label, "data": [row["values"][MQA_KEY] for row in assessed],
                   "colours": [bilan_groups.group_of(row.get("partner_status") or "none") for row in assessed]}]
    return [
        dict(_chart("mqa_by_group", "bar", "points", group_labels, by_group, gettext("Group"), horizontal=True),
             max=maximum),
        dict(_chart("mqa_by_commune", "bar", "points", [row.get("name") for row in assessed], by_commune,
                    gettext("Commune"), horizontal=True), max=maximum),
    ]


def _percent(share: Any) -> float | None:
    return None if share is None else round(float(share) * 100, 1)


def communes_bilan_chart_cell(value: Any, unit: str) -> str:
    """A number of a chart's text alternative, in French."""
    if value is None:
        return "—"
    if unit == "percent":
        return _decimal(float(value)) + "\u202f%"
    if unit == "points":
        return _decimal(float(value))
    return communes_number(value)


# ---------------------------------------------------------------------------------------------- groups

def group_table(phase_bilan: dict[str, Any]) -> dict[str, Any]:
    """The side-by-side table: one column per group, one line per indicator, then the groups' size and
    the before/after figures around the conventions' signature."""
    groups = group_rows(phase_bilan)
    unit_of = units(phase_bilan)
    lines = [{"key": "communes", "label": gettext("Communes"),
              "cells": [communes_number(row.get("communes")) for row in groups]},
             {"key": "obliged", "label": gettext("Obliged communes"),
              "cells": [communes_bilan_format(row.get("obliged"), "count") for row in groups]}]
    for item in phase_bilan.get("indicators", []):
        if item["key"] == "convention_days_left":  # a commune's figure, not a group's
            continue
        # A group counts its obliged communes with nothing published (a commune's row says yes or no).
        label = (gettext("Obliged communes with nothing published") if item["key"] == "obliged_without_data"
                 else item.get("label", item["key"]))
        if item["key"] == MQA_KEY:
            cells = [mqa_text((row.get("values") or {}).get(MQA_KEY), (row.get("details") or {}).get("mqa"))
                     for row in groups]
        else:
            cells = [communes_bilan_format((row.get("values") or {}).get(item["key"]), unit_of[item["key"]])
                     for row in groups]
        lines.append({"key": item["key"], "label": label, "cells": cells})
    before_after = [
        ("datasets_before", gettext("Datasets, year before the convention"), "count"),
        ("datasets_after", gettext("Datasets, year after the convention"), "count"),
        ("quality_before", gettext("Mean quality, year before the convention"), "score"),
        ("quality_after", gettext("Mean quality, year after the convention"), "score"),
    ]
    for key, label, unit in before_after:
        lines.append({"key": key, "label": label, "before_after": True,
                      "cells": [communes_bilan_format(((row.get("details") or {}).get("before_after") or {}).get(key),
                                                      unit) for row in groups]})
    return {"groups": [{"key": row["key"], "name": row["name"]} for row in groups], "lines": lines}


# ---------------------------------------------------------------------------------------------- comparison

def comparison_lines(comparison: dict[str, Any], unit_of: dict[str, str], label_of: dict[str, str],
                     order: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    """The changed figures of a comparison, one line per row and indicator, in the rows' order (or
    `order` of keys) and the indicators' order."""
    rows = comparison.get("rows", [])
    if order is not None:
        position = {key: i for i, key in enumerate(order)}
        rows = sorted(rows, key=lambda row: position.get(row["key"], len(position)))
    lines = []
    for row in rows:
        changes = row.get("changes") or {}
        for key in [k for k in unit_of if k in changes] + [k for k in changes if k not in unit_of]:
            change = changes[key]
            if change.get("a") == change.get("b"):
                continue
            unit = unit_of.get(key, "count")
            lines.append({"row_key": row["key"], "name": row.get("name", row["key"]), "indicator": key,
                          "label": label_of.get(key, key), "a": communes_bilan_format(change.get("a"), unit),
                          "b": communes_bilan_format(change.get("b"), unit),
                          "delta": communes_bilan_delta(change, unit)})
    return lines


# ---------------------------------------------------------------------------------------------- dashboard

def _current_user_name() -> str | None:
    user = getattr(tk, "current_user", None)
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return getattr(user, "name", None)


def may_see_dashboard(org_id: str, user_name: str | None) -> bool:
    """The commune's members (any role) and the programme's operators (sysadmins included)."""
    if not user_name:
        return False
    if programme.is_programme_operator(user_name):
        return True
    return authz.users_role_for_group_or_org(org_id, user_name) is not None


def dashboard(org: dict[str, Any], commune_bilan: dict[str, Any], phase_bilan: dict[str, Any],
              ranked: dict[str, Any] | None, today: datetime.date | None = None) -> dict[str, Any] | None:
    """The dashboard of one commune from the bilan's rows: its figures beside its phase's medians, its
    datasets ranked by what they miss (`ranked`: the quality summary of the commune), the SCDL datasets
    it could publish, its convention."""
    row = rows_by_key(commune_bilan).get(str(org.get("insee_code") or ""))
    if row is None:
        return None
    group_key = bilan_groups.group_of(row.get("partner_status") or "none")
    group = rows_by_key(phase_bilan).get(group_key) or {}
    medians = group.get("medians") or {}
    unit_of = units(commune_bilan)
    figures = []
    for item in commune_bilan.get("indicators", []):
        unit = unit_of[item["key"]]
        if unit not in COMPARABLE_UNITS:
            continue
        value, median = (row.get("values") or {}).get(item["key"]), medians.get(item["key"])
        if value is None or median is None:
            position = "unknown"
        else:
            position = "above" if value > median else "below" if value < median else "equal"
        if item["key"] == MQA_KEY:  # its rating (or why there is none), and the median on the same scale
            value_text = mqa_text(value, (row.get("details") or {}).get("mqa"))
            median_text = "—" if median is None else gettext("{points} out of {max}").format(
                points=_decimal(float(median)), max=quality_mqa.method()["max"])
        else:
            value_text, median_text = communes_bilan_format(value, unit), communes_bilan_format(median, unit)
        figures.append({"key": item["key"], "label": item.get("label", item["key"]),
                        "value": value_text, "median": median_text, "position": position})
    details = row.get("details") or {}
    convention = dict(details.get("convention") or {})
    convention.setdefault("state", "none")
    convention["state_label"] = programme.convention_state_label(convention["state"])
    convention["end_label"] = communes_bilan_format(convention.get("end"), "date")
    return {
        "name": row.get("name"),
        "org_name": org.get("name"),
        "sort_worst_first": score.SORT_ASC,
        "group": {"key": group_key, "name": group.get("name", group_key)},
        "figures": figures,
        "obliged_without_data": bool((row.get("values") or {}).get("obliged_without_data")),
        "datasets": (ranked or {}).get("datasets", [])[:DASHBOARD_DATASETS],
        "datasets_count": (ranked or {}).get("count", 0),
        "scdl_missing": details.get("scdl_missing") or [],
        "scdl_published": details.get("scdl_published") or [],
        # High-Value Datasets: how many meet each condition of regulation 2023/138 (none shown without HVD).
        "hvd_datasets": (row.get("values") or {}).get("hvd_datasets") or 0,
        "hvd_conditions": details.get("hvd_conditions") or [],
        # The MQA's points per dimension are in the commune page's own block (quality/snippets/commune_mqa.html,
        # under the dashboard): the dashboard links to it when some public dataset was assessed.
        "mqa_assessed": bool((details.get("mqa") or {}).get("datasets")),
        "convention": convention,
        "snapshot_title": communes_bilan_snapshot_title(commune_bilan),
    }


def communes_bilan_dashboard(org: dict[str, Any] | None) -> dict[str, Any] | None:
    """The dashboard of a commune's page, for its members and the operators; None for anyone else, for
    the Métropole and for a plain organisation."""
    if not org or org.get("kind") != "commune" or not org.get("insee_code"):
        return None
    if not may_see_dashboard(org["id"], _current_user_name()):
        return None
    from ckanext.communes.bilan import indicators
    from ckanext.communes.quality.helpers import communes_quality_of_commune

    return dashboard(org, indicators.compute("commune"), indicators.compute("phase"),
                     communes_quality_of_commune(org["id"]))


def get_helpers() -> dict[str, Any]:
    return {
        "communes_bilan_format": communes_bilan_format,
        "communes_bilan_delta": communes_bilan_delta,
        "communes_bilan_chart_cell": communes_bilan_chart_cell,
        "communes_bilan_snapshot_title": communes_bilan_snapshot_title,
        "communes_bilan_meta_label": communes_bilan_meta_label,
        "communes_bilan_dashboard": communes_bilan_dashboard,
    }
