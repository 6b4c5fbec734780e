"""Who may change what, through the API: sysadmin, programme operator (admin of the Métropole), commune
admin, commune editor, another commune's admin and anonymous, for every protected field and action.

All tests share one seeded database (`world`); a test that changes Bron puts the stored values back."""

from __future__ import annotations

from typing import Any

import pytest
from ckan.tests import factories, helpers

from ckanext.communes.communes import programme
from ckanext.communes.tests.communes.conftest import ROLES, api_post

OPERATORS = ("sysadmin", "operator")
VALID_SIRENS = ("216900290", "216900332")


# Every protected field named here, with a valid value different from Bron's (two values to alternate
# between), so that the test does not follow the code's own list: a field dropped from the code's list
# of protected fields makes this test fail.
PROTECTED_CHANGES: dict[str, tuple[Any, Any]] = {
    "name": ("bron", "bron-renommee"),
    "insee_code": ("69029", "69033"),
    "siren": VALID_SIRENS,
    "official_name": ("Bron", "Commune de Bron"),
    "kind": ("commune", "metropole"),
    "population": ("42000", "42001"),
    "population_year": ("2022", "2021"),
    "agents_fte": ("75", "76"),
    "partner_status": ("generalisation", "candidate"),
    "convention_signed": ("2020-01-01", "2020-01-02"),
    "convention_end": ("2031-01-01", "2031-01-02"),
    "convention_url": ("https://example.org/convention-1.pdf", "https://example.org/convention-2.pdf"),
    "programme_notes": ("Bilan de phase 1 rendu.", "Bilan de phase 1 attendu."),
    "seeded_values": ('{"title": "x"}', '{"title": "y"}'),
    # Columns of the group table: whether the commune exists, and whether it is an organisation.
    "state": ("active", "deleted"),
    "is_organization": (True, False),
    "approval_status": ("approved", "pending"),
}
# Every route that writes an organisation's fields (group_patch shows the group first and finds plain
# groups only: it is tried on a commune turned into a group, below).
UPDATE_ROUTES = ("organization_patch", "organization_update", "group_update")
LIFECYCLE_COLUMNS = ("name", "state", "is_organization", "type", "approval_status")


def _new_value(field: str, current: Any) -> Any:
    first, second = PROTECTED_CHANGES[field]
    if isinstance(first, bool):
        return not bool(current)
    current = "" if current is None else str(current)
    return second if current == str(first) else first


def _stored(org_id: str) -> dict[str, Any]:
    """What the database holds for the organisation (readable even once it is deleted or no longer an
    organisation, when organization_show would answer 404)."""
    from ckan import model

    model.Session.expire_all()
    group = model.Group.get(org_id)
    values = {key: value for key, value in (group.extras or {}).items() if value not in ("", None)}
    values.update({column: getattr(group, column) for column in LIFECYCLE_COLUMNS})
    return values


def _bron(org_id: str = "bron") -> dict[str, Any]:
    """Bron's organisation, without its members (their last_active moves with every API call)."""
    return helpers.call_action("organization_show", id=org_id, include_users=False)


def _restore(org_id: str, original: dict[str, Any], sysadmin: dict[str, Any]) -> None:
    # organization_patch finds organisations only, group_patch plain groups only.
    action = "organization_patch" if _stored(org_id)["is_organization"] else "group_patch"
    values = {name: original.get(name, "") for name in PROTECTED_CHANGES}
    helpers.call_action(action, context={"user": sysadmin["name"]}, id=org_id, **values)


def _request_body(route: str, org_id: str, field: str, value: Any) -> dict[str, Any]:
    if route.endswith("_patch"):
        return {"id": org_id, field: value}
    # A full update: what organization_show gives, with the one field changed.
    shown = {k: v for k, v in _bron(org_id).items() if k not in ("obligation", "convention_state", "users")}
    return {**shown, field: value}


@pytest.mark.parametrize("route", UPDATE_ROUTES)
@pytest.mark.parametrize("role", ROLES)
def test_each_protected_field_is_changed_only_by_sysadmins_and_programme_operators_by_every_route(
    app, world, role, route
):
    token = world.token(role)
    org_id = _bron()["id"]
    original = _stored(org_id)
    try:
        for field in PROTECTED_CHANGES:
            before = _stored(org_id)
            value = _new_value(field, before.get(field))
            response = api_post(app, route, _request_body(route, org_id, field, value), token)
            after = _stored(org_id)
            if role in OPERATORS:
                assert response.status_code == 200, (route, field, response.json)
                assert programme.normalise_value(after[field]) == programme.normalise_value(value), (route, field)
                _restore(org_id, original, world.sysadmin)
            else:
                assert response.status_code == 403, (route, field, response.json)
                assert after == before, (route, field)
                if role == "commune_admin":
                    # The refusal names the field, in French.
                    message = response.json["error"]["message"]
                    assert "Seuls les opérateurs du programme" in message, message
                    with app.flask_app.test_request_context(headers={"Accept-Language": "fr"}):
                        assert programme.field_label(field) in message, (field, message)
    finally:
        _restore(org_id, original, world.sysadmin)
    assert _stored(org_id) == original


@pytest.mark.parametrize("role", ROLES)
def test_nobody_changes_the_type_of_a_commune(app, world, role):
    """CKAN itself refuses a type change (409) before any auth check; for everyone else it is a 403."""
    org_id = _bron()["id"]
    before = _stored(org_id)
    for route in UPDATE_ROUTES:
        response = api_post(app, route, _request_body(route, org_id, "type", "group"), world.token(role))
        assert response.status_code in (403, 409), (route, response.json)
        assert _stored(org_id) == before


def test_a_commune_turned_into_a_group_by_a_sysadmin_keeps_its_protected_fields(app, world):
    """Even once a sysadmin has flipped is_organization, the commune's own admin may not flip it back
    or change its identity through group_patch (the group still carries the commune's identity)."""
    org_id = _bron()["id"]
    original = _stored(org_id)
    helpers.call_action("organization_patch", context={"user": world.sysadmin["name"]}, id=org_id,
                        is_organization=False)
    try:
        for route in ("group_patch", "group_update"):
            for field, value in (("agents_fte", "10"), ("is_organization", True), ("state", "deleted")):
                body = {"id": org_id, field: value} if route == "group_patch" else {
                    **helpers.call_action("group_show", id=org_id, include_users=False), field: value}
                api_post(app, route, body, world.token("commune_admin"), status=403)
        assert _stored(org_id)["is_organization"] is False
        assert _stored(org_id).get("agents_fte") == original.get("agents_fte")
    finally:
        _restore(org_id, original, world.sysadmin)
    assert _stored(org_id) == original


CONTACT_FIELDS = {
    "title": "Ville de Bron",
    "description": "La commune de Bron publie ses données.",
    "referent_name": "Camille Martin",
    "referent_role": "Cheffe de projet données",
    "referent_email": "opendata@ville-bron.fr",
    "website": "https://www.ville-bron.fr",
    "image_url": "https://www.ville-bron.fr/logo.png",
}
MAY_EDIT_CONTACTS = ("sysadmin", "operator", "commune_admin")


@pytest.mark.parametrize("role", ROLES)
def test_contacts_are_edited_by_the_commune_admins_and_operators_only(app, world, role):
    token = world.token(role)
    for field, value in CONTACT_FIELDS.items():
        before = _bron()
        response = api_post(app, "organization_patch", {"id": "bron", field: f"{value} ({role})"
                                                        if field not in ("referent_email", "website", "image_url")
                                                        else value}, token)
        if role in MAY_EDIT_CONTACTS:
            assert response.status_code == 200, (field, response.json)
        else:
            assert response.status_code == 403, (field, response.json)
            assert _bron() == before


def test_commune_admin_update_without_protected_fields_keeps_them(app, world):
    before = _bron()
    # A full update (not a patch) naming no identity or programme field, as the form sends it.
    api_post(app, "organization_update", {"id": before["id"], "title": before["title"],
                                          "description": "Mise à jour par la commune."},
             world.token("commune_admin"), status=200)
    after = _bron()
    for field in PROTECTED_CHANGES:
        assert after.get(field) == before.get(field), field
    assert after["description"] == "Mise à jour par la commune."


def test_commune_admin_cannot_slip_a_protected_field_in_through_extras(app, world):
    before = _bron()
    response = api_post(app, "organization_patch", {
        "id": "bron", "extras": [{"key": "siren", "value": "216900332"}],
    }, world.token("commune_admin"), status=403)
    assert "SIREN" in response.json["error"]["message"]
    assert _bron()["siren"] == before["siren"]


def test_commune_admin_cannot_change_a_protected_field_through_group_update(app, world):
    before = _bron()
    api_post(app, "group_update", dict(before, population="1"), world.token("commune_admin"), status=403)
    assert _bron()["population"] == before["population"]


def test_operator_edits_a_commune_it_is_not_a_member_of_but_a_commune_editor_does_not(app, world):
    api_post(app, "organization_patch", {"id": "lyon", "referent_name": "Opérateur"},
             world.token("operator"), status=200)
    api_post(app, "organization_patch", {"id": "lyon", "referent_name": "Éditeur de Bron"},
             world.token("commune_editor"), status=403)
    api_post(app, "organization_patch", {"id": "lyon", "referent_name": "Admin de Lyon"},
             world.token("other_admin"), status=200)
    assert helpers.call_action("organization_show", id="lyon")["referent_name"] == "Admin de Lyon"


@pytest.mark.parametrize("role", ROLES)
def test_only_sysadmins_and_operators_create_and_delete_organisations(app, world, role):
    token = world.token(role)
    name = f"essai-{role.replace('_', '-')}"
    created = api_post(app, "organization_create", {"name": name, "title": "Essai"}, token)
    assert created.status_code == (200 if role in OPERATORS else 403), created.json
    if role not in OPERATORS:
        # An organisation the user administers: being its admin is still not enough to delete it.
        factories.Organization(name=name, users=[{"name": getattr(world, role)["name"], "capacity": "admin"}]
                               if role != "anonymous" else [])
    deleted = api_post(app, "organization_delete", {"id": name}, token)
    assert deleted.status_code == (200 if role in OPERATORS else 403), deleted.json
    state = helpers.call_action("organization_show", id=name)["state"]
    assert state == ("deleted" if role in OPERATORS else "active")


@pytest.mark.parametrize("role", ROLES)
def test_everyone_reads_commune_list_and_commune_show(app, world, role):
    token = world.token(role)
    headers = {"Authorization": token} if token else {}
    listed = app.get("/api/3/action/commune_list", headers=headers, status=200).json["result"]
    assert listed["count"] == 6
    shown = app.get("/api/3/action/commune_show?id=69029", headers=headers, status=200).json["result"]
    assert shown["name"] == "bron"


def test_programme_operator_is_an_admin_of_the_metropole_not_an_editor(world):
    assert programme.is_programme_operator(world.operator["name"])
    assert programme.is_programme_operator(world.sysadmin["name"])
    assert not programme.is_programme_operator(world.commune_admin["name"])
    assert not programme.is_programme_operator(None)
    editor = factories.User()
    helpers.call_action("organization_member_create", context={"ignore_auth": True}, id="metropole-de-lyon",
                        username=editor["name"], role="editor")
    assert not programme.is_programme_operator(editor["name"])


@pytest.mark.parametrize("role", ROLES)
def test_members_of_a_commune_are_managed_by_operators_and_its_own_admins_only(app, world, role):
    newcomer = factories.User()
    response = api_post(
        app, "organization_member_create", {"id": "bron", "username": newcomer["name"], "role": "editor"},
        world.token(role),
    )
    members = {m[0]: m[2] for m in helpers.call_action("member_list", id="bron", object_type="user")}
    try:
        if role in ("sysadmin", "operator", "commune_admin"):
            assert response.status_code == 200, response.json
            assert members.get(newcomer["id"]) == "Editor"
        else:
            assert response.status_code == 403, response.json
            assert newcomer["id"] not in members
    finally:
        if newcomer["id"] in members:
            helpers.call_action(
                "organization_member_delete", context={"user": world.sysadmin["name"]}, id="bron",
                username=newcomer["name"],
            )


@pytest.mark.parametrize("role", ROLES)
def test_removing_a_commune_member_is_reserved_to_operators_and_its_own_admins(app, world, role):
    member = factories.User()
    helpers.call_action(
        "organization_member_create", context={"user": world.sysadmin["name"]}, id="bron",
        username=member["name"], role="member",
    )
    response = api_post(app, "organization_member_delete", {"id": "bron", "username": member["name"]},
                        world.token(role))
    members = {m[0] for m in helpers.call_action("member_list", id="bron", object_type="user")}
    try:
        if role in ("sysadmin", "operator", "commune_admin"):
            assert response.status_code == 200, response.json
            assert member["id"] not in members
        else:
            assert response.status_code == 403, response.json
            assert member["id"] in members
    finally:
        if member["id"] in members:
            helpers.call_action(
                "organization_member_delete", context={"user": world.sysadmin["name"]}, id="bron",
                username=member["name"],
            )
