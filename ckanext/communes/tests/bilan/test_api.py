"""The bilan's API over HTTP: public reads (also anonymous), snapshot_create for programme operators only
(every role), and junk, huge or malformed parameters answered 4xx with a French message naming the field."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
from ckan.tests import helpers

from ckanext.communes.bilan import snapshots
from ckanext.communes.tests.bilan import expected
from ckanext.communes.tests.communes.conftest import api_post

ROLES_ALLOWED = {"anonymous": False, "commune_editor": False, "commune_admin": False, "other_admin": False,
                 "operator": True, "sysadmin": True}


def token(shared_portal: dict[str, Any], role: str) -> str | None:
    return shared_portal["people"].token(role)


def api_get(app: Any, action: str, params: dict[str, Any], status: int = 200) -> Any:
    return app.get(f"/api/3/action/{action}", query_string=params, status=status)


def test_anyone_reads_the_bilan_per_commune_and_per_phase(app, shared_portal):
    communes = api_get(app, "communes_bilan", {}).json["result"]
    assert communes["group_by"] == "commune" and len(communes["rows"]) == 58
    bron = next(row for row in communes["rows"] if row["key"] == "69029")
    assert {k: v for k, v in bron["values"].items() if k != "convention_days_left"} == {
        k: v for k, v in expected.COMMUNE_VALUES["69029"].items() if k != "convention_days_left"}
    phases = api_get(app, "communes_bilan", {"group_by": "phase"}).json["result"]
    assert [row["key"] for row in phases["rows"]] == list(expected.GROUP_VALUES)
    assert phases["rows"][0]["name"] == "Phase 1 (pilotes)"
    posted = api_post(app, "communes_bilan", {"group_by": "phase", "snapshot": "today"}, None).json["result"]
    assert posted["rows"] == phases["rows"]


def test_the_bilan_comes_as_csv_text_and_as_base64_xlsx(app, shared_portal):
    import openpyxl

    as_csv = api_get(app, "communes_bilan", {"format": "csv", "group_by": "phase"}).json["result"]
    assert as_csv["media_type"] == "text/csv; charset=utf-8"
    assert as_csv["filename"].startswith("bilan-phases-") and as_csv["filename"].endswith(".csv")
    assert as_csv["content"].startswith("\ufeffCode;Nom;Type;")
    assert as_csv["content"].count("\r\n") == 6
    as_xlsx = api_get(app, "communes_bilan", {"format": "xlsx"}).json["result"]
    assert as_xlsx["filename"].endswith(".xlsx")
    workbook = openpyxl.load_workbook(io.BytesIO(base64.b64decode(as_xlsx["content"])))
    assert workbook.active.max_row == 59


@pytest.mark.parametrize("role", list(ROLES_ALLOWED))
def test_only_programme_operators_take_a_snapshot(app, shared_portal, role):
    before = len(snapshots.list_snapshots())
    response = api_post(app, "communes_bilan_snapshot_create", {"label": f"Bilan de {role}"},
                        token(shared_portal, role), status=200 if ROLES_ALLOWED[role] else 403)
    after = snapshots.list_snapshots()
    if ROLES_ALLOWED[role]:
        created = response.json["result"]
        assert len(after) == before + 1 and after[0] == created
        assert created["label"] == f"Bilan de {role}"
        assert created["created_by"] == shared_portal["people"].__dict__[role]["name"]
    else:
        assert len(after) == before
        assert "opérateurs du programme" in response.json["error"]["message"]


@pytest.mark.parametrize("role", list(ROLES_ALLOWED))
def test_everyone_lists_shows_and_compares_snapshots(app, shared_portal, role):
    meta = snapshots.create("Bilan lu par tous", "operateur")
    headers = {"Authorization": token(shared_portal, role)} if role != "anonymous" else {}
    listed = app.get("/api/3/action/communes_bilan_snapshot_list", headers=headers).json["result"]
    assert meta in listed
    shown = app.get("/api/3/action/communes_bilan_snapshot_show", headers=headers,
                    query_string={"id": meta["id"], "group_by": "phase"}).json["result"]
    assert shown["snapshot"] == meta and len(shown["rows"]) == 5
    via_bilan = app.get("/api/3/action/communes_bilan", headers=headers,
                        query_string={"snapshot": meta["id"]}).json["result"]
    assert via_bilan["snapshot"] == meta and len(via_bilan["rows"]) == 58
    compared = app.get("/api/3/action/communes_bilan_snapshot_compare", headers=headers,
                       query_string={"a": meta["id"], "b": "today"}).json["result"]
    assert compared["a"] == meta and compared["b"]["id"] == "today" and compared["changed_rows"] == 0


HUGE = "x" * 100_000


@pytest.mark.parametrize(("action", "params", "field", "words"), [
    ("communes_bilan", {"group_by": "organisation"}, "group_by", "group_by : valeur inconnue « organisation »"),
    ("communes_bilan", {"group_by": HUGE}, "group_by", "valeurs possibles : commune, phase"),
    ("communes_bilan", {"group_by": ["commune"]}, "group_by", "« list »"),
    ("communes_bilan", {"format": "pdf"}, "format",
     "format : valeur inconnue « pdf » ; valeurs possibles : json, csv, xlsx"),
    ("communes_bilan", {"format": {"a": 1}}, "format", "« dict »"),
    ("communes_bilan", {"snapshot": "../../etc/passwd"}, "snapshot", "n'est pas un identifiant d'instantané"),
    ("communes_bilan", {"snapshot": HUGE}, "snapshot", "n'est pas un identifiant d'instantané"),
    ("communes_bilan", {"snapshot": 12}, "snapshot", "n'est pas un identifiant d'instantané"),
    ("communes_bilan_snapshot_show", {}, "id", "id : ce champ est obligatoire."),
    ("communes_bilan_snapshot_show", {"id": None}, "id", "id : ce champ est obligatoire."),
    ("communes_bilan_snapshot_show", {"id": "a b"}, "id", "n'est pas un identifiant d'instantané"),
    ("communes_bilan_snapshot_compare", {"b": "today"}, "a", "a : ce champ est obligatoire."),
    ("communes_bilan_snapshot_compare", {"a": "x" * 65}, "a", "n'est pas un identifiant d'instantané"),
    ("communes_bilan_snapshot_compare", {"a": "abc", "b": ["today"]}, "b", "n'est pas un identifiant"),
])
def test_junk_parameters_are_refused_in_french_naming_the_field(app, shared_portal, action, params, field, words):
    response = api_post(app, action, params, None, status=409)
    error = response.json["error"]
    assert list(set(error) - {"__type", "message"}) == [field]
    assert words in error[field][0]
    assert len(error[field][0]) < 200  # a huge value is not echoed back


@pytest.mark.parametrize("label", ["", "   ", "x" * 201, "x" * 1_000_000, ["Bilan"], {"fr": "Bilan"}, 42, None])
def test_a_bad_snapshot_label_is_refused_with_409_naming_the_field(app, shared_portal, label):
    before = len(snapshots.list_snapshots())
    data = {} if label is None else {"label": label}
    response = api_post(app, "communes_bilan_snapshot_create", data, token(shared_portal, "operator"), status=409)
    assert list(set(response.json["error"]) - {"__type", "message"}) == ["label"]
    assert response.json["error"]["label"][0].startswith("Libellé (label) : ")
    assert len(snapshots.list_snapshots()) == before


@pytest.mark.parametrize(("action", "params"), [
    ("communes_bilan", {"snapshot": "00000000-0000-0000-0000-000000000000"}),
    ("communes_bilan_snapshot_show", {"id": "00000000-0000-0000-0000-000000000000"}),
    ("communes_bilan_snapshot_compare", {"a": "00000000-0000-0000-0000-000000000000"}),
])
def test_an_unknown_snapshot_is_a_404(app, shared_portal, action, params):
    response = api_post(app, action, params, None, status=404)
    assert "Instantané du bilan introuvable" in response.json["error"]["message"]


def test_the_actions_are_registered_and_the_reads_need_no_login(shared_portal):
    context = {"user": "", "ignore_auth": False}
    for action in ("communes_bilan", "communes_bilan_snapshot_list"):
        assert helpers.call_auth(action, context) is True
