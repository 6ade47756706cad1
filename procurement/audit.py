"""The audit trail: who imported, decided and ran what, when, and from which files.

A finance director traces any figure back through three lists:

* **imports**: every file read (``DataImport``): kind, file name, sha256 of its bytes,
  supplier or trust, catalogue version, row counts, who imported it and when, and
  (``reverted``) when and by whom it was undone by ``procure imports revert``;
* **approvals**: every clinical decision (``Approval``, append-only, the latest wins):
  trust (or the regional panel), product line, decision, clinician and role, when it
  was decided, the sha256 of the file it came from, and who recorded it (the user
  who imported that file) and when;
* **runs**: every scenario run (``ScenarioRun``): scenario, status, objective, gap,
  solver, the sha256 of the data it solved (``input_hash``), who ran it and when.

Nothing here writes: the records are made by the importers and ``run_scenario``.
``since`` keeps records made on or after a date (UTC): imports by ``imported_at``,
approvals by when they were recorded, runs by ``started_at``.
"""

import datetime as dt

import pandas as pd
from sqlalchemy import Select, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from procurement.errors import ProcureError
from procurement.importers import REGIONAL_PANEL
from procurement.importers.replaced import with_reverts
from procurement.models import (
    Approval,
    DataImport,
    Scenario,
    ScenarioRun,
)
from procurement.reference import codes, frame, join_codes

KINDS = ("import", "approval", "run")


def _since(value: dt.date | dt.datetime | str | None) -> dt.datetime | None:
    """Midnight UTC of a date (or a tz-aware datetime as given); None for no bound."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value.strip())
        except ValueError as exc:
            raise ProcureError(f"--since {value!r} is not a date (YYYY-MM-DD)") from exc
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return dt.datetime.combine(value, dt.time(), tzinfo=dt.UTC)


def _oldest_first(session: Session, query: Select, *, key, made_at, since: dt.datetime | None) -> pd.DataFrame:
    """The rows of ``query`` in the order they were made (by ``key``, an id), keeping those
    whose ``made_at`` is on or after ``since`` (all of them when ``since`` is None)."""
    query = query.order_by(key)
    if since is not None:
        query = query.where(made_at >= since)
    return frame(session, query)


def audit_imports(session: Session, since: dt.datetime | None = None) -> pd.DataFrame:
    """One row per imported file, oldest first."""
    query = join_codes(
        select(
            col(DataImport.id).label("import_id"),
            col(DataImport.kind),
            col(DataImport.file_name).label("file"),
            col(DataImport.sha256),
            *codes("supplier", "trust"),
            col(DataImport.version),
            col(DataImport.rows_read),
            col(DataImport.rows_accepted),
            col(DataImport.rows_rejected),
            col(DataImport.imported_by).label("who"),
            col(DataImport.imported_at).label("when"),
        ),
        {"supplier": DataImport.supplier_id, "trust": DataImport.trust_id},
        outer=("supplier", "trust"),  # a file of one supplier's or one trust's, or of neither
    )
    table = _oldest_first(session, query, key=DataImport.id, made_at=DataImport.imported_at, since=since)
    return with_reverts(session, table, "import_id")  # a reverted import stays, marked


def audit_approvals(session: Session, since: dt.datetime | None = None) -> pd.DataFrame:
    """One row per clinical decision recorded, oldest first; ``recorded_by`` from its import."""
    query = join_codes(
        select(
            col(Approval.id).label("approval_id"),
            *codes("trust", product_line="line"),
            col(Approval.decision),
            col(Approval.odep_exception),
            col(Approval.clinician),
            col(Approval.role),
            col(Approval.comment),
            col(Approval.decided_at),
            col(Approval.source_sha256),
            col(Approval.import_id),
            col(DataImport.file_name).label("source_file"),
            col(DataImport.imported_by).label("recorded_by"),
            col(Approval.recorded_at),
        ),
        {"line": Approval.product_line_id, "trust": Approval.trust_id},
        outer=("trust",),  # no trust: the regional panel's decision
    ).outerjoin(DataImport, col(DataImport.id) == col(Approval.import_id))
    table = _oldest_first(session, query, key=Approval.id, made_at=Approval.recorded_at, since=since)
    table["trust"] = table["trust"].fillna(REGIONAL_PANEL)
    table["recorded_by"] = table["recorded_by"].fillna("")
    return table


def audit_runs(session: Session, since: dt.datetime | None = None) -> pd.DataFrame:
    """One row per scenario run, oldest first."""
    query: Select = select(
        col(ScenarioRun.id).label("run_id"),
        col(Scenario.name).label("scenario"),
        col(ScenarioRun.status),
        col(ScenarioRun.objective),
        col(ScenarioRun.gap),
        col(ScenarioRun.solver),
        col(ScenarioRun.input_hash),
        col(ScenarioRun.run_by).label("who"),
        col(ScenarioRun.started_at).label("when"),
        col(ScenarioRun.message),
    ).join(Scenario, col(Scenario.id) == col(ScenarioRun.scenario_id))
    return _oldest_first(session, query, key=ScenarioRun.id, made_at=ScenarioRun.started_at, since=since)


def audit_trail(
    engine: Engine,
    *,
    kinds: tuple[str, ...] | list[str] = (),
    since: dt.date | dt.datetime | str | None = None,
) -> dict[str, pd.DataFrame]:
    """The audit trail as frames keyed ``imports``, ``approvals``, ``runs`` (those asked for).

    ``kinds``: any of ``import``, ``approval``, ``run``; empty for all three.
    """
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise ProcureError(f"unknown audit kind(s) {', '.join(unknown)} (known: {', '.join(KINDS)})")
    wanted = [k for k in KINDS if not kinds or k in kinds]
    bound = _since(since)
    readers = {"import": audit_imports, "approval": audit_approvals, "run": audit_runs}
    with Session(engine) as session:
        return {f"{kind}s": readers[kind](session, bound) for kind in wanted}


__all__ = ["KINDS", "audit_approvals", "audit_imports", "audit_runs", "audit_trail"]
