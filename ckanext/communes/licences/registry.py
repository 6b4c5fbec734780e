"""The licence registry: data/licences.csv is the single source of truth.

data/licences.json (the list CKAN loads through ``licenses_group_url``) is generated from it:
``python -m ckanext.communes.licences.registry`` rewrites it, and a test fails when the two
disagree.

CSV columns: those of the reference seed, id, title (French), spdx, url, alternate_urls,
alternate_titles (multi-valued, separated by " | "), eu_licence_uri (the EU licence NAL URI,
empty only where the NAL has no concept for the licence), udata_id, domain (data|software),
open (yes|no), crpa_d323_2_1 (yes = listed by CRPA art. D323-2-1, superseded = replaced by a
listed licence, no = not listed); plus udata_title, the exact title data.gouv.fr gives its
licence ``udata_id`` (empty when data.gouv.fr has no such licence), so that what we send
data.gouv.fr reads as its own licence.
"""

from __future__ import annotations

import csv
import functools
import json
import os
from dataclasses import dataclass
from typing import Any, Literal

from ckanext.communes.licences import CKAN_LICENCES_FILE

REGISTRY_CSV = os.path.join(os.path.dirname(__file__), "data", "licences.csv")

LegalStatus = Literal["listed", "superseded", "not_listed"]
LEGAL_STATUS_FROM_CSV: dict[str, LegalStatus] = {"yes": "listed", "superseded": "superseded", "no": "not_listed"}

NOT_SPECIFIED_ID = "notspecified"
# « Licence non reconnue »: what a harvested licence that maps to no registry licence is stored as (its text is
# kept in the dataset's harvest_unmapped). Not CKAN's and data.gouv.fr's "notspecified", which says the publisher
# gave no licence: here the source gave one that the portal cannot name. No other list uses this id.
UNRECOGNISED_ID = "unrecognised"


@dataclass(frozen=True)
class Licence:
    id: str
    title: str  # French
    spdx: str
    url: str  # canonical URL ("" when the licence has none, e.g. the Métropole's own licences)
    alternate_urls: tuple[str, ...]
    alternate_titles: tuple[str, ...]
    eu_uri: str  # EU licence NAL URI, "" when the NAL has no concept (e.g. Licence Ouverte 1.0, CeCILL-B)
    udata_id: str
    udata_title: str  # data.gouv.fr's exact title for udata_id, "" when it has none
    domain: str  # "data" | "software"
    is_open: bool
    legal_status: LegalStatus  # with respect to CRPA art. D323-2-1

    @property
    def is_authorised_for_data(self) -> bool:
        """On the CRPA D323-2-1 list for data (Licence Ouverte 2.0, ODbL): the licences an
        administration may set on data without homologation."""
        return self.legal_status == "listed" and self.domain == "data"


def _split(cell: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (cell or "").split("|") if part.strip())


def _licence_from_row(row: dict[str, str]) -> Licence:
    legal = (row.get("crpa_d323_2_1") or "no").strip().lower()
    if legal not in LEGAL_STATUS_FROM_CSV:
        raise ValueError(f"licences.csv: {row['id']}: crpa_d323_2_1 must be yes/superseded/no, not {legal!r}")
    return Licence(
        id=row["id"].strip(),
        title=row["title"].strip(),
        spdx=(row.get("spdx") or "").strip(),
        url=(row.get("url") or "").strip(),
        alternate_urls=_split(row.get("alternate_urls")),
        alternate_titles=_split(row.get("alternate_titles")),
        eu_uri=(row.get("eu_licence_uri") or "").strip(),
        udata_id=(row.get("udata_id") or "").strip(),
        udata_title=(row.get("udata_title") or "").strip(),
        domain=(row.get("domain") or "data").strip(),
        is_open=(row.get("open") or "").strip().lower() == "yes",
        legal_status=LEGAL_STATUS_FROM_CSV[legal],
    )


@functools.cache
def _registry() -> tuple[tuple[Licence, ...], dict[str, Licence]]:
    with open(REGISTRY_CSV, encoding="utf-8", newline="") as f:
        licences = tuple(_licence_from_row(row) for row in csv.DictReader(f))
    by_id = {licence.id: licence for licence in licences}
    if len(by_id) != len(licences):
        raise ValueError("licences.csv: duplicate id")
    return licences, by_id


def all_licences() -> list[Licence]:
    """Every licence of the registry, in file order."""
    return list(_registry()[0])


def get_licence(id: str | None) -> Licence | None:  # noqa: A002 - the API name is fixed
    """The licence with exactly this registry id (use normalize_licence for anything else)."""
    if not id:
        return None
    return _registry()[1].get(id)


def licence_rdf_uri(licence: Licence) -> str:
    """The URI to put behind dct:license: the EU licence NAL URI if the NAL has the licence,
    else its canonical URL ("" for a licence with neither, e.g. the Métropole's own ones)."""
    return licence.eu_uri or licence.url


def ckan_licence_dict(licence: Licence) -> dict[str, Any]:
    """A licence in CKAN's licence-list JSON format, plus our keys (CKAN keeps unknown keys
    on its License objects, see ckan/model/license.py)."""
    data = licence.domain == "data"
    software = licence.domain == "software"
    return {
        "id": licence.id,
        "title": licence.title,
        "url": licence.url,
        # CKAN's isopen() is od_conformance or osd_conformance == "approved".
        "od_conformance": "approved" if licence.is_open and data else "not reviewed",
        "osd_conformance": "approved" if licence.is_open and software else "not reviewed",
        "status": "active",
        "domain_content": False,
        "domain_data": data,
        "domain_software": software,
        "family": "",
        "maintainer": "",
        "is_generic": licence.id.startswith("other-") or licence.id in (NOT_SPECIFIED_ID, UNRECOGNISED_ID),
        "spdx": licence.spdx,
        "eu_licence_uri": licence.eu_uri,
        "udata_title": licence.udata_title,
        "legal_status": licence.legal_status,
    }


def ckan_licences_json() -> str:
    """The exact text data/licences.json must contain."""
    return json.dumps([ckan_licence_dict(lic) for lic in all_licences()], ensure_ascii=False, indent=1) + "\n"


def write_ckan_licences_file(path: str = CKAN_LICENCES_FILE) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(ckan_licences_json())


if __name__ == "__main__":
    write_ckan_licences_file()
    print(f"wrote {CKAN_LICENCES_FILE} ({len(all_licences())} licences)")
