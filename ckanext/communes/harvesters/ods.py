"""Opendatasoft source type: a portal's Explore API v2.1 catalogue, mapped onto our schema.

The catalogue is read from ``{portal}/api/explore/v2.1/catalog/datasets``, 100 datasets a page (the API's
maximum). The API refuses ``offset + limit`` beyond 10,000, so a catalogue announcing more than 10,000
datasets is read instead from ``/catalog/exports/json`` (the whole catalogue as one JSON array, fetched
within the response size limit) and handed to the core in chunks of 100.

The GUID is ``dataset_uid``, which Opendatasoft never changes: a renamed ``dataset_id`` updates the same
dataset. Theme labels and French accrual periodicity words are mapped to EU codes through data files
(``data/ods-themes.csv``, ``data/ods-frequencies.csv``); what they do not list is passed on as written, and
the core's mapping keeps it aside in ``harvest_unmapped``. The description, HTML at the source, becomes
Markdown with markdownify; scripts, styles and other active content are dropped with their content.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import json
import pathlib
import re
import unicodedata
import urllib.parse
from collections.abc import Iterator
from typing import Any

import ckan.plugins as p
import ckan.plugins.toolkit as tk
from markdownify import MarkdownConverter

from ckanext.communes.harvesters.base import (
    CommunesHarvester,
    GatherContext,
    SourceError,
    SourcePage,
    SourceRecord,
)
from ckanext.communes.licences.recognise import recognise_licence
from ckanext.communes.net import fetch as guarded
from ckanext.communes.translation import N_
from ckanext.harvest.interfaces import IHarvester

API_PATH = "/api/explore/v2.1"
PAGE_SIZE = 100  # the API's maximum ``limit``
OFFSET_CAP = 10_000  # the API refuses offset + limit beyond this
EXPORT_CHUNK = 100  # records per core page when the catalogue comes from the export
MAX_FILTERS = 50
MAX_EXCLUDED = 5000
DATA_DIR = pathlib.Path(__file__).resolve().parent / "data"
THEMES_FILE = DATA_DIR / "ods-themes.csv"
FREQUENCIES_FILE = DATA_DIR / "ods-frequencies.csv"
# Field types of a dataset with geometry: only those get the GeoJSON and Shapefile exports.
GEO_FIELD_TYPES = frozenset({"geo_point_2d", "geo_shape"})
# (export path, EU file-type code, media type, resource name, what the file is): stored content, in French
# like the rest of the portal's data.
EXPORTS = (
    ("csv", "CSV", "text/csv", "Export CSV", "CSV (séparateur point-virgule)"),
    ("json", "JSON", "application/json", "Export JSON", "JSON"),
    ("geojson", "GEOJSON", "application/geo+json", "Export GeoJSON", "GeoJSON"),
    ("shp", "SHP", "application/zip", "Export Shapefile", "Shapefile (archive ZIP)"),
)
GEO_EXPORTS = frozenset({"geojson", "shp"})
MAX_TAGS = 100


# ------------------------------------------------------------------------------------------ mapping tables


def label_key(value: str) -> str:
    """How two spellings of one label compare: case, accents, typographic apostrophes and spacing (also
    around commas) do not matter ("Economie" = "Économie", "Transports,Déplacements")."""
    value = unicodedata.normalize("NFKD", value.replace("\u2019", "'").replace("\u00a0", " "))
    value = "".join(c for c in value if not unicodedata.combining(c))
    value = re.sub(r"\s*,\s*", ", ", value)
    return " ".join(value.casefold().split())


def _read_table(path: pathlib.Path, column: str) -> dict[str, tuple[str, ...]]:
    with path.open(encoding="utf-8", newline="") as f:
        return {
            label_key(row["label"]): tuple(code.strip() for code in row[column].split("|") if code.strip())
            for row in csv.DictReader(f)
            if (row.get("label") or "").strip() and (row.get(column) or "").strip()
        }


@functools.cache
def theme_table() -> dict[str, tuple[str, ...]]:
    """Normalised Opendatasoft theme label -> EU data-theme codes."""
    return _read_table(THEMES_FILE, "themes")


@functools.cache
def frequency_table() -> dict[str, str]:
    """Normalised accrual periodicity word -> EU frequency code."""
    return {key: codes[0] for key, codes in _read_table(FREQUENCIES_FILE, "frequency").items()}


@functools.cache
def tables_fingerprint() -> bytes:
    """Part of every page's hash: an edited mapping table maps unchanged pages again."""
    digest = hashlib.sha256()
    for path in (THEMES_FILE, FREQUENCIES_FILE):
        digest.update(path.read_bytes())
    return digest.digest()


def map_themes(labels: list[str]) -> list[str]:
    """EU codes of the labels the table knows; any other label as written (the core's mapping accepts EU
    labels and codes, and sets the rest aside)."""
    themes: list[str] = []
    for label in labels:
        for value in theme_table().get(label_key(label)) or (label,):
            if value not in themes:
                themes.append(value)
    return themes


def map_frequency(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return frequency_table().get(label_key(value), value.strip())


# ------------------------------------------------------------------------------------------ HTML -> Markdown


_SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
# A script or style written as text (entities in the HTML: "&lt;script&gt;") comes out of the converter
# as literal tags: taken out too, so that no script text ever reaches the description.
_LITERAL_ACTIVE_BLOCK = re.compile(r"<\s*(script|style)\b.*?<\s*/\s*\1\s*>", re.IGNORECASE | re.DOTALL)
_LITERAL_ACTIVE_TAG = re.compile(r"<\s*/?\s*(?:script|style)\b[^>]*>?", re.IGNORECASE)
_BLANK_LINES = re.compile(r"\n{3,}")
_HTML_TAG = re.compile(r"<[a-zA-Z!/]")


def _safe_link(url: str | None) -> bool:
    if not url:
        return False
    scheme = urllib.parse.urlsplit(url.strip()).scheme.lower()
    return scheme in _SAFE_SCHEMES or (not scheme and not url.strip().lower().startswith("javascript"))


class _Converter(MarkdownConverter):
    """markdownify, with active and embedded content dropped with its content, and only http(s)/mailto
    links and images kept (a ``javascript:`` link keeps its text only)."""

    def _drop(self, el: Any, text: str, parent_tags: Any) -> str:
        return ""

    convert_script = convert_style = convert_noscript = convert_template = _drop
    convert_iframe = convert_object = convert_embed = convert_svg = convert_math = _drop
    convert_head = convert_title = convert_button = convert_form = convert_select = _drop

    def convert_a(self, el: Any, text: str, parent_tags: Any) -> str:
        if not _safe_link(el.get("href")):
            el.attrs.pop("href", None)
        return super().convert_a(el, text, parent_tags)

    def convert_img(self, el: Any, text: str, parent_tags: Any) -> str:
        if not _safe_link(el.attrs.get("src")):
            return el.attrs.get("alt") or ""
        return super().convert_img(el, text, parent_tags)


def html_to_markdown(html: Any) -> str:
    if not isinstance(html, str) or not html.strip():
        return ""
    # A description without any tag is plain text already (converting it would fold its line breaks).
    text = _Converter(heading_style="ATX", bullets="-").convert(html) if _HTML_TAG.search(html) else html
    text = _LITERAL_ACTIVE_TAG.sub("", _LITERAL_ACTIVE_BLOCK.sub("", text))
    return _BLANK_LINES.sub("\n\n", text).strip()


# ------------------------------------------------------------------------------------------ one dataset


def _texts(value: Any) -> list[str]:
    """A metadata value as a list of non-empty strings (Opendatasoft writes a string or a list)."""
    items = value if isinstance(value, list) else [value]
    return [str(item).strip() for item in items
            if isinstance(item, (str, int, float)) and not isinstance(item, bool) and str(item).strip()]


def portal_base(source_url: str) -> str:
    """The portal's root from what an operator typed: the portal, its API or a catalogue page."""
    parts = urllib.parse.urlsplit(source_url.strip())
    path = parts.path
    for marker in ("/api/explore/", "/api/", "/explore"):
        index = path.find(marker)
        if index >= 0:
            path = path[:index]
            break
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path.rstrip("/"), "", ""))


def _quote(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def licence_value(default: dict[str, Any]) -> str | None:
    """The registry id the licence label or, failing it, the licence URL designates (Opendatasoft's
    convention, operators' aliases included); else the label (or URL) as written, which mapping.py stores as
    « licence non reconnue », the text kept in harvest_unmapped."""
    written = _texts(default.get("license"))[:1] + _texts(default.get("license_url"))[:1]
    for value in written:
        match = recognise_licence(value, convention="ods")
        if match.licence is not None:
            return match.licence.id
    return written[0] if written else None


def _temporal_coverage(dcat: dict[str, Any]) -> list[dict[str, str]]:
    start = _texts(dcat.get("temporal_coverage_start"))
    end = _texts(dcat.get("temporal_coverage_end"))
    if start or end:
        period = {"start": start[0] if start else "", "end": end[0] if end else ""}
        return [{k: v for k, v in period.items() if v}]
    # The older free-text field, when it is an ISO interval ("2020-01-01/2020-12-31").
    temporal = _texts(dcat.get("temporal"))
    if temporal and temporal[0].count("/") == 1:
        first, last = (part.strip() for part in temporal[0].split("/"))
        if re.match(r"^\d{4}", first) and re.match(r"^\d{4}", last):
            return [{"start": first, "end": last}]
    return []


def _has_geometry(remote: dict[str, Any]) -> bool:
    fields = remote.get("fields") if isinstance(remote.get("fields"), list) else []
    return any(isinstance(f, dict) and f.get("type") in GEO_FIELD_TYPES for f in fields)


def _has_records(remote: dict[str, Any], default: dict[str, Any]) -> bool:
    if isinstance(remote.get("has_records"), bool):
        return remote["has_records"]
    count = default.get("records_count")
    return isinstance(count, int) and not isinstance(count, bool) and count > 0


def _resources(remote: dict[str, Any], default: dict[str, Any], base: str, dataset_id: str,
               modified: str | None) -> list[dict[str, Any]]:
    dataset_url = f"{base}{API_PATH}/catalog/datasets/{_quote(dataset_id)}"
    resources: list[dict[str, Any]] = []
    if _has_records(remote, default):
        geometry = _has_geometry(remote)
        for path, file_type, media_type, name, what in EXPORTS:
            if path in GEO_EXPORTS and not geometry:
                continue
            resource = {"url": f"{dataset_url}/exports/{path}", "name": name, "format": file_type,
                        "mimetype": media_type,
                        "description": f"Toutes les données du jeu, au format {what}, produites à la demande "
                                       "par l'API Opendatasoft."}
            if modified:
                resource["modified"] = modified
            resources.append(resource)
    attachments = remote.get("attachments") if isinstance(remote.get("attachments"), list) else []
    for attachment in attachments:
        if not isinstance(attachment, dict) or not _texts(attachment.get("id")):
            continue
        attachment_id = _texts(attachment.get("id"))[0]
        # "odsfile://notice.pdf": the file name gives the format; the media type is a fallback the schema uses.
        file_name = _texts(attachment.get("url"))[0].rsplit("/", 1)[-1] if _texts(attachment.get("url")) else ""
        resource = {"url": f"{dataset_url}/attachments/{_quote(attachment_id)}",
                    "name": (_texts(attachment.get("title")) or [file_name or attachment_id])[0][:200]}
        if "." in file_name:
            resource["format"] = file_name.rsplit(".", 1)[1]
        if _texts(attachment.get("mimetype")):
            resource["mimetype"] = _texts(attachment.get("mimetype"))[0]
        resources.append(resource)
    return resources


def map_ods_dataset(remote: dict[str, Any], base: str) -> tuple[dict[str, Any], list[str]]:
    """A dataset of the Explore API as a dict of our schema's fields (vocabulary values as codes or as
    written), and the values that route it to a commune."""
    metas = remote.get("metas") if isinstance(remote.get("metas"), dict) else {}
    default = metas.get("default") if isinstance(metas.get("default"), dict) else {}
    dcat = metas.get("dcat") if isinstance(metas.get("dcat"), dict) else {}
    dataset_id = (_texts(remote.get("dataset_id")) or [""])[0]
    modified = (_texts(default.get("modified")) or [None])[0]
    contact = {key: value[0] for key, value in (("name", _texts(dcat.get("contact_name"))),
                                                ("email", _texts(dcat.get("contact_email")))) if value}
    dataset: dict[str, Any] = {
        "title": (_texts(default.get("title")) or [dataset_id])[0],
        "notes": html_to_markdown(default.get("description")),
        "tags": [{"name": keyword} for keyword in _texts(default.get("keyword"))[:MAX_TAGS]],
        "theme": map_themes(_texts(default.get("theme"))),
        "license_id": licence_value(default),
        "url": f"{base}/explore/dataset/{_quote(dataset_id)}/" if dataset_id else None,
        "language": _texts(default.get("language")),
        "modified": modified,
        "issued": (_texts(dcat.get("issued")) or [None])[0],
        "frequency": map_frequency(dcat.get("accrualperiodicity")),
        "contact": [contact] if contact else [],
        "temporal_coverage": _temporal_coverage(dcat),
        "identifier": (_texts(remote.get("dataset_uid")) or [None])[0],
        "resources": _resources(remote, default, base, dataset_id, modified) if dataset_id else [],
    }
    dataset = {key: value for key, value in dataset.items() if value not in (None, "", [])}
    dataset.setdefault("tags", [])
    dataset.setdefault("resources", [])
    # Publisher first: a dataset of the Métropole about Bron stays the Métropole's. The territory routes
    # a dataset whose publisher names no commune (a department of the town hall, say).
    publisher_values = _texts(default.get("publisher")) + _texts(dcat.get("creator")) + _texts(default.get("territory"))
    return dataset, list(dict.fromkeys(publisher_values))


# ------------------------------------------------------------------------------------------ the source type


def _refine_values(value: Any) -> list[str] | None:
    """The source config's ``refine`` as Explore API ``refine`` parameters (``facet:value``), or None when
    it is not acceptable. A list of "facet:value" strings, or an object {facet: value or [values]}."""
    if isinstance(value, str):
        value = [value]
    refines: list[str] = []
    if isinstance(value, list):
        for item in value:
            if not isinstance(item, str) or ":" not in item.strip(":") or len(item) > 500:
                return None
            refines.append(item.strip())
    elif isinstance(value, dict):
        for facet, values in value.items():
            items = values if isinstance(values, list) else [values]
            if not re.fullmatch(r"[A-Za-z0-9_.]{1,100}", str(facet)) or not items:
                return None
            for item in items:
                if not isinstance(item, (str, int)) or isinstance(item, bool) or not str(item).strip():
                    return None
                refines.append(f"{facet}:{item}")
    else:
        return None
    return refines if 0 < len(refines) <= MAX_FILTERS else None


def _query(config: dict[str, Any]) -> list[tuple[str, str]]:
    query = [("refine", refine) for refine in _refine_values(config["refine"]) or []] if config.get("refine") else []
    if isinstance(config.get("where"), str) and config["where"].strip():
        query.append(("where", config["where"].strip()))
    return query


def _excluded(config: dict[str, Any]) -> frozenset[str]:
    values = config.get("exclude_datasets")
    return (frozenset(v.strip() for v in values if isinstance(v, str) and v.strip())
            if isinstance(values, list) else frozenset())


class OpendatasoftHarvester(CommunesHarvester, p.SingletonPlugin):
    p.implements(IHarvester)

    source_type = "communes_ods"
    title = N_("Opendatasoft portal")
    description = N_(
        "An Opendatasoft portal, read through its Explore API v2.1: give the portal's address, e.g. "
        "https://data.example.fr. Datasets are read 100 at a time; a catalogue of more than 10,000 datasets "
        "is read from the catalogue export in one response, within the response size limit. Data exports (CSV, "
        "JSON, and GeoJSON and Shapefile for data with geometry) and attachments become resources; themes and "
        "update frequencies are mapped to the EU vocabularies. Optional configuration: "
        "{\"refine\": [\"publisher:Ville de Bron\"]}, {\"where\": \"modified >= date'2020-01-01'\"}, "
        "{\"exclude_datasets\": [\"dataset-id-to-leave-out\"]}, {\"max_withdraw_percent\": 20}, "
        "{\"routing\": {\"Direction des sports\": \"69029\"}}."
    )

    @property
    def type_config_keys(self) -> dict[str, Any]:  # type: ignore[override]
        def refine(value: Any) -> str | None:
            if _refine_values(value) is None:
                return tk._('a list of "facet:value" filters of the Explore API (at most {count}), e.g. {example}'
                            ).format(count=MAX_FILTERS, example='["theme:Environnement"]')
            return None

        def where(value: Any) -> str | None:
            if not isinstance(value, str) or not value.strip() or len(value) > 2000:
                return tk._("an ODSQL condition of the Explore API (text of at most 2000 characters)")
            return None

        def exclude_datasets(value: Any) -> str | None:
            if (not isinstance(value, list) or len(value) > MAX_EXCLUDED
                    or not all(isinstance(v, str) and v.strip() and len(v) <= 300 for v in value)):
                return tk._("a list of dataset identifiers (dataset_id or dataset_uid) to leave out")
            return None

        return {"refine": refine, "where": where, "exclude_datasets": exclude_datasets}

    def pages(self, ctx: GatherContext) -> Iterator[SourcePage]:
        base = portal_base(ctx.source_url)
        if not base.startswith(("http://", "https://")) or not urllib.parse.urlsplit(base).netloc:
            raise SourceError(ctx.source_url, tk._("{url}: not the address of an Opendatasoft portal.").format(
                url=ctx.source_url))
        excluded = _excluded(ctx.config)
        # The exclusions and mapping tables are part of each page's hash: changing them maps the pages again.
        salt = tables_fingerprint() + json.dumps(sorted(excluded)).encode()
        query = _query(ctx.config)
        offset = 0
        expected: int | None = None
        distinct: set[str] = set()
        without_uid = 0
        while True:
            url = f"{base}{API_PATH}/catalog/datasets?" + urllib.parse.urlencode(
                [("limit", str(PAGE_SIZE)), ("offset", str(offset)), ("order_by", "dataset_id"), *query])
            results, total, body = self._list_page(ctx, url)
            if expected is None:
                expected = total
                if total > OFFSET_CAP:
                    # Paging would stop at the API's offset cap: read the whole catalogue from the export.
                    yield from self._export_pages(ctx, base, query, excluded, salt)
                    return
            if not results:
                break
            yield self._page(url, body, salt, results, base, excluded)
            for remote in results:
                uid = remote.get("dataset_uid") if isinstance(remote, dict) else None
                if uid:
                    distinct.add(str(uid))
                else:
                    without_uid += 1
            offset += len(results)
            if offset >= expected:
                break
            if offset + PAGE_SIZE > OFFSET_CAP:
                # The catalogue grew past the cap while being read: what is left cannot be paged.
                raise SourceError(url, tk._("{url}: the catalogue grew beyond 10,000 datasets while being read; "
                                            "it will be read from the catalogue export next time.").format(url=url))
        read = len(distinct) + without_uid
        if expected is not None and read < expected:
            # Fewer distinct datasets than announced: some were skipped (the catalogue changed while being
            # paged, a dataset moved from one page to another): the listing cannot justify a withdrawal.
            raise SourceError(base, tk._("{url}: the catalogue announced {count} datasets but {read} distinct "
                                         "ones were read (it changed while being read); nothing is "
                                         "withdrawn.").format(url=base, count=expected, read=read))

    @staticmethod
    def _list_page(ctx: GatherContext, url: str) -> tuple[list[Any], int, bytes]:
        response = ctx.fetch(url, accept="application/json")
        payload = guarded.parse_json(response.body, url)
        results = payload.get("results") if isinstance(payload, dict) else None
        total = payload.get("total_count") if isinstance(payload, dict) else None
        if not isinstance(results, list) or not isinstance(total, int) or isinstance(total, bool) or total < 0:
            raise SourceError(url, tk._("{url}: not an answer of the Opendatasoft Explore API v2.1.").format(url=url))
        return results, total, response.body

    def _export_pages(self, ctx: GatherContext, base: str, query: list[tuple[str, str]], excluded: frozenset[str],
                      salt: bytes) -> Iterator[SourcePage]:
        url = f"{base}{API_PATH}/catalog/exports/json"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        # The fetch streams the body and stops at the source's response size limit (an error, nothing withdrawn).
        response = ctx.fetch(url, accept="application/json")
        results = guarded.parse_json(response.body, url)
        if not isinstance(results, list):
            raise SourceError(url, tk._("{url}: not an Opendatasoft catalogue export (a JSON array is "
                                        "expected).").format(url=url))
        for start in range(0, len(results), EXPORT_CHUNK):
            chunk = results[start:start + EXPORT_CHUNK]
            body = json.dumps(chunk, sort_keys=True, ensure_ascii=False).encode()
            page_url = f"{url}#records={start + 1}-{start + len(chunk)}"
            yield self._page(page_url, body, salt, chunk, base, excluded)

    @staticmethod
    def _page(url: str, body: bytes, salt: bytes, results: list[Any], base: str,
              excluded: frozenset[str]) -> SourcePage:
        digest = hashlib.sha256(body + b"\0" + salt).hexdigest()

        def records(results: list[Any] = results) -> Iterator[SourceRecord]:
            for remote in results:
                if not isinstance(remote, dict):
                    continue
                if excluded & {str(remote.get("dataset_id") or ""), str(remote.get("dataset_uid") or "")}:
                    continue
                dataset, publisher_values = map_ods_dataset(remote, base)
                yield SourceRecord(guid=str(remote.get("dataset_uid") or "").strip(), dataset=dataset,
                                   publisher_values=publisher_values)

        return SourcePage(url=url, content_hash=digest, records=records)
