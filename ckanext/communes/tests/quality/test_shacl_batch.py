"""The SHACL check of a batch (quality/shacl.py's validate_batch, run by background.py's drain): the batch's
graphs are validated as one, and what each dataset gets stored is exactly what a check of its graph alone
gives, whatever the nodes the datasets share (the commune's publisher node, a dataset URI written twice, a
node one dataset says more about)."""

from __future__ import annotations

from typing import Any

import pytest
import rdflib
from ckan import model
from ckan.tests import helpers
from rdflib.namespace import FOAF, RDF, SH

from ckanext.communes.quality import background, evidence, shacl
from ckanext.communes.tests.quality.test_score import dataset_fields

DCT = rdflib.Namespace("http://purl.org/dc/terms/")
DCAT = rdflib.Namespace("http://www.w3.org/ns/dcat#")


def _alone(package_id: str) -> shacl.ShaclResult:
    """What the check of the dataset alone gives, as before the batches: package_show, its graph, pyshacl."""
    return shacl.validate_dataset(helpers.call_action("package_show", id=package_id))


@pytest.mark.usefixtures("clean_db", "clean_index", "allow_private_addresses")
def test_a_batch_stores_for_each_dataset_what_its_check_alone_gives(sysadmin, bron, monkeypatch):
    # One commune: every dataset shares its publisher node (and the contact point, the concepts).
    fields = {
        "valide-1": {},
        "valide-2": {},
        # foaf:page must be an IRI: a violation on the dataset's own node.
        "documentation-invalide": {"documentation": ["voir la mairie"]},
        # Two datasets written with the same URI (a source that reuses its identifiers): one node in the
        # batch graph, which the invalid twin's violation reaches; the valid twin has none alone.
        "jumeau-invalide": {"uri": "https://data.ville-bron.fr/jeu/jumeau", "documentation": ["à la mairie"]},
        "jumeau-valide": {"uri": "https://data.ville-bron.fr/jeu/jumeau"},
    }
    ids = {name: helpers.call_action("package_create", context={"user": sysadmin["name"]},
                                     **dataset_fields(bron, name, **extra))["id"]
           for name, extra in fields.items()}
    alone = {name: _alone(package_id) for name, package_id in ids.items()}
    assert {name: result.conforms for name, result in alone.items()} == {
        "valide-1": True, "valide-2": True, "documentation-invalide": False, "jumeau-invalide": False,
        "jumeau-valide": True}

    checked_alone: list[str] = []
    real = shacl.validate_dataset

    def counted(pkg_dict: dict[str, Any]) -> shacl.ShaclResult:
        checked_alone.append(pkg_dict["name"])
        return real(pkg_dict)

    monkeypatch.setattr(shacl, "validate_dataset", counted)
    checked, failed, left = background.drain(size=10)
    assert (checked, failed, left) == (5, set(), False)
    model.Session.expire_all()
    for name, package_id in ids.items():
        row = evidence.shacl_row_for(package_id)
        assert (name, row.conforms, row.violations, row.messages) == (
            name, alone[name].conforms, alone[name].violations, alone[name].messages)
    # The valid datasets that share only identical nodes were not checked again alone: the batch graph
    # was enough for them.
    assert sorted(checked_alone) == ["documentation-invalide", "jumeau-invalide", "jumeau-valide"]


def test_a_dataset_valid_only_thanks_to_another_datasets_statements_is_checked_alone(monkeypatch):
    """Two datasets name the same publisher; one of them says its name, which the shapes require: in the
    batch graph the publisher has a name, alone the other's publisher has none."""
    publisher = rdflib.URIRef("https://example.org/editeur")
    shapes = rdflib.Graph()
    shape = rdflib.URIRef("https://example.org/formes#Agent")
    name_required = rdflib.BNode()
    shapes.add((shape, RDF.type, SH.NodeShape))
    shapes.add((shape, SH.targetClass, FOAF.Agent))
    shapes.add((shape, SH.property, name_required))
    shapes.add((name_required, SH.path, FOAF.name))
    shapes.add((name_required, SH.minCount, rdflib.Literal(1)))

    def graph(package_id: str, named: bool) -> rdflib.Graph:
        data = rdflib.Graph()
        dataset = rdflib.URIRef(f"https://example.org/jeu/{package_id}")
        data.add((dataset, RDF.type, DCAT.Dataset))
        data.add((dataset, DCT.publisher, publisher))
        data.add((publisher, RDF.type, FOAF.Agent))
        if named:
            data.add((publisher, FOAF.name, rdflib.Literal("Ville de Bron")))
        return data

    graphs = {"sans-nom": graph("sans-nom", False), "avec-nom": graph("avec-nom", True),
              "autre": graph("autre", True)}
    monkeypatch.setattr(shacl, "shapes_graph", lambda: shapes)
    monkeypatch.setattr(shacl, "dataset_graph", lambda pkg_dict: graphs[pkg_dict["id"]])

    results = shacl.validate_batch([{"id": package_id} for package_id in graphs])
    assert {package_id: (r.conforms, r.violations) for package_id, r in results.items()} == {
        "sans-nom": (False, 1), "avec-nom": (True, 0), "autre": (True, 0)}
    assert results["sans-nom"] == shacl.validate_graph(graphs["sans-nom"])


def test_blank_nodes_stated_alike_by_two_datasets_are_one_node_of_the_batch_but_never_within_one():
    """The commune's identifier, a blank node each dataset writes the same way, is one node of the batch
    graph; two blank nodes one dataset writes alike stay two (counting them would change)."""
    agent = rdflib.URIRef("https://example.org/editeur")
    adms = rdflib.Namespace("http://www.w3.org/ns/adms#")
    skos = rdflib.Namespace("http://www.w3.org/2004/02/skos/core#")

    def identified(*notations: str) -> rdflib.Graph:
        data = rdflib.Graph()
        for notation in notations:
            identifier = rdflib.BNode()
            data.add((agent, adms.identifier, identifier))
            data.add((identifier, skos.notation, rdflib.Literal(notation)))
        return data

    first, second = shacl._canonical(identified("216900290")), shacl._canonical(identified("216900290"))
    assert set(first) == set(second) and len(first) == 2
    assert len(shacl._canonical(identified("216900290", "69029"))) == 4
    with pytest.raises(shacl._NotCanonical):
        shacl._canonical(identified("216900290") + identified("216900290"))
