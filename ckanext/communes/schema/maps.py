"""The maps of place search (issue #24): what the search page, a dataset page and a commune's page draw, and
the text that says the same to whoever cannot see the map (RGAA: the communes covered and the coordinates).

The maps are ckanext-spatial's (its Leaflet 1.9.3, Leaflet.draw and ``ckan.commonLeafletMap`` with the
``ckanext.spatial.common_map.*`` options), driven by assets/communes-maps.js; the extents are those place search
indexes (schema/spatial.py), so what a map shows is what a box search finds.

Drawing a rectangle needs a mouse or a finger: the search page also has a form (a commune, or four coordinates)
that /recherche/lieu turns into an ``ext_bbox`` search, keeping the other filters; the map's rectangle fills
that same form, so both roads end in one check."""

from __future__ import annotations

import json
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import ckan.plugins.toolkit as tk

from ckanext.communes import geo
from ckanext.communes.communes import registry
from ckanext.communes.schema import owner, spatial
from ckanext.communes.translation import gettext

COMMUNE_FIELD = "lieu_commune"
COORDINATE_FIELDS = ("lieu_ouest", "lieu_sud", "lieu_est", "lieu_nord")
"""West, south, east, north: the place form's fields (French names: they show in the page's address)."""
PLACE_FIELDS = (COMMUNE_FIELD, *COORDINATE_FIELDS)
NOT_KEPT = frozenset({spatial.BBOX_PARAMETER, "page", *PLACE_FIELDS})
"""Parameters of the search the place form does not carry over: the old box, the page (a new search starts on
the first), its own fields."""
MAX_COORDINATE_CHARS = 30
_DECIMAL = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)")


def _number(value: float) -> str:
    """A coordinate in a French sentence: four decimals (about ten metres), a decimal comma."""
    return f"{value:.4f}".replace(".", ",")


def _plain(value: float) -> str:
    """A coordinate in a form field or an address: shortest exact form (4.8, not 4.8000)."""
    return repr(float(value))[:-2] if float(value).is_integer() else repr(float(value))


def bbox_sentence(bbox: geo.BBox) -> str:
    west, south, east, north = bbox
    return gettext("longitudes {west} to {east} (west to east), latitudes {south} to {north} (south to north), "
                   "in WGS 84 degrees").format(west=_number(west), east=_number(east), south=_number(south),
                                                north=_number(north))


def communes_in(bbox: geo.BBox) -> list[str]:
    """Names of the communes an extent covers: those whose representative point lies in it; for an extent
    smaller than a commune, the commune(s) whose box holds its centre."""
    from geomet import wkt

    west, south, east, north = bbox
    communes = [g for g in registry.all_geometries() if g.kind == "commune"]
    covered = []
    for geometry in communes:
        x, y = wkt.loads(geometry.centroid_wkt)["coordinates"][:2]
        if west <= x <= east and south <= y <= north:
            covered.append(geometry.name)
    if not covered:
        x, y = (west + east) / 2, (south + north) / 2
        covered = [g.name for g in communes if g.bbox[0] <= x <= g.bbox[2] and g.bbox[1] <= y <= g.bbox[3]]
    return sorted(covered, key=registry.slugify)


def communes_text(names: list[str]) -> str:
    """The communes an extent covers, as a sentence reads them: every commune is « the 58 communes of the
    Métropole », not 58 names."""
    if names and len(names) == sum(1 for g in registry.all_geometries() if g.kind == "commune"):
        return gettext("all the {count} communes of the Métropole").format(count=len(names))
    return ", ".join(names)


@dataclass(frozen=True)
class ExtentMap:
    """A map of one extent: what assets/communes-maps.js draws (``geojson``) and what the page says of it."""

    bbox: geo.BBox
    label: str  # the map's accessible name
    description: str  # its text alternative
    links: dict[str, str] = field(default_factory=dict)
    outline: dict[str, Any] | None = None  # a GeoJSON geometry drawn instead of the box (a commune's outline)

    @property
    def geojson(self) -> str:
        if self.outline is not None:
            return json.dumps(self.outline, separators=(",", ":"))
        return geo.bbox_geojson(self.bbox)


def dataset_map(pkg: dict[str, Any]) -> ExtentMap | None:
    """The extent place search indexes for a dataset (``pkg`` as package_show gives it)."""
    if not isinstance(pkg, dict) or (pkg.get("type") or "dataset") != "dataset":
        return None
    bbox, _origin = spatial.dataset_extent(pkg, owner.owner_profile(pkg.get("owner_org")))
    names = communes_in(bbox)
    description = gettext("Extent of the dataset: {where}.").format(where=bbox_sentence(bbox))
    if names:
        description = gettext("Communes covered: {names}.").format(names=communes_text(names)) + " " + description
    return ExtentMap(bbox, gettext("Map of the dataset's extent"), description)


def search_url(bbox: geo.BBox, kept: list[tuple[str, str]] | tuple[()] = ()) -> str:
    """The dataset search in ``bbox``, with the other parameters ``kept``."""
    query = list(kept)
    query.append((spatial.BBOX_PARAMETER, ",".join(_plain(n) for n in bbox)))
    return tk.h.url_for("dataset.search") + "?" + urllib.parse.urlencode(query)


def commune_map(org: dict[str, Any] | None) -> ExtentMap | None:
    """A commune's (or the Métropole's) box, with the search of the datasets on its territory."""
    profile = owner.owner_profile(org) if org else None
    if profile is None or profile.kind not in owner.LOCAL_AUTHORITY_KINDS:
        return None
    geometry = registry.get_commune_geometry(profile.insee_code) if profile.insee_code else None
    if geometry is not None:
        bbox = geometry.bbox
    elif profile.kind == "metropole":
        bbox = registry.metropole_bbox()
    else:
        return None
    outline = registry.get_commune_outline(profile.insee_code) if profile.insee_code else None
    if outline is not None:
        description = gettext("Outline of {name}; the rectangle around it: {where}.")
    else:
        description = gettext("Extent of {name} (the rectangle around its territory): {where}.")
    # The link searches by the box: place search indexes boxes (schema/spatial.py).
    return ExtentMap(bbox, gettext("Map of the territory of {name}").format(name=profile.display_name),
                     description.format(name=profile.display_name, where=bbox_sentence(bbox)),
                     {"datasets": search_url(bbox)}, outline)


# ------------------------------------------------------------------------------ the search page


@dataclass
class PlaceForm:
    """The search page's place form: the area searched (or typed), the filters it keeps, its errors."""

    bbox: geo.BBox | None = None
    values: dict[str, str] = field(default_factory=dict)
    kept: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def description(self) -> str:
        if self.bbox is None:
            return gettext("No area searched: draw a rectangle on the map (the « Draw a rectangle » button), or "
                           "choose a commune or type the coordinates below.")
        names = communes_in(self.bbox)
        text = gettext("Area searched: {where}.").format(where=bbox_sentence(self.bbox))
        if names:
            text += " " + gettext("Communes in it: {names}.").format(names=communes_text(names))
        return text

    @property
    def geojson(self) -> str | None:
        return geo.bbox_geojson(self.bbox) if self.bbox is not None else None

    @property
    def clear_url(self) -> str:
        return tk.h.url_for("dataset.search") + ("?" + urllib.parse.urlencode(self.kept) if self.kept else "")

    @property
    def metropole_geojson(self) -> str:
        """Where the search map looks when no area is searched, and the outline it draws for orientation."""
        return geo.bbox_geojson(registry.metropole_bbox())


def kept_filters(args: Any) -> list[tuple[str, str]]:
    """The search's other filters, which the place form carries as hidden fields."""
    return [(key, value) for key, value in args.items(multi=True) if key not in NOT_KEPT]


def search_place_form(args: Any) -> PlaceForm:
    """The form as the search page shows it: filled from the page's ``ext_bbox`` (already checked by the
    search: a junk box never renders the page)."""
    form = PlaceForm(kept=kept_filters(args))
    try:
        form.bbox = geo.parse_bbox_parameter(args.get(spatial.BBOX_PARAMETER) or "")
    except geo.GeometryProblem:
        return form
    form.values = dict(zip(COORDINATE_FIELDS, (_plain(n) for n in form.bbox), strict=True))
    return form


def communes_choices() -> list[dict[str, str]]:
    """The communes and Lyon's arrondissements, by name, for the place form's select."""
    return [{"value": g.insee, "label": g.name}
            for g in sorted(registry.all_geometries(), key=lambda g: registry.slugify(g.name))]


def _coordinate(label: str, value: str, limit: float) -> tuple[float | None, str | None]:
    text = (value or "").strip().replace(",", ".")
    if not text:
        return None, gettext("{field}: missing (all four coordinates are needed).").format(field=label)
    if len(text) > MAX_COORDINATE_CHARS or not _DECIMAL.fullmatch(text):
        return None, gettext("{field}: a decimal number is expected (e.g. 4.85).").format(field=label)
    number = float(text)
    if not -limit <= number <= limit:
        return None, gettext("{field}: must lie between -{limit} and {limit} (WGS 84 degrees).").format(
            field=label, limit=int(limit))
    return number, None


def read_place_form(args: Any) -> PlaceForm:
    """What the place form sent: a commune's box, else the four coordinates; errors name the field."""
    form = PlaceForm(kept=kept_filters(args), values={k: str(args.get(k) or "")[:100] for k in PLACE_FIELDS})
    commune = (args.get(COMMUNE_FIELD) or "").strip()
    if commune:
        geometry = registry.get_commune_geometry(commune[:20])
        if geometry is None:
            form.errors.append(gettext("Commune: not a commune of the Métropole de Lyon."))
        else:
            form.bbox = geometry.bbox
        return form
    if not any((args.get(k) or "").strip() for k in COORDINATE_FIELDS):
        form.errors.append(gettext("Commune: choose a commune, or type the four coordinates of the area."))
        return form
    labels = dict(zip(COORDINATE_FIELDS, coordinate_labels(), strict=True))
    limits = dict(zip(COORDINATE_FIELDS, (180.0, 90.0, 180.0, 90.0), strict=True))
    numbers: dict[str, float] = {}
    for key in COORDINATE_FIELDS:
        number, error = _coordinate(labels[key], str(args.get(key) or ""), limits[key])
        if error:
            form.errors.append(error)
        elif number is not None:
            numbers[key] = number
    if form.errors:
        return form
    west, south, east, north = (numbers[k] for k in COORDINATE_FIELDS)
    if east <= west:
        form.errors.append(gettext("{field}: must be greater than the west longitude.").format(
            field=labels["lieu_est"]))
    if north <= south:
        form.errors.append(gettext("{field}: must be greater than the south latitude.").format(
            field=labels["lieu_nord"]))
    if not form.errors:
        form.bbox = (west, south, east, north)
    return form


def coordinate_labels() -> list[str]:
    return [gettext("West longitude"), gettext("South latitude"), gettext("East longitude"),
            gettext("North latitude")]


def map_options() -> dict[str, Any]:
    """What assets/communes-maps.js needs besides the extent: ckanext-spatial's common map options (the tile
    server, if any) and the French names of Leaflet's controls."""
    from ckanext.spatial.helpers import get_common_map_config

    return {
        "map_config": get_common_map_config(),
        "labels": {
            "zoom_in": gettext("Zoom in"), "zoom_out": gettext("Zoom out"),
            "draw_rectangle": gettext("Draw a rectangle"), "cancel": gettext("Cancel"),
            "drawing": gettext("Click and drag to draw the area searched."),
            "tiles": gettext("Background map: {host}"),
        },
    }


def get_helpers() -> dict[str, Any]:
    return {
        "communes_dataset_map": dataset_map,
        "communes_commune_map": commune_map,
        "communes_search_place_form": lambda: search_place_form(tk.request.args),
        "communes_place_communes": communes_choices,
        "communes_place_coordinate_fields": lambda: list(zip(COORDINATE_FIELDS, coordinate_labels(), strict=True)),
        "communes_map_options": lambda: json.dumps(map_options()),
        "communes_metropole_geojson": lambda: geo.bbox_geojson(registry.metropole_bbox()),
    }
