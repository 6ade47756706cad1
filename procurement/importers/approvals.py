"""Clinicians' decisions on product lines, appended to the approval history (the latest wins)."""

from pathlib import Path

import pandas as pd
from sqlalchemy import insert
from sqlalchemy.engine import Engine
from sqlmodel import Session

from catalogues.normalise import clean_text, parse_bool, parse_date
from catalogues.read import TableSpec
from procurement.importers.core import (
    REGIONAL_PANEL,
    FileImporter,
    ImportReport,
    Problems,
    resolve_lines,
    sql_records,
)
from procurement.models import Approval
from procurement.reference import trusts_by_code

APPROVALS_SPEC = TableSpec(
    "approvals",
    required=["trust", "supplier", "brand", "decision", "clinician", "date"],
    optional=["group", "role", "comment", "odep_exception"],
    aliases={
        "trust": ["trust_code"],
        "supplier": ["supplier_code"],
        "brand": ["product", "range"],
        "clinician": ["name", "clinician_name", "decided_by"],
        "comment": ["reason", "comments"],
        "date": ["decided_on", "decision_date"],
        "odep_exception": ["odep_override"],
    },
)
DECISIONS = ("approve", "reject", "conditional")
_DECISION_WORDS = {
    "approve": "approve",
    "approved": "approve",
    "yes": "approve",
    "reject": "reject",
    "rejected": "reject",
    "no": "reject",
    "conditional": "conditional",
    "conditionally approved": "conditional",
}


class _ApprovalsImport(FileImporter):
    kind = "approvals"
    spec = APPROVALS_SPEC

    def __init__(self, *, user: str | None, source_sha256: str | None):
        super().__init__(user=user)
        self.source_sha256 = source_sha256

    def check(self, session: Session, table: pd.DataFrame, problems: Problems, report: ImportReport) -> pd.DataFrame:
        """One row per (file row, product line it names)."""
        trust = clean_text(table["trust"]).str.upper()
        trust_id = trust.map(trusts_by_code(session)).astype("Int64")
        problems.add(trust == "", "trust", "missing trust code (use REGIONAL for the regional panel)")
        problems.add((trust != "") & (trust != REGIONAL_PANEL) & trust_id.isna(), "trust", "unknown trust code")
        decision = clean_text(table["decision"]).str.lower().map(_DECISION_WORDS)
        problems.add(decision.isna(), "decision", "decision must be approve, reject or conditional")
        clinician = clean_text(table["clinician"])
        problems.add(clinician == "", "clinician", "missing clinician name")
        when = parse_date(table["date"])
        problems.add_parsed("date", when)
        exception = parse_bool(table["odep_exception"], what="odep_exception")
        problems.add_parsed("odep_exception", exception)
        matched = resolve_lines(session, table, problems)
        decisions = pd.DataFrame(
            {
                "trust_id": trust_id,
                "decision": decision,
                "odep_exception": exception.values,
                "clinician": clinician,
                "role": clean_text(table["role"]),
                "decided_at": when.values,
                "comment": clean_text(table["comment"]),
            }
        )
        return matched.join(decisions, on="index")

    def store(
        self, session: Session, rows: pd.DataFrame, good: pd.Series, import_id: int, report: ImportReport
    ) -> None:
        rows = rows[rows["index"].map(good)]
        if not len(rows):
            return
        records = rows.drop(columns="index").rename(columns={"line_id": "product_line_id"})
        records = records.assign(
            decided_at=pd.to_datetime(rows["decided_at"]).dt.tz_localize("UTC"),  # stored timezone-aware
            odep_exception=rows["odep_exception"].astype(bool),
            source_sha256=self.source_sha256 or report.sha256,
            import_id=import_id,
        )
        session.execute(insert(Approval), sql_records(records, ints=["trust_id", "product_line_id"]))


def import_approvals(
    engine: Engine, path: Path, *, user: str | None = None, source_sha256: str | None = None
) -> ImportReport:
    """Append clinicians' decisions to the approval history (the latest one wins)."""
    return _ApprovalsImport(user=user, source_sha256=source_sha256).run(engine, path)
