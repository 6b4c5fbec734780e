"""What a harvest job decided, kept beside ckanext-harvest's job (table ``communes_harvest_report``,
created by the plugin's alembic migration): counts per decision and per commune, mapping warnings and
errors in French, the circuit breaker's state and the withdrawals waiting for approval, and the hash and
GUIDs of each page (the next job skips parsing a page whose bytes did not change)."""

from __future__ import annotations

import datetime
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import ckan.plugins.toolkit as tk
from ckan import model
from sqlalchemy import Column, DateTime, UnicodeText
from sqlalchemy.dialects.postgresql import JSONB

DECISIONS = ("create", "update", "restore", "takeover", "unchanged", "duplicate", "withdraw", "error")
# Circuit breaker states: None (nothing held), "tripped" (withdrawals held for approval), "approved",
# "incomplete" (a page failed or the source listed nothing: no withdrawal at all, nothing to approve).
BREAKER_TRIPPED = "tripped"
BREAKER_APPROVED = "approved"
BREAKER_INCOMPLETE = "incomplete"


class HarvestReport(tk.BaseModel):
    __tablename__ = "communes_harvest_report"

    job_id = Column(UnicodeText, primary_key=True)  # harvest_job.id (no foreign key: see the migration)
    source_id = Column(UnicodeText, nullable=False, index=True)
    created = Column(DateTime, nullable=False, default=datetime.datetime.utcnow)
    breaker = Column(UnicodeText, nullable=True)
    counts = Column(JSONB, nullable=False, default=dict)
    per_commune = Column(JSONB, nullable=False, default=dict)
    messages = Column(JSONB, nullable=False, default=list)
    pending_withdrawals = Column(JSONB, nullable=False, default=list)
    pages = Column(JSONB, nullable=False, default=list)


@dataclass
class ReportBuilder:
    """Collects a job's figures as the gather goes, page by page (memory: counters and messages only)."""

    counts: Counter[str] = field(default_factory=Counter)
    per_commune: dict[str, Counter[str]] = field(default_factory=dict)
    messages: list[dict[str, str]] = field(default_factory=list)
    pages: list[dict[str, Any]] = field(default_factory=list)
    breaker: str | None = None
    pending_withdrawals: list[str] = field(default_factory=list)
    max_messages: int = 2000

    def decided(self, decision: str, commune: str) -> None:
        self.counts[decision] += 1
        self.per_commune.setdefault(commune or "", Counter())[decision] += 1

    def say(self, level: str, message: str, **details: str) -> None:
        """level: error, warning or info; details: url, guid, field, value..."""
        if len(self.messages) < self.max_messages:
            self.messages.append({"level": level, "message": message, **{k: str(v) for k, v in details.items()}})
        elif len(self.messages) == self.max_messages:
            self.messages.append({"level": "info", "message": tk._("Further messages were left out.")})

    @property
    def has_errors(self) -> bool:
        return any(m["level"] == "error" for m in self.messages)

    def as_dict(self) -> dict[str, Any]:
        return {
            "counts": {decision: self.counts.get(decision, 0) for decision in DECISIONS},
            "per_commune": {commune: dict(counter) for commune, counter in sorted(self.per_commune.items())},
            "messages": list(self.messages),
            "breaker": self.breaker,
            "pending_withdrawals": list(self.pending_withdrawals),
        }

    def save(self, job_id: str, source_id: str) -> HarvestReport:
        report = model.Session.get(HarvestReport, job_id) or HarvestReport(job_id=job_id, source_id=source_id)
        data = self.as_dict()
        report.counts = data["counts"]
        report.per_commune = data["per_commune"]
        report.messages = data["messages"]
        report.breaker = self.breaker
        report.pending_withdrawals = data["pending_withdrawals"]
        report.pages = list(self.pages)
        model.Session.add(report)
        return report


def report_for_job(job_id: str) -> HarvestReport | None:
    return model.Session.get(HarvestReport, job_id)


def latest_report(source_id: str, *, exclude_job: str | None = None) -> HarvestReport | None:
    query = model.Session.query(HarvestReport).filter(HarvestReport.source_id == source_id)
    if exclude_job:
        query = query.filter(HarvestReport.job_id != exclude_job)
    return query.order_by(HarvestReport.created.desc()).first()


def report_dict(report: HarvestReport | None) -> dict[str, Any] | None:
    if report is None:
        return None
    return {
        "job_id": report.job_id,
        "source_id": report.source_id,
        "created": report.created.isoformat() if report.created else None,
        "breaker": report.breaker,
        "counts": report.counts,
        "per_commune": report.per_commune,
        "messages": report.messages,
        "pending_withdrawals": report.pending_withdrawals,
    }
