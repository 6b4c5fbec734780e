"""Fixtures of the DCAT tests: commune organisations, representative datasets (minimal, full, several
resources), the RDF parser/serialiser with the portal's profiles, and SHACL validation against the
official DCAT-AP 3.0.1 shapes with the EU vocabularies the controlled-vocabulary shapes need."""

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
from ckanext.communes.tests.shared import ANNUAL, CSV, ENG, ENVI, EU, FRA, GEOJSON, PUBLIC, REGI

PROFILES = "euro_dcat_ap_3 communes_dcat_ap_3"
HERE = pathlib.Path(__file__).resolve().parent
SHACL_DIR = HERE / "shacl"

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
            {"url": "https://data.ville-bron.fr/budget.csv", "name": "Budget (CSV)"},
            {"url": "https://data.ville-bron.fr/budget.json", "name": "Budget (JSON)"},
            {"url": "https://data.ville-bron.fr/budget.xlsx", "name": "Budget (tableur)"},
            {"url": "https://data.ville-bron.fr/budget.pdf", "name": "Budget (PDF)", "format": "PDF"},
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
    return graph


@functools.cache
def vocabulary_graph() -> rdflib.Graph:
    """The EU vocabularies as SKOS, as the controlled-vocabulary shapes expect them next to the data
    (SEMIC: load the vocabularies into the validation): every term of the portal's vocabulary files
    with skos:inScheme its NAL, plus the few concepts of other NALs our RDF uses."""
    from ckanext.communes.vocabularies import get_vocabulary

    graph = rdflib.Graph()
    for name in ("data-theme", "frequency", "file-type", "access-right", "language"):
        scheme = rdflib.URIRef(uris.SCHEMES[name])
        graph.add((scheme, RDF.type, SKOS.ConceptScheme))
        graph.add((scheme, DCTERMS.title, rdflib.Literal(name, lang="en")))
        for term in get_vocabulary(name).terms:
            concept = rdflib.URIRef(term.uri)
            graph.add((concept, RDF.type, SKOS.Concept))
            graph.add((concept, SKOS.inScheme, scheme))
            graph.add((concept, SKOS.prefLabel, rdflib.Literal(term.label_en or term.code, lang="en")))
    graph.parse(HERE / "data" / "vocabulary-schemes-extra.ttl", format="turtle")
    return graph


def shacl_violations(data: rdflib.Graph, kind: str) -> tuple[bool, int, str]:
    """(conforms, number of sh:Violation results, report text) of the data against the shapes."""
    import pyshacl

    # The vocabularies go into the data graph: pyshacl's ont_graph only "inoculates" class and
    # property definitions, not the skos:inScheme statements the vocabulary shapes look for.
    data_and_vocabularies = rdflib.Graph()
    data_and_vocabularies += data
    data_and_vocabularies += vocabulary_graph()
    conforms, report_graph, report_text = pyshacl.validate(
        data_and_vocabularies,
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
