"""The publisher and the commune facet follow the owner organisation and its current profile: after a
dataset moves (package_owner_org_update), and after an operator corrects a commune's identity. A
derived value, not an edit: no activity, metadata_modified unchanged. Many datasets: a background job."""

from __future__ import annotations

import pytest
from ckan.tests import factories, helpers

from ckanext.communes.schema import owner_sync
from ckanext.communes.tests.shared import BRON, ENVI

pytestmark = pytest.mark.usefixtures("clean_db", "clean_index")

VILLEURBANNE = {"name": "villeurbanne", "title": "Villeurbanne", "insee_code": "69266", "siren": "216902668",
                "kind": "commune", "official_name": "Commune de Villeurbanne"}


def _dataset(org_id: str, name: str) -> dict:
    user = helpers.call_action("get_site_user", context={"ignore_auth": True})["name"]
    return helpers.call_action("package_create", context={"user": user}, name=name, title=name,
                               notes="Un jeu.", theme=[ENVI], owner_org=org_id, license_id="etalab-2.0")


def _indexed_commune(name: str) -> list[str]:
    [result] = helpers.call_action("package_search", fq=f"name:{name}", fl="name,vocab_commune")["results"]
    return result["vocab_commune"]


def _activity_count(dataset_id: str) -> int:
    return len(helpers.call_action("package_activity_list", id=dataset_id))


@pytest.fixture
def communes(sysadmin):
    return {"bron": factories.Organization(user=sysadmin, **BRON),
            "villeurbanne": factories.Organization(user=sysadmin, **VILLEURBANNE)}


def test_a_moved_dataset_takes_the_new_communes_publisher_and_facet(communes, sysadmin):
    dataset = _dataset(communes["bron"]["id"], "arbres")
    assert dataset["publisher"][0]["identifier"] == "216900290"
    assert _indexed_commune("arbres") == ["69029"]
    activities = _activity_count(dataset["id"])

    helpers.call_action("package_owner_org_update", context={"user": sysadmin["name"]}, id=dataset["id"],
                        organization_id=communes["villeurbanne"]["id"])

    shown = helpers.call_action("package_show", id=dataset["id"])
    assert shown["publisher"][0]["identifier"] == "216902668"
    assert shown["publisher"][0]["name"] == "Commune de Villeurbanne"
    assert shown["publisher"][0]["uri"].endswith("/communes/69266")
    assert _indexed_commune("arbres") == ["69266"]
    # The search results (Solr's copy) say the same.
    [found] = helpers.call_action("package_search", fq="name:arbres")["results"]
    assert found["publisher"][0]["identifier"] == "216902668"
    assert shown["metadata_modified"] == dataset["metadata_modified"]
    assert _activity_count(dataset["id"]) == activities


def test_an_operators_correction_of_the_official_name_and_siren_reaches_the_datasets(communes, sysadmin):
    first = _dataset(communes["bron"]["id"], "arbres")
    _dataset(communes["bron"]["id"], "bancs")
    helpers.call_action("organization_patch", context={"user": sysadmin["name"]}, id="bron",
                        official_name="Ville de Bron", siren="216900332")
    for name in ("arbres", "bancs"):
        publisher = helpers.call_action("package_show", id=name)["publisher"][0]
        assert (publisher["name"], publisher["identifier"]) == ("Ville de Bron", "216900332")
        [found] = helpers.call_action("package_search", fq=f"name:{name}")["results"]
        assert found["publisher"][0]["name"] == "Ville de Bron"
    assert helpers.call_action("package_show", id="arbres")["metadata_modified"] == first["metadata_modified"]


def test_a_corrected_insee_code_moves_the_commune_facet(communes, sysadmin):
    _dataset(communes["bron"]["id"], "arbres")
    helpers.call_action("organization_patch", context={"user": sysadmin["name"]}, id="bron", insee_code="69033")
    assert _indexed_commune("arbres") == ["69033"]


def test_an_edit_that_changes_no_identity_field_does_not_touch_the_datasets(communes, sysadmin, monkeypatch):
    _dataset(communes["bron"]["id"], "arbres")
    calls: list[str] = []
    monkeypatch.setattr(owner_sync, "schedule_organisation_sync", lambda org_id: calls.append(org_id))
    helpers.call_action("organization_patch", context={"user": sysadmin["name"]}, id="bron",
                        referent_name="Nouveau référent")
    assert calls == []
    helpers.call_action("organization_patch", context={"user": sysadmin["name"]}, id="bron",
                        official_name="Ville de Bron")
    assert calls == [communes["bron"]["id"]]


def test_a_commune_with_many_datasets_is_synced_by_a_background_job(communes, sysadmin, ckan_config, monkeypatch):
    """Above ckanext.communes.owner_sync_inline_max, the operator's save returns at once and a job on
    CKAN's queue (real Redis, run here by a burst worker) brings the datasets in step."""
    from ckan.lib import jobs

    monkeypatch.setitem(ckan_config, owner_sync.INLINE_MAX_OPTION, "2")
    for index in range(3):
        _dataset(communes["bron"]["id"], f"jeu-{index}")
    jobs.get_queue().empty()
    helpers.call_action("organization_patch", context={"user": sysadmin["name"]}, id="bron",
                        official_name="Ville de Bron")
    # Not yet: the job is queued.
    assert helpers.call_action("package_show", id="jeu-0")["publisher"][0]["name"] == "Commune de Bron"
    [job] = jobs.get_queue().jobs
    assert job.func_name.endswith("sync_organisation")
    jobs.Worker().work(burst=True)
    for index in range(3):
        assert helpers.call_action("package_show", id=f"jeu-{index}")["publisher"][0]["name"] == "Ville de Bron"
