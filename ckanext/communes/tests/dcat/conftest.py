"""Fixtures of the DCAT tests: commune organisations, representative datasets (minimal, full, several
resources incl. a WFS service and a licence engagée), the RDF parser/serialiser with the portal's
profiles, and SHACL validation against the official DCAT-AP 3.0.1 shapes with the OFFICIAL EU
vocabulary files (tests/data/eu-nal/)."""

from __future__ import annotations

import functools
import pathlib
from typing import Any

import pytest
import rdflib
from ckan.tests import factories, helpers
from rdflib.namespace import DCTERMS, RDF, SH, SKOS

from ckanext.communes import uris
from ckanext.communes.tests import shared
from ckanext.communes.tests.harvesters.conftest import (  # noqa: F401 - fixtures re-exported (link checks)
    _source_server_instance,
    allow_private_addresses,
    source_server,
)
from ckanext.communes.tests.shared import ANNUAL, CSV, ENG, ENVI, EU, FRA, GEOJSON, PUBLIC, REGI

PROFILES = "euro_dcat_ap_3 communes_dcat_ap_3"
HERE = pathlib.Path(__file__).resolve().parent
SHACL_DIR = HERE / "shacl"
NAL_DIR = HERE.parent / "data" / "eu-nal"
DATAGOUV_LICENCES = HERE.parent / "data" / "datagouv-licences.json"
# The official NAL files, by the scheme whose membership they state.
NAL_FILES = {
    f"{EU}/data-theme": "data-theme-skos.rdf",
    f"{EU}/frequency": "frequency.rdf",
    f"{EU}/file-type": "file-type.rdf",
    f"{EU}/access-right": "access-right-skos.rdf",
    f"{EU}/language": "language.rdf",
    f"{EU}/distribution-status": "distribution-status-skos.rdf",
    f"{EU}/licence": "licences-skos.rdf",
}
WFS = f"{EU}/file-type/WFS_SRVC"
LOCN_GEOMETRY = rdflib.URIRef("http://www.w3.org/ns/locn#geometry")
WFS_URL = "https://data.ville-bron.fr/geoserver/wfs?SERVICE=WFS&REQUEST=GetCapabilities"

SCDL_EQUIPEMENTS = "https://schema.data.gouv.fr/scdl/equipements/"

BRON = {**shared.BRON, "website": "https://www.ville-bron.fr"}
MIONS = {
    "name": "mions",
    "title": "Mions",
    "insee_code": "69283",
    "siren": "216902833",
    "kind": "commune",
    "official_name": "Commune de Mions",
}
OULLINS_PIERRE_BENITE = {
    "name": "oullins-pierre-benite",
    "title": "Oullins-Pierre-Bénite",
    "insee_code": "69149",
    "siren": "200102747",
    "kind": "commune",
    "official_name": "Commune d'Oullins-Pierre-Bénite",
}


@pytest.fixture(autouse=True)
def _portal_rdf_profiles(ckan_config, monkeypatch):
    """Our profile after ckanext-dcat's, as the portal configures them."""
    monkeypatch.setitem(ckan_config, "ckanext.dcat.rdf.profiles", PROFILES)


@pytest.fixture(autouse=True)
def licence_policy_warn(ckan_config, monkeypatch):
    """Licences off the legal list (licence engagée, other-closed) are saved, flagged, not refused:
    these tests are about their RDF, not about the policy (tests/licences)."""
    monkeypatch.setitem(ckan_config, "ckanext.communes.licence_policy", "warn")


@pytest.fixture
def sysadmin() -> dict[str, Any]:
    return factories.Sysadmin()


@pytest.fixture
def make_org(sysadmin):
    def make(fields: dict[str, Any]) -> dict[str, Any]:
        return factories.Organization(user=sysadmin, **fields)

    return make


@pytest.fixture
def bron(make_org) -> dict[str, Any]:
    return make_org(BRON)


def create_dataset(sysadmin: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return helpers.call_action("package_create", context={"user": sysadmin["name"]}, **fields)


def minimal_fields(org: dict[str, Any], name: str = "arbres-minimal") -> dict[str, Any]:
    """Only what the schema requires, and a licence, no resource."""
    return {
        "name": name,
        "title": "Arbres d'alignement",
        "notes": "Les arbres d'alignement de la commune.",
        "owner_org": org["id"],
        "theme": [ENVI],
        "license_id": "etalab-2.0",
    }


def full_fields(org: dict[str, Any], name: str = "equipements-complet") -> dict[str, Any]:
    """Every DCAT-related field of the schema filled in."""
    return {
        "name": name,
        "title": "Équipements publics",
        "notes": "Les équipements publics de la commune (SCDL).",
        "owner_org": org["id"],
        "tag_string": "équipements,services publics",
        "theme": [REGI, ENVI],
        "license_id": "etalab-2.0",
        "frequency": ANNUAL,
        "spatial_coverage": [{"uri": uris.commune_spatial_uri("69029"), "text": "Bron"}],
        "temporal_coverage": [{"start": "2020-01-01", "end": "2024-12-31"}],
        "contact": [{"name": "Service SIG", "email": "sig@ville-bron.fr"}],
        "access_rights": PUBLIC,
        "language": [FRA, ENG],
        "conforms_to": [SCDL_EQUIPEMENTS],
        "url": "https://www.ville-bron.fr/donnees/equipements",
        "issued": "2021-03-15",
        "modified": "2024-06-01",
        "version": "2.1",
        "resources": [
            {
                "url": "https://data.ville-bron.fr/equipements.csv",
                "name": "Équipements (CSV)",
                "description": "Le fichier au format SCDL.",
                "format": CSV,
                "mimetype": "text/csv",
                "availability": f"{EU}/planned-availability/STABLE",
                "status": "http://purl.org/adms/status/Completed",
                "size": 12345,
                "conforms_to": [SCDL_EQUIPEMENTS],
                "language": [FRA],
                "issued": "2021-03-15",
                "modified": "2024-06-01",
            },
            {
                "url": "https://data.ville-bron.fr/equipements.geojson",
                "name": "Équipements (GeoJSON)",
                "format": GEOJSON,
                "mimetype": "application/geo+json",
                "license": "ODbL-1.0",
            },
            {"url": WFS_URL, "name": "Équipements (WFS)", "format": WFS},
        ],
    }


def several_resources_fields(org: dict[str, Any], name: str = "budget-plusieurs") -> dict[str, Any]:
    return {
        "name": name,
        "title": "Budget primitif",
        "notes": "Le budget primitif, en plusieurs formats.",
        "owner_org": org["id"],
        "theme": [f"{EU}/data-theme/GOVE"],
        "license_id": "ODbL-1.0",
        "resources": [
            {"url": "https://data.ville-bron.fr/budget.csv", "name": "Budget (CSV)", "size": 2048,
             "hash": "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08", "hash_algorithm": "sha256"},
            {"url": "https://data.ville-bron.fr/budget.json", "name": "Budget (JSON)"},
            {"url": "https://data.ville-bron.fr/budget.xlsx", "name": "Budget (tableur)"},
            {"url": "https://data.ville-bron.fr/budget.pdf", "name": "Budget (PDF)", "format": "PDF"},
            {"url": WFS_URL, "name": "Budget par quartier (WFS)", "format": WFS},
            {"url": "https://data.grandlyon.com/budget-detail.csv", "name": "Détail (licence engagée)",
             "license": "grandlyon-engagee"},
        ],
    }


def dataset_graph(app: Any, dataset_id: str, fmt: str = "ttl") -> rdflib.Graph:
    response = app.get(f"/dataset/{dataset_id}.{fmt}", status=200)
    graph = rdflib.Graph()
    graph.parse(data=response.body, format={"ttl": "turtle", "rdf": "xml", "jsonld": "json-ld"}[fmt])
    return graph


# ------------------------------------------------------------------------------------------ SHACL

@functools.cache
def shapes(kind: str) -> rdflib.Graph:
    """The official shapes: ``single`` = dcat-ap-3.0.1-SHACL.ttl, ``split`` = dcat-ap-3.0.1-shapes.ttl;
    both with the controlled-vocabulary shapes (dcat-ap-3.0.1-mdr-vocabularies.shape.ttl)."""
    files = {
        "single": ["dcat-ap-3.0.1-SHACL.ttl", "dcat-ap-3.0.1-mdr-vocabularies.shape.ttl"],
        "split": ["dcat-ap-3.0.1-shapes.ttl", "dcat-ap-3.0.1-mdr-vocabularies.shape.ttl"],
    }[kind]
    graph = rdflib.Graph()
    for name in files:
        graph.parse(SHACL_DIR / name, format="turtle")
    # dcat-ap-3.0.1-SHACL.ttl lists property shapes it never defines (e.g. DataServiceShape/dc08f4dc...,
    # a known defect of the release): pyshacl refuses the whole file, so the dangling references go.
    for shape, _, prop in list(graph.triples((None, SH.property, None))):
        if (prop, SH.path, None) not in graph:
            graph.remove((shape, SH.property, prop))
    # The classic dcat-ap-3.0.1-shapes.ttl keep DCAT-AP 2's range for locn:geometry (sh:nodeKind sh:Literal),
    # which DCAT-AP 3 changed to the class locn:Geometry (SEMICeu/DCAT-AP#247), as the single-file shapes of
    # the same release check (sh:class locn:Geometry, sh:nodeKind sh:BlankNodeOrIRI): no value can satisfy
    # both. The release's own range wins; that one outdated constraint goes (its max 1 stays in the other file).
    for prop in list(graph.subjects(SH.path, LOCN_GEOMETRY)):
        if (prop, SH.nodeKind, SH.Literal) in graph:
            graph.remove((prop, SH.nodeKind, SH.Literal))
    return graph


@functools.cache
def nal_index() -> tuple[rdflib.Graph, dict[rdflib.URIRef, frozenset[rdflib.URIRef]]]:
    """The official NAL files, parsed once per session: (their scheme descriptions, concept -> the
    schemes the NAL says it is in)."""
    schemes = rdflib.Graph()
    members: dict[rdflib.URIRef, set[rdflib.URIRef]] = {}
    for scheme_uri, name in NAL_FILES.items():
        nal = rdflib.Graph().parse(NAL_DIR / name, format="xml")
        scheme = rdflib.URIRef(scheme_uri)
        schemes.add((scheme, RDF.type, SKOS.ConceptScheme))
        for title in nal.objects(scheme, SKOS.prefLabel):
            schemes.add((scheme, DCTERMS.title, title))
        for concept in nal.subjects(SKOS.inScheme, scheme):
            members.setdefault(concept, set()).add(scheme)
    return schemes, {concept: frozenset(found) for concept, found in members.items()}


def with_official_vocabularies(data: rdflib.Graph) -> rdflib.Graph:
    """The data with what it says itself about membership of the NALs we have official files of
    REMOVED, and what the official files say about the concepts it uses added: a URI the NAL does not
    have (a typo) is then in no scheme, and the vocabulary shapes report it."""
    schemes, members = nal_index()
    official = {rdflib.URIRef(uri) for uri in NAL_FILES}
    graph = rdflib.Graph()
    for triple in data:
        if triple[1] == SKOS.inScheme and triple[2] in official:
            continue
        graph.add(triple)
    graph += schemes
    for node in set(graph.subjects()) | set(graph.objects()):
        for scheme in members.get(node, ()) if isinstance(node, rdflib.URIRef) else ():
            graph.add((node, SKOS.inScheme, scheme))
    return graph


def unknown_eu_concepts(data: rdflib.Graph) -> set[str]:
    """EU NAL URIs the data uses that the official NAL files do not have."""
    _, members = nal_index()
    return {
        str(node)
        for node in set(data.subjects()) | set(data.objects())
        if isinstance(node, rdflib.URIRef)
        and any(str(node).startswith(f"{scheme}/") for scheme in NAL_FILES)
        and node not in members
    }


def shacl_violations(data: rdflib.Graph, kind: str, vocabularies: str = "official") -> tuple[bool, int, str]:
    """(conforms, number of sh:Violation results, report text) of the data against the shapes.

    ``vocabularies="official"``: NAL membership from the official files only (see
    with_official_vocabularies); ``"self"``: the data graph alone, as a consumer receives it."""
    import pyshacl

    # The vocabularies go into the data graph: pyshacl's ont_graph only "inoculates" class and
    # property definitions, not the skos:inScheme statements the vocabulary shapes look for.
    graph = with_official_vocabularies(data) if vocabularies == "official" else data
    conforms, report_graph, report_text = pyshacl.validate(
        graph,
        shacl_graph=shapes(kind),
        inference="none",
        allow_warnings=True,
        abort_on_first=False,
    )
    # Top-level results only: a warning's sh:detail results carry sh:Violation of the nested shape.
    violations = sum(
        1
        for report in report_graph.subjects(RDF.type, SH.ValidationReport)
        for result in report_graph.objects(report, SH.result)
        if (result, SH.resultSeverity, SH.Violation) in report_graph
    )
    return conforms, violations, report_text
