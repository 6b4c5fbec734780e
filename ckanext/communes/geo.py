"""Geometry of the shared base: bounding boxes and WKT, for the communes' registry (their outlines),
the harvesters (a CSW record's bounding box), the DCAT profile (spatial coverage) and place search (extents
checked with Shapely, the ``ext_bbox`` parameter).
Longitude/latitude in WGS84 throughout."""

from __future__ import annotations

import json
import math
import re
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


# ------------------------------------------------------------------------------ extents (place search)
# A dataset's extent is GeoJSON in WGS84 (ckanext-spatial's ``spatial`` field); what an editor types and what
# a source declares are read here, never trusted: ckanext-spatial's index hook raises on a geometry it cannot
# read (non-JSON text, a ring of two points), and an uncaught error there stops a whole ``search-index rebuild``.

MAX_GEOMETRY_CHARS = 200_000
"""An extent, not a cadastre: longer GeoJSON is refused (the form field, a source's geometry)."""
MAX_BBOX_PARAMETER_CHARS = 200
"""``ext_bbox`` is four numbers: anything longer is refused before it is split."""
NEAR_DEGREES = 0.1
"""How far outside an area an extent may reach and still count as « near » it (about 8 to 11 km)."""


class GeometryProblem(ValueError):
    """Why a geometry or a bounding box was refused: ``reason`` is one of json, type, invalid, range, size,
    area, format, order; ``detail`` says where (a GEOS explanation, the numbers)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def _shape(geometry: Any) -> Any:
    import shapely.geometry
    from shapely.errors import ShapelyError

    if not isinstance(geometry, dict) or not isinstance(geometry.get("type"), str):
        raise GeometryProblem("type")
    if geometry["type"] in ("Feature", "FeatureCollection"):
        raise GeometryProblem("type", geometry["type"])
    try:
        shape = shapely.geometry.shape(geometry)
    except (ShapelyError, ValueError, TypeError, AttributeError, KeyError, IndexError, RecursionError) as error:
        raise GeometryProblem("type", str(error)[:200]) from None
    if shape.is_empty:
        raise GeometryProblem("type", "empty")
    return shape


def read_extent(value: Any) -> Any:
    """A shapely geometry from GeoJSON (text or dict) or WKT text, checked: readable, a geometry, valid (no
    self-intersection), finite longitude/latitude in range. Raises GeometryProblem."""
    from shapely import wkt as shapely_wkt
    from shapely.errors import ShapelyError
    from shapely.validation import explain_validity

    if isinstance(value, str):
        text = value.strip()
        if len(text) > MAX_GEOMETRY_CHARS:
            raise GeometryProblem("size", str(len(text)))
        if text.startswith("{"):
            try:
                value = json.loads(text)
            except (ValueError, RecursionError) as error:
                raise GeometryProblem("json", str(error)[:200]) from None
            shape = _shape(value)
        else:
            try:
                shape = shapely_wkt.loads(text)
            except (ShapelyError, ValueError, TypeError, AttributeError) as error:
                raise GeometryProblem("json", str(error)[:200]) from None
            if shape.is_empty:
                raise GeometryProblem("type", "empty")
    else:
        shape = _shape(value)
    west, south, east, north = shape.bounds
    if not all(math.isfinite(n) for n in shape.bounds) or not (
            -180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        raise GeometryProblem("range", f"{west}, {south}, {east}, {north}")
    if not shape.is_valid:
        raise GeometryProblem("invalid", explain_validity(shape)[:200])
    return shape


def near(bbox: BBox, area: BBox, margin: float = NEAR_DEGREES) -> bool:
    """``bbox`` lies inside ``area`` enlarged by ``margin`` degrees on every side."""
    west, south, east, north = area
    return (bbox[0] >= west - margin and bbox[1] >= south - margin
            and bbox[2] <= east + margin and bbox[3] <= north + margin)


def extent_bbox(value: Any, area: BBox) -> BBox:
    """The bounding box of an extent (see read_extent) that lies in or near ``area``. Raises GeometryProblem
    (reason ``area`` for an extent elsewhere, a world-wide default box included)."""
    bounds: BBox = tuple(read_extent(value).bounds)  # type: ignore[assignment]
    if not near(bounds, area):
        raise GeometryProblem("area", ", ".join(f"{n:g}" for n in bounds))
    return bounds


def union_bbox(boxes: list[BBox]) -> BBox:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def bbox_geojson(bbox: BBox) -> str:
    """A bounding box as a GeoJSON Polygon (compact text, ckanext-spatial's ``spatial`` format)."""
    west, south, east, north = bbox
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return json.dumps({"type": "Polygon", "coordinates": [ring]}, separators=(",", ":"))


_NUMBER = re.compile(r"\s*[-+]?(\d+(\.\d*)?|\.\d+)\s*")


def parse_bbox_parameter(value: Any) -> BBox:
    """``minx,miny,maxx,maxy`` (ckanext-spatial's ``ext_bbox``, WGS84 degrees) as a BBox. Raises GeometryProblem:
    format (not four decimal numbers), order (a minimum above its maximum), range (outside ±180/±90)."""
    if not isinstance(value, str):
        raise GeometryProblem("format")
    if len(value) > MAX_BBOX_PARAMETER_CHARS:
        raise GeometryProblem("size", str(len(value)))
    parts = value.split(",")
    if len(parts) != 4 or not all(_NUMBER.fullmatch(part) for part in parts):
        raise GeometryProblem("format", value[:100])
    west, south, east, north = (float(part) for part in parts)
    if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= 90 and -90 <= north <= 90):
        raise GeometryProblem("range", value)
    if west >= east or south >= north:
        raise GeometryProblem("order", value)
    return west, south, east, north


def problem_message(problem: GeometryProblem, field: str) -> str:
    """The (translated) sentence saying why ``field`` was refused."""
    from ckanext.communes.translation import gettext

    if problem.reason == "json":
        text = gettext("{field}: not valid GeoJSON (or WKT) text.")
    elif problem.reason == "type":
        text = gettext("{field}: not a GeoJSON geometry (Point, LineString, Polygon, Multi…; a Feature is not "
                       "accepted).")
    elif problem.reason == "invalid" and "self-intersection" in problem.detail.lower():
        text = gettext("{field}: the geometry crosses itself (self-intersection at {where}).")
    elif problem.reason == "invalid":
        text = gettext("{field}: the geometry is not valid ({where}).")
    elif problem.reason == "range":
        text = gettext("{field}: longitudes must lie between -180 and 180 and latitudes between -90 and 90 "
                       "(WGS 84 degrees).")
    elif problem.reason == "size":
        text = gettext("{field}: too long ({length} characters).")
    elif problem.reason == "area":
        text = gettext("{field}: the extent ({where}) lies outside the Métropole de Lyon.")
    elif problem.reason == "order":
        text = gettext("{field}: each minimum must be below its maximum (minx < maxx, miny < maxy).")
    else:
        text = gettext("{field}: expected four decimal numbers separated by commas: minx,miny,maxx,maxy "
                       "(longitudes and latitudes in WGS 84 degrees).")
    where = problem.detail.split("[", 1)[-1].rstrip("]") if problem.reason == "invalid" else problem.detail
    return text.format(field=field, where=where[:200], length=problem.detail)
