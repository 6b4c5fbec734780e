"""CKAN exempts a view from CSRF when an anonymous or API-token request reaches it; the exemption must
last that request only (ckanext/communes/csrf.py), or one anonymous POST would open the form to forged
posts from any site for the life of the process."""

from __future__ import annotations

import re

import pytest
from ckan import model
from ckan.tests import factories

PASSWORD = "correct-horse-battery-staple-42"


def _form_token(html: str) -> str:
    found = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def _log_in(app, name: str) -> None:
    token = _form_token(app.get("/user/login").body)
    app.post("/user/login", data={"login": name, "password": PASSWORD, "_csrf_token": token})
    assert name in app.get("/dashboard/datasets").body


@pytest.mark.usefixtures("clean_db", "with_plugins")
def test_a_logged_in_post_without_the_forms_token_is_refused_after_an_anonymous_post_to_the_same_form(app):
    user = factories.User(password=PASSWORD)
    # Anonymous POST first: CKAN exempts the view (dataset.new) for this request.
    app.post("/dataset/new", data={"name": "anonyme", "title": "Anonyme"}, follow_redirects=False)
    _log_in(app, user["name"])

    forged = app.post("/dataset/new", data={"name": "forge", "title": "Forgé"}, follow_redirects=False)
    assert forged.status_code == 400
    assert model.Package.get("forge") is None


@pytest.mark.usefixtures("clean_db", "with_plugins")
def test_an_api_token_post_needs_no_form_token_and_opens_nothing_for_sessions(app):
    user = factories.User(password=PASSWORD)
    token = factories.APIToken(user=user["name"])["token"]
    answered = app.post("/user/edit/" + user["name"], data={"fullname": "Par jeton"},
                        headers={"Authorization": token}, follow_redirects=False)
    assert answered.status_code != 400  # CKAN's intent kept: API tokens need no form token

    _log_in(app, user["name"])
    forged = app.post("/user/edit/" + user["name"], data={"fullname": "Forgé"}, follow_redirects=False)
    assert forged.status_code == 400
    assert model.User.get(user["name"]).fullname != "Forgé"
