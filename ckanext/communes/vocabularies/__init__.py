"""Controlled vocabularies the portal uses: EU NALs (data themes, frequencies, file types,
access rights, languages), the EU High-Value Dataset categories and the SCDL schemas of schema.data.gouv.fr.

Each vocabulary is a CSV file in ``data/`` with at least the columns ``code, uri, label_fr,
label_en``; any other column lands in ``Term.extra``. Columns holding several values
(``aliases``, ``media_types``, ``extensions``, ``udata_id``) separate them with `` | ``:
``udata_id`` holds several ids where udata is finer than the EU NAL (udata's
``threeTimesADay`` has no EU code, so it maps to OTHER rather than to an invented URI).

File types have one more column, ``ckan_format``: the short code a resource's ``format`` stores, the one
CKAN clients, views and loaders expect (``CSV``, ``GeoJSON``, ``WFS``). It is the EU code, spelled as CKAN's
own list of formats (ckan/config/resource_formats.json) spells it where that list has the format under a
one-word name (``GEOJSON`` -> ``GeoJSON``, ``WFS_SRVC`` -> ``WFS``, ``RDF_XML`` -> ``RDF``); the EU URI stays
what the DCAT output writes.

Every EU URI of these files is a member of its official NAL (checked by
tests/vocabularies/test_eu_nal.py against the NAL files in tests/data/eu-nal/).
"""

from __future__ import annotations

import csv
import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qs

DATA_DIR = os.path.join(os.path.dirname(__file__), "data")

# Vocabulary name -> data file. The names are the public API (scheming `vocabulary:` keys use them).
VOCABULARY_FILES: dict[str, str] = {
    "data-theme": "data-theme.csv",
    "frequency": "frequency.csv",
    "file-type": "file-type.csv",
    "access-right": "access-right.csv",
    "language": "language.csv",
    "scdl-schema": "scdl-schema.csv",
    # EU High-Value Dataset categories (regulation 2023/138); see data/hvd-category-SOURCES.txt.
    "hvd-category": "hvd-category.csv",
}

CORE_COLUMNS = ("code", "uri", "label_fr", "label_en")
# Extra columns whose values identify a term too (lookup() matches them, case-insensitively).
IDENTIFYING_EXTRAS = ("udata_id", "aliases", "ckan_format")
MULTI_VALUE_SEPARATOR = "|"

# Media types that say nothing about the format: ignored by guess_file_type.
GENERIC_MEDIA_TYPES = frozenset(
    {"application/octet-stream", "binary/octet-stream", "application/force-download", "application/download"}
)


def split_multi(value: str | None) -> list[str]:
    """`` a | b `` -> ["a", "b"] (the multi-value cell format of the data files)."""
    return [part.strip() for part in (value or "").split(MULTI_VALUE_SEPARATOR) if part.strip()]


def _uri_key(value: str) -> str:
    """URI comparison key: scheme, case and trailing slash do not matter
    (sources write http://, https:// or nothing for the same vocabulary URI)."""
    key = value.strip().lower()
    key = re.sub(r"^[a-z]+://", "", key)
    return key.rstrip("/")


@dataclass(frozen=True)
class Term:
    uri: str
    code: str
    label_fr: str
    label_en: str
    # e.g. udata_id, media_types, extensions, aliases, kind, version_seen (strings as in the file)
    extra: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)

    def label(self, lang: str = "fr") -> str:
        if (lang or "fr").lower().startswith("en"):
            return self.label_en or self.label_fr
        return self.label_fr or self.label_en


@dataclass(frozen=True)
class Vocabulary:
    name: str
    terms: tuple[Term, ...]

    def __post_init__(self) -> None:
        # Indices in priority order; within one index the first term of the file wins
        # (e.g. udata "continuous" -> UPDATE_CONT, the first of the two EU terms mapping to it).
        by_uri: dict[str, Term] = {}
        by_code: dict[str, Term] = {}
        by_label: dict[str, Term] = {}
        by_other: dict[str, Term] = {}
        for term in self.terms:
            by_uri.setdefault(_uri_key(term.uri), term)
            by_code.setdefault(term.code.lower(), term)
            for text in (term.label_fr, term.label_en):
                if text:
                    by_label.setdefault(text.strip().lower(), term)
            for column in IDENTIFYING_EXTRAS:
                for alias in split_multi(term.extra.get(column)):
                    by_other.setdefault(alias.lower(), term)
        object.__setattr__(self, "_indices", (by_uri, by_code, by_label, by_other))

    def by_uri(self, uri: str) -> Term | None:
        if not uri:
            return None
        return self._indices[0].get(_uri_key(uri))  # type: ignore[attr-defined]

    def lookup(self, value: str) -> Term | None:
        """The term a value designates: its URI (any scheme, trailing slash), code, French or
        English label (case-insensitive), udata id or alias. None when nothing matches exactly."""
        if not value or not value.strip():
            return None
        by_uri, by_code, by_label, by_other = self._indices  # type: ignore[attr-defined]
        text = value.strip().lower()
        return by_uri.get(_uri_key(value)) or by_code.get(text) or by_label.get(text) or by_other.get(text)

    def label(self, uri: str, lang: str = "fr") -> str:
        """Label of a term in ``lang`` (fr or en); the value itself when it is not a term."""
        term = self.lookup(uri) if uri else None
        return term.label(lang) if term else (uri or "")

    def choices(self, lang: str = "fr") -> list[dict[str, str]]:
        """``[{"value": uri, "label": label}]`` in file order, the shape of scheming choices."""
        return [{"value": term.uri, "label": term.label(lang)} for term in self.terms]


def _read_terms(path: str) -> tuple[Term, ...]:
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        terms = []
        for row in reader:
            extra = {k: (v or "").strip() for k, v in row.items() if k not in CORE_COLUMNS}
            terms.append(
                Term(
                    uri=row["uri"].strip(),
                    code=row["code"].strip(),
                    label_fr=(row.get("label_fr") or "").strip(),
                    label_en=(row.get("label_en") or "").strip(),
                    extra=extra,
                )
            )
    return tuple(terms)


@functools.cache
def get_vocabulary(name: str) -> Vocabulary:
    """A vocabulary by name (see VOCABULARY_FILES); loaded once per process."""
    try:
        filename = VOCABULARY_FILES[name]
    except KeyError:
        raise KeyError(f"Unknown vocabulary {name!r}; known: {', '.join(VOCABULARY_FILES)}") from None
    return Vocabulary(name=name, terms=_read_terms(os.path.join(DATA_DIR, filename)))


@functools.lru_cache(maxsize=1)
def _file_type_indices() -> tuple[dict[str, Term], dict[str, Term]]:
    """(extension -> term, media type -> term), first term of the file wins."""
    by_extension: dict[str, Term] = {}
    by_media_type: dict[str, Term] = {}
    for term in get_vocabulary("file-type").terms:
        for extension in split_multi(term.extra.get("extensions")):
            by_extension.setdefault(extension.lower().lstrip("."), term)
        for media_type in split_multi(term.extra.get("media_types")):
            by_media_type.setdefault(media_type.lower(), term)
    return by_extension, by_media_type


# RFC 3986 appendix B: matches every string, so a malformed URL (urlsplit raises ValueError on
# "http://[x/a.csv", an unclosed IPv6 bracket) still yields a path and a query to guess from.
_URI_PARTS = re.compile(r"^(?:[^:/?#]+:)?(?://[^/?#]*)?(?P<path>[^?#]*)(?:\?(?P<query>[^#]*))?")


def _path_and_query(url: str) -> tuple[str, str]:
    match = _URI_PARTS.match(url.strip())
    if match is None:  # cannot happen (every part is optional), but never raise here
        return "", ""
    return match.group("path") or "", match.group("query") or ""


# OGC service names as they appear in `service=` query parameters.
OGC_SERVICES = {"wms": "WMS_SRVC", "wfs": "WFS_SRVC", "wmts": "WMTS_SRVC", "wcs": "WCS_SRVC"}


def _guess_from_url(url: str) -> Term | None:
    vocabulary = get_vocabulary("file-type")
    by_extension, _ = _file_type_indices()
    raw_path, raw_query = _path_and_query(url)
    path = raw_path.lower()
    # OGC services: ?SERVICE=WMS&REQUEST=GetCapabilities, or a path ending in /wms, /wfs...
    query = {k.lower(): v for k, v in parse_qs(raw_query).items()}
    service = (query.get("service") or [""])[0].lower()
    last_segment = path.rstrip("/").rsplit("/", 1)[-1]
    if service in OGC_SERVICES:
        return vocabulary.lookup(OGC_SERVICES[service])
    if last_segment in OGC_SERVICES:
        return vocabulary.lookup(OGC_SERVICES[last_segment])
    if "/mapserver" in path:
        return vocabulary.lookup("MAP_SRVC")
    # Longest extension first, so "x.tar.gz" is TAR_GZ and "x.shp.zip" is SHP.
    name_parts = last_segment.split(".")
    for start in range(1, len(name_parts)):
        term = by_extension.get(".".join(name_parts[start:]))
        if term:
            return term
    # Opendatasoft exports: /api/explore/v2.1/catalog/datasets/{id}/exports/{csv,json,geojson,shp}
    segments = [s for s in path.split("/") if s]
    if len(segments) >= 2 and segments[-2] == "exports":
        return by_extension.get(segments[-1])
    return None


def guess_file_type(url: str | None = None, media_type: str | None = None) -> Term | None:
    """The EU file type of a resource from its URL (extension, OGC service, Opendatasoft export
    path) or, failing that, its media type (parameters ignored, generic ones skipped).

    Never raises: resource URLs are whatever a publisher or a harvested source typed, and a
    malformed one must leave the format unknown, not fail the save (it used to give HTTP 500)."""
    if not isinstance(url, str):
        url = None
    if not isinstance(media_type, str):
        media_type = None
    if url:
        term = _guess_from_url(url)
        if term:
            return term
    if media_type:
        _, by_media_type = _file_type_indices()
        full = media_type.strip().lower()
        base = full.split(";", 1)[0].strip()
        if base not in GENERIC_MEDIA_TYPES:
            return by_media_type.get(re.sub(r"\s*;\s*", "; ", full)) or by_media_type.get(base)
    return None


def format_code(term: Term) -> str:
    """The short code a resource's ``format`` stores for a file type: its ``ckan_format`` (CKAN's spelling of
    the EU code), the EU code when the column is empty."""
    return term.extra.get("ckan_format") or term.code


@functools.lru_cache(maxsize=1)
def _ckan_format_names() -> dict[str, str]:
    """CKAN's own names of formats, lowercased -> CKAN's format ("comma separated values file" -> "CSV",
    "excel" -> "XLS"): what a CKAN client or a CKAN portal's editor may type. Read from CKAN's
    resource_formats.json, the list its own format guessing uses; empty when it cannot be read."""
    try:
        from ckan.lib.helpers import resource_formats
    except ImportError:  # outside CKAN (never in the portal)
        return {}
    try:
        formats = resource_formats()
    except (OSError, ValueError):
        return {}
    names: dict[str, str] = {}
    for key, entry in formats.items():
        # CKAN's entries: [media type, format, name], keyed by each of them and the alternatives, lowercased.
        if isinstance(entry, (list, tuple)) and len(entry) > 1 and isinstance(entry[1], str):
            names.setdefault(str(key).lower(), entry[1])
    return names


def resolve_file_type(value: str | None) -> Term | None:
    """The EU file type a typed format designates, in any of the spellings people and clients use: the code
    in any case (``csv``, ``WFS_SRVC``), the EU URI (any scheme), CKAN's short code (``GeoJSON``, ``WFS``), a
    label or alias, an IANA media type (``text/csv; charset=utf-8``), a file extension (``.csv``, ``csv``),
    or CKAN's name of the format (``Comma Separated Values File``, ``Web Mapping Service``). None when
    nothing matches; never guesses from a part of the value."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    vocabulary = get_vocabulary("file-type")
    term = vocabulary.lookup(text)
    if term is not None:
        return term
    by_extension, _ = _file_type_indices()
    if text.startswith("."):
        term = by_extension.get(text.lower().lstrip("."))
    elif "/" in text:
        term = guess_file_type(media_type=text)
    else:
        term = by_extension.get(text.lower())
    if term is None:
        ckan_format = _ckan_format_names().get(text.lower())
        if ckan_format and ckan_format.lower() != text.lower():
            term = vocabulary.lookup(ckan_format)
    return term


__all__ = ["VOCABULARY_FILES", "Term", "Vocabulary", "format_code", "get_vocabulary", "guess_file_type",
           "resolve_file_type", "split_multi"]
