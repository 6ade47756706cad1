"""Clinician shortlist workbooks: sent to a trust's surgeons, read back as approvals.

``export_shortlist`` writes one workbook for a trust (or ``REGIONAL``, the regional
clinical panel): a "Read me" sheet and one sheet per category (Hip, Knee, Trauma).
Each category sheet lists, group by group, every product line of the catalogue that
has an orderable SKU, with its supplier, brand, ODEP rating, price band, whether the
trust uses it today (annual units), the decision in force (who, when) and, given a
scenario, whether the scenario's latest run keeps it. Three columns are for the
surgeon: Decision (a drop-down of approve / reject / conditional), Reason and
Clinician name. Every other cell is locked (sheet and workbook protection on).

Integrity. Sheet protection only guides the surgeon (Excel's protection is easily
removed); the import is what enforces it. Each export is a ``ShortlistExport`` row
whose ``snapshot`` holds every locked cell's value by sheet and address and the
product line of every decision row; the export id is in the workbook (the visible
"Shortlist #N" titles, the hidden ``_shortlist`` sheet and the defined name
``ShortlistExportId``). ``import_shortlist`` finds the export by that id, aligns the
returned rows with the snapshot's (so an added or deleted row is named as such rather
than as a cascade of changed cells), compares every locked cell, checks every
decision, and records the decisions only if nothing is wrong: all or nothing, in one
transaction, like every importer (``procurement.imports``). Each decision becomes an
``Approval`` (the typed clinician name, role "Consultant orthopaedic surgeon", the
reason as comment, decided now, the returned file's sha256) under one ``DataImport``
of kind ``shortlist`` whose ``profile`` names the export ("shortlist #N"). The same
file imported twice is a duplicate: nothing is written.

Price band: a line's regional price is the scenarios' default (``best_paid``: its
regional SKU mix at the lowest price any trust pays for each SKU, else its mean
catalogue price); within its group the cheapest third of the lines is "£", the middle
third "££" and the dearest third "£££". No price itself is shown: one trust's prices
are not disclosed to another's clinicians.
"""

import datetime as dt
import difflib
import hashlib
import io
import json
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side
from openpyxl.utils import get_column_letter
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.workbook.protection import WorkbookProtection
from openpyxl.worksheet.datavalidation import DataValidation
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from procurement.db import transaction
from procurement.demand import usage_by_line
from procurement.errors import InputFileError, ProcureError, UnknownReferenceError
from procurement.export.safe import safe_text
from procurement.importers import DECISIONS, REGIONAL_PANEL, ImportReport, current_user
from procurement.importers.core import find_duplicate as _find_duplicate
from procurement.importers.core import read_bytes as _read_bytes
from procurement.models import (
    Approval,
    CatalogueItem,
    Category,
    ClinicalRating,
    DataImport,
    ProductLine,
    RunAllocation,
    RunLine,
    Scenario,
    ScenarioRun,
    ShortlistExport,
    Supplier,
    Trust,
    utcnow,
)
from procurement.reference import frame, groups_frame, lines_frame, trusts_by_code

KIND = "shortlist"
ROLE = "Consultant orthopaedic surgeon"
FORMAT_VERSION = 1
ID_SHEET = "_shortlist"
ID_NAME = "ShortlistExportId"
README = "Read me"
HEADER_ROW = 4
MAX_PROBLEMS_SHOWN = 25
BANDS = np.array(["£", "££", "£££"])

EDITABLE = ("decision", "reason", "clinician")

_FILL_HEADER = PatternFill("solid", fgColor="1F4E78")
_FILL_SECTION = PatternFill("solid", fgColor="DDEBF7")
_FILL_EDIT = PatternFill("solid", fgColor="FFF2CC")
_THIN = Side(style="thin", color="BFBFBF")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_UNLOCKED = Protection(locked=False)


class ShortlistRefused(InputFileError):
    """A returned shortlist that cannot be used; ``problems`` names every cell or row."""

    def __init__(self, file: str, problems: list[str]):
        self.file = file
        self.problems = problems
        shown = problems[:MAX_PROBLEMS_SHOWN]
        more = len(problems) - len(shown)
        lines = "\n  ".join(shown + ([f"... and {more} more"] if more > 0 else []))
        super().__init__(f"{file}: refused, nothing recorded ({len(problems)} problem(s)):\n  {lines}")


# --------------------------------------------------------------------------- the data


def _resolve_trust(session: Session, trust: str) -> Trust | None:
    """The trust of code ``trust``; None for REGIONAL (the regional clinical panel)."""
    code = trust.strip().upper()
    if code == REGIONAL_PANEL:
        return None
    row = session.scalars(select(Trust).where(Trust.code == code)).first()
    if row is None:
        known = ", ".join(sorted(trusts_by_code(session))) or "none imported"
        raise UnknownReferenceError(f"unknown trust {trust!r} (known: {known}; or {REGIONAL_PANEL} for the panel)")
    return row


def _latest_run(session: Session, name: str) -> tuple[Scenario, ScenarioRun]:
    from procurement.runs import get_settings, latest_run_id

    scenario, _ = get_settings(session, name)
    run = session.get(ScenarioRun, latest_run_id(session, name))
    if run.objective is None:
        raise ProcureError(
            f"the latest run of scenario {name!r} (#{run.id}) found no solution ({run.status}): "
            "fix and run it again, or export without --scenario"
        )
    return scenario, run


def _regional_price(session: Session, lines: pd.DataFrame, usage: pd.DataFrame) -> pd.Series:
    """Regional price per line_id, as scenarios price it by default (``best_paid``)."""
    catalogue = (
        frame(
            session,
            select(CatalogueItem.product_line_id.label("line_id"), CatalogueItem.unit_price).where(
                CatalogueItem.active.is_(True)
            ),
        )
        .groupby("line_id")["unit_price"]
        .mean()
    )
    if len(usage):
        at_best = usage.assign(cost=usage["best_price_in_region"] * usage["units_per_year"])
        sums = at_best.groupby("line")[["cost", "units_per_year"]].sum()
        best = (sums["cost"] / sums["units_per_year"]).rename("best")
        best_by_id = lines.set_index("line")["line_id"].reindex(best.index)
        best = pd.Series(best.to_numpy(), index=best_by_id.to_numpy())
    else:
        best = pd.Series(dtype=float)
    price = lines["line_id"].map(best)
    return price.fillna(lines["line_id"].map(catalogue)).set_axis(lines["line_id"].to_numpy())


def _price_bands(lines: pd.DataFrame) -> pd.Series:
    """'£' / '££' / '£££': the tercile of a line's price rank within its group."""
    price = lines["price"]
    rank = price.groupby(lines["group"]).rank(method="min") - 1
    n = price.notna().groupby(lines["group"]).transform("sum")
    index = np.floor(3 * rank / (n - 1).clip(lower=1)).clip(upper=2)
    bands = pd.Series(BANDS[index.fillna(0).astype(int).to_numpy()], index=lines.index, dtype=object)
    bands[n <= 1] = "only line"
    bands[price.isna()] = "not priced"
    return bands


def _odep_labels(session: Session, lines: pd.DataFrame) -> pd.Series:
    """A line's ODEP rating as scenarios judge it: its own rating, else its weakest SKU's."""
    ratings = frame(
        session,
        select(
            ClinicalRating.product_line_id.label("line_id"),
            ClinicalRating.item_id,
            ClinicalRating.rank,
            ClinicalRating.rating,
        ),
    )
    labels = pd.Series("unrated", index=lines.index, dtype=object)
    if len(ratings):
        own = ratings[ratings["item_id"].isna()].sort_values("rank").drop_duplicates("line_id", keep="last")
        weakest = ratings.sort_values("rank").drop_duplicates("line_id", keep="first")
        label = own.set_index("line_id")["rating"].combine_first(weakest.set_index("line_id")["rating"])
        labels = lines["line_id"].map(label).fillna("unrated").astype(object)
    labels[~lines["odep_applies"].astype(bool)] = "n/a"
    return labels


def _decisions_in_force(session: Session, lines: pd.DataFrame, trust: Trust | None) -> pd.DataFrame:
    """decision, by, on per line: the trust's latest decision, else the regional panel's."""
    approvals = frame(
        session,
        select(
            Approval.id,
            Approval.trust_id,
            Approval.product_line_id.label("line_id"),
            Approval.decision,
            Approval.clinician,
            Approval.decided_at,
        ),
    )
    out = pd.DataFrame({"decision": "none yet", "by": None, "on": None}, index=lines.index, dtype=object)
    if approvals.empty:
        return out
    approvals = approvals.sort_values(["decided_at", "id"])
    approvals["trust_id"] = approvals["trust_id"].astype("Int64")
    latest = approvals.drop_duplicates(["trust_id", "line_id"], keep="last")
    latest = latest.assign(on=pd.to_datetime(latest["decided_at"], utc=True).dt.date)
    panel = latest[latest["trust_id"].isna()].set_index("line_id")
    sources = [(panel, "regional panel" if trust is not None else "")]
    if trust is not None:
        own = latest[latest["trust_id"] == trust.id].set_index("line_id")
        sources.insert(0, (own, trust.code))
    for decided, label in reversed(sources):  # the trust's own decision is applied last: it wins
        hit = lines["line_id"].isin(decided.index)
        ids = lines.loc[hit, "line_id"]
        suffix = f" ({label})" if label else ""
        out.loc[hit, "decision"] = (decided.loc[ids, "decision"] + suffix).to_numpy()
        out.loc[hit, "by"] = decided.loc[ids, "clinician"].to_numpy()
        out.loc[hit, "on"] = decided.loc[ids, "on"].to_numpy()
    return out


def _scenario_status(session: Session, lines: pd.DataFrame, run_id: int, trust: Trust | None) -> pd.Series:
    kept = frame(session, select(RunLine.line_id, RunLine.kept).where(RunLine.run_id == run_id))
    kept = kept.set_index("line_id")["kept"].astype(bool)
    status = pd.Series("not assessed", index=lines.index, dtype=object)
    in_run = lines["line_id"].isin(kept.index)
    is_kept = lines["line_id"].map(kept).fillna(False).astype(bool)
    status[in_run & ~is_kept] = "dropped"
    if trust is None:
        status[is_kept] = "kept"
        return status
    allocated = frame(
        session,
        select(RunAllocation.line_id, RunAllocation.units).where(
            RunAllocation.run_id == run_id, RunAllocation.trust_id == trust.id
        ),
    )
    here = set(allocated.loc[allocated["units"] > 1e-6, "line_id"])
    status[is_kept] = "kept: other trusts"
    status[is_kept & lines["line_id"].isin(here)] = "kept: used here"
    return status


def shortlist_lines(session: Session, trust: Trust | None, run_id: int | None = None) -> pd.DataFrame:
    """One row per candidate line, in workbook order, with every value the workbook shows.

    Candidates: every product line with at least one active (orderable) SKU.
    """
    lines = lines_frame(session)
    active = set(session.scalars(select(CatalogueItem.product_line_id).where(CatalogueItem.active.is_(True))))
    lines = lines[lines["line_id"].isin(active)].copy()
    if lines.empty:
        raise ProcureError("no product lines with an active SKU: import the suppliers' catalogues first")
    suppliers = frame(session, select(Supplier.id.label("supplier_id"), Supplier.name.label("supplier_name")))
    categories = frame(
        session,
        select(
            Category.id.label("category_id"),
            Category.code.label("category"),
            Category.name.label("category_name"),
            Category.odep_applies,
        ),
    )
    groups = groups_frame(session)[["group_id", "group_name"]]
    lines = lines.merge(suppliers, on="supplier_id").merge(categories, on="category").merge(groups, on="group_id")

    usage = usage_by_line(session)
    lines["price"] = lines["line_id"].map(_regional_price(session, lines, usage)).to_numpy()
    lines["band"] = _price_bands(lines)
    lines["odep"] = _odep_labels(session, lines)
    if trust is None:
        users = usage.groupby("line")["trust"].nunique()
        n_trusts = usage["trust"].nunique()
        lines["used"] = lines["line"].map(users).fillna(0).astype(int).map(lambda n: f"{n} of {n_trusts}")
        lines["units"] = lines["line"].map(usage.groupby("line")["units_per_year"].sum()).fillna(0.0)
    else:
        mine = usage[usage["trust"] == trust.code].set_index("line")["units_per_year"]
        lines["used"] = np.where(lines["line"].isin(mine.index), "yes", "no")
        lines["units"] = lines["line"].map(mine).fillna(0.0)
    lines["units"] = lines["units"].round().astype(int)
    in_force = _decisions_in_force(session, lines, trust)
    lines = lines.join(in_force.rename(columns={"decision": "in_force", "by": "decided_by", "on": "decided_on"}))
    lines["scenario"] = _scenario_status(session, lines, run_id, trust) if run_id is not None else None
    return lines.sort_values(["category_id", "group_id", "supplier_name", "brand", "line_id"]).reset_index(drop=True)


# --------------------------------------------------------------------------- the workbook


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    width: float
    number_format: str | None = None

    @property
    def editable(self) -> bool:
        return self.key in EDITABLE


def _columns(trust: Trust | None, scenario: str | None) -> list[Column]:
    regional = trust is None
    columns = [
        Column("supplier_name", "Supplier", 34),
        Column("brand", "Brand", 28),
        Column("odep", "ODEP rating", 11),
        Column("band", "Price band", 11),
        Column("used", "Trusts using it" if regional else "Used here today", 13),
        Column("units", "Annual units (region)" if regional else "Annual units here", 13, '#,##0;-#,##0;"–"'),
        Column("in_force", "Decision in force", 26),
        Column("decided_by", "Decided by", 22),
        Column("decided_on", "Decided on", 12, "dd/mm/yyyy"),
    ]
    if scenario:
        columns.append(Column("scenario", f"Scenario {scenario}", 20))
    columns += [
        Column("decision", "Decision", 14),
        Column("reason", "Reason", 44),
        Column("clinician", "Clinician name", 26),
        Column("line", "Line reference", 34),
    ]
    return columns


def _sheet_name(category: str) -> str:
    name = "".join(ch for ch in str(category) if ch not in "[]:*?/\\").strip() or "Category"
    return name[:31].title()


def _title(ws, export_id: int, text: str, who: str, note: str) -> None:
    ws["A1"] = f"Shortlist #{export_id} · {text}"
    ws["A1"].font = Font(bold=True, size=14)
    ws["A2"] = who
    ws["A2"].font = Font(bold=True)
    ws["A3"] = note
    ws["A3"].font = Font(italic=True, color="595959")


def _protect(ws) -> None:
    ws.protection.sheet = True
    # Widening a column or a row changes no value: allowed. Everything else is locked.
    ws.protection.formatColumns = False
    ws.protection.formatRows = False


def _print_setup(ws, export_id: int, title_rows: str | None) -> None:
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    if title_rows:
        ws.print_title_rows = title_rows
    ws.oddFooter.center.text = f"Shortlist #{export_id} · &A · page &P of &N"


def _category_sheet(
    wb: Workbook, export_id: int, lines: pd.DataFrame, columns: list[Column], who: str
) -> tuple[str, dict[int, dict]]:
    first = lines.iloc[0]
    ws = wb.create_sheet(_sheet_name(first["category"]))
    _title(
        ws,
        export_id,
        f"{safe_text(first['category_name'])}",
        who,
        "Decide in the yellow cells: Decision (approve, reject or conditional), Reason, Clinician name. "
        "Leave a row blank for no decision. Other cells are locked: a workbook whose locked cells were "
        "changed, or whose rows were added or deleted, is refused when read back.",
    )
    for c, column in enumerate(columns, start=1):
        cell = ws.cell(HEADER_ROW, c, column.header)
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = _FILL_HEADER
        cell.alignment = Alignment(wrap_text=True, vertical="center")
        cell.border = _BOX
        ws.column_dimensions[get_column_letter(c)].width = column.width
    ws.row_dimensions[HEADER_ROW].height = 30
    position = {column.key: c for c, column in enumerate(columns, start=1)}
    decision_letter = get_column_letter(position["decision"])
    validation = DataValidation(
        type="list",
        formula1='"' + ",".join(DECISIONS) + '"',
        allow_blank=True,
        showErrorMessage=True,
        errorStyle="stop",
        errorTitle="Decision",
        error="Choose approve, reject or conditional (or leave blank).",
        showInputMessage=True,
        promptTitle="Decision",
        prompt="approve, reject or conditional",
    )
    ws.add_data_validation(validation)
    layout: dict[int, dict] = {}
    row = HEADER_ROW + 1
    for _, group in lines.groupby("group_id", sort=False):
        head = group.iloc[0]
        used_here = int((group["units"] > 0).sum())
        what = "used here" if "Used here today" in (c.header for c in columns) else "used in the region"
        section = ws.cell(
            row, 1, safe_text(f"{head['group_name']} · {head['group']} · {len(group)} lines, {used_here} {what}")
        )
        section.font = Font(bold=True)
        for c in range(1, len(columns) + 1):
            ws.cell(row, c).fill = _FILL_SECTION
        row += 1
        start = row
        for record in group.to_dict("records"):  # one sheet row per line: a few hundred at most
            for c, column in enumerate(columns, start=1):
                cell = ws.cell(row, c)
                cell.border = _BOX
                if column.editable:
                    cell.protection = _UNLOCKED
                    cell.fill = _FILL_EDIT
                    if column.key == "reason":
                        cell.alignment = Alignment(wrap_text=True, vertical="top")
                    continue
                value = record.get(column.key)
                if value is None or (isinstance(value, float) and np.isnan(value)):
                    continue
                if isinstance(value, np.integer):
                    value = int(value)
                cell.value = safe_text(value)
                if column.number_format:
                    cell.number_format = column.number_format
                if column.key == "line":
                    cell.font = Font(color="808080", size=9)
            layout[row] = {"line_id": int(record["line_id"]), "line": record["line"], "group": record["group"]}
            row += 1
        validation.add(f"{decision_letter}{start}:{decision_letter}{row - 1}")
    ws.freeze_panes = ws.cell(HEADER_ROW + 1, 3)
    _protect(ws)
    _print_setup(ws, export_id, f"{HEADER_ROW}:{HEADER_ROW}")
    return ws.title, layout


def _readme_sheet(wb: Workbook, export_id: int, facts: list[tuple[str, str]]) -> None:
    ws = wb.active
    ws.title = README
    ws["A1"] = f"Shortlist #{export_id}"
    ws["A1"].font = Font(bold=True, size=16)
    for r, (key, value) in enumerate(facts, start=3):
        ws.cell(r, 1, key).font = Font(bold=True)
        cell = ws.cell(r, 2, safe_text(value))
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        ws.cell(r, 1).alignment = Alignment(vertical="top")
        # Not every spreadsheet fits a row to wrapped text: size it (about 100 characters a line).
        ws.row_dimensions[r].height = 15 * (1 + len(str(value)) // 100)
    ws.column_dimensions["A"].width = 24
    ws.column_dimensions["B"].width = 110
    _protect(ws)
    _print_setup(ws, export_id, None)
    ws.page_setup.orientation = "portrait"


def _id_sheet(wb: Workbook, export_id: int, trust_code: str, scenario: str | None) -> None:
    ws = wb.create_sheet(ID_SHEET)
    rows = [
        ("shortlist export id", export_id),
        ("trust", trust_code),
        ("scenario", scenario),
        ("format", FORMAT_VERSION),
        ("note", "Identifies this shortlist when it is read back: do not edit."),
    ]
    for r, (key, value) in enumerate(rows, start=1):
        ws.cell(r, 1, key)
        ws.cell(r, 2, safe_text(value))
    ws.sheet_state = "hidden"
    _protect(ws)
    wb.defined_names[ID_NAME] = DefinedName(ID_NAME, attr_text=f"'{ID_SHEET}'!$B$1")


def _norm(value):
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


def _snapshot(wb: Workbook, layouts: dict[str, dict[int, dict]], columns: list[Column]) -> dict:
    editable = {column.key: get_column_letter(c) for c, column in enumerate(columns, start=1) if column.editable}
    labels = {get_column_letter(c): column.header.lower() for c, column in enumerate(columns, start=1)}
    sheets = []
    for ws in wb.worksheets:
        cells = {
            cell.coordinate: _norm(cell.value)
            for row in ws.iter_rows()
            for cell in row
            if _norm(cell.value) is not None and cell.protection.locked
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


def export_shortlist(
    engine: Engine, *, trust: str, out: Path, scenario: str | None = None, user: str | None = None
) -> dict:
    """Write trust ``trust``'s shortlist workbook to ``out`` and record it; returns a summary.

    ``trust`` is a trust code, or ``REGIONAL`` for the regional clinical panel. With
    ``scenario``, the workbook shows whether that scenario's latest run keeps each line.
    """
    out = Path(out)
    if out.suffix.lower() != ".xlsx":
        raise ProcureError(f"{out}: the shortlist is an Excel workbook: give a file name ending in .xlsx")
    who_by = current_user(user)
    with transaction(engine) as session:
        trust_row = _resolve_trust(session, trust)
        scenario_row, run = _latest_run(session, scenario) if scenario else (None, None)
        lines = shortlist_lines(session, trust_row, run.id if run else None)
        record = ShortlistExport(
            trust_id=trust_row.id if trust_row else None,
            scenario_id=scenario_row.id if scenario_row else None,
            run_id=run.id if run else None,
            file_name=out.name,
            created_by=who_by,
        )
        session.add(record)
        session.flush()
        export_id = record.id
        trust_code = trust_row.code if trust_row else REGIONAL_PANEL
        who = f"{trust_row.code} {trust_row.name}" if trust_row else "Regional clinical panel"
        columns = _columns(trust_row, scenario)

        wb = Workbook()
        facts = [
            ("For", who),
            ("Exported", f"{record.created_at:%d %B %Y %H:%M} UTC by {who_by}"),
            ("Scenario", f"{scenario} (run #{run.id} of {run.started_at:%d %B %Y})" if scenario else "none"),
            ("Lines", f"{len(lines)} candidate product lines in {lines['group'].nunique()} clinical groups"),
            (
                "What to do",
                "On each category sheet, choose a Decision for the lines you have a view on (approve, "
                "reject or conditional), give a Reason and type your name. Rows left blank are not decisions. "
                "Save the workbook and return it to the procurement team.",
            ),
            (
                "Price band",
                "£ = the cheapest third of the group's lines at the region's best price, ££ the middle third, "
                "£££ the dearest third. Prices themselves are not shown.",
            ),
            (
                "Decision in force",
                "The latest decision recorded for the line: this trust's own, else the regional panel's."
                if trust_row
                else "The regional panel's latest decision on the line.",
            ),
            (
                "Read back",
                f"procure shortlist import FILE.xlsx. The workbook is checked against shortlist #{export_id}: "
                "if a locked cell was changed, or a row added or deleted, the whole file is refused.",
            ),
        ]
        if scenario:
            facts.insert(
                4,
                (
                    f"Scenario {scenario}",
                    "kept: used here = the scenario keeps the line and this trust uses it; kept: other trusts = "
                    "kept for the region but not for this trust; dropped = not in the regional range; "
                    "not assessed = not a candidate in the scenario."
                    if trust_row
                    else "kept = in the scenario's regional range; dropped = not in it; "
                    "not assessed = not a candidate in the scenario.",
                ),
            )
        _readme_sheet(wb, export_id, facts)
        layouts = {}
        counts = {}
        for _, category in lines.groupby("category_id", sort=True):
            title, layout = _category_sheet(wb, export_id, category, columns, who)
            layouts[title] = layout
            counts[title] = len(layout)
        _id_sheet(wb, export_id, trust_code, scenario)
        wb.security = WorkbookProtection(lockStructure=True)
        snapshot = _snapshot(wb, layouts, columns)
        buffer = io.BytesIO()
        wb.save(buffer)
        data = buffer.getvalue()
        file_sha256 = hashlib.sha256(data).hexdigest()
        run_id = run.id if run else None
        record.file_sha256 = file_sha256
        record.snapshot = json.dumps(snapshot, ensure_ascii=False, separators=(",", ":"))
        session.flush()
        out.parent.mkdir(parents=True, exist_ok=True)
        try:
            out.write_bytes(data)
        except OSError as exc:
            raise ProcureError(f"{out}: cannot be written: {exc.strerror or exc}") from exc
    return {
        "export_id": export_id,
        "file": str(out),
        "sha256": file_sha256,
        "trust": trust_code,
        "scenario": scenario,
        "run_id": run_id,
        "lines": int(len(lines)),
        "sheets": counts,
    }


# --------------------------------------------------------------------------- reading back


@dataclass
class ShortlistReport(ImportReport):
    """What a shortlist import did: the ``ImportReport`` shape plus the decisions."""

    export_id: int | None = None
    trust: str | None = None
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DECISIONS, 0))
    decisions: list[dict] = field(default_factory=list)

    def to_dict(self, max_rejects: int | None = None) -> dict:
        return {
            **super().to_dict(max_rejects),
            "export_id": self.export_id,
            "trust": self.trust,
            "counts": self.counts,
            "decisions": self.decisions,
        }

    def summary(self) -> str:
        c = self.counts
        return f"decisions recorded: {c['approve']} approve, {c['reject']} reject, {c['conditional']} conditional"


def _open_workbook(data: bytes, name: str):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # extensions openpyxl does not keep
            return load_workbook(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError) as exc:
        raise InputFileError(f"{name}: not an Excel workbook (.xlsx) that can be read: {exc}") from exc


def _export_id(wb, name: str) -> int:
    raw = None
    if ID_SHEET in wb.sheetnames:
        raw = wb[ID_SHEET]["B1"].value
    elif ID_NAME in wb.defined_names:
        for sheet, ref in wb.defined_names[ID_NAME].destinations:
            if sheet in wb.sheetnames:
                raw = wb[sheet][ref.replace("$", "")].value
    try:
        return int(str(raw).strip())
    except (TypeError, ValueError):
        raise InputFileError(
            f"{name}: not a shortlist workbook (no shortlist export id; export one with `procure shortlist export`)"
        ) from None


def _show(value) -> str:
    return "empty" if value is None else repr(value)


def _actual_cells(ws) -> dict[tuple[int, int], object]:
    return {(cell.row, cell.column): cell for row in ws.iter_rows() for cell in row if _norm(cell.value) is not None}


def _check_sheet(ws, spec: dict, export_id: int) -> tuple[list[str], list[dict], int]:
    """Problems, decisions and the number of name-only rows of one returned sheet."""
    name = spec["name"]
    expected = spec["cells"]
    editable_by_key = spec["editable_columns"]  # decision, reason, clinician -> column letter
    editable = set(editable_by_key.values())
    labels = spec["columns"]
    layout = {int(r): v for r, v in spec["rows"].items()}
    actual = _actual_cells(ws)
    actual_rows = max((r for r, _ in actual), default=0)
    actual_cols = max((c for _, c in actual), default=0)
    n_cols = max(spec["last_column"], actual_cols)
    letters = [get_column_letter(c) for c in range(1, n_cols + 1)]
    signature_cols = [(c, letter) for c, letter in enumerate(letters, start=1) if letter not in editable]

    def value(r: int, c: int):
        cell = actual.get((r, c))
        return None if cell is None else _norm(cell.value)

    expected_sigs = [
        tuple(expected.get(f"{letter}{r}") for _, letter in signature_cols) for r in range(1, spec["last_row"] + 1)
    ]
    actual_sigs = [tuple(value(r, c) for c, _ in signature_cols) for r in range(1, actual_rows + 1)]
    # Trailing blank rows are layout, not rows (the actual rows end at the last value too).
    while expected_sigs and all(v is None for v in expected_sigs[-1]):
        expected_sigs.pop()
    pairs: list[tuple[int, int]] = []
    problems: list[str] = []
    matcher = difflib.SequenceMatcher(None, expected_sigs, actual_sigs, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        paired = min(i2 - i1, j2 - j1) if tag in ("equal", "replace") else 0
        pairs += [(i1 + k + 1, j1 + k + 1) for k in range(paired)]
        for i in range(i1 + paired, i2):
            row = layout.get(i + 1)
            what = f" ({row['line']})" if row else ""
            problems.append(f"{name} row {i + 1}: row deleted{what}; rows must not be deleted")
        for j in range(j1 + paired, j2):
            problems.append(f"{name} row {j + 1}: row added (not in shortlist #{export_id}); rows must not be added")

    decisions: list[dict] = []
    name_only = 0
    for er, ar in pairs:
        data_row = layout.get(er)
        for c, letter in enumerate(letters, start=1):
            if data_row and letter in editable:
                continue
            old, new = expected.get(f"{letter}{er}"), value(ar, c)
            if old != new:
                label = f"{labels.get(letter, 'cell')} " if data_row else ""
                problems.append(f"{name}!{letter}{ar}: {label}changed from {_show(old)} to {_show(new)}")
        if not data_row:
            continue
        cells = {}
        for key, letter in editable_by_key.items():
            cell = actual.get((ar, letters.index(letter) + 1))
            cells[key] = (f"{letter}{ar}", cell)
        for key, (address, cell) in cells.items():
            if cell is not None and cell.data_type == "f":
                problems.append(f"{name}!{address}: {key} is a formula ({cell.value}); type the text instead")
        text = {
            key: ("" if cell is None or cell.data_type == "f" else str(_norm(cell.value)).strip())
            for key, (_, cell) in cells.items()
        }
        decision = text["decision"].lower()
        if not decision:
            if text["reason"]:
                problems.append(
                    f"{name}!{cells['decision'][0]}: a reason is given but no decision "
                    "(choose approve, reject or conditional, or clear the reason)"
                )
            elif text["clinician"]:
                name_only += 1
            continue
        if decision not in DECISIONS:
            problems.append(
                f"{name}!{cells['decision'][0]}: decision {text['decision']!r} is not one of {', '.join(DECISIONS)}"
            )
            continue
        if not text["clinician"]:
            problems.append(
                f"{name}!{cells['clinician'][0]}: decision {decision!r} in {cells['decision'][0]} has no clinician name"
            )
            continue
        decisions.append(
            {
                "sheet": name,
                "row": ar,
                "line_id": data_row["line_id"],
                "line": data_row["line"],
                "decision": decision,
                "reason": text["reason"],
                "clinician": text["clinician"],
            }
        )
    return problems, decisions, name_only


def check_shortlist(wb, snapshot: dict, export_id: int) -> tuple[list[str], list[dict], int]:
    """Compare a returned workbook with its export's snapshot: (problems, decisions, name-only rows)."""
    problems: list[str] = []
    decisions: list[dict] = []
    name_only = 0
    expected = [s["name"] for s in snapshot["sheets"]]
    for extra in [n for n in wb.sheetnames if n not in expected]:
        problems.append(f"sheet {extra!r} was added; sheets must not be added")
    for spec in snapshot["sheets"]:
        if spec["name"] not in wb.sheetnames:
            problems.append(f"sheet {spec['name']!r} is missing (deleted or renamed)")
            continue
        found, rows, blank = _check_sheet(wb[spec["name"]], spec, export_id)
        problems += found
        decisions += rows
        name_only += blank
    return problems, decisions, name_only


def import_shortlist(engine: Engine, path: Path, *, user: str | None = None) -> ShortlistReport:
    """Read a returned shortlist; append its decisions as ``Approval`` rows (all or nothing).

    Refused (``ShortlistRefused``, nothing written) if a locked cell changed, a row or
    sheet was added or deleted, a decision is not approve/reject/conditional, or a
    decision has no clinician name. An identical file imported before is reported as a
    duplicate and nothing is written.
    """
    path = Path(path)
    data, sha = _read_bytes(path)
    wb = _open_workbook(data, path.name)
    export_id = _export_id(wb, path.name)
    with transaction(engine) as session:
        previous = _find_duplicate(session, KIND, sha)
        if previous:
            report = ShortlistReport(kind=KIND, file=path.name, sha256=sha, duplicate_of=previous, export_id=export_id)
            report.notes.append(f"identical file already imported as import #{previous}; nothing written")
            return report
        export = session.get(ShortlistExport, export_id)
        if export is None:
            raise UnknownReferenceError(
                f"{path.name}: unknown shortlist export #{export_id} (not exported from this database)"
            )
        trust = session.get(Trust, export.trust_id) if export.trust_id is not None else None
        problems, decisions, name_only = check_shortlist(wb, json.loads(export.snapshot), export_id)
        if problems:
            raise ShortlistRefused(path.name, problems)
        report = ShortlistReport(
            kind=KIND,
            file=path.name,
            sha256=sha,
            export_id=export_id,
            trust=trust.code if trust else REGIONAL_PANEL,
            profile=f"shortlist #{export_id}",
        )
        earlier = session.scalars(
            select(DataImport.id).where(DataImport.kind == KIND, DataImport.profile == report.profile)
        ).all()
        record = DataImport(
            kind=KIND,
            file_name=path.name,
            sha256=sha,
            trust_id=export.trust_id,
            profile=report.profile,
            imported_by=current_user(user),
            rows_read=len(decisions),
            rows_accepted=len(decisions),
        )
        session.add(record)
        session.flush()
        now = utcnow()
        session.add_all(
            Approval(
                trust_id=export.trust_id,
                product_line_id=d["line_id"],
                decision=d["decision"],
                clinician=d["clinician"],
                role=ROLE,
                decided_at=now,
                comment=d["reason"],
                source_sha256=sha,
                import_id=record.id,
                recorded_at=now,
            )
            for d in decisions
        )
        report.import_id = record.id
        report.rows_read = report.rows_accepted = len(decisions)
        report.decisions = decisions
        for d in decisions:
            report.counts[d["decision"]] += 1
        if not decisions:
            report.notes.append("no decisions in the workbook (every decision cell is blank)")
        if name_only:
            report.notes.append(f"{name_only} row(s) have a clinician name but no decision: not recorded")
        if earlier:
            report.notes.append(
                f"shortlist #{export_id} was read back before (import #{', #'.join(map(str, earlier))}); "
                "these decisions are appended and the latest wins"
            )
        superseded = _dated_later(session, export.trust_id, [d["line_id"] for d in decisions], now)
        if superseded:
            report.notes.append(
                f"{len(superseded)} decision(s) stay overridden by decisions dated later than today "
                f"(the latest decided_at wins): {', '.join(superseded[:5])}"
            )
    return report


def _dated_later(session: Session, trust_id: int | None, line_ids: list[int], now: dt.datetime) -> list[str]:
    """Codes of lines on which this trust (or the panel) has a decision dated after ``now``."""
    if not line_ids:
        return []
    owner = Approval.trust_id.is_(None) if trust_id is None else Approval.trust_id == trust_id
    return sorted(
        set(
            session.scalars(
                select(ProductLine.code)
                .join(Approval, Approval.product_line_id == ProductLine.id)
                .where(owner, Approval.product_line_id.in_(line_ids), Approval.decided_at > now)
            )
        )
    )


__all__ = [
    "ShortlistRefused",
    "ShortlistReport",
    "check_shortlist",
    "export_shortlist",
    "import_shortlist",
    "shortlist_lines",
]
