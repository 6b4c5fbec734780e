"""Distributions that are services (WMS, WFS, WMTS, WCS, Esri map and REST services), by EU file type,
with the standard each conforms to: data/service-standards.csv."""

from __future__ import annotations

import csv
import functools
import os
from dataclasses import dataclass

SERVICES_FILE = os.path.join(os.path.dirname(__file__), "data", "service-standards.csv")


@dataclass(frozen=True)
class ServiceKind:
    file_type: str  # EU file-type code, e.g. WFS_SRVC
    standard: str  # URI of the standard, "" when there is none
    standard_title: str


@functools.cache
def _kinds() -> dict[str, ServiceKind]:
    with open(SERVICES_FILE, encoding="utf-8", newline="") as f:
        return {
            row["file_type"].strip(): ServiceKind(
                file_type=row["file_type"].strip(),
                standard=(row["standard"] or "").strip(),
                standard_title=(row["standard_title"] or "").strip(),
            )
            for row in csv.DictReader(f)
        }


def service_kind(file_type_code: str | None) -> ServiceKind | None:
    """The service a file type designates, None for a file (CSV, PDF...)."""
    return _kinds().get(file_type_code or "")
