"""The Data quality sheet: what was imported, and what was left out and why.

Three tables, each an Excel table with its own filter: every imported file (from
:func:`procurement.audit.audit_imports`), every rejected row with its reason, and the
catalogue items no equivalence group matched.
"""

import pandas as pd
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.table import Table, TableStyleInfo
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import select
from sqlmodel import Session, col

from procurement.audit import audit_imports
from procurement.export.finance.kit import (
    COUNT,
    DATETIME,
    NOTE_FONT,
    SECTION_FONT,
    TITLE_FONT,
    Columns,
    finish_sheet,
    write_table_at,
)
from procurement.models import DataImport, RejectedRow
from procurement.reference import frame


def data_quality_sheet(ws: Worksheet, session: Session) -> None:
    """Write the three tables: imports, rejected rows, unclassified items (or "none")."""
    imports = audit_imports(session)  # one row per imported file, oldest first
    rejected = frame(
        session,
        select(
            col(RejectedRow.import_id),
            col(DataImport.file_name),
            col(RejectedRow.row_number),
            col(RejectedRow.column),
            col(RejectedRow.value),
            col(RejectedRow.reason),
            col(RejectedRow.raw),
        )
        .join(DataImport, col(DataImport.id) == col(RejectedRow.import_id))
        .order_by(col(RejectedRow.import_id), col(RejectedRow.row_number), col(RejectedRow.id)),
    )
    imports["whose"] = imports["supplier"].fillna(imports["trust"]).fillna("")
    unclassified = rejected[rejected["reason"].str.contains("unclassified", case=False, na=False)]
    ws.cell(row=1, column=1, value="Data quality: what was imported, and what was left out and why").font = TITLE_FONT
    sections: list[tuple[str, str, Columns, pd.DataFrame]] = [
        (
            "Imports",
            "Every imported file",
            [
                ("Import", "import_id", None),
                ("Kind", "kind", None),
                ("File", "file", None),
                ("Supplier or trust", "whose", None),
                ("Version", "version", None),
                ("Imported at (UTC)", "when", DATETIME),
                ("Imported by", "who", None),
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
        write_table_at(ws, columns, sub, header)
        last = header + len(sub)
        table = Table(displayName=name, ref=f"A{header}:{get_column_letter(len(columns))}{last}")
        table.tableStyleInfo = TableStyleInfo(name="TableStyleLight9", showRowStripes=True)
        ws.add_table(table)
        r = last + 2
    finish_sheet(ws, freeze="A3", autofilter=False, widths={"B": 30, "C": 28, "E": 30, "F": 50})
    ws.print_title_rows = None
