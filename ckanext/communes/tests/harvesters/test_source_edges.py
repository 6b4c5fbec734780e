"""A harvest source's edges (harvesters/actions.py): ckanext-harvest's validator messages in French (its
« Error parsing the configuration options: » prefix, frequency, source type and duplicate URL messages are
plain English strings, never passed through gettext), a resource on a source refused in French (CKAN answered
500), and an operator's edit of a source recorded in its activity stream like anyone else's."""

from __future__ import annotations

import html
import json
import re
import uuid
from typing import Any

import pytest
from ckan import model
from ckan.tests import helpers

from ckanext.communes.tests.communes.conftest import ROLES, People, api_post, world  # noqa: F401
from ckanext.communes.tests.harvesters.test_source_commands_post_only import browser, new_source, page_token
from ckanext.communes.tests.harvesters.test_workers import CLOSED_URL

OPERATORS = {"sysadmin", "operator"}
ENGLISH = re.compile(r"Error parsing|not recognised|Unknown harvester type|Registered types|There already is")


def _source_fields(**overrides: Any) -> dict[str, Any]:
    name = "src-" + uuid.uuid4().hex[:10]
    return {"name": name, "title": f"Source {name}", "url": CLOSED_URL + name, "source_type": "communes_dcat",
            "owner_org": "bron", "frequency": "MANUAL", **overrides}


def _error(response: Any, field: str) -> str:
    assert response.status_code == 409, response.json
    [message] = response.json["error"][field]
    return message


# ------------------------------------------------------------------------- ckanext-harvest's messages


def test_a_configuration_error_is_french_on_every_action(world: People, app: Any) -> None:  # noqa: F811
    token = world.token("operator")
    source = new_source()
    bad = json.dumps({"zzz": 1})
    answers = {
        "harvest_source_create": api_post(app, "harvest_source_create", _source_fields(config=bad), token),
        "package_create": api_post(app, "package_create", {**_source_fields(config=bad), "type": "harvest"}, token),
        "harvest_source_update": api_post(app, "harvest_source_update", {
            **_source_fields(config=bad), "id": source["id"], "name": source["name"]}, token),
        "harvest_source_patch": api_post(app, "harvest_source_patch", {"id": source["id"], "config": bad}, token),
        "package_patch": api_post(app, "package_patch", {"id": source["id"], "config": bad}, token),
    }
    for action, response in answers.items():
        message = _error(response, "config")
        assert message.startswith("Configuration invalide : "), (action, message)
        assert "« zzz »" in message and not ENGLISH.search(message), (action, message)
    assert helpers.call_action("harvest_source_show", id=source["id"]).get("config") in (None, "")


def test_the_other_messages_of_ckanext_harvests_validators_are_french(world: People, app: Any) -> None:  # noqa: F811
    token = world.token("operator")
    frequency = _error(api_post(app, "harvest_source_create", _source_fields(frequency="HOURLY"), token),
                       "frequency")
    assert frequency.startswith("Fréquence de mise à jour « HOURLY » inconnue"), frequency
    assert "WEEKLY" in frequency
    source_type = _error(api_post(app, "harvest_source_create", _source_fields(source_type="nope"), token),
                         "source_type")
    assert source_type.startswith("Type de source « nope » inconnu"), source_type
    assert "communes_dcat" in source_type
    config = json.dumps({"priority": 3})
    first = _source_fields(config=config)
    api_post(app, "harvest_source_create", first, token, status=200)
    twin = _source_fields(config=config, url=first["url"])
    duplicate = _error(api_post(app, "harvest_source_create", twin, token), "url")
    assert duplicate.startswith("Une source de moissonnage lit déjà cette adresse"), duplicate
    assert first["url"] in duplicate and "priority" not in duplicate  # the configuration is not echoed
    for message in (frequency, source_type, duplicate):
        assert not ENGLISH.search(message), message


def test_the_source_form_shows_a_configuration_error_in_french(world: People, app: Any) -> None:  # noqa: F811
    client = browser(app, world, "operator")
    fields = _source_fields(config='{"zzz": 1}')
    response = client.post("/harvest/new", data={**fields, "save": "Save",
                                                 "_csrf_token": page_token(client, "/harvest/new")})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Configuration invalide : " in html and "Error parsing" not in html
    assert model.Package.get(fields["name"]) is None


# ------------------------------------------------------------------------- no resources on a source


@pytest.mark.parametrize("role", ROLES)
def test_a_resource_on_a_source_is_a_french_refusal_not_a_500(role: str, world: People, app: Any) -> None:  # noqa: F811
    source = new_source()
    response = api_post(app, "resource_create", {"package_id": source["id"], "url": "https://example.org/a.csv",
                                                 "name": "a"}, world.token(role))
    if role in OPERATORS:
        message = _error(response, "package_id")
        assert message.startswith("Une source de moissonnage n'a pas de ressources"), message
    else:
        assert response.status_code == 403, response.json
    assert not model.Package.get(source["id"]).resources


def test_the_resource_form_of_a_source_answers_in_french(world: People, app: Any) -> None:  # noqa: F811
    client = browser(app, world, "sysadmin")
    source = new_source()
    response = client.post(f"/dataset/{source['name']}/resource/new", data={
        "id": "", "url": "https://example.org/a.csv", "name": "a", "save": "go-metadata",
        "_csrf_token": page_token(client)}, follow_redirects=False)
    assert response.status_code < 500
    page = html.unescape(response.get_data(as_text=True))
    assert re.search(r"Jeu de données ?: Une source de moissonnage n'a pas de ressources", page)
    assert "Package id" not in page
    assert not model.Package.get(source["id"]).resources


# ------------------------------------------------------------------------- activity of an operator's edit


@pytest.mark.parametrize("action", ["harvest_source_patch", "package_patch"])
def test_an_operators_edit_of_a_source_is_in_its_activity_stream(action: str, world: People, app: Any) -> None:  # noqa: F811
    """The operator is no member of Bron: the edit runs with ignore_auth on a copy of the context, where
    CKAN notes the change the activity plugin looks for."""
    source = new_source()
    token = world.token("operator")
    notes = "modifiée par " + uuid.uuid4().hex[:6]
    api_post(app, action, {"id": source["id"], "notes": notes}, token, status=200)
    stream = api_post(app, "package_activity_list", {"id": source["id"]}, token, status=200).json["result"]
    latest = stream[0]
    assert latest["activity_type"] == "changed package" and latest["user_id"] == world.operator["id"], stream
    detail = api_post(app, "activity_show", {"id": latest["id"], "include_data": True}, token, status=200)
    assert detail.json["result"]["data"]["package"]["notes"] == notes
