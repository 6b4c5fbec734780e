"""The bilan's Solr request: ONE JSON-facet request over the public active datasets of the site.

    communes: terms on vocab_commune (every commune that has a dataset), and in each bucket
        first, last: min / max of metadata_created
        keys: terms on vocab_bilan (bilan/indexing.py): the counts of scores, months, licences,
              sources, missed criteria, frequency and SCDL flags, in one pass
    window_<n>: a query facet per convention window (a commune's year before / after its signature),
        with the score keys of its datasets

It goes through CKAN's Solr connection (``make_connection``), with the filters package_search applies
for an anonymous visitor (site, public, active) plus the dataset type.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import ckan.plugins.toolkit as tk
from ckan.lib.search.common import SearchError, make_connection

from ckanext.communes.bilan import indexing

COMMUNE_FIELD = "vocab_commune"
DATASET_TYPE = "dataset"


@dataclass
class Tally:
    """What the index says about a set of datasets (a commune's, a group's): counts that add up."""

    datasets: int = 0
    first: dt.datetime | None = None
    last: dt.datetime | None = None
    scores: Counter[int] = field(default_factory=Counter)
    months: Counter[str] = field(default_factory=Counter)
    licences: Counter[str] = field(default_factory=Counter)
    sources: Counter[str] = field(default_factory=Counter)
    missed: Counter[str] = field(default_factory=Counter)
    frequency_declared: int = 0
    frequency_respected: int = 0
    scdl_declared: int = 0
    scdl_valid: int = 0
    scdl_schemas: Counter[str] = field(default_factory=Counter)
    scdl_valid_schemas: Counter[str] = field(default_factory=Counter)
    hvd_datasets: int = 0
    hvd_compliant: int = 0
    hvd_met: Counter[str] = field(default_factory=Counter)  # condition key (quality/hvd.py) -> HVD datasets meeting it

    def add(self, other: Tally) -> Tally:
        """Add another set's counts into this one (returns self)."""
        self.datasets += other.datasets
        self.first = min((d for d in (self.first, other.first) if d is not None), default=None)
        self.last = max((d for d in (self.last, other.last) if d is not None), default=None)
        for name in ("scores", "months", "licences", "sources", "missed", "scdl_schemas", "scdl_valid_schemas",
                     "hvd_met"):
            getattr(self, name).update(getattr(other, name))
        self.frequency_declared += other.frequency_declared
        self.frequency_respected += other.frequency_respected
        self.scdl_declared += other.scdl_declared
        self.scdl_valid += other.scdl_valid
        self.hvd_datasets += other.hvd_datasets
        self.hvd_compliant += other.hvd_compliant
        return self


@dataclass(frozen=True)
class Window:
    """Datasets of a commune created in [start, end) (UTC midnights)."""

    commune_value: str  # as indexed in vocab_commune
    start: dt.date
    end: dt.date


@dataclass
class WindowTally:
    datasets: int = 0
    scores: Counter[int] = field(default_factory=Counter)


# Kind of a vocab_bilan key (before its first ":") -> the Tally Counter it counts into; flags have no value.
_COUNTERS = {
    indexing.SCDL_VALID_SCHEMA[:-1]: "scdl_valid_schemas", indexing.SCDL_SCHEMA[:-1]: "scdl_schemas",
    indexing.MONTH[:-1]: "months", indexing.LICENCE[:-1]: "licences", indexing.SOURCE[:-1]: "sources",
    indexing.MISSED[:-1]: "missed", indexing.HVD_MET[:-1]: "hvd_met",
}
_FLAGS = {
    indexing.FREQUENCY_DECLARED: "frequency_declared", indexing.FREQUENCY_RESPECTED: "frequency_respected",
    indexing.SCDL_DECLARED: "scdl_declared", indexing.SCDL_VALID: "scdl_valid",
    indexing.HVD: "hvd_datasets", indexing.HVD_OK: "hvd_compliant",
}
_SCORE_KIND = indexing.SCORE[:-1]


def base_filter() -> str:
    site_id = str(tk.config.get("ckan.site_id") or "").replace('"', '\\"')
    return (f'+site_id:"{site_id}" +entity_type:package +dataset_type:{DATASET_TYPE} +state:active '
            "+capacity:public")


def _terms(field_name: str, **options: Any) -> dict[str, Any]:
    # "dv": the field's values per document, read once per bucket; over 580,000 datasets it beats the
    # default (uninverted) method by half for the multi-valued vocab_bilan (dev/bench/bilan.py).
    return {"type": "terms", "field": field_name, "limit": -1, "mincount": 1, "method": "dv", **options}


def _solr_date(day: dt.date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def _escape(value: str) -> str:
    return "".join(f"\\{char}" if char in '+-&|!(){}[]^"~*?:\\/ ' else char for char in value)


def facet_request(windows: list[Window]) -> dict[str, Any]:
    request: dict[str, Any] = {
        "communes": _terms(COMMUNE_FIELD, facet={
            "first": "min(metadata_created)", "last": "max(metadata_created)",
            "keys": _terms(indexing.KEYS_FIELD)}),
    }
    for number, window in enumerate(windows):
        request[f"window_{number}"] = {
            "type": "query",
            "q": (f"{COMMUNE_FIELD}:{_escape(window.commune_value)} AND "
                  f"metadata_created:[{_solr_date(window.start)} TO {_solr_date(window.end)}}}"),
            "facet": {"keys": _terms(indexing.KEYS_FIELD, prefix=indexing.SCORE)},
        }
    return request


def _when(value: Any) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        return None


def _score(key: str) -> int | None:
    try:
        return int(key[len(indexing.SCORE):])
    except ValueError:
        return None


def tally_of_bucket(bucket: dict[str, Any]) -> Tally:
    tally = Tally(datasets=int(bucket.get("count") or 0), first=_when(bucket.get("first")),
                  last=_when(bucket.get("last")))
    counters = {kind: getattr(tally, attribute) for kind, attribute in _COUNTERS.items()}
    # ~250 keys per commune, 15,000 for the bilan: one partition and one dict lookup each.
    for key_bucket in (bucket.get("keys") or {}).get("buckets", ()):
        kind, colon, value = str(key_bucket["val"]).partition(":")
        count = key_bucket["count"]
        if not colon:  # a flag ("scdl" the flag, "scdl:budget" a schema)
            if kind in _FLAGS:
                setattr(tally, _FLAGS[kind], count)
        elif kind in counters:
            counter = counters[kind]
            counter[value] = counter.get(value, 0) + count  # not +=: Counter.__missing__ is Python code
        elif kind == _SCORE_KIND and value.isdigit():
            tally.scores[int(value)] += count
    return tally


def window_tally(block: dict[str, Any] | None) -> WindowTally:
    block = block or {}
    scores: Counter[int] = Counter()
    for key_bucket in (block.get("keys") or {}).get("buckets", []):
        score = _score(str(key_bucket["val"]))
        if score is not None:
            scores[score] += int(key_bucket["count"])
    return WindowTally(datasets=int(block.get("count") or 0), scores=scores)


def run(windows: list[Window]) -> tuple[dict[str, Tally], list[WindowTally]]:
    """(vocab_commune value -> Tally, one WindowTally per window in order): one Solr request."""
    connection = make_connection(decode_dates=False)
    try:
        results = connection.search(q="*:*", fq=base_filter(), rows=0, indent="false",
                                    **{"json.facet": json.dumps(facet_request(windows))})
    except Exception as error:  # pysolr raises SolrError, or socket/requests errors
        raise SearchError(f"The bilan's Solr request failed: {error}") from error
    facets = results.raw_response.get("facets") or {}
    tallies = {str(bucket["val"]): tally_of_bucket(bucket)
               for bucket in (facets.get("communes") or {}).get("buckets", [])}
    return tallies, [window_tally(facets.get(f"window_{number}")) for number in range(len(windows))]
