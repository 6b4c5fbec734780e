"""The RDF of representative datasets and of a commune catalogue validates against the official
DCAT-AP 3.0.1 shapes, controlled-vocabulary shapes included, with zero violations (warnings remain for
the publisher, not in the EU corporate-body NAL, and the commune's territory, not in the EU place NAL)."""

from __future__ import annotations

import pytest
import rdflib

from ckanext.communes.tests.dcat.conftest import (
    create_dataset,
    dataset_graph,
    full_fields,
    minimal_fields,
    several_resources_fields,
    shacl_violations,
)

pytestmark = pytest.mark.usefixtures("clean_db", "clean_index")

SHAPE_SETS = ("single", "split")


def assert_valid(graph: rdflib.Graph) -> None:
    for kind in SHAPE_SETS:
        conforms, violations, report = shacl_violations(graph, kind)
        assert conforms and violations == 0, f"shapes {kind}: {violations} violation(s)\n{report}"


@pytest.mark.parametrize(
    "make_fields", [minimal_fields, full_fields, several_resources_fields], ids=["minimal", "full", "several"]
)
def test_dataset_turtle_has_no_dcat_ap_3_violation(app, sysadmin, bron, make_fields):
    dataset = create_dataset(sysadmin, **make_fields(bron))
    assert_valid(dataset_graph(app, dataset["id"]))


def test_commune_catalogue_turtle_has_no_dcat_ap_3_violation(app, sysadmin, bron):
    for make_fields in (minimal_fields, full_fields, several_resources_fields):
        create_dataset(sysadmin, **make_fields(bron))
    response = app.get("/communes/69029/catalog.ttl", status=200)
    graph = rdflib.Graph().parse(data=response.body, format="turtle")
    assert len(list(graph.subjects(rdflib.RDF.type, rdflib.URIRef("http://www.w3.org/ns/dcat#Dataset")))) == 3
    assert_valid(graph)


def test_portal_catalogue_turtle_has_no_dcat_ap_3_violation(app, sysadmin, bron):
    create_dataset(sysadmin, **full_fields(bron))
    response = app.get("/catalog.ttl", status=200)
    assert_valid(rdflib.Graph().parse(data=response.body, format="turtle"))
