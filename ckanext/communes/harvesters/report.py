"""What a harvest job decided, kept beside ckanext-harvest's job (table ``communes_harvest_report``,
created by the plugin's alembic migration): counts per decision and per commune, mapping warnings and
errors in French, the circuit breaker's state and the withdrawals waiting for approval, and the hash,
GUIDs and unrecognised licence texts of each page (the next job skips parsing a page whose bytes did not change).

Messages are shown without the private or reserved addresses they may hold, nor a password written in a URL
(:func:`shown_text`). Before the guarded client learnt not to name it, its refusal said which address a host
resolved to (« intranet.example désigne l'adresse 10.20.30.40, privée ou réservée »), and commune staff read
the reports of their sources. Stored messages are masked when read, here (``report_dict``) and in
ckanext-harvest's job readers (job_reading.py), for operators too: the messages written now never name the
address either, and the operators find it in the log (net/fetch.py), resolved afresh. A source URL's password
(``http://user:password@host/``) is masked when a message is written, and again when read."""

from __future__ import annotations

import datetime
import ipaddress
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import ckan.plugins.toolkit as tk
from ckan import model
from sqlalchemy import Column, DateTime, UnicodeText
from sqlalchemy.dialects.postgresql import JSONB

from ckanext.communes.net.fetch import address_is_blocked

DECISIONS = ("create", "update", "restore", "takeover", "unchanged", "duplicate", "withdraw", "error")
# Circuit breaker states: None (nothing held), "tripped" (withdrawals held for approval), "approved",
# "incomplete" (a page failed or the source listed nothing: no withdrawal at all, nothing to approve).
BREAKER_TRIPPED = "tripped"
BREAKER_APPROVED = "approved"
BREAKER_INCOMPLETE = "incomplete"
# Key of a page entry: licence text of the source that designates no registry licence -> datasets carrying it.
UNRECOGNISED_LICENCES_KEY = "unrecognised_licences"


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
        """level: error, warning or info; details: url, guid, field, value... (a URL's password masked)"""
        if len(self.messages) < self.max_messages:
            self.messages.append({"level": level, "message": without_url_passwords(message),
                                  **{k: without_url_passwords(str(v)) for k, v in details.items()}})
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
            "unrecognised_licences": unrecognised_licences(self.pages),
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


def unrecognised_licences(pages: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The licence texts of a job's pages that designate no registry licence, with the number of datasets
    carrying each, most frequent first: what an operator may add an alias for."""
    counts: Counter[str] = Counter()
    for page in pages or []:
        found = page.get(UNRECOGNISED_LICENCES_KEY) if isinstance(page, dict) else None
        if isinstance(found, dict):
            counts.update({str(text): int(count) for text, count in found.items() if isinstance(count, int)})
    return [{"text": text, "count": count} for text, count in sorted(counts.items(), key=lambda i: (-i[1], i[0]))]


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
        "messages": [shown_message(message) for message in report.messages or []],
        "pending_withdrawals": report.pending_withdrawals,
        "unrecognised_licences": [{**entry, "text": shown_text(entry["text"])}
                                  for entry in unrecognised_licences(report.pages)],
    }


# --- private addresses and URL passwords in messages --------------------------------------------------

HIDDEN_ADDRESS = "…"
URL_PASSWORD_MASK = "********"  # as credentials.py shows a source's password
_URL = r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>«»]+"
_URL_PASSWORD = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://[^/?#@\s:]*):[^/?#\s]*@")
# A URL (its host as written, not resolved: left whole, but for a password), else an IPv4 address, else an
# IPv6 one (with or without brackets and zone). Candidates only: ipaddress decides what is an address.
_URL_OR_ADDRESS = re.compile(
    rf"(?P<url>{_URL})"
    r"|(?<![\w.:])(?P<ipv4>(?:\d{1,3}\.){3}\d{1,3})(?!\w|\.\d)"
    r"|(?<![\w.:])(?P<ipv6>(?:(?:[0-9A-Fa-f]{0,4}:){2,6}(?:\d{1,3}\.){3}\d{1,3}"  # ::ffff:192.168.1.7
    r"|[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7})(?:%[\w.-]+)?)(?![\w:]|\.\d)"
)


def _without_password(url: str) -> str:
    return _URL_PASSWORD.sub(rf"\1:{URL_PASSWORD_MASK}@", url)


def _shown(match: re.Match[str]) -> str:
    if match.group("url"):
        return _without_password(match.group(0))
    candidate = match.group(0)
    try:
        ipaddress.ip_address(candidate.split("%", 1)[0])
    except ValueError:
        return candidate  # "12:30:00", a version number: not an address
    return HIDDEN_ADDRESS if address_is_blocked(candidate) else candidate


def shown_text(text: str) -> str:
    """The text as a message may be shown: each private, loopback, link-local, shared, reserved… address
    (IPv4 or IPv6, the rule of the guarded client) replaced by « … », except inside a URL (a URL's host is
    what someone wrote: the source's URL, a link in a page; never what a name resolved to), and the password
    a URL carries (``http://user:password@host/``) masked."""
    return _URL_OR_ADDRESS.sub(_shown, text) if text else text


def without_url_passwords(text: str) -> str:
    """The text with the password of each URL in it masked (what a message may store)."""
    return re.sub(_URL, lambda match: _without_password(match.group(0)), text) if text else text


def shown_message(message: Any) -> Any:
    """A stored report message (level, message and details: url, guid, value…) as it may be shown."""
    if not isinstance(message, dict):
        return message
    return {key: shown_text(value) if isinstance(value, str) else value for key, value in message.items()}
