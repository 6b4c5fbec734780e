"""The ``communes_mqa`` action (bilan/mqa.py) on a real portal: datasets created through package_create,
checked by the background drain (SHACL, MQA facts, link checks against the fixture HTTP server), then the
MQA per dataset, commune, group of the bilan and catalogue, computed by hand below; who sees which datasets;
junk input answered with a French error naming the field, never a 500."""

from __future__ import annotations

import re
from typing import Any

import ckan.plugins.toolkit as tk
import pytest
from ckan import model
from ckan.tests import factories, helpers

from ckanext.communes.quality import background, linkcheck
from ckanext.communes.tests.shared import BRON, CSV, ENVI

LIMONEST = {"name": "limonest", "title": "Limonest", "insee_code": "69116", "siren": "216901165",
            "kind": "commune", "official_name": "Commune de Limonest", "partner_status": "phase2",
            "referent_name": "Dominique Petit", "referent_email": "opendata@limonest.fr"}
NOTES = "Inventaire des arbres d'alignement de la commune, mis à jour chaque année par le service des espaces verts."

# One public CSV dataset of Bron as our DCAT output writes it today, by hand (out of 405):
#   Findability 100: keywords, theme, spatial (the commune), temporal coverage.
#   Accessibility 100: the access URL answered (50); the link is a CSV file: our profile writes it as download
#     URL (20), which the link checker found answering (30).
#   Interoperability 110: format CSV, media type text/csv, both from their lists, non-proprietary,
#     machine-readable, DCAT-AP compliant.
#   Reusability 75: licence Etalab 2.0 (EU list), access rights PUBLIC (EU list), contact point, publisher.
#   Contextuality 15: issued, modified (the resource's dates), byte size (the size the link checker measured);
#     no rights.
ARBRES = {"findability": 100, "accessibility": 100, "interoperability": 110, "reusability": 75, "contextuality": 15}


def _dataset(org: dict[str, Any], name: str, url: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "title": name.capitalize(), "notes": NOTES, "owner_org": org["id"], "tag_string": "arbres",
            "theme": [ENVI], "license_id": "etalab-2.0", "temporal_coverage": [{"start": "2020-01-01"}],
            "resources": [{"url": url, "name": "CSV", "format": CSV}], **fields}


def _member(org: dict[str, Any], name: str, role: str) -> dict[str, Any]:
    user = factories.User(name=name)
    helpers.call_action("organization_member_create", context={"ignore_auth": True}, id=org["id"],
                        username=user["name"], role=role)
    return user


@pytest.fixture
def portal(source_server, allow_private_addresses) -> dict[str, Any]:
    sysadmin = factories.Sysadmin()
    bron = factories.Organization(user=sysadmin, **dict(BRON, partner_status="phase1"))
    limonest = factories.Organization(user=sysadmin, **LIMONEST)
    metropole = factories.Organization(user=sysadmin, name="metropole-de-lyon", title="Métropole de Lyon")
    for path in ("/arbres.csv", "/prive.csv", "/voirie.csv"):
        source_server.serve(path, "a;b\n1;2\n", content_type="text/csv")
    context = {"user": sysadmin["name"]}
    ids = {
        "arbres": helpers.call_action("package_create", context=dict(context),
                                      **_dataset(bron, "arbres", source_server.url("/arbres.csv")))["id"],
        "prive": helpers.call_action("package_create", context=dict(context), private=True,
                                     **_dataset(bron, "prive", source_server.url("/prive.csv")))["id"],
        "voirie": helpers.call_action("package_create", context=dict(context),
                                      **_dataset(limonest, "voirie", source_server.url("/voirie.csv")))["id"],
    }
    background.drain(size=10)
    model.Session.expire_all()
    users = {
        "anonymous": "",
        "other_commune": _member(limonest, "editeur-limonest", "editor")["name"],
        "editor": _member(bron, "editeur-bron", "editor")["name"],
        "admin": _member(bron, "admin-bron", "admin")["name"],
        "operator": _member(metropole, "operateur", "admin")["name"],
        "sysadmin": sysadmin["name"],
    }
    return {"ids": ids, "users": users, "bron": bron, "limonest": limonest, "source": source_server}


def mqa(user: str = "", **data: Any) -> dict[str, Any]:
    return helpers.call_action("communes_mqa", context={"user": user, "ignore_auth": False}, **data)


def _dimensions(result: dict[str, Any]) -> dict[str, float]:
    return {d["name"]: round(d["points"], 6) for d in result["dimensions"]}


@pytest.mark.usefixtures("clean_db", "clean_index")
class TestTheMqaOfAPortal:
    def test_a_datasets_mqa_is_the_one_computed_by_hand(self, portal):
        result = mqa(scope="dataset", id="arbres")
        assert (result["scope"], result["id"]) == ("dataset", portal["ids"]["arbres"])
        assert (result["datasets"], result["distributions"], result["pending"]) == (1, 1, 0)
        assert _dimensions(result) == ARBRES
        assert (round(result["points"], 6), result["max"], result["rating"], result["rating_label"]) == (
            400, 405, "excellent", "Excellent")
        assert [(i["name"], i["weight"] - i["points"]) for i in result["missed"]] == [("rights", 5)]

    def test_a_commune_and_the_catalogue_are_the_shares_of_their_datasets(self, portal):
        # Bron, as anonymous: the public dataset only, the same as its dataset.
        assert _dimensions(mqa(scope="organization", id="bron")) == ARBRES
        # The catalogue as anonymous: arbres and voirie, written alike: the same shares.
        catalogue = mqa(scope="catalogue")
        assert (catalogue["id"], catalogue["datasets"], catalogue["distributions"]) == (None, 2, 2)
        assert _dimensions(catalogue) == ARBRES
        # voirie's link broken at its next check: its access and download URLs answer no more: 1 of 2
        # distributions for both (25 of 50, 15 of 30); both still have a download URL (20).
        portal["source"].serve("/voirie.csv", "gone", content_type="text/plain", status=404)
        linkcheck.check_dataset_now(portal["ids"]["voirie"])
        model.Session.expire_all()
        assert _dimensions(mqa(scope="catalogue"))["accessibility"] == 60
        assert _dimensions(mqa(scope="organization", id="limonest"))["accessibility"] == 20

    def test_giving_the_files_link_instead_of_a_web_page_raises_accessibility_by_the_download_weights(self, portal):
        source = portal["source"]
        source.serve("/plan", "<html><body>Plan</body></html>", content_type="text/html")
        source.serve("/plan.csv", "a;b\n1;2\n", content_type="text/csv")
        created = helpers.call_action(
            "package_create", context={"user": portal["users"]["sysadmin"]},
            **_dataset(portal["bron"], "plan", source.url("/plan"), resources=[
                {"url": source.url("/plan"), "name": "Page", "format": "http://publications.europa.eu/resource/"
                 "authority/file-type/HTML"}]))
        background.drain(size=10)
        model.Session.expire_all()
        before = mqa(scope="dataset", id="plan")
        # A web page: no download URL (0 + 0); its access URL answered (50).
        assert _dimensions(before)["accessibility"] == 50
        pkg = helpers.call_action("package_show", id=created["id"])
        pkg["resources"][0].update(url=source.url("/plan.csv"), format=CSV)
        helpers.call_action("package_update", context={"user": portal["users"]["sysadmin"]}, **pkg)
        # Saved, not checked yet: the MQA still reads the last check's facts (no guess).
        assert _dimensions(mqa(scope="dataset", id="plan")) == _dimensions(before)
        background.drain(size=10)
        model.Session.expire_all()
        after = mqa(scope="dataset", id="plan")
        # The file's own link: a download URL (20) that answers (30); the access URL still answers.
        assert _dimensions(after)["accessibility"] - _dimensions(before)["accessibility"] == 50

    def test_a_dataset_saved_but_not_checked_yet_is_pending(self, portal):
        helpers.call_action("package_create", context={"user": portal["users"]["sysadmin"]},
                            **_dataset(portal["bron"], "nouveau", portal["source"].url("/arbres.csv")))
        result = mqa(scope="organization", id="bron")
        assert (result["datasets"], result["pending"]) == (1, 1)
        alone = mqa(scope="dataset", id="nouveau")
        assert (alone["datasets"], alone["pending"], alone["points"], alone["rating"]) == (0, 1, 0, None)

    def test_a_group_of_the_bilan_counts_its_communes_datasets(self, portal):
        assert mqa(scope="group", id="phase1")["datasets"] == 1  # Bron's public dataset
        assert mqa(scope="group", id="phase2")["datasets"] == 1  # Limonest's
        assert mqa(scope="group", id="all_communes")["datasets"] == 2
        assert mqa(scope="group", id="generalisation")["datasets"] == 0

    @pytest.mark.parametrize(("role", "bron_datasets", "catalogue_datasets"), [
        ("anonymous", 1, 2), ("other_commune", 1, 2), ("operator", 1, 2),
        ("editor", 2, 3), ("admin", 2, 3), ("sysadmin", 2, 3)])
    def test_private_datasets_count_only_for_those_who_may_read_them(self, portal, role, bron_datasets,
                                                                     catalogue_datasets):
        user = portal["users"][role]
        assert mqa(user, scope="organization", id="bron")["datasets"] == bron_datasets
        assert mqa(user, scope="catalogue")["datasets"] == catalogue_datasets
        assert mqa(user, scope="group", id="phase1")["datasets"] == bron_datasets
        if bron_datasets == 2:
            assert mqa(user, scope="dataset", id="prive")["datasets"] == 1
        else:
            with pytest.raises(tk.NotAuthorized):
                mqa(user, scope="dataset", id="prive")


@pytest.mark.usefixtures("clean_db", "clean_index")
@pytest.mark.parametrize(("data", "error", "field"), [
    ({}, tk.ValidationError, "scope"),
    ({"scope": "planet"}, tk.ValidationError, "scope"),
    ({"scope": ["dataset"]}, tk.ValidationError, "scope"),
    ({"scope": "dataset"}, tk.ValidationError, "id"),
    ({"scope": "dataset", "id": {"a": 1}}, tk.ValidationError, "id"),
    ({"scope": "dataset", "id": "x" * 500}, tk.ValidationError, "id"),
    ({"scope": "dataset", "id": "nulle-part"}, tk.ObjectNotFound, None),
    ({"scope": "organization", "id": "nulle-part"}, tk.ObjectNotFound, None),
    ({"scope": "group", "id": "phase9"}, tk.ValidationError, "id"),
])
def test_junk_input_gets_a_clear_error(data, error, field):
    with pytest.raises(error) as raised:
        mqa(**data)
    if field:
        assert field in raised.value.error_dict


@pytest.mark.usefixtures("clean_db", "clean_index")
@pytest.mark.parametrize("query", ["scope=planet", "scope=dataset&id=nulle-part", "scope=group&id=%00",
                                   "scope=organization", "id=1&id=2&scope=dataset&scope=catalogue"])
def test_junk_through_the_api_is_never_a_500(app, query):
    response = app.get(f"/api/3/action/communes_mqa?{query}")
    assert response.status_code in (400, 404, 409)
    assert response.json["success"] is False


@pytest.mark.usefixtures("clean_db", "clean_index")
def test_the_api_answers_the_catalogue_in_french(app):
    response = app.get("/api/3/action/communes_mqa?scope=catalogue")
    assert response.status_code == 200
    result = response.json["result"]
    assert (result["datasets"], result["max"], result["rating"]) == (0, 405, None)
    assert [d["label"] for d in result["dimensions"]] == [
        "Trouvabilité", "Accessibilité", "Interopérabilité", "Réutilisabilité", "Contexte"]


@pytest.mark.usefixtures("clean_db", "clean_index")
class TestTheDatasetPage:
    def test_the_dataset_page_shows_the_points_per_dimension_and_the_lost_points_largest_first(self, app, portal):
        page = app.get("/dataset/arbres").body
        block = page[page.index('id="communes-mqa"'):]
        block = block[:block.index("</section>")]
        assert ">400</strong>&nbsp;/&nbsp;405" in block and '"communes-mqa-rating">Excellent<' in block
        for label, points in (("Trouvabilité", "100&nbsp;/&nbsp;100"), ("Accessibilité", "100&nbsp;/&nbsp;100"),
                              ("Interopérabilité", "110&nbsp;/&nbsp;110"), ("Contexte", "15&nbsp;/&nbsp;20")):
            assert label in block and points in block
        assert 'data-indicator="rights"' in block and "(−5 points)" in block
        assert "Précisez les droits sur chaque ressource" in block

    def test_the_lost_points_come_largest_first(self, app, portal):
        source = portal["source"]
        source.serve("/plan", "<html><body>Plan</body></html>", content_type="text/html")
        helpers.call_action("package_create", context={"user": portal["users"]["sysadmin"]}, **_dataset(
            portal["bron"], "plan", source.url("/plan"), resources=[
                {"url": source.url("/plan"), "name": "Page",
                 "format": "http://publications.europa.eu/resource/authority/file-type/HTML"}]))
        background.drain(size=10)
        model.Session.expire_all()
        page = app.get("/dataset/plan").body
        block = page[page.index('id="communes-mqa"'):]
        block = block[:block.index("</section>")]
        # A web page: no download URL (30 and 20 lost), not machine-readable (20), no media type checked by
        # IANA... each with its lost points, largest first.
        lost = [int(found) for found in re.findall(r"\(−(\d+) points\)", block)]
        assert lost == sorted(lost, reverse=True) and lost[0] == 30
        assert "Déposez le fichier sur le portail ou donnez le lien direct" in block

    def test_a_dataset_not_checked_yet_says_so(self, app, portal):
        helpers.call_action("package_create", context={"user": portal["users"]["sysadmin"]},
                            **_dataset(portal["bron"], "nouveau", portal["source"].url("/arbres.csv")))
        page = app.get("/dataset/nouveau").body
        assert 'data-mqa-rating="pending"' in page
        assert "Pas encore évalué : la vérification de ce jeu de données est en attente." in page

    def test_the_commune_page_shows_its_rating_over_the_datasets_the_visitor_may_read(self, app, portal):
        page = app.get("/organization/bron").body
        block = page[page.index('id="communes-commune-mqa"'):]
        block = block[:block.index("</section>")]
        # Anonymous: the public dataset only (the private one is not counted), the same as its dataset page.
        assert ">400</strong>&nbsp;/&nbsp;405" in block and "(1 jeux de données)" in block
        assert "(−5 points ; 0&nbsp;% atteint)" in block


@pytest.mark.usefixtures("clean_db", "clean_index")
def test_the_bilan_has_the_mqa_of_each_commune_and_group_over_public_datasets(portal):
    from ckanext.communes.bilan import cache

    cache.bump()  # figures cached by an earlier test of the same day
    communes = {row["key"]: row for row in helpers.call_action("communes_bilan", group_by="commune")["rows"]}
    # Bron: arbres only (its private dataset is not in the bilan), 400 as on its page; Limonest: voirie, alike.
    assert communes["69029"]["values"]["mqa_points"] == 400
    assert communes["69029"]["details"]["mqa"] == {
        "rating": "excellent", "rating_label": "Excellent", "datasets": 1, "pending": 0, "dimensions": ARBRES}
    assert communes["69116"]["values"]["mqa_points"] == 400
    assert communes["69123"]["values"]["mqa_points"] is None  # Lyon: no organisation, nothing to assess
    groups = {row["key"]: row for row in helpers.call_action("communes_bilan", group_by="phase")["rows"]}
    assert (groups["phase1"]["values"]["mqa_points"], groups["phase2"]["values"]["mqa_points"],
            groups["all_communes"]["values"]["mqa_points"], groups["generalisation"]["values"]["mqa_points"]) == (
        400, 400, 400, None)
    assert groups["all_communes"]["details"]["mqa"]["datasets"] == 2


@pytest.mark.usefixtures("clean_db", "clean_index")
def test_the_bilan_page_shows_the_mqa_rating_its_charts_and_the_dashboard_today_and_frozen(app, portal):
    """The figures above on the page: Bron and Limonest 400 out of 405, Excellent; Lyon has nothing."""
    import json

    import lxml.html

    from ckanext.communes.bilan import cache, snapshots

    cache.bump()
    frozen = snapshots.create("Bilan MQA", portal["users"]["sysadmin"])
    for url in ("/communes/bilan", f"/communes/bilan?snapshot={frozen['id']}"):
        page = lxml.html.fromstring(app.get(url).body)

        def text(xpath: str, page: Any = page, url: str = url) -> str:
            found = page.xpath(xpath)
            assert len(found) == 1, (url, xpath, len(found))
            return " ".join(" ".join(found[0].itertext()).split())

        cell = ('//table[contains(@class, "bilan-communes-table")]//tr[@data-insee="{}"]'
                '/td[@data-indicator="mqa_points"]')
        assert text(cell.format("69029")) == "400 sur 405 — Excellent", url
        assert page.xpath(cell.format("69029"))[0].get("data-mqa-rating") == "excellent"
        assert text(cell.format("69123")) == "—", url
        group = '//table[contains(@class, "bilan-groups-table")]//tr[@data-indicator="mqa_points"]/td[@data-group="{}"]'
        assert text(group.format("phase1")) == "400 sur 405 — Excellent"
        assert text(group.format("generalisation")) == "—"
        by_commune = json.loads(text('//script[@id="bilan-chart-mqa_by_commune-data"]'))
        assert (by_commune["labels"], by_commune["series"][0]["data"], by_commune["max"]) == (
            ["Bron", "Limonest"], [400, 400], 405)
        rows = page.xpath('//table[@data-chart-table="mqa_by_commune"]/tbody/tr')
        assert [" ".join(" ".join(r.itertext()).split()) for r in rows] == ["Bron 400", "Limonest 400"]
        by_group = json.loads(text('//script[@id="bilan-chart-mqa_by_group-data"]'))
        assert by_group["series"][0]["data"] == [400, 400, None, None, 400]
    # The dashboard of Bron (its admin): its rating beside the phase's median, a link to the points per dimension.
    token = factories.APIToken(user=portal["users"]["admin"])["token"]
    body = app.get("/organization/bron", headers={"Authorization": token}).body
    page = lxml.html.fromstring(body)
    line = page.xpath('//table[contains(@class, "bilan-dashboard-figures")]//tr[@data-indicator="mqa_points"]')[0]
    assert [" ".join(" ".join(td.itertext()).split()) for td in line.xpath("./td[@data-side]")] == [
        "400 sur 405 — Excellent", "400 sur 405"]
    assert page.xpath('//*[contains(@class, "bilan-dashboard-mqa")]/a')[0].get("href") == "#communes-commune-mqa"
    assert page.xpath('//*[@id="communes-commune-mqa"]//tr[@data-dimension]')  # the block it leads to
