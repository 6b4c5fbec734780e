"""udata source type: the datasets of one data.gouv.fr (or other udata portal) organisation, through
udata's API v1 (``GET /api/1/datasets/?organization={id}&page=&page_size=``), paged by ``next_page``.

The GUID is the udata dataset id (the slug can change). Licence ids (``lov2``, ``fr-lo``, ``odc-odbl``…)
are passed as written: the licence registry knows udata's ids as aliases. Frequency ids go through the
frequency vocabulary's ``udata_id`` column, legacy and finer ids through ``data/udata-frequencies.csv``;
an id in neither is set aside by the mapping, never guessed.

``spatial.zones`` entries ``fr:commune:{INSEE}`` give the spatial coverage (INSEE URIs, with the commune's
name) and, when they all designate one commune of the Métropole, route the dataset to it after the
organisation's own name. A dataset udata itself harvested from elsewhere (``harvest.remote_id``…) says so
in ``provenance``; its remote identifiers (``remote_identifiers``) become ``SourceRecord.same_as``, so a
dataset we already harvest from that original source is recognised as the same (duplicates.py).
"""

from __future__ import annotations

import csv
import functools
import hashlib
import os
import re
import urllib.parse
from collections.abc import Iterator
from typing import Any

import ckan.plugins as p
import ckan.plugins.toolkit as tk

from ckanext.communes import uris
from ckanext.communes.communes import registry
from ckanext.communes.harvesters.base import (
    CommunesHarvester,
    GatherContext,
    SourceError,
    SourcePage,
    SourceRecord,
)
from ckanext.communes.harvesters.hvd import udata_hvd_categories
from ckanext.communes.net import fetch as guarded
from ckanext.communes.translation import N_
from ckanext.communes.vocabularies import get_vocabulary
from ckanext.harvest.interfaces import IHarvester

# The udata organisation to harvest, when the source URL is the portal's root. Not "organization": a
# configuration key may not be named like a field of the source's dict (base.source_dict_fields).
ORGANISATION_KEY = "udata_organization"
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
MAX_PAGES = 10_000
API_PATH = "/api/1/"
FREQUENCY_FILE = os.path.join(os.path.dirname(__file__), "data", "udata-frequencies.csv")
# A udata organisation id is a MongoDB ObjectId; anything else in the organization filter is a slug,
# which the datasets API refuses (HTTP 400), so it is resolved to the id first.
OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")
SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$")
# An organisation page: {root}[/fr]/organizations/{slug or id}/ (also the API's /api/1/organizations/…).
ORGANISATION_PATH = re.compile(r"^(?P<root>.*?)(?:/api/1|/[a-z]{2}(?:-[a-z]{2})?)?/organizations/(?P<org>[^/]+)/?$")
# udata zone ids: fr:commune:69029, formerly with a validity suffix (fr:commune:69029@1942-01-01).
COMMUNE_ZONE = re.compile(r"^fr:commune:([0-9]{2}[0-9AB][0-9]{2}|2[AB][0-9]{3})(?:@.*)?$", re.IGNORECASE)
INSEE_ARRONDISSEMENT_PREFIX = "http://id.insee.fr/geo/arrondissementMunicipal/"
# Contact points of udata's API (2024+) carry a role; older ones none. Other roles (creator, publisher…)
# are not contact points in DCAT's sense.
CONTACT_ROLES = (None, "", "contact", "point_of_contact")


# ------------------------------------------------------------------------------------ frequencies

@functools.cache
def frequency_table() -> dict[str, str]:
    """udata frequency id (lower case) -> EU frequency URI, for the ids of ``udata-frequencies.csv``."""
    vocabulary = get_vocabulary("frequency")
    table: dict[str, str] = {}
    with open(FREQUENCY_FILE, encoding="utf-8", newline="") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            term = vocabulary.lookup(row["eu_code"])
            if term is None or term.code != row["eu_code"].strip():
                raise ValueError(f"{FREQUENCY_FILE}: line {line}: {row['eu_code']!r} is not an EU frequency code")
            table[row["udata_id"].strip().lower()] = term.uri
    return table


def map_frequency(value: Any) -> str | None:
    """The EU URI of a udata frequency id this module knows, else the id as written (mapping.py then looks
    it up in the vocabulary's udata ids, or sets it aside)."""
    if not isinstance(value, str) or not value.strip():
        return None
    return frequency_table().get(value.strip().lower(), value.strip())


# ------------------------------------------------------------------------------------ source URL

def _root_of(parts: urllib.parse.SplitResult, path_prefix: str) -> str:
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path_prefix.rstrip("/"), "", ""))


def parse_source(source_url: str, config: dict[str, Any]) -> tuple[str, str, dict[str, str]]:
    """(portal root, organisation id or slug, extra query parameters) of a source URL: the datasets API
    filtered by organisation, an organisation page, or the portal's root with ``udata_organization`` in the
    config (the config wins). Raises SourceError when the URL names no organisation: a whole portal
    (data.gouv.fr has tens of thousands of datasets) is never harvested by mistake."""
    url = (source_url or "").strip()
    parts = urllib.parse.urlsplit(url)
    path = parts.path or "/"
    query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=False))
    organisation = str(config.get(ORGANISATION_KEY) or "").strip()
    if API_PATH + "datasets" in path:
        root = _root_of(parts, path.split(API_PATH, 1)[0])
        organisation = organisation or query.pop("organization", "")
        extra = {k: v for k, v in query.items() if k not in ("page", "page_size", "organization")}
    elif (match := ORGANISATION_PATH.match(path)) is not None:
        root = _root_of(parts, match.group("root"))
        organisation = organisation or urllib.parse.unquote(match.group("org"))
        extra = {}
    else:
        root = _root_of(parts, path)
        extra = {}
    if not organisation:
        raise SourceError(url, tk._(
            "{url}: give the organisation's API address (…/api/1/datasets/?organization=…) or page "
            "(…/organizations/…/), or the portal's address with \"udata_organization\" in the configuration.").format(
            url=url))
    return root, organisation, extra


def first_page_url(root: str, organisation_id: str, extra: dict[str, str], page_size: int) -> str:
    # Oldest first: a dataset created while the job pages comes last instead of shifting the pages.
    query = {"organization": organisation_id, **extra, "page": "1", "page_size": str(page_size)}
    query.setdefault("sort", "created")
    return f"{root}{API_PATH}datasets/?{urllib.parse.urlencode(query)}"


def _page_key(url: str) -> str:
    """A page's address with its query sorted: the same page however a next_page orders it."""
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.urlencode(sorted(urllib.parse.parse_qsl(parts.query, keep_blank_values=True)))
    return urllib.parse.urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path, query, ""))


# ------------------------------------------------------------------------------------ one dataset

def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def commune_zones(udata_dataset: dict[str, Any]) -> list[str]:
    """INSEE codes of the dataset's ``fr:commune:…`` zones, in order, without repeats."""
    spatial = udata_dataset.get("spatial")
    zones = spatial.get("zones") if isinstance(spatial, dict) else None
    codes: list[str] = []
    for zone in zones if isinstance(zones, list) else []:
        zone_id = zone.get("id") if isinstance(zone, dict) else zone  # older APIs gave zone objects
        match = COMMUNE_ZONE.match(zone_id.strip()) if isinstance(zone_id, str) else None
        if match and match.group(1).upper() not in codes:
            codes.append(match.group(1).upper())
    return codes


def spatial_coverage(codes: list[str]) -> list[dict[str, str]]:
    """INSEE URIs of the zones, named when the code is one of the Métropole's (a Lyon arrondissement has
    its own INSEE URI; a former code keeps its historical commune's URI and name)."""
    coverage: list[dict[str, str]] = []
    for code in codes:
        geometry = registry.get_commune_geometry(code)
        if geometry is not None and geometry.insee == code and geometry.kind == "arrondissement_municipal":
            coverage.append({"uri": INSEE_ARRONDISSEMENT_PREFIX + code, "text": geometry.name})
            continue
        entry = {"uri": uris.commune_spatial_uri(code)}
        commune = registry.get_commune(code)
        if commune is not None and commune.insee == code:
            entry["text"] = commune.name
        elif commune is not None:
            former = next((f.name for f in commune.former if f.insee == code and f.name), None)
            if former:
                entry["text"] = former
        coverage.append(entry)
    return coverage


def _harvest_metadata(udata_dataset: dict[str, Any]) -> dict[str, str]:
    """udata's record of where it harvested the dataset from: the ``harvest`` object of the current API,
    or the ``harvest:*`` extras of older udata versions. Empty for a dataset published on udata itself."""
    harvest = udata_dataset.get("harvest")
    found = {k: _text(v) for k, v in harvest.items() if _text(v)} if isinstance(harvest, dict) else {}
    extras = udata_dataset.get("extras")
    if isinstance(extras, dict):
        for key, value in extras.items():
            if isinstance(key, str) and key.startswith("harvest:") and _text(value):
                found.setdefault(key[len("harvest:"):], _text(value))
        if _text(extras.get("dct:identifier")):
            found.setdefault("dct_identifier", _text(extras["dct:identifier"]))
    return found if found.get("remote_id") or found.get("uri") or found.get("remote_url") else {}


def remote_identifiers(udata_dataset: dict[str, Any]) -> list[str]:
    """Identifiers under which the original source of a dataset that udata harvested knows it:
    ``harvest.remote_id`` (the remote dataset id: a DCAT identifier or URI, an Opendatasoft dataset_id, a
    CKAN id), ``harvest.uri`` (the remote DCAT URI), ``harvest.dct_identifier`` and ``harvest.remote_url``
    (the remote landing page). Empty for a dataset published on udata itself."""
    harvest = _harvest_metadata(udata_dataset)
    values: list[str] = []
    for key in ("remote_id", "uri", "dct_identifier", "remote_url"):
        if harvest.get(key) and harvest[key] not in values:
            values.append(harvest[key])
    return values


def provenance(udata_dataset: dict[str, Any], portal: str) -> str | None:
    """A French sentence saying that udata harvested the dataset from elsewhere (None when it did not)."""
    harvest = _harvest_metadata(udata_dataset)
    if not harvest:
        return None
    origin = harvest.get("domain") or urllib.parse.urlsplit(harvest.get("remote_url", "")).netloc or "une autre source"
    details = [f"identifiant distant : {harvest['remote_id']}" if harvest.get("remote_id") else "",
               f"page d'origine : {harvest['remote_url']}" if harvest.get("remote_url") else "",
               f"URI d'origine : {harvest['uri']}" if harvest.get("uri") else "",
               f"source de moissonnage {portal} : {harvest['source_id']}" if harvest.get("source_id") else "",
               f"moissonneur : {harvest['backend']}" if harvest.get("backend") else ""]
    text = f"Jeu de données que {portal} a lui-même moissonné depuis {origin}"
    listed = " ; ".join(d for d in details if d)
    return f"{text} ({listed})." if listed else f"{text}."


def _contacts(udata_dataset: dict[str, Any]) -> list[dict[str, str]]:
    points = udata_dataset.get("contact_points")
    if not isinstance(points, list):
        single = udata_dataset.get("contact_point")
        points = [single] if isinstance(single, dict) else []
    contacts = []
    for point in points:
        if isinstance(point, dict) and point.get("role") in CONTACT_ROLES:
            contact = {k: _text(point.get(k)) for k in ("name", "email") if _text(point.get(k))}
            if contact and contact not in contacts:
                contacts.append(contact)
    return contacts


def _resource(udata_resource: dict[str, Any]) -> dict[str, Any] | None:
    url = _text(udata_resource.get("url"))
    if not url:
        return None
    resource: dict[str, Any] = {
        "url": url,
        "name": _text(udata_resource.get("title")),
        "description": _text(udata_resource.get("description")),
        "format": _text(udata_resource.get("format")),
        "mimetype": _text(udata_resource.get("mime")),
        "issued": _text(udata_resource.get("created_at")),
        "modified": _text(udata_resource.get("last_modified")),
    }
    size = udata_resource.get("filesize")
    if isinstance(size, int) and not isinstance(size, bool) and size >= 0:
        resource["size"] = size
    checksum = udata_resource.get("checksum")
    if isinstance(checksum, dict) and _text(checksum.get("value")):
        resource["hash"] = _text(checksum["value"])
        if _text(checksum.get("type")):
            resource["hash_algorithm"] = _text(checksum["type"]).lower()
    return {k: v for k, v in resource.items() if v not in ("", None)}


def map_udata_dataset(udata_dataset: dict[str, Any], portal: str = "data.gouv.fr") -> dict[str, Any]:
    """A udata API v1 dataset as a dict of our schema's fields (vocabulary values left to mapping.py)."""
    harvest = _harvest_metadata(udata_dataset)
    dataset: dict[str, Any] = {
        "title": _text(udata_dataset.get("title")),
        "notes": _text(udata_dataset.get("description")),  # Markdown, as our notes
        "url": _text(udata_dataset.get("page")),
        "license_id": _text(udata_dataset.get("license")),
        "frequency": map_frequency(udata_dataset.get("frequency")),
        "issued": _text(udata_dataset.get("created_at")),
        # udata's own DCAT export gives last_update (last change of the data) as dct:modified.
        "modified": _text(udata_dataset.get("last_update")) or _text(udata_dataset.get("last_modified")),
        # As udata's DCAT export: the upstream identifier and URI of a harvested dataset, else udata's id.
        "identifier": harvest.get("dct_identifier") or _text(udata_dataset.get("id")),
        "uri": harvest.get("uri", ""),
        "provenance": provenance(udata_dataset, portal),
        "tags": [{"name": tag} for tag in udata_dataset.get("tags") or [] if isinstance(tag, str)],
        "contact": _contacts(udata_dataset),
    }
    hvd_categories = udata_hvd_categories([tag for tag in udata_dataset.get("tags") or [] if isinstance(tag, str)])
    if hvd_categories:
        dataset["hvd_category"] = hvd_categories
    coverage = spatial_coverage(commune_zones(udata_dataset))
    if coverage:
        dataset["spatial_coverage"] = coverage
    period = udata_dataset.get("temporal_coverage")
    if isinstance(period, dict) and (_text(period.get("start")) or _text(period.get("end"))):
        dataset["temporal_coverage"] = [{k: _text(period.get(k)) for k in ("start", "end") if _text(period.get(k))}]
    dataset["resources"] = [r for r in (_resource(item) for item in udata_dataset.get("resources") or []
                                        if isinstance(item, dict)) if r]
    return {k: v for k, v in dataset.items() if v not in ("", None, []) or k in ("tags", "resources")}


def publisher_values(udata_dataset: dict[str, Any]) -> list[str]:
    """The organisation (SIREN when udata gives it, name, slug), then the commune its zones designate.

    Zones route only when they all designate one commune of the Métropole (Lyon's arrondissements count
    as Lyon): a dataset covering several communes is not any one commune's, it stays with the source's
    organisation."""
    values: list[str] = []
    organisation = udata_dataset.get("organization")
    if isinstance(organisation, dict):
        values += [_text(organisation.get(k)) for k in ("business_number_id", "name", "slug")
                   if _text(organisation.get(k))]
    codes = commune_zones(udata_dataset)
    communes = {commune.insee if commune else code
                for code, commune in ((code, registry.get_commune(code)) for code in codes)}
    if len(communes) == 1 and registry.get_commune(codes[0]) is not None:
        values.append(codes[0])
    return values


# ------------------------------------------------------------------------------------ the source type

def _positive_int(low: int, high: int) -> Any:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            return tk._("a whole number from {low} to {high} is expected").format(low=low, high=high)
        return None

    return check


def _organisation(value: Any) -> str | None:
    if isinstance(value, str) and SLUG.match(value.strip()):
        return None
    return tk._("the udata organisation's id or slug (e.g. 534fff8ba3a7292c64a77f02 or metropole-de-lyon)")


class UdataHarvester(CommunesHarvester, p.SingletonPlugin):
    p.implements(IHarvester)

    source_type = "communes_udata"
    title = N_("data.gouv.fr (udata) organisation")
    description = N_(
        "The datasets of one organisation of data.gouv.fr (or another udata portal), read through udata's API "
        "v1. Give the organisation's page, e.g. https://www.data.gouv.fr/fr/organizations/ville-de-bron/, or its "
        "API address, e.g. https://www.data.gouv.fr/api/1/datasets/?organization=534fff8ba3a7292c64a77f02, or "
        "the portal's address with {\"udata_organization\": \"ville-de-bron\"} in the configuration. Optional "
        "configuration: {\"page_size\": 50}, {\"max_withdraw_percent\": 20}, {\"routing\": {\"Ville de Bron\": "
        "\"69029\"}}. A dataset goes to the commune its organisation names, else to the one commune its "
        "spatial zones (fr:commune:…) designate. Datasets that data.gouv.fr itself harvested from elsewhere "
        "are marked as such and recognised when that source is harvested too. Community resources, "
        "reuses and discussions are not harvested."
    )

    # "organization" until issue #18: the name of the source's owner organisation in its dict, which
    # ckanext-harvest's show schema replaced with the configuration's value (/harvest answered 500).
    renamed_config_keys = {"organization": ORGANISATION_KEY}

    @property
    def type_config_keys(self) -> dict[str, Any]:  # type: ignore[override]
        return {ORGANISATION_KEY: _organisation, "page_size": _positive_int(1, MAX_PAGE_SIZE)}

    def _organisation_id(self, ctx: GatherContext, root: str, organisation: str) -> str:
        if OBJECT_ID.match(organisation):
            return organisation
        url = f"{root}{API_PATH}organizations/{urllib.parse.quote(organisation, safe='')}/"
        response = ctx.fetch(url, accept="application/json")
        payload = guarded.parse_json(response.body, url)
        found = _text(payload.get("id")) if isinstance(payload, dict) else ""
        if not OBJECT_ID.match(found):
            raise SourceError(url, tk._("{url}: not a udata organisation.").format(url=url))
        return found

    def pages(self, ctx: GatherContext) -> Iterator[SourcePage]:
        root, organisation, extra = parse_source(ctx.source_url, ctx.config)
        organisation_id = self._organisation_id(ctx, root, organisation)
        page_size = ctx.config.get("page_size") or DEFAULT_PAGE_SIZE
        url: str | None = first_page_url(root, organisation_id, extra, page_size)
        host = urllib.parse.urlsplit(url).netloc.lower()
        portal = re.sub(r"^www\.", "", urllib.parse.urlsplit(root).hostname or root)  # "data.gouv.fr"
        seen: set[str] = set()
        listed: set[str] = set()
        announced: int | None = None
        while url:
            key = _page_key(url)
            if key in seen or len(seen) >= MAX_PAGES:
                raise SourceError(url, tk._("{url}: the pages loop back to a page already read.").format(url=url))
            seen.add(key)
            response = ctx.fetch(url, accept="application/json")
            payload = guarded.parse_json(response.body, url)
            if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
                raise SourceError(url, tk._("{url}: not a udata API answer (no \"data\" list).").format(url=url))
            if announced is None and isinstance(payload.get("total"), int):
                announced = payload["total"]
            datasets = [d for d in payload["data"] if isinstance(d, dict)]
            listed.update(_text(d.get("id")) for d in datasets if _text(d.get("id")))

            def records(datasets: list[dict[str, Any]] = datasets) -> Iterator[SourceRecord]:
                for udata_dataset in datasets:
                    yield SourceRecord(guid=_text(udata_dataset.get("id")),
                                       dataset=map_udata_dataset(udata_dataset, portal),
                                       publisher_values=publisher_values(udata_dataset),
                                       same_as=remote_identifiers(udata_dataset))

            yield SourcePage(url=url, content_hash=hashlib.sha256(response.body).hexdigest(), records=records)
            next_page = payload.get("next_page")
            if not next_page or not datasets:
                break
            if not isinstance(next_page, str):
                raise SourceError(url, tk._("{url}: not a udata API answer (no \"data\" list).").format(url=url))
            url = urllib.parse.urljoin(response.url, next_page)
            if urllib.parse.urlsplit(url).netloc.lower() != host:
                raise SourceError(url, tk._("{url}: the next page is on another site.").format(url=url))
        if announced is not None and len(listed) < announced:
            # Pages shifted while the job read them (a dataset deleted meanwhile), or the portal stopped
            # early: the listing is not complete, so it must not withdraw anything.
            raise SourceError(ctx.source_url, tk._(
                "{url}: the portal announced {total} datasets but listed {count}: nothing is withdrawn this "
                "time.").format(url=ctx.source_url, total=announced, count=len(listed)))
