"""communes_licence_alias_create / _list: programme operators only (sysadmins, admins of the Métropole), every
role tried through the HTTP API; bad input refused with a French error naming the field; who and when kept."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from ckan import model

from ckanext.communes.tests.communes.conftest import ROLES, People, api_post, world  # noqa: F401

OPERATORS = {"sysadmin", "operator"}


def new_alias() -> str:
    return "Licence de test " + uuid.uuid4().hex[:8]


def stored_aliases() -> dict[str, str]:
    rows = model.Session.execute(sa.text("SELECT alias, licence_id FROM communes_licence_alias")).fetchall()
    return {alias: licence_id for alias, licence_id in rows}


@pytest.mark.parametrize("role", ROLES)
def test_only_operators_create_an_alias(role: str, world: People, app: Any) -> None:  # noqa: F811
    alias = new_alias()
    status = 200 if role in OPERATORS else 403
    response = api_post(app, "communes_licence_alias_create", {"alias": alias, "licence_id": "other-nc"},
                        world.token(role), status=status)
    assert (alias in stored_aliases()) == (role in OPERATORS)
    if role in OPERATORS:
        created = response.json["result"]
        assert created["alias"] == alias and created["licence_id"] == "other-nc"
        # Audited: who and when.
        assert created["created_by"] == getattr(world, role)["name"] and created["created"]


@pytest.mark.parametrize("role", ROLES)
def test_only_operators_list_the_aliases(role: str, world: People, app: Any) -> None:  # noqa: F811
    alias = new_alias()
    api_post(app, "communes_licence_alias_create", {"alias": alias, "licence_id": "other-nc"},
             world.token("sysadmin"), status=200)
    status = 200 if role in OPERATORS else 403
    response = api_post(app, "communes_licence_alias_list", {}, world.token(role), status=status)
    if role in OPERATORS:
        listed = {entry["alias"]: entry for entry in response.json["result"]}
        assert listed[alias]["licence_id"] == "other-nc"
        assert listed[alias]["created_by"] == world.sysadmin["name"]


@pytest.mark.parametrize(("data", "field", "french"), [
    ({"alias": "Licence zzz", "licence_id": "no-such-licence"}, "licence_id", "Licence inconnue"),
    ({"alias": "Licence zzz", "licence_id": ""}, "licence_id", "Licence inconnue"),
    ({"alias": "", "licence_id": "other-nc"}, "alias", "vide"),
    ({"alias": "   ", "licence_id": "other-nc"}, "alias", "vide"),
    ({"alias": "x" * 501, "licence_id": "other-nc"}, "alias", "500"),
    ({"alias": ["CC BY-NC"], "licence_id": "other-nc"}, "alias", "texte"),
    ({"alias": "Licence zzz", "licence_id": "unrecognised"}, "licence_id", "non reconnue"),
])
def test_bad_input_is_a_french_error_naming_the_field(data: dict[str, Any], field: str, french: str, world: People,  # noqa: F811
                                                       app: Any) -> None:
    response = api_post(app, "communes_licence_alias_create", data, world.token("sysadmin"), status=409)
    error = response.json["error"]
    assert error["__type"] == "Validation Error"
    assert french in " ".join(error[field]), error


def test_a_duplicate_alias_is_refused_whatever_its_spelling(world: People, app: Any) -> None:  # noqa: F811
    alias = new_alias()
    api_post(app, "communes_licence_alias_create", {"alias": alias, "licence_id": "other-nc"},
             world.token("sysadmin"), status=200)
    response = api_post(app, "communes_licence_alias_create", {"alias": "  " + alias.upper() + " ",
                                                               "licence_id": "other-closed"},
                        world.token("operator"), status=409)
    assert "existe déjà" in " ".join(response.json["error"]["alias"])
    assert stored_aliases()[alias] == "other-nc"


def test_a_text_the_registry_already_recognises_is_refused(world: People, app: Any) -> None:  # noqa: F811
    response = api_post(app, "communes_licence_alias_create", {"alias": "lov2", "licence_id": "other-nc"},
                        world.token("sysadmin"), status=409)
    assert "déjà" in " ".join(response.json["error"]["alias"])


# ------------------------------------------------------------------------------------- the operators' page


@pytest.mark.parametrize("role", ROLES)
def test_the_alias_page_is_for_operators_only_in_french(role: str, world: People, app: Any) -> None:  # noqa: F811
    from ckanext.communes.tests.harvesters.test_source_commands_post_only import browser, page_token

    client = browser(app, world, role)
    alias = new_alias()
    page = client.get("/licences/aliases?alias=" + alias)
    assert page.status_code == (200 if role in OPERATORS else 403)
    token = page_token(client)
    posted = client.post("/licences/aliases", data={"alias": alias, "licence_id": "other-nc", "_csrf_token": token},
                         follow_redirects=True)
    assert (alias in stored_aliases()) == (role in OPERATORS)
    if role not in OPERATORS:
        assert posted.status_code == 403
        return
    html = page.get_data(as_text=True)
    assert "<h1>Alias de licences</h1>" in html
    assert f'value="{alias}"' in html  # ?alias= fills the text in
    assert '<label class="form-label" for="communes-alias-text">' in html
    done = posted.get_data(as_text=True)
    assert posted.status_code == 200 and "ajouté" in done and f"<td>{alias}</td>" in done


def test_the_alias_page_shows_a_refusal_next_to_its_field(world: People, app: Any) -> None:  # noqa: F811
    from ckanext.communes.tests.harvesters.test_source_commands_post_only import browser, page_token

    client = browser(app, world, "operator")
    token = page_token(client)
    posted = client.post("/licences/aliases", data={"alias": "<b>x</b>" + new_alias(), "licence_id": "nope",
                                                    "_csrf_token": token})
    html = posted.get_data(as_text=True)
    assert posted.status_code == 200
    assert 'id="communes-alias-licence-error">Licence inconnue' in html
    assert 'aria-describedby="communes-alias-licence-error"' in html
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html  # the typed text comes back, escaped
