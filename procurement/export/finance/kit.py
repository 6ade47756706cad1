"""The finance workbook's kit: formats, styles, safe cell values, tables, formulas, charts.

Every sheet module writes through these, so the workbook has one look: bold headers on
a pale fill, frozen and filtered, landscape and fit to the page's width; money as GBP
numbers (negative in red), dates as dates; text from suppliers, trusts and clinicians
neutralised by :func:`procurement.export.safe.safe_text` so nothing in a cell can run.
"""

import datetime as dt
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from procurement.export.safe import safe_text

GBP = "£#,##0;[Red]-£#,##0"
GBP_PENCE = "£#,##0.00;[Red]-£#,##0.00"
GBP_AXIS = "£#,##0"
PERCENT = "0.000%"
PERCENT_SHORT = "0.0%"
DATE = "dd mmm yyyy"
DATETIME = "dd mmm yyyy hh:mm"
MONTH = "mmm yy"
COUNT = "#,##0"
SECONDS = "0.00"

HEADER_FILL = PatternFill("solid", fgColor="DCE6F1")
SECTION_FONT = Font(bold=True, size=12)
TITLE_FONT = Font(bold=True, size=14)
NOTE_FONT = Font(italic=True, color="595959")
HELPER_FONT = Font(color="808080", size=9)
THIN = Side(style="thin", color="808080")
MAX_CELL_TEXT = 32_000

# (header label, data column or None for a per-row formula, number format or None)
Columns = Sequence[tuple[str, str | None, str | None]]


# --------------------------------------------------------------------------- cell values


def text(value: object) -> object:
    """A data value as a cell value: text neutralised (and stripped of XML-illegal characters).

    Illegal characters are removed before :func:`safe_text`, so a control character
    cannot hide a leading ``=`` from it.
    """
    if isinstance(value, str):
        return safe_text(ILLEGAL_CHARACTERS_RE.sub("", value)[:MAX_CELL_TEXT])
    return value


def cell_value(value: object) -> object:
    """Python/numpy/pandas value -> what openpyxl should store (None for missing)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return text(value)


# --------------------------------------------------------------------------- formulas


def sheet_ref(sheet: str) -> str:
    """A sheet name as a formula refers to it (quoted unless it is one plain word)."""
    return sheet if sheet.replace("_", "").isalnum() else "'" + sheet.replace("'", "''") + "'"


def column_range(sheet: str, column: str, first: int, last: int) -> str:
    """``Sheet!$C$2:$C$40``: rows ``first`` to ``last`` of one column, absolute."""
    return f"{sheet_ref(sheet)}!${column}${first}:${column}${last}"


def sum_where(values: str, *conditions: tuple[str, str]) -> str:
    """``SUMPRODUCT((r1=c1)*(r2=c2)*values)``: a sum over rows whose keys equal the criteria.

    SUMIFS and MATCH would read ``*``, ``?`` and ``~`` in a criterion as wildcards, and
    scenario names from a sweep contain them (``base[odep_floor=10A*]``); ``=`` compares
    exactly (ignoring case, as Excel and LibreOffice do) in both applications.
    """
    tests = "*".join(f"({rng}={crit})" for rng, crit in conditions)
    return f"SUMPRODUCT({tests}*{values})"


# --------------------------------------------------------------------------- tables


def header(ws: Worksheet, row: int, labels: list[str], first_col: int = 1) -> None:
    """A header row: bold, pale fill, wrapped, a thin rule below."""
    for offset, label in enumerate(labels):
        cell = ws.cell(row=row, column=first_col + offset, value=label)
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        cell.border = Border(bottom=THIN)


def write_table(
    ws: Worksheet,
    columns: Columns,
    data: pd.DataFrame,
    *,
    start_row: int = 1,
    formulas: dict[str, str] | None = None,
) -> dict[str, str]:
    """Write ``data`` under a header row; returns header label -> column letter.

    ``columns`` is ``(label, data column, number format)``; a data column of ``None``
    with a ``formulas[label]`` template (``{r}`` is the row number) writes a formula
    per row instead of a value.
    """
    formulas = formulas or {}
    letters = {label: get_column_letter(i + 1) for i, (label, _, _) in enumerate(columns)}
    header(ws, start_row, [label for label, _, _ in columns])
    keys = [source for _, source, _ in columns]
    present = [k for k in keys if k is not None]
    rows = data[present].itertuples(index=False, name=None) if len(data) else iter(())
    for r, values in enumerate(rows, start=start_row + 1):
        by_key = dict(zip(present, values, strict=True))
        for c, (label, source, fmt) in enumerate(columns, start=1):
            if source is None:
                cell = ws.cell(row=r, column=c, value=formulas[label].format(r=r))
            else:
                cell = ws.cell(row=r, column=c, value=cell_value(by_key[source]))
            if fmt:
                cell.number_format = fmt
    return letters


def detail_table(
    ws: Worksheet,
    columns: Columns,
    data: pd.DataFrame,
    *,
    freeze: str,
    formulas: dict[str, str] | None = None,
    widths: dict[str, float] | None = None,
) -> dict:
    """A detail sheet that is one table from row 1: written (:func:`write_table`), finished
    (:func:`finish_sheet`), and where it is for Summary's formulas: ``letters`` (header
    label -> column letter), ``first`` and ``last`` data rows (an empty table's last row
    is its first, so a range over it stays valid)."""
    letters = write_table(ws, columns, data, formulas=formulas)
    last = len(data) + 1
    finish_sheet(ws, last_row=last, freeze=freeze, widths=widths)
    return {"letters": letters, "first": 2, "last": max(last, 2)}


def write_table_at(ws: Worksheet, columns: Columns, data: pd.DataFrame, header_row: int) -> None:
    """A values-only table under an unwrapped header at ``header_row`` (several to a sheet)."""
    header(ws, header_row, [label for label, _, _ in columns])
    for cell in ws[header_row][: len(columns)]:
        cell.alignment = Alignment(wrap_text=False)
    for r, values in enumerate(data[[src for _, src, _ in columns]].itertuples(index=False, name=None), header_row + 1):
        for c, ((_, _, fmt), value) in enumerate(zip(columns, values, strict=True), start=1):
            cell = ws.cell(row=r, column=c, value=cell_value(value))
            if fmt:
                cell.number_format = fmt


# --------------------------------------------------------------------------- sheet layout


def landscape(ws: Worksheet, *, fit_height: int) -> None:
    """A4 landscape, one page wide; ``fit_height`` pages tall (0: as many as it takes)."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = fit_height
    ws.sheet_properties.pageSetUpPr.fitToPage = True


def wrap_note(ws: Worksheet, last_col: int) -> None:
    """Row 2's note spans ``last_col`` columns, wrapped over two lines."""
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=last_col)
    ws["A2"].alignment = Alignment(wrap_text=True, vertical="top")
    ws.row_dimensions[2].height = 30


def finish_sheet(
    ws: Worksheet,
    *,
    header_row: int = 1,
    last_row: int | None = None,
    last_col: int | None = None,
    freeze: str | None = "A2",
    autofilter: bool = True,
    widths: Mapping[str, float] | None = None,
) -> None:
    """Frozen header, autofilter, landscape fit-to-width print setup and column widths."""
    last_row = last_row or ws.max_row
    last_col = last_col or ws.max_column
    if freeze:
        ws.freeze_panes = freeze
    if any(cell.alignment.wrap_text for cell in ws[header_row]):
        ws.row_dimensions[header_row].height = 45
    if autofilter:
        ws.auto_filter.ref = f"A{header_row}:{get_column_letter(last_col)}{max(last_row, header_row + 1)}"
        ws.print_title_rows = f"{header_row}:{header_row}"
    landscape(ws, fit_height=0)
    autosize(ws, widths or {})


def autosize(ws: Worksheet, fixed: Mapping[str, float]) -> None:
    """Column widths from the longest value (numbers and formulas count 14, dates 12), 9 to 60;
    ``fixed`` widths win."""
    widths: dict[str, float] = {}
    for row in ws.iter_rows():
        for cell in row:
            if cell.value is None:
                continue
            if isinstance(cell.value, float | int) or str(cell.value).startswith("="):
                length = 14
            elif isinstance(cell.value, dt.date):
                length = 12
            else:
                length = len(str(cell.value))
            if cell.alignment.wrap_text:
                length = min(length, 18)
            letter = cell.column_letter
            widths[letter] = max(widths.get(letter, 0), length)
    for letter, width in widths.items():
        ws.column_dimensions[letter].width = fixed.get(letter, min(60, max(9, width + 2)))
    for letter, width in fixed.items():
        ws.column_dimensions[letter].width = width


# --------------------------------------------------------------------------- charts


def money_axes(chart) -> None:
    """GBP on the value axis, category labels below the plot (under negative bars too),
    and both axes drawn: openpyxl marks them deleted by default, and Excel then hides them."""
    chart.y_axis.numFmt = GBP_AXIS
    chart.x_axis.tickLblPos = "low"
    for axis in (chart.x_axis, chart.y_axis):
        axis.delete = False
