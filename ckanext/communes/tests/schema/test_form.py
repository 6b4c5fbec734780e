"""The dataset form (server-rendered): French labels, vocabulary pick lists, commune defaults
pre-filled, publisher shown and not typed; the dataset page shows labels, not URIs."""

from __future__ import annotations

from typing import Any

import pytest
from ckan.tests import factories, helpers

EU = "http://publications.europa.eu/resource/authority"

pytestmark = pytest.mark.usefixtures("clean_db", "clean_index")


@pytest.fixture
def editor_headers(bron) -> dict[str, str]:
    user = factories.UserWithToken()
    helpers.call_action("organization_member_create", context={"ignore_auth": True},
                        id=bron["id"], username=user["name"], role="editor")
    return {"Authorization": user["token"]}


def test_new_dataset_form_has_french_theme_and_frequency_pick_lists(app, editor_headers):
    html = app.get("/dataset/new", headers=editor_headers).body
    assert "Thèmes" in html and "Fréquence de mise à jour" in html
    assert f'value="{EU}/data-theme/ENVI"' in html and "Environnement" in html
    assert f'value="{EU}/frequency/ANNUAL"' in html and "Annuelle" in html


def test_new_dataset_form_prefills_the_commune_defaults(app, editor_headers):
    html = app.get("/dataset/new", headers=editor_headers).body
    assert 'value="http://id.insee.fr/geo/commune/69029"' in html
    assert 'value="opendata@ville-bron.fr"' in html
    assert "Pré-rempli d&#39;après le profil de Commune de Bron" in html or \
        "Pré-rempli d'après le profil de Commune de Bron" in html
    # The publisher is shown (derived), with no input to type it.
    assert "Commune de Bron — SIREN 216900290" in html
    assert 'name="publisher-0-name"' not in html


def test_new_dataset_form_preselects_public_access_and_french(app, editor_headers):
    html = app.get("/dataset/new", headers=editor_headers).body
    assert f'<option value="{EU}/access-right/PUBLIC" selected' in html
    assert f'value="{EU}/language/FRA"\n                    checked' in html or \
        f'value="{EU}/language/FRA" checked' in " ".join(html.split())


def test_dataset_page_shows_french_labels_of_stored_uris(app, sysadmin, bron):
    helpers.call_action(
        "package_create", context={"user": sysadmin["name"]}, name="arbres", title="Arbres",
        notes="Les arbres.", owner_org=bron["id"], theme=["ENVI"], frequency="ANNUAL",
        conforms_to=["scdl/subventions"], resources=[{"url": "https://bron.fr/arbres.csv"}],
        temporal_coverage=[{"start": "2020", "end": "2021-06"}],
    )
    html = app.get("/dataset/arbres").body
    assert "<dd>2020</dd>" in html and "<dd>2021-06</dd>" in html  # partial dates shown as they are
    # scheming passes string labels through gettext: CKAN's French catalogue gives "Publique".
    for label in ("Environnement", "Annuelle", "Publique", "Français", "Subventions", "Commune de Bron"):
        assert label in html
    assert ">CSV<" in html


def test_resource_page_shows_the_format_code(app, sysadmin, bron):
    dataset = helpers.call_action(
        "package_create", context={"user": sysadmin["name"]}, name="arbres", title="Arbres",
        notes="Les arbres.", owner_org=bron["id"], theme=["ENVI"],
        resources=[{"url": "https://bron.fr/arbres.geojson", "name": "Arbres"}],
    )
    resource_id = dataset["resources"][0]["id"]
    html = app.get(f"/dataset/arbres/resource/{resource_id}").body
    assert f'<a href="{EU}/file-type/GEOJSON">GeoJSON</a>' in html


def test_edit_form_keeps_hidden_dcat_fields(app, sysadmin, bron):
    """Fields not edited in the form (harvested identifier, version) are sent back as hidden inputs."""
    user: dict[str, Any] = factories.SysadminWithToken()
    helpers.call_action(
        "package_create", context={"user": sysadmin["name"]}, name="arbres", title="Arbres",
        notes="Les arbres.", owner_org=bron["id"], theme=["ENVI"], identifier="urn:bron:arbres",
        version="1.2",
    )
    html = app.get("/dataset/edit/arbres", headers={"Authorization": user["token"]}).body
    assert '<input type="hidden" name="identifier" value="urn:bron:arbres">' in html
    assert '<input type="hidden" name="version" value="1.2">' in html
