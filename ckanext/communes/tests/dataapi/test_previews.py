"""Previews (issue #23 item 4): a resource loaded into the DataStore gets CKAN's table view (`datatables_view`)
by default, created when xloader reports the load complete (its xloader_hook creates the default views that
need the DataStore, ckan.views.default_views)."""

from __future__ import annotations

import pytest
from ckan import model
from ckan.tests import helpers

from ckanext.communes.tests.dataapi.conftest import DATA_API, create_dataset, load

pytestmark = [DATA_API, pytest.mark.usefixtures("clean_db", "loader")]

EQUIPEMENTS = (
    "nom,type,places\n"
    "Stade Pierre Duboeuf,stade,1200\n"
    "Piscine du Grand Large,piscine,400\n"
    "Gymnase Jean Jaurès,gymnase,150\n"
)


def test_a_loaded_csv_gets_the_table_view_by_default_and_only_that_one(bron, source_server, allow_private_addresses):
    source_server.serve("/equipements.csv", EQUIPEMENTS, content_type="text/csv")
    dataset = create_dataset(bron["id"], source_server.url("/equipements.csv"))
    resource_id = dataset["resources"][0]["id"]
    assert helpers.call_action("resource_view_list", id=resource_id) == []  # nothing to show before the load

    assert load(resource_id)["status"] == "complete"

    views = helpers.call_action("resource_view_list", id=resource_id)
    assert [view["view_type"] for view in views] == ["datatables_view"]
    model.Session.remove()


def test_a_resource_whose_load_failed_gets_no_table_view(bron, source_server, allow_private_addresses):
    source_server.serve("/page.csv", "<html><body>Pas un tableau</body></html>", content_type="text/html")
    dataset = create_dataset(bron["id"], source_server.url("/page.csv"))
    resource_id = dataset["resources"][0]["id"]

    assert load(resource_id)["status"] == "error"

    assert helpers.call_action("resource_view_list", id=resource_id) == []
    model.Session.remove()
