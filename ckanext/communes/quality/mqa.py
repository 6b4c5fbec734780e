"""data.europa.eu's Metadata Quality Assessment (MQA) computed by the portal (issue #25).

The method (https://data.europa.eu/mqa/methodology): five dimensions, 23 indicators, 405 points. Each
indicator earns its weight times the share of the datasets (dataset indicators) or of their distributions
(distribution indicators) that meet it; the rating follows the total (Excellent >= 351, Good >= 221,
Sufficient >= 121, Bad below). Indicators, weights, thresholds and French advice: ``data/mqa/indicators.yaml``.

What it reads, all stored, nothing fetched or serialised here:
- the facts of each dataset's DCAT graph (mqa_facts.py), stored by the SHACL check with its result
  (``communes_shacl_check.mqa_facts``); with ``conforms`` for "DCAT-AP compliance";
- the link checker's results (``communes_link_check``) for "access URL answers" and "download URL
  answers": a URL answers when its last check found no error (2xx, or a redirect to an answer). The link
  checker checks a resource's URL: a download or access URL that is not that URL (or the resource's URL
  checked under an older address) has no result yet. An uploaded file is served by the portal itself (the
  link checker skips it, as the quality score does): its URLs count as answering.

A dataset without stored facts (not checked yet since it was saved, or checked before the MQA existed) is
"pending": counted apart, left out of the shares (never guessed). A URL not checked yet counts as not
answering, and the indicator says how many wait (``pending``), as the quality score does: the points never
rise before the evidence exists.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
import yaml
from ckan import model

from ckanext.communes.quality.mqa_facts import DATASET_FACTS, DISTRIBUTION_FACTS

DATA_FILE = os.path.join(os.path.dirname(__file__), "data", "mqa", "indicators.yaml")
URL_INDICATORS = ("access_url_ok", "download_url", "download_url_ok")
DATASET_LEVEL_STORED = ("dcat_ap_compliance",)
LEVELS = ("dataset", "distribution")


@functools.cache
def method() -> dict[str, Any]:
    """indicators.yaml, checked: each dimension's weights sum to its maximum, the maxima to the total, every
    indicator is one the facts or the stored results answer."""
    with open(DATA_FILE, encoding="utf-8") as handle:
        loaded = yaml.safe_load(handle)
    known = set(DATASET_FACTS) | set(DISTRIBUTION_FACTS) | set(URL_INDICATORS) | set(DATASET_LEVEL_STORED)
    total = 0
    for dimension in loaded["dimensions"]:
        weights = sum(int(item["weight"]) for item in dimension["indicators"])
        if weights != int(dimension["max"]):
            raise ValueError(f"{DATA_FILE}: {dimension['name']} weighs {weights}, not {dimension['max']}")
        for item in dimension["indicators"]:
            if item["name"] not in known or item["level"] not in LEVELS:
                raise ValueError(f"{DATA_FILE}: unknown indicator or level {item['name']!r}")
        total += weights
    if total != int(loaded["max"]):
        raise ValueError(f"{DATA_FILE}: the dimensions sum to {total}, not {loaded['max']}")
    return loaded


def indicator_list() -> list[dict[str, Any]]:
    return [item for dimension in method()["dimensions"] for item in dimension["indicators"]]


def rating(points: float) -> dict[str, str]:
    """``{"name", "label"}`` of the rating of ``points`` (rounded as shown)."""
    shown = round(points)
    return next({"name": r["name"], "label": r["label"]} for r in method()["ratings"] if shown >= int(r["min"]))


# ------------------------------------------------------------------------------------- stored evidence

@dataclass
class DatasetEvidence:
    """One dataset's stored MQA evidence: its facts (None: pending), its SHACL outcome, its link checks."""

    package_id: str
    facts: dict[str, Any] | None
    conforms: bool | None = None
    links: dict[str, tuple[str, bool | None]] = field(default_factory=dict)  # resource id -> (url, ok)


def read_evidence(package_ids: Iterable[str]) -> list[DatasetEvidence]:
    """The stored evidence of the datasets, in two queries (no serialisation, no request)."""
    ids = list(dict.fromkeys(package_ids))
    if not ids:
        return []
    found = {package_id: DatasetEvidence(package_id, None) for package_id in ids}
    rows = model.Session.execute(sa.text(
        "SELECT package_id, conforms, mqa_facts FROM communes_shacl_check WHERE package_id = ANY(:ids)"),
        {"ids": ids})
    for package_id, conforms, facts in rows:
        if isinstance(facts, dict) and "dataset" in facts:
            found[package_id].facts = facts
            found[package_id].conforms = conforms
    rows = model.Session.execute(sa.text(
        "SELECT package_id, resource_id, url, checked_at IS NOT NULL, error IS NULL "
        "FROM communes_link_check WHERE package_id = ANY(:ids)"), {"ids": ids})
    for package_id, resource_id, url, checked, ok in rows:
        found[package_id].links[resource_id] = (url, ok if checked else None)
    return [found[package_id] for package_id in ids]


def _answers(evidence: DatasetEvidence, distribution: dict[str, Any], url: str | None) -> bool | None:
    """Whether the distribution's URL answered its last check (None: no result for that URL yet)."""
    if not url:
        return False
    if distribution.get("upload"):
        return True  # served by the portal itself (see the module's docstring)
    checked = evidence.links.get(distribution.get("resource_id") or "")
    if checked is None or checked[0] is None or checked[0].strip() != url.strip():
        return None
    return checked[1]


def _distribution_values(evidence: DatasetEvidence, distribution: dict[str, Any]) -> dict[str, bool | None]:
    values: dict[str, bool | None] = {name: bool(distribution.get(name)) for name in DISTRIBUTION_FACTS}
    values["access_url_ok"] = _answers(evidence, distribution, distribution.get("access_url"))
    values["download_url"] = bool(distribution.get("download_url"))
    values["download_url_ok"] = _answers(evidence, distribution, distribution.get("download_url"))
    return values


def _dataset_values(evidence: DatasetEvidence) -> dict[str, bool | None]:
    assert evidence.facts is not None
    values: dict[str, bool | None] = {name: bool(evidence.facts["dataset"].get(name)) for name in DATASET_FACTS}
    values["dcat_ap_compliance"] = evidence.conforms is True
    return values


# ------------------------------------------------------------------------------------------ the MQA

def assess(evidences: list[DatasetEvidence]) -> dict[str, Any]:
    """The MQA of the datasets: ``{"datasets", "distributions", "pending", "points", "max", "rating",
    "rating_label", "dimensions": [{"name", "label", "points", "max", "indicators": [{"name", "label",
    "level", "weight", "share", "points", "advice", "met", "total", "pending"}]}], "missed": [indicators
    losing points, most lost first]}``. ``points`` and ``share`` are unrounded; the pages round them.
    No dataset assessed (none, or all pending): points 0, rating None."""
    assessed = [evidence for evidence in evidences if evidence.facts is not None]
    dataset_values = [_dataset_values(evidence) for evidence in assessed]
    distribution_values = [_distribution_values(evidence, distribution)
                           for evidence in assessed for distribution in evidence.facts["distributions"]]
    dimensions = []
    for dimension in method()["dimensions"]:
        indicators = []
        for item in dimension["indicators"]:
            values = dataset_values if item["level"] == "dataset" else distribution_values
            met = sum(1 for value in values if value[item["name"]] is True)
            waiting = sum(1 for value in values if value[item["name"]] is None)
            share = met / len(values) if values else 0.0
            indicators.append({
                "name": item["name"], "label": item["label"], "level": item["level"], "weight": item["weight"],
                "share": share, "points": share * item["weight"], "advice": item["advice"],
                "met": met, "total": len(values), "pending": waiting,
            })
        dimensions.append({"name": dimension["name"], "label": dimension["label"], "max": dimension["max"],
                           "points": sum(i["points"] for i in indicators), "indicators": indicators})
    points = sum(d["points"] for d in dimensions)
    judged = rating(points) if assessed else None
    missed = sorted((i for d in dimensions for i in d["indicators"] if i["points"] < i["weight"] - 1e-9),
                    key=lambda i: (-(i["weight"] - i["points"]), i["name"]))
    return {
        "datasets": len(assessed),
        "distributions": len(distribution_values),
        "pending": len(evidences) - len(assessed),
        "points": points,
        "max": int(method()["max"]),
        "rating": judged["name"] if judged else None,
        "rating_label": judged["label"] if judged else None,
        "dimensions": dimensions,
        "missed": missed,
    }


def mqa_of(package_ids: Iterable[str]) -> dict[str, Any]:
    """The MQA of the datasets with these ids, from the stored evidence."""
    return assess(read_evidence(package_ids))
