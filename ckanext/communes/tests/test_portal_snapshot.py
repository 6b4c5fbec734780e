"""A portal built once per session and put back from a copy (tests/portal_snapshot.py): what a test gets back is
the portal as built (rows and index), never what an earlier test changed in it, and the build runs once."""

from __future__ import annotations

from typing import Any

import pytest
from ckan import model
from ckan.tests import factories, helpers

from ckanext.communes.tests import portal_snapshot, reused_portal
from ckanext.communes.tests.shared import BRON, CSV, ENVI

builds: list[int] = []


def build_probe_portal() -> dict[str, Any]:
    builds.append(1)
    sysadmin = factories.Sysadmin()
    context = {"user": sysadmin["name"]}
    bron = helpers.call_action("organization_create", context=dict(context), **BRON)
    dataset = helpers.call_action(
        "package_create", context=dict(context), name="arbres-de-bron", title="Arbres de Bron",
        notes="Les arbres d'alignement de la commune, leur essence et leur âge.", owner_org=bron["id"],
        theme=[ENVI], resources=[{"url": "https://data.example.org/arbres.csv", "name": "CSV", "format": CSV}])
    return {"sysadmin": sysadmin["name"], "bron": bron["id"], "dataset": dataset["id"]}


def probe(clean: None) -> dict[str, Any]:
    return portal_snapshot.restored("test_probe", build_probe_portal)


def found(query: str) -> list[str]:
    return [d["name"] for d in helpers.call_action("package_search", q=query, include_private=True)["results"]]


@pytest.fixture
def clean(clean_db: None, clean_index: None) -> None:
    """A database and index just reset, as every caller of restored() has them."""


def test_snapshot_a_first_portal_is_built_and_changed_by_its_test(clean: None) -> None:
    portal = probe(clean)
    assert model.Package.get(portal["dataset"]).title == "Arbres de Bron"
    assert found("alignement") == ["arbres-de-bron"]
    sysadmin = {"user": portal["sysadmin"]}
    helpers.call_action("package_patch", context=sysadmin, id=portal["dataset"], title="Arbres changés")
    helpers.call_action("package_create", context=sysadmin, name="bancs-de-bron", title="Bancs",
                        owner_org=portal["bron"], theme=[ENVI],
                        notes="Les bancs publics de la commune, leur place et leur état.")
    factories.User(name="visiteur-de-passage")


def test_snapshot_the_next_portal_is_the_one_built_without_the_changes_of_the_test_before(clean: None) -> None:
    if not reused_portal.ENABLED:
        pytest.skip("CKAN_TESTS_REUSE_PORTAL=0: every portal is built")
    factories.fake.unique.clear()  # as module_database() does before a module's portal
    portal = probe(clean)
    assert len(builds) == 1, "the portal was built again instead of being put back"
    assert model.Package.get(portal["dataset"]).title == "Arbres de Bron"
    assert model.Package.get("bancs-de-bron") is None and model.User.get("visiteur-de-passage") is None
    assert found("alignement") == ["arbres-de-bron"] and found("bancs") == []
    # Faker's unique names know the build's again: a new user cannot draw the restored sysadmin's name.
    assert portal["sysadmin"] in {user.name for user in model.Session.query(model.User)}
    assert any(portal["sysadmin"] in drawn for drawn in factories.fake.unique._seen.values())


def test_snapshot_a_copy_that_no_longer_fits_the_tables_is_built_again(clean: None) -> None:
    if not reused_portal.ENABLED:
        pytest.skip("CKAN_TESTS_REUSE_PORTAL=0: every portal is built")
    schema = portal_snapshot.SCHEMA_PREFIX + "test_probe"
    with model.Session.bind.begin() as connection:
        connection.exec_driver_sql(f'ALTER TABLE {schema}."package" ADD COLUMN stray integer')
    model.Session.remove()
    built_before = len(builds)
    portal = probe(clean)
    assert len(builds) == built_before + 1
    assert found("alignement") == ["arbres-de-bron"] and model.Package.get(portal["dataset"]) is not None
