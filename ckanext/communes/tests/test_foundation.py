"""The portal comes up for real: plugins load, PostgreSQL stores, Solr indexes and answers."""

from __future__ import annotations

import configparser
import pathlib

import ckan.plugins as p
import pytest
from ckan.tests import factories, helpers

REPO = pathlib.Path(__file__).resolve().parents[3]
EXPECTED_PLUGINS = ["communes", "scheming_datasets", "scheming_organizations", "dcat", "harvest",
                    "communes_dcat_harvester", "communes_ckan_harvester", "communes_ods_harvester",
                    "communes_udata_harvester", "communes_csw_harvester", "spatial_metadata", "spatial_query",
                    "activity"]


def test_all_plugins_of_the_portal_are_loaded():
    for name in EXPECTED_PLUGINS:
        assert p.plugin_loaded(name), name


def test_status_show_lists_the_extension_plugins(app):
    status = app.get("/api/3/action/status_show").json["result"]
    assert set(EXPECTED_PLUGINS) <= set(status["extensions"])


@pytest.mark.usefixtures("clean_db", "clean_index")
def test_dataset_created_through_the_api_is_found_by_solr_search_with_our_facet_fields():
    org = factories.Organization()
    helpers.call_action(
        "package_create",
        context={"user": factories.Sysadmin()["name"]},
        name="arbres-remarquables",
        title="Arbres remarquables de Bron",
        notes="Inventaire des arbres remarquables.",
        theme=["http://publications.europa.eu/resource/authority/data-theme/ENVI"],
        owner_org=org["id"],
    )
    found = helpers.call_action("package_search", q="remarquables")
    assert found["count"] == 1
    assert found["results"][0]["name"] == "arbres-remarquables"
    assert helpers.call_action("package_search", q="inexistant")["count"] == 0
    # The index hook of the schema concern ran against the real Solr: the theme facet field is filled.
    assert helpers.call_action("package_search", fq="vocab_theme:ENVI")["count"] == 1


def _ini_options(path: pathlib.Path) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # keep keys as written
    parser.read(path, encoding="utf-8")
    return dict(parser["app:main"])


def _docker_options() -> dict[str, str]:
    """docker/.env.example read the way the base image's envvars plugin reads the environment:
    CKAN__X__Y -> ckan.x.y, CKANEXT__X__Y -> ckanext.x.y, CKAN___X__Y -> x.y."""
    options = {}
    for line in (REPO / "docker" / ".env.example").read_text(encoding="utf-8").splitlines():
        if "=" not in line or line.startswith("#"):
            continue
        name, value = line.split("=", 1)
        if name.startswith("CKAN___"):
            key = name[len("CKAN___") :]
        elif name.startswith(("CKAN__", "CKANEXT__")):
            key = name
        else:
            continue
        options[key.lower().replace("__", ".")] = value
    return options


SHARED_OPTIONS = [
    "ckan.plugins",
    "scheming.dataset_schemas",
    "scheming.organization_schemas",
    "scheming.presets",
    "ckanext.dcat.rdf.profiles",
    "ckanext.spatial.search_backend",
    "ckan.auth.user_create_organizations",
    "ckan.auth.user_delete_organizations",
    "ckan.auth.create_user_via_web",
]


# Loaded by test.ini only for the tests that need them (with_plugins marks, tests/dataapi/): every resource
# saved elsewhere in the suite would otherwise queue a DataStore load (or get a map view). Last in the portal's
# list, in this order.
PLUGINS_LOADED_PER_TEST = ("datastore", "xloader", "datatables_view", "communes_geojson_view")


@pytest.mark.parametrize("key", SHARED_OPTIONS)
def test_dev_test_and_docker_configs_agree_on(key):
    in_test = _ini_options(REPO / "test.ini")[key]
    in_dev = _ini_options(REPO / "dev" / "ckan-options.ini")[key]
    in_docker = _docker_options()[key]
    if key == "ckan.plugins":  # the docker base image adds its env loader, last
        in_docker = " ".join(name for name in in_docker.split() if name != "envvars")
        in_test = " ".join([*in_test.split(), *PLUGINS_LOADED_PER_TEST])
    assert in_test == in_dev == in_docker
