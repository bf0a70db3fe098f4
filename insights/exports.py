"""Reports as files for the monthly report to the city: CSV (one section per table) and an
Excel workbook (a summary sheet, then one sheet per table)."""

from __future__ import annotations

import csv
import io
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def summary_rows(report: dict[str, Any]) -> list[list[Any]]:
    """Each total beside the previous period's and the change."""
    before = report["previous"]["totals"]
    return [
        [name, value, before.get(name), report["change"].get(name)]
        for name, value in report["totals"].items()
    ]


def _cell(value: Any) -> Any:
    # A text cell starting with = + - @ would be run as a formula by a spreadsheet.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def _header(report: dict[str, Any]) -> list[list[Any]]:
    scope = report["range"]
    return [
        ["report", report["report"]],
        ["from", scope["from"], "to", scope["to"], "group", scope["group"]],
        ["site", scope["site"] or "all", "timezone", scope["timezone"]],
        ["previous", report["previous"]["range"]["from"], report["previous"]["range"]["to"]],
    ]


def to_csv(report: dict[str, Any]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerows(_header(report))
    writer.writerow([])
    writer.writerow(["# summary"])
    writer.writerow(["figure", "value", "previous", "change"])
    writer.writerows([[_cell(v) for v in row] for row in summary_rows(report)])
    for name, rows in report["tables"].items():
        writer.writerow([])
        writer.writerow([f"# {name}"])
        if rows:
            writer.writerow(list(rows[0]))
            writer.writerows([[_cell(v) for v in row.values()] for row in rows])
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # a BOM: Excel then reads UTF-8


def to_xlsx(report: dict[str, Any]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "summary"
    for row in _header(report):
        sheet.append([_cell(v) for v in row])
    sheet.append([])
    sheet.append(["figure", "value", "previous", "change"])
    sheet[sheet.max_row][0].font = Font(bold=True)
    for row in summary_rows(report):
        sheet.append([_cell(v) for v in row])
    for name, rows in report["tables"].items():
        table = book.create_sheet(name[:31])
        if not rows:
            continue
        table.append(list(rows[0]))
        for cell in table[1]:
            cell.font = Font(bold=True)
        for row in rows:
            table.append([_cell(v) for v in row.values()])
        table.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
