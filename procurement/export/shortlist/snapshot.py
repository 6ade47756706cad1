"""The shortlist's integrity contract: what an export records and a read-back compares.

An export's ``snapshot`` holds, per sheet, every locked cell's value (as :func:`norm`
makes it: JSON-safe and the same after a save and reload), the sheet's extent, the
editable columns' letters and the product line of every decision row. The export id
is in the workbook twice over: the hidden ``ID_SHEET`` sheet and the defined name
``ID_NAME``.
"""

import datetime as dt
from dataclasses import dataclass

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

FORMAT_VERSION = 1
ID_SHEET = "_shortlist"
ID_NAME = "ShortlistExportId"

EDITABLE = ("decision", "reason", "clinician")


@dataclass(frozen=True)
class Column:
    """A column of a category sheet: the line's field it shows, its header, width and format.

    The surgeon's columns (``EDITABLE``) are unlocked and left out of the snapshot.
    """

    key: str
    header: str
    width: float
    number_format: str | None = None

    @property
    def editable(self) -> bool:
        return self.key in EDITABLE


def norm(value):
    """A cell value as compared and stored in the snapshot (JSON-safe, reload-stable)."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if value == "":  # an empty string is saved as an empty cell
        return None
    return value


def take_snapshot(wb: Workbook, layouts: dict[str, dict[int, dict]], columns: list[Column]) -> dict:
    """The snapshot stored with an export: per sheet, every locked non-empty cell, its extent,
    and for a category sheet (``layouts``: row -> line) the editable columns and the rows' lines."""
    editable = {column.key: get_column_letter(c) for c, column in enumerate(columns, start=1) if column.editable}
    labels = {get_column_letter(c): column.header.lower() for c, column in enumerate(columns, start=1)}
    sheets = []
    for ws in wb.worksheets:
        cells = {
            cell.coordinate: norm(cell.value)
            for row in ws.iter_rows()
            for cell in row
            if norm(cell.value) is not None and cell.protection.locked
        }
        data_sheet = ws.title in layouts
        sheets.append(
            {
                "name": ws.title,
                "state": ws.sheet_state,
                "last_row": ws.max_row,
                "last_column": ws.max_column,
                "cells": cells,
                "editable_columns": editable if data_sheet else {},
                "columns": labels if data_sheet else {},
                "rows": {str(r): v for r, v in layouts.get(ws.title, {}).items()},
            }
        )
    return {"format": FORMAT_VERSION, "sheets": sheets}
