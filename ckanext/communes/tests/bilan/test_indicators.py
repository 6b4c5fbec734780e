"""The bilan's indicators on the seeded portal of conftest.py, against the figures computed by hand in
expected.py: every indicator of every commune that has an organisation (and of communes that have none),
every group, the details (sources, missed criteria, SCDL, months, histogram, convention, before/after),
the bulk computation (one Solr request), and the cache and its invalidation."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from ckan import model
from ckan.tests import helpers

from ckanext.communes.bilan import indexing, indicators
from ckanext.communes.tests.bilan import expected
from ckanext.communes.tests.bilan.conftest import TODAY

SUBVENTIONS, DELIBERATIONS = "scdl/subventions", "scdl/deliberations"


def rows_by_key(bilan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["key"]: row for row in bilan["rows"]}


@pytest.fixture
def communes_bilan(shared_portal, with_request_context) -> dict[str, Any]:
    """Built in a request, as the page and the API build it: labels in the portal's language (French)."""
    return indicators.build(TODAY)


@pytest.fixture
def by_commune(shared_portal, communes_bilan) -> dict[str, dict[str, Any]]:
    return {row["key"]: row for row in communes_bilan["communes"]}


@pytest.fixture
def by_group(shared_portal, communes_bilan) -> dict[str, dict[str, Any]]:
    return {row["key"]: row for row in communes_bilan["groups"]}


def test_each_dataset_of_the_portal_has_the_score_computed_by_hand(shared_portal):
    scores = {short: helpers.call_action("package_show", id=shared_portal["ids"][short])["quality"]["score"]
              for short in expected.SCORES}
    assert scores == expected.SCORES


def test_the_bilan_has_one_row_per_commune_of_the_registry_in_insee_order(communes_bilan):
    keys = [row["key"] for row in communes_bilan["communes"]]
    assert len(keys) == 58
    assert keys == sorted(keys)
    assert keys[0] == "69003" and keys[-1] == "69296"


@pytest.mark.parametrize("insee", list(expected.COMMUNE_VALUES))
def test_every_indicator_of_a_commune_is_the_hand_computed_value(by_commune, insee):
    row = by_commune[insee]
    assert row["values"] == expected.COMMUNE_VALUES[insee]
    assert row["kind"] == "commune"
    assert row["partner_status"] == expected.PARTNER_STATUS[insee]
    assert row["obliged"] is expected.OBLIGED[insee]


def test_an_obliged_commune_with_no_dataset_stands_out_and_others_do_not(by_commune):
    flagged = {key for key, row in by_commune.items() if row["values"]["obliged_without_data"]}
    assert "69116" in flagged  # Limonest: 3,933 inhabitants, agents unknown, nothing published
    assert "69149" not in flagged  # Oullins-Pierre-Bénite: 40 agents, not obliged
    assert "69033" not in flagged  # Cailloux-sur-Fontaines: 2,951 inhabitants
    assert "69029" not in flagged  # Bron publishes
    assert len(flagged) == 40
    assert by_commune["69116"]["obligation"] == "probably_obliged"
    assert by_commune["69029"]["obligation"] == "obliged"


def test_a_commune_row_names_its_organisation_when_it_has_one(by_commune):
    assert by_commune["69029"]["organization"] == "bron"
    assert by_commune["69040"]["organization"] is None
    assert by_commune["69040"]["name"] == "Champagne-au-Mont-d'Or"


@pytest.mark.parametrize("group", list(expected.GROUP_VALUES))
def test_every_indicator_of_a_group_is_the_hand_computed_value(by_group, group):
    row = by_group[group]
    assert row["values"] == expected.GROUP_VALUES[group]
    assert (row["communes"], row["obliged"]) == expected.GROUP_SIZES[group]
    assert row["kind"] == "group"


def test_groups_come_in_phase_order_and_partition_the_communes(communes_bilan, by_group):
    assert [row["key"] for row in communes_bilan["groups"]] == [
        "phase1", "phase2", "generalisation", "non_partner", "all_communes"]
    members = [set(by_group[key]["members"]) for key in ("phase1", "phase2", "generalisation", "non_partner")]
    assert sum(len(m) for m in members) == 58
    assert set().union(*members) == set(by_group["all_communes"]["members"])
    assert set(by_group["phase1"]["members"]) == {"69029", "69040", "69123", "69194", "69256", "69283", "69286"}
    assert "69003" in by_group["non_partner"]["members"]  # a candidate is not a partner yet


def test_details_of_a_commune_are_its_sources_missed_criteria_scdl_months_and_histogram(by_commune, shared_portal):
    details = by_commune["69029"]["details"]
    assert details["by_source"] == [
        {"source": "manual", "title": "Publiés à la main", "count": 2},
        {"source": shared_portal["sources"]["s1"], "title": "Portail de Bron", "count": 1}]
    assert [(m["criterion"], m["count"]) for m in details["missed_criteria"]] == [
        ("shacl", 3), ("temporal", 3), ("contact", 3), ("frequency", 2), ("links", 2),
        ("licence", 1), ("scdl", 1)]
    assert details["missed_criteria"][0]["label"] == "Conforme aux formes SHACL DCAT-AP 3.0.1"
    assert details["scdl_published"] == [
        {"schema": DELIBERATIONS, "label": "Délibérations", "datasets": 1, "valid": 0},
        {"schema": SUBVENTIONS, "label": "Subventions", "datasets": 1, "valid": 1}]
    assert [entry["schema"] for entry in details["scdl_missing"]] == [
        code for code in expected.RELEVANT_SCDL if code not in (SUBVENTIONS, DELIBERATIONS)]
    assert details["per_month"] == [{"month": "2024-03", "count": 1}, {"month": "2024-07", "count": 2}]
    assert details["quality_histogram"] == [0, 0, 0, 0, 1, 1, 0, 0, 1, 0]  # 45, 55, 80


def test_a_commune_without_anything_could_publish_every_scdl_schema_aimed_at_communes(by_commune):
    details = by_commune["69116"]["details"]
    assert [entry["schema"] for entry in details["scdl_missing"]] == expected.RELEVANT_SCDL
    assert details["by_source"] == [] and details["per_month"] == [] and details["missed_criteria"] == []
    assert details["quality_histogram"] == [0] * 10
    assert details["before_after"] is None
    assert details["convention"] == {"state": "none", "signed": None, "end": None, "days_left": None}


def test_convention_and_before_after_its_signature(by_commune):
    details = by_commune["69029"]["details"]
    assert details["convention"] == {"state": "active", "signed": "2024-06-01", "end": "2025-06-01", "days_left": 92}
    # Year before: B1 (2024-03-10, 80); year after: B2 and B3 (July 2024; 45 and 55).
    assert details["before_after"] == {"datasets_before": 1, "datasets_after": 2, "quality_before": 80.0,
                                       "quality_after": 50.0}


def test_details_of_groups_aggregate_their_communes(by_group, shared_portal):
    phase1 = by_group["phase1"]["details"]
    assert phase1["before_after"] == {"datasets_before": 1, "datasets_after": 2, "quality_before": 80.0,
                                      "quality_after": 50.0, "communes": 1}
    assert phase1["convention"]["states"] == {"active": 1, "none": 6}
    assert phase1["by_source"] == [
        {"source": "manual", "title": "Publiés à la main", "count": 2},
        {"source": shared_portal["sources"]["s2"], "title": "Data Grand Lyon", "count": 1},
        {"source": shared_portal["sources"]["s1"], "title": "Portail de Bron", "count": 1}]
    assert phase1["per_month"] == [{"month": "2023-01", "count": 1}, {"month": "2024-03", "count": 1},
                                   {"month": "2024-07", "count": 2}]
    # Subventions is published by Bron only: the 6 other pilots could; BAL by none of the 7.
    missing = {entry["schema"]: entry["communes"] for entry in phase1["scdl_missing"]}
    assert missing[SUBVENTIONS] == 6 and missing["etalab/schema-bal"] == 7
    assert by_group["phase2"]["details"]["before_after"] is None
    assert by_group["all_communes"]["details"]["quality_histogram"] == [0, 0, 0, 0, 2, 1, 1, 1, 1, 0]


def test_group_medians_are_over_their_communes(by_group):
    medians = by_group["phase1"]["medians"]
    # Seven pilots: datasets 3, 1, 0, 0, 0, 0, 0; quality means of Bron and Lyon only (60, 60).
    assert medians["datasets"] == 0
    assert medians["quality_mean"] == 60.0
    assert medians["quality_median"] == 57.5  # Bron 55, Lyon 60
    assert medians["licence_compliant_share"] == pytest.approx((0.6667 + 1.0) / 2, abs=1e-4)
    assert medians["convention_days_left"] == 92
    assert medians["links_ok_share"] == 0.5


def test_the_bilan_is_one_solr_request_and_a_few_sql_queries(shared_portal, monkeypatch):
    import pysolr
    import sqlalchemy as sa

    solr_requests: list[str] = []
    original = pysolr.Solr._select

    def counting_select(self: Any, params: dict[str, Any], handler: Any = None) -> Any:
        solr_requests.append(str(params.get("json.facet", ""))[:40])
        return original(self, params, handler) if handler else original(self, params)

    monkeypatch.setattr(pysolr.Solr, "_select", counting_select)
    statements: list[str] = []
    engine = model.meta.engine

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        indicators.build(TODAY)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert len(solr_requests) == 1
    # 6: the datasets waiting for their quality checks (issue #20); 7: the MQA's stored evidence (issue #25)
    assert len(statements) <= 7, statements


def test_compute_gives_the_contract_shape_for_each_grouping(shared_portal, with_request_context):
    communes = indicators.compute("commune", today=TODAY)
    phases = indicators.compute("phase", today=TODAY)
    assert set(communes) == {"generated_at", "pending_checks", "snapshot", "group_by", "indicators", "rows"}
    assert (communes["group_by"], communes["snapshot"], len(communes["rows"])) == ("commune", None, 58)
    assert [row["key"] for row in phases["rows"]] == list(expected.GROUP_VALUES)
    assert [item["key"] for item in communes["indicators"]] == list(expected.COMMUNE_VALUES["69029"])
    labels = {item["key"]: (item["label"], item["unit"]) for item in communes["indicators"]}
    assert labels["licence_compliant_share"] == ("Licence de la liste du CRPA (part)", "share")
    assert labels["first_published"][1] == "date"
    assert phases["rows"][0]["name"] == "Phase 1 (pilotes)"
    with pytest.raises(ValueError):
        indicators.compute("organisation")


@pytest.mark.parametrize(("scores", "mean", "median"), [
    ({}, None, None), ({40: 1}, 40.0, 40.0), ({40: 1, 50: 1}, 45.0, 45.0), ({40: 2, 75: 1}, 51.67, 40.0),
    ({10: 1, 20: 2, 90: 1}, 35.0, 20.0), ({0: 1, 100: 1}, 50.0, 50.0),
])
def test_mean_and_median_of_score_counts(scores, mean, median):
    assert indicators.quality_mean(scores.items()) == mean
    assert indicators.quality_median(scores) == median


def test_histogram_puts_100_with_the_nineties():
    assert indicators.histogram({0: 1, 9: 1, 10: 2, 99: 1, 100: 3}) == [2, 2, 0, 0, 0, 0, 0, 0, 0, 4]


def test_the_indexed_keys_say_what_the_bilan_counts():
    keys = indexing.bilan_keys({
        "quality_score": "065", "metadata_created": "2024-03-10T09:00:00Z", "license_id": "etalab-2.0",
        "vocab_frequency": ["ANNUAL"], "vocab_quality_missed": ["shacl", "scdl"],
        "vocab_scdl_schema": ["scdl/budget"], "communes_harvest_source": "src-1"})
    assert sorted(keys) == sorted(["missed:shacl", "missed:scdl", "score:065", "month:2024-03", "lic:etalab-2.0",
                                   "src:src-1", "freq", "freq_ok", "scdl", "scdl:scdl/budget"])
    assert indexing.bilan_keys({"vocab_frequency": ["UNKNOWN"], "vocab_quality_missed": ["frequency"]}) == [
        "missed:frequency"]


def test_a_commune_bucket_of_the_facet_is_read_into_its_counts():
    from ckanext.communes.bilan import facets

    keys = [("scdl", 2), ("scdl:scdl/budget", 2), ("scdl_ok", 1), ("scdl_ok:scdl/budget", 1), ("score:070", 2),
            ("score:045", 1), ("month:2024-03", 3), ("freq", 2), ("freq_ok", 1), ("lic:etalab-2.0", 3),
            ("src:s1", 1), ("missed:shacl", 3), ("missed:scdl", 1)]
    tally = facets.tally_of_bucket({"val": "69029", "count": 3, "first": "2024-03-10T09:00:00Z",
                                    "last": "2024-03-20T10:30:00Z",
                                    "keys": {"buckets": [{"val": val, "count": count} for val, count in keys]}})
    assert (tally.datasets, tally.first, tally.last) == (3, dt.datetime(2024, 3, 10, 9),
                                                         dt.datetime(2024, 3, 20, 10, 30))
    assert (tally.scdl_declared, tally.scdl_valid, tally.frequency_declared, tally.frequency_respected) == (2, 1, 2, 1)
    assert (dict(tally.scdl_schemas), dict(tally.scdl_valid_schemas)) == ({"scdl/budget": 2}, {"scdl/budget": 1})
    assert dict(tally.scores) == {70: 2, 45: 1} and dict(tally.months) == {"2024-03": 3}
    assert (dict(tally.licences), dict(tally.sources)) == ({"etalab-2.0": 3}, {"s1": 1})
    assert dict(tally.missed) == {"shacl": 3, "scdl": 1}
