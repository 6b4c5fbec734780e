"""What data.europa.eu's Metadata Quality Assessment (MQA) reads in a dataset's DCAT graph (issue #25).

The facts are read from OUR DCAT output, the graph our profile writes for data.europa.eu (the graph the
SHACL check builds, shacl.dataset_graph), never from the form's fields: a property the profile drops is
missing for data.europa.eu too. The SHACL check computes them from the graph it validates and stores them
with its result (models.ShaclCheck.mqa_facts), so the MQA of a commune or of the catalogue never serialises
a dataset again (mqa.py aggregates the stored facts).

The URL indicators are not facts of the graph: mqa.py judges the access and download URLs stored here
against the link checker's stored results (never a request here). The vocabularies are data files
(data/mqa/, sources in SOURCES.md).
"""

from __future__ import annotations

import functools
import os
from typing import Any

import rdflib
from rdflib.namespace import DCAT, DCTERMS

from ckanext.communes.uris import IANA_MEDIA_TYPES_PREFIX

DATA_DIR = os.path.join(os.path.dirname(__file__), "data", "mqa")
EU_AUTHORITY = "http://publications.europa.eu/resource/authority/"
FACTS_VERSION = 1  # stored with the facts: a later reading of the graph can tell older facts apart

DATASET_FACTS = ("keyword", "theme", "spatial", "temporal", "access_rights", "access_rights_vocabulary",
                 "contact_point", "publisher")
DISTRIBUTION_FACTS = ("format", "media_type", "format_media_type_vocabulary", "non_proprietary",
                      "machine_readable", "licence", "licence_vocabulary", "rights", "byte_size", "issued",
                      "modified")


@functools.cache
def vocabulary(name: str) -> frozenset[str]:
    """The entries of a data/mqa/<name>.txt file (one per line, # comments)."""
    with open(os.path.join(DATA_DIR, f"{name}.txt"), encoding="utf-8") as handle:
        return frozenset(line.strip() for line in handle if line.strip() and not line.startswith("#"))


def _eu_code(node: Any, scheme: str) -> str | None:
    """The code of an EU authority URI of ``scheme`` (``.../file-type/CSV`` -> ``CSV``), else None."""
    if not isinstance(node, rdflib.URIRef):
        return None
    text = str(node)
    for base in (f"{EU_AUTHORITY}{scheme}/", f"{EU_AUTHORITY.replace('http:', 'https:')}{scheme}/"):
        if text.startswith(base):
            return text[len(base):] or None
    return None


def _iana_media_type(node: Any) -> str | None:
    """``https://www.iana.org/assignments/media-types/text/csv`` -> ``text/csv`` when IANA registers it."""
    if not isinstance(node, rdflib.URIRef):
        return None
    text = str(node)
    for prefix in (IANA_MEDIA_TYPES_PREFIX, IANA_MEDIA_TYPES_PREFIX.replace("https:", "http:")):
        if text.startswith(prefix):
            media_type = text[len(prefix):].lower()
            return media_type if media_type in vocabulary("iana-media-types") else None
    return None


def _media_type_file_type(node: Any) -> str | None:
    """The EU file-type code of a distribution's media type (file-type.csv's media types), else None."""
    from ckanext.communes.vocabularies import guess_file_type

    text = str(node)
    marker = "iana.org/assignments/media-types/"
    media_type = text.split(marker, 1)[1] if marker in text else text
    term = guess_file_type(media_type=media_type) if "/" in media_type else None
    return term.code if term is not None else None


def _first(graph: rdflib.Graph, subject: Any, predicate: Any) -> Any:
    return next(iter(graph.objects(subject, predicate)), None)


def _distribution_facts(graph: rdflib.Graph, node: Any, resource: dict[str, Any] | None) -> dict[str, Any]:
    formats = list(graph.objects(node, DCTERMS["format"]))
    media_types = list(graph.objects(node, DCAT.mediaType))
    format_codes = [code for code in (_eu_code(fmt, "file-type") for fmt in formats) if code]
    # MQA: at least one of format and media type non-proprietary (machine-readable); a media type counts as
    # the EU file type it designates.
    codes = set(format_codes) | {code for code in (_media_type_file_type(m) for m in media_types) if code}
    licence = _first(graph, node, DCTERMS.license)
    access_url = _first(graph, node, DCAT.accessURL)
    download_url = _first(graph, node, DCAT.downloadURL)
    return {
        "resource_id": (resource or {}).get("id"),
        "upload": (resource or {}).get("url_type") == "upload",
        "access_url": str(access_url) if access_url is not None else None,
        "download_url": str(download_url) if download_url is not None else None,
        "format": bool(formats),
        "media_type": bool(media_types),
        # Both from their controlled vocabularies: the EU file types and IANA's media types.
        "format_media_type_vocabulary": bool(formats) and bool(media_types)
        and all(code in vocabulary("eu-file-types") for code in (_eu_code(f, "file-type") for f in formats))
        and all(_iana_media_type(m) for m in media_types),
        "non_proprietary": bool(codes & vocabulary("non-proprietary-formats")),
        "machine_readable": bool(codes & vocabulary("machine-readable-formats")),
        "licence": licence is not None,
        "licence_vocabulary": _eu_code(licence, "licence") in vocabulary("eu-licences"),
        "rights": (node, DCTERMS.rights, None) in graph,
        "byte_size": (node, DCAT.byteSize, None) in graph,
        "issued": (node, DCTERMS.issued, None) in graph,
        "modified": (node, DCTERMS.modified, None) in graph,
    }


def facts_from_graph(graph: rdflib.Graph, pkg_dict: dict[str, Any]) -> dict[str, Any]:
    """The MQA facts of one dataset's graph: ``{"version", "dataset": {fact: bool},
    "distributions": [{"resource_id", "upload", "access_url", "download_url", fact: bool}]}``."""
    from ckanext.dcat.utils import dataset_uri, resource_uri

    dataset = rdflib.URIRef(dataset_uri(pkg_dict))
    if (dataset, None, None) not in graph:  # a profile that minted another URI: the graph's only dataset
        dataset = next(iter(graph.subjects(rdflib.RDF.type, DCAT.Dataset)), dataset)
    access_rights = _first(graph, dataset, DCTERMS.accessRights)
    resources = {resource_uri(resource): resource for resource in pkg_dict.get("resources") or []}
    distributions = sorted(graph.objects(dataset, DCAT.distribution), key=str)
    return {
        "version": FACTS_VERSION,
        "dataset": {
            "keyword": (dataset, DCAT.keyword, None) in graph,
            "theme": (dataset, DCAT.theme, None) in graph,
            "spatial": (dataset, DCTERMS.spatial, None) in graph,
            "temporal": (dataset, DCTERMS.temporal, None) in graph,
            "access_rights": access_rights is not None,
            "access_rights_vocabulary": _eu_code(access_rights, "access-right") in vocabulary("eu-access-rights"),
            "contact_point": (dataset, DCAT.contactPoint, None) in graph,
            "publisher": (dataset, DCTERMS.publisher, None) in graph,
        },
        "distributions": [_distribution_facts(graph, node, resources.get(str(node))) for node in distributions],
    }
