"""Downloads of a bilan (today's or a snapshot's): CSV, XLSX and JSON, with the figures of the dict.

CSV for French spreadsheets: UTF-8 with a byte order mark (without it Excel reads the accents as
Windows-1252), ``;`` between fields and a decimal comma (Excel in French splits on ``;`` and reads ``0.5``
as text or a date), dates as YYYY-MM-DD, booleans "oui"/"non", nothing for no value. Programs have the JSON
(same dict as the API) and the XLSX (typed cells: numbers, dates, shares formatted as percentages but
stored as the same 0..1 figures).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import Any

import ckan.plugins.toolkit as tk

from ckanext.communes.communes import programme, registry
from ckanext.communes.translation import gettext

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
JSON_MEDIA_TYPE = "application/json; charset=utf-8"
MEDIA_TYPES = {"csv": CSV_MEDIA_TYPE, "xlsx": XLSX_MEDIA_TYPE, "json": JSON_MEDIA_TYPE}
BOM = "\ufeff"
DELIMITER = ";"


def headers(bilan: dict[str, Any]) -> list[str]:
    fixed = [gettext("Code"), gettext("Name"), gettext("Kind"), gettext("Partner status"), gettext("Communes"),
             gettext("Obliged to open data")]
    return fixed + [indicator["label"] for indicator in bilan["indicators"]]


def row_cells(bilan: dict[str, Any], row: dict[str, Any]) -> list[Any]:
    """The cells of a row as Python values (None: empty), in the order of headers()."""
    is_commune = row["kind"] == "commune"
    fixed = [row["key"], row["name"], gettext("Commune") if is_commune else gettext("Group"),
             programme.partner_status_label(row.get("partner_status")) if is_commune else None,
             None if is_commune else row.get("communes"), row.get("obliged")]
    return fixed + [row["values"].get(indicator["key"]) for indicator in bilan["indicators"]]


# A text cell starting with one of these is read as a formula by spreadsheets (CSV injection: a label
# "=HYPERLINK(...)" or "@SUM(...)" would run when the file is opened); tab and carriage return too.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralised(text: str) -> str:
    """A text that no spreadsheet takes for a formula: prefixed with an apostrophe when it starts like one
    (OWASP's advice). Numbers are never text here, so a negative figure keeps its sign."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if isinstance(value, float):
        return repr(value).replace(".", ",")
    if isinstance(value, int):
        return str(value)
    return neutralised(str(value))


def to_csv(bilan: dict[str, Any]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=DELIMITER, lineterminator="\r\n")
    writer.writerow(headers(bilan))
    for row in bilan["rows"]:
        writer.writerow([csv_text(cell) for cell in row_cells(bilan, row)])
    return (BOM + buffer.getvalue()).encode("utf-8")


def _xlsx_value(value: Any, unit: str | None) -> Any:
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if unit == "date" and isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return value
    return value


def _text_cells_as_text(sheet: Any) -> None:
    """openpyxl stores a string starting with "=" as a formula: such a text cell becomes a plain string
    again (a string cell is never evaluated), marked "quote prefix", what Excel does for a text typed
    after an apostrophe, so that it stays text when someone edits it. The text itself is kept as written."""
    for row in sheet.iter_rows():
        for cell in row:
            if isinstance(cell.value, str) and (cell.data_type == "f" or cell.value.startswith(FORMULA_STARTS)):
                cell.data_type = "s"
                cell.quotePrefix = True


NUMBER_FORMATS = {"share": "0.00%", "date": "yyyy-mm-dd", "score": "0.00"}


def to_xlsx(bilan: dict[str, Any]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = gettext("Bilan")
    names = headers(bilan)
    sheet.append(names)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    units = [None] * (len(names) - len(bilan["indicators"])) + [i["unit"] for i in bilan["indicators"]]
    for row in bilan["rows"]:
        sheet.append([_xlsx_value(value, unit) for value, unit in zip(row_cells(bilan, row), units, strict=True)])
    for column, unit in enumerate(units, start=1):
        if unit in NUMBER_FORMATS:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=column, max_col=column):
                cell.number_format = NUMBER_FORMATS[unit]
        sheet.column_dimensions[sheet.cell(1, column).column_letter].width = max(12, min(40, len(names[column - 1])))
    sheet.freeze_panes = "C2"
    about = workbook.create_sheet(gettext("About"))
    snapshot = bilan.get("snapshot") or {}
    for label, value in ((gettext("Computed at"), bilan["generated_at"]),
                         (gettext("Snapshot"), snapshot.get("label") or gettext("Today")),
                         (gettext("Snapshot taken"), snapshot.get("created") or ""),
                         (gettext("Rows"),
                          gettext("communes") if bilan["group_by"] == "commune" else gettext("groups")),
                         (gettext("Portal"), tk.config.get("ckan.site_url") or "")):
        about.append([label, value])
    for written in (sheet, about):
        _text_cells_as_text(written)
    about.column_dimensions["A"].width = 24
    about.column_dimensions["B"].width = 48
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def to_json(bilan: dict[str, Any]) -> bytes:
    return json.dumps(bilan, ensure_ascii=False, indent=1).encode("utf-8")


def filename(bilan: dict[str, Any], extension: str) -> str:
    """bilan-communes-2026-11-28.csv, bilan-phases-bilan-phase-1.xlsx..."""
    snapshot = bilan.get("snapshot")
    tag = registry.slugify(snapshot["label"])[:60].strip("-") if snapshot else str(bilan["generated_at"])[:10]
    grouping = "communes" if bilan["group_by"] == "commune" else "phases"
    return f"bilan-{grouping}-{tag or 'snapshot'}.{extension}"


WRITERS = {"csv": to_csv, "xlsx": to_xlsx, "json": to_json}


def export(bilan: dict[str, Any], file_format: str) -> tuple[str, str, bytes]:
    """(filename, media type, content) of a bilan in csv, xlsx or json."""
    return filename(bilan, file_format), MEDIA_TYPES[file_format], WRITERS[file_format](bilan)
