"""Our DCAT-AP 3 profile, run AFTER ckanext-dcat's ``euro_dcat_ap_3``
(``ckanext.dcat.rdf.profiles = euro_dcat_ap_3 communes_dcat_ap_3``).

euro_dcat_ap_3 already writes every field of the scheming schema; this profile does not write them
again. It completes and corrects its graph where DCAT-AP 3 and its controlled-vocabulary shapes ask
for more than CKAN stores:

- publisher: the commune that owns the dataset (stable URI, official name, SIREN, ADMS publisher type
  LocalAuthority), instead of ckanext-dcat's ``/organization/{id}`` fallback;
- spatial coverage: the commune's territory when the dataset gives none;
- vocabulary values (themes, frequency, languages, access rights, file types, availability, status)
  as EU NAL URIs whatever form the dataset stores (URI, code, label), themes typed skos:Concept with
  labels; media types as IANA URIs;
- publisher: always the owner organisation's CURRENT profile (a dataset moved to another commune,
  a corrected official name or SIREN show at once), the stored ``publisher`` field only when the
  dataset has no owner;
- licences on every distribution (DCAT-AP 3 puts legal information there, not on the dataset) and on
  the catalogue (``ckanext.communes.catalogue_licence``): every licence a dct:LicenseDocument node
  (dcat/licences.py), never a literal, stating whether it is open;
- spatial coverage (dcat/spatial.py): dcat:bbox and dcat:centroid (WKT, WGS84) of each commune territory (the
  registry's geometry file) and of a stored extent, whose geometry is a locn:Geometry node (gsp:asWKT);
- services (WMS, WFS...): a dcat:accessService DataService with the standard it conforms to;
- a resource loaded into the DataStore: a dcat:accessService DataService, the Data API (datastore_search);
- checksums with an SPDX algorithm URI; resources' dct:conformsTo as schema.data.gouv.fr URLs, the
  dataset's single SCDL schema copied down to its tabular distributions;
- self-contained vocabularies: every EU/ADMS concept written carries skos:inScheme and French (and
  English) skos:prefLabel (dcat/concepts.py);
- a contact point from the commune's open-data referent when the dataset has none;
- High-Value Datasets: categories and the regulation on the dataset, its distributions and services (dcat/hvd.py);
- catalogues: publisher, EU language URI, theme taxonomy, title and description in French and English
  for a commune's catalogue.

``parse_dataset`` undoes the representation changes so our RDF parsed back with ckanext-dcat's
parser and the same profiles gives the values the dataset stores.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import weakref
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import ckan.plugins.toolkit as tk
from rdflib import BNode, Literal, URIRef
from rdflib.term import Node

from ckanext.communes import uris
from ckanext.communes.dcat import concepts
from ckanext.communes.dcat import distribution as mqa
from ckanext.communes.dcat import spatial as dcat_spatial
from ckanext.communes.dcat.hvd import complete_hvd, parse_hvd
from ckanext.communes.dcat.licences import LicenceNode, licence_id_for, licence_node
from ckanext.communes.dcat.publishers import publisher_for_commune, publisher_for_org, site_publisher
from ckanext.communes.dcat.services import service_kind
from ckanext.communes.schema.values import as_list
from ckanext.dcat.profiles import (
    ADMS,
    DCAT,
    DCATAP,
    DCT,
    FOAF,
    RDF,
    RDFS,
    SKOS,
    SPDX,
    XSD,
    RDFProfile,
)
from ckanext.dcat.utils import resource_uri

log = logging.getLogger(__name__)


@dataclass
class _SerialisationMemo:
    """What one serialisation (one rdflib graph, built within one request) has already looked up or
    written, so a catalogue of N datasets of one commune does not redo it N times. Never shared
    across graphs, hence across requests: an operator's change to an organisation shows in the next
    response, and nothing here needs invalidating by time.

    - ``owners``: org id -> what its datasets inherit (schema/owner.py), one database read per org;
    - ``licence_nodes``: stored licence value -> its node (licence_node is a pure function of the
      packaged registry; an unknown text keeps one blank node per graph);
    - ``described``: node -> keys of the descriptions this profile has written about it in this
      graph (a publisher agent, a theme concept, a licence document...). Writing the same description
      again is a no-op, so it is skipped; every node this profile removes is forgotten here, and a
      description is redone when its sentinel triple has gone (another profile removed the node);
    - ``measured``: dataset id -> what the link checker measured on its links (dcat/distribution.py), read once.
    """

    owners: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    licence_nodes: dict[str, tuple[LicenceNode, Node] | None] = field(default_factory=dict)
    described: dict[Node, set[Hashable]] = field(default_factory=dict)
    measured: dict[Any, dict[str, mqa.MeasuredLink]] = field(default_factory=dict)  # dataset id -> its links


# id(graph) -> (weak reference to the graph, its memo). Keyed by identity, not by rdflib's graph
# equality (two graphs with the same identifier are equal), and weakly: the entry goes with the graph.
_MEMO_BY_GRAPH: dict[int, tuple[weakref.ref[Any], _SerialisationMemo]] = {}


def _memo_of(graph: Any) -> _SerialisationMemo:
    key = id(graph)
    entry = _MEMO_BY_GRAPH.get(key)
    if entry is not None and entry[0]() is graph:
        return entry[1]

    def forget(ref: weakref.ref[Any]) -> None:
        if _MEMO_BY_GRAPH.get(key, (None,))[0] is ref:
            _MEMO_BY_GRAPH.pop(key, None)

    memo = _SerialisationMemo()
    _MEMO_BY_GRAPH[key] = (weakref.ref(graph, forget), memo)
    return memo

CATALOG_TITLES = {
    "fr": "Données ouvertes – {name}",
    "en": "Open data – {name}",
}
CATALOG_DESCRIPTIONS = {
    "fr": "Catalogue DCAT-AP 3 des jeux de données publics de {name} (code INSEE {insee}), publiés sur "
    "le portail des données ouvertes des communes de la Métropole de Lyon.",
    "en": "DCAT-AP 3 catalogue of the public datasets of {name} (INSEE code {insee}), published on the "
    "open-data portal of the communes of the Métropole de Lyon.",
}
SITE_DESCRIPTIONS = {
    "fr": "Catalogue DCAT-AP 3 des jeux de données publics des communes de la Métropole de Lyon.",
    "en": "DCAT-AP 3 catalogue of the public datasets of the communes of the Métropole de Lyon.",
}
SIREN_AGENCY = "INSEE (répertoire SIRENE)"
CATALOGUE_LICENCE_OPTION = "ckanext.communes.catalogue_licence"
DEFAULT_CATALOGUE_LICENCE = "etalab-2.0"

# File types of tabular distributions, to which the dataset's single SCDL schema is copied down.
TABULAR_FILE_TYPES = frozenset({"CSV", "XLSX", "ODS", "JSON"})

# SPDX checksum algorithms: the URIs the DCAT-AP 3.0.1 controlled-vocabulary shape accepts
# (pattern ^https://spdx.org/rdf/terms), by stored name and by hexadecimal digest length.
SPDX_ALGORITHMS = "https://spdx.org/rdf/terms#checksumAlgorithm_"
CHECKSUM_ALGORITHMS_BY_NAME = {
    "md5": "md5", "sha1": "sha1", "sha-1": "sha1", "sha224": "sha224", "sha256": "sha256",
    "sha-256": "sha256", "sha384": "sha384", "sha512": "sha512", "sha-512": "sha512",
}
CHECKSUM_ALGORITHMS_BY_LENGTH = {32: "md5", 40: "sha1", 56: "sha224", 64: "sha256", 96: "sha384", 128: "sha512"}
_HEX = frozenset("0123456789abcdef")


def _vocabulary(name: str) -> Any:
    from ckanext.communes.vocabularies import get_vocabulary

    return get_vocabulary(name)


def _term_uri(vocabulary: str, value: Any) -> str | None:
    """The EU URI of a stored vocabulary value (URI, code, label or alias); None if unknown."""
    if not isinstance(value, str) or not value.strip():
        return None
    term = _vocabulary(vocabulary).lookup(value)
    return term.uri if term else None


def _resolved_file_type(value: Any) -> str | None:
    """The stored short code of a parsed dct:format (EU URI, code, media type, label); None if unknown."""
    from ckanext.communes.vocabularies import format_code, resolve_file_type

    term = resolve_file_type(value) if isinstance(value, str) else None
    return format_code(term) if term else None


def _eu_file_type(value: Any) -> str | None:
    """The EU code of a parsed or stored format (``WMS_SRVC`` for ``WMS``); None if unknown."""
    from ckanext.communes.vocabularies import resolve_file_type

    term = resolve_file_type(value) if isinstance(value, str) and value else None
    return term.code if term else None


def licence_uri(licence_id: str | None) -> str | None:
    """URI of a licence's node (EU licence NAL URI, else canonical URL, else the portal's minted URI);
    None for an empty value or a text unknown to the registry (a blank node in RDF)."""
    node = licence_node(licence_id or "")
    return node.uri if node is not None else None


def catalogue_licence_id() -> str:
    return (tk.config.get(CATALOGUE_LICENCE_OPTION) or DEFAULT_CATALOGUE_LICENCE).strip()


def checksum_algorithm_uri(algorithm: str | None, digest: str) -> str | None:
    """The SPDX algorithm URI of a stored hash_algorithm (name or SPDX URI), else guessed from the
    digest length; None when neither says."""
    name = (algorithm or "").strip().lower()
    if "checksumalgorithm_" in name:
        name = name.rsplit("checksumalgorithm_", 1)[1]
    name = CHECKSUM_ALGORITHMS_BY_NAME.get(name) or CHECKSUM_ALGORITHMS_BY_LENGTH.get(len(digest) if not name else -1)
    return f"{SPDX_ALGORITHMS}{name}" if name else None


class CommunesDCATAP3Profile(RDFProfile):
    """DCAT-AP 3 for the communes' portal, completing ckanext-dcat's ``euro_dcat_ap_3``."""

    # ----------------------------------------------------------------- serialisation: datasets

    def graph_from_dataset(self, dataset_dict: dict[str, Any], dataset_ref: URIRef) -> None:
        # Publisher, spatial coverage and contact point derive from the owner organisation's CURRENT
        # profile (schema/owner.py), whatever the dataset stored when it was last saved.
        owner = self._owner_of(dataset_dict)
        publisher = (owner or {}).get("publisher") or self._stored_publisher(dataset_dict)
        if publisher:
            self._set_publisher(dataset_ref, publisher)
        if owner and not any(self.g.objects(dataset_ref, DCT.spatial)) and owner.get("spatial"):
            self._add_location(dataset_ref, owner["spatial"])
        if owner and not any(self.g.objects(dataset_ref, DCAT.contactPoint)) and owner.get("contact"):
            self._add_contact_to_graph(dataset_ref, DCAT.contactPoint, owner["contact"])
        dcat_spatial.complete_locations(self.g, dataset_ref, dataset_dict)

        for value in as_list(dataset_dict.get("theme")):
            uri = self._replace_term(dataset_ref, DCAT.theme, value, "data-theme")
            if uri:
                self._describe_concept(uri, "data-theme")
        if dataset_dict.get("frequency"):
            uri = self._replace_term(dataset_ref, DCT.accrualPeriodicity, dataset_dict["frequency"], "frequency")
            if uri:
                self.g.add((URIRef(uri), RDF.type, DCT.Frequency))
                self._describe_concept(uri, "frequency")
        for value in as_list(dataset_dict.get("language")):
            self._replace_language(dataset_ref, value)
        if isinstance(dataset_dict.get("access_rights"), str) and dataset_dict["access_rights"]:
            self._replace_access_rights(dataset_ref, dataset_dict["access_rights"])

        # DCAT-AP 3: the licence is stated on the distributions, not on the dataset. A dataset with no
        # distribution yet states it on itself, where data.gouv.fr's harvester reads a dataset's licence first
        # (udata's dataset_from_rdf: the dataset's dct:license, then its distributions'); DCAT-AP 3's shapes
        # are open, so the extra property is no violation.
        for old in list(self.g.objects(dataset_ref, DCT.license)):
            self.g.remove((dataset_ref, DCT.license, old))
            if not any(self.g.subjects(DCT.license, old)):
                self._remove_node(old)
        if not dataset_dict.get("resources") and dataset_dict.get("license_id"):
            self._set_licence(dataset_ref, dataset_dict["license_id"])

        schema = self._single_scdl_schema(dataset_dict)
        for resource_dict in dataset_dict.get("resources", []):
            self._complete_distribution(resource_dict, dataset_dict, dataset_ref, schema)
        complete_hvd(self, dataset_dict, dataset_ref)  # High-Value Datasets: dcat/hvd.py

    def _complete_distribution(
        self, resource_dict: dict[str, Any], dataset_dict: dict[str, Any], dataset_ref: URIRef, schema: str | None
    ) -> None:
        distribution = URIRef(resource_uri(resource_dict))
        g = self.g

        # dct:format: an EU file type URI (stored as its short code, CSV, GeoJSON, WFS; an EU URI not migrated
        # yet, a label or an alias are understood too; guessed from the URL and media type when empty). A format
        # outside the EU list is dropped: DCAT-AP 3 allows no literal.
        fmt = resource_dict.get("format") or ""
        term = _vocabulary("file-type").lookup(fmt) if fmt else None
        if term is None and not fmt:
            from ckanext.communes.vocabularies import guess_file_type

            term = guess_file_type(resource_dict.get("url"), resource_dict.get("mimetype"))
        for old in list(g.objects(distribution, DCT["format"])):
            if term is None or str(old) != term.uri:
                g.remove((distribution, DCT["format"], old))
        if term is not None:
            g.add((distribution, DCT["format"], URIRef(term.uri)))
            g.add((URIRef(term.uri), RDF.type, DCT.MediaTypeOrExtent))
            self._describe_concept(term.uri, "file-type")

        # What data.europa.eu's MQA counts, from what the portal knows (dcat/distribution.py): download URL,
        # registered IANA media type (URIs only: DCAT-AP 3 controlled-vocabulary shape), byte size, modified.
        self._complete_for_mqa(distribution, resource_dict, dataset_dict, term.code if term is not None else None)

        # Licence: the resource's own, else the dataset's; always a node.
        stored = resource_dict.get("license") or dataset_dict.get("license_id")
        if isinstance(stored, str) and stored.strip():
            self._set_licence(distribution, stored)

        for value in as_list(resource_dict.get("language")):
            self._replace_language(distribution, value)

        availability = resource_dict.get("availability")
        if isinstance(availability, str) and availability:
            uri = uris.planned_availability_uri(availability)
            self._replace_object(distribution, DCATAP.availability, URIRef(uri))
            self._describe_concept(uri)
        status = resource_dict.get("status")
        if isinstance(status, str) and status:
            uri = uris.ADMS_STATUS_TO_EU.get(status, status)
            self._replace_object(distribution, ADMS.status, URIRef(uri))
            self._describe_concept(uri)

        if term is not None:
            self._add_access_service(distribution, dataset_ref, resource_dict, term.code)
        if resource_dict.get("datastore_active") is True:
            self._add_data_api_service(distribution, dataset_ref, resource_dict)
        self._fix_checksum(distribution, resource_dict)
        self._set_conforms_to(distribution, resource_dict, term.code if term is not None else None, schema)

    # ----------------------------------------------------------------- serialisation: catalogues

    def graph_from_catalog(self, catalog_dict: dict[str, Any] | None, catalog_ref: URIRef) -> None:
        g = self.g
        catalog_dict = catalog_dict or {}
        insee = catalog_dict.get("communes_insee")
        publisher = publisher_for_commune(insee) if insee else None
        if publisher is None:
            publisher = site_publisher()

        # Language: the EU language URI instead of ckanext-dcat's "fr" literal.
        for old in list(g.objects(catalog_ref, DCT.language)):
            if isinstance(old, Literal):
                g.remove((catalog_ref, DCT.language, old))
                uri = _term_uri("language", str(old))
                if uri:
                    g.add((catalog_ref, DCT.language, URIRef(uri)))
                    g.add((URIRef(uri), RDF.type, DCT.LinguisticSystem))
        for language in list(g.objects(catalog_ref, DCT.language)):
            self._describe_concept(str(language), "language")

        # Title and description (both mandatory): language-tagged for a commune's catalogue.
        if insee:
            values = {"name": publisher.get("name", ""), "insee": insee}
            for predicate, texts in ((DCT.title, CATALOG_TITLES), (DCT.description, CATALOG_DESCRIPTIONS)):
                g.remove((catalog_ref, predicate, None))
                for lang, text in texts.items():
                    g.add((catalog_ref, predicate, Literal(text.format(**values), lang=lang)))
            if catalog_dict.get("modified"):
                g.remove((catalog_ref, DCT.modified, None))
                self._add_date_triple(catalog_ref, DCT.modified, catalog_dict["modified"])
        elif not any(g.objects(catalog_ref, DCT.description)):
            for lang, text in SITE_DESCRIPTIONS.items():
                g.add((catalog_ref, DCT.description, Literal(text, lang=lang)))

        # foaf:homepage of a catalogue is a foaf:Document (DCAT-AP 3 class constraint).
        for homepage in g.objects(catalog_ref, FOAF.homepage):
            g.add((homepage, RDF.type, FOAF.Document))

        # Theme taxonomy (recommended): the EU data-theme NAL our themes come from.
        scheme = URIRef(uris.SCHEMES["data-theme"])
        g.add((catalog_ref, DCAT.themeTaxonomy, scheme))
        self._describe_scheme(uris.SCHEMES["data-theme"])

        # The licence of the catalogue's metadata.
        self._set_licence(catalog_ref, catalogue_licence_id())

        self._set_publisher(catalog_ref, publisher)

    # ----------------------------------------------------------------- parsing

    def parse_dataset(self, dataset_dict: dict[str, Any], dataset_ref: Node) -> dict[str, Any]:
        # List fields: ckanext-dcat's parser leaves JSON strings except for scheming_multiple_text
        # fields; our schema's vocabulary lists (communes_vocabulary_list) store lists too.
        self._load_json_lists(dataset_dict, self._list_fields("dataset_fields"))
        parse_hvd(dataset_dict)
        for resource_dict in dataset_dict.get("resources", []):
            self._load_json_lists(resource_dict, self._list_fields("resource_fields"))

        # Licences: each distribution's licence node -> a registry id (EU URIs, canonical URLs and
        # minted URIs alike), or the original text of a licence unknown to the registry. The dataset's
        # licence is the one most of its distributions state (ties: registry order), and a resource
        # keeps its own only when it differs.
        by_distribution = {
            str(distribution): self._parsed_licence(distribution)
            for distribution in self.g.objects(dataset_ref, DCAT.distribution)
        }
        stated = [licence for licence in by_distribution.values() if licence]
        if stated:
            dataset_dict["license_id"] = self._majority_licence(stated)
        elif own := self._parsed_licence(dataset_ref):  # a dataset without distribution states it on itself
            dataset_dict["license_id"] = own
        for resource_dict in dataset_dict.get("resources", []):
            licence = by_distribution.get(resource_dict.get("uri") or "") or (
                licence_id_for(resource_dict["license"]) if resource_dict.get("license") else None
            )
            if not licence or licence == dataset_dict.get("license_id"):
                resource_dict.pop("license", None)
            else:
                resource_dict["license"] = licence

        for resource_dict in dataset_dict.get("resources", []):
            if resource_dict.get("mimetype"):
                resource_dict["mimetype"] = uris.media_type_from_uri(resource_dict["mimetype"])
            # dct:format: the EU URI (or a literal) -> the short code the schema stores (CSV, GeoJSON, WFS);
            # a value designating no EU file type is left for the harvest mapping to set aside.
            file_type = _resolved_file_type(resource_dict.get("format"))
            if file_type is not None:
                resource_dict["format"] = file_type
            status = resource_dict.get("status")
            if status in uris.EU_STATUS_TO_ADMS and self._stores_adms_status():
                resource_dict["status"] = uris.EU_STATUS_TO_ADMS[status]
            # The download URL this profile writes for a file (dcat/distribution.py) is its URL, not a stored value.
            if mqa.written_download_url(resource_dict, _eu_file_type(resource_dict.get("format"))):
                resource_dict.pop("download_url")
            algorithm = resource_dict.get("hash_algorithm")
            if isinstance(algorithm, str) and algorithm.startswith(SPDX_ALGORITHMS):
                resource_dict["hash_algorithm"] = algorithm[len(SPDX_ALGORITHMS):]

        dcat_spatial.parse_locations(self.g, dataset_ref, dataset_dict)
        return dataset_dict

    def _parsed_licence(self, subject: Node) -> str | None:
        node = next(iter(self.g.objects(subject, DCT.license)), None)
        if node is None:
            return None
        if isinstance(node, BNode):
            label = self.g.value(node, RDFS.label)
            text = str(label) if label is not None else ""
            return licence_id_for(text) or text or None
        return licence_id_for(str(node)) or str(node)

    @staticmethod
    def _majority_licence(stated: list[str]) -> str:
        from ckanext.communes.licences.registry import all_licences

        order = {licence.id: position for position, licence in enumerate(all_licences())}
        counts: dict[str, int] = {}
        for licence in stated:
            counts[licence] = counts.get(licence, 0) + 1
        return min(counts, key=lambda licence: (-counts[licence], order.get(licence, len(order)), licence))

    def _list_fields(self, section: str) -> set[str]:
        fields = (self._dataset_schema or {}).get(section, [])
        return {
            field["field_name"]
            for field in fields
            if "scheming_load_json" in str(field.get("output_validators", ""))
            and "repeating_subfields" not in field
        }

    @staticmethod
    def _load_json_lists(data_dict: dict[str, Any], field_names: set[str]) -> None:
        for name in field_names:
            value = data_dict.get(name)
            if isinstance(value, str) and value.startswith("["):
                with contextlib.suppress(ValueError):
                    data_dict[name] = json.loads(value)

    def _stores_adms_status(self) -> bool:
        field = self._schema_resource_field("status")
        if not field:
            return False
        return any(
            str(choice.get("value", "")).startswith("http://purl.org/adms/status/")
            for choice in field.get("choices", [])
        )

    # ----------------------------------------------------------------- helpers

    @functools.cached_property
    def _memo(self) -> _SerialisationMemo:
        """This graph's memo (ckanext-dcat creates one profile instance per dataset and graph)."""
        return _memo_of(self.g)

    def _is_described(self, node: Node, key: Hashable, sentinel: tuple[Node, Node, Node]) -> bool:
        """Whether this profile already wrote description ``key`` of ``node`` into this graph and it
        is still there (its sentinel triple, which removing the node removes, is in the graph)."""
        if key in self._memo.described.get(node, ()):
            if sentinel in self.g:
                return True
            self._memo.described.pop(node, None)
        return False

    def _mark_described(self, node: Node, key: Hashable) -> None:
        self._memo.described.setdefault(node, set()).add(key)

    def _remove_node(self, node: Node) -> None:
        """Remove every triple about ``node``, and forget what this profile wrote about it."""
        self.g.remove((node, None, None))
        self._memo.described.pop(node, None)

    def _owner_of(self, dataset_dict: dict[str, Any]) -> dict[str, Any] | None:
        """Publisher, default spatial coverage and contact derived from the owner organisation,
        looked up once per organisation and graph."""
        org_id = dataset_dict.get("owner_org") or (dataset_dict.get("organization") or {}).get("id")
        if not org_id:
            return None
        cache = self._memo.owners
        if org_id not in cache:
            from ckanext.communes.schema.owner import (
                contact_for,
                owner_profile,
                publisher_for,
                spatial_for,
            )

            profile = owner_profile(org_id)
            cache[org_id] = (
                {"publisher": publisher_for(profile), "spatial": spatial_for(profile), "contact": contact_for(profile)}
                if profile is not None
                else None
            )
        return cache[org_id]

    @staticmethod
    def _stored_publisher(dataset_dict: dict[str, Any]) -> dict[str, Any] | None:
        stored = dataset_dict.get("publisher")
        if isinstance(stored, list) and stored and isinstance(stored[0], dict) and stored[0].get("uri"):
            return stored[0]
        return None

    def _set_publisher(self, subject: URIRef, publisher: dict[str, Any]) -> None:
        """The subject's only dct:publisher (DCAT-AP: at most one) is ``publisher`` (ckanext-dcat's
        publisher format: uri, name, identifier, type, url, email); whatever ckanext-dcat wrote from the
        stored field (possibly an older owner or an older name) goes, and the agent gets what DCAT-AP 3
        asks of it."""
        g = self.g
        agent = URIRef(publisher["uri"])
        for old in list(g.objects(subject, DCT.publisher)):
            if old != agent:
                g.remove((subject, DCT.publisher, old))
                if not any(g.subjects(None, old)):
                    self._remove_node(old)
        g.add((subject, DCT.publisher, agent))
        # Name, SIREN, type and website are the current profile's: set (not added) for every dataset,
        # since ckanext-dcat writes each dataset's stored copy onto the same agent.
        g.add((agent, RDF.type, FOAF.Agent))
        g.add((agent, RDF.type, FOAF.Organization))
        for predicate, value, kind in (
            (FOAF.name, publisher.get("name"), Literal),
            (DCT.identifier, publisher.get("identifier"), Literal),
            (DCT.type, publisher.get("type"), URIRef),
            (FOAF.homepage, publisher.get("url"), URIRef),
        ):
            if value:
                g.set((agent, predicate, kind(value)))
            else:
                g.remove((agent, predicate, None))
        siren = publisher.get("identifier")
        description = ("publisher-identifier", siren)
        if siren and not self._is_described(agent, description, (agent, ADMS.identifier, None)):
            # The SIREN as an adms:Identifier too, with the register that issues it.
            for old in list(g.objects(agent, ADMS.identifier)):
                g.remove((agent, ADMS.identifier, old))
                self._remove_node(old)
            identifier = BNode()
            g.add((agent, ADMS.identifier, identifier))
            g.add((identifier, RDF.type, ADMS.Identifier))
            g.add((identifier, SKOS.notation, Literal(siren)))
            g.add((identifier, ADMS.schemaAgency, Literal(SIREN_AGENCY)))
            self._mark_described(agent, description)
        if publisher.get("type"):
            self._describe_concept(publisher["type"])

    def _add_location(self, dataset_ref: URIRef, spatial: dict[str, str]) -> None:
        location = URIRef(spatial["uri"])
        self.g.add((dataset_ref, DCT.spatial, location))
        self.g.add((location, RDF.type, DCT.Location))
        if spatial.get("text"):
            self.g.add((location, SKOS.prefLabel, Literal(spatial["text"])))

    def _replace_object(self, subject: Node, predicate: URIRef, new: Node) -> None:
        self.g.remove((subject, predicate, None))
        self.g.add((subject, predicate, new))

    def _replace_term(self, subject: Node, predicate: URIRef, value: str, vocabulary: str) -> str | None:
        """Replace the object ckanext-dcat wrote for a stored vocabulary value by the term's EU URI."""
        uri = _term_uri(vocabulary, value)
        if uri is None or uri == value:
            return uri
        for old in (URIRef(value), Literal(value)):
            self.g.remove((subject, predicate, old))
            self._remove_node(old)
        self.g.add((subject, predicate, URIRef(uri)))
        return uri

    def _replace_language(self, subject: Node, value: str) -> None:
        uri = self._replace_term(subject, DCT.language, value, "language")
        if uri:
            self.g.add((URIRef(uri), RDF.type, DCT.LinguisticSystem))
            self._describe_concept(uri, "language")

    def _replace_access_rights(self, subject: Node, value: str) -> None:
        uri = _term_uri("access-right", value)
        if uri is None:
            return
        for old in list(self.g.objects(subject, DCT.accessRights)):
            if str(old) != uri:
                self.g.remove((subject, DCT.accessRights, old))
                if isinstance(old, BNode):
                    self._remove_node(old)
        self.g.add((subject, DCT.accessRights, URIRef(uri)))
        self.g.add((URIRef(uri), RDF.type, DCT.RightsStatement))
        self._describe_concept(uri, "access-right")

    def _describe_scheme(self, scheme_uri: str) -> None:
        node = URIRef(scheme_uri)
        if self._is_described(node, "scheme", (node, RDF.type, SKOS.ConceptScheme)):
            return
        self.g.add((node, RDF.type, SKOS.ConceptScheme))
        scheme = concepts.scheme(scheme_uri)
        if scheme is not None and (node, DCT.title, None) not in self.g:
            for lang, label in (("fr", scheme.label_fr), ("en", scheme.label_en)):
                if label:
                    self.g.add((node, DCT.title, Literal(label, lang=lang)))
        self._mark_described(node, "scheme")

    def _describe_concept(self, uri: str, vocabulary: str | None = None) -> None:
        """skos:Concept, skos:inScheme and French/English skos:prefLabel of a vocabulary concept, once
        per graph (nothing for a URI the vocabulary does not know)."""
        node = URIRef(uri)
        if self._is_described(node, "concept", (node, RDF.type, SKOS.Concept)):
            return
        concept = concepts.concept(uri, vocabulary)
        if concept is None:
            return
        self.g.add((node, RDF.type, SKOS.Concept))
        self.g.add((node, SKOS.inScheme, URIRef(concept.scheme)))
        for lang, label in (("fr", concept.label_fr), ("en", concept.label_en)):
            if label:
                labels = self.g.objects(node, SKOS.prefLabel)
                if not any(isinstance(old, Literal) and old.language == lang for old in labels):
                    self.g.add((node, SKOS.prefLabel, Literal(label, lang=lang)))
        self._describe_scheme(concept.scheme)
        self._mark_described(node, "concept")

    def _licence_node(self, value: str) -> tuple[LicenceNode, Node] | None:
        """The licence node of a stored value, once per value and graph."""
        cache = self._memo.licence_nodes
        if value not in cache:
            description = licence_node(value)
            cache[value] = (
                (description, URIRef(description.uri) if description.uri else BNode())
                if description is not None
                else None
            )
        return cache[value]

    def _set_licence(self, subject: Node, value: str) -> None:
        """``subject`` dct:license the node of the stored licence ``value`` (DCAT-AP: at most one)."""
        found = self._licence_node(value)
        if found is None:
            return
        description, node = found
        g = self.g
        for old in list(g.objects(subject, DCT.license)):
            if old != node:
                g.remove((subject, DCT.license, old))
                if isinstance(old, Literal) or not any(g.subjects(DCT.license, old)):
                    self._remove_node(old)
        g.add((subject, DCT.license, node))
        # ckanext-dcat types every distribution licence "UnknownIPR", for each dataset: our own type
        # (if any) is the one that stays.
        for old_type in list(g.objects(node, DCT.type)):
            if str(old_type) != description.licence_type:
                g.remove((node, DCT.type, old_type))
        if self._is_described(node, "licence", (node, RDF.type, DCT.LicenseDocument)):
            return
        g.add((node, RDF.type, DCT.LicenseDocument))
        if description.title_fr:
            # ckanext-dcat's parser matches licences on their title when the URI is unknown to it.
            g.set((node, DCT.title, Literal(description.title_fr, lang="fr")))
        g.set((node, RDFS.label, Literal(description.label)))
        if description.see_also:
            g.add((node, RDFS.seeAlso, URIRef(description.see_also)))
        comments = licences_comments(description.is_open)
        g.remove((node, RDFS.comment, None))
        for lang, text in comments.items():
            g.add((node, RDFS.comment, Literal(text, lang=lang)))
        if description.licence_type:
            g.add((node, DCT.type, URIRef(description.licence_type)))
            self._describe_concept(description.licence_type)
        if description.eu:
            self._describe_concept(str(node), "licence")
        self._mark_described(node, "licence")

    def _complete_for_mqa(
        self, distribution: URIRef, resource_dict: dict[str, Any], dataset_dict: dict[str, Any], file_type: str | None
    ) -> None:
        g = self.g
        if dataset_dict.get("id") not in self._memo.measured:
            self._memo.measured[dataset_dict.get("id")] = mqa.measured_links(dataset_dict)
        measure = mqa.current_measure(resource_dict, self._memo.measured[dataset_dict.get("id")])
        url = mqa.download_url(resource_dict, file_type, measure)
        if url:
            g.add((distribution, DCAT.downloadURL, URIRef(url)))
        # ckanext-dcat writes no dcat:accessURL when the stored download_url equals the url (as CKAN clients and
        # harvested records often store a file): DCAT-AP 3 makes it mandatory, and the MQA counts it.
        if (distribution, DCAT.accessURL, None) not in g:
            access = resource_dict.get("access_url") or resource_dict.get("url") or url
            if isinstance(access, str) and access.strip():
                g.add((distribution, DCAT.accessURL, URIRef(access.strip())))
        media_type = mqa.media_type_for(resource_dict.get("mimetype"), file_type)
        g.remove((distribution, DCAT.mediaType, None))
        if media_type and "/" in media_type:
            node = URIRef(uris.iana_media_type_uri(media_type))
            g.add((distribution, DCAT.mediaType, node))
            g.add((node, RDF.type, DCT.MediaType))
        size = mqa.byte_size(resource_dict, file_type, measure)
        if size is not None:
            g.set((distribution, DCAT.byteSize, Literal(size, datatype=XSD.nonNegativeInteger)))
        changed = mqa.modified(resource_dict)
        if changed:
            g.remove((distribution, DCT.modified, None))
            self._add_date_triple(distribution, DCT.modified, changed)

    def _add_access_service(
        self, distribution: URIRef, dataset_ref: URIRef, resource_dict: dict[str, Any], file_type: str
    ) -> None:
        """A service distribution (WMS, WFS...) is accessed through a dcat:DataService: its endpoint
        (the URL without its query), its GetCapabilities document, the standard it conforms to."""
        kind = service_kind(file_type)
        url = resource_dict.get("access_url") or resource_dict.get("url") or ""
        if kind is None or not url or (distribution, DCAT.accessService, None) in self.g:
            return
        g = self.g
        service = URIRef(f"{distribution}/service")
        g.add((distribution, DCAT.accessService, service))
        g.add((service, RDF.type, DCAT.DataService))
        title = resource_dict.get("name") or kind.standard_title or file_type
        g.add((service, DCT.title, Literal(title)))
        g.add((service, DCAT.endpointURL, URIRef(url.split("?", 1)[0])))
        if "request=getcapabilities" in url.lower():
            g.add((service, DCAT.endpointDescription, URIRef(url)))
        g.add((service, DCAT.servesDataset, dataset_ref))
        if kind.standard:
            standard = URIRef(kind.standard)
            g.add((service, DCT.conformsTo, standard))
            g.add((standard, RDF.type, DCT.Standard))
            if kind.standard_title:
                g.set((standard, DCT.title, Literal(kind.standard_title)))

    def _add_data_api_service(
        self, distribution: URIRef, dataset_ref: URIRef, resource_dict: dict[str, Any]
    ) -> None:
        """A resource loaded into the DataStore (CKAN sets its ``datastore_active`` flag; this room does not ask
        the DataStore) is also served by the Data API: a dcat:DataService whose endpoint is the resource's
        ``datastore_search`` address, so that data.gouv.fr, data.europa.eu and the HVD checks see the API. The
        distribution stays the file (its access URL), the service is one more way to reach it."""
        g = self.g
        service = URIRef(f"{distribution}/datastore")
        endpoint = tk.url_for("api.action", ver=3, logic_function="datastore_search",
                              resource_id=resource_dict["id"], qualified=True)
        g.add((distribution, DCAT.accessService, service))
        g.add((service, RDF.type, DCAT.DataService))
        name = resource_dict.get("name") or resource_dict.get("url") or resource_dict["id"]
        g.add((service, DCT.title, Literal(tk._("Data API: {name}").format(name=name))))
        g.add((service, DCAT.endpointURL, URIRef(endpoint)))
        docs = (tk.config.get("ckanext.communes.datastore.api_docs_url") or "").strip()
        if docs:
            g.add((service, DCAT.endpointDescription, URIRef(docs)))
        g.add((service, DCAT.servesDataset, dataset_ref))

    def _fix_checksum(self, distribution: URIRef, resource_dict: dict[str, Any]) -> None:
        """spdx:checksum as DCAT-AP 3 wants it (lower-case hexadecimal digest, an SPDX algorithm URI);
        a hash that cannot be stated so is left out."""
        g = self.g
        for checksum in list(g.objects(distribution, SPDX.checksum)):
            g.remove((distribution, SPDX.checksum, checksum))
            self._remove_node(checksum)
        digest = str(resource_dict.get("hash") or "").strip().lower()
        if not digest or not set(digest) <= _HEX:
            return
        algorithm = checksum_algorithm_uri(resource_dict.get("hash_algorithm"), digest)
        if algorithm is None:
            return
        checksum = BNode()
        g.add((distribution, SPDX.checksum, checksum))
        g.add((checksum, RDF.type, SPDX.Checksum))
        g.add((checksum, SPDX.checksumValue, Literal(digest, datatype=XSD.hexBinary)))
        g.add((checksum, SPDX.algorithm, URIRef(algorithm)))
        g.add((URIRef(algorithm), RDF.type, SPDX.ChecksumAlgorithm))

    @staticmethod
    def _single_scdl_schema(dataset_dict: dict[str, Any]) -> str | None:
        """The dataset's SCDL schema (schema.data.gouv.fr URL) when it declares exactly one."""
        vocabulary = _vocabulary("scdl-schema")
        schemas = {term.uri
                   for term in (vocabulary.lookup(str(v)) for v in as_list(dataset_dict.get("conforms_to")))
                   if term}
        return next(iter(schemas)) if len(schemas) == 1 else None

    def _set_conforms_to(
        self, distribution: URIRef, resource_dict: dict[str, Any], file_type: str | None, schema: str | None
    ) -> None:
        """The resource's dct:conformsTo with SCDL schemas as schema.data.gouv.fr publishes their URL;
        a tabular resource without any gets the dataset's single SCDL schema."""
        g = self.g
        vocabulary = _vocabulary("scdl-schema")
        values = [str(v) for v in as_list(resource_dict.get("conforms_to")) if v]
        if not values and schema and file_type in TABULAR_FILE_TYPES:
            values = [schema]
        for value in values:
            term = vocabulary.lookup(value)
            uri = term.uri if term is not None else value
            if uri != value:
                for old in (URIRef(value), Literal(value)):
                    g.remove((distribution, DCT.conformsTo, old))
            node = URIRef(uri) if uri.startswith(("http://", "https://")) else None
            if node is None:
                continue
            g.add((distribution, DCT.conformsTo, node))
            g.add((node, RDF.type, DCT.Standard))
            if term is not None and (node, DCT.title, None) not in g:
                g.add((node, DCT.title, Literal(term.label_fr, lang="fr")))



def licences_comments(is_open: bool | None) -> dict[str, str]:
    from ckanext.communes.dcat import licences

    if is_open is None:
        return licences.UNKNOWN_COMMENTS
    return licences.OPEN_COMMENTS if is_open else licences.NOT_OPEN_COMMENTS


__all__ = [
    "CommunesDCATAP3Profile",
    "catalogue_licence_id",
    "licence_id_for",
    "licence_uri",
    "publisher_for_commune",
    "publisher_for_org",
    "site_publisher",
]
