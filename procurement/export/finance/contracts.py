"""The Contracts sheet: each current contract's end, notice, extension and join, with a calendar.

Per scenario, trust and current contract (one per supplier the trust buys from in a
category): whether and when its category joins the regional agreement, the contract's
end, whether it can end early, its notice and the last date notice can be served for
that join, its extension, the exit fee, bridging and off-contract costs paid, and why it
moves then, in words. The trust's whole category joins on one date (the unit of
joining), so its contracts share the join date. Beside the table, a Gantt-style
calendar draws each contract month by month (each quarter beyond five years): its own
term to its end, then its extension (bridging), then off contract, then the regional
agreement from the join month to the common end date; letters mark the month notice is
due (N), the contract's last month (E) and the join month (J). A run stored before
per-contract results has one row per (trust, category), drawn from its join decision.
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
    "off": PatternFill("solid", fgColor="FF7C80"),
    "own": PatternFill("solid", fgColor="D9D9D9"),
}
CALENDAR_WIDTH = 3.2
LEGEND = (
    ("regional", "", "on the regional agreement, from the join month to the common end date"),
    ("own", "", "own current contract (before its end, or the trust does not join)"),
    ("bridging", "", "own contract extended at its uplift until joining (bridging, at most its extension)"),
    ("off", "", "off contract: extension used up, buying at the supplier's catalogue prices until joining"),
    (None, "N", "notice due: the last month notice can be served for this join"),
    (None, "E", "the contract's last month"),
    (None, "J", "join month"),
)
COLUMNS = [
    ("Scenario", "scenario", None),
    ("Trust", "trust", None),
    ("Category", "category", None),
    ("Joins", "joins_text", None),
    ("Join date", "join_date", DATE),
    ("Supplier", "supplier", None),
    ("Contract reference", "reference", None),
    ("Current contract ends", "current_end", DATE),
    ("Can end early", "early_text", None),
    ("Notice (months)", "notice_months", None),
    ("Notice by", "notice_by", DATE),
    ("Extension (months)", "extension_months", None),
    ("Exit fee paid", "exit_fee_gbp", GBP),
    ("Bridging cost", "bridging_gbp", GBP),
    ("Off-contract cost", "off_contract_gbp", GBP),
    ("Why then", "reason", None),
    ("Regional agreement starts", "agreement_start", DATE),
    ("Common end date", "common_end", DATE),
]


def _rows(rd: RunData) -> pd.DataFrame:
    """One row per contract of the run (per (trust, category) for a run without them)."""
    if len(rd.contracts):
        c = rd.contracts.copy()
        c["early_text"] = np.where(c["early_exit"].astype(bool), "yes", "no")
        joins = rd.joins[["trust", "category", "joins"]]
        c = c.merge(joins, on=["trust", "category"], how="left")
        c["joins"] = c["joins"].fillna(False).astype(bool)
    else:
        j = rd.joins
        c = j[["trust", "category", "joins", "join_month", "join_date", "end_month"]].assign(
            current_end=j["contract_end"],
            exit_fee_gbp=j["exit_fee_paid"],
            bridging_gbp=j["bridging_cost"],
            off_contract_gbp=j.get("off_contract_cost", 0.0),
            supplier="",
            reference="",
            early_text="",
            notice_months=None,
            notice_by=None,
            notice_by_month=None,
            extension_months=None,
            bridging_months=None,
            off_contract_months=None,
            reason="",
        )
    c["scenario"] = rd.name
    c["joins_text"] = np.where(c["joins"], "yes", "no")
    c["agreement_start"] = rd.start
    c["common_end"] = rd.common_end
    return c


def contracts_sheet(ws: Worksheet, runs: list[RunData]) -> None:
    """Each current contract's terms, join and costs, with a Gantt-style calendar and its legend."""
    data = pd.concat([_rows(rd) for rd in runs], ignore_index=True)
    for column in ("current_end", "join_date", "notice_by"):
        data[column] = pd.to_datetime(data[column]).dt.date
    write_table(ws, COLUMNS, data)
    cal0 = len(COLUMNS) + 2
    periods = _calendar(ws, runs, data, cal0)
    last = len(data) + 1
    finish_sheet(
        ws,
        last_row=last,
        last_col=len(COLUMNS),
        freeze="D2",
        widths={get_column_letter(cal0 - 1): 2, "P": 60},
    )
    ws.row_dimensions[1].height = 48
    legend = last + 2  # written after the widths are set: its long labels must not widen column B
    ws.cell(row=legend, column=1, value="Calendar").font = Font(bold=True)
    for k, (state, letter, label) in enumerate(LEGEND, start=1):
        key = ws.cell(row=legend + k, column=1, value=letter or None)
        if state:
            key.fill = CALENDAR_FILLS[state]
        key.alignment = Alignment(horizontal="center")
        ws.cell(row=legend + k, column=2, value=label)
    for i in range(len(periods)):  # again: the autosizing above widened the month columns
        ws.column_dimensions[get_column_letter(cal0 + i)].width = CALENDAR_WIDTH


def _calendar(ws: Worksheet, runs: list[RunData], data: pd.DataFrame, cal0: int) -> list[dt.date]:
    """Month (or quarter) headers from column ``cal0`` on, and a coloured cell per row and period.

    A period before a scenario's start or after its common end stays blank. For a
    joining contract with end month e, extension x (bridged months b, off-contract months
    o) and join month j: regional from j on; off contract in ``[j - o, j)``; bridging in
    ``[max(e, 0), max(e, 0) + b)``; its own contract otherwise. Returns the periods' first days.
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

    def whole(value) -> int | None:
        return None if value is None or pd.isna(value) else int(value)

    for r, row in enumerate(data.itertuples(index=False), start=2):  # a cell per row and month: drawing
        start = starts[row.scenario]
        jm = whole(row.join_month) if row.joins else None
        end = whole(row.end_month)
        bridged_from = max(end or 0, 0)
        bridged = whole(row.bridging_months)
        off = whole(row.off_contract_months)
        notice = whole(row.notice_by_month) if row.joins else None
        for i, when in enumerate(periods):
            m = (when.year - start.year) * 12 + when.month - start.month
            if m < 0 or when >= ends[row.scenario]:
                continue
            if jm is not None and m >= jm:
                state = "regional"
            elif jm is not None and off and m >= jm - off:
                state = "off"
            elif (
                jm is not None
                and end is not None
                and m >= bridged_from
                and (bridged is None or m < bridged_from + bridged)
            ):
                state = "bridging"
            else:
                state = "own"
            cell = ws.cell(row=r, column=cal0 + i)
            cell.fill = CALENDAR_FILLS[state]
            marks = [
                letter
                for letter, month in (("N", notice), ("E", None if end is None else end - 1), ("J", jm))
                if month is not None and month // step * step == m // step * step and m % step == 0
            ]
            if marks:
                cell.value = "".join(marks)
                cell.font = Font(size=7, bold=True)
                cell.alignment = Alignment(horizontal="center")
    return periods
