"""``procure imports revert N``: undo one import, in one transaction, or refuse and say why.

Undoing import N (any kind: trusts, suppliers, catalogue, usage, contracts, tiers,
ratings, approvals, shortlist, switching costs):

1. the rows it wrote go: every row whose ``import_id`` is N (usage, contracts, tiers,
   ratings, approvals, switching costs, catalogue prices, rejected rows), the SKUs and product lines a
   catalogue version introduced, the trusts or suppliers a reference file added;
2. what it replaced comes back (``procurement.importers.replaced``): the usage rows of
   the months a usage file replaced, the contracts or offers a register replaced, each
   SKU's previous catalogue version (price, pack, description, listed or not), a
   trust's or supplier's previous name;
3. the ``DataImport`` stays, marked reverted (``ImportRevert``: who and when), so the
   audit keeps it; duplicate detection ignores it, so the same file can be imported again.

Refused, with the reason and nothing changed, where later data depends on it:

* a later import replaced or updated rows it wrote (a later usage file for the same
  months, a later contracts register for the same trust, the supplier's next catalogue
  version): revert that one first;
* a later import of the same kind re-stated the same reference data (trusts,
  suppliers) or the next catalogue version of the same supplier exists;
* rows it introduced are used elsewhere: a catalogue's new SKUs by usage or ratings,
  its new product lines by approvals, ratings or shortlist exports; a reference
  file's new trusts or suppliers by any other table.

Scenario runs never block a revert: a run records what was solved at the time (its
input hash then differs from the data). A product line a run refers to is kept,
without SKUs (it is no longer a candidate), so the run's results stay readable.
"""

import json

import pandas as pd
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, col

from procurement.db import lock_for_write, table_of, transaction
from procurement.errors import ProcureError, UnknownReferenceError
from procurement.importers.core import current_user, sql_records
from procurement.importers.replaced import not_reverted, rows_from_json
from procurement.models import (
    Approval,
    ApprovalOverride,
    CatalogueItem,
    ClinicalRating,
    Contract,
    DataImport,
    ImportRevert,
    ItemPrice,
    ProductLine,
    RejectedRow,
    ReplacedRows,
    RunAllocation,
    RunLine,
    ShortlistExport,
    Supplier,
    SwitchingCost,
    Trust,
    Usage,
    VolumeTier,
)
from procurement.reference import frame

# Rows written by an import, deleted on revert (children before parents).
# Switching costs: the newest import's rows are in force, so removing an import's rows
# puts the previous figures back in force without restoring anything.
ROWS_OF_IMPORT = (ClinicalRating, Usage, Contract, VolumeTier, SwitchingCost, Approval, ItemPrice, RejectedRow)
# Kinds whose later imports of the same kind (and owner) re-state the same rows.
ORDERED_KINDS = {"trusts", "suppliers", "catalogue"}
# Kinds that only add rows: nothing to restore, so revertible even if made before 0007.
APPEND_ONLY_KINDS = {"approvals", "shortlist"}
REFERENCE_MODELS: dict[str, type[Trust] | type[Supplier]] = {"trusts": Trust, "suppliers": Supplier}


class RevertRefused(ProcureError):
    """Later data depends on the import; the message lists what and how to proceed."""

    exit_code = 1


def _later_same_kind(session: Session, record: DataImport) -> list[int]:
    query = select(col(DataImport.id)).where(
        col(DataImport.kind) == record.kind, col(DataImport.id) > record.id, not_reverted()
    )
    if record.kind == "catalogue":
        query = query.where(col(DataImport.supplier_id) == record.supplier_id)
    return list(session.scalars(query.order_by(col(DataImport.id))))


def _replaced_later(session: Session, record: DataImport) -> list[int]:
    """Later (not reverted) imports that deleted or updated rows this import wrote."""
    query = (
        select(col(ReplacedRows.import_id))
        .join(DataImport, col(DataImport.id) == col(ReplacedRows.import_id))
        .where(
            col(ReplacedRows.source_import_id) == record.id, col(ReplacedRows.import_id) != record.id, not_reverted()
        )
        .distinct()
    )
    return sorted(session.scalars(query))


def _kept(session: Session, import_id: int, model, action: str) -> pd.DataFrame:
    """The rows import ``import_id`` kept of ``model`` as ``action``, as one frame."""
    texts = session.scalars(
        select(col(ReplacedRows.rows))
        .where(
            col(ReplacedRows.import_id) == import_id,
            col(ReplacedRows.table_name) == model.__tablename__,
            col(ReplacedRows.action) == action,
        )
        .order_by(col(ReplacedRows.id))
    ).all()
    parts = [rows_from_json(model, text) for text in texts]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _catalogue_introduced(session: Session, record: DataImport) -> tuple[list[int], list[int]]:
    """(SKU ids, product line ids) that catalogue import ``record`` added."""
    assert record.id is not None, "a stored import has an id"
    before = _kept(session, record.id, CatalogueItem, "updated")
    known = set(before["id"].astype(int)) if len(before) else set()
    items = session.scalars(select(col(CatalogueItem.id)).where(col(CatalogueItem.source_import_id) == record.id)).all()
    lines = session.scalars(select(col(ProductLine.id)).where(col(ProductLine.first_import_id) == record.id)).all()
    # Primary keys read back from the database are never NULL.
    return sorted({i for i in items if i is not None} - known), sorted(i for i in lines if i is not None)


def _snapshot_lines(session: Session) -> dict[int, set[int]]:
    """Product line ids named by each shortlist export's snapshot (its decision rows)."""
    used: dict[int, set[int]] = {}
    for export_id, snapshot in session.execute(select(col(ShortlistExport.id), col(ShortlistExport.snapshot))):
        sheets = json.loads(snapshot or "{}").get("sheets", [])
        used[export_id] = {int(r["line_id"]) for s in sheets for r in s.get("rows", {}).values() if "line_id" in r}
    return used


def _count_where_in(session: Session, column, ids: list[int]) -> int:
    if not ids:
        return 0
    return session.execute(select(func.count()).where(column.in_(ids))).scalar_one()


def _referencing_columns(model) -> list:
    """Every column of every table that is a foreign key to ``model``'s id."""
    target = model.__table__.c.id
    return [
        column
        for table in SQLModel.metadata.sorted_tables
        for column in table.columns
        if any(fk.column is target for fk in column.foreign_keys)
    ]


def _dependents(session: Session, record: DataImport) -> list[str]:
    """Why import ``record`` cannot be reverted now (empty: it can)."""
    assert record.id is not None, "a stored import has an id"
    reasons = []
    untracked = session.scalars(
        select(col(ReplacedRows.id)).where(
            col(ReplacedRows.import_id) == record.id, col(ReplacedRows.action) == "untracked"
        )
    ).first()
    if untracked is not None and record.kind not in APPEND_ONLY_KINDS:
        reasons.append(
            "it was made before this database kept what imports replace (schema revision 0007), so what it "
            "replaced cannot be restored: import a corrected file instead"
        )
    later = _later_same_kind(session, record) if record.kind in ORDERED_KINDS else []
    if later:
        what = "the supplier's next catalogue version" if record.kind == "catalogue" else f"a later {record.kind} file"
        reasons.append(f"{what} was imported after it (import #{', #'.join(map(str, later))}): revert that first")
    replaced = sorted(set(_replaced_later(session, record)) - set(later))
    if replaced:
        reasons.append(
            f"import #{', #'.join(map(str, replaced))} replaced rows it wrote: revert "
            f"{'that' if len(replaced) == 1 else 'those'} first"
        )
    if record.kind == "catalogue":
        items, lines = _catalogue_introduced(session, record)
        for holder, column, ids, what in (
            (Usage, col(Usage.item_id), items, "usage rows buy SKUs it introduced"),
            (ClinicalRating, col(ClinicalRating.item_id), items, "ODEP ratings rate SKUs it introduced"),
            (
                ClinicalRating,
                col(ClinicalRating.product_line_id),
                lines,
                "ODEP ratings rate product lines it introduced",
            ),
            (Approval, col(Approval.product_line_id), lines, "clinical decisions are on product lines it introduced"),
        ):
            n = _count_where_in(session, column, ids)
            if n:
                # Approval.import_id is nullable (a decision kept without its import): no import to name.
                holders = session.scalars(select(col(holder.import_id)).where(column.in_(ids)))
                imports = sorted({int(i) for i in holders if i is not None})
                source = f" (import #{', #'.join(map(str, imports))})" if imports else ""
                reasons.append(f"{n} {what}{source}: revert those first")
        exports = sorted(e for e, used in _snapshot_lines(session).items() if used & set(lines))
        if exports:
            reasons.append(
                f"shortlist export #{', #'.join(map(str, exports))} lists product lines it introduced "
                "(their decisions could no longer be read back)"
            )
    if record.kind in REFERENCE_MODELS:
        model = REFERENCE_MODELS[record.kind]
        added = _kept(session, record.id, model, "inserted")
        ids = [int(i) for i in added["id"]] if len(added) else []
        for column in _referencing_columns(model):
            n = _count_where_in(session, column, ids)
            if n:
                codes = ", ".join(sorted(added["code"]))
                reasons.append(
                    f"{n} {column.table.name} row(s) refer to the {record.kind} it added ({codes}): remove those first"
                )
    return reasons


def _undo(session: Session, record: DataImport) -> dict[str, int]:
    """Remove what ``record`` wrote and put back what it replaced; counts by what was done."""
    assert record.id is not None, "a stored import has an id"
    counts: dict[str, int] = {}
    approvals = select(col(Approval.id)).where(col(Approval.import_id) == record.id)
    session.execute(delete(ApprovalOverride).where(col(ApprovalOverride.approval_id).in_(approvals)))
    for model in ROWS_OF_IMPORT:
        n = session.exec(delete(model).where(col(model.import_id) == record.id)).rowcount
        if n and model is not RejectedRow:
            counts[f"{model.__tablename__} rows removed"] = n
    if record.kind == "catalogue":
        items, lines = _catalogue_introduced(session, record)
        if items:
            session.execute(delete(CatalogueItem).where(col(CatalogueItem.id).in_(items)))
            counts["SKUs removed"] = len(items)
        in_runs = set(session.scalars(select(col(RunLine.line_id)).where(col(RunLine.line_id).in_(lines)))) | set(
            session.scalars(select(col(RunAllocation.line_id)).where(col(RunAllocation.line_id).in_(lines)))
        )
        gone = [line for line in lines if line not in in_runs]
        if gone:
            session.execute(delete(ProductLine).where(col(ProductLine.id).in_(gone)))
            counts["product lines removed"] = len(gone)
        if in_runs:
            counts["product lines kept for the scenario runs that refer to them"] = len(in_runs)
    for restored in (CatalogueItem, Trust, Supplier):
        before = _kept(session, record.id, restored, "updated")
        if len(before):
            # Only rows that still exist: a SKU the import introduced was never "before".
            exists = set(
                session.scalars(select(col(restored.id)).where(col(restored.id).in_([int(i) for i in before["id"]])))
            )
            before = before[before["id"].isin(exists)]
            session.execute(update(restored), sql_records(before, ints=["id"]))
            counts[f"{restored.__tablename__} rows restored"] = len(before)
        added = _kept(session, record.id, restored, "inserted")
        if len(added):
            session.execute(delete(restored).where(col(restored.id).in_([int(i) for i in added["id"]])))
            counts[f"{restored.__tablename__} rows removed"] = len(added)
    reinserted_models: tuple[type[SQLModel], ...] = (Usage, Contract, VolumeTier, ClinicalRating)
    for reinserted in reinserted_models:
        deleted = _kept(session, record.id, reinserted, "deleted")
        if len(deleted):
            table = table_of(reinserted)
            ints = [c.name for c in table.columns if c.name.endswith("_id") and c.name in deleted]
            session.execute(insert(table), sql_records(deleted.drop(columns="id"), ints=ints))
            counts[f"{reinserted.__tablename__} rows restored"] = len(deleted)
    session.execute(delete(ReplacedRows).where(col(ReplacedRows.import_id) == record.id))
    return counts


def revert_import(engine: Engine, import_id: int, *, user: str | None = None) -> dict:
    """Undo import ``import_id`` in one transaction (see the module docstring).

    Returns ``{"import_id", "kind", "file", "reverted_by", "reverted_at", "changes"}``;
    raises ``UnknownReferenceError`` for an unknown import, ``RevertRefused`` (nothing
    changed) where later data depends on it or it was reverted already.
    """
    with transaction(engine) as session:
        lock_for_write(session, "imports|revert")
        record = session.get(DataImport, import_id)
        if record is None:
            raise UnknownReferenceError(f"no import #{import_id} (see `procure imports`)")
        done = session.scalars(select(ImportRevert).where(col(ImportRevert.import_id) == import_id)).first()
        if done is not None:
            raise RevertRefused(
                f"import #{import_id} ({record.kind} {record.file_name}) was already reverted "
                f"on {done.reverted_at:%Y-%m-%d %H:%M} UTC by {done.reverted_by or 'unknown'}"
            )
        reasons = _dependents(session, record)
        if reasons:
            raise RevertRefused(
                f"import #{import_id} ({record.kind} {record.file_name}) cannot be reverted; nothing was changed:\n  "
                + "\n  ".join(reasons)
            )
        changes = _undo(session, record)
        note = "; ".join(f"{n} {what}" for what, n in changes.items())
        revert = ImportRevert(import_id=import_id, reverted_by=current_user(user), note=note)
        session.add(revert)
        session.flush()
        return {
            "import_id": import_id,
            "kind": record.kind,
            "file": record.file_name,
            "reverted_by": revert.reverted_by,
            "reverted_at": revert.reverted_at,
            "changes": changes,
        }


def reverted_imports(session: Session) -> pd.DataFrame:
    """import_id, reverted_at, reverted_by, note of every reverted import."""
    return frame(
        session,
        select(
            col(ImportRevert.import_id),
            col(ImportRevert.reverted_at),
            col(ImportRevert.reverted_by),
            col(ImportRevert.note),
        ).order_by(col(ImportRevert.import_id)),
    )
