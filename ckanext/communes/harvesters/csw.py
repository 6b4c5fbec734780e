"""GeoNetwork source type: a CSW 2.0.2 catalogue read with GetRecords in ISO 19139 (data.grandlyon.com's).

Paging: ``GetRecords`` by HTTP GET (KVP), ``startPosition``/``maxRecords`` with a configurable page size
(``page_size``, default 100, 1 to 500; ckanext-spatial's CSW harvester is stuck at 10, its issue #217), the
next page given by ``csw:SearchResults/@nextRecord`` (0 at the end), sorted by identifier (GeoNetwork's
own CSW harvester does the same since its PR #6223: without a sort, a record reindexed during the harvest
can move from one page to another). An optional CQL constraint (``cql``) selects part of the catalogue.
HTTP Basic credentials (``username``/``password``) are sent through the guarded fetch, which drops them on
a redirect to another origin. The password stays server-side, encrypted at rest and bound to the origin of
the source's URL: credentials.py checks the two keys, masks the password in everything CKAN and
ckanext-harvest show of a source, encrypts it when a source is saved, and opens it only to build the
Authorization header of a request to that origin; this module only asks it for that header.

ISO 19139 mapping: a compact XPath mapping on the lxml tree net/fetch.py's ``parse_xml`` built (no
entities, no DTD, no network), rather than ckanext-spatial's ``ISODocument`` (ckanext.spatial.harvested_metadata,
2.3.2). That class is usable standalone (it imports only lxml and takes an lxml element), but for these
records it misses what we need: it reads ``useLimitation`` only under ``gmd:MD_Constraints`` (GeoNetwork
writes the Métropole's licences under ``gmd:MD_LegalConstraints``), reads no ``gmx:Anchor`` (INSPIRE
theme keywords and licence links are anchors in recent records), keeps no thesaurus name (needed to tell
INSPIRE/GEMET keywords from free ones) and no resource-level constraint; and installing it pulls OWSLib,
pyproj, Shapely and geojson for one module that only needs lxml. So nothing is added to the requirements.

The GUID is ``gmd:fileIdentifier`` (the GeoNetwork UUID), stable across runs and renamed titles.
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
from lxml import etree

from ckanext.communes.geo import bbox_wkt, centre_wkt
from ckanext.communes.harvesters import credentials
from ckanext.communes.harvesters.base import (
    CommunesHarvester,
    ConfigError,
    GatherContext,
    SourceError,
    SourcePage,
    SourceRecord,
)
from ckanext.communes.harvesters.hvd import is_hvd_thesaurus
from ckanext.communes.licences.normalise import looks_like_url
from ckanext.communes.licences.recognise import recognise_licence
from ckanext.communes.net import fetch as guarded
from ckanext.communes.translation import N_
from ckanext.communes.vocabularies import format_code, guess_file_type
from ckanext.harvest.interfaces import IHarvester

DATA = pathlib.Path(__file__).resolve().parent / "data"
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500
DEFAULT_SORT_BY = "identifier:A"
MAX_PAGES = 10_000
ACCEPT = "application/xml, text/xml;q=0.9"
ISO_SCHEMA = "http://www.isotc211.org/2005/gmd"
EU_THEME = "http://publications.europa.eu/resource/authority/data-theme/"
EU_FREQUENCY = "http://publications.europa.eu/resource/authority/frequency/"

NS = {
    "csw": "http://www.opengis.net/cat/csw/2.0.2",
    "ows": "http://www.opengis.net/ows",
    "gmd": ISO_SCHEMA,
    "gmi": "http://www.isotc211.org/2005/gmi",
    "gco": "http://www.isotc211.org/2005/gco",
    "gmx": "http://www.isotc211.org/2005/gmx",
    "srv": "http://www.isotc211.org/2005/srv",
    "gml": "http://www.opengis.net/gml",
    "gml32": "http://www.opengis.net/gml/3.2",
    "xlink": "http://www.w3.org/1999/xlink",
}
ISO_RECORD_TAGS = {f"{{{NS['gmd']}}}MD_Metadata", f"{{{NS['gmi']}}}MI_Metadata"}
XLINK_HREF = f"{{{NS['xlink']}}}href"
# Hierarchy levels harvested as datasets; services, applications... are catalogue entries, not data.
DATASET_LEVELS = frozenset({"", "dataset", "series", "nonGeographicDataset"})
# Roles of a responsible party, in the order their organisation names are tried for routing: who owns
# or publishes the data designates the commune better than who keeps the metadata.
ROLE_ORDER = ("owner", "publisher", "originator", "pointOfContact", "custodian", "author", "principalInvestigator",
              "resourceProvider", "distributor", "processor", "user")
# Online resource protocols (upper case, prefix) -> EU file type of the service.
SERVICE_PROTOCOLS = (("OGC:WMTS", "WMTS_SRVC"), ("OGC:WMS", "WMS_SRVC"), ("OGC:WFS", "WFS_SRVC"),
                     ("OGC:WCS", "WCS_SRVC"))
INSPIRE_CODELISTS = "inspire.ec.europa.eu/metadata-codelist/"
_SORT_BY = re.compile(r"^[A-Za-z][\w.:-]{0,80}:[AD]$")
_GEONETWORK_CSW = re.compile(r"^(?P<base>.*?/srv)/[^/]+/csw/?$")
_DATE_PREFIX = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?")


# --------------------------------------------------------------------------------------------- mapping tables


def _key(value: str) -> str:
    """Case-, accent-, dash- and spacing-insensitive form of a keyword."""
    value = unicodedata.normalize("NFKD", value.replace("—", "-").replace("–", "-").replace("’", "'"))
    value = "".join(c for c in value if not unicodedata.combining(c))
    return " ".join(value.casefold().split())


@functools.cache
def _theme_table() -> tuple[dict[str, str], dict[str, str]]:
    """(URI -> EU theme code, keyword key -> EU theme code) from inspire-themes.csv."""
    by_uri: dict[str, str] = {}
    by_label: dict[str, str] = {}
    with open(DATA / "inspire-themes.csv", encoding="utf-8", newline="") as file:
        for row in csv.DictReader(file):
            theme = row["eu_theme"].strip()
            if row["uri"].strip():
                by_uri[row["uri"].strip().rstrip("/").lower()] = theme
            labels = [row["label_fr"], row["label_en"], *row.get("aliases", "").split("|")]
            for label in labels:
                if label.strip():
                    by_label.setdefault(_key(label), theme)
    return by_uri, by_label


@functools.cache
def _frequency_table() -> dict[str, str]:
    with open(DATA / "iso-frequencies.csv", encoding="utf-8", newline="") as file:
        return {row["iso_code"].strip().lower(): row["eu_frequency"].strip() for row in csv.DictReader(file)}


def theme_of_keyword(label: str, href: str = "") -> str | None:
    """EU data theme URI of an INSPIRE theme or GEMET keyword (by its anchor URI, else its label)."""
    by_uri, by_label = _theme_table()
    code = by_uri.get(href.strip().rstrip("/").lower()) if href else None
    code = code or by_label.get(_key(label))
    return EU_THEME + code if code else None


def frequency_of(iso_code: str) -> str:
    """EU frequency URI of an ISO maintenance frequency code; the code as written when not in the table
    (mapping.py then sets it aside with a warning)."""
    code = _frequency_table().get(iso_code.strip().lower())
    return EU_FREQUENCY + code if code else iso_code


# --------------------------------------------------------------------------------------------- ISO 19139 reading


def _x(node: Any, path: str) -> list[Any]:
    return node.xpath(path, namespaces=NS) if node is not None else []


def _value(prop: Any) -> str:
    """Text of an ISO property: its gco:CharacterString, gmx:Anchor, gco:Date... child, else its own text
    (gmd:URL), else a codelist's codeListValue."""
    if prop is None:
        return ""
    for child in prop:
        if not isinstance(child.tag, str):
            continue
        text = (child.text or "").strip()
        if text:
            return text
        if child.get("codeListValue"):
            return child.get("codeListValue", "").strip()
    if prop.get("codeListValue"):
        return prop.get("codeListValue", "").strip()
    return (prop.text or "").strip()


def _first(node: Any, path: str) -> str:
    for prop in _x(node, path):
        text = _value(prop)
        if text:
            return text
    return ""


def _href(prop: Any) -> str:
    anchor = prop.find("gmx:Anchor", NS) if prop is not None else None
    return (anchor.get(XLINK_HREF) or "").strip() if anchor is not None else ""


def _code(node: Any, path: str) -> str:
    """A codelist value: @codeListValue, else the element's text."""
    for element in _x(node, path):
        value = (element.get("codeListValue") or element.text or "").strip()
        if value:
            return value
    return ""


def _date_only(value: str) -> str:
    """A date, a datetime's date part (periods and dates of ISO records are days)."""
    match = _DATE_PREFIX.match(value.strip())
    return match.group(0) if match else value.strip()


def _number(text: str) -> float | None:
    try:
        number = float(text.replace(",", "."))
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


def _bbox_entry(box: Any) -> dict[str, str] | None:
    """A spatial_coverage entry from an EX_GeographicBoundingBox, in the form our DCAT profile writes
    (bbox: WKT POLYGON, centroid: WKT POINT, geom: GeoJSON); None for an impossible box."""
    values = [_number(_first(box, f"gmd:{side}")) for side in
              ("westBoundLongitude", "southBoundLatitude", "eastBoundLongitude", "northBoundLatitude")]
    if any(v is None for v in values):
        return None
    west, south, east, north = values  # type: ignore[misc]
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        return None
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"bbox": bbox_wkt((west, south, east, north)), "centroid": centre_wkt((west, south, east, north)),
            "geom": json.dumps({"type": "Polygon", "coordinates": [ring]})}


def _licence(identification: Any) -> str | None:
    """The licence of a record: the first useLimitation / otherConstraints text (or anchor link) of its
    resource constraints that the licence registry recognises (the Métropole's « Licence engagée » and
    « Licence associée » included); else the first of them that says it is a licence, kept as written
    (mapping.py stores it as « licence non reconnue », the text kept); else none. « Pas de restriction
    d'accès public » and the like are access constraints, not licences: never taken as one."""
    candidates: list[str] = []
    for constraints in _x(identification, "gmd:resourceConstraints/*"):
        for prop in _x(constraints, "gmd:useLimitation | gmd:otherConstraints"):
            href = _href(prop)
            if href:
                candidates.append(href)
            text = _value(prop)
            if text:
                candidates.append(text)
    for candidate in candidates:
        match = recognise_licence(candidate, convention="csw")
        if match.licence is not None:
            return match.licence.id
    for candidate in candidates:
        if INSPIRE_CODELISTS in candidate.lower():
            continue  # INSPIRE's LimitationsOnPublicAccess / ConditionsApplyingToAccessAndUse: not licences
        if ("licen" in candidate.lower() or looks_like_url(candidate)) and len(candidate) <= 300:
            return candidate
    return None


def _parties(node: Any, path: str) -> list[dict[str, str]]:
    parties = []
    for party in _x(node, path):
        parties.append({
            "organisation": _first(party, "gmd:organisationName"),
            "individual": _first(party, "gmd:individualName"),
            "email": _first(party, "gmd:contactInfo/gmd:CI_Contact/gmd:address/gmd:CI_Address/"
                                   "gmd:electronicMailAddress"),
            "role": _code(party, "gmd:role/gmd:CI_RoleCode"),
        })
    return parties


def _resource(online: Any) -> dict[str, Any] | None:
    url = _first(online, "gmd:linkage")
    if not url.lower().startswith(("http://", "https://")):
        return None
    protocol = _first(online, "gmd:protocol")
    name = _first(online, "gmd:name")
    description = _first(online, "gmd:description")
    function = _code(online, "gmd:function/gmd:CI_OnLineFunctionCode")
    resource: dict[str, Any] = {"url": url, "name": (description or name or url.rsplit("/", 1)[-1])[:200]}
    if description and name and description != name:
        resource["description"] = f"{description} ({name})"  # the layer name of a WMS/WFS link
    upper = protocol.upper()
    service = next((code for prefix, code in SERVICE_PROTOCOLS if upper.startswith(prefix)), None)
    if service:
        resource["format"] = service
    else:
        guessed = guess_file_type(url=url)
        if guessed is not None:
            resource["format"] = format_code(guessed)
        elif upper.startswith("WWW:LINK") or function == "information":
            resource["format"] = "HTML"  # a web page
    return resource


def landing_page(source_url: str, uuid: str) -> str | None:
    """The GeoNetwork record page (``{...}/srv/api/records/{uuid}``, GeoNetwork 3.4 and later) of a
    catalogue whose CSW is at ``{...}/srv/{lang}/csw``; None for another CSW server."""
    match = _GEONETWORK_CSW.match(urllib.parse.urlsplit(source_url)._replace(query="", fragment="").geturl())
    if not match or not uuid:
        return None
    return f"{match.group('base')}/api/records/{urllib.parse.quote(uuid, safe='')}"


def map_record(md: Any, source_url: str) -> SourceRecord:
    """One ISO 19139 record (gmd:MD_Metadata) as a SourceRecord with our schema's field names."""
    guid = _first(md, "gmd:fileIdentifier")
    identification = next(iter(_x(md, "gmd:identificationInfo/*")), None)
    citation = next(iter(_x(identification, "gmd:citation/gmd:CI_Citation")), None)
    dataset: dict[str, Any] = {"title": _first(citation, "gmd:title")}
    abstract = _first(identification, "gmd:abstract")
    if abstract:
        dataset["notes"] = abstract
    dataset["identifier"] = _first(citation, "gmd:identifier/*/gmd:code") or guid
    uri = _first(md, "gmd:dataSetURI")
    page = uri if uri.lower().startswith(("http://", "https://")) else landing_page(source_url, guid)
    if page:
        dataset["url"] = page

    # Dates: publication (else creation) is when it was issued, revision when it was modified.
    dates: dict[str, str] = {}
    for ci_date in _x(citation, "gmd:date/gmd:CI_Date"):
        kind = _code(ci_date, "gmd:dateType/gmd:CI_DateTypeCode")
        value = _first(ci_date, "gmd:date")
        if kind and value:
            dates.setdefault(kind, _date_only(value))
    if dates.get("publication") or dates.get("creation"):
        dataset["issued"] = dates.get("publication") or dates["creation"]
    if dates.get("revision"):
        dataset["modified"] = dates["revision"]

    # Keywords: INSPIRE themes and GEMET -> EU themes; the others, and the unmapped, -> tags.
    themes: list[str] = []
    tags: list[dict[str, str]] = []
    hvd_categories: list[str] = []
    for block in _x(identification, "gmd:descriptiveKeywords/gmd:MD_Keywords"):
        thesaurus_prop = next(iter(_x(block, "gmd:thesaurusName/gmd:CI_Citation/gmd:title")), None)
        thesaurus = f"{_value(thesaurus_prop)} {_href(thesaurus_prop)}".lower()
        controlled = "inspire" in thesaurus or "gemet" in thesaurus
        if is_hvd_thesaurus(_value(thesaurus_prop), _href(thesaurus_prop)):
            # The EU HVD categories (data/hvd-markers.csv): each keyword, by its anchor else its label, is a
            # category; mapping.py keeps one that matches none in harvest_unmapped.
            for prop in _x(block, "gmd:keyword"):
                value = _href(prop) or _value(prop)
                if value and value not in hvd_categories:
                    hvd_categories.append(value)
            continue
        for prop in _x(block, "gmd:keyword"):
            label, href = _value(prop), _href(prop)
            theme = (theme_of_keyword(label, href)
                     if controlled or href.startswith(("http://inspire.ec.europa.eu/theme/",
                                                       "https://inspire.ec.europa.eu/theme/")) else None)
            if theme:
                if theme not in themes:
                    themes.append(theme)
            elif label:
                tags.append({"name": label})
    if themes:
        dataset["theme"] = themes
    if hvd_categories:
        dataset["hvd_category"] = hvd_categories
    dataset["tags"] = tags

    licence = _licence(identification)
    if licence:
        dataset["license_id"] = licence

    # Extent: bounding boxes -> spatial coverage with geometry; time periods -> temporal coverage.
    spatial = []
    extent_text = _first(identification, ".//gmd:EX_Extent/gmd:description") or _first(
        identification, ".//gmd:EX_GeographicDescription/gmd:geographicIdentifier/*/gmd:code")
    for box in _x(identification, ".//gmd:EX_Extent/gmd:geographicElement/gmd:EX_GeographicBoundingBox"):
        entry = _bbox_entry(box)
        if entry and entry not in spatial:
            spatial.append(entry)
    if len(spatial) == 1 and extent_text:
        spatial[0]["text"] = extent_text[:200]
    if spatial:
        dataset["spatial_coverage"] = spatial
    periods = []
    for period in _x(identification, ".//gmd:EX_TemporalExtent/gmd:extent/gml:TimePeriod"
                                     " | .//gmd:EX_TemporalExtent/gmd:extent/gml32:TimePeriod"):
        start = _date_only(_first(period, "*[local-name()='beginPosition']") or
                           _first(period, "*[local-name()='begin']//*[local-name()='timePosition']"))
        end = _date_only(_first(period, "*[local-name()='endPosition']") or
                         _first(period, "*[local-name()='end']//*[local-name()='timePosition']"))
        if start or end:
            periods.append({key: value for key, value in (("start", start), ("end", end)) if value})
    if periods:
        dataset["temporal_coverage"] = periods

    frequency = _code(identification, "gmd:resourceMaintenance/gmd:MD_MaintenanceInformation/"
                                      "gmd:maintenanceAndUpdateFrequency/gmd:MD_MaintenanceFrequencyCode")
    if frequency:
        dataset["frequency"] = frequency_of(frequency)
    languages = [value for value in (_code(identification, "gmd:language/gmd:LanguageCode"),
                                     _first(identification, "gmd:language")) if value]
    if languages:
        dataset["language"] = [languages[0]]

    # Responsible parties: the contact point, and the organisation names that route to a commune.
    parties = _parties(identification, "gmd:pointOfContact/gmd:CI_ResponsibleParty")
    metadata_contacts = _parties(md, "gmd:contact/gmd:CI_ResponsibleParty")
    contacts = [party for party in parties if party["role"] == "pointOfContact"] or parties[:1] or metadata_contacts[:1]
    contact = []
    for party in contacts:
        entry = {k: v for k, v in (("name", party["organisation"] or party["individual"]),
                                   ("email", party["email"])) if v}
        if entry and entry not in contact:
            contact.append(entry)
    if contact:
        dataset["contact"] = contact
    ranked = sorted(parties, key=lambda party: ROLE_ORDER.index(party["role"]) if party["role"] in ROLE_ORDER
                    else len(ROLE_ORDER))
    publisher_values = list(dict.fromkeys(
        party["organisation"] for party in ranked + metadata_contacts if party["organisation"]))

    resources: list[dict[str, Any]] = []
    for online in _x(md, "gmd:distributionInfo/gmd:MD_Distribution//gmd:MD_DigitalTransferOptions/"
                         "gmd:onLine/gmd:CI_OnlineResource"):
        resource = _resource(online)
        if resource and resource["url"] not in [r["url"] for r in resources]:
            resources.append(resource)
    dataset["resources"] = resources
    return SourceRecord(guid=guid, dataset=dataset, publisher_values=publisher_values)


def hierarchy_level(md: Any) -> str:
    return _code(md, "gmd:hierarchyLevel/gmd:MD_ScopeCode")


# --------------------------------------------------------------------------------------------- GetRecords


def getrecords_url(source_url: str, start: int, page_size: int, cql: str | None = None,
                   sort_by: str | None = DEFAULT_SORT_BY) -> str:
    """The GetRecords KVP request of one page; the source URL's own query parameters are kept, except
    those this request sets."""
    parts = urllib.parse.urlsplit(source_url)
    params: dict[str, str] = {
        "service": "CSW", "version": "2.0.2", "request": "GetRecords", "typeNames": "csw:Record",
        "namespace": "xmlns(csw=http://www.opengis.net/cat/csw/2.0.2)", "resultType": "results",
        "elementSetName": "full", "outputSchema": ISO_SCHEMA, "startPosition": str(start),
        "maxRecords": str(page_size),
    }
    if sort_by:
        params["sortBy"] = sort_by
    if cql:
        params.update({"constraintLanguage": "CQL_TEXT", "constraint_language_version": "1.1.0", "constraint": cql})
    ours = {key.lower() for key in params}
    kept = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True) if k.lower() not in ours]
    query = urllib.parse.urlencode(kept + list(params.items()), quote_via=urllib.parse.quote)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def _int_attribute(element: Any, name: str) -> int | None:
    try:
        return int((element.get(name) or "").strip())
    except ValueError:
        return None


def _exception_text(root: Any) -> str | None:
    if etree.QName(root).localname != "ExceptionReport":
        return None
    texts = [" ".join(t.split()) for t in root.xpath("//*[local-name()='ExceptionText']/text()")]
    codes = [e.get("exceptionCode", "") for e in root.xpath("//*[local-name()='Exception']")]
    return "; ".join(t for t in texts + codes if t)[:300] or "ExceptionReport"


# --------------------------------------------------------------------------------------------- harvester


class CSWHarvester(CommunesHarvester, p.SingletonPlugin):
    p.implements(IHarvester)

    source_type = "communes_csw"
    title = N_("GeoNetwork catalogue (CSW, ISO 19139)")
    description = N_(
        "A GeoNetwork catalogue's CSW 2.0.2 service, read with GetRecords in ISO 19139, e.g. "
        "https://data.grandlyon.com/geonetwork/srv/fre/csw. Optional configuration: {\"page_size\": 100} "
        "(records per request, 1 to 500), {\"cql\": \"OrgName = 'Ville de Bron'\"} (a CQL constraint), "
        "{\"sort_by\": \"identifier:A\"} (\"\" for a server that cannot sort), {\"username\": \"...\", "
        "\"password\": \"...\"} for restricted records (HTTP Basic; the password is stored encrypted and never "
        "shown back, \"********\" keeps the stored one while the address stays on the same server), "
        "{\"max_withdraw_percent\": 20}, {\"routing\": {\"Ville de Bron\": "
        "\"69029\"}}. Records are routed by the organisation names of their responsible parties. Limits: "
        "ISO 19139 records only (Dublin Core answers are refused); service records are left out."
    )

    @property
    def type_config_keys(self) -> dict[str, Any]:  # type: ignore[override]
        def page_size(value: Any) -> str | None:
            ok = isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_PAGE_SIZE
            return None if ok else tk._("a whole number from 1 to {max} is expected").format(max=MAX_PAGE_SIZE)

        def cql(value: Any) -> str | None:
            ok = isinstance(value, str) and 0 < len(value.strip()) <= 2000
            return None if ok else tk._("a CQL constraint (text, at most 2,000 characters) is expected")

        def sort_by(value: Any) -> str | None:
            ok = value == "" or (isinstance(value, str) and bool(_SORT_BY.match(value)))
            return None if ok else tk._('a sort such as "identifier:A" (or "" for none) is expected')

        return {"page_size": page_size, "cql": cql, "sort_by": sort_by, **credentials.config_key_checks()}

    def parse_config(self, config: str | None) -> dict[str, Any]:
        data = super().parse_config(config)
        problem = credentials.pair_problem(data)
        if problem:
            raise ConfigError(problem)
        return data

    def validate_config(self, config: str | None) -> str:
        problem = credentials.stored_password_problem(self.parse_config(config))
        if problem:
            raise ConfigError(problem)
        return config or ""

    def pages(self, ctx: GatherContext) -> Iterator[SourcePage]:
        config = ctx.config
        page_size = config.get("page_size") or DEFAULT_PAGE_SIZE
        sort_by = config.get("sort_by", DEFAULT_SORT_BY)
        try:
            headers = credentials.basic_auth_header(config, ctx.source_url)
        except credentials.CredentialError as error:
            # The job's error, nothing fetched.
            raise SourceError(ctx.source_url, error.message) from None
        start = 1
        skipped = 0
        for _page in range(MAX_PAGES):
            url = getrecords_url(ctx.source_url, start, page_size, config.get("cql"), sort_by)
            response = guarded.fetch(url, ctx.limits, headers=headers, accept=ACCEPT)
            root = guarded.parse_xml(response.body, url)
            exception = _exception_text(root)
            if exception:
                raise SourceError(url, tk._("{url}: the catalogue refused the request: {error}").format(
                    url=url, error=exception))
            results = root.find("csw:SearchResults", NS)
            if results is None:
                raise SourceError(url, tk._("{url}: not a CSW GetRecords answer.").format(url=url))
            matched = _int_attribute(results, "numberOfRecordsMatched") or 0
            children = [child for child in results if isinstance(child.tag, str)]
            records = [child for child in children if child.tag in ISO_RECORD_TAGS]
            if children and not records:
                raise SourceError(url, tk._("{url}: the catalogue did not answer in ISO 19139 (outputSchema "
                                            "{schema}).").format(url=url, schema=ISO_SCHEMA))
            next_record = _int_attribute(results, "nextRecord")
            if next_record is None:
                next_record = start + len(records)
            # The page's hash leaves out csw:SearchStatus, whose timestamp changes at every request: an
            # unchanged page then reads as unchanged and is not parsed again.
            digest = hashlib.sha256(etree.tostring(results, method="c14n")).hexdigest()
            kept = [md for md in records if hierarchy_level(md) in DATASET_LEVELS]
            skipped += len(records) - len(kept)

            def page_records(kept: list[Any] = kept) -> Iterator[SourceRecord]:
                for md in kept:
                    yield map_record(md, ctx.source_url)

            yield SourcePage(url=url, content_hash=digest, records=page_records)
            if next_record == 0 or next_record > matched:
                break
            if not records or next_record <= start:
                raise SourceError(url, tk._("{url}: the catalogue's paging does not move on (nextRecord "
                                            "{next} after record {start} of {matched}).").format(
                    url=url, next=next_record, start=start, matched=matched))
            start = next_record
        else:
            raise SourceError(ctx.source_url, tk._("{url}: too many pages.").format(url=ctx.source_url))
        if skipped:
            ctx.report.say("info", tk._("{count} records that describe services or applications, not data, "
                                        "were left out.").format(count=skipped))
