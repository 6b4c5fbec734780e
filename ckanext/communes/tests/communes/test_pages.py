"""The French pages: the /communes index, /communes/<code>, a commune's organisation page and its
edit form (protected fields read-only for commune admins, refused if forged).
All tests share one seeded database (`world`)."""

from __future__ import annotations

import re

import lxml.html
import pytest
from ckan.tests import helpers


def _page(app, url: str, token: str | None = None, status: int = 200) -> lxml.html.HtmlElement:
    headers = {"Authorization": token} if token else {}
    return lxml.html.fromstring(app.get(url, headers=headers, status=status).body)


def _text(element) -> str:
    return " ".join(" ".join(element.itertext()).split()) if element is not None else ""


def _one(tree, xpath: str):
    found = tree.xpath(xpath)
    return found[0] if found else None


def _has_class(name: str) -> str:
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {name} ')"


def test_communes_index_lists_every_commune_with_status_obligation_and_datasets(app, world):
    page = _page(app, "/communes")
    assert "Les communes de la Métropole de Lyon" in _text(_one(page, "//h1"))
    rows = page.xpath("//table//tr[@data-insee]")
    assert [row.get("data-insee") for row in rows] == ["69003", "69029", "69096", "69116", "69123", "69149"]
    bron = _text(_one(page, '//tr[@data-insee="69029"]'))
    assert "Bron" in bron and "Phase 1 (pilote)" in bron
    headers = [_text(th) for th in page.xpath("//table//thead//th")]
    assert headers == ["Commune", "Code INSEE", "Statut de partenaire", "Obligation légale", "Jeux de données",
                       "Fin de la convention"]
    assert _one(page, f'//tr[@data-insee="69003"]//*[{_has_class("communes-obligation-not_obliged")}]') is not None


def test_communes_index_filters_by_partner_status(app, world):
    page = _page(app, "/communes?partner_status=phase2")
    assert [row.get("data-insee") for row in page.xpath("//tr[@data-insee]")] == ["69116"]
    assert _one(page, '//select[@id="communes-partner-status"]/option[@value="phase2"]').get("selected") is not None


def test_communes_index_with_an_unknown_status_shows_the_error_and_every_commune(app, world):
    page = _page(app, "/communes?partner_status=phase9")
    assert "Valeur inconnue phase9" in _text(_one(page, f'//*[{_has_class("alert-danger")}]'))
    assert len(page.xpath("//tr[@data-insee]")) == 6


def test_communes_index_flags_a_convention_that_ended(app, world):
    helpers.call_action("organization_patch", context={"user": world.sysadmin["name"]}, id="grigny-sur-rhone",
                        convention_signed="2019-06-01")
    row = _one(_page(app, "/communes"), '//tr[@data-insee="69096"]')
    assert "communes-convention-ended" in row.get("class")
    assert "Échue" in _text(row)
    flagged = _page(app, "/communes?expiring=1")
    assert "69096" in [r.get("data-insee") for r in flagged.xpath("//tr[@data-insee]")]


@pytest.mark.parametrize(("code", "name"), [("69152", "oullins-pierre-benite"), ("69029", "bron"),
                                            ("216900290", "bron"), ("69381", "lyon")])
def test_commune_address_redirects_to_its_organisation_page(app, world, code, name):
    response = app.get(f"/communes/{code}", follow_redirects=False)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/organization/{name}")


def test_commune_address_of_an_unknown_code_is_404(app, world):
    assert app.get("/communes/75056").status_code == 404


def test_commune_page_shows_profile_and_programme_above_its_datasets(app, world):
    page = _page(app, "/organization/bron")
    profile = _one(page, '//*[@id="commune-profile"]')
    assert profile is not None
    text = _text(profile)
    assert "Profil de la commune" in text and "Code INSEE 69029" in text and "SIREN 216900290" in text
    assert "Population municipale 42 850 (2022)" in text
    assert "Probablement obligée (nombre d'agents inconnu)" in text
    assert "Statut de partenaire Phase 1 (pilote)" in text
    # The datasets come after the profile.
    html = lxml.html.tostring(page, encoding="unicode")
    assert html.index('id="commune-profile"') < html.index("search-form")


def test_metropole_page_shows_its_profile_without_programme(app, world):
    profile = _text(_one(_page(app, "/organization/metropole-de-lyon"), '//*[@id="commune-profile"]'))
    assert "Profil de la Métropole" in profile and "200046977" in profile
    assert "Statut de partenaire" not in profile


def test_edit_form_shows_protected_fields_read_only_to_a_commune_admin(app, world):
    form = _page(app, "/organization/edit/bron", world.token("commune_admin"))
    for field in ("siren", "insee_code", "population", "agents_fte", "partner_status", "convention_end", "name"):
        assert _one(form, f'//*[@name="{field}"]') is None, field
        assert _one(form, f'//*[@id="field-{field}-readonly"]') is not None, field
    assert "216900290" in _text(_one(form, '//*[@id="field-siren-readonly"]'))
    assert "Modifiable uniquement par les opérateurs du programme" in _text(form)
    for field in ("description", "referent_email", "website", "referent_name"):
        assert _one(form, f'//*[@name="{field}"]') is not None, field


def test_edit_form_gives_inputs_to_a_programme_operator(app, world):
    form = _page(app, "/organization/edit/bron", world.token("operator"))
    for field in ("siren", "insee_code", "population", "agents_fte", "partner_status", "convention_end"):
        assert _one(form, f'//*[@name="{field}"]') is not None, field


def test_commune_editor_cannot_open_the_edit_form(app, world):
    for role in ("commune_editor", "other_admin"):
        response = app.get("/organization/edit/bron", headers={"Authorization": world.token(role)})
        assert response.status_code == 403, role


def _post_form(app, token: str, fields: dict[str, str]):
    headers = {"Authorization": token}
    form_page = app.get("/organization/edit/bron", headers=headers, status=200).body
    csrf = re.search(r'name="_csrf_token" value="([^"]+)"', form_page)
    data = {"_csrf_token": csrf.group(1) if csrf else "", "save": "", **fields}
    return app.post("/organization/edit/bron", data=data, headers=headers, follow_redirects=False)


def test_commune_admin_saves_the_form_and_protected_values_are_kept(app, world):
    before = helpers.call_action("organization_show", id="bron")
    response = _post_form(app, world.token("commune_admin"), {
        "title": "Bron", "description": "Données de la ville de Bron.", "referent_email": "donnees@ville-bron.fr",
    })
    assert response.status_code == 302, response.body[:500]
    after = helpers.call_action("organization_show", id="bron")
    assert after["referent_email"] == "donnees@ville-bron.fr"
    for field in ("siren", "insee_code", "population", "partner_status", "seeded_values", "name"):
        assert after[field] == before[field], field


def test_forged_siren_in_the_form_is_refused_with_a_french_error(app, world):
    before = helpers.call_action("organization_show", id="bron")
    response = _post_form(app, world.token("commune_admin"), {"title": "Bron", "siren": "216900332"})
    assert response.status_code == 200
    page = lxml.html.fromstring(response.body)
    assert "Seuls les opérateurs du programme" in _text(_one(page, f'//*[{_has_class("error-explanation")}]'))
    assert helpers.call_action("organization_show", id="bron")["siren"] == before["siren"]


def test_about_page_hides_the_seeder_bookkeeping_and_shows_choice_labels(app, world):
    page = _text(_page(app, "/organization/about/bron"))
    assert "Valeurs initialisées" not in page and "seeded" not in page
    assert "Phase 1 (pilote)" in page and "216900290" in page
