"""Every EU URI the portal writes exists in the official EU Named Authority List it belongs to.

Checked against the Publications Office files copied in tests/data/eu-nal/ (see SOURCES.md):
a URI must be a member of its scheme (``skos:inScheme``); where the NAL file is a labelled SKOS
file it must also be a ``skos:Concept`` and not ``at:deprecated="true"``. The membership-only
files (frequency, file-type, language) carry no deprecation flags; for file types the older
labelled file filetypes-skos.rdf adds them for the concepts it knows.

A typo in a data file (``.../frequency/DAILY_3``, ``.../licence/ETALAB_2``) fails here, not in a
reuser's DCAT-AP validator.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import RDF, SKOS

from ckanext.communes.licences.registry import all_licences
from ckanext.communes.vocabularies import VOCABULARY_FILES, get_vocabulary

NAL_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "eu-nal")
AUTHORITY = "http://publications.europa.eu/resource/authority/"
AT = Namespace("http://publications.europa.eu/ontology/authority/")

# NAL scheme -> (file listing its members, labelled SKOS file with concepts and deprecation or None).
NAL_FILES: dict[str, tuple[str, str | None]] = {
    "data-theme": ("data-theme-skos.rdf", "data-theme-skos.rdf"),
    "frequency": ("frequency.rdf", None),
    "file-type": ("file-type.rdf", "filetypes-skos.rdf"),
    "access-right": ("access-right-skos.rdf", "access-right-skos.rdf"),
    "language": ("language.rdf", None),
    "licence": ("licences-skos.rdf", "licences-skos.rdf"),
}
EU_VOCABULARIES = sorted(name for name in NAL_FILES if name != "licence")

GraphOf = Callable[[str], Graph]


@pytest.fixture(scope="module")
def nal() -> GraphOf:
    """nal(filename) -> the parsed file; each file is parsed at most once (language.rdf is 3.4 MB)."""
    graphs: dict[str, Graph] = {}

    def graph(filename: str) -> Graph:
        if filename not in graphs:
            graphs[filename] = Graph().parse(os.path.join(NAL_DIR, filename), format="xml")
        return graphs[filename]

    return graph


def _problems(nal: GraphOf, scheme_name: str, uris: list[str]) -> list[tuple[str, str]]:
    """(uri, what is wrong) for each URI that is not a live member of the NAL ``scheme_name``."""
    scheme = URIRef(AUTHORITY + scheme_name)
    members_file, labelled_file = NAL_FILES[scheme_name]
    members = nal(members_file)
    labelled = nal(labelled_file) if labelled_file else None
    problems = []
    for uri in uris:
        node = URIRef(uri)
        if (node, SKOS.inScheme, scheme) not in members:
            problems.append((uri, f"not a member of {scheme} in {members_file}"))
            continue
        if labelled is None or (node, SKOS.inScheme, scheme) not in labelled:
            # No labelled file, or one older than the membership file (PARQUET, WMTS_SRVC are newer
            # than filetypes-skos.rdf 20221214-0): membership is all there is to check.
            continue
        if (node, RDF.type, SKOS.Concept) not in labelled:
            problems.append((uri, f"not a skos:Concept in {labelled_file}"))
        if (node, AT.deprecated, Literal("true")) in labelled:
            problems.append((uri, f"deprecated in {labelled_file}"))
    return problems


def test_every_eu_vocabulary_of_the_portal_is_checked_here():
    # A new EU vocabulary file would otherwise escape the membership check below.
    # hvd-category: no official file of the HVD category scheme is stored in tests/data/eu-nal; the copy was checked
    # against public copies of its structure (vocabularies/data/hvd-category-SOURCES.txt).
    assert set(VOCABULARY_FILES) - {"scdl-schema", "hvd-category"} == set(EU_VOCABULARIES)


@pytest.mark.parametrize("name", EU_VOCABULARIES)
def test_every_uri_of_the_vocabulary_file_is_a_live_concept_of_its_eu_nal(nal, name):
    uris = [term.uri for term in get_vocabulary(name).terms]
    assert uris
    assert _problems(nal, name, uris) == []


def test_every_eu_licence_uri_of_the_registry_is_a_live_concept_of_the_licence_nal(nal):
    uris = [licence.eu_uri for licence in all_licences() if licence.eu_uri]
    assert uris
    assert _problems(nal, "licence", uris) == []


def test_the_check_rejects_a_uri_the_nal_does_not_have(nal):
    """The checker itself: the three-times-a-day frequency udata has (no EU code), a deprecated
    licence, a mistyped code; and it accepts a known good URI."""
    assert [uri for uri, _ in _problems(nal, "frequency", [AUTHORITY + "frequency/DAILY_3"])] == [
        AUTHORITY + "frequency/DAILY_3"]
    assert _problems(nal, "licence", [AUTHORITY + "licence/CC_BY"]) == [
        (AUTHORITY + "licence/CC_BY", "deprecated in licences-skos.rdf")]
    assert len(_problems(nal, "licence", [AUTHORITY + "licence/ETALAB_2"])) == 1
    assert _problems(nal, "licence", [AUTHORITY + "licence/ETALAB_2_0"]) == []


@pytest.mark.parametrize("name", ["data-theme", "access-right"])
def test_labels_are_those_of_the_nal(nal, name):
    """Where the NAL has French and English labels, ours are the same words (case aside)."""
    graph = nal(NAL_FILES[name][1])
    differences = []
    for term in get_vocabulary(name).terms:
        labels = {lit.language: str(lit) for lit in graph.objects(URIRef(term.uri), SKOS.prefLabel)}
        for lang, ours in (("fr", term.label_fr), ("en", term.label_en)):
            if ours.casefold() != labels.get(lang, "").casefold():
                differences.append((term.code, lang, ours, labels.get(lang)))
    assert differences == []


def test_file_types_the_nal_makes_esri_specific_say_so_in_both_languages(nal):
    """REST is "Esri REST" and MAP_SRVC an ArcGIS service in the NAL: a label "API REST" would send
    any REST API to an Esri-only format."""
    graph = nal("filetypes-skos.rdf")
    unmarked = []
    for term in get_vocabulary("file-type").terms:
        nal_labels = " ".join(str(lit) for prop in (SKOS.prefLabel, SKOS.altLabel)
                              for lit in graph.objects(URIRef(term.uri), prop)).casefold()
        if "esri" in nal_labels or "arcgis" in nal_labels:
            unmarked += [(term.code, label) for label in (term.label_fr, term.label_en)
                         if "esri" not in label.casefold()]
    assert unmarked == []
