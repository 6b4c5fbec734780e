"""/licences/<id>: the page behind the URI the RDF mints for a licence with no EU URI and no URL."""

from __future__ import annotations

import pytest

from ckanext.communes import uris


@pytest.mark.parametrize("licence_id, title, is_open", [
    ("grandlyon-engagee", "Licence engagée", "no"),
    ("other-closed", "Autre licence (non ouverte)", "no"),
    ("other-at", "Autre licence (attribution)", "yes"),
])
def test_the_minted_licence_uri_is_a_french_page_saying_whether_the_licence_is_open(app, licence_id, title,
                                                                                     is_open):
    with app.flask_app.test_request_context():
        path = uris.licence_uri(licence_id).split("://", 1)[1].split("/", 1)[1]
    page = app.get("/" + path, status=200).body
    assert title in page
    assert f'data-licence-open="{is_open}"' in page


def test_an_unknown_licence_page_is_a_404(app):
    assert app.get("/licences/tous-droits-reserves", status=404).status_code == 404
