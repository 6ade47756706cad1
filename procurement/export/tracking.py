"""The tracking workbook (``procure track SCENARIO --out track.xlsx``).

Dashboard (one screen): planned, realised and the shortfall by cause, each a live
formula over the Months sheet with the engine's figure stored beside it and a check
cell (formula minus engine figure, 0 when they agree), so the workbook shows the right
numbers before any recalculation and proves them after; the tiers at risk; a line chart
of planned against realised savings by month and a bar chart of compliance by trust
(both drawn from stored values). Detail sheets: Months, Trusts, Compliance, Off contract,
Tiers and Detail (every trust, group and month). Text from suppliers and trusts goes
through :func:`procurement.export.finance.kit.text` (``export/safe.py``), so no cell can
run as a formula.
"""

from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.utils import get_column_letter

from procurement.export.finance.kit import (
    COUNT,
    GBP,
    NOTE_FONT,
    PERCENT_SHORT,
    TITLE_FONT,
    cell_value,
    column_range,
    detail_table,
    header,
    landscape,
    money_axes,
    text,
)
from procurement.tracking import CAUSE_LABELS, CAUSES

SHEETS = ("Dashboard", "Months", "Trusts", "Compliance", "Off contract", "Tiers", "Detail")
MONEY_COLUMNS = ["planned", "realised", "shortfall", *CAUSES]


def _money_columns(first: list[tuple[str, str, str | None]]) -> list[tuple[str, str | None, str | None]]:
    return [*first, *[(name, name, GBP) for name in MONEY_COLUMNS]]


def trust_compliance(compliance: pd.DataFrame) -> pd.DataFrame:
    """Units-weighted shares on range and on contract per trust, over its categories."""
    c = compliance.fillna({"units": 0.0})
    weighted = c.assign(
        range_units=c["units"] * c["units_on_range"].fillna(0.0),
        contract_units=c["units"] * c["units_on_contract"].fillna(0.0),
    )
    per = weighted.groupby("trust", as_index=False)[["units", "range_units", "contract_units"]].sum()
    safe_units = per["units"].where(per["units"] > 0)
    per["units_on_range"] = per["range_units"] / safe_units
    per["units_on_contract"] = per["contract_units"] / safe_units
    return per[["trust", "units", "units_on_range", "units_on_contract"]]


def write_tracking_workbook(result: dict, path: Path) -> dict:
    """Write the tracking workbook of a :func:`procurement.tracking.track_run` result.

    Returns ``path``, ``sheets`` and ``cells``: measure -> ``Dashboard!B7``-style address
    of each live formula, with ``values`` the engine figures they recompute to.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = Workbook()
    dash = wb.active
    dash.title = "Dashboard"
    months = wb.create_sheet("Months")
    by_month = result["by_month"].drop(columns="month").rename(columns={"label": "month"})
    m = detail_table(months, _money_columns([("Month", "month", None)]), by_month, freeze="B2")
    # Shortfall stays a live formula on the detail sheet too.
    letters = m["letters"]
    for r in range(2, len(by_month) + 2):
        months[f"{letters['shortfall']}{r}"] = f"={letters['planned']}{r}-{letters['realised']}{r}"
        months[f"{letters['shortfall']}{r}"].number_format = GBP

    trusts = wb.create_sheet("Trusts")
    per_trust = result["by_trust"].merge(trust_compliance(result["compliance"]), on="trust", how="left")
    trust_cols = _money_columns([("Trust", "trust", None)])
    trust_cols += [("Units since join", "units", COUNT), ("Units on range", "units_on_range", PERCENT_SHORT)]
    trust_cols += [("Units on contract", "units_on_contract", PERCENT_SHORT)]
    t = detail_table(trusts, trust_cols, per_trust, freeze="B2")

    compliance = wb.create_sheet("Compliance")
    detail_table(
        compliance,
        [
            ("Trust", "trust", None),
            ("Category", "category", None),
            ("Planned join month", "join_month", COUNT),
            ("Months", "months", COUNT),
            ("Units", "units", COUNT),
            ("Spend", "spend", GBP),
            ("Units on range", "units_on_range", PERCENT_SHORT),
            ("Spend on range", "spend_on_range", PERCENT_SHORT),
            ("Units on contract", "units_on_contract", PERCENT_SHORT),
            ("Planned share", "planned_share", PERCENT_SHORT),
        ],
        result["compliance"],
        freeze="C2",
    )
    off = wb.create_sheet("Off contract")
    detail_table(
        off,
        [
            ("Trust", "trust", None),
            ("Category", "category", None),
            ("Group", "group", None),
            ("Line", "line", None),
            ("Reason", "reason", None),
            ("Units", "units", COUNT),
            ("Spend", "spend", GBP),
            ("Premium", "premium", GBP),
        ],
        result["off_contract"],
        freeze="E2",
    )
    tiers_ws = wb.create_sheet("Tiers")
    detail_table(
        tiers_ws,
        [
            ("Offer", "offer", None),
            ("Tier year", "year", COUNT),
            ("Basis", "basis", None),
            ("Planned threshold", "threshold", "#,##0"),
            ("Planned discount", "discount", PERCENT_SHORT),
            ("Planned volume", "planned_volume", "#,##0"),
            ("Volume to date", "to_date", "#,##0"),
            ("Months elapsed", "elapsed", COUNT),
            ("Run rate a month", "run_rate", "#,##0"),
            ("Forecast", "forecast", "#,##0"),
            ("Forecast share", "forecast_share", PERCENT_SHORT),
            ("At risk", "at_risk", None),
            ("Lost (GBP, year)", "lost_gbp", GBP),
            ("Reading", "message", None),
        ],
        result["tiers"],
        freeze="B2",
    )
    detail = wb.create_sheet("Detail")
    cells = result["cells"].drop(columns=["on_plan", "on_in_practice"])
    detail_table(
        detail,
        [
            ("Trust", "trust", None),
            ("Category", "category", None),
            ("Group", "group", None),
            ("Month", "month", COUNT),
            ("Planned units", "plan_units", "#,##0.0"),
            ("Units bought", "bought_units", "#,##0"),
            ("Planned", "planned", GBP),
            ("Realised", "realised", GBP),
            *[(name, name, GBP) for name in CAUSES],
        ],
        cells,
        freeze="E2",
    )

    addresses, values = _dashboard(dash, result, m, t, len(per_trust))
    wb.save(path)
    return {"path": path, "sheets": list(SHEETS), "cells": addresses, "values": values}


def _dashboard(ws, result: dict, months: dict, trusts: dict, n_trusts: int) -> tuple[dict, dict]:
    ws["A1"] = text(f"Tracking {result['scenario']}: realised against planned savings")
    ws["A1"].font = TITLE_FONT
    ws["A2"] = text(
        f"Agreement start {result['start']:%d %b %Y}, actuals to {result['as_of']:%d %b %Y} "
        f"({result['months']} months); run #{result['run_id']}. Shortfall = planned - realised, by cause."
    )
    ws["A2"].font = NOTE_FONT
    header(ws, 4, ["Measure", "Live formula", "Engine figure", "Check (0)"])
    first, last, letters = months["first"], months["last"], months["letters"]

    def total(label: str) -> str:
        return f"=SUM({column_range('Months', letters[label], first, last)})"

    rows = [("planned", "Planned savings", total("planned"), result["planned_gbp"])]
    rows.append(("realised", "Realised savings", total("realised"), result["realised_gbp"]))
    rows.append(("shortfall", "Shortfall", "=B5-B6", result["shortfall_gbp"]))
    rows += [(cause, f"  {CAUSE_LABELS[cause]}", total(cause), result["by_cause"][cause]) for cause in CAUSES]
    addresses, values = {}, {}
    for r, (key, label, formula, value) in enumerate(rows, start=5):
        ws.cell(row=r, column=1, value=label)
        ws.cell(row=r, column=2, value=formula).number_format = GBP
        ws.cell(row=r, column=3, value=cell_value(float(value))).number_format = GBP
        ws.cell(row=r, column=4, value=f"=ROUND(B{r}-C{r},2)").number_format = GBP
        addresses[key] = f"Dashboard!B{r}"
        values[key] = float(value)
    cause_last = 7 + len(CAUSES)
    r = cause_last + 1
    ws.cell(row=r, column=1, value="Causes add up to the shortfall (0)")
    ws.cell(row=r, column=2, value=f"=ROUND(SUM(B8:B{cause_last})-B7,2)").number_format = GBP
    addresses["causes_check"] = f"Dashboard!B{r}"
    values["causes_check"] = 0.0

    r += 2
    ws.cell(row=r, column=1, value="Tiers at risk").font = TITLE_FONT
    risky = result["tiers"][result["tiers"]["at_risk"].astype(bool)] if len(result["tiers"]) else result["tiers"]
    if len(risky):
        for k, message in enumerate(risky["message"], start=r + 1):
            ws.cell(row=k, column=1, value=text(message))
    else:
        ws.cell(row=r + 1, column=1, value="none: every planned tier is on track")
    for k, alert in enumerate((a for a in result["alerts"] if " tier " not in a), start=r + 2 + max(len(risky), 1)):
        ws.cell(row=k, column=1, value=text(alert)).font = NOTE_FONT

    months_ws = ws.parent["Months"]
    line = LineChart()
    line.title = "Planned and realised savings by month"
    line.height, line.width = 7.5, 16
    col_p = months_ws[f"{letters['planned']}1"].column
    col_r = months_ws[f"{letters['realised']}1"].column
    for col in (col_p, col_r):
        line.add_data(Reference(months_ws, min_col=col, min_row=1, max_row=last), titles_from_data=True)
    line.set_categories(Reference(months_ws, min_col=1, min_row=first, max_row=last))
    money_axes(line)
    ws.add_chart(line, "F4")

    trusts_ws = ws.parent["Trusts"]
    bar = BarChart()
    bar.type = "col"
    bar.title = "Compliance by trust: units on range and on contract since the join"
    bar.height, bar.width = 7.5, 16
    on_range = trusts_ws[f"{trusts['letters']['Units on range']}1"].column
    bar.add_data(
        Reference(trusts_ws, min_col=on_range, max_col=on_range + 1, min_row=1, max_row=max(n_trusts + 1, 2)),
        titles_from_data=True,
    )
    bar.set_categories(Reference(trusts_ws, min_col=1, min_row=2, max_row=max(n_trusts + 1, 2)))
    bar.y_axis.numFmt = "0%"
    bar.y_axis.scaling.min = 0
    bar.y_axis.scaling.max = 1
    for axis in (bar.x_axis, bar.y_axis):
        axis.delete = False
    ws.add_chart(bar, "F20")
    ws.column_dimensions["A"].width = 44
    for letter in "BCD":
        ws.column_dimensions[letter].width = 16
    ws.freeze_panes = None
    landscape(ws, fit_height=1)
    ws.column_dimensions[get_column_letter(5)].width = 2
    return addresses, values


__all__ = ["SHEETS", "trust_compliance", "write_tracking_workbook"]
