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
- licences as URIs (EU licence NAL where one exists, else the licence's canonical URL) on every
  distribution (DCAT-AP 3 puts legal information there) and on the dataset;
- a contact point from the commune's open-data referent when the dataset has none;
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

from ckan import model
from rdflib import BNode, Literal, URIRef
from rdflib.term import Node

from ckanext.communes import uris
from ckanext.communes.schema.values import as_list
from ckanext.dcat.profiles import (
    ADMS,
    DCAT,
    DCATAP,
    DCT,
    FOAF,
    RDF,
    SKOS,
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
    - ``licence_ids``: stored licence value -> registry id (licence_id_for is a pure function of the
      packaged registry);
    - ``described``: node -> keys of the descriptions this profile has written about it in this
      graph (a publisher agent, a theme concept, a licence document...). Writing the same description
      again is a no-op, so it is skipped; every node this profile removes is forgotten here, and a
      description is redone when its sentinel triple has gone (another profile removed the node).
    """

    owners: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    licence_ids: dict[str, str | None] = field(default_factory=dict)
    described: dict[Node, set[Hashable]] = field(default_factory=dict)


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
PUBLISHER_TYPE_LABELS = {"en": "Local Authority", "fr": "Autorité locale"}
DATA_THEME_SCHEME_TITLE = "Data theme"


def publisher_for_org(org_id: str) -> dict[str, str] | None:
    """The publisher an organisation stands for, as the schema derives it for its datasets
    (schema/owner.py: commune URI by INSEE code, else by SIREN), in ckanext-dcat's publisher format."""
    from ckanext.communes.schema.owner import owner_profile, publisher_for

    profile = owner_profile(org_id)
    return publisher_for(profile) if profile is not None else None


def publisher_for_commune(insee: str) -> dict[str, str] | None:
    """The publisher of a commune's catalogue: its organisation's, else the registry's identity."""
    from ckanext.communes.communes.programme import commune_group_for
    from ckanext.communes.communes.registry import get_commune

    commune = get_commune(insee)
    if commune is None:
        return None
    group = commune_group_for(commune.insee)
    publisher = publisher_for_org(group.id) if group is not None else None
    if publisher and publisher.get("uri") == uris.commune_uri(commune.insee):
        return publisher
    return {
        "uri": uris.commune_uri(commune.insee),
        "name": (publisher or {}).get("name") or commune.name,
        "identifier": commune.siren,
        "type": uris.PUBLISHER_TYPE_LOCAL_AUTHORITY,
        **({"url": publisher["url"]} if publisher and publisher.get("url") else {}),
    }


def site_publisher() -> dict[str, str]:
    """The publisher of the portal-wide catalogue: the Métropole de Lyon, which runs the portal."""
    from ckanext.communes.communes.programme import metropole_org_name
    from ckanext.communes.communes.registry import METROPOLE_NAME, METROPOLE_SIREN

    group = model.Group.get(metropole_org_name())
    publisher = publisher_for_org(group.id) if group is not None else None
    return publisher or {
        "uri": uris.siren_uri(METROPOLE_SIREN),
        "name": METROPOLE_NAME,
        "identifier": METROPOLE_SIREN,
        "type": uris.PUBLISHER_TYPE_LOCAL_AUTHORITY,
    }


def _vocabulary(name: str) -> Any:
    from ckanext.communes.vocabularies import get_vocabulary

    return get_vocabulary(name)


def _term_uri(vocabulary: str, value: Any) -> str | None:
    """The EU URI of a stored vocabulary value (URI, code, label or alias); None if unknown."""
    if not isinstance(value, str) or not value.strip():
        return None
    term = _vocabulary(vocabulary).lookup(value)
    return term.uri if term else None


def licence_uri(licence_id: str | None) -> str | None:
    """RDF URI of a licence id: the EU licence NAL URI where one exists, else the canonical URL;
    None for a licence unknown to the registry or with neither."""
    if not licence_id:
        return None
    from ckanext.communes.licences.registry import get_licence, licence_rdf_uri

    licence = get_licence(licence_id)
    return (licence_rdf_uri(licence) or None) if licence is not None else None


def licence_title(licence_id: str) -> str | None:
    from ckanext.communes.licences.registry import get_licence

    licence = get_licence(licence_id)
    return licence.title if licence is not None else None


def licence_id_for(value: str | None) -> str | None:
    """The registry id of an RDF licence value: its EU licence NAL URI (which the normaliser does not
    index: sources never write it), else anything the normaliser recognises (URLs, ids, titles)."""
    if not value:
        return None
    from ckanext.communes.licences.normalise import normalize_licence, url_key
    from ckanext.communes.licences.registry import all_licences

    key = url_key(value)
    for licence in all_licences():
        if licence.eu_uri and url_key(licence.eu_uri) == key:
            return licence.id
    match = normalize_licence(value)
    return match.licence.id if match.licence is not None else None


class CommunesDCATAP3Profile(RDFProfile):
    """DCAT-AP 3 for the communes' portal, completing ckanext-dcat's ``euro_dcat_ap_3``."""

    # ----------------------------------------------------------------- serialisation: datasets

    def graph_from_dataset(self, dataset_dict: dict[str, Any], dataset_ref: URIRef) -> None:
        # The schema derives publisher, spatial coverage and contact point from the owner organisation
        # on every save (schema/owner.py); for datasets saved without them (older or harvested ones)
        # the same derivation is applied here.
        owner = self._owner_of(dataset_dict)
        publisher = self._stored_publisher(dataset_dict) or (owner or {}).get("publisher")
        if publisher:
            self._set_publisher(dataset_ref, publisher)
        if owner and not any(self.g.objects(dataset_ref, DCT.spatial)) and owner.get("spatial"):
            self._add_location(dataset_ref, owner["spatial"])
        if owner and not any(self.g.objects(dataset_ref, DCAT.contactPoint)) and owner.get("contact"):
            self._add_contact_to_graph(dataset_ref, DCAT.contactPoint, owner["contact"])

        for value in as_list(dataset_dict.get("theme")):
            uri = self._replace_term(dataset_ref, DCAT.theme, value, "data-theme")
            if uri:
                self._describe_theme(uri)
        if dataset_dict.get("frequency"):
            uri = self._replace_term(dataset_ref, DCT.accrualPeriodicity, dataset_dict["frequency"], "frequency")
            if uri:
                self.g.add((URIRef(uri), RDF.type, DCT.Frequency))
        for value in as_list(dataset_dict.get("language")):
            self._replace_language(dataset_ref, value)
        if isinstance(dataset_dict.get("access_rights"), str) and dataset_dict["access_rights"]:
            self._replace_access_rights(dataset_ref, dataset_dict["access_rights"])

        dataset_licence = licence_uri(dataset_dict.get("license_id"))
        if dataset_licence:
            self._set_licence(dataset_ref, dataset_licence, dataset_dict["license_id"])

        for resource_dict in dataset_dict.get("resources", []):
            self._complete_distribution(resource_dict, dataset_dict)

    def _complete_distribution(self, resource_dict: dict[str, Any], dataset_dict: dict[str, Any]) -> None:
        distribution = URIRef(resource_uri(resource_dict))
        g = self.g

        # dct:format: an EU file type URI (stored as URI, code, label or alias; guessed from the URL
        # and media type when empty). A format outside the EU list is dropped: DCAT-AP 3 allows no literal.
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

        # dcat:mediaType: IANA URIs only (DCAT-AP 3 controlled-vocabulary shape).
        for old in list(g.objects(distribution, DCAT.mediaType)):
            if isinstance(old, Literal):
                g.remove((distribution, DCAT.mediaType, old))
                if "/" in str(old):
                    media_type = URIRef(uris.iana_media_type_uri(str(old)))
                    g.add((distribution, DCAT.mediaType, media_type))
                    g.add((media_type, RDF.type, DCT.MediaType))

        # Licence: the resource's own, else the dataset's.
        stored = resource_dict.get("license") or dataset_dict.get("license_id")
        licence_id = self._licence_id_for(stored) if isinstance(stored, str) else None
        uri = licence_uri(licence_id) or (stored if isinstance(stored, str) and stored.startswith("http") else None)
        if uri:
            self._set_licence(distribution, uri, licence_id)

        for value in as_list(resource_dict.get("language")):
            self._replace_language(distribution, value)

        availability = resource_dict.get("availability")
        if isinstance(availability, str) and availability:
            self._replace_object(distribution, DCATAP.availability, URIRef(uris.planned_availability_uri(availability)))
        status = resource_dict.get("status")
        if isinstance(status, str) and status in uris.ADMS_STATUS_TO_EU:
            self._replace_object(distribution, ADMS.status, URIRef(uris.ADMS_STATUS_TO_EU[status]))

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
        g.add((scheme, RDF.type, SKOS.ConceptScheme))
        g.add((scheme, DCT.title, Literal(DATA_THEME_SCHEME_TITLE, lang="en")))

        self._set_publisher(catalog_ref, publisher)

    # ----------------------------------------------------------------- parsing

    def parse_dataset(self, dataset_dict: dict[str, Any], dataset_ref: Node) -> dict[str, Any]:
        # List fields: ckanext-dcat's parser leaves JSON strings except for scheming_multiple_text
        # fields; our schema's vocabulary lists (communes_vocabulary_list) store lists too.
        self._load_json_lists(dataset_dict, self._list_fields("dataset_fields"))
        for resource_dict in dataset_dict.get("resources", []):
            self._load_json_lists(resource_dict, self._list_fields("resource_fields"))

        # Licence: from the dataset's dct:license (our registry knows EU URIs and canonical URLs),
        # which ckanext-dcat's exact URL/title match against CKAN's list may miss.
        dataset_licence = next(iter(self.g.objects(dataset_ref, DCT.license)), None)
        dataset_licence_id = licence_id_for(str(dataset_licence)) if dataset_licence is not None else None
        if dataset_licence_id:
            dataset_dict["license_id"] = dataset_licence_id

        for resource_dict in dataset_dict.get("resources", []):
            if resource_dict.get("mimetype"):
                resource_dict["mimetype"] = uris.media_type_from_uri(resource_dict["mimetype"])
            status = resource_dict.get("status")
            if status in uris.EU_STATUS_TO_ADMS and self._stores_adms_status():
                resource_dict["status"] = uris.EU_STATUS_TO_ADMS[status]
            licence = resource_dict.get("license")
            if licence:
                licence_id = licence_id_for(licence)
                if licence_id and licence_id == dataset_dict.get("license_id"):
                    # Written on the distribution because DCAT-AP 3 wants it there; inherited in CKAN.
                    del resource_dict["license"]
                elif licence_id:
                    resource_dict["license"] = licence_id
        return dataset_dict

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

    def _licence_id_for(self, value: str) -> str | None:
        """licence_id_for, once per value and graph."""
        licence_ids = self._memo.licence_ids
        if value not in licence_ids:
            licence_ids[value] = licence_id_for(value)
        return licence_ids[value]

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
        publisher format: uri, name, identifier, type, url, email); whatever ckanext-dcat wrote for its
        organisation fallback goes, and the agent gets what DCAT-AP 3 asks of it."""
        g = self.g
        agent = URIRef(publisher["uri"])
        for old in list(g.objects(subject, DCT.publisher)):
            if old != agent:
                g.remove((subject, DCT.publisher, old))
                if not any(g.subjects(None, old)):
                    self._remove_node(old)
        g.add((subject, DCT.publisher, agent))
        # The agent's own triples depend only on the publisher dict and on what the graph already
        # says of the agent (each is written only when missing): once written, writing them again
        # for the next dataset of the same publisher changes nothing.
        description = ("publisher", tuple(sorted((key, str(value)) for key, value in publisher.items())))
        if self._is_described(agent, description, (agent, RDF.type, FOAF.Organization)):
            self._label_publisher_types(agent)
            return
        g.add((agent, RDF.type, FOAF.Agent))
        g.add((agent, RDF.type, FOAF.Organization))
        if publisher.get("name") and (agent, FOAF.name, None) not in g:
            g.add((agent, FOAF.name, Literal(publisher["name"])))
        siren = publisher.get("identifier")
        if siren and (agent, DCT.identifier, None) not in g:
            g.add((agent, DCT.identifier, Literal(siren)))
        if siren and (agent, ADMS.identifier, None) not in g:
            # The SIREN as an adms:Identifier too, with the register that issues it.
            identifier = BNode()
            g.add((agent, ADMS.identifier, identifier))
            g.add((identifier, RDF.type, ADMS.Identifier))
            g.add((identifier, SKOS.notation, Literal(siren)))
            g.add((identifier, ADMS.schemaAgency, Literal(SIREN_AGENCY)))
        if publisher.get("type") and (agent, DCT.type, None) not in g:
            g.add((agent, DCT.type, URIRef(publisher["type"])))
        self._label_publisher_types(agent)
        if publisher.get("url") and (agent, FOAF.homepage, None) not in g:
            g.add((agent, FOAF.homepage, URIRef(publisher["url"])))
        # Memoised last: the sentinel rdf:type foaf:Organization was added above.
        self._mark_described(agent, description)

    def _label_publisher_types(self, agent: URIRef) -> None:
        """dct:type of an agent is a skos:Concept, which needs a preferred label. Run for every
        dataset: ckanext-dcat may give the agent another type from a later dataset's record."""
        for publisher_type in list(self.g.objects(agent, DCT.type)):
            if str(publisher_type) != uris.PUBLISHER_TYPE_LOCAL_AUTHORITY:
                continue
            if self._is_described(publisher_type, "concept", (publisher_type, RDF.type, SKOS.Concept)):
                continue
            self.g.add((publisher_type, RDF.type, SKOS.Concept))
            for lang, label in PUBLISHER_TYPE_LABELS.items():
                self.g.add((publisher_type, SKOS.prefLabel, Literal(label, lang=lang)))
            self._mark_described(publisher_type, "concept")

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

    def _replace_access_rights(self, subject: Node, value: str) -> None:
        uri = _term_uri("access-right", value)
        if uri is None or uri == value:
            return
        for old in list(self.g.objects(subject, DCT.accessRights)):
            self.g.remove((subject, DCT.accessRights, old))
            if isinstance(old, BNode):
                self._remove_node(old)
        self.g.add((subject, DCT.accessRights, URIRef(uri)))
        self.g.add((URIRef(uri), RDF.type, DCT.RightsStatement))

    def _describe_theme(self, uri: str) -> None:
        node = URIRef(uri)
        if self._is_described(node, "theme", (node, RDF.type, SKOS.Concept)):
            return
        term = _vocabulary("data-theme").by_uri(uri)
        self.g.add((node, RDF.type, SKOS.Concept))
        if term is not None:
            for lang in ("fr", "en"):
                label = getattr(term, f"label_{lang}")
                if label:
                    self.g.add((node, SKOS.prefLabel, Literal(label, lang=lang)))
        self._mark_described(node, "theme")

    def _set_licence(self, subject: Node, uri: str, licence_id: str | None) -> None:
        g = self.g
        node = URIRef(uri)
        for old in list(g.objects(subject, DCT.license)):
            if old != node:
                g.remove((subject, DCT.license, old))
                if isinstance(old, Literal) or not any(g.subjects(DCT.license, old)):
                    self._remove_node(old)
        g.add((subject, DCT.license, node))
        # ckanext-dcat types every distribution licence "UnknownIPR", for each dataset: false for the
        # licences we know, so removed every time.
        g.remove((node, DCT.type, URIRef(uris.LICENCE_TYPE_UNKNOWN)))
        description = ("licence", licence_id)
        if self._is_described(node, description, (node, RDF.type, DCT.LicenseDocument)):
            return
        g.add((node, RDF.type, DCT.LicenseDocument))
        title = licence_title(licence_id) if licence_id and not licence_id.startswith("http") else None
        if title and (node, DCT.title, None) not in g:
            # ckanext-dcat's parser matches licences on their title when the URI is unknown to it.
            g.add((node, DCT.title, Literal(title)))
        self._mark_described(node, description)


__all__ = ["CommunesDCATAP3Profile", "publisher_for_commune", "publisher_for_org", "site_publisher"]
