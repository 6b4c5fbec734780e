"""The bilan probed from outside, as each role, with hostile input (issue #11's hostile review).

What the probe found and these tests pin down:
- a private or deleted harvest source leaked its title and id through the bilan's ``by_source`` details
  (API, JSON export, snapshots), although the bilan is a public report;
- a snapshot label written like a formula (``=HYPERLINK(...)``) became a live formula in the XLSX
  download, and CSV text cells were not neutralised either;
- CKAN exempts a view from CSRF for the whole process once an anonymous or API-token request reached it:
  after one anonymous POST, an operator's browser could be made to freeze bilans from any site;
- GET on the freeze form's address answered CKAN's English 404; the error pages of the bilan had
  werkzeug's English headings ("400 Bad Request") and, for a form too big to read, its English text;
- the snapshots' authors (user names) were shown to anonymous visitors even when the portal hides user
  details (``ckan.auth.public_user_details = false``);
- ``ckan communes bilan snapshot --user`` recorded any name as the author, even nobody's;
- the comparison read « Du … au Chiffres du jour » in French, and a snapshot taken in English (the form
  under /en/, or outside a request) showed "Published by hand" to French readers.
And what held, kept as guards: private, deleted and Métropole datasets and harvest sources never counted
nor named in any output for any role; the commune dashboard shown to members only.

The portal: tests/bilan/conftest.py (datasets B1-B3 of Bron, L1-L3 of Lyon, A1, G1, M1 of the Métropole;
harvest sources S1 "Portail de Bron", owned by Bron, and S2 "Data Grand Lyon", owned by the Métropole)."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from typing import Any

import lxml.html
import openpyxl
import pytest
from ckan import model
from ckan.tests import factories, helpers

from ckanext.communes.bilan import exports, indicators, snapshots
from ckanext.communes.bilan.model import BilanSnapshot
from ckanext.communes.tests.communes.conftest import api_post

UNLISTED_TITLE = "Source de moissonnage non publique (privée ou supprimée)"
MANUAL_TITLE = "Publiés à la main"
FORMULA_LABEL = '=HYPERLINK("http://evil.example/","clic")'
PASSWORD = "Bilan-2019-communes"
ROLES = ("anonymous", "sysadmin", "operator", "commune_admin", "commune_editor", "other_admin")


def _headers(token: str | None) -> dict[str, str]:
    return {"Authorization": token} if token else {}


def _api(app: Any, action: str, params: dict[str, Any], token: str | None = None, status: int = 200) -> Any:
    return app.get(f"/api/3/action/{action}", query_string=params, headers=_headers(token), status=status).json


def _rows(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["key"]: row for row in result["rows"]}


def _freeze(app: Any, label: str, author: str) -> dict[str, Any]:
    """A snapshot taken as the CLI does, in a request context of its own. Not the `with_request_context`
    fixture: while a test holds an app context, the test client's requests share its `g`, hence the first
    request's user (flask-login caches it there), and a test of several roles would see only one."""
    with app.flask_app.test_request_context():
        return snapshots.create(label, author)


def _xlsx_text(content: bytes) -> str:
    """Every XML part of an XLSX file, as text (the cells, the shared strings, the formulas)."""
    archive = zipfile.ZipFile(io.BytesIO(content))
    return "".join(archive.read(name).decode("utf-8") for name in archive.namelist() if name.endswith(".xml"))


# ------------------------------------------------------------------------------------- spreadsheet formulas

def test_a_snapshot_label_written_like_a_formula_stays_text_in_the_xlsx(app, shared_portal):
    meta = _freeze(app, FORMULA_LABEL, "operateur")
    downloads = [app.get("/communes/bilan/export.xlsx", query_string={"snapshot": meta["id"]}).bytes]
    as_api = _api(app, "communes_bilan", {"snapshot": meta["id"], "format": "xlsx"})["result"]["content"]
    downloads.append(__import__("base64").b64decode(as_api))
    for content in downloads:
        assert "<f>" not in _xlsx_text(content)  # no formula anywhere in the workbook
        about = openpyxl.load_workbook(io.BytesIO(content))["À propos"]
        cell = next(row[1] for row in about.iter_rows() if row[0].value == "Instantané")
        assert (cell.value, cell.data_type, cell.quotePrefix) == (FORMULA_LABEL, "s", True)


def test_csv_and_xlsx_text_cells_that_start_like_a_formula_are_neutralised_and_negative_figures_are_not(
        shared_portal, with_request_context):
    bilan = indicators.compute("commune")
    hostile = ["=1+1", "@SUM(A1:A9)", "+33 4 78 00 00 00", "-2-3", "\tcmd"]
    for row, name in zip(bilan["rows"], hostile, strict=False):
        row["name"] = name
    bilan["rows"][0]["values"]["convention_days_left"] = -30  # a convention ended 30 days ago

    table = list(csv.reader(io.StringIO(exports.to_csv(bilan).decode("utf-8-sig")), delimiter=";"))
    assert [line[1] for line in table[1:6]] == ["'=1+1", "'@SUM(A1:A9)", "'+33 4 78 00 00 00", "'-2-3", "'\tcmd"]
    # The convention's column (the HVD and MQA columns follow it).
    days_left = len(table[0]) - len(bilan["indicators"]) + [i["key"] for i in bilan["indicators"]].index(
        "convention_days_left")
    assert table[1][days_left] == "-30"

    content = exports.to_xlsx(bilan)
    assert "<f>" not in _xlsx_text(content)
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    names = [sheet.cell(row, 2) for row in range(2, 7)]
    assert [(cell.value, cell.data_type, cell.quotePrefix) for cell in names] == [
        (name, "s", True) for name in hostile]
    assert sheet.cell(2, days_left + 1).value == -30 and sheet.cell(2, days_left + 1).data_type == "n"


# ---------------------------------------------------------------------------------------------- the form

def _form_token(page_html: str) -> str:
    found = re.search(r'name="_csrf_token" value="([^"]+)"', page_html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def _log_in(app: Any, name: str, password: str) -> None:
    """Log in through the login form: the test client keeps the session cookie, as a browser does."""
    token = _form_token(app.get("/user/login").body)
    app.post("/user/login", data={"login": name, "password": password, "_csrf_token": token})
    assert 'id="bilan-freeze"' in app.get("/communes/bilan").body, "not logged in as an operator"


def test_an_operators_session_cannot_freeze_without_the_forms_token_even_after_an_anonymous_post(app, shared_portal):
    operator = factories.User(password=PASSWORD)
    helpers.call_action("organization_member_create", context={"user": shared_portal["sysadmin"]},
                        id="metropole-de-lyon", username=operator["name"], role="admin")
    # CKAN exempts this view from CSRF, process-wide, as soon as an anonymous visitor posts to it.
    app.post("/communes/bilan/snapshots", data={"label": "Anonyme"}, status=403)
    _log_in(app, operator["name"], PASSWORD)
    before = len(snapshots.list_snapshots())

    refused = app.post("/communes/bilan/snapshots", data={"label": "Sans jeton"}, status=400, follow_redirects=False)
    assert "Le formulaire a expiré ou ne vient pas de ce site" in refused.body
    forged = app.post("/communes/bilan/snapshots", data={"label": "Jeton forgé", "_csrf_token": "forged"},
                      status=400, follow_redirects=False)
    assert "jeton de sécurité manquant ou invalide" in forged.body
    assert len(snapshots.list_snapshots()) == before

    token = _form_token(app.get("/communes/bilan").body)
    app.post("/communes/bilan/snapshots", data={"label": "Avec jeton", "_csrf_token": token}, status=302,
             follow_redirects=False)
    newest = snapshots.list_snapshots()[0]
    assert (newest["label"], newest["created_by"]) == ("Avec jeton", operator["name"])
    assert len(snapshots.list_snapshots()) == before + 1


def test_an_api_token_still_freezes_without_a_form_token(app, shared_portal):
    before = len(snapshots.list_snapshots())
    app.post("/communes/bilan/snapshots", data={"label": "Par jeton d'API"},
             headers=_headers(shared_portal["people"].token("operator")), status=302, follow_redirects=False)
    assert snapshots.list_snapshots()[0]["label"] == "Par jeton d'API"
    assert len(snapshots.list_snapshots()) == before + 1


def test_the_freeze_forms_address_opened_in_a_browser_leads_back_to_the_page(app, shared_portal):
    response = app.get("/communes/bilan/snapshots", status=302, follow_redirects=False)
    assert response.headers["Location"].endswith("/communes/bilan")


# ----------------------------------------------------------------------------------------- who froze it

@pytest.mark.ckan_config("ckan.auth.public_user_details", "false")
def test_snapshot_authors_are_hidden_from_anonymous_visitors_when_user_details_are_not_public(app, shared_portal):
    operator = shared_portal["people"].operator["name"]
    meta = _freeze(app, "Bilan signé", operator)
    anonymous = [
        *_api(app, "communes_bilan_snapshot_list", {})["result"],
        _api(app, "communes_bilan_snapshot_show", {"id": meta["id"]})["result"]["snapshot"],
        _api(app, "communes_bilan", {"snapshot": meta["id"]})["result"]["snapshot"],
        _api(app, "communes_bilan_snapshot_compare", {"a": meta["id"]})["result"]["a"],
    ]
    assert [item["created_by"] for item in anonymous if item["id"] == meta["id"]] == [None] * 4
    assert all(item["created_by"] is None for item in anonymous)
    exported = app.get("/communes/bilan/export.json", query_string={"snapshot": meta["id"]}).body
    assert operator not in exported
    logged_in = shared_portal["people"].token("commune_editor")
    assert _api(app, "communes_bilan_snapshot_show", {"id": meta["id"]}, logged_in)["result"]["snapshot"][
        "created_by"] == operator


def test_the_cli_refuses_an_unknown_author_and_records_a_known_one_by_name(cli, shared_portal):
    from ckan.cli.cli import ckan

    before = len(snapshots.list_snapshots())
    refused = cli.invoke(ckan, ["communes", "bilan", "snapshot", "--label", "Bilan", "--user", "personne-inconnue"])
    assert refused.exit_code == 1 and "Utilisateur inconnu : personne-inconnue." in refused.output
    assert len(snapshots.list_snapshots()) == before
    operator = shared_portal["people"].operator
    taken = cli.invoke(ckan, ["communes", "bilan", "snapshot", "--label", "Bilan CLI", "--user", operator["id"]])
    assert taken.exit_code == 0, taken.output
    assert snapshots.list_snapshots()[0]["created_by"] == operator["name"]


# ---------------------------------------------------------------------------------------------- French

def test_the_comparison_says_between_which_figures_in_french(app, shared_portal):
    meta = _freeze(app, "Bilan phase 1", "operateur")
    page = lxml.html.fromstring(app.get("/communes/bilan", query_string={"compare": meta["id"]}).body)
    sides = " ".join(page.xpath('//*[contains(@class, "bilan-comparison-sides")]')[0].text_content().split())
    assert sides.startswith("Entre Bilan phase 1 (figé le ") and " et Chiffres du jour." in sides


def _error_heading_and_text(body: str) -> tuple[str, str]:
    content = lxml.html.fromstring(body).xpath('//*[@id="error-content"]')[0]
    heading = " ".join(content.xpath(".//h1")[0].text_content().split())
    return heading, " ".join(content.text_content().split())[len(heading):].strip()


def test_the_bilans_error_pages_are_french_from_heading_to_text(app, shared_portal):
    operator = _headers(shared_portal["people"].token("operator"))
    answers = [
        (app.get("/communes/bilan", query_string={"sort": "zzz"}, status=400), "400 Requête invalide",
         "Colonne de tri inconnue dans « sort » : zzz."),
        (app.get("/communes/bilan/export.csv", query_string={"snapshot": "inconnu"}, status=404),
         "404 Introuvable", "Bilan figé inconnu dans « snapshot » : inconnu."),
        (app.post("/communes/bilan/snapshots", data={"label": "Bilan"}, status=403), "403 Accès refusé",
         "Seuls les opérateurs du programme"),
        # Over what Flask reads of a form (500 kB): werkzeug's "Request Entity Too Large" before.
        (app.post("/communes/bilan/snapshots", data={"label": "x" * 600_000}, headers=operator, status=413),
         "413 Requête trop volumineuse", "Le formulaire envoyé est trop volumineux : un libellé a 200 caractères"),
    ]
    for response, heading, words in answers:
        shown_heading, text = _error_heading_and_text(response.body)
        assert shown_heading == heading and text.startswith(words), (shown_heading, text)


def test_a_snapshot_taken_in_english_shows_its_source_titles_in_the_readers_language(app, shared_portal):
    meta = snapshots.create("Bilan taken outside any request", "operateur")  # no translator: English msgids
    stored = model.Session.get(BilanSnapshot, meta["id"]).payload
    assert {"source": "manual", "title": "Published by hand", "count": 2} in next(
        row for row in stored["communes"] if row["key"] == "69029")["details"]["by_source"]
    for group_by, key in (("commune", "69029"), ("phase", "phase1")):
        shown = _rows(_api(app, "communes_bilan_snapshot_show", {"id": meta["id"], "group_by": group_by})["result"])
        assert {"source": "manual", "title": MANUAL_TITLE, "count": 2} in shown[key]["details"]["by_source"]


# ----------------------------------------------------------------------------------- guards that held

def test_private_deleted_and_metropole_datasets_and_harvest_sources_never_count_nor_show_for_any_role(
        app, shared_portal):
    ids, people = shared_portal["ids"], shared_portal["people"]
    meta = _freeze(app, "Bilan gardé", "operateur")
    hidden = [ids["l2"], ids["l3"], ids["m1"], "Jeu l2", "Jeu l3", "Jeu m1"]
    for role in ROLES:
        token = people.token(role) if role != "anonymous" else None
        outputs = []
        for group_by in ("commune", "phase"):
            outputs.append(str(_api(app, "communes_bilan", {"group_by": group_by}, token)))
            outputs.append(str(_api(app, "communes_bilan_snapshot_compare", {"a": meta["id"], "group_by": group_by},
                                    token)))
            for fmt in ("csv", "json"):
                outputs.append(app.get(f"/communes/bilan/export.{fmt}", query_string={"group_by": group_by},
                                       headers=_headers(token)).body)
            outputs.append(_xlsx_text(app.get("/communes/bilan/export.xlsx", query_string={"group_by": group_by},
                                              headers=_headers(token)).bytes))
        outputs.append(app.get("/communes/bilan", headers=_headers(token)).body)
        for text in outputs:
            for secret in hidden:
                assert secret not in text, (role, secret)
        # 6 public datasets of communes (B1-B3, L1, A1, G1): not L2 (private), L3 (deleted), M1 (the
        # Métropole's own), nor the harvest sources S1 and S2 (datasets of type harvest).
        communes = _api(app, "communes_bilan", {}, token)["result"]["rows"]
        whole = _rows(_api(app, "communes_bilan", {"group_by": "phase"}, token)["result"])["all_communes"]
        assert sum(row["values"]["datasets"] for row in communes) == whole["values"]["datasets"] == 6
        assert _rows({"rows": communes})["69123"]["values"]["datasets"] == 1


@pytest.mark.parametrize(("capacity", "shown"), [("member", True), (None, False)])
def test_the_dashboard_shows_to_a_plain_member_and_not_to_a_logged_in_stranger(app, shared_portal, capacity, shown):
    user = factories.User()
    if capacity:
        helpers.call_action("organization_member_create", context={"user": shared_portal["sysadmin"]}, id="bron",
                            username=user["name"], role=capacity)
    token = factories.APIToken(user=user["name"])["token"]
    page = app.get("/organization/bron", headers=_headers(token)).body
    assert ('id="communes-bilan-dashboard"' in page) is shown
    assert 'id="communes-bilan-dashboard"' not in app.get("/organization/metropole-de-lyon",
                                                          headers=_headers(token)).body


@pytest.mark.parametrize("role", ROLES[3:])
def test_commune_staff_cannot_freeze_a_bilan_through_the_form_nor_the_api(app, shared_portal, role):
    token = shared_portal["people"].token(role)
    before = len(snapshots.list_snapshots())
    page = app.post("/communes/bilan/snapshots", data={"label": "Bilan pirate"}, headers=_headers(token), status=403)
    assert "opérateurs du programme" in page.body
    refused = api_post(app, "communes_bilan_snapshot_create", {"label": "Bilan pirate"}, token, status=403)
    assert "opérateurs du programme" in refused.json["error"]["message"]
    assert len(snapshots.list_snapshots()) == before


# --------------------------------------------------------------------- on a portal of their own (last)
# These tests change the portal: each builds its own (`portal`), which resets the database and so drops
# the module's `shared_portal`; they come last for that reason.

# Harvest sources that are not public.

def test_a_private_or_deleted_harvest_source_counts_its_datasets_without_its_name_or_id(app, portal):
    sysadmin, sources = {"user": portal["sysadmin"]}, portal["sources"]
    helpers.call_action("harvest_source_patch", context=dict(sysadmin), id=sources["s1"], private=True)
    helpers.call_action("harvest_source_delete", context=dict(sysadmin), id=sources["s2"])
    stranger = factories.APIToken(user=factories.User()["name"])["token"]  # logged in, member of nothing

    for token in (None, stranger):
        communes = _api(app, "communes_bilan", {}, token)["result"]
        phases = _api(app, "communes_bilan", {"group_by": "phase"}, token)["result"]
        exported = app.get("/communes/bilan/export.json", query_string={"group_by": "phase"},
                           headers=_headers(token)).body
        for text in (str(communes), str(phases), exported):
            for secret in (sources["s1"], sources["s2"], "Portail de Bron", "Data Grand Lyon"):
                assert secret not in text
        # B2 (harvested from S1, now private) and L1 (from S2, now deleted) still count as harvested.
        bron, lyon = _rows(communes)["69029"], _rows(communes)["69123"]
        assert bron["values"]["datasets_harvested"] == 1 and lyon["values"]["datasets_harvested"] == 1
        assert bron["details"]["by_source"] == [{"source": "manual", "title": MANUAL_TITLE, "count": 2},
                                                {"source": "unlisted", "title": UNLISTED_TITLE, "count": 1}]
        assert lyon["details"]["by_source"] == [{"source": "unlisted", "title": UNLISTED_TITLE, "count": 1}]
        # The 58 communes: B1, B3, A1, G1 by hand; B2 and L1 from the two sources no longer public.
        assert _rows(phases)["all_communes"]["details"]["by_source"] == [
            {"source": "manual", "title": MANUAL_TITLE, "count": 4},
            {"source": "unlisted", "title": UNLISTED_TITLE, "count": 2}]


def test_a_snapshot_keeps_its_counts_but_no_longer_names_a_source_made_private_since(app, portal):
    s1 = portal["sources"]["s1"]
    meta = _freeze(app, "Bilan phase 1", portal["sysadmin"])
    frozen = _rows(_api(app, "communes_bilan_snapshot_show", {"id": meta["id"]})["result"])["69029"]
    assert {"source": s1, "title": "Portail de Bron", "count": 1} in frozen["details"]["by_source"]

    helpers.call_action("harvest_source_patch", context={"user": portal["sysadmin"]}, id=s1, private=True)
    for action, params in (("communes_bilan_snapshot_show", {"id": meta["id"]}),
                           ("communes_bilan", {"snapshot": meta["id"]})):
        bron = _rows(_api(app, action, params)["result"])["69029"]
        assert bron["details"]["by_source"] == [{"source": "manual", "title": MANUAL_TITLE, "count": 2},
                                                {"source": "unlisted", "title": UNLISTED_TITLE, "count": 1}]
        assert bron["values"] == frozen["values"]
    compared = _api(app, "communes_bilan_snapshot_compare", {"a": meta["id"]})["result"]
    assert s1 not in str(compared) and "Portail de Bron" not in str(compared)
    # What is stored is never changed: only what is shown hides the source.
    stored = model.Session.get(BilanSnapshot, meta["id"]).payload
    assert "Portail de Bron" in str(next(row for row in stored["communes"] if row["key"] == "69029"))


def test_org_dataset_and_source_titles_written_like_formulas_never_reach_a_spreadsheet_cell(app, portal):
    """The exports show the registry's commune names, never an organisation's, dataset's or source's title."""
    sysadmin = {"user": portal["sysadmin"]}
    helpers.call_action("organization_patch", context=dict(sysadmin), id="bron", title="=cmd|'/c calc'!A1")
    helpers.call_action("package_patch", context=dict(sysadmin), id=portal["ids"]["b1"], title="@SUM(1+1)*cmd")
    helpers.call_action("harvest_source_patch", context=dict(sysadmin), id=portal["sources"]["s1"],
                        title="+HYPERLINK(evil)")
    for group_by in ("commune", "phase"):
        text = app.get("/communes/bilan/export.csv", query_string={"group_by": group_by}).body
        workbook = _xlsx_text(app.get("/communes/bilan/export.xlsx", query_string={"group_by": group_by}).bytes)
        for content in (text, workbook):
            assert "cmd" not in content and "HYPERLINK" not in content and "<f>" not in content
    assert ";Bron;" in app.get("/communes/bilan/export.csv").body
