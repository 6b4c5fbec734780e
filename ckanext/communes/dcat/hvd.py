"""High-Value Datasets in our DCAT-AP output (Commission Implementing Regulation (EU) 2023/138), as the SEMIC
DCAT-AP HVD 3.0.0 shapes ask (quality/data/shacl/hvd-3.0.0-SHACL.ttl):

- a dataset with an ``hvd_category`` states each category (``dcatap:hvdCategory``, a skos:Concept of the EU
  scheme with its French and English labels) and ``dcatap:applicableLegislation`` the regulation's ELI
  (an ``eli:LegalResource``);
- each of its distributions states the legislation;
- each data service reached from its distributions (a WMS/WFS... service, the Data API of a DataStore
  resource, dcat/profile.py) states the legislation and the categories, the dataset's contact point (who answers
  about the data answers about the service serving them) and a documentation page: the resource's page on the
  portal, which describes the service (its address, its format; for the Data API, how to query it). The Data
  API also states the distribution's licence: it serves the same data under the same licence.

Nothing is written for a dataset without category; ckanext-dcat's own ``hvd_category`` output is kept as is.
``parse_hvd`` turns what a harvested catalogue states back into the field.
"""

from __future__ import annotations

import json
from typing import Any

import ckan.plugins.toolkit as tk
from rdflib import URIRef
from rdflib.namespace import RDFS, Namespace

from ckanext.communes import uris
from ckanext.communes.schema.values import as_list
from ckanext.dcat.profiles import DCAT, DCATAP, DCT, FOAF, RDF
from ckanext.dcat.utils import resource_uri

ELI = Namespace("http://data.europa.eu/eli/ontology#")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
HVD_VOCABULARY = "hvd-category"
DATA_API_SUFFIX = "/datastore"  # the Data API service's URI: the distribution's + this (dcat/profile.py)


def hvd_category_uris(dataset_dict: dict[str, Any]) -> list[str]:
    """The URIs of the dataset's HVD categories that are terms of the EU list (stored values are URIs)."""
    from ckanext.communes.vocabularies import get_vocabulary

    vocabulary = get_vocabulary(HVD_VOCABULARY)
    found: list[str] = []
    for value in as_list(dataset_dict.get("hvd_category")):
        term = vocabulary.lookup(value) if isinstance(value, str) else None
        if term is not None and term.uri not in found:
            found.append(term.uri)
    return found


def _resource_page(dataset_dict: dict[str, Any], resource_dict: dict[str, Any]) -> str | None:
    if not dataset_dict.get("id") or not resource_dict.get("id"):
        return None
    try:
        return tk.url_for("resource.read", id=dataset_dict.get("name") or dataset_dict["id"],
                          resource_id=resource_dict["id"], qualified=True)
    except (RuntimeError, AttributeError):  # outside a request and without a site URL: no page to give
        return None


def _typed_resources(g: Any, subject: Any, predicates: tuple[URIRef, ...]) -> None:
    """The HVD shapes ask ``sh:class rdfs:Resource`` of access and endpoint URLs, e-mail and contact page
    addresses; a validator without RDFS inference (data.europa.eu's) sees that only when stated. True of every
    IRI (RDF semantics), so stating it adds no information, only what such a validator needs."""
    for predicate in predicates:
        for value in g.objects(subject, predicate):
            if isinstance(value, URIRef):
                g.add((value, RDF.type, RDFS.Resource))


def complete_hvd(profile: Any, dataset_dict: dict[str, Any], dataset_ref: URIRef) -> None:
    """Write the HVD statements of an HVD dataset into ``profile.g`` (our profile, after its distributions and
    services are complete). ``profile`` gives ``g`` and ``_describe_concept``."""
    categories = hvd_category_uris(dataset_dict)
    if not categories:
        return
    g = profile.g
    legislation = URIRef(uris.HVD_LEGISLATION)
    g.add((legislation, RDF.type, ELI.LegalResource))
    for uri in categories:
        g.add((dataset_ref, DCATAP.hvdCategory, URIRef(uri)))
        profile._describe_concept(uri, HVD_VOCABULARY)
    g.add((dataset_ref, DCATAP.applicableLegislation, legislation))
    contacts = list(g.objects(dataset_ref, DCAT.contactPoint))

    for contact in contacts:
        _typed_resources(g, contact, (VCARD.hasEmail, VCARD.hasURL))

    for resource_dict in dataset_dict.get("resources") or []:
        distribution = URIRef(resource_uri(resource_dict))
        if (dataset_ref, DCAT.distribution, distribution) not in g:
            continue
        g.add((distribution, DCATAP.applicableLegislation, legislation))
        _typed_resources(g, distribution, (DCAT.accessURL, DCAT.downloadURL))
        page = _resource_page(dataset_dict, resource_dict)
        for service in list(g.objects(distribution, DCAT.accessService)):
            g.add((service, DCATAP.applicableLegislation, legislation))
            for uri in categories:
                g.add((service, DCATAP.hvdCategory, URIRef(uri)))
            if not any(g.objects(service, DCAT.contactPoint)):
                for contact in contacts:
                    g.add((service, DCAT.contactPoint, contact))
            _typed_resources(g, service, (DCAT.endpointURL, DCAT.endpointDescription))
            if page and not any(g.objects(service, FOAF.page)):
                g.add((service, FOAF.page, URIRef(page)))
                g.add((URIRef(page), RDF.type, FOAF.Document))
            licence = g.value(distribution, DCT.license)
            if (str(service).endswith(DATA_API_SUFFIX) and licence is not None
                    and not any(g.objects(service, DCT.license))):
                g.add((service, DCT.license, licence))


def parse_hvd(dataset_dict: dict[str, Any]) -> None:
    """A parsed dataset's HVD statements as our field. ckanext-dcat's parser leaves ``applicable_legislation``
    in the extras; a source stating the HVD regulation without naming a category gets the regulation's ELI as
    its hvd_category value, which no category matches: the harvest mapping keeps it in harvest_unmapped (the
    marker is not lost, no category is invented)."""
    if as_list(dataset_dict.get("hvd_category")):
        return
    legislation: list[str] = []
    for extra in dataset_dict.get("extras") or []:
        if isinstance(extra, dict) and extra.get("key") == "applicable_legislation":
            value = extra.get("value")
            try:
                legislation = as_list(json.loads(value)) if isinstance(value, str) else as_list(value)
            except ValueError:
                legislation = as_list(value)
    if uris.HVD_LEGISLATION in legislation:
        dataset_dict["hvd_category"] = [uris.HVD_LEGISLATION]
