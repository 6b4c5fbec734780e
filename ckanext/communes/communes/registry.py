"""The communes of the Métropole de Lyon: the ONLY module that reads the communes data file.

Seeding, validators, harvest routing, RDF publishers and pages all ask this module. Codes change over
time (mergers, renames), so every lookup also resolves former INSEE codes and Lyon's arrondissements to
the current commune.
"""

from __future__ import annotations

import csv
import datetime
import functools
import json
import os
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from ckanext.communes import geo

METROPOLE_SIREN = "200046977"
METROPOLE_NAME = "Métropole de Lyon"

DATA_FILE = os.path.join(os.path.dirname(__file__), "data", "communes.csv")
COLUMNS = (
    "insee", "name", "siren", "postcodes", "population", "population_year",
    "phase_2019", "arrondissements", "former",
)
PHASES_2019 = ("phase1", "phase2")

# COG commune codes: 2 characters of département (Corsica: 2A/2B) then 3 digits.
INSEE_RE = re.compile(r"^(?:\d{2}|2[AB])\d{3}$")
SIREN_RE = re.compile(r"^\d{9}$")
POSTCODE_RE = re.compile(r"^\d{5}$")


@dataclass(frozen=True)
class FormerIdentity:
    """An identity a commune had until a date (exclusive): old code and/or old name."""

    insee: str
    name: str
    until: datetime.date


@dataclass(frozen=True)
class Commune:
    insee: str
    name: str
    siren: str
    postcodes: tuple[str, ...]
    population: int
    population_year: int
    phase_2019: str | None  # "phase1" | "phase2" | None
    former: tuple[FormerIdentity, ...]
    # INSEE codes of municipal arrondissements (only Lyon has some in the Métropole).
    arrondissements: tuple[str, ...] = field(default=())

    @property
    def slug(self) -> str:
        """The CKAN organisation name of the commune, e.g. "oullins-pierre-benite"."""
        return slugify(self.name)

    @property
    def former_codes(self) -> tuple[str, ...]:
        return tuple(sorted({f.insee for f in self.former if f.insee != self.insee}))


class DataFileError(ValueError):
    """The communes data file is malformed; `line` is the 1-based line number in the file."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")


def _fold(text: str) -> str:
    """Case-, accent- and punctuation-insensitive form of a name, for name lookups."""
    return slugify(text)


def siren_checksum_ok(siren: str) -> bool:
    """Luhn checksum of a SIREN (9 digits)."""
    if not SIREN_RE.match(siren):
        return False
    total = 0
    for position, char in enumerate(reversed(siren)):
        digit = int(char)
        if position % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(";") if part.strip()]


def _parse_row(row: dict[str, str | None], line: int) -> Commune:
    if None in row or any(row.get(column) is None for column in COLUMNS):
        raise DataFileError(line, f"expected {len(COLUMNS)} columns")
    values = {key: (value or "").strip() for key, value in row.items() if key is not None}
    insee = values["insee"]
    if not INSEE_RE.match(insee):
        raise DataFileError(line, f"invalid INSEE code {insee!r}")
    name = values["name"]
    if not name:
        raise DataFileError(line, "empty name")
    siren = values["siren"]
    if not siren_checksum_ok(siren):
        raise DataFileError(line, f"invalid SIREN {siren!r} (9 digits with a Luhn checksum)")
    postcodes = tuple(_split(values["postcodes"]))
    if not postcodes or not all(POSTCODE_RE.match(p) for p in postcodes):
        raise DataFileError(line, f"invalid postcodes {values['postcodes']!r}")
    try:
        population = int(values["population"])
        population_year = int(values["population_year"])
    except ValueError:
        raise DataFileError(line, "population and population_year must be integers") from None
    if population <= 0:
        raise DataFileError(line, f"population must be positive, got {population}")
    if not 1800 <= population_year <= 2100:
        raise DataFileError(line, f"implausible population_year {population_year}")
    phase = values["phase_2019"] or None
    if phase is not None and phase not in PHASES_2019:
        raise DataFileError(line, f"phase_2019 must be empty, phase1 or phase2, got {phase!r}")
    arrondissements = tuple(_split(values["arrondissements"]))
    if not all(INSEE_RE.match(code) for code in arrondissements):
        raise DataFileError(line, f"invalid arrondissement codes {values['arrondissements']!r}")
    former: list[FormerIdentity] = []
    for entry in _split(values["former"]):
        parts = entry.split(":")
        if len(parts) != 3 or not INSEE_RE.match(parts[0].strip()) or not parts[1].strip():
            raise DataFileError(line, f"former identity {entry!r} is not CODE:NAME:YYYY-MM-DD")
        try:
            until = datetime.date.fromisoformat(parts[2].strip())
        except ValueError:
            raise DataFileError(line, f"former identity {entry!r} has an invalid date") from None
        former.append(FormerIdentity(insee=parts[0].strip(), name=parts[1].strip(), until=until))
    return Commune(
        insee=insee, name=name, siren=siren, postcodes=postcodes, population=population,
        population_year=population_year, phase_2019=phase, former=tuple(former),
        arrondissements=arrondissements,
    )


def load_communes(path: str = DATA_FILE) -> list[Commune]:
    """Read and check a whole communes file; raise DataFileError (with the line) at the first fault."""
    return [commune for _line, commune in read_communes_file(path)]


def read_communes_file(path: str = DATA_FILE) -> list[tuple[int, Commune]]:
    """Like load_communes, with the line number of each commune (for later checks by the seeder)."""
    communes: list[tuple[int, Commune]] = []
    seen_codes: dict[str, int] = {}
    seen_sirens: dict[str, int] = {}
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        missing = [column for column in COLUMNS if column not in (reader.fieldnames or [])]
        if missing:
            raise DataFileError(1, f"missing columns: {', '.join(missing)}")
        for row in reader:
            line = reader.line_num
            commune = _parse_row(row, line)
            codes = {commune.insee, *commune.arrondissements, *(f.insee for f in commune.former)}
            for code in codes:
                if code in seen_codes:
                    raise DataFileError(line, f"INSEE code {code} already used on line {seen_codes[code]}")
                seen_codes[code] = line
            if commune.siren in seen_sirens:
                raise DataFileError(line, f"SIREN {commune.siren} already used on line {seen_sirens[commune.siren]}")
            seen_sirens[commune.siren] = line
            communes.append((line, commune))
    if not communes:
        raise DataFileError(1, "no commune in the file")
    return communes


@functools.lru_cache(maxsize=1)
def _bundled() -> tuple[tuple[Commune, ...], dict[str, Commune]]:
    communes = tuple(load_communes(DATA_FILE))
    by_code: dict[str, Commune] = {}
    for commune in communes:
        # Former codes and arrondissements first, so a current code always wins.
        for former in commune.former:
            by_code.setdefault(former.insee, commune)
        for code in commune.arrondissements:
            by_code[code] = commune
    for commune in communes:
        by_code[commune.insee] = commune
        by_code[commune.siren] = commune
    return communes, by_code


def all_communes() -> list[Commune]:
    """The current communes of the Métropole, in INSEE code order."""
    return sorted(_bundled()[0], key=lambda commune: commune.insee)


def _normalise_code(code: str | None) -> str:
    return re.sub(r"\s+", "", str(code or "")).upper()


def get_commune(code: str) -> Commune | None:
    """The current commune for an INSEE code (current or former), a SIREN, or an arrondissement code
    (69381..69389 -> Lyon). None if the code is not one of the Métropole's communes."""
    return _bundled()[1].get(_normalise_code(code))


def is_metropole_insee(code: str) -> bool:
    """True when the code designates (now or formerly) a commune of the Métropole."""
    commune = get_commune(code)
    return commune is not None and INSEE_RE.match(_normalise_code(code)) is not None


def get_commune_by_name(name: str, on: datetime.date | None = None) -> Commune | None:
    """The current commune for a current or former name ("Oullins", "Pierre-Bénite", "Grigny"),
    ignoring case, accents and punctuation. `on` restricts former names to those valid on that date."""
    wanted = _fold(name)
    if not wanted:
        return None
    for commune in _bundled()[0]:
        if _fold(commune.name) == wanted:
            return commune
    for commune in _bundled()[0]:
        for former in commune.former:
            if _fold(former.name) == wanted and (on is None or on < former.until):
                return commune
    return None


# ------------------------------------------------------------------------------------ geometries

GEOMETRY_FILE = os.path.join(os.path.dirname(__file__), "data", "communes-geo.csv")
GEOMETRY_COLUMNS = ("insee", "nom", "type", "bbox_wkt", "centroid_wkt", "area_km2")


@dataclass(frozen=True)
class CommuneGeometry:
    """Where a commune (or one of Lyon's arrondissements) is, for DCAT spatial coverage: its bounding
    box as a WKT POLYGON and a representative point (always inside the outline) as a WKT POINT, both
    WGS84 longitude/latitude."""

    insee: str
    name: str
    kind: str  # "commune" | "arrondissement_municipal"
    bbox_wkt: str
    centroid_wkt: str
    area_km2: float

    @functools.cached_property
    def bbox(self) -> geo.BBox:
        """(min longitude, min latitude, max longitude, max latitude)."""
        bbox = geo.bbox_of_wkt(self.bbox_wkt)
        assert bbox is not None, "checked when the file was read"
        return bbox


def _parse_geometry_row(row: dict[str, str | None], line: int) -> CommuneGeometry:
    if None in row or any(row.get(column) is None for column in GEOMETRY_COLUMNS):
        raise DataFileError(line, f"expected {len(GEOMETRY_COLUMNS)} columns")
    values = {key: (value or "").strip() for key, value in row.items() if key is not None}
    if not INSEE_RE.match(values["insee"]):
        raise DataFileError(line, f"invalid INSEE code {values['insee']!r}")
    bbox, centroid = values["bbox_wkt"], values["centroid_wkt"]
    if not geo.is_wkt(bbox, "POLYGON", 5):
        raise DataFileError(line, f"bbox_wkt is not a 5-point WKT POLYGON: {bbox!r}")
    if not geo.is_wkt(centroid, "POINT", 1):
        raise DataFileError(line, f"centroid_wkt is not a WKT POINT: {centroid!r}")
    try:
        area = float(values["area_km2"])
    except ValueError:
        raise DataFileError(line, "area_km2 must be a number") from None
    return CommuneGeometry(
        insee=values["insee"], name=values["nom"], kind=values["type"], bbox_wkt=bbox,
        centroid_wkt=centroid, area_km2=area,
    )


@functools.lru_cache(maxsize=1)
def _geometries() -> dict[str, CommuneGeometry]:
    with open(GEOMETRY_FILE, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        return {
            geometry.insee: geometry
            for geometry in (_parse_geometry_row(row, reader.line_num) for row in reader)
        }


def get_commune_geometry(code: str | None) -> CommuneGeometry | None:
    """The geometry of an INSEE code: an arrondissement of Lyon has its own; a former code or a SIREN
    gives the current commune's. None for a code outside the Métropole."""
    code = _normalise_code(code)
    geometries = _geometries()
    if code in geometries:
        return geometries[code]
    commune = get_commune(code)
    return geometries.get(commune.insee) if commune is not None else None


def all_geometries() -> list[CommuneGeometry]:
    """Every geometry of the file, the communes' and Lyon's arrondissements', in INSEE code order (the maps'
    text alternatives and the search page's commune select)."""
    return sorted(_geometries().values(), key=lambda geometry: geometry.insee)


OUTLINE_FILE = os.path.join(os.path.dirname(__file__), "data", "communes-outlines.geojson")


@functools.lru_cache(maxsize=1)
def _outlines() -> dict[str, dict[str, Any]]:
    with open(OUTLINE_FILE, encoding="utf-8") as f:
        collection = json.load(f)
    return {feature["properties"]["insee"]: feature["geometry"] for feature in collection["features"]}


def get_commune_outline(code: str | None) -> dict[str, Any] | None:
    """A commune's outline, a GeoJSON (Multi)Polygon in WGS84 (simplified: edges off by up to a hundred metres),
    for its page's map; None for an arrondissement of Lyon or a code outside the Métropole (only boxes there)."""
    geometry = get_commune_geometry(code)
    return _outlines().get(geometry.insee) if geometry is not None and geometry.kind == "commune" else None


@functools.lru_cache(maxsize=1)
def metropole_bbox() -> geo.BBox:
    """The Métropole de Lyon's extent: the union of its communes' bounding boxes (WGS84)."""
    return geo.union_bbox([geometry.bbox for geometry in _geometries().values() if geometry.kind == "commune"])
