"""The bilan when the portal changes (each test builds the portal of conftest.py for itself): the
convention windows at their boundaries, harvested datasets as our harvesters import them, and the cache,
answered until a dataset is indexed or deleted (or a snapshot taken), never after."""

from __future__ import annotations

import datetime as dt
from typing import Any

import ckan.plugins.toolkit as tk
import pytest
from ckan.lib import search
from ckan.lib.search.common import make_connection
from ckan.tests import helpers

from ckanext.communes.bilan import cache, indexing, indicators
from ckanext.communes.tests.bilan.conftest import TODAY, dataset, mark_harvested, set_created


def rows_by_key(bilan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["key"]: row for row in bilan["rows"]}


def test_only_the_convention_windows_bound_before_and_after(portal):
    """A year before the signature [signed - 365 days, signed), a year after [signed, signed + 365 days)."""
    ids = portal["ids"]
    # Bron signed 2024-06-01: its year before starts 2023-06-02, its year after ends 2025-06-01 (excluded).
    for short, when in (("b1", dt.datetime(2023, 6, 1, 23, 59)), ("b2", dt.datetime(2023, 6, 2, 0, 0)),
                        ("b3", dt.datetime(2024, 5, 31, 23, 59))):
        set_created(ids[short], when)
        search.rebuild(ids[short])
    row = rows_by_key(indicators.compute(today=TODAY))["69029"]
    assert row["details"]["before_after"] == {"datasets_before": 2, "datasets_after": 0, "quality_before": 50.0,
                                              "quality_after": None}
    for short, when in (("b1", dt.datetime(2024, 6, 1, 0, 0)), ("b2", dt.datetime(2025, 5, 31, 23, 59)),
                        ("b3", dt.datetime(2025, 6, 1, 0, 0))):
        set_created(ids[short], when)
        search.rebuild(ids[short])
    row = rows_by_key(indicators.compute(today=TODAY))["69029"]
    assert row["details"]["before_after"] == {"datasets_before": 0, "datasets_after": 2, "quality_before": None,
                                              "quality_after": 62.5}


def test_a_dataset_being_imported_by_our_harvester_is_indexed_as_harvested(portal):
    """Our harvesters flag the harvest object current after package_create: the object being imported counts."""
    package_id = portal["ids"]["g1"]
    mark_harvested(package_id, portal["sources"]["s1"], state="IMPORT", current=False)
    assert indexing.harvest_source_of(package_id) == portal["sources"]["s1"]
    search.rebuild(package_id)
    row = rows_by_key(indicators.compute(today=TODAY))["69096"]
    assert (row["values"]["datasets_manual"], row["values"]["datasets_harvested"]) == (0, 1)


def test_a_finished_object_no_longer_current_does_not_make_a_dataset_harvested(portal):
    mark_harvested(portal["ids"]["g1"], portal["sources"]["s1"], state="COMPLETE", current=False)
    assert indexing.harvest_source_of(portal["ids"]["g1"]) is None


def test_a_new_dataset_shows_at_once_although_the_bilan_is_cached(portal):
    before = rows_by_key(indicators.compute(today=TODAY))["69116"]["values"]["datasets"]
    helpers.call_action("package_create", context={"user": portal["sysadmin"]},
                        **dataset("limonest-1", "limonest", license_id="etalab-2.0"))
    after = rows_by_key(indicators.compute(today=TODAY))["69116"]["values"]
    assert (before, after["datasets"], after["obliged_without_data"]) == (0, 1, False)


def test_updated_and_deleted_datasets_show_at_once_although_the_bilan_is_cached(portal):
    sysadmin, ids = portal["sysadmin"], portal["ids"]
    assert rows_by_key(indicators.compute(today=TODAY))["69096"]["values"]["licence_compliant_share"] == 1.0
    helpers.call_action("package_patch", context={"user": sysadmin, "communes_harvest": True}, id=ids["g1"],
                        license_id="CC-BY-4.0")
    assert rows_by_key(indicators.compute(today=TODAY))["69096"]["values"]["licence_compliant_share"] == 0.0
    helpers.call_action("package_delete", context={"user": sysadmin}, id=ids["g1"])
    assert rows_by_key(indicators.compute(today=TODAY))["69096"]["values"]["datasets"] == 0


def test_the_cache_answers_until_the_generation_is_bumped(portal):
    """A document written to Solr behind CKAN's back is not seen while the cached bilan lasts."""
    first = indicators.compute(today=TODAY)
    generation = cache.generation()
    connection = make_connection()
    doc = {"index_id": "bilan-cache-probe", "id": "bilan-cache-probe", "site_id": tk.config["ckan.site_id"],
           "entity_type": "package", "dataset_type": "dataset", "state": "active", "capacity": "public",
           "vocab_commune": ["69116"], "metadata_created": "2025-01-01T00:00:00Z", "name": "probe"}
    connection.add([doc], commit=True)
    try:
        cached = indicators.compute(today=TODAY)
        assert cache.generation() == generation
        assert cached == first
        assert rows_by_key(cached)["69116"]["values"]["datasets"] == 0
        cache.bump()
        assert rows_by_key(indicators.compute(today=TODAY))["69116"]["values"]["datasets"] == 1
    finally:
        connection.delete(id="bilan-cache-probe", commit=True)


@pytest.mark.ckan_config("ckanext.communes.bilan.cache_seconds", "0")
def test_a_cache_time_of_zero_computes_every_time(portal):
    indicators.compute(today=TODAY)
    connection = make_connection()
    connection.add([{"index_id": "probe-0", "id": "probe-0", "site_id": tk.config["ckan.site_id"],
                     "entity_type": "package", "dataset_type": "dataset", "state": "active", "capacity": "public",
                     "vocab_commune": ["69116"], "name": "probe-0"}], commit=True)
    try:
        assert rows_by_key(indicators.compute(today=TODAY))["69116"]["values"]["datasets"] == 1
    finally:
        connection.delete(id="probe-0", commit=True)


def test_datasets_our_dcat_harvester_imports_count_as_harvested_at_once(clean_db, clean_index, tmp_path,
                                                                         source_server, allow_private_addresses):
    """Through a real harvest (the harvest tests' DCAT catalogue): no reindex needed afterwards."""
    from ckan.tests import factories

    from ckanext.communes.communes import seeding
    from ckanext.communes.harvesters import jobs
    from ckanext.communes.tests.communes.conftest import FEW, write_communes_csv
    from ckanext.communes.tests.harvesters.test_dcat_harvest import make_source, serve_catalogue

    seeding.seed(path=str(write_communes_csv(tmp_path / "communes.csv", FEW + ("69266",))))
    source = make_source({"sysadmin": factories.Sysadmin()}, serve_catalogue(source_server))
    assert jobs.run_source(source["id"])["status"] == "Finished"
    rows = rows_by_key(indicators.compute(today=TODAY))
    for insee in ("69029", "69149", "69123", "69266"):  # Bron, Oullins-Pierre-Bénite, Lyon (5th), Villeurbanne
        values = rows[insee]["values"]
        assert (values["datasets"], values["datasets_manual"], values["datasets_harvested"]) == (1, 0, 1)
        assert rows[insee]["details"]["by_source"] == [{"source": source["id"], "title": "Catalogue", "count": 1}]


def test_a_commune_changing_partner_status_shows_at_once_although_the_bilan_is_cached(portal):
    """The figures group communes by the organisation's programme fields: an operator's edit of them
    must not wait for the cache to expire."""
    before = rows_by_key(indicators.compute(group_by="phase", today=TODAY))
    phase2_before = before["phase2"]["communes"]
    helpers.call_action("organization_patch", context={"user": portal["sysadmin"]}, id="grigny-sur-rhone",
                        partner_status="phase2")
    after = rows_by_key(indicators.compute(group_by="phase", today=TODAY))
    assert after["phase2"]["communes"] == phase2_before + 1
    assert rows_by_key(indicators.compute(today=TODAY))["69096"]["partner_status"] == "phase2"
