"""Bring a dataset dict from a source type onto our schema's vocabularies before it is saved.

The schema's validators would refuse a theme, a frequency or a format outside the EU vocabularies: for
a harvested dataset that would lose the whole dataset for one odd value. Here each value is looked up in
the same vocabularies (``vocabularies.get_vocabulary``); what maps to nothing is removed from the field,
kept in the dataset's ``harvest_unmapped`` note (field -> values, as the source wrote them) and reported,
never replaced by a guess. Licences (the dataset's ``license_id``, a resource's ``license``) are recognised with
the source type's convention and the operators' aliases (licences/recognise.py): never a raw text as licence
id, a value that designates no registry licence is stored as the « licence non reconnue » entry, its text kept
in ``harvest_unmapped`` (and counted in the job report, so that an operator can add an alias).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from ckanext.communes.licences.recognise import stored_licence_id
from ckanext.communes.schema.values import as_list, is_blank
from ckanext.communes.vocabularies import format_code, get_vocabulary, resolve_file_type

# Dataset fields holding EU vocabulary values: field -> (vocabulary, multi-valued).
DATASET_VOCABULARY_FIELDS: dict[str, tuple[str, bool]] = {
    "theme": ("data-theme", True),
    "frequency": ("frequency", False),
    "language": ("language", True),
    "access_rights": ("access-right", False),
    "hvd_category": ("hvd-category", True),
}
RESOURCE_VOCABULARY_FIELDS: dict[str, tuple[str, bool]] = {
    "format": ("file-type", False),
    "language": ("language", True),
}
UNMAPPED_FIELD = "harvest_unmapped"
MAX_KEPT_LICENCE_CHARS = 500  # as an operator's alias (harvesters/licence_aliases.py)


@dataclass
class Mapped:
    """A dataset dict ready for package_create/update, and what could not be mapped."""

    dataset: dict[str, Any]
    unmapped: dict[str, list[str]] = field(default_factory=dict)
    # Licence texts of the source (dataset and resources) that designate no registry licence.
    unrecognised_licences: list[str] = field(default_factory=list)
    extent_problems: list[str] = field(default_factory=list)
    """Why a source's extent was not taken over (translated sentences, one per geometry), for the report."""

    @property
    def warnings(self) -> list[tuple[str, str]]:
        """(field, value) of each value that mapped to nothing."""
        return [(name, value) for name, values in self.unmapped.items() for value in values]


def _map_value(vocabulary: str, value: str, *, file_type: bool = False) -> str | None:
    """The stored form of a source's value: the term's URI; for a file type its short code (``CSV``,
    ``GeoJSON``, ``WFS``: what the schema stores), from any spelling a source writes (DCAT's EU URI,
    a CKAN portal's format, a media type, an extension)."""
    if file_type:
        term = resolve_file_type(value)
        return format_code(term) if term else None
    term = get_vocabulary(vocabulary).lookup(value)
    return term.uri if term else None


def _map_field(container: dict[str, Any], name: str, vocabulary: str, multiple: bool, unmapped: dict[str, list[str]],
               label: str) -> None:
    if name not in container or is_blank(container.get(name)):
        return
    mapped: list[str] = []
    for value in as_list(container[name]):
        stored = _map_value(vocabulary, value, file_type=vocabulary == "file-type")
        if stored is None:
            unmapped.setdefault(label, [])
            if value not in unmapped[label]:
                unmapped[label].append(value)
        elif stored not in mapped:
            mapped.append(stored)
    if multiple:
        container[name] = mapped
    elif mapped:
        container[name] = mapped[0]
    else:
        container.pop(name, None)


def schema_field_names(dataset_type: str = "dataset") -> tuple[frozenset[str], frozenset[str]]:
    """Field names of our scheming schema: (dataset fields, resource fields)."""
    from ckanext.scheming.helpers import scheming_get_dataset_schema

    schema = scheming_get_dataset_schema(dataset_type) or {}
    return (frozenset(f["field_name"] for f in schema.get("dataset_fields", [])),
            frozenset(f["field_name"] for f in schema.get("resource_fields", [])))


# Dataset keys kept beyond the schema's own fields (CKAN core), and keys never taken from a source: the
# core sets the identity and owner, the schema derives the publisher and the compliance flag.
CORE_KEYS = frozenset({"resources", "tags", "extras"})
NEVER_FROM_SOURCE = frozenset({"id", "name", "owner_org", "publisher", "licence_compliance", "state", "type",
                               "private", "harvest_unmapped"})


def keep_schema_fields(dataset: dict[str, Any]) -> dict[str, Any]:
    """Only what our schema stores: a source's other keys (its own extras, ckanext-dcat's internal
    ones) would be refused by scheming or stored as noise."""
    dataset_fields, resource_fields = schema_field_names()
    kept = {k: v for k, v in dataset.items()
            if (k in dataset_fields or k in CORE_KEYS) and k not in NEVER_FROM_SOURCE and k != "extras"}
    kept["resources"] = [
        {k: v for k, v in resource.items() if k in resource_fields and not is_blank(v)}
        for resource in dataset.get("resources") or [] if isinstance(resource, dict) and resource.get("url")
    ]
    tags: list[dict[str, str]] = []
    for tag in dataset.get("tags") or []:
        name = tag.get("name") if isinstance(tag, dict) else tag
        # CKAN's tag names allow letters, digits, spaces, "-", "_" and "." only ("l'eau" would lose the
        # whole dataset to a validation error).
        cleaned = " ".join(re.sub(r"[^\w \-.]", " ", name).split())[:100] if isinstance(name, str) else ""
        if len(cleaned) >= 2 and cleaned not in [t["name"] for t in tags]:
            tags.append({"name": cleaned})
    kept["tags"] = tags
    return {k: v for k, v in kept.items() if not is_blank(v) or k in ("resources", "tags")}


DATE_FIELDS = ("issued", "modified")


def _set_aside(unmapped: dict[str, list[str]], label: str, value: Any) -> None:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    unmapped.setdefault(label, [])
    if text not in unmapped[label]:
        unmapped[label].append(text)


def _check_dates(container: dict[str, Any], unmapped: dict[str, list[str]], prefix: str = "") -> None:
    """A date the schema would refuse (2024-02-30, "hier") is set aside, not the whole dataset lost."""
    from ckanext.communes.schema.validators import parse_date_bounds

    for name in DATE_FIELDS:
        value = container.get(name)
        if not is_blank(value) and parse_date_bounds(value) is None:
            _set_aside(unmapped, prefix + name, value)
            container.pop(name, None)


def _check_temporal_coverage(dataset: dict[str, Any], unmapped: dict[str, list[str]]) -> None:
    """Periods with an unreadable bound, or ending before they start, are dropped (and reported): the
    schema would refuse the dataset for them."""
    from ckanext.communes.schema.validators import parse_date_bounds

    periods = dataset.get("temporal_coverage")
    if is_blank(periods):
        return
    kept = []
    for period in periods if isinstance(periods, list) else [periods]:
        if not isinstance(period, dict):
            _set_aside(unmapped, "temporal_coverage", period)
            continue
        start = parse_date_bounds(period.get("start")) if not is_blank(period.get("start")) else None
        end = parse_date_bounds(period.get("end")) if not is_blank(period.get("end")) else None
        unreadable = (not is_blank(period.get("start")) and start is None) or (
            not is_blank(period.get("end")) and end is None)
        if unreadable or (start and end and end[1] < start[0]):
            _set_aside(unmapped, "temporal_coverage", {k: v for k, v in period.items() if k in ("start", "end")})
            continue
        kept.append(period)
    if kept:
        dataset["temporal_coverage"] = kept
    else:
        dataset.pop("temporal_coverage", None)


GEOMETRY_KEYS = ("geom", "bbox", "centroid")


def _check_extents(dataset: dict[str, Any], unmapped: dict[str, list[str]]) -> list[str]:
    """A source's extent that place search cannot use (unreadable, invalid, self-intersecting, outside the
    Métropole, a world-wide default box) is set aside, never the dataset: ``spatial`` (GeoJSON, as another
    CKAN with ckanext-spatial sends it) would be refused by the schema's validator; a spatial coverage entry
    loses its geometry (an entry left with neither URI nor geometry is dropped, and without any entry the
    schema gives the owner commune's territory). Returns why, one sentence per geometry, for the report."""
    from ckanext.communes import geo
    from ckanext.communes.communes.registry import metropole_bbox

    problems: list[str] = []
    value = dataset.get("spatial")
    if not is_blank(value):
        try:
            if isinstance(value, str) and not value.strip().startswith("{"):
                raise geo.GeometryProblem("json")
            geo.extent_bbox(value, metropole_bbox())
        except geo.GeometryProblem as problem:
            problems.append(geo.problem_message(problem, "spatial"))
            _set_aside(unmapped, "spatial", value if not isinstance(value, str) else value[:2000])
            dataset.pop("spatial", None)
    coverage = dataset.get("spatial_coverage")
    if not isinstance(coverage, list):
        return problems
    kept = []
    for entry in coverage:
        if not isinstance(entry, dict):
            continue
        for key in ("geom", "bbox"):
            if is_blank(entry.get(key)):
                continue
            try:
                geo.extent_bbox(entry[key], metropole_bbox())
            except geo.GeometryProblem as problem:
                problems.append(geo.problem_message(problem, f"spatial_coverage.{key}"))
                _set_aside(unmapped, "spatial_coverage", str(entry[key])[:2000])
                for geometry_key in GEOMETRY_KEYS:
                    entry.pop(geometry_key, None)
                break
        if not is_blank(entry.get("uri")) or not is_blank(entry.get("geom")) or not is_blank(entry.get("bbox")):
            kept.append(entry)
    if kept:
        dataset["spatial_coverage"] = kept
    else:
        dataset.pop("spatial_coverage", None)
    return problems


def _map_licence(container: dict[str, Any], name: str, label: str, convention: str | None,
                 unmapped: dict[str, list[str]], unrecognised: list[str]) -> None:
    value = container.get(name)
    if is_blank(value):
        container.pop(name, None)
        return
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    licence_id, source_text = stored_licence_id(text, convention)
    container[name] = licence_id
    if source_text is not None:
        # What is kept is for people to read and for an alias to name (500 characters at most): no more.
        source_text = source_text[:MAX_KEPT_LICENCE_CHARS]
        _set_aside(unmapped, label, source_text)
        if source_text not in unrecognised:
            unrecognised.append(source_text)


def map_to_schema(dataset: dict[str, Any], convention: str | None = None) -> Mapped:
    """Vocabulary fields of the dataset and its resources as the schema stores them (EU URIs; resource
    formats as short codes); unmapped values set aside, and so are dates and periods the schema would refuse.
    Licences recognised with the source type's ``convention``
    ("ods", "udata", "ckan", "dcat", "csw"); one that designates none stored as « licence non reconnue »."""
    dataset = keep_schema_fields(json.loads(json.dumps(dataset, default=str)))  # never change the source's dict
    unmapped: dict[str, list[str]] = {}
    unrecognised: list[str] = []
    _map_licence(dataset, "license_id", "license_id", convention, unmapped, unrecognised)
    for resource in dataset.get("resources") or []:
        if "license" in resource:
            _map_licence(resource, "license", "resources.license", convention, unmapped, unrecognised)
    _check_dates(dataset, unmapped)
    _check_temporal_coverage(dataset, unmapped)
    extent_problems = _check_extents(dataset, unmapped)
    for resource in dataset.get("resources") or []:
        _check_dates(resource, unmapped, "resources.")
    for name, (vocabulary, multiple) in DATASET_VOCABULARY_FIELDS.items():
        _map_field(dataset, name, vocabulary, multiple, unmapped, name)
    for index, resource in enumerate(dataset.get("resources") or []):
        for name, (vocabulary, multiple) in RESOURCE_VOCABULARY_FIELDS.items():
            _map_field(resource, name, vocabulary, multiple, unmapped, f"resources.{name}")
        if is_blank(resource.get("format")):
            resource.pop("format", None)  # the schema guesses it from the URL and media type
        resource.setdefault("name", resource.get("url", "")[-100:] if not resource.get("name") else resource["name"])
        dataset["resources"][index] = resource
    if unmapped:
        dataset[UNMAPPED_FIELD] = json.dumps(unmapped, ensure_ascii=False, sort_keys=True)
    else:
        dataset.pop(UNMAPPED_FIELD, None)
    return Mapped(dataset, unmapped, unrecognised, extent_problems)


def content_hash(dataset: dict[str, Any]) -> str:
    """A stable fingerprint of what would be saved: same hash, nothing to write."""
    return hashlib.sha256(json.dumps(dataset, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()
