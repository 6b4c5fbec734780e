"""The automated accessibility audit's results, as the statement shows them: data/audit.json, written by the
browser tests (tests/test_accessibility.py runs axe-core on every kind of page and compares its findings with
this file; COMMUNES_WRITE_ACCESSIBILITY_AUDIT=1 writes them here). The page reads the file; nobody else does."""

from __future__ import annotations

import functools
import json
import pathlib
from dataclasses import dataclass
from typing import Any

from ckanext.communes.translation import N_, gettext

AUDIT_FILE = pathlib.Path(__file__).parent / "data" / "audit.json"

# An automated audit checks only part of the RGAA's criteria (those a machine can decide): whatever it finds,
# the portal cannot call itself « totalement conforme » on it alone. FULL needs a person's audit of every criterion.
PARTIAL = "partial"
FULL = "full"
CONFORMITY_LABELS = {PARTIAL: N_("partially compliant"), FULL: N_("fully compliant")}

# The kinds of page audited (tests/test_accessibility.py), in the order the statement lists them.
PAGE_KINDS = {
    "home": N_("Home page"),
    "dataset_search": N_("Dataset search"),
    "dataset_search_facets": N_("Dataset search with filters (facets)"),
    "dataset_search_page": N_("Dataset search, second page of results"),
    "dataset_search_place": N_("Dataset search by place (map, area searched)"),
    "dataset_many_resources": N_("A dataset with many resources"),
    "harvested_dataset": N_("A harvested dataset"),
    "organisations": N_("List of organisations"),
    "organisation": N_("An organisation's page"),
    "commune": N_("A commune's page (profile)"),
    "communes": N_("List of the communes of the programme"),
    "bilan": N_("The programme's assessment (bilan)"),
    "login": N_("Login page"),
    "licence": N_("A licence's page"),
    "statement": N_("This accessibility statement"),
    "harvest": N_("Harvest sources (operators)"),
    "harvest_page": N_("Harvest sources, second page (operators)"),
    "harvest_source": N_("A harvest source (operators)"),
    "harvest_job": N_("A harvest job's report (operators)"),
    "user": N_("A user's page"),
    "dashboard": N_("A user's dashboard"),
}


@dataclass(frozen=True)
class AuditedPage:
    kind: str
    detail: str  # which one of its kind (a source type, a licence id), or ""
    role: str  # who looked at it: anonymous, operator, user

    @property
    def label(self) -> str:
        label = gettext(PAGE_KINDS.get(self.kind, self.kind))
        return f"{label} — {self.detail}" if self.detail else label


@dataclass(frozen=True)
class Finding:
    rule: str
    impact: str
    page: AuditedPage
    nodes: int
    help: str


@dataclass(frozen=True)
class Audit:
    date: str  # ISO date of the audit whose findings these are
    tool: str
    tool_version: str
    browser: str
    tags: tuple[str, ...]
    pages: tuple[AuditedPage, ...]
    findings: tuple[Finding, ...]
    conformity: str

    @property
    def conformity_label(self) -> str:
        return gettext(CONFORMITY_LABELS.get(self.conformity, CONFORMITY_LABELS[PARTIAL]))


def parse(data: dict[str, Any]) -> Audit:
    pages = {}
    for page in data.get("pages", []):
        pages[(page["kind"], page.get("detail", ""))] = AuditedPage(page["kind"], page.get("detail", ""),
                                                                     page.get("role", "anonymous"))
    findings = tuple(
        Finding(f["rule"], f.get("impact") or "", pages.get((f["kind"], f.get("detail", "")))
                or AuditedPage(f["kind"], f.get("detail", ""), "anonymous"), int(f.get("nodes", 0)), f.get("help", ""))
        for f in data.get("findings", []))
    conformity = data.get("conformity", PARTIAL)
    return Audit(date=data["date"], tool=data.get("tool", "axe-core"), tool_version=data.get("tool_version", ""),
                 browser=data.get("browser", ""), tags=tuple(data.get("tags", [])), pages=tuple(pages.values()),
                 findings=findings, conformity=conformity if conformity in CONFORMITY_LABELS else PARTIAL)


@functools.cache
def latest() -> Audit:
    """The committed audit (read once per process: it only changes with a release)."""
    return parse(json.loads(AUDIT_FILE.read_text(encoding="utf-8")))
