"""Whether a dataset's declared update frequency (EU NAL) is respected, by the rule of the data file
(``data/criteria.yaml``, section ``frequency``):

- regular frequency (DAILY, MONTHLY, ANNUAL...): the last modification is at most
  ``period + max(min_days, fraction × period)`` old, boundary included;
- real time / continuous and sub-daily: the last modification is at most ``window_days`` old, or the
  link checker reached every resource within that window;
- irregular (IRREG, AS_NEEDED, OTHER): the last modification is at most ``max_age_days`` old;
- NEVER / NOT_PLANNED: always respected; UNKNOWN or nothing: not declared.

The last modification is the dataset's ``modified`` (a date: midnight UTC of that day), else CKAN's
``metadata_modified``.
"""

from __future__ import annotations

import datetime
import functools
import os
from dataclasses import dataclass
from typing import Any, Literal

import yaml

from ckanext.communes.vocabularies import get_vocabulary

DATA_FILE = os.path.join(os.path.dirname(__file__), "data", "criteria.yaml")

Verdict = Literal["respected", "late", "undeclared"]


@dataclass(frozen=True)
class FrequencyJudgement:
    verdict: Verdict
    code: str | None  # EU frequency code, None when not declared
    last_modified: datetime.datetime | None
    allowed: datetime.timedelta | None  # the maximum age accepted, None: no limit


@functools.cache
def rules() -> dict[str, Any]:
    with open(DATA_FILE, encoding="utf-8") as handle:
        return yaml.safe_load(handle)["frequency"]


def allowed_age(code: str) -> datetime.timedelta | None:
    """Maximum age of the last modification for a frequency code; None: no limit (frozen)."""
    conf = rules()
    if code in conf["frozen"]["codes"]:
        return None
    if code in conf["realtime"]["codes"]:
        return datetime.timedelta(days=conf["realtime"]["window_days"])
    if code in conf["irregular"]["codes"]:
        return datetime.timedelta(days=conf["irregular"]["max_age_days"])
    period = float(conf["period_days"][code])
    tolerance = max(float(conf["tolerance"]["min_days"]), float(conf["tolerance"]["fraction"]) * period)
    return datetime.timedelta(days=period + tolerance)


def parse_when(value: Any) -> datetime.datetime | None:
    """A date (YYYY-MM-DD: midnight UTC) or an ISO datetime (naive = UTC) as a naive UTC datetime."""
    if not value or not isinstance(value, str):
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            return datetime.datetime.strptime(text, "%Y-%m-%d")
        when = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is not None:
        when = when.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return when


def last_modification(pkg_dict: dict[str, Any]) -> datetime.datetime | None:
    return parse_when(pkg_dict.get("modified")) or parse_when(pkg_dict.get("metadata_modified"))


def frequency_code(pkg_dict: dict[str, Any]) -> str | None:
    value = pkg_dict.get("frequency")
    if isinstance(value, list):
        value = value[0] if value else None
    term = get_vocabulary("frequency").lookup(value) if isinstance(value, str) else None
    if term is None or term.code in rules()["undeclared"]["codes"]:
        return None
    return term.code


def judge(
    pkg_dict: dict[str, Any],
    now: datetime.datetime | None = None,
    links_checked_ok_at: datetime.datetime | None = None,
) -> FrequencyJudgement:
    """``links_checked_ok_at``: the oldest last check of the resources when the link checker reached
    them all (None otherwise): the evidence for real-time datasets."""
    now = now or datetime.datetime.utcnow()
    code = frequency_code(pkg_dict)
    last = last_modification(pkg_dict)
    if code is None:
        return FrequencyJudgement("undeclared", None, last, None)
    allowed = allowed_age(code)
    if allowed is None:
        return FrequencyJudgement("respected", code, last, None)
    if last is not None and now - last <= allowed:
        return FrequencyJudgement("respected", code, last, allowed)
    if (code in rules()["realtime"]["codes"] and links_checked_ok_at is not None
            and now - links_checked_ok_at <= allowed):
        return FrequencyJudgement("respected", code, last, allowed)
    return FrequencyJudgement("late", code, last, allowed)
