"""Junk, huge and malformed input found by probing the portal from outside: each gets a 4xx with a
French message naming the field or parameter, over HTTP, and nothing is written."""

from __future__ import annotations

import pytest
from ckan.tests import factories, helpers

from ckanext.communes.tests.shared import BRON, ENVI

pytestmark = pytest.mark.usefixtures("clean_db", "clean_index")

CONTENT = {"title": "Arbres", "notes": "Les arbres de Bron.", "theme": [ENVI], "license_id": "etalab-2.0"}


@pytest.fixture
def bron():
    sysadmin = factories.Sysadmin()
    org = factories.Organization(user=sysadmin, **BRON)
    admin, editor = factories.User(), factories.User()
    for user, role in ((admin, "admin"), (editor, "editor")):
        helpers.call_action("organization_member_create", context={"ignore_auth": True}, id=org["id"],
                            username=user["name"], role=role)
    tokens = {role: factories.APIToken(user=user["name"])["token"]
              for role, user in (("sysadmin", sysadmin), ("admin", admin), ("editor", editor))}
    return {"org": org, "tokens": tokens}


def _post(app, action, data, token):
    return app.post(f"/api/3/action/{action}", json=data, headers={"Authorization": token})


def _dataset_count() -> int:
    return helpers.call_action("package_search", include_private=True, include_drafts=True)["count"]


@pytest.mark.parametrize("role", ["sysadmin", "admin"])
@pytest.mark.parametrize("field, value", [
    ("population", "1e1000000"),
    ("population", "9" * 5000),
    ("population", 1e300),
    ("agents_fte", "1e1000000"),
    ("agents_fte", "NaN"),
])
def test_huge_or_non_finite_numbers_on_a_commune_are_refused_not_a_server_error(app, bron, role, field, value):
    before = helpers.call_action("organization_show", id="bron")
    response = _post(app, "organization_patch", {"id": "bron", field: value}, bron["tokens"][role])
    # The operator gets the field error (409); the commune's admin may not touch the field at all (403).
    assert response.status_code == (409 if role == "sysadmin" else 403), response.json
    if role == "sysadmin":
        assert field in response.json["error"]
        assert "Saisissez" in response.json["error"][field][0]
    after = helpers.call_action("organization_show", id="bron")
    assert after.get(field) == before.get(field)


def test_a_theme_of_a_thousand_brackets_is_a_field_error(app, bron):
    response = _post(app, "package_create", {**CONTENT, "name": "arbres", "owner_org": bron["org"]["id"],
                                             "theme": "[" * 1000}, bron["tokens"]["editor"])
    assert response.status_code == 409, response.json
    [message] = response.json["error"]["theme"]
    assert message.startswith("Thème inconnu")
    assert len(message) < 400  # the value is shortened in the message, not echoed whole
    assert _dataset_count() == 0


@pytest.mark.parametrize("url", ["http://[x/a.csv", "https://exemple.fr:port/a.csv"])
def test_a_malformed_resource_url_without_format_is_a_field_error(app, bron, url):
    response = _post(app, "package_create", {**CONTENT, "name": "arbres", "owner_org": bron["org"]["id"],
                                             "resources": [{"url": url}]}, bron["tokens"]["editor"])
    assert response.status_code == 409, response.json
    [resource_errors] = response.json["error"]["resources"]
    assert resource_errors["url"][0].startswith("URL invalide")
    assert _dataset_count() == 0


@pytest.mark.parametrize("path", ["/communes/69029/catalog.ttl", "/catalog.ttl"])
@pytest.mark.parametrize("query, parameter", [
    ("page=99999999999", "page"),
    ("page=abc", "page"),
    ("page=0", "page"),
    ("page=-1", "page"),
    ("page=1.5", "page"),
    ("modified_since=99999999999999999999", "modified_since"),
    ("modified_since=pas-une-date", "modified_since"),
    ("modified_since=" + "9" * 5000, "modified_since"),
])
def test_bad_catalogue_parameters_are_a_400_naming_the_parameter(app, bron, path, query, parameter):
    response = app.get(f"{path}?{query}")
    assert response.status_code == 400, response.body[:300]
    assert response.headers["Content-Type"].startswith("text/plain")
    assert f"Paramètre {parameter} invalide" in response.body


@pytest.mark.parametrize("path", ["/communes/69029/catalog.ttl", "/catalog.ttl"])
def test_good_catalogue_parameters_still_work(app, bron, path):
    assert app.get(f"{path}?page=1&modified_since=2024-01-31").status_code == 200
    assert app.get(f"{path}?page=2").status_code == 200


def test_an_api_body_nested_thousands_of_levels_deep_is_a_400_not_a_500(app):
    # CKAN's json parsing raises RecursionError on it, answered with a 500 on every action.
    body = "[" * 5000 + "]" * 5000
    for action in ("package_search", "package_create", "communes_bilan"):
        answer = app.post(f"/api/3/action/{action}", data=body, content_type="application/json", status=400).json
        assert answer["success"] is False
        assert "imbriqué sur plus de 100 niveaux" in answer["error"]["message"]


def test_an_api_body_with_many_brackets_inside_strings_or_side_by_side_is_not_refused(app):
    from ckanext.communes.web.api_guard import json_depth

    assert json_depth(b'{"q": "' + b"[" * 5000 + b'"}') == 1
    assert json_depth(b'{"a": [' + b"[1]," * 500 + b"[2]]}") == 3
    answer = app.post("/api/3/action/package_search", data='{"q": "' + "[" * 500 + '", "rows": 1}',
                      content_type="application/json")
    assert answer.status_code != 500 and "imbriqué" not in answer.body


@pytest.mark.usefixtures("clean_db", "clean_index")
@pytest.mark.parametrize("page", ["abc", "-1", "0", "1.5", "", "99999999999999999999", "100001"])
def test_a_page_number_that_is_none_is_a_french_400_on_every_page(app, page):
    """ckanext-harvest's source page did int(page) (500 for "abc"), and a negative or huge page reached Solr
    or PostgreSQL (500) there and on CKAN's organisation list."""
    sysadmin = factories.Sysadmin()
    organisation = factories.Organization()
    helpers.call_action("harvest_source_create", context={"user": sysadmin["name"]}, name="source-pages",
                        title="Source", url="http://example.org/catalog.ttl", source_type="communes_dcat",
                        owner_org=organisation["id"])
    headers = {"Authorization": factories.APIToken(user=sysadmin["name"])["token"]}
    for path in ("/harvest/source-pages", "/organization", "/harvest", "/dataset"):
        response = app.get(path, query_string={"page": page}, headers=headers, status=400)
        assert "Le numéro de page doit être un nombre entier de 1 à 100" in response.body, path
    assert app.get("/harvest/source-pages", query_string={"page": "1"}, headers=headers).status_code == 200


@pytest.mark.usefixtures("clean_db", "clean_index")
@pytest.mark.parametrize("path, query, message", [
    ("/user", {"limit": "abc"}, "La limite doit être un nombre entier de 1 à 1"),
    ("/user", {"limit": "-1"}, "La limite doit être un nombre entier de 1 à 1"),
    ("/organization", {"q": "bron\x00"}, "caractère nul"),
    ("/group", {"q": "\x00"}, "caractère nul"),
    ("/user", {"q": "\x00"}, "caractère nul"),
    ("/organization/bron", {"sort": "abc"}, "L'ordre de tri doit être un champ suivi de asc ou desc"),
    ("/organization/bron", {"sort": "title_string asc; x"}, "L'ordre de tri doit être un champ suivi de asc ou desc"),
    ("/organization/bron", {"q": "{!xmlparser v='x'}"}, "paramètres locaux Solr"),
    ("/organization/bron", {"res_format": "{!xmlparser}"}, "paramètres locaux Solr"),
])
def test_query_parameters_ckan_pages_choke_on_are_a_french_400(app, path, query, message):
    """Each was a 500 from CKAN's own views (int() on limit, NUL in SQL, Solr errors uncaught on the
    organisation page; a negative limit also left the request's database session broken)."""
    factories.Organization(name="bron")
    response = app.get(path, query_string=query, status=400)
    assert message in response.body.replace("&#39;", "'"), response.body[-2000:]


@pytest.mark.usefixtures("clean_db", "clean_index")
def test_good_query_parameters_still_work(app):
    factories.Organization(name="bron")
    for path, query in (("/organization/bron", {"sort": "title_string asc"}),
                        ("/dataset", {"sort": "score desc, metadata_modified desc", "page": "2"}),
                        ("/user", {"limit": "50", "q": "bron"}),
                        ("/communes/bilan", {"sort": "datasets", "dir": "desc"})):
        assert app.get(path, query_string=query).status_code == 200, (path, query)


def test_a_null_character_in_an_action_api_parameter_is_a_json_400(app):
    response = app.get("/api/3/action/organization_list", query_string={"q": "\x00"}, status=400)
    assert response.json["success"] is False
    assert "caractère nul" in response.json["error"]["message"]


@pytest.mark.usefixtures("clean_db", "clean_index")
@pytest.mark.parametrize("action, body", [
    ("organization_list", '{"q": "\\u0000"}'),
    ("user_list", '{"q": "a\\u0000b"}'),
    ("tag_list", '{"query": "\\u0000"}'),
    ("member_list", '{"id": "\\u0000"}'),
    ("package_activity_list", '{"id": "\\u0000"}'),
    ("organization_patch", '{"id": "bron", "description": "\\u0000"}'),
])
def test_a_null_character_in_an_action_api_body_is_a_french_400(app, action, body):
    """Each was a 500 from CKAN (PostgreSQL refuses NUL in a string)."""
    sysadmin = factories.Sysadmin()
    factories.Organization(name="bron")
    token = factories.APIToken(user=sysadmin["name"])["token"]
    response = app.post(f"/api/3/action/{action}", data=body, status=400,
                        headers={"Authorization": token, "Content-Type": "application/json"})
    assert response.json["error"]["message"] == "Une valeur de la requête contient un caractère nul."
    # An escaped backslash before "u0000" is text, not a NUL: not refused.
    assert app.post("/api/3/action/organization_list", data='{"q": "\\\\u0000"}',
                    headers={"Content-Type": "application/json"}).status_code == 200


@pytest.mark.usefixtures("clean_db", "clean_index")
def test_a_null_character_in_a_posted_form_is_a_french_400(app):
    sysadmin = factories.Sysadmin()
    token = factories.APIToken(user=sysadmin["name"])["token"]
    response = app.post("/organization/new", data={"title": "Bron\x00", "name": "bron-nul"},
                        headers={"Authorization": token}, status=400)
    assert "Un champ du formulaire contient un caractère nul." in response.body
    assert helpers.call_action("organization_list") == []
