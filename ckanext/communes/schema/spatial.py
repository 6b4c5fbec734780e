"""Where a dataset is, for place search (ckanext-spatial's ``spatial_query``, search backend ``solr-bbox``).

Every dataset is indexed with an extent, a GeoJSON bounding box in WGS84 handed to ckanext-spatial as its
``spatial`` field, chosen in this order:

1. ``spatial``: the narrower extent an editor typed (GeoJSON, checked by the form's validator);
2. ``spatial_coverage``: the geometries (``geom`` GeoJSON, else ``bbox`` WKT) a source declared (a CSW
   ``EX_GeographicBoundingBox``, DCAT ``locn:geometry``/``dcat:bbox``) that lie in or near the Métropole; when
   no entry has one, the territories the URIs name (an INSEE commune or arrondissement: the registry's box);
3. the owner commune's bounding box; an organisation without commune (the Métropole's): the Métropole's.

Computed when the dataset is indexed, not stored: the default follows the owner and the commune registry
without a migration, and a geometry written by any other road (an old harvest, the database itself) that
cannot be read falls back to the next rule instead of stopping the index (ckanext-spatial's own index hook
raises on a geometry it cannot read, which ends a whole ``search-index rebuild``). What editors and sources
give is stored (``spatial``, ``spatial_coverage``), so the RDF and a round trip keep it.

Bounding boxes, not outlines: the package ships each commune's box (communes/data/communes-geo.csv), and
solr-bbox indexes a geometry's envelope whatever its shape, so an outline would cost index size for nothing.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ckan.lib.search.common import SearchQueryError

from ckanext.communes import geo
from ckanext.communes.communes import registry
from ckanext.communes.schema.owner import OwnerProfile
from ckanext.communes.schema.values import is_blank

SPATIAL_FIELD = "spatial"
BBOX_PARAMETER = "ext_bbox"
EXACT_BOX_MARGIN = 1e-5
"""Degrees (about a metre) added around a searched box (see check_bbox_search)."""
_INSEE_TERRITORY = re.compile(r"^https?://id\.insee\.fr/geo/(?:commune|arrondissementMunicipal)/(\w{5})/?$")


def territory_bbox(uri: Any) -> geo.BBox | None:
    """The box of the commune or arrondissement an INSEE territory URI names (None for another URI)."""
    match = _INSEE_TERRITORY.match(uri.strip()) if isinstance(uri, str) else None
    geometry = registry.get_commune_geometry(match.group(1)) if match else None
    return geometry.bbox if geometry is not None else None


def coverage_bbox(entries: Any) -> tuple[geo.BBox, str] | None:
    """What the spatial coverage entries locate: the union of the entries' own geometries that are readable and
    in or near the Métropole (``geometry``); when no entry has one, the union of the territories their URIs name
    (``territory``). A geometry is more precise than a territory named beside it (a DCAT Location with a
    geometry next to the commune's URI, as our own catalogues write it). None when no entry locates anything."""
    geometries: list[geo.BBox] = []
    territories: list[geo.BBox] = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        box = None
        for key in ("geom", "bbox"):
            if not is_blank(entry.get(key)):
                try:
                    box = geo.extent_bbox(entry[key], registry.metropole_bbox())
                    break
                except geo.GeometryProblem:
                    continue
        if box is not None:
            geometries.append(box)
        elif (territory := territory_bbox(entry.get("uri"))) is not None:
            territories.append(territory)
    if geometries:
        return geo.union_bbox(geometries), "geometry"
    return (geo.union_bbox(territories), "territory") if territories else None


def owner_bbox(profile: OwnerProfile | None) -> geo.BBox:
    """The owner commune's box; the Métropole's for an organisation without commune."""
    geometry = registry.get_commune_geometry(profile.insee_code) if profile and profile.insee_code else None
    return geometry.bbox if geometry is not None else registry.metropole_bbox()


def dataset_extent(dataset: dict[str, Any], profile: OwnerProfile | None) -> tuple[geo.BBox, str]:
    """(bounding box, where it came from) of a validated dataset dict: ``spatial`` (the editor's extent),
    ``geometry`` (a source's, in spatial_coverage), ``territory`` (spatial_coverage's INSEE URIs, the owner
    commune's by default), ``owner`` (the owner commune's, the Métropole's for an organisation without one)."""
    if not is_blank(dataset.get(SPATIAL_FIELD)):
        try:
            return geo.extent_bbox(dataset[SPATIAL_FIELD], registry.metropole_bbox()), SPATIAL_FIELD
        except geo.GeometryProblem:
            pass
    coverage = dataset.get("spatial_coverage")
    if isinstance(coverage, str):  # as stored in the extras, before validation
        try:
            coverage = json.loads(coverage)
        except (ValueError, RecursionError):
            coverage = None
    return coverage_bbox(coverage) or (owner_bbox(profile), "owner")


def index_extent(pkg_dict: dict[str, Any], dataset: dict[str, Any], profile: OwnerProfile | None) -> None:
    """IPackageController.before_dataset_index, before ckanext-spatial's (our plugin comes first in
    ckan.plugins): the extent it indexes is always one it can read."""
    box, origin = dataset_extent(dataset, profile)
    pkg_dict[SPATIAL_FIELD] = pkg_dict["extras_" + SPATIAL_FIELD] = geo.bbox_geojson(box)
    # Filterable: fq=vocab_spatial_origin:owner lists the datasets without an extent of their own.
    pkg_dict["vocab_spatial_origin"] = [origin]


def check_bbox_search(search_params: dict[str, Any]) -> dict[str, Any]:
    """IPackageController.before_dataset_search, before ckanext-spatial's: a bounding box it cannot use is
    refused here, in French and naming the parameter (it would raise a bare SearchError, a 409, or pass
    min > max and out-of-range numbers to Solr)."""
    extras = search_params.get("extras")
    value = extras.get(BBOX_PARAMETER) if isinstance(extras, dict) else None
    if value is None or value == "":  # ckanext-spatial ignores an empty ext_bbox
        return search_params
    try:
        west, south, east, north = geo.parse_bbox_parameter(value)
    except geo.GeometryProblem as problem:
        raise SearchQueryError(geo.problem_message(problem, BBOX_PARAMETER)) from None
    # ckanext-spatial keeps a dataset when 2 x overlap / (box area + extent area) lies in ]0, 1]; Solr computes
    # it in float, and a box equal to the extent (a commune's datasets searched by the commune's own box) came
    # out a hair above 1: not found. A box widened by EXACT_BOX_MARGIN keeps the ratio below 1.
    m = EXACT_BOX_MARGIN
    extras[BBOX_PARAMETER] = (f"{max(west - m, -180)!r},{max(south - m, -90)!r},"
                              f"{min(east + m, 180)!r},{min(north + m, 90)!r}")
    return search_params
