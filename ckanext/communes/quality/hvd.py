"""The conditions Commission Implementing Regulation (EU) 2023/138 sets on a High-Value Dataset (a dataset with an
``hvd_category``), checked on the dataset dict:

- ``licence``: the licence (the dataset's, and every resource's own) at least as permissive as CC BY 4.0
  (art. 4(3); which licences qualify: licences/data/hvd-licences.csv, licences/policy.py);
- ``bulk``: a bulk download: a resource that is a file (its EU file type known, not a service, not a web page);
- ``api``: an API: a resource that is a service (WMS, WFS... dcat/data/service-standards.csv) or one loaded into
  the DataStore (the Data API, a dcat:DataService in our RDF);
- ``up_to_date``: the metadata up to date: a declared update frequency that is respected (quality/frequency.py,
  the quality score's rule).

Each condition has a French label and, when it is not met, what to do. Shown on the dataset page of an HVD, counted
per commune and group in the bilan (bilan/indexing.py indexes them).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from ckanext.communes.dcat.services import service_kind
from ckanext.communes.licences.policy import is_hvd_compatible
from ckanext.communes.quality import frequency
from ckanext.communes.schema.values import as_list
from ckanext.communes.translation import N_, gettext

CONDITION_KEYS = ("licence", "bulk", "api", "up_to_date")
NOT_A_DOWNLOAD = frozenset({"HTML"})  # a web page about the data is not the data

LABELS = {
    "licence": N_("Open licence at least as permissive as CC BY 4.0"),
    "bulk": N_("Bulk download"),
    "api": N_("API (data service)"),
    "up_to_date": N_("Up-to-date metadata"),
}
HINTS = {
    "licence": N_("Publish the data under Licence Ouverte 2.0 (or CC BY 4.0, CC0): ODbL and the licences with "
                  "share-alike, non-commercial or registration conditions are not allowed for a high-value "
                  "dataset."),
    "bulk": N_("Add a resource with the whole data as a file (CSV, GeoJSON, ZIP…)."),
    "api": N_("Give access through an API: add the address of a web service (WFS, WMS…), or a CSV or spreadsheet "
              "file that the portal loads into its Data API."),
    "up_to_date": N_("Declare the update frequency and keep the data updated at that pace (modification date)."),
}


@dataclass(frozen=True)
class Condition:
    key: str
    met: bool

    @property
    def label(self) -> str:
        return gettext(LABELS[self.key])

    @property
    def hint(self) -> str:
        return "" if self.met else gettext(HINTS[self.key])


def is_hvd(dataset: dict[str, Any]) -> bool:
    """Whether the dataset declares at least one HVD category (of the EU list)."""
    from ckanext.communes.vocabularies import get_vocabulary

    vocabulary = get_vocabulary("hvd-category")
    return any(isinstance(value, str) and vocabulary.lookup(value) is not None
               for value in as_list(dataset.get("hvd_category")))


def _file_type_code(resource: dict[str, Any]) -> str | None:
    from ckanext.communes.vocabularies import resolve_file_type

    for value in (resource.get("format"), resource.get("mimetype")):
        term = resolve_file_type(value) if isinstance(value, str) else None
        if term is not None:
            return term.code
    return None


def _resources(dataset: dict[str, Any]) -> list[dict[str, Any]]:
    return [resource for resource in dataset.get("resources") or [] if isinstance(resource, dict)]


def licence_met(dataset: dict[str, Any]) -> bool:
    if not is_hvd_compatible(dataset.get("license_id")):
        return False
    return all(is_hvd_compatible(resource["license"]) for resource in _resources(dataset) if resource.get("license"))


def bulk_met(dataset: dict[str, Any]) -> bool:
    for resource in _resources(dataset):
        code = _file_type_code(resource)
        if code is not None and service_kind(code) is None and code not in NOT_A_DOWNLOAD:
            return True
    return False


def api_met(dataset: dict[str, Any]) -> bool:
    return any(resource.get("datastore_active") is True or service_kind(_file_type_code(resource)) is not None
               for resource in _resources(dataset))


def up_to_date_met(dataset: dict[str, Any], now: datetime.datetime | None = None) -> bool:
    return frequency.judge(dataset, now=now).verdict == "respected"


def conditions(dataset: dict[str, Any], now: datetime.datetime | None = None) -> list[Condition]:
    """The four conditions, in CONDITION_KEYS order, met or not (whether the dataset is an HVD is not checked)."""
    return [
        Condition("licence", licence_met(dataset)),
        Condition("bulk", bulk_met(dataset)),
        Condition("api", api_met(dataset)),
        Condition("up_to_date", up_to_date_met(dataset, now)),
    ]


def condition_label(key: str) -> str:
    return gettext(LABELS[key])
