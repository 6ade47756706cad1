"""A shortlist returned after newer decisions on its lines: those rows held back, or overridden.

See ``procurement.approvals`` for why: a late workbook (an old export) must not silently
undo a decision recorded since. Its other decisions are taken as usual.
"""

import pandas as pd
from sqlalchemy import insert
from sqlmodel import Session

from procurement.approvals import stale_decisions
from procurement.db import table_of
from procurement.importers import ImportReport
from procurement.importers.core import REJECT_COLUMNS
from procurement.models import Approval, ApprovalOverride, RejectedRow, ShortlistExport


def hold_back_stale(
    session: Session,
    export: ShortlistExport,
    decisions: list[dict],
    import_id: int,
    report: ImportReport,
    override: str | None,
) -> tuple[list[dict], dict[int, int]]:
    """(the decisions to record, {line_id: newer approval id} of those taken with ``override``).

    Without ``override`` a stale decision becomes a rejected row (stored, and in
    ``report.rejects``) naming the newer decision and how to proceed.
    """
    newer = stale_decisions(
        session,
        trust_id=export.trust_id,
        line_ids=[d["line_id"] for d in decisions],
        exported_at=export.created_at,
        same_export=f"shortlist #{export.id}",
    )
    if newer.empty:
        return decisions, {}
    newer = newer.set_index("line_id")
    stale = [d for d in decisions if d["line_id"] in newer.index]
    if override:
        report.notes.append(
            f"{len(stale)} decision(s) taken over newer ones recorded since shortlist #{export.id} was exported "
            f"(--override: {override})"
        )
        return decisions, {d["line_id"]: int(newer.loc[d["line_id"], "approval_id"]) for d in stale}

    def reason(d: dict) -> str:
        n = newer.loc[d["line_id"]]
        source = f" from {n['source_file']}" if n["source_file"] else ""
        return (
            f"{d['line']}: a newer decision was recorded after shortlist #{export.id} was exported: "
            f"{n['decision']} by {n['clinician']} on {pd.Timestamp(n['recorded_at']):%Y-%m-%d %H:%M} UTC{source} "
            f"(decision #{n['approval_id']}); export a fresh shortlist, or import with --override REASON"
        )

    rejects = pd.DataFrame(
        {
            "row": [d["row"] for d in stale],
            "column": [f"{d['sheet']} Decision" for d in stale],
            "value": [d["decision"] for d in stale],
            "reason": [reason(d) for d in stale],
        },
        columns=REJECT_COLUMNS,
    )
    session.execute(
        insert(table_of(RejectedRow)),
        rejects.rename(columns={"row": "row_number"}).assign(import_id=import_id, raw="").to_dict("records"),
    )
    report.rejects = rejects
    report.rows_rejected = len(stale)
    report.notes.append(
        f"{len(stale)} decision(s) not taken: newer decisions on those lines were recorded after shortlist "
        f"#{export.id} was exported (see the rows below; --override REASON takes them anyway)"
    )
    return [d for d in decisions if d["line_id"] not in newer.index], {}


def record_overrides(
    session: Session, approvals: list[Approval], decisions: list[dict], overridden: dict[int, int], reason: str | None
) -> None:
    """One ``ApprovalOverride`` per decision taken over a newer one, with the reason given."""
    rows = [
        {"approval_id": a.id, "overridden_approval_id": overridden[d["line_id"]], "reason": reason}
        for a, d in zip(approvals, decisions, strict=True)
        if d["line_id"] in overridden
    ]
    if rows:
        session.execute(insert(table_of(ApprovalOverride)), rows)
