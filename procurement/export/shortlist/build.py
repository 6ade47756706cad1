"""Writing a shortlist workbook: a "Read me" sheet, one protected sheet per category.

Each category sheet lists, group by group, every candidate product line (see
:mod:`.lines`) with a drop-down Decision, a Reason and a Clinician name for the
surgeon; every other cell is locked (sheet and workbook protection on). The export is
recorded as a ``ShortlistExport`` row whose snapshot (:mod:`.snapshot`) the read-back
compares against.
"""

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side
from openpyxl.utils import get_column_letter
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.workbook.protection import WorkbookProtection
from openpyxl.worksheet.datavalidation import DataValidation
from sqlalchemy.engine import Engine

from procurement.db import transaction
from procurement.errors import ProcureError
from procurement.export.safe import safe_text
from procurement.export.shortlist.lines import latest_solved_run, resolve_trust, shortlist_lines
from procurement.export.shortlist.snapshot import FORMAT_VERSION, ID_NAME, ID_SHEET, Column, take_snapshot
from procurement.importers import DECISIONS, REGIONAL_PANEL, current_user
from procurement.models import ShortlistExport, Trust

README = "Read me"
HEADER_ROW = 4

_FILL_HEADER = PatternFill("solid", fgColor="1F4E78")
_FILL_SECTION = PatternFill("solid", fgColor="DDEBF7")
_FILL_EDIT = PatternFill("solid", fgColor="FFF2CC")
_THIN = Side(style="thin", color="BFBFBF")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_UNLOCKED = Protection(locked=False)


def _columns(trust: Trust | None, scenario: str | None) -> list[Column]:
    """A category sheet's columns: what is shown of a line, the scenario's verdict on it
    (given one), the surgeon's three columns, then the line's reference."""
    regional = trust is None
    columns = [
        Column("supplier_name", "Supplier", 34),
        Column("brand", "Brand", 28),
        Column("odep", "ODEP rating", 11),
        Column("band", "Price band", 11),
        Column("used", "Trusts using it" if regional else "Used here today", 13),
        Column("units", "Annual units (region)" if regional else "Annual units here", 13, '#,##0;-#,##0;"–"'),
        Column("new_set", "New sets at" if regional else "New instrument set here", 24),
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
        trust_row = resolve_trust(session, trust)
        scenario_row, run = latest_solved_run(session, scenario) if scenario else (None, None)
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
        assert export_id is not None  # assigned by the flush
        trust_code = trust_row.code if trust_row else REGIONAL_PANEL
        who = f"{trust_row.code} {trust_row.name}" if trust_row else "Regional clinical panel"
        columns = _columns(trust_row, scenario)

        wb = Workbook()
        facts = [
            ("For", who),
            ("Exported", f"{record.created_at:%d %B %Y %H:%M} UTC by {who_by}"),
            ("Scenario", f"{scenario} (run #{run.id} of {run.started_at:%d %B %Y})" if run else "none"),
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
        snapshot = take_snapshot(wb, layouts, columns)
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
