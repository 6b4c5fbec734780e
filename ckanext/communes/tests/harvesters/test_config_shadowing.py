"""No configuration key may be named like a field of the source's dict (issue #18).

ckanext-harvest's show schema copies every key of a source's configuration into the source's dict
(``harvest_source_convert_from_config``): udata's former ``organization`` key replaced the source's owner
organisation, and ``/harvest`` answered 500 to everyone who could see the source. The forbidden names are
derived from what makes the dict (base.source_dict_fields) and checked here against real dicts; a shadowing
key is refused at save with a French message naming it; udata's key is ``udata_organization`` now, the old
name still read from the configurations saved before, which ``ckan communes harvest migrate-config``
renames (idempotent)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

import pytest
from ckan import model
from ckan.tests import factories, helpers

from ckanext.communes.communes import seeding
from ckanext.communes.harvesters import base, jobs, udata
from ckanext.communes.harvesters.base import CommunesHarvester, ConfigError, source_dict_fields
from ckanext.communes.harvesters.config_migration import migrate_source_configs
from ckanext.communes.tests.communes.conftest import FEW, write_communes_csv
from ckanext.communes.tests.harvesters.test_udata_source import ORG_ID, RemoteUdata, fixture_datasets
from ckanext.harvest.model import HarvestSource

pytestmark = pytest.mark.usefixtures("clean_db", "clean_index")

# The README's example configuration of each source type.
README_CONFIGS = {
    "communes_dcat": {"rdf_format": "turtle", "max_withdraw_percent": 10,
                      "routing": {"SIVU de la Vallée": "69029", "Direction de l'eau": "metropole-de-lyon"}},
    "communes_ckan": {"fq": "organization:ville-de-bron", "priority": 10, "request_timeout": 15},
    "communes_ods": {"refine": ["publisher:Ville de Bron"], "where": "records_count > 0",
                     "exclude_datasets": ["donnees-de-test"]},
    "communes_udata": {"udata_organization": "ville-de-bron", "page_size": 50},
    "communes_csw": {"page_size": 100, "cql": "OrgName = 'Ville de Bron'", "username": "lyon-harvest",
                     "password": "…"},
}
# Fields every reader of a source's dict relies on, named in the issue.
NAMED_FIELDS = ("organization", "owner_org", "name", "title", "url", "type", "state", "private", "notes",
                "resources", "tags", "extras", "groups", "id", "source_type", "frequency", "config", "status")


def our_harvesters() -> list[CommunesHarvester]:
    found = [base.harvester_for(source_type) for source_type in README_CONFIGS]
    assert all(found), found
    return found  # type: ignore[return-value]


@pytest.fixture
def operator(tmp_path) -> dict[str, Any]:
    """A sysadmin, on a portal with the Métropole and a few communes (the README's routing names Bron)."""
    seeding.seed(path=str(write_communes_csv(tmp_path / "communes.csv", FEW)))
    return factories.Sysadmin()


def create_source(operator: dict[str, Any], source_type: str, config: dict[str, Any], name: str | None = None,
                  url: str | None = None, owner: str = "metropole-de-lyon") -> dict[str, Any]:
    name = name or source_type.replace("communes_", "source-")
    return helpers.call_action("harvest_source_create", context={"user": operator["name"]}, name=name,
                               title=f"Source {name}", url=url or f"https://data.example.org/{name}",
                               source_type=source_type, owner_org=owner, config=json.dumps(config))


# ------------------------------------------------------------------------------------ the forbidden names


def test_no_source_type_has_a_configuration_key_named_like_a_field_of_the_source():
    for harvester in our_harvesters():
        keys = {**harvester.common_config_keys(), **harvester.type_config_keys}
        assert not set(keys) & source_dict_fields(), harvester.source_type
        assert not set(harvester.renamed_config_keys.values()) & source_dict_fields()
    assert set(NAMED_FIELDS) <= source_dict_fields()


def test_the_forbidden_names_cover_every_field_of_a_real_source_dict(app, operator):
    """Derived from the schemas and tables, checked against what the portal really shows of a source of
    each type with the README's configuration: package_show, harvest_source_show, the search results that
    /harvest renders and harvest_source_list."""
    shown_keys: set[str] = set()
    for source_type, config in README_CONFIGS.items():
        source = create_source(operator, source_type, config)
        for action, data in (("package_show", {"id": source["id"]}), ("harvest_source_show", {"id": source["id"]})):
            shown = helpers.call_action(action, context={"user": operator["name"]}, **data)
            assert isinstance(shown["organization"], dict) and shown["organization"]["name"] == "metropole-de-lyon"
            shown_keys |= set(shown) - set(config)
        found = helpers.call_action("package_search", context={"user": operator["name"]}, fq="dataset_type:harvest",
                                    include_private=True)["results"]
        for result in found:
            shown_keys |= set(result) - set(json.loads(result.get("config") or "{}"))
    for listed in helpers.call_action("harvest_source_list", context={"user": operator["name"]}):
        shown_keys |= set(listed)
    assert shown_keys - source_dict_fields() == set()
    # And /harvest renders them (the page that answered 500).
    token = factories.APIToken(user=operator["name"])["token"]
    response = app.get("/harvest/", headers={"Authorization": token})
    assert response.status_code == 200
    assert all(f"/harvest/{t.replace('communes_', 'source-')}" in response.body for t in README_CONFIGS)


@pytest.mark.parametrize("field", NAMED_FIELDS)
def test_a_configuration_key_named_like_a_field_is_refused_for_every_type_naming_it(field):
    for harvester in our_harvesters():
        with pytest.raises(ConfigError) as raised:
            harvester.validate_config(json.dumps({field: "x"}))
        assert f'"{field}"' in str(raised.value), (harvester.source_type, str(raised.value))


@pytest.mark.parametrize("field, hint", [("organization", "udata_organization"), ("owner_org", "autre nom"),
                                         ("title", "autre nom"), ("url", "autre nom")])
def test_saving_a_source_with_a_shadowing_key_is_a_french_409_and_saves_nothing(app, operator, field, hint):
    token = factories.APIToken(user=operator["name"])["token"]
    response = app.post("/api/3/action/harvest_source_create", headers={"Authorization": token}, json={
        "name": "udata-bron", "title": "Bron sur data.gouv.fr", "url": "https://www.data.gouv.fr/",
        "source_type": "communes_udata", "owner_org": "bron", "config": json.dumps({field: "ville-de-bron"})})
    assert response.status_code == 409, response.json
    [message] = response.json["error"]["config"]
    assert f"« {field} »" in message and "champ de la source de moissonnage" in message, message
    assert hint in message
    assert model.Session.query(HarvestSource).count() == 0


def test_the_source_form_says_which_names_are_taken(app, operator):
    token = factories.APIToken(user=operator["name"])["token"]
    body = app.get("/harvest/new", headers={"Authorization": token}).body
    assert "udata_organization" in body and "ne peut pas porter le nom d'un champ de la source" in body
    assert '{&#34;organization&#34;' not in body and '{"organization"' not in body


# ------------------------------------------------------------------------------------ udata's renamed key


def test_udata_reads_its_former_key_but_refuses_to_save_it():
    harvester = udata.UdataHarvester()
    assert harvester.parse_config('{"organization": "sigerly", "page_size": 10}') == {
        "udata_organization": "sigerly", "page_size": 10}
    # The current name wins over the former one, as in the migration.
    assert harvester.parse_config('{"organization": "old", "udata_organization": "new"}') == {
        "udata_organization": "new"}
    assert harvester.validate_config('{"udata_organization": "sigerly"}')
    with pytest.raises(ConfigError) as raised:
        harvester.validate_config('{"organization": "sigerly"}')
    assert '"organization"' in str(raised.value) and '"udata_organization"' in str(raised.value)


def _save_as_before_the_fix(operator: dict[str, Any], url: str, config: dict[str, Any]) -> dict[str, Any]:
    """A udata source saved with the former key as the portal did before issue #18 (its validation then
    accepted it): stored config, source dict, activity and index as they were."""
    original = udata.UdataHarvester.validate_config
    udata.UdataHarvester.validate_config = lambda self, config: config  # type: ignore[method-assign]
    try:
        return create_source(operator, "communes_udata", config, name="udata-bron", url=url, owner="bron")
    finally:
        udata.UdataHarvester.validate_config = original  # type: ignore[method-assign]


@pytest.mark.usefixtures("allow_private_addresses")
def test_a_source_saved_with_the_former_key_harvests_the_same_organisation_before_and_after_the_migration(
        app, operator, source_server):
    remote = RemoteUdata(source_server, fixture_datasets(source_server))
    source_server.serve("/api/1/organizations/ville-de-bron/",
                        json.dumps({"id": ORG_ID, "slug": "ville-de-bron", "name": "Ville de Bron"}),
                        content_type="application/json")
    source = _save_as_before_the_fix(operator, source_server.url("/"), {"organization": "ville-de-bron",
                                                                        "page_size": 50})
    token = factories.APIToken(user=operator["name"])["token"]
    shown = helpers.call_action("package_show", id=source["id"])
    assert shown["organization"] == "ville-de-bron"  # the bug, as stored before the fix

    # Before the migration: a job reads the former key, and harvests ville-de-bron's datasets.
    before = jobs.run_source(source["id"])
    assert before["status"] == "Finished" and not before.get("gather_error_summary"), before
    assert before["stats"].get("added") == 6
    assert remote.server.requested("/api/1/organizations/ville-de-bron/") == 1

    report = migrate_source_configs(dry_run=True)
    assert [(m.source, m.renamed) for m in report.migrated] == [("udata-bron", {"organization": "udata_organization"})]
    assert json.loads(HarvestSource.get(source["id"]).config) == {"organization": "ville-de-bron", "page_size": 50}

    report = migrate_source_configs(dry_run=False)
    assert [m.source for m in report.migrated] == ["udata-bron"] and not report.shadowing
    expected = {"udata_organization": "ville-de-bron", "page_size": 50}
    assert json.loads(HarvestSource.get(source["id"]).config) == expected
    assert json.loads(model.Package.get(source["id"]).extras["config"]) == expected
    shown = helpers.call_action("package_show", id=source["id"])
    assert shown["organization"]["name"] == "bron" and shown["udata_organization"] == "ville-de-bron"
    assert app.get("/harvest/", headers={"Authorization": token}).status_code == 200
    # The activities recorded before keep the dict of then (the udata slug as "organization"): their pages
    # still open.
    activities = helpers.call_action("package_activity_list", context={"user": operator["name"]}, id=source["id"])
    assert activities and app.get("/dataset/activity/udata-bron", headers={"Authorization": token}).status_code == 200
    for activity in activities:
        page = app.get(f"/dataset/udata-bron/history/{activity['id']}", headers={"Authorization": token})
        assert page.status_code == 200, activity["activity_type"]

    # After: the same organisation, nothing new (an unchanged source writes nothing).
    after = jobs.run_source(source["id"])
    assert after["status"] == "Finished" and not after.get("gather_error_summary"), after
    assert remote.server.requested("/api/1/organizations/ville-de-bron/") == 2
    assert {dict(parse_qsl(q)).get("organization") for _m, path, q in remote.server.requests
            if path == "/api/1/datasets/"} == {ORG_ID}
    assert not after["stats"].get("added") and not after["stats"].get("deleted")

    # Idempotent: nothing left to do.
    again = migrate_source_configs(dry_run=False)
    assert again.migrated == [] and again.shadowing == []


def test_the_migration_lists_keys_of_other_types_that_shadow_a_field_and_changes_them_not(operator):
    source = create_source(operator, "communes_dcat", {"max_withdraw_percent": 10})
    stored = json.dumps({"max_withdraw_percent": 10, "notes": "une note"})
    HarvestSource.get(source["id"]).config = stored
    package = model.Package.get(source["id"])
    package.extras = {**package.extras, "config": stored}
    model.Session.commit()
    report = migrate_source_configs(dry_run=False)
    assert report.migrated == []
    [found] = report.shadowing
    assert (found.source, found.shadowing) == ("source-dcat", ["notes"])
    assert HarvestSource.get(source["id"]).config == stored
    assert any("notes" in line and "source-dcat" in line for line in report.lines())


def test_the_migrate_config_command_says_what_it_did_and_exits_1_while_a_key_needs_an_operator(cli, operator):
    from ckan.cli.cli import ckan

    source = _save_as_before_the_fix(operator, "https://www.data.gouv.fr/", {"organization": "ville-de-bron"})
    dry = cli.invoke(ckan, ["communes", "harvest", "migrate-config", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert 'udata-bron (communes_udata): "organization" -> "udata_organization"' in dry.output
    assert "dry run" in dry.output
    assert json.loads(HarvestSource.get(source["id"]).config) == {"organization": "ville-de-bron"}
    done = cli.invoke(ckan, ["communes", "harvest", "migrate-config"])
    assert done.exit_code == 0, done.output
    model.Session.expire_all()
    assert json.loads(HarvestSource.get(source["id"]).config) == {"udata_organization": "ville-de-bron"}
    again = cli.invoke(ckan, ["communes", "harvest", "migrate-config"])
    assert again.exit_code == 0 and "migrated: 0" in again.output

    other = create_source(operator, "communes_dcat", {})
    HarvestSource.get(other["id"]).config = json.dumps({"title": "x"})
    model.Session.commit()
    left = cli.invoke(ckan, ["communes", "harvest", "migrate-config"])
    assert left.exit_code == 1 and "title" in left.output
