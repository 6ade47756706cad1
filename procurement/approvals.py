"""Clinical decisions in force, and the guard that keeps them from going backwards silently.

The approval history is append-only and the latest decision per (trust or regional
panel, product line) wins. "Latest" is by when the decision was taken, except that a
decision cannot have been taken after the engine recorded it (a date in the future is
read as the recording time), as ``procurement.scenarios.problem`` reads it.

A shortlist workbook shows the decisions in force when it was exported. If it comes
back after someone recorded a newer decision on one of its lines (another file, or
another copy of the shortlist), taking its decision would silently undo the newer one:
``stale_decisions`` finds those rows, and the shortlist import refuses them (naming
the newer decision) unless ``--override REASON`` is given, in which case the reason is
recorded with the decision (``ApprovalOverride``).
"""

import datetime as dt

import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from procurement.errors import UnknownReferenceError
from procurement.importers import REGIONAL_PANEL
from procurement.models import Approval, ApprovalOverride, DataImport, ProductLine, Trust
from procurement.reference import frame, trusts_by_code

COLUMNS = [
    "trust",
    "product_line",
    "decision",
    "odep_exception",
    "clinician",
    "role",
    "decided_at",
    "comment",
    "source_file",
    "import_id",
    "recorded_by",
    "recorded_at",
    "override_reason",
]


def effective_decided_at(decided_at: pd.Series, recorded_at: pd.Series) -> pd.Series:
    """When each decision counts as taken for "the latest wins" (UTC): when it was decided,
    but never after the engine recorded it. A date in the future (a typo, or a file
    prepared ahead) reads as the recording time, so it never outranks later decisions."""
    taken = pd.to_datetime(decided_at, utc=True)
    recorded = pd.to_datetime(recorded_at, utc=True)
    return taken.where(taken <= recorded, recorded)


def latest_decisions(table: pd.DataFrame, owner: list[str], id_column: str = "id") -> pd.DataFrame:
    """The decision in force per ``owner`` (e.g. trust and product line): the latest by
    :func:`effective_decided_at`, the later recorded (higher ``id_column``) on a tie. The one
    rule the optimiser, ``procure approvals`` and the shortlist workbooks all use."""
    effective = effective_decided_at(table["decided_at"], table["recorded_at"])
    ranked = table.assign(effective=effective).sort_values(["effective", id_column])
    return ranked.drop_duplicates(owner, keep="last")


def _history(session: Session) -> pd.DataFrame:
    table = frame(
        session,
        select(
            col(Approval.id).label("approval_id"),
            col(Approval.trust_id),
            col(Trust.code).label("trust"),
            col(Approval.product_line_id).label("line_id"),
            col(ProductLine.code).label("product_line"),
            col(Approval.decision),
            col(Approval.odep_exception),
            col(Approval.clinician),
            col(Approval.role),
            col(Approval.decided_at),
            col(Approval.comment),
            col(DataImport.file_name).label("source_file"),
            col(Approval.import_id),
            col(DataImport.imported_by).label("recorded_by"),
            col(Approval.recorded_at),
            col(ApprovalOverride.reason).label("override_reason"),
        )
        .join(ProductLine, col(ProductLine.id) == col(Approval.product_line_id))
        .outerjoin(Trust, col(Trust.id) == col(Approval.trust_id))
        .outerjoin(DataImport, col(DataImport.id) == col(Approval.import_id))
        .outerjoin(ApprovalOverride, col(ApprovalOverride.approval_id) == col(Approval.id)),
    )
    table["trust"] = table["trust"].fillna(REGIONAL_PANEL)
    for column in ("source_file", "recorded_by", "override_reason"):
        table[column] = table[column].fillna("")
    return table


def decisions_in_force(engine: Engine, *, trust: str | None = None) -> pd.DataFrame:
    """The latest decision per (trust or REGIONAL panel, product line): who, when, from which file.

    ``trust`` keeps one trust's decisions (``REGIONAL`` the panel's); an unknown code is
    an ``UnknownReferenceError``. Sorted by trust and product line.
    """
    with Session(engine) as session:
        if trust:
            trust = trust.strip().upper()
            known = trusts_by_code(session)
            if trust != REGIONAL_PANEL and trust not in known:
                listed = ", ".join(sorted(known)) or "none yet"
                raise UnknownReferenceError(f"unknown trust {trust!r} (known: {listed}; or {REGIONAL_PANEL})")
        history = _history(session)
    latest = latest_decisions(history, ["trust", "line_id"], "approval_id")
    if trust:
        latest = latest[latest["trust"] == trust]
    return latest.sort_values(["trust", "product_line"])[["approval_id", *COLUMNS]].reset_index(drop=True)


def stale_decisions(
    session: Session, *, trust_id: int | None, line_ids: list[int], exported_at: dt.datetime, same_export: str
) -> pd.DataFrame:
    """Decisions recorded after a shortlist's export on its lines, other than from the same shortlist.

    One row per line (the newest such decision): line_id, approval_id, product_line,
    decision, clinician, recorded_at, source_file. ``same_export`` is the shortlist's
    import profile (``"shortlist #N"``): an earlier read-back of the same workbook is
    not newer information than the workbook itself.
    """
    if not line_ids:
        return pd.DataFrame(columns=["line_id"])
    owner = col(Approval.trust_id).is_(None) if trust_id is None else col(Approval.trust_id) == trust_id
    newer = frame(
        session,
        select(
            col(Approval.product_line_id).label("line_id"),
            col(Approval.id).label("approval_id"),
            col(ProductLine.code).label("product_line"),
            col(Approval.decision),
            col(Approval.clinician),
            col(Approval.recorded_at),
            col(DataImport.file_name).label("source_file"),
            col(DataImport.profile),
        )
        .join(ProductLine, col(ProductLine.id) == col(Approval.product_line_id))
        .outerjoin(DataImport, col(DataImport.id) == col(Approval.import_id))
        .where(owner, col(Approval.product_line_id).in_(line_ids), col(Approval.recorded_at) > exported_at),
    )
    newer = newer[newer["profile"].fillna("") != same_export]
    return newer.sort_values(["recorded_at", "approval_id"]).drop_duplicates("line_id", keep="last")
