"""Exports of the bilan: the CSV, XLSX and JSON hold exactly the figures of the dict (every row, every
indicator), with French headers; the CSV opens in a French spreadsheet (BOM, ``;``, decimal comma)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import Any

import openpyxl
import pytest

from ckanext.communes.bilan import exports, indicators, snapshots
from ckanext.communes.tests.bilan import expected

FIXED_HEADERS = ["Code", "Nom", "Type", "Statut de partenaire", "Communes", "Soumise à l'obligation d'ouverture"]
# The first indicators' headers, in French (the catalogue's translations of indicators.LABELS).
FIRST_INDICATOR_HEADERS = ["Jeux de données publiés", "Publiés à la main", "Moissonnés",
                           "Licence de la liste du CRPA (part)", "Score de qualité moyen", "Score de qualité médian"]


def headers_of(bilan: dict[str, Any]) -> list[str]:
    labels = [item["label"] for item in bilan["indicators"]]
    assert labels[:6] == FIRST_INDICATOR_HEADERS
    return FIXED_HEADERS + labels


@pytest.fixture(params=["commune", "phase"])
def bilan(request, shared_portal, with_request_context) -> dict[str, Any]:
    return indicators.compute(request.param, today=dt.date(2025, 3, 1))


def from_csv_cell(text: str, unit: str) -> Any:
    """What a French spreadsheet reads in a cell, as the dict's value."""
    if text == "":
        return None
    if text in ("oui", "non"):  # a commune's flag (a group's is a count of communes)
        return text == "oui"
    if unit == "share" or unit == "score":
        return float(text.replace(",", "."))
    if unit in ("count", "days", "flag"):
        return int(text)
    return text


def test_the_csv_holds_the_dicts_figures_for_french_spreadsheets(bilan):
    content = exports.to_csv(bilan)
    assert content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == headers_of(bilan)
    assert len(rows) == len(bilan["rows"]) + 1
    units = [item["unit"] for item in bilan["indicators"]]
    for cells, row in zip(rows[1:], bilan["rows"], strict=True):
        assert cells[0] == row["key"] and cells[1] == row["name"]
        values = [from_csv_cell(text, unit) for text, unit in zip(cells[6:], units, strict=True)]
        assert values == [row["values"][item["key"]] for item in bilan["indicators"]]
        if row["kind"] == "commune":
            assert cells[2:6] == ["Commune", cells[3], "", "oui" if row["obliged"] else "non"]
        else:
            assert cells[2:6] == ["Groupe", "", str(row["communes"]), str(row["obliged"])]


def test_a_csv_row_reads_as_a_french_spreadsheet_shows_it(shared_portal, with_request_context):
    bilan = indicators.compute("commune", today=dt.date(2025, 3, 1))
    lines = exports.to_csv(bilan).decode("utf-8-sig").split("\r\n")
    bron = next(line for line in lines if line.startswith("69029;"))
    assert bron == ("69029;Bron;Commune;Phase 1 (pilote);;oui;3;2;1;0,6667;60,0;55,0;0,5;0,5;2;0,5;"
                    "2024-03-10;2024-07-20;non;92;0;;")  # HVD: none, no share; MQA: none checked yet (empty)
    limonest = next(line for line in lines if line.startswith("69116;"))
    assert limonest == "69116;Limonest;Commune;Phase 2;;oui;0;0;0;;;;;;0;;;;oui;;0;;"


def xlsx_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if value in ("oui", "non"):
        return value == "oui"
    return value


def test_the_xlsx_holds_the_dicts_figures_as_typed_cells(bilan):
    workbook = openpyxl.load_workbook(io.BytesIO(exports.to_xlsx(bilan)))
    sheet = workbook["Bilan"]
    table = list(sheet.iter_rows(values_only=True))
    assert list(table[0]) == headers_of(bilan)
    assert len(table) == len(bilan["rows"]) + 1
    for cells, row in zip(table[1:], bilan["rows"], strict=True):
        assert (cells[0], cells[1]) == (row["key"], row["name"])
        assert [xlsx_value(cell) for cell in cells[6:]] == [row["values"][i["key"]] for i in bilan["indicators"]]
    share_column = 6 + [i["key"] for i in bilan["indicators"]].index("licence_compliant_share") + 1
    assert sheet.cell(2, share_column).number_format == "0.00%"
    about = {label: value for label, value in workbook["À propos"].iter_rows(values_only=True)}
    assert about["Calculé le"] == bilan["generated_at"] and about["Instantané"] == "Aujourd'hui"


def test_the_json_is_the_dict(bilan):
    assert json.loads(exports.to_json(bilan).decode("utf-8")) == bilan


def test_exports_of_a_snapshot_are_named_after_it(shared_portal, with_request_context):
    meta = snapshots.create("Bilan phase 1 (2025)", "operateur")
    shown = snapshots.show(meta["id"], "phase")
    name, media_type, content = exports.export(shown, "xlsx")
    assert name == "bilan-phases-bilan-phase-1-2025.xlsx"
    assert media_type == exports.XLSX_MEDIA_TYPE
    about = dict(openpyxl.load_workbook(io.BytesIO(content))["À propos"].iter_rows(values_only=True))
    assert about["Instantané"] == "Bilan phase 1 (2025)"
    rows = list(csv.reader(io.StringIO(exports.to_csv(shown).decode("utf-8-sig")), delimiter=";"))
    assert [row[0] for row in rows[1:]] == list(expected.GROUP_VALUES)
    assert exports.filename(indicators.compute("commune", today=dt.date(2025, 3, 1)), "csv").startswith(
        "bilan-communes-20")
