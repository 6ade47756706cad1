"""What an import replaced, kept so that ``procure imports revert N`` can put it back.

Importers that delete or update earlier rows (usage replacing the months a file spans,
the contracts register replacing a trust's contracts, a catalogue version updating
SKUs, a trusts file renaming a trust...) call these helpers instead of deleting or
updating blindly. Each call stores the rows as they were in one ``ReplacedRows``
record per (table, import that had written them):

* ``deleted``: the rows the import removed; a revert inserts them again (new ids:
  nothing refers to these tables' ids, and the old ids may have been reused);
* ``updated``: the rows before the import changed them; a revert writes them back by id;
* ``inserted``: the rows the import added to a table it also updates in place
  (trusts, suppliers); a revert deletes them.

The rows are stored as JSON, one document per record, column by column: a large
usage correction keeps its replaced rows in one insert, not one per row.
"""

import datetime as dt
import json

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy import delete, select
from sqlmodel import Session, col

from procurement.models import DataImport, ImportRevert, ReplacedRows
from procurement.reference import frame

ACTIONS = ("deleted", "updated", "inserted")
# (Migration 0007 marks the imports made before it ``untracked``: they kept nothing.)


def not_reverted():
    """SQL condition: the ``DataImport`` has not been reverted (reverted imports are history only)."""
    return col(DataImport.id).not_in(select(col(ImportRevert.import_id)))


def _plain(value):
    """A JSON-able Python value for one cell (numpy scalars, dates, datetimes)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dt.date | dt.datetime | pd.Timestamp):
        return value.isoformat()
    raise TypeError(f"cannot keep a {type(value).__name__} value")


def _to_json(rows: pd.DataFrame) -> str:
    columns = {}
    for column in rows.columns:
        series = rows[column]
        if series.isna().any():
            series = series.astype(object).where(series.notna(), None)
        columns[column] = series.tolist()
    return json.dumps(columns, default=_plain)


def rows_from_json(model, text: str) -> pd.DataFrame:
    """The kept rows as a frame, each column converted back to its table column's type."""
    table = pd.DataFrame(json.loads(text))
    for column in model.__table__.columns:
        if column.name not in table or table[column.name].isna().all():
            continue
        values = table[column.name]
        if isinstance(column.type, sa.DateTime):
            table[column.name] = pd.Series(list(pd.to_datetime(values, utc=True, format="ISO8601")), dtype=object)
        elif isinstance(column.type, sa.Date):
            table[column.name] = pd.to_datetime(values, format="ISO8601").dt.date
        elif isinstance(column.type, sa.Boolean):
            table[column.name] = values.astype(bool)
    return table


def keep_rows(session: Session, import_id: int, model, where, action: str, params: dict | None = None) -> pd.DataFrame:
    """Store the rows of ``model`` matching ``where`` (its bound ``params``) as ``action`` of import
    ``import_id``.

    One ``ReplacedRows`` record per import that had written the rows (the table's
    ``import_id`` or ``source_import_id`` column, where it has one). Returns the rows.
    """
    assert action in ACTIONS, action
    # In id order, whichever index finds them (the JSON kept, and a revert's inserts, follow it).
    table = model.__table__
    rows = frame(session, select(*table.columns).where(where).order_by(*table.primary_key.columns), params)
    if rows.empty:
        return rows
    source = next((c for c in ("import_id", "source_import_id") if c in rows), None)
    parts = rows.groupby(source, dropna=False, sort=True) if source else [(None, rows)]
    session.add_all(
        ReplacedRows(
            import_id=import_id,
            table_name=model.__tablename__,
            action=action,
            source_import_id=None if source_id is None or pd.isna(source_id) else int(source_id),
            rows=_to_json(part),
        )
        for source_id, part in parts
    )
    session.flush()
    return rows


def delete_keeping(session: Session, import_id: int, model, where, params: dict | None = None) -> int:
    """Delete the rows of ``model`` matching ``where`` (its bound ``params``), kept for a revert; how
    many were deleted."""
    kept = keep_rows(session, import_id, model, where, "deleted", params)
    if kept.empty:
        return 0
    return session.connection().execute(delete(model).where(where), params).rowcount


def with_reverts(session: Session, table: pd.DataFrame, id_column: str) -> pd.DataFrame:
    """``table`` of imports plus ``reverted``: "YYYY-MM-DD HH:MM by WHO" for a reverted import, else ""."""
    reverts = frame(
        session, select(col(ImportRevert.import_id), col(ImportRevert.reverted_at), col(ImportRevert.reverted_by))
    )
    when = pd.to_datetime(reverts["reverted_at"], utc=True).dt.strftime("%Y-%m-%d %H:%M")
    label = pd.Series((when + " by " + reverts["reverted_by"]).to_numpy(), index=reverts["import_id"].to_numpy())
    reverted = table[id_column].map(label).astype(object)
    return table.assign(reverted=reverted.where(reverted.notna(), ""))
