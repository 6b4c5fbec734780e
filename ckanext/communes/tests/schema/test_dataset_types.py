"""Only the dataset types our schema owns (and ckanext-harvest's sources) are written by non-sysadmins:
a type no plugin claims would get CKAN's default schema (no licence policy, no vocabularies, no derived
publisher) and still land in the commune's DCAT catalogue."""

from __future__ import annotations

import pytest
from ckan import model
from ckan.logic import NotAuthorized
from ckan.tests import factories, helpers

from ckanext.communes.tests.shared import ENVI

pytestmark = pytest.mark.usefixtures("clean_db", "clean_index")

CONTENT = {"title": "Arbres", "notes": "Les arbres de Bron.", "theme": [ENVI], "license_id": "etalab-2.0"}


def _post(app, action, data, user):
    token = factories.APIToken(user=user["name"])["token"]
    return app.post(f"/api/3/action/{action}", json=data, headers={"Authorization": token})


@pytest.mark.parametrize("dataset_type", ["jeu", "foo", "harvest-like", "organization"])
def test_a_commune_editor_cannot_create_a_dataset_of_a_type_no_schema_owns(app, bron, bron_editor, dataset_type):
    response = _post(app, "package_create", {**CONTENT, "name": "arbres", "owner_org": bron["id"],
                                             "type": dataset_type}, bron_editor)
    assert response.status_code == 403, response.json
    assert dataset_type in response.json["error"]["message"]
    assert helpers.call_action("package_search", include_private=True, include_drafts=True)["count"] == 0


def test_a_commune_admin_cannot_either_but_the_default_type_is_fine(app, bron, sysadmin):
    admin = factories.User()
    helpers.call_action("organization_member_create", context={"ignore_auth": True}, id=bron["id"],
                        username=admin["name"], role="admin")
    refused = _post(app, "package_create", {**CONTENT, "name": "arbres", "owner_org": bron["id"], "type": "jeu"},
                    admin)
    assert refused.status_code == 403
    created = _post(app, "package_create", {**CONTENT, "name": "arbres", "owner_org": bron["id"]}, admin)
    assert created.status_code == 200, created.json
    assert created.json["result"]["type"] == "dataset"
    # Our schema ran: licence normalised and flagged, publisher derived.
    assert created.json["result"]["licence_compliance"] == "authorised"
    assert created.json["result"]["publisher"][0]["identifier"] == "216900290"


def test_a_dataset_of_another_type_made_by_a_sysadmin_is_not_editable_by_the_commune(app, bron, bron_editor,
                                                                                    sysadmin):
    dataset = helpers.call_action("package_create", context={"user": sysadmin["name"]}, name="jeu-special",
                                  owner_org=bron["id"], type="jeu", title="Spécial", notes="x")
    assert dataset["type"] == "jeu"
    response = _post(app, "package_patch", {"id": dataset["id"], "title": "Modifié"}, bron_editor)
    assert response.status_code == 403, response.json
    response = _post(app, "resource_create", {"package_id": dataset["id"], "url": "https://example.org/a.csv"},
                     bron_editor)
    assert response.status_code == 403, response.json
    assert helpers.call_action("package_show", id=dataset["id"])["title"] == "Spécial"


def test_harvest_sources_type_is_left_to_the_harvest_rules(bron, bron_editor):
    """ckanext-harvest stores sources as datasets of type "harvest": our type rule lets them through to
    the harvest rules (operators only, harvesters/auth.py), where "jeu" is refused for its type."""
    operator = factories.User()
    factories.Organization(name="metropole-de-lyon", users=[{"name": operator["name"], "capacity": "admin"}])
    assert helpers.call_auth("package_create", {"user": operator["name"], "model": model}, type="harvest",
                             owner_org=bron["id"])
    with pytest.raises(NotAuthorized) as refused:
        helpers.call_auth("package_create", {"user": bron_editor["name"], "model": model}, type="harvest",
                          owner_org=bron["id"])
    assert "not managed by this portal" not in str(refused.value)  # the harvest rules refused it, not the type rule
    with pytest.raises(NotAuthorized) as refused:
        helpers.call_auth("package_create", {"user": operator["name"], "model": model}, type="jeu",
                          owner_org=bron["id"])
    assert "jeu" in str(refused.value)
