"""data.europa.eu's Metadata Quality Assessment (quality/mqa_facts.py, quality/mqa.py): a fixture catalogue
(data/mqa/catalogue.ttl) whose MQA is computed by hand below, indicator by indicator, per dataset and for
the catalogue; the method file's sums; the rating thresholds."""

from __future__ import annotations

import os
from typing import Any

import pytest
import rdflib

from ckanext.communes.quality import mqa, mqa_facts

CATALOGUE = os.path.join(os.path.dirname(__file__), "data", "mqa", "catalogue.ttl")
BASE = "https://portail.example/dataset/"
DATASETS = {"a": ["a1", "a2"], "b": ["b1"], "d": []}
# The link checker's stored results: a1 and b1 answered at their access URL, a2 is broken.
LINKS = {
    "a": {"a1": ("https://donnees.example/a1.csv", True), "a2": ("https://donnees.example/a2", False)},
    "b": {"b1": ("https://donnees.example/b1.xls", True)},
    "d": {},
}
# Dataset conformity to DCAT-AP (the stored SHACL result).
CONFORMS = {"a": True, "b": False, "d": True}
THIRD = 1 / 3

# By hand, the catalogue (datasets A, B, D; distributions A1, A2, B1; dataset C pending: no facts stored).
CATALOGUE_POINTS = {
    # Findability: keywords A B D 3/3; themes A B 2/3; spatial A 1/3; temporal A 1/3.
    "keyword": 30, "theme": 20, "spatial": 20 * THIRD, "temporal": 20 * THIRD,
    # Accessibility: access URL answered A1 B1 (A2 broken) 2/3; download URL A1 B1 2/3; download URL answered
    # A1 only (B1's download URL is not the checked URL: pending, not met) 1/3.
    "access_url_ok": 50 * 2 * THIRD, "download_url": 20 * 2 * THIRD, "download_url_ok": 10,
    # Interoperability: format 3/3; media type A1 B1 2/3; both from vocabularies A1 B1 2/3; non-proprietary
    # CSV HTML (not XLS) 2/3; machine-readable CSV XLS (not HTML) 2/3; DCAT-AP A D 2/3.
    "format": 20, "media_type": 10 * 2 * THIRD, "format_media_type_vocabulary": 10 * 2 * THIRD,
    "non_proprietary": 20 * 2 * THIRD, "machine_readable": 20 * 2 * THIRD, "dcat_ap_compliance": 20,
    # Reusability: licence 3/3; EU licence A1 B1 2/3; access rights A B 2/3; from the EU list A 1/3;
    # contact point A 1/3; publisher A B 2/3.
    "licence": 20, "licence_vocabulary": 10 * 2 * THIRD, "access_rights": 10 * 2 * THIRD,
    "access_rights_vocabulary": 5 * THIRD, "contact_point": 20 * THIRD, "publisher": 10 * 2 * THIRD,
    # Contextuality: rights A1 1/3; byte size A1 B1 2/3; issued A1 A2 2/3; modified A1 B1 2/3.
    "rights": 5 * THIRD, "byte_size": 5 * 2 * THIRD, "issued": 5 * 2 * THIRD, "modified": 5 * 2 * THIRD,
}
CATALOGUE_DIMENSIONS = {"findability": 190 / 3, "accessibility": 170 / 3, "interoperability": 80,
                        "reusability": 145 / 3, "contextuality": 35 / 3}

# By hand, dataset A alone (distributions A1, A2).
DATASET_A_POINTS = {
    "keyword": 30, "theme": 30, "spatial": 20, "temporal": 20,
    "access_url_ok": 25, "download_url": 10, "download_url_ok": 15,
    "format": 20, "media_type": 5, "format_media_type_vocabulary": 5, "non_proprietary": 20,
    "machine_readable": 10, "dcat_ap_compliance": 30,
    "licence": 20, "licence_vocabulary": 5, "access_rights": 10, "access_rights_vocabulary": 5,
    "contact_point": 20, "publisher": 10,
    "rights": 2.5, "byte_size": 2.5, "issued": 5, "modified": 2.5,
}


def _pkg_dict(name: str) -> dict[str, Any]:
    return {"id": name, "uri": BASE + name,
            "resources": [{"id": rid, "uri": f"{BASE}{name}/resource/{rid}"} for rid in DATASETS[name]]}


def _evidence(names: list[str]) -> list[mqa.DatasetEvidence]:
    graph = rdflib.Graph().parse(CATALOGUE, format="turtle")
    return [mqa.DatasetEvidence(name, mqa_facts.facts_from_graph(graph, _pkg_dict(name)), CONFORMS[name],
                                dict(LINKS[name])) for name in names]


def _points(result: dict[str, Any]) -> dict[str, float]:
    return {i["name"]: i["points"] for d in result["dimensions"] for i in d["indicators"]}


def test_the_fixture_catalogues_mqa_equals_the_one_computed_by_hand():
    pending = mqa.DatasetEvidence("c", None)  # checked before the MQA existed: no facts
    result = mqa.assess([*_evidence(["a", "b", "d"]), pending])
    assert _points(result) == pytest.approx(CATALOGUE_POINTS)
    assert {d["name"]: d["points"] for d in result["dimensions"]} == pytest.approx(CATALOGUE_DIMENSIONS)
    assert (result["datasets"], result["distributions"], result["pending"]) == (3, 3, 1)
    assert result["points"] == pytest.approx(260)
    assert (result["max"], result["rating"], result["rating_label"]) == (405, "good", "Bon")
    download_ok = next(i for d in result["dimensions"] for i in d["indicators"] if i["name"] == "download_url_ok")
    assert (download_ok["met"], download_ok["total"], download_ok["pending"]) == (1, 3, 1)


def test_a_datasets_mqa_equals_the_one_computed_by_hand():
    result = mqa.assess(_evidence(["a"]))
    assert _points(result) == pytest.approx(DATASET_A_POINTS)
    assert result["points"] == pytest.approx(322.5)
    assert (result["rating"], result["rating_label"]) == ("good", "Bon")


def test_the_missed_points_come_largest_first_with_french_advice():
    result = mqa.assess(_evidence(["a"]))
    lost = [(i["name"], i["weight"] - i["points"]) for i in result["missed"]]
    assert lost == [("access_url_ok", 25), ("download_url_ok", 15), ("download_url", 10),
                    ("machine_readable", 10), ("format_media_type_vocabulary", 5), ("licence_vocabulary", 5),
                    ("media_type", 5), ("byte_size", 2.5), ("modified", 2.5), ("rights", 2.5)]
    assert all(i["advice"] and i["label"] for i in result["missed"])


def test_nothing_assessed_has_no_rating():
    result = mqa.assess([mqa.DatasetEvidence("c", None)])
    assert (result["datasets"], result["pending"], result["points"], result["rating"]) == (0, 1, 0, None)


@pytest.mark.parametrize(("points", "rating"), [
    (405, "excellent"), (351, "excellent"), (350.4, "good"), (221, "good"), (220, "sufficient"),
    (121, "sufficient"), (120, "bad"), (0, "bad")])
def test_the_rating_thresholds_are_data_europa_eus(points, rating):
    assert mqa.rating(points)["name"] == rating


def test_the_method_file_sums_to_405_with_its_dimensions_maxima():
    dimensions = {d["name"]: sum(i["weight"] for i in d["indicators"]) for d in mqa.method()["dimensions"]}
    assert dimensions == {"findability": 100, "accessibility": 100, "interoperability": 110,
                          "reusability": 75, "contextuality": 20}
    assert len(mqa.indicator_list()) == 23


def test_an_uploaded_file_answers_without_a_link_check_and_a_remote_link_waits_for_its_own():
    facts = {"dataset": {}, "distributions": [
        {"resource_id": "up", "upload": True, "access_url": "https://portail.example/f.csv",
         "download_url": "https://portail.example/f.csv"},
        {"resource_id": "remote", "upload": False, "access_url": "https://donnees.example/g.csv",
         "download_url": None}]}
    result = mqa.assess([mqa.DatasetEvidence("e", facts, True, {})])
    points = _points(result)
    # The upload is served by the portal: both its URLs answer; the remote link, never checked, is not counted
    # as answering and is said to wait.
    assert (points["access_url_ok"], points["download_url"], points["download_url_ok"]) == (25, 10, 15)
    access = next(i for i in result["missed"] if i["name"] == "access_url_ok")
    assert (access["met"], access["total"], access["pending"]) == (1, 2, 1)


def test_adding_a_download_url_to_a_graph_raises_accessibility_by_its_share_of_the_weights():
    graph = rdflib.Graph().parse(CATALOGUE, format="turtle")
    before = mqa.assess([mqa.DatasetEvidence("a", mqa_facts.facts_from_graph(graph, _pkg_dict("a")), True,
                                             dict(LINKS["a"], a2=("https://donnees.example/a2", True)))])
    graph.add((rdflib.URIRef(f"{BASE}a/resource/a2"), rdflib.URIRef("http://www.w3.org/ns/dcat#downloadURL"),
               rdflib.URIRef("https://donnees.example/a2")))
    after = mqa.assess([mqa.DatasetEvidence("a", mqa_facts.facts_from_graph(graph, _pkg_dict("a")), True,
                                            dict(LINKS["a"], a2=("https://donnees.example/a2", True)))])
    accessibility = [next(d["points"] for d in r["dimensions"] if d["name"] == "accessibility")
                     for r in (before, after)]
    # One of two distributions gains a download URL (20 / 2) that answers (30 / 2).
    assert accessibility[1] - accessibility[0] == pytest.approx(25)
