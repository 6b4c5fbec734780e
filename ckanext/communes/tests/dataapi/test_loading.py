"""ckanext-xloader loads a CSV resource into the DataStore through the guarded client, and the Data API
answers its rows (issue #23 items 2 and 3). The file is served by a real HTTP server on 127.0.0.1; the job
runs on CKAN's queue, picked by a worker as `make run`'s."""

from __future__ import annotations

import pytest
from ckan import model
from ckan.tests import helpers

from ckanext.communes.tests.dataapi.conftest import DATA_API, create_dataset, load

pytestmark = [DATA_API, pytest.mark.usefixtures("clean_db", "loader")]

EQUIPEMENTS = (
    "nom,type,places,commune\n"
    "Stade Pierre Duboeuf,stade,1200,Bron\n"
    "Piscine du Grand Large,piscine,400,Bron\n"
    "Gymnase Jean Jaurès,gymnase,150,Bron\n"
    "Stade de Parilly,stade,3000,Bron\n"
    "Dojo municipal,gymnase,60,Bron\n"
)


def _search(**params):
    return helpers.call_action("datastore_search", context={"ignore_auth": False, "user": ""}, **params)


def test_a_csv_served_on_127_0_0_1_is_loaded_and_searched_with_q_filters_limit_offset_and_sort(
        bron, source_server, allow_private_addresses):
    source_server.serve("/equipements.csv", EQUIPEMENTS, content_type="text/csv")
    dataset = create_dataset(bron["id"], source_server.url("/equipements.csv"))
    resource_id = dataset["resources"][0]["id"]

    status = load(resource_id)

    assert status["status"] == "complete", status
    assert source_server.requested("/equipements.csv") == 1
    resource = helpers.call_action("resource_show", id=resource_id)
    assert resource["datastore_active"] is True
    everything = _search(resource_id=resource_id)
    assert everything["total"] == 5
    assert [f["id"] for f in everything["fields"]] == ["_id", "nom", "type", "places", "commune"]
    assert {r["nom"] for r in everything["records"]} >= {"Gymnase Jean Jaurès", "Stade de Parilly"}

    assert [r["nom"] for r in _search(resource_id=resource_id, q="Parilly")["records"]] == ["Stade de Parilly"]
    stades = _search(resource_id=resource_id, filters={"type": "stade"}, sort="nom asc")
    assert [r["nom"] for r in stades["records"]] == ["Stade Pierre Duboeuf", "Stade de Parilly"]
    page = _search(resource_id=resource_id, sort="nom asc", limit=2, offset=1)
    assert [r["nom"] for r in page["records"]] == ["Gymnase Jean Jaurès", "Piscine du Grand Large"]
    assert page["total"] == 5
    last = _search(resource_id=resource_id, sort="nom desc", limit=1)
    assert last["records"][0]["nom"] == "Stade de Parilly"
    # xloader's direct load (PostgreSQL COPY) stores every column as text: a number is sorted as text.
    assert {f["id"]: f["type"] for f in everything["fields"]}["places"] == "text"
    model.Session.remove()
