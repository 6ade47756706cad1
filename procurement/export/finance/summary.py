"""The Summary sheet: the savings case on one screen, every figure a live formula.

Side by side for every scenario: the headline (net savings over the horizon, in-year,
full-year run rate, the range's size, the gap to the best possible plan), net savings by cause with a
native waterfall chart of the first scenario, and net savings by NHS financial year
with a column chart. Each figure is a ``SUMPRODUCT`` (or ``SUM``) over the detail
sheets, and two check rows show £0 when Categories and Years agree with Trusts.
"""

import datetime as dt

from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment, Border, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from procurement.export.finance.kit import (
    COUNT,
    DATETIME,
    GBP,
    GBP_PENCE,
    HELPER_FONT,
    NOTE_FONT,
    PERCENT,
    PERCENT_SHORT,
    THIN,
    TITLE_FONT,
    cell_value,
    column_range,
    header,
    landscape,
    money_axes,
    sum_where,
    text,
    wrap_note,
)
from procurement.export.finance.run_data import RunData
from procurement.export.finance.terms import CAUSE_COLUMNS, CAUSE_LABELS
from procurement.scenarios.runs import CAUSES


def summary_sheet(
    ws: Worksheet,
    runs: list[RunData],
    trusts: dict,
    categories: dict,
    years: dict,
    rng: dict,
    solver: dict,
    data_as_of: dt.datetime | None = None,
) -> dict:
    """The one-screen summary; every figure a formula over the detail sheets.

    ``trusts``, ``categories``, ``years``, ``rng`` and ``solver`` say where each detail
    table is (what their sheet functions return). Scenario ``k`` is column ``B + k``;
    each block's header row names the scenarios, and the formulas match on that name.
    Under the years, a year's spend today and on the plan, the share saved, and when
    the run was made and the data last imported (``data_as_of``).
    Returns per scenario the address of each figure (``Summary!B5``, ...).
    """
    n = len(runs)
    cols = [get_column_letter(2 + i) for i in range(n)]
    first = runs[0]
    ws.cell(row=1, column=1, value="Regional orthopaedic implants: the savings case").font = TITLE_FONT
    same = all(rd.start == first.start and rd.horizon == first.horizon for rd in runs)
    ws.cell(
        row=2,
        column=1,
        value=(
            f"Net savings against the baseline (each trust continuing on its own contracts and prices), GBP ex VAT. "
            f"Start {first.start:%d %b %Y}, horizon {first.horizon} months"
            + ("" if same else " (first scenario; see Assumptions for the others)")
            + ". Every figure is a formula over the detail sheets."
        ),
    ).font = NOTE_FONT
    cells: dict[str, dict[str, str]] = {rd.name: {} for rd in runs}
    blocks = _Blocks(ws, runs, cols, cells)
    trusts_sum = _summer("Trusts", trusts)
    blocks.headline(trusts_sum, rng, solver)
    cause_rows, net_row = blocks.causes(trusts_sum)
    check_rows = blocks.checks(net_row, categories, years)
    h0 = 2 + n + 1  # the waterfall's helper columns, right of the scenarios and a gap column
    _waterfall_helpers(ws, h0, cause_rows, net_row)
    fy_header, fy_rows = blocks.financial_years(check_rows[1] + 2, years)
    spend_header = (fy_rows[-1] if fy_rows else fy_header) + 3
    blocks.spend(spend_header, trusts_sum, data_as_of)
    _add_charts(ws, first.name, n, h0, cause_rows, net_row, fy_header, fy_rows)

    ws.column_dimensions["A"].width = 46
    for col in cols:
        ws.column_dimensions[col].width = 18  # -£123,456,789 and a date-time fit: no ### cells
    ws.column_dimensions[get_column_letter(2 + n)].width = 3
    for k in range(3):
        # The waterfall's helper columns: hidden (the chart plots hidden cells, see _add_charts).
        ws.column_dimensions[get_column_letter(h0 + k)].width = 14
        ws.column_dimensions[get_column_letter(h0 + k)].hidden = True
    ws.row_dimensions[4].height = 30
    wrap_note(ws, h0 + 2)
    ws.freeze_panes = None
    landscape(ws, fit_height=1)
    ws.sheet_view.showGridLines = False
    return cells


def _summer(sheet: str, table: dict):
    """``summer(label, criterion)``: a formula summing column ``label`` of a detail table
    over the rows whose Scenario equals the cell ``criterion``."""
    letters, first, last = table["letters"], table["first"], table["last"]

    def summer(label: str, criterion: str, *more: tuple[str, str]) -> str:
        scenario = (column_range(sheet, letters["Scenario"], first, last), criterion)
        keys = [(column_range(sheet, letters[key], first, last), crit) for key, crit in more]
        return sum_where(column_range(sheet, letters[label], first, last), scenario, *keys)

    return summer


class _Blocks:
    """The Summary's blocks of rows: a label in column A, a figure per scenario beside it."""

    def __init__(self, ws: Worksheet, runs: list[RunData], cols: list[str], cells: dict[str, dict[str, str]]):
        self.ws, self.runs, self.cols, self.cells = ws, runs, cols, cells

    def header(self, row: int, title: str) -> None:
        """A block's header: its title, then the scenario names the formulas match on."""
        ws = self.ws
        header(ws, row, [title, *[rd.name for rd in self.runs]])
        for c, rd in enumerate(self.runs, start=2):
            ws.cell(row=row, column=c, value=text(rd.name)).alignment = Alignment(horizontal="right", wrap_text=True)
        ws.cell(row=row, column=2).font = Font(bold=True, underline="single")

    def put(self, row: int, formula_of, fmt: str, key: str | None = None, **style) -> None:
        """``formula_of(col)`` in every scenario's column of ``row``; its address as ``key``."""
        for rd, col in zip(self.runs, self.cols, strict=True):
            cell = self.ws[f"{col}{row}"]
            cell.value = formula_of(col)
            cell.number_format = fmt
            for name, value in style.items():
                setattr(cell, name, value)
            if key:
                self.cells[rd.name][key] = f"Summary!{col}{row}"

    def headline(self, trusts_sum, rng: dict, solver: dict) -> None:
        """Rows 4 to 9: net, in-year and full-year savings, the range's size, the gap."""
        ws = self.ws
        self.header(4, "Headline")
        for row, label, key in (
            (5, "Net savings over the horizon", "net"),
            (6, "In-year savings (first 12 months)", "in_year"),
            (7, "Full-year run rate", "full_year"),
        ):
            ws.cell(row=row, column=1, value=label).font = Font(bold=True)
            for rd, col in zip(self.runs, self.cols, strict=True):
                cell = ws[f"{col}{row}"]
                cell.value = "=" + trusts_sum(label, f"{col}$4")
                cell.number_format = GBP
                cell.font = Font(bold=True, size=12 if col == "B" else 11)
                self.cells[rd.name][key] = f"Summary!{col}{row}"
        rl, rf, rla = rng["letters"], rng["first"], rng["last"]
        gap_of = _summer("Solver", solver)
        ws.cell(row=8, column=1, value="Product lines in the regional range")
        ws.cell(row=9, column=1, value="Gap to the best possible plan (Solver sheet)")
        for col in self.cols:
            status = column_range("Range", rl["Status (kept / dropped / new)"], rf, rla)
            scenarios = column_range("Range", rl["Scenario"], rf, rla)
            ws[f"{col}8"] = f'=SUMPRODUCT(({scenarios}={col}$4)*({status}<>"dropped"))'
            ws[f"{col}8"].number_format = COUNT
            # one Solver row per scenario; the gap to a bound for the whole problem
            ws[f"{col}9"] = "=" + gap_of("Global gap", f"{col}$4")
            ws[f"{col}9"].number_format = PERCENT

    def causes(self, trusts_sum) -> tuple[list[int], int]:
        """Row 11 on: net savings by cause and their total; returns the cause rows and the total's."""
        ws = self.ws
        self.header(11, "Net savings by cause")
        cause_rows = list(range(12, 12 + len(CAUSES)))
        net_row = cause_rows[-1] + 1
        for row, cause in zip(cause_rows, CAUSES, strict=True):
            ws.cell(row=row, column=1, value=CAUSE_LABELS[cause])
            label = next(lbl for lbl, src, _ in CAUSE_COLUMNS if src == cause)
            self.put(row, lambda col, label=label: "=" + trusts_sum(label, f"{col}$4"), GBP, cause)
        ws.cell(row=net_row, column=1, value="Net savings over the horizon").font = Font(bold=True)
        self.put(
            net_row,
            lambda col: f"=SUM({col}{cause_rows[0]}:{col}{cause_rows[-1]})",
            GBP,
            "net_by_cause",
            font=Font(bold=True),
            border=Border(top=THIN),
        )
        return cause_rows, net_row

    def checks(self, net_row: int, categories: dict, years: dict) -> tuple[int, int]:
        """Two rows under the causes: Categories and Years minus Trusts, £0.00 when they agree."""
        ws = self.ws
        categories_sum, years_sum = _summer("Categories", categories), _summer("Years", years)
        check_rows = (net_row + 1, net_row + 2)
        ws.cell(
            row=check_rows[0], column=1, value="Check: Categories sheet minus Trusts sheet (£0.00)"
        ).font = NOTE_FONT
        ws.cell(row=check_rows[1], column=1, value="Check: Years sheet minus Trusts sheet (£0.00)").font = NOTE_FONT
        for rd, col in zip(self.runs, self.cols, strict=True):
            ws[f"{col}{check_rows[0]}"] = "=" + categories_sum("Net savings over the horizon", f"{col}$4") + f"-{col}5"
            ws[f"{col}{check_rows[1]}"] = "=" + years_sum("Net savings", f"{col}$4") + f"-{col}5"
            for row in check_rows:
                ws[f"{col}{row}"].number_format = GBP_PENCE
                ws[f"{col}{row}"].font = NOTE_FONT
            self.cells[rd.name]["check_categories"] = f"Summary!{col}{check_rows[0]}"
            self.cells[rd.name]["check_years"] = f"Summary!{col}{check_rows[1]}"
        return check_rows

    def financial_years(self, fy_header: int, years: dict) -> tuple[int, list[int]]:
        """Net savings by NHS financial year and their total; returns the header row and the year rows."""
        ws = self.ws
        years_sum = _summer("Years", years)
        self.header(fy_header, "Net savings by NHS financial year")
        fys = sorted({fy for rd in self.runs for fy in rd.years["financial_year"]})
        fy_rows = list(range(fy_header + 1, fy_header + 1 + len(fys)))
        for row, fy in zip(fy_rows, fys, strict=True):
            ws.cell(row=row, column=1, value=text(fy)).alignment = Alignment(horizontal="left")
            self.put(
                row,
                lambda col, row=row: (
                    "=" + years_sum("Net savings", f"{col}${fy_header}", ("Financial year", f"$A{row}"))
                ),
                GBP,
                f"fy {fy}",
            )
        total_row = (fy_rows[-1] if fy_rows else fy_header) + 1
        ws.cell(row=total_row, column=1, value="Total").font = Font(bold=True)
        first_fy = fy_rows[0] if fy_rows else total_row
        self.put(
            total_row,
            lambda col: f"=SUM({col}{first_fy}:{col}{total_row - 1})" if fy_rows else "=0",
            GBP,
            "years_total",
            font=Font(bold=True),
            border=Border(top=THIN),
        )
        return fy_header, fy_rows

    def spend(self, header_row: int, trusts_sum, data_as_of: dt.datetime | None) -> None:
        """A year's spend today and on the plan, the share saved, the run's and the data's dates."""
        ws = self.ws
        self.header(header_row, "A year's spend (full year on the plan)")
        base_row, plan_row, share_row, run_row, data_row = range(header_row + 1, header_row + 6)
        ws.cell(row=base_row, column=1, value="Annual spend today (baseline)")
        ws.cell(row=plan_row, column=1, value="Annual spend on the plan")
        ws.cell(row=share_row, column=1, value="Saved (full-year run rate / baseline)").font = Font(bold=True)
        ws.cell(row=run_row, column=1, value="Run made (UTC)")
        ws.cell(row=data_row, column=1, value="Data as of (latest import, UTC)")
        self.put(base_row, lambda col: "=" + trusts_sum("Annual spend today (baseline)", f"{col}$4"), GBP, "baseline")
        self.put(plan_row, lambda col: "=" + trusts_sum("Annual spend on the plan", f"{col}$4"), GBP, "proposed")
        self.put(
            share_row,
            lambda col: f"=IF({col}{base_row}=0,0,({col}{base_row}-{col}{plan_row})/{col}{base_row})",
            PERCENT_SHORT,
            "saved_share",
            font=Font(bold=True),
        )
        for rd, col in zip(self.runs, self.cols, strict=True):
            for row, when in ((run_row, rd.run.started_at), (data_row, data_as_of)):
                cell = ws[f"{col}{row}"]
                cell.value = cell_value(when)
                cell.number_format = DATETIME
                cell.alignment = Alignment(horizontal="right")


def _waterfall_helpers(ws: Worksheet, h0: int, cause_rows: list[int], net_row: int) -> None:
    """The first scenario's waterfall as three stacked series from column ``h0``: an invisible
    base, the increase and the decrease.

    A cause's bar floats between the running total before it and after it, so its base is
    the lower of the two; the net bar stands on zero (its base is min(0, net)).
    """
    base_col, up_col, down_col = (get_column_letter(h0 + k) for k in range(3))
    for k, label in enumerate(("Chart: base", "Chart: increase", "Chart: decrease")):
        cell = ws.cell(row=11, column=h0 + k, value=label)
        cell.font = HELPER_FONT
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for row in [*cause_rows, net_row]:
        if row == net_row:
            base = f"=MIN(0,B{row})"
        else:
            before = f"SUM(B${cause_rows[0]}:B{row})-B{row}"
            base = f"=MIN({before},{before}+B{row})"
        for col, formula in ((base_col, base), (up_col, f"=MAX(B{row},0)"), (down_col, f"=MAX(-B{row},0)")):
            ws[f"{col}{row}"] = formula
            ws[f"{col}{row}"].number_format = GBP
            ws[f"{col}{row}"].font = HELPER_FONT


def _add_charts(
    ws: Worksheet,
    first_name: str,
    n: int,
    h0: int,
    cause_rows: list[int],
    net_row: int,
    fy_header: int,
    fy_rows: list[int],
) -> None:
    """A waterfall of the first scenario's causes, and a clustered column chart of every
    scenario's savings by financial year, right of the waterfall's helper columns."""
    waterfall = BarChart()
    waterfall.type = "col"
    waterfall.grouping = "stacked"
    waterfall.overlap = 100
    waterfall.gapWidth = 40
    waterfall.title = f"Net savings by cause: {first_name}"
    money_axes(waterfall)
    waterfall.y_axis.majorGridlines = None
    waterfall.legend = None
    waterfall.plotVisOnly = False  # its helper columns are hidden
    data = Reference(ws, min_col=h0, max_col=h0 + 2, min_row=11, max_row=net_row)
    waterfall.add_data(data, titles_from_data=True)
    waterfall.set_categories(Reference(ws, min_col=1, min_row=cause_rows[0], max_row=net_row))
    base_series, up, down = waterfall.series
    base_series.graphicalProperties.noFill = True
    base_series.graphicalProperties.line.noFill = True
    up.graphicalProperties.solidFill = "2E7D32"
    down.graphicalProperties.solidFill = "C62828"
    waterfall.width, waterfall.height = 17, 9.5
    ws.add_chart(waterfall, f"{get_column_letter(h0 + 4)}1")

    by_year = BarChart()
    by_year.type = "col"
    by_year.grouping = "clustered"
    by_year.title = "Net savings by NHS financial year"
    money_axes(by_year)
    by_year.y_axis.majorGridlines = None
    if fy_rows:
        by_year.add_data(
            Reference(ws, min_col=2, max_col=1 + n, min_row=fy_header, max_row=fy_rows[-1]), titles_from_data=True
        )
        by_year.set_categories(Reference(ws, min_col=1, min_row=fy_rows[0], max_row=fy_rows[-1]))
    by_year.width, by_year.height = 17, 7.5
    ws.add_chart(by_year, f"{get_column_letter(h0 + 4)}20")
