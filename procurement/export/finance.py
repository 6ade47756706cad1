"""The finance workbook: the savings case a director of finance can audit.

``write_finance_workbook(engine, names, out)`` writes one workbook for the latest run of
each named scenario (the first name is the headline scenario):

* **Summary**: headline net savings over the horizon, in-year (first 12 months) and
  full-year run rate, side by side for every scenario; savings by cause with a native
  waterfall chart; savings by NHS financial year with a column chart. Every figure on
  it is a live formula (``SUMPRODUCT``/``SUM``) over the detail sheets, with check rows
  that show £0 when the detail sheets agree with each other.
* **Trusts**, **Categories**: savings by cause per scenario and trust (category), the
  net total as a formula, the in-year and full-year figures.
* **Years**: savings per scenario, trust, category and financial year.
* **Range**: every candidate product line: kept, dropped or new, regional and current
  annual units.
* **Contracts**: join date, exit fee, bridging cost and the common end date per trust
  and category, with a Gantt-style calendar of the horizon.
* **Assumptions**, **Solver**, **Data quality**: the baseline and every setting; how
  good the answer is; what the imports left out and why.
* **Sensitivity** (after Summary, only when the scenarios differ in exactly one
  setting, e.g. a sweep over ``range_cap`` or ``trusts``): savings against that
  setting's values, with a native line (or column) chart.

Detail sheets hold numbers (read from the run's result tables); only Summary (and a
few per-row totals) hold formulas, so clicking any total shows where it comes from.
Every text cell that came from a supplier, a trust or a clinician goes through
:func:`procurement.export.safe.safe_text`, so nothing in the workbook can run.

Money is GBP ex VAT, written as numbers with currency formats; dates as dates.
"""

import datetime as dt
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.table import Table, TableStyleInfo
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from procurement.demand import usage_by_line
from procurement.errors import ProcureError
from procurement.export.safe import safe_text
from procurement.models import (
    Category,
    Contract,
    DataImport,
    EquivalenceGroup,
    ProductLine,
    RejectedRow,
    RunAllocation,
    RunJoin,
    RunLine,
    RunSaving,
    RunSavingYear,
    ScenarioRun,
    Supplier,
    Trust,
)
from procurement.reference import frame
from procurement.scenarios import (
    CAUSES,
    ScenarioError,
    ScenarioSettings,
    latest_run_id,
    month_offset,
    sensitivity_values,
)

SHEETS = ("Summary", "Trusts", "Categories", "Years", "Range", "Contracts", "Assumptions", "Solver", "Data quality")

GBP = "£#,##0;[Red]-£#,##0"
GBP_PENCE = "£#,##0.00;[Red]-£#,##0.00"
PERCENT = "0.000%"
PERCENT_SHORT = "0.0%"
DATE = "dd mmm yyyy"
DATETIME = "dd mmm yyyy hh:mm"
MONTH = "mmm yy"
COUNT = "#,##0"
SECONDS = "0.00"

CAUSE_LABELS = {
    "price_harmonisation": "Price harmonisation",
    "volume_tiers": "Volume tiers",
    "standardisation": "Standardisation",
    "switching_costs": "Less: switching costs",
    "exit_fees": "Less: exit fees",
    "bridging_costs": "Less: bridging costs",
}
CAUSE_DEFINITIONS = {
    "price_harmonisation": (
        "Each trust buys the products it uses today at the region's price for them (by default the lowest "
        "price any participating trust pays for each SKU) instead of the price it pays now; for the months "
        "it is on the regional agreement."
    ),
    "volume_tiers": (
        "Supplier discounts unlocked when the region's aggregated volume or spend reaches a tier of an offer "
        "(all-units: the discount applies to every unit in the offer's scope)."
    ),
    "standardisation": (
        "Moving demand onto the regional range: today's products at regional prices minus the chosen range "
        "at regional list prices (before tier discounts). Negative when the range costs more per unit but "
        "unlocks larger tier discounts."
    ),
    "switching_costs": (
        "One-off cost of introducing a product line a trust does not use today (instrument sets, training), "
        "per new line per trust, in the month the trust joins (shown negative)."
    ),
    "exit_fees": "Fees paid to leave a current contract before its end date (shown negative).",
    "bridging_costs": (
        "Uplift paid to extend a contract that ends before the trust joins the regional agreement, for the "
        "months in between (shown negative)."
    ),
}
BASELINE = (
    "Each trust continues as today on its own contracts and at the prices it actually paid, annualised from "
    "its usage (quantities and spend scaled to 12 months from the months the usage covers)."
)

HEADER_FILL = PatternFill("solid", fgColor="DCE6F1")
SECTION_FONT = Font(bold=True, size=12)
TITLE_FONT = Font(bold=True, size=14)
NOTE_FONT = Font(italic=True, color="595959")
HELPER_FONT = Font(color="808080", size=9)
THIN = Side(style="thin", color="808080")
CALENDAR_FILLS = {
    "regional": PatternFill("solid", fgColor="70AD47"),
    "bridging": PatternFill("solid", fgColor="F4B183"),
    "own": PatternFill("solid", fgColor="D9D9D9"),
}
MAX_CELL_TEXT = 32_000


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


def _sheet_ref(sheet: str) -> str:
    return sheet if sheet.replace("_", "").isalnum() else "'" + sheet.replace("'", "''") + "'"


def _range(sheet: str, column: str, first: int, last: int) -> str:
    return f"{_sheet_ref(sheet)}!${column}${first}:${column}${last}"


# --------------------------------------------------------------------------- reading runs


@dataclass
class RunData:
    """One scenario's latest solved run, as the frames the sheets are written from."""

    name: str
    run: ScenarioRun
    settings: dict
    start: dt.date
    horizon: int
    savings: pd.DataFrame  # trust, category, cause, amount
    years: pd.DataFrame  # trust, category, financial_year, amount
    joins: pd.DataFrame  # trust, category, joins, join_month, join_date, ... , contract_end, end_month
    lines: pd.DataFrame  # category, group, line, supplier, brand, status, units, current_units, ...
    per_tc: pd.DataFrame  # trust, category, causes..., in_year, full_year


def _month_start(start: dt.date, months: int) -> dt.date:
    total = start.month - 1 + months
    return dt.date(start.year + total // 12, total % 12 + 1, 1)


def _settings_of(run: ScenarioRun) -> tuple[dict, dt.date, int]:
    settings = json.loads(run.settings or "{}")
    defaults = ScenarioSettings()
    start = dt.date.fromisoformat(str(settings.get("start_date", defaults.start_date)))
    return settings, start, int(settings.get("horizon_months", defaults.horizon_months))


def load_run(session: Session, name: str, usage: pd.DataFrame | None = None) -> RunData:
    """The latest run of scenario ``name``; a run without a solution is a ScenarioError.

    ``usage`` is ``demand.usage_by_line`` for every trust (read once for many scenarios).
    """
    run = session.get(ScenarioRun, latest_run_id(session, name))
    if run.objective is None:
        why = f": {run.message}" if run.message else ""
        raise ScenarioError(
            f"scenario {name!r}: its latest run (#{run.id}) is {run.status} with no solution to export{why}"
        )
    settings, start, horizon = _settings_of(run)
    rid = run.id
    savings = frame(
        session,
        select(Trust.code.label("trust"), Category.code.label("category"), RunSaving.cause, RunSaving.amount)
        .join(Trust, Trust.id == RunSaving.trust_id)
        .join(Category, Category.id == RunSaving.category_id)
        .where(RunSaving.run_id == rid),
    )
    years = frame(
        session,
        select(
            Trust.code.label("trust"),
            Category.code.label("category"),
            RunSavingYear.financial_year,
            RunSavingYear.amount,
        )
        .join(Trust, Trust.id == RunSavingYear.trust_id)
        .join(Category, Category.id == RunSavingYear.category_id)
        .where(RunSavingYear.run_id == rid)
        .order_by(Trust.code, Category.code, RunSavingYear.financial_year),
    )
    joins = frame(
        session,
        select(
            Trust.code.label("trust"),
            Category.code.label("category"),
            RunJoin.joins,
            RunJoin.join_month,
            RunJoin.join_date,
            RunJoin.months_on,
            RunJoin.exit_fee_paid,
            RunJoin.bridging_cost,
            RunJoin.annual_baseline,
            RunJoin.annual_regional_cost,
        )
        .join(Trust, Trust.id == RunJoin.trust_id)
        .join(Category, Category.id == RunJoin.category_id)
        .where(RunJoin.run_id == rid)
        .order_by(Trust.code, Category.code),
    )
    joins["joins"] = joins["joins"].astype(bool)
    joins = joins.merge(
        _contract_ends(session, start, list(joins["trust"].unique())), on=["trust", "category"], how="left"
    )
    joins["end_month"] = joins["end_month"].fillna(0).astype(int)
    usage = usage_by_line(session) if usage is None else usage
    lines = _range_lines(session, rid, usage[usage["trust"].isin(set(joins["trust"]))])
    per_tc = _per_trust_category(savings, joins, years, start, horizon)
    return RunData(name, run, settings, start, horizon, savings, years, joins, lines, per_tc)


def _contract_ends(session: Session, start: dt.date, trusts: list[str]) -> pd.DataFrame:
    """Per (trust, category): the latest end of the trust's current contracts, and in months from ``start``.

    The same reading as ``scenarios.build_problem`` (latest end, rounded up to whole
    months, never before the start).
    """
    contracts = frame(
        session,
        select(Trust.code.label("trust"), Category.code.label("category"), Contract.end)
        .join(Trust, Trust.id == Contract.trust_id)
        .join(Category, Category.id == Contract.category_id),
    )
    contracts = contracts[contracts["trust"].isin(trusts)]
    if contracts.empty:
        return pd.DataFrame(columns=["trust", "category", "contract_end", "end_month"])
    contracts["end_month"] = [max(0, month_offset(start, e)) for e in contracts["end"]]  # one per contract
    return contracts.groupby(["trust", "category"], as_index=False).agg(
        contract_end=("end", "max"), end_month=("end_month", "max")
    )


def in_year_from_contracts(joins: pd.DataFrame, switching: pd.Series, horizon: int) -> pd.Series:
    """Net savings in the first 12 months per row of ``joins``, rebuilt from the join decisions.

    The solver's timeline, month by month: the annual rate (baseline minus regional
    cost) / 12 from the join month on; the exit fee and switching costs in the join
    month; the bridging uplift, spread evenly over the months from the contract end
    (``end_month``) to the join month.
    """
    year = min(12, horizon)
    joined = joins["joins"].to_numpy(dtype=bool)
    jm = joins["join_month"].fillna(horizon).to_numpy(dtype=float)
    rate = np.where(joined, joins["annual_baseline"] - joins["annual_regional_cost"], 0.0)
    on_in_year = np.clip(year - jm, 0, None)
    one_off = np.where(joined & (jm < year), joins["exit_fee_paid"].to_numpy() + switching.to_numpy(), 0.0)
    end = joins["end_month"].clip(lower=0).to_numpy(dtype=float)
    bridged = np.clip(jm - end, 0, None)
    bridged_in_year = np.clip(np.minimum(jm, year) - end, 0, None)
    bridging = np.divide(
        joins["bridging_cost"].to_numpy(dtype=float) * bridged_in_year,
        bridged,
        out=np.zeros(len(joins)),
        where=bridged > 0,
    )
    return pd.Series(rate * on_in_year / 12.0 - one_off - np.where(joined, bridging, 0.0), index=joins.index)


def _per_trust_category(
    savings: pd.DataFrame, joins: pd.DataFrame, years: pd.DataFrame, start: dt.date, horizon: int
) -> pd.DataFrame:
    """Causes, in-year and full-year per (trust, category)."""
    causes = (
        savings.pivot_table(index=["trust", "category"], columns="cause", values="amount", aggfunc="sum")
        .reindex(columns=list(CAUSES))
        .fillna(0.0)
    )
    causes.columns = list(causes.columns)
    keys = pd.MultiIndex.from_frame(joins[["trust", "category"]])
    out = joins[["trust", "category"]].copy()
    for cause in CAUSES:
        out[cause] = causes[cause].reindex(keys).fillna(0.0).to_numpy()
    out["in_year"] = in_year_from_contracts(joins, -out["switching_costs"], horizon).to_numpy()
    if start.month == 4 and horizon >= 12 and len(years):
        # An April start: the first 12 months are exactly the first NHS financial year,
        # read straight from the run's stored results (independent of today's contracts).
        first = years[years["financial_year"] == years["financial_year"].min()]
        first = first.groupby(["trust", "category"])["amount"].sum()
        out["in_year"] = first.reindex(keys).fillna(0.0).to_numpy()
    out["full_year"] = np.where(joins["joins"], joins["annual_baseline"] - joins["annual_regional_cost"], 0.0)
    return out


def _range_lines(session: Session, run_id: int, usage: pd.DataFrame) -> pd.DataFrame:
    lines = frame(
        session,
        select(
            RunLine.line_id,
            Category.code.label("category"),
            EquivalenceGroup.code.label("group"),
            ProductLine.code.label("line"),
            Supplier.code.label("supplier"),
            ProductLine.brand,
            RunLine.kept,
            RunLine.units,
        )
        .join(ProductLine, ProductLine.id == RunLine.line_id)
        .join(Supplier, Supplier.id == ProductLine.supplier_id)
        .join(EquivalenceGroup, EquivalenceGroup.id == ProductLine.group_id)
        .join(Category, Category.id == EquivalenceGroup.category_id)
        .where(RunLine.run_id == run_id),
    )
    alloc = frame(
        session,
        select(RunAllocation.line_id, RunAllocation.trust_id, RunAllocation.units, RunAllocation.is_new).where(
            RunAllocation.run_id == run_id
        ),
    )
    used = alloc[alloc["units"] > 0]
    trusts_on = used.groupby("line_id")["trust_id"].nunique()
    new_to = used[used["is_new"].astype(bool)].groupby("line_id")["trust_id"].nunique()
    current = usage.groupby("line").agg(current_units=("units_per_year", "sum"), trusts_today=("trust", "nunique"))
    lines["kept"] = lines["kept"].astype(bool)
    lines["trusts_on"] = lines["line_id"].map(trusts_on).fillna(0).astype(int)
    lines["new_to"] = lines["line_id"].map(new_to).fillna(0).astype(int)
    lines["current_units"] = lines["line"].map(current["current_units"]).fillna(0.0)
    lines["trusts_today"] = lines["line"].map(current["trusts_today"]).fillna(0).astype(int)
    lines["status"] = np.where(~lines["kept"], "dropped", np.where(lines["new_to"] > 0, "new", "kept"))
    return lines.sort_values(["category", "group", "line"]).reset_index(drop=True)


# --------------------------------------------------------------------------- sheet helpers


def _header(ws: Worksheet, row: int, labels: list[str], first_col: int = 1) -> None:
    for offset, label in enumerate(labels):
        cell = ws.cell(row=row, column=first_col + offset, value=label)
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        cell.border = Border(bottom=THIN)


def _write_table(
    ws: Worksheet,
    columns: list[tuple[str, str, str | None]],
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
    _header(ws, start_row, [label for label, _, _ in columns])
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


def _finish_sheet(
    ws: Worksheet,
    *,
    header_row: int = 1,
    last_row: int | None = None,
    last_col: int | None = None,
    freeze: str | None = "A2",
    autofilter: bool = True,
    widths: dict[str, float] | None = None,
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
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    _autosize(ws, widths or {})


def _autosize(ws: Worksheet, fixed: dict[str, float]) -> None:
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


CAUSE_COLUMNS = [(CAUSE_LABELS[c].replace("Less: ", "").capitalize(), c, GBP) for c in CAUSES]


def _savings_sheet(ws: Worksheet, runs: list[RunData], key: str, key_label: str, names: dict[str, str]) -> dict:
    """Trusts or Categories: per scenario and ``key``, savings by cause, net total, in-year, full-year."""
    parts = []
    for rd in runs:
        per = rd.per_tc.groupby(key, as_index=False)[[*CAUSES, "in_year", "full_year"]].sum()
        parts.append(per.assign(scenario=rd.name, name=per[key].map(names)))
    data = pd.concat(parts, ignore_index=True)
    first_cause, last_cause = 4, 3 + len(CAUSES)
    columns = [
        ("Scenario", "scenario", None),
        (key_label, key, None),
        (f"{key_label} name", "name", None),
        *CAUSE_COLUMNS,
        ("Net savings over the horizon", None, GBP),
        ("In-year savings (first 12 months)", "in_year", GBP),
        ("Full-year run rate", "full_year", GBP),
    ]
    net = f"=SUM({get_column_letter(first_cause)}{{r}}:{get_column_letter(last_cause)}{{r}})"
    letters = _write_table(ws, columns, data, formulas={"Net savings over the horizon": net})
    last = len(data) + 1
    _finish_sheet(ws, last_row=last, freeze="D2")
    return {"letters": letters, "first": 2, "last": max(last, 2), "data": data}


def _years_sheet(ws: Worksheet, runs: list[RunData]) -> dict:
    data = pd.concat([rd.years.assign(scenario=rd.name) for rd in runs], ignore_index=True)
    columns = [
        ("Scenario", "scenario", None),
        ("Trust", "trust", None),
        ("Category", "category", None),
        ("Financial year", "financial_year", None),
        ("Net savings", "amount", GBP),
    ]
    letters = _write_table(ws, columns, data)
    last = len(data) + 1
    _finish_sheet(ws, last_row=last, freeze="A2")
    return {"letters": letters, "first": 2, "last": max(last, 2), "data": data}


def _range_sheet(ws: Worksheet, runs: list[RunData]) -> dict:
    data = pd.concat([rd.lines.assign(scenario=rd.name) for rd in runs], ignore_index=True)
    columns = [
        ("Scenario", "scenario", None),
        ("Category", "category", None),
        ("Group", "group", None),
        ("Product line", "line", None),
        ("Supplier", "supplier", None),
        ("Brand", "brand", None),
        ("Status (kept / dropped / new)", "status", None),
        ("Regional units a year", "units", COUNT),
        ("Current units a year (usage)", "current_units", COUNT),
        ("Trusts using it today", "trusts_today", COUNT),
        ("Trusts using it in the scenario", "trusts_on", COUNT),
        ("Trusts new to it", "new_to", COUNT),
    ]
    letters = _write_table(ws, columns, data)
    last = len(data) + 1
    _finish_sheet(ws, last_row=last, freeze="E2")
    return {"letters": letters, "first": 2, "last": max(last, 2)}


def _contracts_sheet(ws: Worksheet, runs: list[RunData]) -> None:
    """Join dates, one-off costs and the common end date, with a Gantt-style calendar."""
    parts = []
    for rd in runs:
        j = rd.joins.copy()
        j["scenario"] = rd.name
        j["joins_text"] = np.where(j["joins"], "yes", "no")
        j["agreement_start"] = rd.start
        j["common_end"] = _month_start(rd.start, rd.horizon) - dt.timedelta(days=1)
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
    _write_table(
        ws,
        columns,
        data,
        formulas={"Annual saving once joined": '=IF(D{r}="yes",I{r}-J{r},0)'},
    )
    # The calendar: one column per month (per quarter beyond five years) of the longest horizon.
    first = min(rd.start for rd in runs)
    last_end = max(_month_start(rd.start, rd.horizon) for rd in runs)
    span = (last_end.year - first.year) * 12 + last_end.month - first.month
    step = 1 if span <= 60 else 3
    periods = [_month_start(first, m) for m in range(0, span, step)]
    cal0 = len(columns) + 2
    for i, when in enumerate(periods):
        cell = ws.cell(row=1, column=cal0 + i, value=when)
        cell.number_format = MONTH
        cell.font = Font(bold=True, size=9)
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(text_rotation=90, horizontal="center")
        ws.column_dimensions[get_column_letter(cal0 + i)].width = 3.2
    starts = {rd.name: rd.start for rd in runs}
    for r, row in enumerate(data.itertuples(index=False), start=2):  # a cell per row and month: drawing
        start = starts[row.scenario]
        jm = int(row.join_month) if row.joins and not pd.isna(row.join_month) else None
        for i, when in enumerate(periods):
            m = (when.year - start.year) * 12 + when.month - start.month
            if m < 0 or when >= _month_start(start, next(rd.horizon for rd in runs if rd.name == row.scenario)):
                continue
            if jm is not None and m >= jm:
                state = "regional"
            elif jm is not None and m >= row.end_month:
                state = "bridging"
            else:
                state = "own"
            ws.cell(row=r, column=cal0 + i).fill = CALENDAR_FILLS[state]
    last = len(data) + 1
    _finish_sheet(
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
    for i in range(len(periods)):
        ws.column_dimensions[get_column_letter(cal0 + i)].width = 3.2


def _setting_value(key: str, value: object) -> tuple[object, str | None]:
    if value is None:
        return "none", None
    if isinstance(value, bool):
        return ("yes" if value else "no"), None
    if isinstance(value, list | tuple):
        return (", ".join(str(v) for v in value) or "all trusts with usage"), None
    if isinstance(value, dict):
        return (", ".join(f"{k}={v}" for k, v in sorted(value.items())) or "none"), None
    if key == "start_date":
        return dt.date.fromisoformat(str(value)), DATE
    if key in ("min_supplier_share", "max_supplier_share", "year_one_cap"):
        return value, PERCENT_SHORT
    if key == "gap_rel":
        return value, "0.00%"
    if key == "switching_cost":
        return value, GBP
    return value, None


SETTING_LABELS = {
    "trusts": "Participating trusts",
    "start_date": "Start of the regional agreement",
    "horizon_months": "Horizon (months)",
    "join_grid_months": "Join-date grid (months)",
    "range_cap": "Max product lines per group (region)",
    "range_cap_by_group": "Max product lines, per group",
    "trust_range_cap": "Max product lines per group (each trust)",
    "odep_floor": "Minimum ODEP rating (hips, knees)",
    "min_suppliers": "Min suppliers per category",
    "min_suppliers_by_category": "Min suppliers, per category",
    "min_supplier_share": "Min share of a kept supplier",
    "max_supplier_share": "Max share per supplier",
    "year_one_cap": "Max share of units moved in year one",
    "switching_cost": "Switching cost per new line per trust",
    "participation": "Participation (all / optional)",
    "regional_price": "Regional price basis",
    "price_change_pct": "Price change sensitivity (%)",
    "require_approval": "Only clinically approved lines",
    "solver": "Solver",
    "time_limit": "Solver time limit (s)",
    "gap_rel": "Optimality gap to stop at",
}


def _assumptions_sheet(ws: Worksheet, runs: list[RunData], warnings: list[str]) -> None:
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
        (
            "Regional price",
            "best_paid: a line's regional SKU mix at the lowest price any participating trust pays for each "
            "SKU today (catalogue price for a line nobody buys); catalogue: the mean catalogue price of its SKUs.",
        ),
        ("Current units (Range sheet)", "Annual units from the trusts' usage in the database when exported."),
        ("Money", "GBP excluding VAT; costs are shown as negative savings."),
    ]
    ws.cell(row=1, column=1, value="Assumptions and definitions").font = TITLE_FONT
    _header(ws, 3, ["Item", "Definition or value"])
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
    _header(ws, r, ["Cause", "Definition"])
    for cause in CAUSES:
        r += 1
        ws.cell(row=r, column=1, value=CAUSE_LABELS[cause])
        ws.cell(row=r, column=2, value=CAUSE_DEFINITIONS[cause]).alignment = Alignment(wrap_text=True, vertical="top")
    r += 2
    ws.cell(row=r, column=1, value="Scenario settings (as stored with each run)").font = SECTION_FONT
    r += 1
    _header(ws, r, ["Setting", *[rd.name for rd in runs]])
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
            value, fmt = _setting_value(key, rd.settings.get(key))
            cell = ws.cell(row=r, column=c, value=cell_value(value))
            cell.alignment = Alignment(horizontal="right", wrap_text=True)
            if fmt:
                cell.number_format = fmt
    widths = {"A": 42, "B": 90}
    widths.update({get_column_letter(c): 24 for c in range(3, 2 + len(runs))})
    _finish_sheet(ws, freeze="A4", autofilter=False, widths=widths)


def _verdict(run: ScenarioRun) -> str:
    gap = run.gap or 0.0
    if run.status == "optimal":
        return f"proven optimal (within {gap:.3%} of the best bound)"
    if run.best_bound is not None and run.objective is not None:
        return f"best plan found; at most £{run.best_bound - run.objective:,.0f} ({gap:.3%}) from optimal"
    return run.status


def _solver_sheet(ws: Worksheet, runs: list[RunData]) -> dict:
    data = pd.DataFrame(
        [
            {
                "scenario": rd.name,
                "run": rd.run.id,
                "solver": rd.run.solver,
                "status": rd.run.status,
                "verdict": _verdict(rd.run),
                "objective": rd.run.objective,
                "best_bound": rd.run.best_bound,
                "gap": rd.run.gap,
                "lp_bound": rd.run.lp_bound,
                "greedy": rd.run.greedy_objective,
                "build": rd.run.build_seconds,
                "solve": rd.run.solve_seconds,
                "variables": rd.run.n_variables,
                "constraints": rd.run.n_constraints,
                "hash": rd.run.input_hash,
                "run_by": rd.run.run_by,
                "run_at": rd.run.started_at,
                "message": rd.run.message,
            }
            for rd in runs
        ]
    ).astype(object)
    columns = [
        ("Scenario", "scenario", None),
        ("Run", "run", None),
        ("Solver", "solver", None),
        ("Status", "status", None),
        ("Verdict", "verdict", None),
        ("Net savings (objective)", "objective", GBP),
        ("Best bound", "best_bound", GBP),
        ("Gap", "gap", PERCENT),
        ("LP relaxation bound", "lp_bound", GBP),
        ("Rule of thumb (greedy)", "greedy", GBP),
        ("Optimiser's lead over the rule of thumb", None, GBP),
        ("Lead (% of rule of thumb)", None, PERCENT_SHORT),
        ("Build seconds", "build", SECONDS),
        ("Solve seconds", "solve", SECONDS),
        ("Variables", "variables", COUNT),
        ("Constraints", "constraints", COUNT),
        ("Input-data hash (sha256)", "hash", None),
        ("Run by", "run_by", None),
        ("Run at (UTC)", "run_at", DATETIME),
        ("Message", "message", None),
    ]
    letters = _write_table(
        ws,
        columns,
        data,
        formulas={
            "Optimiser's lead over the rule of thumb": '=IF(ISNUMBER(J{r}),F{r}-J{r},"")',
            "Lead (% of rule of thumb)": '=IF(AND(ISNUMBER(J{r}),J{r}<>0),(F{r}-J{r})/ABS(J{r}),"")',
        },
    )
    last = len(data) + 1
    _finish_sheet(ws, last_row=last, freeze="B2", widths={"Q": 20})
    return {"letters": letters, "first": 2, "last": last}


def _data_quality_sheet(ws: Worksheet, session: Session) -> None:
    imports = frame(
        session,
        select(
            DataImport.id,
            DataImport.kind,
            DataImport.file_name,
            Supplier.code.label("supplier"),
            Trust.code.label("trust"),
            DataImport.version,
            DataImport.imported_at,
            DataImport.imported_by,
            DataImport.rows_read,
            DataImport.rows_accepted,
            DataImport.rows_rejected,
        )
        .outerjoin(Supplier, Supplier.id == DataImport.supplier_id)
        .outerjoin(Trust, Trust.id == DataImport.trust_id)
        .order_by(DataImport.id),
    )
    rejected = frame(
        session,
        select(
            RejectedRow.import_id,
            DataImport.file_name,
            RejectedRow.row_number,
            RejectedRow.column,
            RejectedRow.value,
            RejectedRow.reason,
            RejectedRow.raw,
        )
        .join(DataImport, DataImport.id == RejectedRow.import_id)
        .order_by(RejectedRow.import_id, RejectedRow.row_number, RejectedRow.id),
    )
    imports["whose"] = imports["supplier"].fillna(imports["trust"]).fillna("")
    unclassified = rejected[rejected["reason"].str.contains("unclassified", case=False, na=False)]
    ws.cell(row=1, column=1, value="Data quality: what was imported, and what was left out and why").font = TITLE_FONT
    sections = [
        (
            "Imports",
            "Every imported file",
            [
                ("Import", "id", None),
                ("Kind", "kind", None),
                ("File", "file_name", None),
                ("Supplier or trust", "whose", None),
                ("Version", "version", None),
                ("Imported at (UTC)", "imported_at", DATETIME),
                ("Imported by", "imported_by", None),
                ("Rows read", "rows_read", COUNT),
                ("Rows accepted", "rows_accepted", COUNT),
                ("Rows rejected", "rows_rejected", COUNT),
            ],
            imports,
        ),
        (
            "RejectedRows",
            "Every rejected row (left out of the analysis)",
            [
                ("Import", "import_id", None),
                ("File", "file_name", None),
                ("Row", "row_number", None),
                ("Column", "column", None),
                ("Value", "value", None),
                ("Reason", "reason", None),
            ],
            rejected,
        ),
        (
            "Unclassified",
            "Unclassified catalogue items (no equivalence group of the taxonomy matched)",
            [
                ("Import", "import_id", None),
                ("File", "file_name", None),
                ("Row", "row_number", None),
                ("Description", "value", None),
                ("Row as read", "raw", None),
            ],
            unclassified,
        ),
    ]
    r = 3
    for name, title, columns, data in sections:
        ws.cell(row=r, column=1, value=f"{title}: {len(data)}").font = SECTION_FONT
        r += 1
        if data.empty:
            ws.cell(row=r, column=1, value="none").font = NOTE_FONT
            r += 2
            continue
        header = r
        # A table per section: each gets its own autofilter (a sheet has only one of its own).
        sub = data.reset_index(drop=True)
        _write_table_at(ws, columns, sub, header)
        last = header + len(sub)
        table = Table(displayName=name, ref=f"A{header}:{get_column_letter(len(columns))}{last}")
        table.tableStyleInfo = TableStyleInfo(name="TableStyleLight9", showRowStripes=True)
        ws.add_table(table)
        r = last + 2
    _finish_sheet(ws, freeze="A3", autofilter=False, widths={"B": 30, "C": 28, "E": 30, "F": 50})
    ws.print_title_rows = None


def _write_table_at(ws: Worksheet, columns, data: pd.DataFrame, header_row: int) -> None:
    _header(ws, header_row, [label for label, _, _ in columns])
    for cell in ws[header_row][: len(columns)]:
        cell.alignment = Alignment(wrap_text=False)
    for r, values in enumerate(data[[src for _, src, _ in columns]].itertuples(index=False, name=None), header_row + 1):
        for c, ((_, _, fmt), value) in enumerate(zip(columns, values, strict=True), start=1):
            cell = ws.cell(row=r, column=c, value=cell_value(value))
            if fmt:
                cell.number_format = fmt


# --------------------------------------------------------------------------- summary


def _sum_where(values: str, *conditions: tuple[str, str]) -> str:
    """``SUMPRODUCT((r1=c1)*(r2=c2)*values)``: a sum over rows whose keys equal the criteria.

    SUMIFS and MATCH would read ``*``, ``?`` and ``~`` in a criterion as wildcards, and
    scenario names from a sweep contain them (``base[odep_floor=10A*]``); ``=`` compares
    exactly (ignoring case, as Excel and LibreOffice do) in both applications.
    """
    tests = "*".join(f"({rng}={crit})" for rng, crit in conditions)
    return f"SUMPRODUCT({tests}*{values})"


def _summary_sheet(
    ws: Worksheet, runs: list[RunData], trusts: dict, categories: dict, years: dict, rng: dict, solver: dict
) -> dict:
    """The one-screen summary; every figure a formula over the detail sheets. Returns cell addresses."""
    n = len(runs)
    cols = [get_column_letter(2 + i) for i in range(n)]
    tl, tf, tla = trusts["letters"], trusts["first"], trusts["last"]

    def trusts_sum(label: str, col: str) -> str:
        return "=" + _sum_where(
            _range("Trusts", tl[label], tf, tla), (_range("Trusts", tl["Scenario"], tf, tla), f"{col}$4")
        )

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

    def block_header(row: int, title: str) -> None:
        _header(ws, row, [title, *[rd.name for rd in runs]])
        for c, rd in enumerate(runs, start=2):
            ws.cell(row=row, column=c, value=text(rd.name)).alignment = Alignment(horizontal="right", wrap_text=True)
        ws.cell(row=row, column=2).font = Font(bold=True, underline="single")

    block_header(4, "Headline")
    headline = [
        (5, "Net savings over the horizon", "net", "Net savings over the horizon", GBP),
        (6, "In-year savings (first 12 months)", "in_year", "In-year savings (first 12 months)", GBP),
        (7, "Full-year run rate", "full_year", "Full-year run rate", GBP),
    ]
    for row, label, key, column, fmt in headline:
        ws.cell(row=row, column=1, value=label).font = Font(bold=True)
        for rd, col in zip(runs, cols, strict=True):
            cell = ws[f"{col}{row}"]
            cell.value = trusts_sum(column, col)
            cell.number_format = fmt
            cell.font = Font(bold=True, size=12 if col == "B" else 11)
            cells[rd.name][key] = f"Summary!{col}{row}"
    rl, rf, rla = rng["letters"], rng["first"], rng["last"]
    sl, sf, sla = solver["letters"], solver["first"], solver["last"]
    ws.cell(row=8, column=1, value="Product lines in the regional range")
    ws.cell(row=9, column=1, value="Optimality gap (Solver sheet)")
    for col in cols:
        status = _range("Range", rl["Status (kept / dropped / new)"], rf, rla)
        ws[f"{col}8"] = f'=SUMPRODUCT(({_range("Range", rl["Scenario"], rf, rla)}={col}$4)*({status}<>"dropped"))'
        ws[f"{col}8"].number_format = COUNT
        gaps, scenarios = _range("Solver", sl["Gap"], sf, sla), _range("Solver", sl["Scenario"], sf, sla)
        ws[f"{col}9"] = "=" + _sum_where(gaps, (scenarios, f"{col}$4"))  # one Solver row per scenario
        ws[f"{col}9"].number_format = PERCENT

    # By cause, with the waterfall's helper columns for the first scenario.
    block_header(11, "Net savings by cause")
    cause_rows = list(range(12, 12 + len(CAUSES)))
    net_row = cause_rows[-1] + 1
    for row, cause in zip(cause_rows, CAUSES, strict=True):
        ws.cell(row=row, column=1, value=CAUSE_LABELS[cause])
        label = next(lbl for lbl, src, _ in CAUSE_COLUMNS if src == cause)
        for rd, col in zip(runs, cols, strict=True):
            ws[f"{col}{row}"] = trusts_sum(label, col)
            ws[f"{col}{row}"].number_format = GBP
            cells[rd.name][cause] = f"Summary!{col}{row}"
    ws.cell(row=net_row, column=1, value="Net savings over the horizon").font = Font(bold=True)
    for rd, col in zip(runs, cols, strict=True):
        ws[f"{col}{net_row}"] = f"=SUM({col}{cause_rows[0]}:{col}{cause_rows[-1]})"
        ws[f"{col}{net_row}"].number_format = GBP
        ws[f"{col}{net_row}"].font = Font(bold=True)
        ws[f"{col}{net_row}"].border = Border(top=THIN)
        cells[rd.name]["net_by_cause"] = f"Summary!{col}{net_row}"

    cl, cf, cla = categories["letters"], categories["first"], categories["last"]
    yl, yf, yla = years["letters"], years["first"], years["last"]
    check_rows = (net_row + 1, net_row + 2)
    ws.cell(row=check_rows[0], column=1, value="Check: Categories sheet minus Trusts sheet (£0.00)").font = NOTE_FONT
    ws.cell(row=check_rows[1], column=1, value="Check: Years sheet minus Trusts sheet (£0.00)").font = NOTE_FONT
    for rd, col in zip(runs, cols, strict=True):
        net_cat = _range("Categories", cl["Net savings over the horizon"], cf, cla)
        ws[f"{col}{check_rows[0]}"] = (
            "=" + _sum_where(net_cat, (_range("Categories", cl["Scenario"], cf, cla), f"{col}$4")) + f"-{col}5"
        )
        ws[f"{col}{check_rows[1]}"] = (
            "="
            + _sum_where(
                _range("Years", yl["Net savings"], yf, yla), (_range("Years", yl["Scenario"], yf, yla), f"{col}$4")
            )
            + f"-{col}5"
        )
        for row in check_rows:
            ws[f"{col}{row}"].number_format = GBP_PENCE
            ws[f"{col}{row}"].font = NOTE_FONT
        cells[rd.name]["check_categories"] = f"Summary!{col}{check_rows[0]}"
        cells[rd.name]["check_years"] = f"Summary!{col}{check_rows[1]}"

    # Waterfall helpers (first scenario): an invisible base, then increases and decreases.
    h0 = 2 + n + 1
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

    # By NHS financial year.
    fy_header = check_rows[1] + 2
    block_header(fy_header, "Net savings by NHS financial year")
    fys = sorted({fy for rd in runs for fy in rd.years["financial_year"]})
    fy_rows = list(range(fy_header + 1, fy_header + 1 + len(fys)))
    for row, fy in zip(fy_rows, fys, strict=True):
        ws.cell(row=row, column=1, value=text(fy)).alignment = Alignment(horizontal="left")
        for rd, col in zip(runs, cols, strict=True):
            ws[f"{col}{row}"] = "=" + _sum_where(
                _range("Years", yl["Net savings"], yf, yla),
                (_range("Years", yl["Scenario"], yf, yla), f"{col}${fy_header}"),
                (_range("Years", yl["Financial year"], yf, yla), f"$A{row}"),
            )
            ws[f"{col}{row}"].number_format = GBP
            cells[rd.name][f"fy {fy}"] = f"Summary!{col}{row}"
    total_row = (fy_rows[-1] if fy_rows else fy_header) + 1
    ws.cell(row=total_row, column=1, value="Total").font = Font(bold=True)
    for rd, col in zip(runs, cols, strict=True):
        first_fy = fy_rows[0] if fy_rows else total_row
        ws[f"{col}{total_row}"] = f"=SUM({col}{first_fy}:{col}{total_row - 1})" if fy_rows else "=0"
        ws[f"{col}{total_row}"].number_format = GBP
        ws[f"{col}{total_row}"].font = Font(bold=True)
        ws[f"{col}{total_row}"].border = Border(top=THIN)
        cells[rd.name]["years_total"] = f"Summary!{col}{total_row}"

    # Charts.
    waterfall = BarChart()
    waterfall.type = "col"
    waterfall.grouping = "stacked"
    waterfall.overlap = 100
    waterfall.gapWidth = 40
    waterfall.title = f"Net savings by cause: {first.name}"
    waterfall.y_axis.numFmt = "£#,##0"
    waterfall.y_axis.majorGridlines = None
    waterfall.legend = None
    waterfall.x_axis.tickLblPos = "low"
    data = Reference(ws, min_col=h0, max_col=h0 + 2, min_row=11, max_row=net_row)
    waterfall.add_data(data, titles_from_data=True)
    waterfall.set_categories(Reference(ws, min_col=1, min_row=cause_rows[0], max_row=net_row))
    base_series, up, down = waterfall.series
    base_series.graphicalProperties.noFill = True
    base_series.graphicalProperties.line.noFill = True
    up.graphicalProperties.solidFill = "2E7D32"
    down.graphicalProperties.solidFill = "C62828"
    for axis in (waterfall.x_axis, waterfall.y_axis):
        axis.delete = False
    waterfall.width, waterfall.height = 17, 9.5
    ws.add_chart(waterfall, f"{get_column_letter(h0 + 4)}1")

    by_year = BarChart()
    by_year.type = "col"
    by_year.grouping = "clustered"
    by_year.title = "Net savings by NHS financial year"
    by_year.y_axis.numFmt = "£#,##0"
    by_year.y_axis.majorGridlines = None
    by_year.x_axis.tickLblPos = "low"
    if fy_rows:
        by_year.add_data(
            Reference(ws, min_col=2, max_col=1 + n, min_row=fy_header, max_row=fy_rows[-1]), titles_from_data=True
        )
        by_year.set_categories(Reference(ws, min_col=1, min_row=fy_rows[0], max_row=fy_rows[-1]))
    for axis in (by_year.x_axis, by_year.y_axis):
        axis.delete = False
    by_year.width, by_year.height = 17, 7.5
    ws.add_chart(by_year, f"{get_column_letter(h0 + 4)}20")

    ws.column_dimensions["A"].width = 46
    for col in cols:
        ws.column_dimensions[col].width = 16
    ws.column_dimensions[get_column_letter(2 + n)].width = 3
    for k in range(3):
        ws.column_dimensions[get_column_letter(h0 + k)].width = 11
    ws.row_dimensions[4].height = 30
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=h0 + 2)
    ws["A2"].alignment = Alignment(wrap_text=True, vertical="top")
    ws.row_dimensions[2].height = 30
    ws.freeze_panes = None
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 1
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.sheet_view.showGridLines = False
    return cells


# --------------------------------------------------------------------------- sensitivity


def _sensitivity_sheet(wb: Workbook, runs: list[RunData], figures: list[dict], cells: dict) -> bool:
    """When the scenarios differ in exactly one setting, a Sensitivity sheet (after Summary):
    savings against that setting's values, and a native chart of them. Returns whether written.

    Figures are numbers from each run; the net total, the change from the row above and
    the check against Summary are formulas.
    """
    found = sensitivity_values([rd.settings for rd in runs])
    if found is None:
        return False
    key, values, order = found
    ws = wb.create_sheet("Sensitivity", 1)
    setting = SETTING_LABELS.get(key, key)
    ws.cell(row=1, column=1, value=f"Sensitivity: net savings against {setting.lower()}").font = TITLE_FONT
    ws.cell(
        row=2,
        column=1,
        value=(
            f"The scenarios differ only in this setting ({key}); every other setting is the same (see Assumptions). "
            "GBP ex VAT, from each scenario's latest run; the net savings, the change and the check are formulas."
        ),
    ).font = NOTE_FONT
    header = 4
    cause_labels = [label for label, _, _ in CAUSE_COLUMNS]
    labels = [
        setting,
        "Scenario",
        "Status",
        "Product lines in the regional range",
        *cause_labels,
        "Net savings over the horizon",
        "In-year savings (first 12 months)",
        "Full-year run rate",
        "Change in net savings from the row above",
        "Check: Summary minus this sheet (£0.00)",
    ]
    _header(ws, header, labels)
    col = {label: get_column_letter(i) for i, label in enumerate(labels, start=1)}
    first_cause, last_cause = col[cause_labels[0]], col[cause_labels[-1]]
    net, change, check = col["Net savings over the horizon"], col[labels[-2]], col[labels[-1]]
    first_row = header + 1
    numeric = True
    for r, i in enumerate(order, start=first_row):
        rd, fig = runs[i], figures[i]
        value, fmt = _setting_value(key, values[i])
        numeric &= isinstance(value, int | float) and not isinstance(value, bool)
        cell = ws.cell(row=r, column=1, value=cell_value(value))
        cell.alignment = Alignment(horizontal="left")
        if fmt:
            cell.number_format = fmt
        ws.cell(row=r, column=2, value=text(rd.name))
        ws.cell(row=r, column=3, value=text(rd.run.status))
        kept = int((rd.lines["status"] != "dropped").sum()) if len(rd.lines) else 0
        ws.cell(row=r, column=4, value=kept).number_format = COUNT
        for k, cause in enumerate(CAUSES):
            ws.cell(row=r, column=5 + k, value=cell_value(fig["savings_by_cause"][cause])).number_format = GBP
        formulas = {
            net: f"=SUM({first_cause}{r}:{last_cause}{r})",
            col["In-year savings (first 12 months)"]: cell_value(fig["in_year_gbp"]),
            col["Full-year run rate"]: cell_value(fig["full_year_gbp"]),
            change: f"={net}{r}-{net}{r - 1}" if r > first_row else None,
            check: f"={cells[rd.name]['net']}-{net}{r}",
        }
        for letter, content in formulas.items():
            ws[f"{letter}{r}"] = content
            ws[f"{letter}{r}"].number_format = GBP_PENCE if letter == check else GBP
        ws[f"{net}{r}"].font = Font(bold=True)
        ws[f"{check}{r}"].font = NOTE_FONT
    last_row = first_row + len(order) - 1

    chart = LineChart() if numeric else BarChart()
    if not numeric:
        chart.type, chart.grouping = "col", "clustered"
    chart.title = f"Net savings against {setting.lower()}"
    chart.y_axis.title = "GBP ex VAT"
    chart.x_axis.title = setting
    chart.y_axis.numFmt = "£#,##0"
    chart.x_axis.tickLblPos = "low"
    for letter in (net, col["In-year savings (first 12 months)"], col["Full-year run rate"]):
        idx = ws[f"{letter}{header}"].column
        chart.add_data(Reference(ws, min_col=idx, min_row=header, max_row=last_row), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=first_row, max_row=last_row))
    if numeric:
        for series in chart.series:
            series.marker.symbol = "circle"
            series.smooth = False
    for axis in (chart.x_axis, chart.y_axis):
        axis.delete = False
    chart.width, chart.height = 20, 9
    ws.add_chart(chart, f"A{last_row + 3}")
    _finish_sheet(ws, header_row=header, last_row=last_row, freeze="C5", widths={"A": 24, "B": 30})
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=len(labels))
    ws["A2"].alignment = Alignment(wrap_text=True, vertical="top")
    ws.row_dimensions[2].height = 30
    return True


# --------------------------------------------------------------------------- the workbook


def _figures(rd: RunData) -> dict:
    """The figures the Summary's formulas recompute to, from the same detail data."""
    per = rd.per_tc
    by_cause = {cause: float(per[cause].sum()) for cause in CAUSES}
    return {
        "scenario": rd.name,
        "run_id": rd.run.id,
        "status": rd.run.status,
        "objective_gbp": float(sum(by_cause.values())),
        "in_year_gbp": float(per["in_year"].sum()),
        "full_year_gbp": float(per["full_year"].sum()),
        "savings_by_cause": by_cause,
        "savings_by_year": {str(k): float(v) for k, v in rd.years.groupby("financial_year")["amount"].sum().items()},
    }


def _check_figures(rd: RunData, figures: dict) -> list[str]:
    """Differences over a penny between the workbook's figures and the run's stored ones."""
    out = []
    for key, stored in (
        ("objective_gbp", rd.run.objective),
        ("in_year_gbp", rd.run.in_year_savings),
        ("full_year_gbp", rd.run.full_year_savings),
    ):
        if stored is not None and abs(figures[key] - stored) > 0.005:
            out.append(
                f"{rd.name}: the workbook's {key.removesuffix('_gbp').replace('_', '-')} figure "
                f"£{figures[key]:,.2f} differs from the run's £{stored:,.2f} (the contracts changed since the run?)"
            )
    return out


def write_finance_workbook(engine: Engine, names: list[str], out: Path) -> dict:
    """Write the finance workbook for the latest runs of scenarios ``names`` to ``out``.

    The first name is the headline scenario. Returns a summary: ``path``, ``sheets``,
    ``scenarios`` (per scenario the figures the Summary's formulas recompute to, and
    ``cells``: where each figure is on Summary) and ``warnings``.
    """
    names = list(dict.fromkeys(names))
    if not names:
        raise ScenarioError("give at least one scenario to export")
    out = Path(out)
    with Session(engine) as session:
        usage = usage_by_line(session)
        runs = [load_run(session, name, usage) for name in names]
        trust_names = dict(session.execute(select(Trust.code, Trust.name)).all())
        category_names = dict(session.execute(select(Category.code, Category.name)).all())
        figures = [_figures(rd) for rd in runs]
        warnings = [w for rd, f in zip(runs, figures, strict=True) for w in _check_figures(rd, f)]

        wb = Workbook()
        sheets = {name: (wb.active if i == 0 else wb.create_sheet()) for i, name in enumerate(SHEETS)}
        for name, ws in sheets.items():
            ws.title = name
        trusts = _savings_sheet(sheets["Trusts"], runs, "trust", "Trust", trust_names)
        categories = _savings_sheet(sheets["Categories"], runs, "category", "Category", category_names)
        years = _years_sheet(sheets["Years"], runs)
        rng = _range_sheet(sheets["Range"], runs)
        _contracts_sheet(sheets["Contracts"], runs)
        _assumptions_sheet(sheets["Assumptions"], runs, warnings)
        solver = _solver_sheet(sheets["Solver"], runs)
        _data_quality_sheet(sheets["Data quality"], session)
    cells = _summary_sheet(sheets["Summary"], runs, trusts, categories, years, rng, solver)
    _sensitivity_sheet(wb, runs, figures, cells)
    wb.properties.title = f"Savings case: {', '.join(names)}"
    wb.properties.creator = "procure"
    wb.calculation.fullCalcOnLoad = True
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        wb.save(out)
    except OSError as exc:
        raise ProcureError(f"cannot write {out}: {exc.strerror or exc}") from exc
    for f in figures:
        f["cells"] = cells[f["scenario"]]
    return {"path": str(out), "sheets": wb.sheetnames, "scenarios": figures, "warnings": warnings}


__all__ = ["SHEETS", "in_year_from_contracts", "load_run", "write_finance_workbook"]
