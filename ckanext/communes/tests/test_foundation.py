"""The portal comes up for real: plugins load, PostgreSQL stores, Solr indexes and answers."""

from __future__ import annotations

import configparser
import pathlib

import pytest

import ckan.plugins as p
from ckan.tests import factories, helpers

REPO = pathlib.Path(__file__).resolve().parents[3]
EXPECTED_PLUGINS = ["communes", "scheming_datasets", "scheming_organizations", "dcat", "harvest", "activity"]


def test_all_plugins_of_the_portal_are_loaded():
    for name in EXPECTED_PLUGINS:
        assert p.plugin_loaded(name), name


def test_status_show_lists_the_extension_plugins(app):
    status = app.get("/api/3/action/status_show").json["result"]
    assert set(EXPECTED_PLUGINS) <= set(status["extensions"])


@pytest.mark.usefixtures("clean_db", "clean_index")
def test_organisation_can_be_created():
    org = helpers.call_action(
        "organization_create", context={"user": factories.Sysadmin()["name"]}, name="bron", title="Bron"
    )
    assert helpers.call_action("organization_show", id="bron")["id"] == org["id"]


@pytest.mark.usefixtures("clean_db", "clean_index")
def test_dataset_created_through_the_api_is_found_by_solr_search():
    org = factories.Organization()
    helpers.call_action(
        "package_create",
        context={"user": factories.Sysadmin()["name"]},
        name="arbres-remarquables",
        title="Arbres remarquables de Bron",
        owner_org=org["id"],
    )
    found = helpers.call_action("package_search", q="remarquables")
    assert found["count"] == 1
    assert found["results"][0]["name"] == "arbres-remarquables"
    assert helpers.call_action("package_search", q="inexistant")["count"] == 0


def _plugins_of(path: pathlib.Path) -> list[str]:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.read(path, encoding="utf-8")
    return parser["app:main"]["ckan.plugins"].split()


def test_dev_test_and_docker_configs_load_the_same_plugins_and_dcat_profiles():
    in_test = _plugins_of(REPO / "test.ini")
    in_dev = _plugins_of(REPO / "dev" / "ckan-options.ini")
    env = dict(
        line.split("=", 1)
        for line in (REPO / "docker" / ".env.example").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    in_docker = [name for name in env["CKAN__PLUGINS"].split() if name != "envvars"]  # the image's env loader
    assert in_test == in_dev == in_docker


def _option_of(path: pathlib.Path, key: str) -> str:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.read(path, encoding="utf-8")
    return parser["app:main"][key]


def test_dcat_profiles_are_the_same_in_dev_test_and_docker():
    env = dict(
        line.split("=", 1)
        for line in (REPO / "docker" / ".env.example").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    key = "ckanext.dcat.rdf.profiles"
    assert _option_of(REPO / "test.ini", key) == _option_of(REPO / "dev" / "ckan-options.ini", key)
    assert _option_of(REPO / "test.ini", key) == env["CKANEXT__DCAT__RDF__PROFILES"]
