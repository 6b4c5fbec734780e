"""Geometry of the shared base: bounding boxes and WKT, for the communes' registry (their outlines),
the harvesters (a CSW record's bounding box), the DCAT profile (spatial coverage) and, later, place search.
Longitude/latitude in WGS84 throughout."""

from __future__ import annotations

import json
from typing import Any

BBox = tuple[float, float, float, float]
"""(min longitude, min latitude, max longitude, max latitude)."""


def bbox_of_wkt(value: str) -> BBox | None:
    """(min lon, min lat, max lon, max lat) of a WKT or GeoJSON geometry; None if unreadable."""
    from geomet import wkt

    try:
        geometry = json.loads(value) if value.lstrip().startswith("{") else wkt.loads(value.strip().upper())
    except (ValueError, TypeError, AttributeError):
        return None
    numbers: list[float] = []

    def walk(item: Any) -> None:
        if isinstance(item, (list, tuple)):
            if len(item) >= 2 and all(isinstance(n, (int, float)) for n in item[:2]):
                numbers.extend(float(n) for n in item[:2])
            else:
                for sub in item:
                    walk(sub)

    walk((geometry or {}).get("coordinates"))
    if not numbers:
        return None
    longitudes, latitudes = numbers[0::2], numbers[1::2]
    return min(longitudes), min(latitudes), max(longitudes), max(latitudes)


def bbox_wkt(bbox: BBox) -> str:
    west, south, east, north = bbox
    return f"POLYGON(({west} {south}, {east} {south}, {east} {north}, {west} {north}, {west} {south}))"


def centre_wkt(bbox: BBox) -> str:
    west, south, east, north = bbox
    return f"POINT({round((west + east) / 2, 6)} {round((south + north) / 2, 6)})"


def is_wkt(value: str, kind: str, points: int) -> bool:
    """``value`` is a WKT ``kind`` (POLYGON, POINT) with exactly ``points`` coordinate pairs."""
    from geomet import wkt

    try:
        geometry = wkt.loads(value.strip().upper())
    except (ValueError, TypeError, AttributeError, KeyError, IndexError):
        return False
    if (geometry or {}).get("type", "").upper() != kind.upper():
        return False
    coordinates = geometry.get("coordinates")
    pairs = [coordinates] if kind.upper() == "POINT" else [pair for ring in coordinates for pair in ring]
    return len(pairs) == points and all(len(pair) >= 2 for pair in pairs)
