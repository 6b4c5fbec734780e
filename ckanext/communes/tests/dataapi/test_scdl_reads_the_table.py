"""SCDL validation and the quality score read the loaded table (issue #23 item 6): a CSV resource loaded into
the DataStore is validated from its table (datastore_search), no second download from the publisher's server;
the result is the one the download gives. A table older than the resource's last change, or a partial one, is
not trusted: the file is downloaded as before."""

from __future__ import annotations

from typing import Any

import pytest
from ckan import model
from ckan.tests import helpers

from ckanext.communes.quality import evidence, scdl
from ckanext.communes.tests.dataapi.conftest import DATA_API, load
from ckanext.communes.tests.quality.test_scdl import SUBVENTIONS, VALID_CSV, _broken
from ckanext.communes.tests.shared import CSV, ENVI

pytestmark = [DATA_API, pytest.mark.usefixtures("clean_db", "loader")]

COMPARED = ("valid", "error_count", "errors_by_type", "first_errors", "rows_checked", "error")


def _dataset(org_id: str, url: str, name: str) -> dict[str, Any]:
    user = helpers.call_action("get_site_user", context={"ignore_auth": True})["name"]
    return helpers.call_action(
        "package_create", context={"user": user}, name=name, title="Subventions versées", notes="Les subventions.",
        theme=[ENVI], owner_org=org_id, license_id="etalab-2.0", conforms_to=[SUBVENTIONS],
        resources=[{"url": url, "name": "Subventions 2017", "format": CSV}])


def _figures(dataset: dict[str, Any]) -> tuple[Any, ...]:
    result = evidence.scdl_results_for(dataset["id"])[dataset["resources"][0]["id"]]
    return tuple(getattr(result, name) for name in COMPARED)


@pytest.mark.parametrize("body", [VALID_CSV, _broken(1)], ids=["valid", "invalid"])
def test_a_loaded_csv_is_validated_from_its_table_without_downloading_it_again(
        body, bron, source_server, allow_private_addresses):
    source_server.serve("/telechargee.csv", body, content_type="text/csv")
    source_server.serve("/chargee.csv", body, content_type="text/csv")
    downloaded = _dataset(bron["id"], source_server.url("/telechargee.csv"), "telechargee")
    loaded = _dataset(bron["id"], source_server.url("/chargee.csv"), "chargee")
    assert load(loaded["resources"][0]["id"])["status"] == "complete"
    assert source_server.requested("/chargee.csv") == 1  # the loader's download

    scdl.validate_dataset_now(downloaded["id"])
    scdl.validate_dataset_now(loaded["id"])

    assert source_server.requested("/chargee.csv") == 1  # read from the DataStore: no second download
    assert source_server.requested("/telechargee.csv") == 1
    assert _figures(loaded) == _figures(downloaded)
    assert _figures(loaded)[0] is (body == VALID_CSV)
    model.Session.remove()


def test_a_table_older_than_the_resource_s_last_change_is_not_trusted(bron, source_server, allow_private_addresses):
    source_server.serve("/subventions.csv", VALID_CSV, content_type="text/csv")
    source_server.serve("/v2.csv", _broken(1), content_type="text/csv")
    dataset = _dataset(bron["id"], source_server.url("/subventions.csv"), "subventions")
    resource_id = dataset["resources"][0]["id"]
    assert load(resource_id)["status"] == "complete"
    # The URL changes; the validation runs before xloader has loaded the new file.
    site_user = helpers.call_action("get_site_user", context={"ignore_auth": True})["name"]
    helpers.call_action("resource_patch", context={"user": site_user}, id=resource_id,
                        url=source_server.url("/v2.csv"))

    scdl.validate_dataset_now(dataset["id"])

    assert source_server.requested("/v2.csv") == 1
    assert _figures(dataset)[0] is False
    model.Session.remove()
