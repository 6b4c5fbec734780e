"""DCAT source type: a DCAT-AP catalogue in RDF/XML, Turtle, JSON-LD or N-Triples, paged with Hydra.

Mapping is ckanext-dcat's (RDFParser with the portal's profiles, ``euro_dcat_ap_3`` and ours), so a
catalogue of this portal harvested back gives the values it serialised. The graph it maps is read by our
safe parser (``net/safe_rdf.py``), not by ``RDFParser.parse``: rdflib would fetch the JSON-LD contexts a
page names (and read ``file://`` ones from disk) outside the guarded client; ours fetches nothing. The
GUID of a dataset is its URI, else its ``dct:identifier``: both are stable across runs and survive a
renamed slug.
"""

from __future__ import annotations

import hashlib
import posixpath
import urllib.parse
from collections.abc import Iterator
from typing import Any

import ckan.plugins as p
import ckan.plugins.toolkit as tk

from ckanext.communes.dcat.spatial import detach_geometries
from ckanext.communes.harvesters.base import (
    CommunesHarvester,
    GatherContext,
    SourceError,
    SourcePage,
    SourceRecord,
)
from ckanext.communes.net import fetch as guarded
from ckanext.communes.net import safe_rdf
from ckanext.communes.translation import N_
from ckanext.dcat.processors import RDF_PROFILES_CONFIG_OPTION, RDFParser
from ckanext.harvest.interfaces import IHarvester

# Serialisations rdflib reads, by media type and by file extension.
FORMAT_BY_MEDIA_TYPE = {
    "text/turtle": "turtle",
    "application/x-turtle": "turtle",
    "application/rdf+xml": "xml",
    "application/xml": "xml",
    "text/xml": "xml",
    "application/ld+json": "json-ld",
    "application/json": "json-ld",
    "application/n-triples": "nt",
    "text/plain": "nt",
}
FORMAT_BY_EXTENSION = {".ttl": "turtle", ".rdf": "xml", ".xml": "xml", ".jsonld": "json-ld", ".json": "json-ld",
                       ".nt": "nt"}
FORMATS = ("turtle", "xml", "json-ld", "nt")
ACCEPT = "text/turtle, application/rdf+xml;q=0.9, application/ld+json;q=0.8, application/n-triples;q=0.7"
MAX_PAGES = 10_000


def rdf_format_of(response: guarded.FetchedResponse, configured: str | None) -> str:
    if configured:
        return configured
    by_type = FORMAT_BY_MEDIA_TYPE.get(response.content_type)
    if by_type and response.content_type not in ("text/plain", "application/xml", "text/xml", "application/json"):
        return by_type
    extension = posixpath.splitext(urllib.parse.urlsplit(response.url).path)[1].lower()
    return FORMAT_BY_EXTENSION.get(extension) or by_type or "turtle"


def publisher_values(dataset: dict[str, Any]) -> list[str]:
    values: list[str] = []
    publishers = dataset.get("publisher") or []
    if isinstance(publishers, dict):
        publishers = [publishers]
    for publisher in publishers:
        if isinstance(publisher, dict):
            for key in ("identifier", "uri", "name"):
                if isinstance(publisher.get(key), str) and publisher[key].strip():
                    values.append(publisher[key].strip())
    return values


class CommunesDCATHarvester(CommunesHarvester, p.SingletonPlugin):
    p.implements(IHarvester)

    source_type = "communes_dcat"
    title = N_("DCAT catalogue (DCAT-AP)")
    description = N_(
        "A DCAT-AP catalogue published as RDF (Turtle, RDF/XML, JSON-LD or N-Triples), with Hydra paging, e.g. "
        "https://data.example.fr/catalog.ttl. Optional configuration: {\"rdf_format\": \"turtle\"}, "
        "{\"max_withdraw_percent\": 20}, {\"routing\": {\"Ville de Bron\": \"69029\"}}."
    )

    @property
    def type_config_keys(self) -> dict[str, Any]:  # type: ignore[override]
        def rdf_format(value: Any) -> str | None:
            return None if value in FORMATS else tk._("one of {formats}").format(formats=", ".join(FORMATS))

        return {"rdf_format": rdf_format}

    def _parser(self) -> RDFParser:
        profiles = (tk.config.get(RDF_PROFILES_CONFIG_OPTION) or "euro_dcat_ap_3 communes_dcat_ap_3").split()
        return RDFParser(profiles=profiles)

    def pages(self, ctx: GatherContext) -> Iterator[SourcePage]:
        url: str | None = ctx.source_url
        seen_urls: set[str] = set()
        seen_hashes: set[str] = set()
        while url:
            if url in seen_urls or len(seen_urls) >= MAX_PAGES:
                raise SourceError(url, tk._("{url}: the catalogue's pages loop back to a page already read.").format(
                    url=url))
            seen_urls.add(url)
            response = ctx.fetch(url, accept=ACCEPT)
            digest = hashlib.sha256(response.body).hexdigest()
            if digest in seen_hashes:
                raise SourceError(url, tk._("{url}: the catalogue serves the same page again under another address."
                                            ).format(url=url))
            seen_hashes.add(digest)
            rdf_format = rdf_format_of(response, ctx.config.get("rdf_format"))
            parser = self._parser()
            try:
                # Into the parser's own graph: RDFParser.parse would let rdflib fetch JSON-LD contexts.
                safe_rdf.parse_rdf(response.body, rdf_format, response.url, graph=parser.g)
            except safe_rdf.RdfError as error:
                raise SourceError(url, error.message) from None
            # Geometries are read by our profile, one spatial_coverage entry per dct:Location, literal or
            # locn:Geometry node alike; ckanext-dcat's own reader fails on some of them (dcat/spatial.py).
            detach_geometries(parser.g)
            next_url = parser.next_page()

            def records(parser: RDFParser = parser, page_url: str = url) -> Iterator[SourceRecord]:
                for dataset in parser.datasets():
                    guid = (dataset.get("uri") or dataset.get("identifier") or "").strip()
                    yield SourceRecord(guid=guid, dataset=dataset, publisher_values=publisher_values(dataset))

            yield SourcePage(url=url, content_hash=digest, records=records)
            url = urllib.parse.urljoin(response.url, next_url) if next_url else None


