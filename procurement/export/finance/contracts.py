"""The Contracts sheet: join dates, one-off costs and the common end date, with a calendar.

Per scenario, trust and category: whether and when the trust joins the regional
agreement, its current contract's end, the exit fee and bridging cost paid, the annual
baseline and regional cost (the annual saving once joined is a per-row formula), and
the common end date. Beside the table, a Gantt-style calendar colours each month (each
quarter beyond five years) of the longest horizon: on the regional agreement, bridging
(own contract extended until joining), or on its own contract.
"""

import datetime as dt

import numpy as np
import pandas as pd
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from procurement.export.finance.kit import DATE, GBP, HEADER_FILL, MONTH, finish_sheet, write_table
from procurement.export.finance.run_data import RunData, month_start

CALENDAR_FILLS = {
    "regional": PatternFill("solid", fgColor="70AD47"),
    "bridging": PatternFill("solid", fgColor="F4B183"),
    "own": PatternFill("solid", fgColor="D9D9D9"),
}
CALENDAR_WIDTH = 3.2


def contracts_sheet(ws: Worksheet, runs: list[RunData]) -> None:
    """Join dates, one-off costs and the common end date, with a Gantt-style calendar."""
    parts = []
    for rd in runs:
        j = rd.joins.copy()
        j["scenario"] = rd.name
        j["joins_text"] = np.where(j["joins"], "yes", "no")
        j["agreement_start"] = rd.start
        j["common_end"] = month_start(rd.start, rd.horizon) - dt.timedelta(days=1)
        parts.append(j)
    data = pd.concat(parts, ignore_index=True)
    columns = [
        ("Scenario", "scenario", None),
        ("Trust", "trust", None),
        ("Category", "category", None),
        ("Joins", "joins_text", None),
        ("Join date", "join_date", DATE),
        ("Current contract ends", "contract_end", DATE),
        ("Exit fee paid", "exit_fee_paid", GBP),
        ("Bridging cost", "bridging_cost", GBP),
        ("Annual baseline cost", "annual_baseline", GBP),
        ("Annual regional cost", "annual_regional_cost", GBP),
        ("Annual saving once joined", None, GBP),
        ("Regional agreement starts", "agreement_start", DATE),
        ("Common end date", "common_end", DATE),
    ]
    write_table(
        ws,
        columns,
        data,
        formulas={"Annual saving once joined": '=IF(D{r}="yes",I{r}-J{r},0)'},
    )
    cal0 = len(columns) + 2
    periods = _calendar(ws, runs, data, cal0)
    last = len(data) + 1
    finish_sheet(
        ws,
        last_row=last,
        last_col=len(columns),
        freeze="D2",
        widths={get_column_letter(cal0 - 1): 2},
    )
    ws.row_dimensions[1].height = 48
    legend = last + 2  # written after the widths are set: its long labels must not widen column B
    ws.cell(row=legend, column=1, value="Calendar").font = Font(bold=True)
    for k, (state, label) in enumerate(
        (
            ("regional", "on the regional agreement (from the join date to the common end date)"),
            ("bridging", "own contract extended at its uplift until joining (bridging)"),
            ("own", "own current contract (before joining, or not joining)"),
        ),
        start=1,
    ):
        ws.cell(row=legend + k, column=1).fill = CALENDAR_FILLS[state]
        ws.cell(row=legend + k, column=2, value=label)
    for i in range(len(periods)):  # again: the autosizing above widened the month columns
        ws.column_dimensions[get_column_letter(cal0 + i)].width = CALENDAR_WIDTH


def _calendar(ws: Worksheet, runs: list[RunData], data: pd.DataFrame, cal0: int) -> list[dt.date]:
    """Month (or quarter) headers from column ``cal0`` on, and a coloured cell per row and period.

    A period before a scenario's start or from its common end on stays blank; from the
    join month on it is regional; from the contract's end to the join month, bridging;
    otherwise the trust's own contract. Returns the periods' first days.
    """
    first = min(rd.start for rd in runs)
    last_end = max(month_start(rd.start, rd.horizon) for rd in runs)
    span = (last_end.year - first.year) * 12 + last_end.month - first.month
    step = 1 if span <= 60 else 3
    periods = [month_start(first, m) for m in range(0, span, step)]
    for i, when in enumerate(periods):
        cell = ws.cell(row=1, column=cal0 + i, value=when)
        cell.number_format = MONTH
        cell.font = Font(bold=True, size=9)
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(text_rotation=90, horizontal="center")
        ws.column_dimensions[get_column_letter(cal0 + i)].width = CALENDAR_WIDTH
    starts = {rd.name: rd.start for rd in runs}
    ends = {rd.name: month_start(rd.start, rd.horizon) for rd in runs}
    for r, row in enumerate(data.itertuples(index=False), start=2):  # a cell per row and month: drawing
        start = starts[row.scenario]
        jm = int(row.join_month) if row.joins and not pd.isna(row.join_month) else None
        for i, when in enumerate(periods):
            m = (when.year - start.year) * 12 + when.month - start.month
            if m < 0 or when >= ends[row.scenario]:
                continue
            if jm is not None and m >= jm:
                state = "regional"
            elif jm is not None and m >= row.end_month:
                state = "bridging"
            else:
                state = "own"
            ws.cell(row=r, column=cal0 + i).fill = CALENDAR_FILLS[state]
    return periods
