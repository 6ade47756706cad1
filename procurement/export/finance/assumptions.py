"""The Assumptions sheet: the baseline, every definition, and each run's settings.

What the figures mean (baseline, net, in-year, full-year, financial years, common end
date, regional price, money), any warning that the workbook's figures differ from the
runs' stored ones, what each cause of savings is, and every scenario setting as stored
with each run, side by side.
"""

import datetime as dt

from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from procurement.export.finance.kit import DATE, SECTION_FONT, TITLE_FONT, cell_value, finish_sheet, header, text
from procurement.export.finance.run_data import RunData
from procurement.export.finance.switching import SWITCHING_RULE
from procurement.export.finance.terms import BASELINE, CAUSE_DEFINITIONS, CAUSE_LABELS, SETTING_LABELS, setting_value
from procurement.scenarios.runs import CAUSES

CONTRACT_RULES = (
    (
        "Unit of joining",
        "A trust moves a whole category (hip, knee, trauma) onto the regional agreement at one join date; "
        "every contract it holds in that category (one per supplier) must allow that date.",
    ),
    (
        "Contract rules: notice",
        "Leaving a contract before its end needs its notice period served; notice can be served from the "
        "scenario's decision date, so the earliest early exit is the decision date plus the notice.",
    ),
    (
        "Contract rules: no early exit",
        "A contract marked as not ending early cannot be left before its end date: the trust's category "
        "joins on or after it.",
    ),
    (
        "Contract rules: exit fees",
        "Leaving early pays the contract's fixed exit fee plus its percentage of the remaining value "
        "(the trust's monthly spend on the contract times the months left to its end).",
    ),
    (
        "Contract rules: extensions",
        "A contract ending before the trust joins is extended at its uplift for at most its extension "
        "months; beyond that the trust buys off contract at the supplier's catalogue prices until it joins.",
    ),
    (
        "Programme capacity",
        "With a maximum number of joins per quarter, at most that many (trust, category) pairs move onto "
        "the agreement in any quarter of the agreement.",
    ),
)


def assumptions_sheet(ws: Worksheet, runs: list[RunData], warnings: list[str]) -> None:
    first = runs[0]
    items = [
        ("Baseline", BASELINE),
        (
            "Net savings over the horizon",
            "Baseline cost minus the cost on the regional agreement, for the months each trust is on it, less "
            "switching costs, exit fees and bridging costs; over the horizon from the start date.",
        ),
        ("Start date (first scenario)", first.start),
        ("Horizon (first scenario, months)", first.horizon),
        (
            "In-year savings",
            "Net savings in the first 12 months from the start date (one-off costs included). With an April "
            "start this is the first NHS financial year.",
        ),
        (
            "Full-year run rate",
            "Annual saving once every participating trust is on the regional agreement: annual baseline cost "
            "minus annual regional cost (no one-off costs).",
        ),
        ("Financial years", "NHS financial years, April to March; a year is labelled 2027/28."),
        (
            "Common end date",
            "The regional agreement ends for every trust on the same day, the day before start + horizon, so "
            "the region's contracts become co-terminous.",
        ),
        *CONTRACT_RULES,
        (
            "Regional price",
            "best_paid: a line's regional SKU mix at the lowest price any participating trust pays for each "
            "SKU today (catalogue price for a line nobody buys); catalogue: the mean catalogue price of its SKUs.",
        ),
        ("Switching costs", SWITCHING_RULE),
        ("Current units (Range sheet)", "Annual units from the trusts' usage in the database when exported."),
        ("Money", "GBP excluding VAT; costs are shown as negative savings."),
    ]
    ws.cell(row=1, column=1, value="Assumptions and definitions").font = TITLE_FONT
    header(ws, 3, ["Item", "Definition or value"])
    r = 4
    for label, value in items:
        ws.cell(row=r, column=1, value=label).font = Font(bold=True)
        cell = ws.cell(row=r, column=2, value=value)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        if isinstance(value, dt.date):
            cell.number_format = DATE
            cell.alignment = Alignment(horizontal="left")
        r += 1
    for warning in warnings:
        ws.cell(row=r, column=1, value="Warning").font = Font(bold=True, color="C00000")
        ws.cell(row=r, column=2, value=text(warning)).alignment = Alignment(wrap_text=True)
        r += 1
    r += 1
    ws.cell(row=r, column=1, value="Savings causes").font = SECTION_FONT
    r += 1
    header(ws, r, ["Cause", "Definition"])
    for cause in CAUSES:
        r += 1
        ws.cell(row=r, column=1, value=CAUSE_LABELS[cause])
        ws.cell(row=r, column=2, value=CAUSE_DEFINITIONS[cause]).alignment = Alignment(wrap_text=True, vertical="top")
    r += 2
    ws.cell(row=r, column=1, value="Scenario settings (as stored with each run)").font = SECTION_FONT
    r += 1
    header(ws, r, ["Setting", *[rd.name for rd in runs]])
    for c, rd in enumerate(runs, start=2):
        ws.cell(row=r, column=c, value=text(rd.name))
    keys = [k for k in SETTING_LABELS if any(k in rd.settings for rd in runs)]
    keys += sorted({k for rd in runs for k in rd.settings} - set(keys))
    r += 1
    ws.cell(row=r, column=1, value="Run")
    for c, rd in enumerate(runs, start=2):
        ws.cell(row=r, column=c, value=f"#{rd.run.id}").alignment = Alignment(horizontal="right")
    for key in keys:
        r += 1
        ws.cell(row=r, column=1, value=SETTING_LABELS.get(key, key))
        for c, rd in enumerate(runs, start=2):
            value, fmt = setting_value(key, rd.settings.get(key))
            cell = ws.cell(row=r, column=c, value=cell_value(value))
            cell.alignment = Alignment(horizontal="right", wrap_text=True)
            if fmt:
                cell.number_format = fmt
    widths = {"A": 42, "B": 90}
    widths.update({get_column_letter(c): 24 for c in range(3, 2 + len(runs))})
    finish_sheet(ws, freeze="A4", autofilter=False, widths=widths)
