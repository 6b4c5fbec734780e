"""The RDF of representative datasets, of a commune catalogue and of /catalog validates against the
official DCAT-AP 3.0.1 shapes and the controlled-vocabulary (mdr) shapes with zero violations, both
as a consumer receives it (self-contained: every concept states its scheme) and with NAL membership
taken from the OFFICIAL EU vocabulary files only, so that a URI the NAL does not have fails."""

from __future__ import annotations

import pytest
import rdflib
from rdflib.namespace import RDF

from ckanext.communes.tests.dcat.conftest import (
    create_dataset,
    dataset_graph,
    full_fields,
    minimal_fields,
    several_resources_fields,
    shacl_violations,
    unknown_eu_concepts,
)
from ckanext.communes.tests.shared import CSV, EU

pytestmark = pytest.mark.usefixtures("clean_db", "clean_index")

SHAPE_SETS = ("single", "split")
DCAT_DATASET = rdflib.URIRef("http://www.w3.org/ns/dcat#Dataset")


def assert_valid(graph: rdflib.Graph) -> None:
    assert not unknown_eu_concepts(graph), unknown_eu_concepts(graph)
    for kind in SHAPE_SETS:
        for vocabularies in ("official", "self"):
            conforms, violations, report = shacl_violations(graph, kind, vocabularies)
            assert conforms and violations == 0, f"shapes {kind}, {vocabularies}: {violations} violation(s)\n{report}"


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
    assert len(list(graph.subjects(RDF.type, DCAT_DATASET))) == 3
    assert_valid(graph)


def test_portal_catalogue_turtle_has_no_dcat_ap_3_violation(app, sysadmin, bron):
    create_dataset(sysadmin, **full_fields(bron))
    create_dataset(sysadmin, **several_resources_fields(bron))
    response = app.get("/catalog.ttl", status=200)
    graph = rdflib.Graph().parse(data=response.body, format="turtle")
    assert len(list(graph.subjects(RDF.type, DCAT_DATASET))) == 2
    assert_valid(graph)


def test_a_file_type_uri_the_nal_does_not_have_is_a_violation(app, sysadmin, bron):
    """The check bites: our own output with CSV mistyped (and still claiming the file-type scheme)
    passes the self-contained check but not the one against the official NAL files."""
    dataset = create_dataset(sysadmin, **several_resources_fields(bron))
    graph = dataset_graph(app, dataset["id"])
    typo = rdflib.URIRef(f"{EU}/file-type/CVS")
    for s, p, o in list(graph):
        if rdflib.URIRef(CSV) in (s, o):
            graph.remove((s, p, o))
            graph.add((typo if s == rdflib.URIRef(CSV) else s, p, typo if o == rdflib.URIRef(CSV) else o))
    assert unknown_eu_concepts(graph) == {str(typo)}
    assert shacl_violations(graph, "single", "self")[1] == 0
    conforms, violations, _ = shacl_violations(graph, "single", "official")
    assert not conforms and violations >= 1


def test_what_the_mqa_counts_on_distributions_adds_no_violation(app, sysadmin, bron, create_with_upload):
    """An upload (download URL, size, last_modified), a link whose size the link checker measured, a media type
    normalised to its registered spelling and one left out (dcat/distribution.py)."""
    import datetime as dt

    from ckan import model

    from ckanext.communes.quality import link_probe, linkcheck

    fields = minimal_fields(bron)
    fields["resources"] = [
        {"url": "https://data.ville-bron.fr/budget.csv", "name": "Budget", "format": "CSV"},
        {"url": "https://data.ville-bron.fr/a", "name": "Archive", "format": "GZIP", "mimetype": "application/x-gzip"},
        {"url": "https://data.ville-bron.fr/flux", "name": "Flux", "format": "RSS", "mimetype": "application/rss+xml"},
    ]
    dataset = create_dataset(sysadmin, **fields)
    create_with_upload("nom\nStade\n", "stades.csv", package_id=dataset["id"], name="Déposé",
                       context={"user": sysadmin["name"]})
    linkcheck.store(dataset["id"], dataset["resources"][0]["id"], "https://data.ville-bron.fr/budget.csv",
                    link_probe.Outcome(ok=True, status=200, size=4096), dt.datetime(2026, 1, 5))
    model.Session.commit()
    graph = dataset_graph(app, dataset["id"])
    assert len(list(graph.objects(None, rdflib.URIRef("http://www.w3.org/ns/dcat#downloadURL")))) == 4
    assert len(list(graph.objects(None, rdflib.URIRef("http://www.w3.org/ns/dcat#byteSize")))) == 2
    assert_valid(graph)
