"""How harvested sources mark a High-Value Dataset, read from data/hvd-markers.csv (see data/hvd-SOURCES.txt):
udata's « hvd » tag and category tags, the CSW thesaurus of the EU HVD categories."""

from __future__ import annotations

import csv
import functools
import os
from dataclasses import dataclass

MARKERS_FILE = os.path.join(os.path.dirname(__file__), "data", "hvd-markers.csv")


@dataclass(frozen=True)
class HvdMarkers:
    udata_marker_tags: frozenset[str]
    udata_category_tags: dict[str, str]  # tag -> HVD category code
    csw_thesauri: frozenset[str]  # lower-cased URIs and titles


@functools.cache
def markers() -> HvdMarkers:
    marker_tags: set[str] = set()
    category_tags: dict[str, str] = {}
    thesauri: set[str] = set()
    with open(MARKERS_FILE, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            source, kind, value = row["source"].strip(), row["kind"].strip(), row["value"].strip()
            if source == "udata" and kind == "marker_tag":
                marker_tags.add(value.lower())
            elif source == "udata" and kind == "category_tag":
                category_tags[value.lower()] = row["hvd_category"].strip()
            elif source == "csw" and kind == "thesaurus":
                thesauri.add(value.lower().rstrip("/"))
    return HvdMarkers(frozenset(marker_tags), category_tags, frozenset(thesauri))


def udata_hvd_categories(tags: list[str]) -> list[str] | None:
    """The HVD categories udata's tags give (category codes, in tag order); None when the dataset is not tagged
    as an HVD. An HVD tag with no category tag gives the marker itself, which no category matches: the harvest
    mapping keeps it in harvest_unmapped rather than guess."""
    found = markers()
    lowered = [tag.strip().lower() for tag in tags if isinstance(tag, str)]
    if not found.udata_marker_tags.intersection(lowered):
        return None
    categories = list(dict.fromkeys(found.udata_category_tags[tag] for tag in lowered
                                    if tag in found.udata_category_tags))
    return categories or sorted(found.udata_marker_tags.intersection(lowered))


def is_hvd_thesaurus(title: str, href: str) -> bool:
    """Whether a CSW keyword block's thesaurus (its title text and anchor) is the EU HVD category scheme."""
    thesauri = markers().csw_thesauri
    return any(value and value.strip().lower().rstrip("/") in thesauri for value in (title, href))
