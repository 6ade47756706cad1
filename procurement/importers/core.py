"""What every importer shares: the report, the row problems, the file's one transaction.

Every importer follows the same contract (``FileImporter.run``):

1. read the whole file and hash it (sha256); an identical file already imported for
   the same kind (and supplier or trust) is reported as a duplicate and nothing is
   written (race-free: two imports of one file at the same moment store it once, see
   ``procurement.db.lock_for_write``);
2. parse every row with the vectorised parsers of ``catalogues.normalise``; each
   unusable value becomes a ``RejectedRow`` naming the row, the column (as headed in
   the file), the value and the reason; a row with any problem is not used;
3. write the accepted rows, the rejected rows and the ``DataImport`` record in one
   transaction: a file that cannot be used at all (unreadable, wrong layout, unknown
   supplier or trust) raises a ``ProcureError`` and leaves the database unchanged.

``rows_read == rows_accepted + rows_rejected`` always holds (blank lines are layout,
not rows). File formats: docs/formats.md.
"""

import datetime as dt
import getpass
import hashlib
import json
import operator
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy import Select, bindparam, func, insert, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from catalogues.classify import Taxonomy, TaxonomyError, load_taxonomy
from catalogues.normalise import Parsed, clean_text, is_text, slug
from catalogues.read import ROW_COLUMN, FileFormatError, TableSpec, read_table
from procurement.db import lock_for_write, table_of, transaction
from procurement.errors import InputFileError, UnknownReferenceError
from procurement.importers.replaced import not_reverted, with_reverts
from procurement.models import CatalogueItem, DataImport, RejectedRow, Supplier
from procurement.reference import core_execute, frame, groups_frame, lines_frame, suppliers_by_code, sync_taxonomy

REGIONAL_PANEL = "REGIONAL"
REJECT_COLUMNS = ["row", "column", "value", "reason"]
_PROBLEM_COLUMNS = ["index", *REJECT_COLUMNS]
_NO_REJECTS = pd.DataFrame(columns=REJECT_COLUMNS)  # (copied: cheaper than making a frame)
IN_CHUNK = 5_000  # values per "WHERE column IN (...)": well under PostgreSQL's bind limit


def current_user(user: str | None = None) -> str:
    """``user`` if given, else the login name (``"unknown"`` where there is none)."""
    if user:
        return user
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"


@dataclass
class ImportReport:
    """What one import did; ``rejects`` lists every problem (row, column, value, reason)."""

    kind: str
    file: str
    sha256: str
    import_id: int | None = None
    duplicate_of: int | None = None
    rows_read: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    new_lines: int = 0
    new_items: int = 0
    price_changes: int = 0
    discontinued: int = 0
    version: int | None = None
    profile: str | None = None
    notes: list[str] = field(default_factory=list)
    rejects: pd.DataFrame = field(default_factory=lambda: _NO_REJECTS.copy())

    def to_dict(self, max_rejects: int | None = None) -> dict:
        rejects = self.rejects if max_rejects is None else self.rejects.head(max_rejects)
        return {
            "kind": self.kind,
            "file": self.file,
            "sha256": self.sha256,
            "import_id": self.import_id,
            "duplicate_of": self.duplicate_of,
            "rows_read": self.rows_read,
            "rows_accepted": self.rows_accepted,
            "rows_rejected": self.rows_rejected,
            "new_lines": self.new_lines,
            "new_items": self.new_items,
            "price_changes": self.price_changes,
            "discontinued": self.discontinued,
            "version": self.version,
            "profile": self.profile,
            "notes": self.notes,
            "rejects": rejects.astype({"row": int}).to_dict("records") if len(rejects) else [],
        }


class Problems:
    """Collects row problems of one file as (index, row, column, value, reason)."""

    def __init__(self, table: pd.DataFrame, headings: Mapping[str, str]):
        self.table = table
        self.headings = headings
        # Each add's problems as columns (lists of one length, "column" one heading): plain lists,
        # not a frame per add, since a file has few problems and pandas' cost is per frame.
        self.parts: list[dict[str, list]] = []
        self._bad = np.zeros(len(table), dtype=bool)  # kept up to date by add: bad() is asked often
        self.raw: dict | None = None  # the raw text of each row with a problem, by index label (``thinned``)

    def add(self, mask: pd.Series, column: str, reason: str | pd.Series) -> None:
        if mask.dtype != bool:  # a boolean mask (the usual one) has nothing to fill
            mask = mask.fillna(False).astype(bool)
        if not mask.to_numpy().any():
            return
        if self.table.index.is_unique:
            self._bad |= mask.to_numpy(dtype=bool)
        else:  # every row bearing a flagged row's label, as a label look-up would find
            self._bad |= self.table.index.isin(self.table.index[mask])
        same_rows = mask.index.equals(self.table.index)
        if same_rows and (not isinstance(reason, pd.Series) or reason.index.equals(self.table.index)):
            # The usual case, masks over the table's own rows: taken by position (same
            # rows, same dtypes), without pandas' label alignment.
            at = np.flatnonzero(mask.to_numpy(dtype=bool))
            n = len(at)
            self.parts.append(
                {
                    "index": self.table.index[at].tolist(),
                    "row": self.table[ROW_COLUMN].to_numpy()[at].tolist(),  # plain ints
                    "column": [self.headings.get(column, column)] * n,
                    "value": self.table[column].array[at].tolist() if column in self.table else [""] * n,
                    "reason": reason.array[at].tolist() if isinstance(reason, pd.Series) else [reason] * n,
                }
            )
            return
        values = self.table.loc[mask, column] if column in self.table else ""
        reasons = reason[mask] if isinstance(reason, pd.Series) else reason
        # Aligned by label, as pandas aligns them (the rare case: a mask over other rows).
        part = pd.DataFrame(
            {
                "index": self.table.index[mask],
                "row": self.table.loc[mask, ROW_COLUMN],
                "column": self.headings.get(column, column),
                "value": values,
                "reason": reasons,
            }
        )
        self.parts.append({name: part[name].tolist() for name in _PROBLEM_COLUMNS})

    def thinned(self) -> "Problems":
        """These problems over a table of the row numbers alone, with the raw text of each row that
        has a problem (``raw_text``): all an import needs of a file once every problem is found,
        and much less to send between processes."""
        thin = Problems(self.table[[ROW_COLUMN]], self.headings)
        thin.table.attrs = dict(self.table.attrs)
        thin.parts, thin._bad = self.parts, self._bad
        bad = self.table.index[self._bad]
        thin.raw = dict(zip(bad, _raw_text(self.table.loc[bad]).tolist(), strict=True)) if len(bad) else {}
        return thin

    def raw_text(self, labels: pd.Index | pd.Series) -> np.ndarray:
        """The raw text of the rows at ``labels`` (cells joined by " | ")."""
        if self.raw is not None:
            return np.array([self.raw[label] for label in labels], dtype=object)
        return _raw_text(self.table.loc[labels]).to_numpy()

    def reset(self, table: pd.DataFrame) -> None:
        """Start again over ``table`` (its ``attrs["headings"]``): no problems found yet."""
        self.table, self.headings = table, table.attrs.get("headings", {})
        self.parts, self._bad, self.raw = [], np.zeros(len(table), dtype=bool), None

    def add_parsed(self, column: str, parsed: Parsed) -> None:
        self.add(parsed.errors != "", column, parsed.errors)

    def rows_with_problems(self) -> int:
        return int(self._bad.sum())

    def bad(self) -> pd.Series:
        """Boolean mask over the table: rows with at least one problem."""
        return pd.Series(self._bad.copy(), index=self.table.index)

    def columns(self) -> dict[str, list]:
        """Every problem as columns of plain lists (index, row, column, value, reason), by row and
        then column (in the order found where both are the same); values as text (missing ones stay
        missing), cut at 200 characters."""
        columns = {name: [v for part in self.parts for v in part[name]] for name in _PROBLEM_COLUMNS}
        values = columns["value"]
        if all(type(v) is str for v in values):
            columns["value"] = [v[:200] for v in values]
        else:  # numbers, dates, missing values: as text as pandas writes them
            columns["value"] = pd.Series(values, dtype=object).astype(str).str.slice(0, 200).tolist()
        rows, headings = columns["row"], columns["column"]
        if all(type(r) is int for r in rows):
            # sorted() is stable, as the sort by the two columns was
            order = sorted(range(len(rows)), key=lambda i: (rows[i], headings[i]))
            if order != list(range(len(rows))):
                columns = {name: [listed[i] for i in order] for name, listed in columns.items()}
            return columns
        out = pd.DataFrame(columns).sort_values(["row", "column"], kind="stable")
        return {name: out[name].tolist() for name in _PROBLEM_COLUMNS}


# --------------------------------------------------------------------------- the file's transaction


class FileImporter:
    """One import of one file: the contract of the module docstring, in one place.

    A subclass (one per kind of file) sets ``kind`` and ``spec`` and writes two steps:
    ``check`` parses and validates every row (each unusable value into ``problems``)
    and returns whatever ``store`` needs; ``store`` writes the accepted rows (``good``).
    ``owner`` names the supplier or trust a file belongs to, ``read`` reads a file that
    has no fixed ``spec`` (a catalogue, through its profile). ``run`` does the rest.
    An instance serves one call: steps may keep what they learn on ``self``.
    """

    kind: str
    spec: TableSpec | None = None  # None: the rows are read by ``read``, inside the transaction
    uses_taxonomy: bool = False  # the taxonomy's categories and groups must be in the database

    def __init__(self, *, user: str | None = None, taxonomy: Taxonomy | None = None):
        self.user = user
        self.taxonomy = taxonomy

    def owner(self, session: Session) -> dict[str, int]:
        """``{"supplier_id": ...}`` or ``{"trust_id": ...}`` for a file of one owner; ``{}`` otherwise."""
        return {}

    def read(self, session: Session, path: Path, report: ImportReport) -> pd.DataFrame:
        """The file's rows (with ``ROW_COLUMN`` and ``attrs["headings"]``) when ``spec`` is None."""
        raise NotImplementedError

    def rows_of(self, path: Path, sha: str) -> pd.DataFrame | None:
        """The file's rows, read before the transaction when ``spec`` is set (None: ``read`` reads them
        inside it); ``sha`` is the sha256 of the file's bytes as hashed for this import."""
        return read_rows(path, self.spec) if self.spec is not None else None

    def problems_of(self, table: pd.DataFrame) -> Problems:
        """The row problems to collect for ``table`` (none yet, unless found ahead: see the catalogue importer)."""
        return Problems(table, table.attrs.get("headings", {}))

    def check(self, session: Session, table: pd.DataFrame, problems: Problems, report: ImportReport) -> Any:
        raise NotImplementedError

    def store(self, session: Session, checked: Any, good: pd.Series, import_id: int, report: ImportReport) -> None:
        raise NotImplementedError

    def run(self, engine: Engine, path: Path) -> ImportReport:
        """Import ``path``: the whole contract of the module docstring, in one transaction."""
        path = Path(path)
        _, sha = read_bytes(path)
        table = self.rows_of(path, sha)
        if self.uses_taxonomy:
            self.taxonomy = load_taxonomy_or_refuse(self.taxonomy)
        with transaction(engine) as session:
            if self.uses_taxonomy:
                assert self.taxonomy is not None  # loaded above
                sync_taxonomy(session, self.taxonomy)
            owner = self.owner(session)
            previous = find_duplicate(session, self.kind, sha, **owner)
            if previous:
                return duplicate_report(self.kind, path, sha, previous)
            for id_of_owner in owner.values():
                # Two different files of one owner at once: one after the other (catalogue
                # versions and SKUs; usage replacing the months it spans).
                lock_for_write(session, f"{self.kind}|{id_of_owner}")
            report = ImportReport(kind=self.kind, file=path.name, sha256=sha)
            if table is None:
                table = self.read(session, path, report)
            problems = self.problems_of(table)
            checked = self.check(session, table, problems, report)
            import_id = record_import(session, report, problems, user=self.user, **owner)
            self.store(session, checked, ~problems.bad(), import_id, report)
            if report.new_lines or report.price_changes:
                finish_counts(session, import_id, report)
        return report


def read_bytes(path: Path) -> tuple[bytes, str]:
    """The file's bytes and their sha256; a missing or unreadable file is an ``InputFileError``."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError as exc:
        raise InputFileError(f"{path}: no such file") from exc
    except OSError as exc:
        raise InputFileError(f"{path}: cannot be read: {exc.strerror or exc}") from exc
    return data, hashlib.sha256(data).hexdigest()


def refuse_if_no_rows(path: Path, table: pd.DataFrame) -> None:
    if table.empty:
        raise InputFileError(f"{Path(path).name}: the header is there but no rows below it; nothing was written")


def as_text_table(table: pd.DataFrame) -> pd.DataFrame:
    """Every data column as ``object`` (cells as read), ``attrs["headings"]`` kept."""
    headings = table.attrs.get("headings", {})
    # Only the columns that are not ``object`` yet (converting the rest would copy them for nothing).
    convert = {c: "object" for c in table.columns if c != ROW_COLUMN and table[c].dtype != object}
    if convert:
        table = table.astype(convert)
    table.attrs["headings"] = headings
    return table


def read_rows(path: Path, spec: TableSpec) -> pd.DataFrame:
    """The rows of a CSV/XLSX laid out as ``spec``; a file that cannot be used is refused."""
    try:
        table = read_table(path, spec)
    except FileFormatError as exc:
        raise InputFileError(str(exc)) from exc
    refuse_if_no_rows(path, table)
    return as_text_table(table)


def load_taxonomy_or_refuse(taxonomy: Taxonomy | None) -> Taxonomy:
    try:
        return taxonomy or load_taxonomy()
    except TaxonomyError as exc:
        raise InputFileError(str(exc)) from exc


def find_duplicate(session: Session, kind: str, sha: str, *, supplier_id=None, trust_id=None) -> int | None:
    """The id of an earlier import of the identical file (same kind and owner), if any."""
    # Race-free: a second import of the same file waits here until the first one has
    # committed, then finds it (see procurement.db.lock_for_write).
    lock_for_write(session, f"import|{kind}|{sha}|{supplier_id}|{trust_id}")
    query = _SAME_FILE[supplier_id is not None, trust_id is not None]
    parameters = {"kind": kind, "sha256": sha, "supplier_id": supplier_id, "trust_id": trust_id}
    return core_execute(session, query, parameters).scalars().first()


def _same_file(of_supplier: bool, of_trust: bool) -> Select:
    """``find_duplicate``'s query (its values bound per import)."""
    # A reverted import is history only: the same file may be imported again.
    query = select(col(DataImport.id)).where(
        col(DataImport.kind) == bindparam("kind"), col(DataImport.sha256) == bindparam("sha256"), not_reverted()
    )
    if of_supplier:
        query = query.where(col(DataImport.supplier_id) == bindparam("supplier_id"))
    if of_trust:
        query = query.where(col(DataImport.trust_id) == bindparam("trust_id"))
    return query.order_by(col(DataImport.id))


_SAME_FILE = {(s, t): _same_file(s, t) for s in (False, True) for t in (False, True)}  # built once


def duplicate_report(kind: str, path: Path, sha: str, previous: int) -> ImportReport:
    report = ImportReport(kind=kind, file=Path(path).name, sha256=sha, duplicate_of=previous)
    report.notes.append(f"identical file already imported as import #{previous}; nothing written")
    return report


def _raw_text(table: pd.DataFrame) -> pd.Series:
    columns = [c for c in table.columns if c != ROW_COLUMN]
    if all(is_text(table[c]) for c in columns):  # cells as read: text, or missing ("")
        lists = [[v if isinstance(v, str) else "" for v in table[c].tolist()] for c in columns]
    else:
        # astype("string") + fillna: pandas 3's astype(str) keeps missing values as NaN.
        text = table[columns].astype("string").fillna("")
        lists = [text[c].tolist() for c in columns]
    # Joined row by row in Python: pandas' agg(axis=1) builds a Series for every row.
    return pd.Series([" | ".join(row) for row in zip(*lists, strict=True)], index=table.index, dtype=object)


_INSERT_IMPORT = insert(DataImport)  # built once (its values bound per import)


def record_import(
    session: Session,
    report: ImportReport,
    problems: Problems,
    *,
    user: str | None,
    supplier_id: int | None = None,
    trust_id: int | None = None,
) -> int:
    """Insert the DataImport row and its RejectedRow rows; fill the report's counts (of the rows of
    ``problems.table``, the file as read)."""
    rejects = problems.columns()
    report.rows_read = len(problems.table)
    report.rows_rejected = problems.rows_with_problems()
    report.rows_accepted = report.rows_read - report.rows_rejected
    report.rejects = (
        pd.DataFrame({name: rejects[name] for name in REJECT_COLUMNS}) if rejects["row"] else _NO_REJECTS.copy()
    )
    # Core, not the ORM: nothing in the import reads the record back as an object, and the
    # ORM's flush of one object cost more than the statement.
    values = DataImport(
        kind=report.kind,
        file_name=report.file,
        sha256=report.sha256,
        supplier_id=supplier_id,
        trust_id=trust_id,
        profile=report.profile,
        version=report.version or 1,
        imported_by=current_user(user),
        rows_read=report.rows_read,
        rows_accepted=report.rows_accepted,
        rows_rejected=report.rows_rejected,
        new_lines=report.new_lines,
        price_changes=report.price_changes,
    ).model_dump(exclude={"id"})
    key = core_execute(session, _INSERT_IMPORT, values).inserted_primary_key
    assert key is not None  # a single-row INSERT reports its primary key
    import_id = report.import_id = int(key[0])
    if rejects["row"]:
        raw = problems.raw_text(pd.Index(rejects["index"]))  # the rejected rows only
        columns = {
            "import_id": import_id,
            "row_number": [int(row) for row in rejects["row"]],
            **{c: _missing_as_none(rejects[c]) for c in ("column", "value", "reason")},
            "raw": raw.tolist(),
        }
        insert_columns(session, table_of(RejectedRow), columns, len(rejects["row"]))
    return import_id


def finish_counts(session: Session, import_id: int, report: ImportReport) -> None:
    """Counts known only once the rows are stored (new product lines, price changes)."""
    core_execute(
        session, _FINISH_COUNTS, {"import_id": import_id, "lines": report.new_lines, "changes": report.price_changes}
    )


_FINISH_COUNTS = (
    update(DataImport)
    .where(col(DataImport.id) == bindparam("import_id"))
    .values(new_lines=bindparam("lines"), price_changes=bindparam("changes"))
)


def sql_records(table: pd.DataFrame, ints: Iterable[str] = ()) -> list[dict]:
    """The rows as dicts of plain Python values for an executemany; missing values as None.

    Built a column at a time (faster than ``to_dict("records")``). Missing values must
    go in as NULL: PostgreSQL would store a NaN bound to a text column as 'NaN'. The
    ``ints`` columns are sent as integers (NULL where missing), whatever their dtype.
    """
    ints = set(ints)
    columns = list(table.columns)
    values = []
    for column in columns:
        series = table[column].astype("Int64") if column in ints else table[column]
        if series.isna().any():
            series = series.astype(object).where(series.notna(), None)
        values.append(series.tolist())
    return [dict(zip(columns, row, strict=True)) for row in zip(*values, strict=True)]


def iso_dates(dates: pd.Series) -> pd.Series:
    """Dates (``date``, ``datetime`` or ``Timestamp``) as ISO text ``YYYY-MM-DD``, as SQLAlchemy stores a
    ``Date`` in SQLite; missing stays missing. Formatted once per distinct date (a file spans a few)."""
    codes, uniques = pd.factorize(dates)
    text = [(d.date() if isinstance(d, dt.datetime) else d).isoformat() for d in uniques]
    return pd.Series(pd.array(text + [None], dtype=object)[codes], index=dates.index, dtype=object)


def _missing_as_none(values: list) -> list:
    """``values`` with the missing ones (None, NaN, NA, NaT) as None, as ``plain_values`` has them."""
    return [None if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v) else v for v in values]


def plain_values(series: pd.Series) -> list:
    """The column's values as a list, missing ones (None, NaN, NA) as None (stored as NULL)."""
    if series.isna().any():
        series = series.astype(object).where(series.notna(), None)
    return series.tolist()


def _sqlite_column(series: pd.Series, sql_type, as_int: bool) -> list:
    """One column as the plain values SQLite stores for ``sql_type`` (as SQLAlchemy would bind them).

    Missing values become None (NULL); dates ISO text (SQLAlchemy's SQLite ``Date``);
    booleans 1/0 (sqlite3 stores ``True`` as 1).
    """
    if as_int:
        series = series.astype("Int64")
    if isinstance(sql_type, sa.DateTime):
        raise TypeError("datetimes go through SQLAlchemy (their text format is its own)")
    if isinstance(sql_type, sa.Date):
        series = iso_dates(series)
    return plain_values(series)


def insert_rows(session: Session, table: sa.Table, rows: pd.DataFrame, *, ints: Iterable[str] = ()) -> None:
    """INSERT every row of ``rows`` (columns named as ``table``'s) into ``table``, in the session's transaction.

    SQLite: one prepared INSERT run by the DB-API cursor's ``executemany`` over plain
    tuples (``insert_columns``). SQLAlchemy's Core executemany stored the same values but
    compiled and processed the parameters of every row in Python, most of an import's
    write time. Other databases: SQLAlchemy Core (``sql_records``). The ``ints`` columns
    are sent as integers whatever their dtype; missing values go in as NULL.
    """
    if rows.empty:  # an empty executemany would insert one row of defaults (and fail)
        return
    ints = set(ints)
    if session.get_bind().dialect.name != "sqlite":
        session.execute(insert(table), sql_records(rows, ints))
        return
    columns = {c: _sqlite_column(rows[c], table.c[c].type, c in ints) for c in rows.columns}
    insert_columns(session, table, columns, len(rows))


INSERT_BATCH = 20_000  # rows per executemany of SQLAlchemy's (its parameter dicts are held at once)


def insert_columns(session: Session, table: sa.Table, columns: Mapping[str, Any], n: int) -> None:
    """INSERT ``n`` rows into ``table``: ``columns`` maps column names to a list of ``n`` values, or
    to one value for every row; values as SQLite stores them (plain Python; dates as ISO text).

    SQLite: the DB-API cursor's ``executemany`` over the zipped lists. Other databases:
    SQLAlchemy Core in batches of ``INSERT_BATCH`` rows, ISO dates read back as dates.
    """
    if n == 0:
        return
    lists = [values if isinstance(values, list) else [values] * n for values in columns.values()]
    names = list(columns)
    if session.get_bind().dialect.name != "sqlite":
        for i, name in enumerate(names):
            if isinstance(table.c[name].type, sa.Date) and not isinstance(table.c[name].type, sa.DateTime):
                lists[i] = [None if v is None else dt.date.fromisoformat(v) for v in lists[i]]
        for start in range(0, n, INSERT_BATCH):
            rows = zip(*(values[start : start + INSERT_BATCH] for values in lists), strict=True)
            session.execute(insert(table), [dict(zip(names, row, strict=True)) for row in rows])
        return
    quoted = ", ".join(f'"{c}"' for c in names)
    marks = ", ".join("?" for _ in names)
    driver_connection = session.connection().connection.driver_connection
    assert driver_connection is not None  # a checked-out connection has its DB-API connection
    cursor = driver_connection.cursor()
    try:
        cursor.executemany(f'INSERT INTO "{table.name}" ({quoted}) VALUES ({marks})', zip(*lists, strict=True))
    finally:
        cursor.close()


# --------------------------------------------------------------------------- parsing and code look-ups


def without_percent(raw: pd.Series) -> pd.Series:
    """A percentage column's text without a trailing ``%`` ("5%" is 5 in a ``_pct`` column)."""
    return clean_text(raw).str.replace(r"\s*%$", "", regex=True)


def owner_id(known: Mapping[str, int], code: str, what: str) -> int:
    """The id of the supplier or trust a file belongs to; an unknown code is refused."""
    found = known.get(code)
    if found is None:
        listed = ", ".join(sorted(known)) or "none yet"
        raise UnknownReferenceError(
            f"unknown {what} {code!r} (known: {listed}); add it with `procure import {what}s FILE`"
        )
    return found


def lookup_codes(
    problems: Problems, table: pd.DataFrame, column: str, known: Mapping[str, int], what: str
) -> pd.Series:
    """Map a code column to ids; unknown codes become problems. Returns Int64 ids."""
    # Codes are case-insensitive: stored upper-case by the trusts and suppliers imports.
    codes = clean_text(table[column]).str.upper()
    ids = codes.map({str(k).upper(): v for k, v in known.items()}).astype("Int64")
    problems.add(codes == "", column, f"missing {what} code")
    problems.add((codes != "") & ids.isna(), column, f"unknown {what} code")
    return ids


def category_ids(session: Session) -> pd.Series:
    """Category id by category code (lower case, as in the taxonomy)."""
    return groups_frame(session).drop_duplicates("category").set_index("category")["category_id"]


def _rows_where_in(session: Session, query, attr, values: list[str]) -> list[tuple]:
    """The rows of ``query`` restricted to those whose ``attr`` is one of ``values``.

    SQLite gets the values as one JSON array (json_each): rendering thousands of bound
    parameters cost more than the query itself. Elsewhere the values go in chunks.
    """
    if not values:
        return []
    if session.get_bind().dialect.name == "sqlite":
        listed = func.json_each(json.dumps(values)).table_valued("value")
        return [tuple(row) for row in core_execute(session, query.where(attr.in_(select(listed.c.value))))]
    return [
        tuple(row)
        for i in range(0, len(values), IN_CHUNK)
        for row in core_execute(session, query.where(attr.in_(values[i : i + IN_CHUNK])))
    ]


ITEM_ROWS: Select = select(  # (item_id, gtin, supplier_code, supplier) of every catalogue item
    col(CatalogueItem.id).label("item_id"),
    col(CatalogueItem.gtin),
    col(CatalogueItem.supplier_code),
    col(Supplier.code).label("supplier"),
).join(Supplier, col(Supplier.id) == col(CatalogueItem.supplier_id))


def item_rows_where(session: Session, column: str, values: Iterable[str]) -> list[tuple[int, str | None, str, str]]:
    """(item_id, gtin, supplier_code, supplier) of the catalogue items whose ``column`` is in ``values``.

    Only the items a file names are fetched (not every item of every supplier), in
    item id order, so that "the first item with this GTIN" is the oldest one. An
    empty value names nothing.
    """
    wanted = sorted(set(values) - {""})
    rows = _rows_where_in(session, ITEM_ROWS, getattr(CatalogueItem, column), wanted)
    return sorted(rows, key=operator.itemgetter(0))


def resolve_lines(session: Session, table: pd.DataFrame, problems: Problems) -> pd.DataFrame:
    """(table index, line_id) pairs for rows naming supplier + brand (+ optional group)."""
    lines = lines_frame(session)
    supplier = clean_text(table["supplier"])
    brand = slug(table["brand"])
    group = clean_text(table["group"]).str.upper()
    problems.add(supplier == "", "supplier", "missing supplier code")
    problems.add(
        (supplier != "") & ~supplier.isin(set(lines["supplier"]) | set(suppliers_by_code(session))),
        "supplier",
        "unknown supplier code",
    )
    problems.add(brand == "", "brand", "missing brand")
    problems.add((group != "") & ~group.isin(set(groups_frame(session)["group"])), "group", "unknown group code")
    keys = pd.DataFrame({"supplier": supplier, "brand_key": brand, "group": group, "index": table.index})
    lines = lines.assign(brand_key=slug(lines["brand"]))
    matched = keys.merge(
        lines[["line_id", "supplier", "brand_key", "group"]].rename(columns={"group": "line_group"}),
        on=["supplier", "brand_key"],
        how="inner",
    )
    matched = matched[(matched["group"] == "") | (matched["group"] == matched["line_group"])]
    none = ~table.index.isin(matched["index"]) & ~problems.bad()
    problems.add(
        pd.Series(none, index=table.index),
        "brand",
        "no product line of this supplier and brand (import its catalogue first)",
    )
    return matched[["index", "line_id"]]


# --------------------------------------------------------------------------- queries


def list_imports(engine: Engine) -> pd.DataFrame:
    """Every ``DataImport`` record, oldest first; ``reverted`` says when and by whom, if it was."""
    with Session(engine) as session:
        table = frame(session, select(*table_of(DataImport).columns).order_by(col(DataImport.id)))
        return with_reverts(session, table, "id")


def rejected_rows(engine: Engine, import_id: int) -> pd.DataFrame:
    """Row, column, value and reason of every rejected row of one import."""
    with Session(engine) as session:
        if session.get(DataImport, import_id) is None:
            raise UnknownReferenceError(f"no import #{import_id} (see `procure imports`)")
        return frame(
            session,
            select(
                col(RejectedRow.row_number).label("row"),
                col(RejectedRow.column),
                col(RejectedRow.value),
                col(RejectedRow.reason),
            )
            .where(col(RejectedRow.import_id) == import_id)
            .order_by(col(RejectedRow.row_number), col(RejectedRow.id)),
        )
