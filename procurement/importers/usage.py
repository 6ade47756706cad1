"""Trust usage exports: what each trust bought, matched to catalogue SKUs.

Items are matched by GTIN, else by (supplier, item code), else by an item code that
only one supplier uses. A file replaces the trust's earlier usage for the months it
spans, so a corrected export never double-counts.
"""

import calendar
import datetime as dt
import functools
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from sqlalchemy import Date, bindparam, func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from catalogues.normalise import Parsed, clean_text, normalise_gtin, parse_date, parse_money, parse_quantity
from catalogues.read import ROW_COLUMN, TableSpec
from procurement.db import table_of
from procurement.importers.ahead import import_in_order
from procurement.importers.core import (
    ITEM_ROWS,
    FileImporter,
    ImportReport,
    Problems,
    insert_columns,
    iso_dates,
    item_rows_where,
    owner_id,
    read_bytes,
    read_rows,
)
from procurement.importers.identity import (
    TRUST_COLUMN_ALIASES,
    check_usage_lines,
    check_usage_owner,
    other_trusts_named,
)
from procurement.importers.replaced import delete_keeping
from procurement.models import CatalogueItem, DataImport, ImportRevert, Supplier, Trust, Usage
from procurement.reference import core_execute, trusts_by_code

USAGE_SPEC = TableSpec(
    "usage",
    required=["quantity", "unit_price", "date"],
    optional=["gtin", "item_code", "supplier", "trust"],
    one_of=[("gtin", "item_code")],
    aliases={
        "gtin": ["barcode", "ean", "gtin14", "gtin13"],
        "item_code": [
            "product_code",
            "catalogue_number",
            "catalogue_no",
            "cat_no",
            "supplier_product_code",
            "supplier_code",
            "item",
        ],
        "supplier": ["supplier_code", "supplier_name_code", "vendor", "vendor_code"],
        "quantity": ["qty", "units", "quantity_ordered"],
        "unit_price": ["unit_cost", "price_paid", "price", "unit_price_paid", "net_unit_price"],
        "date": ["order_date", "period", "month", "invoice_date", "date_ordered"],
        "trust": TRUST_COLUMN_ALIASES,  # checked against --trust (procurement.importers.identity)
    },
)


@dataclass(frozen=True)
class UsageFile:
    """One trust's usage export for ``import_usage_files``: as ``import_usage``'s arguments."""

    path: Path
    trust: str
    confirm_trust: bool = False


class _Cells(NamedTuple):
    """A usage file's cells parsed (no database needed): what ``check`` reads them as."""

    quantity: Parsed
    price: Parsed
    when: Parsed
    gtin: Parsed


@dataclass
class _Rows:
    """A file's usable rows as stored: plain lists in ``Usage``'s columns, dates as ISO text (no
    database needed to make them, so a worker of ``import_usage_files`` makes them too)."""

    item_id: list[int]
    period: list[str]
    quantity: list[float]
    unit_price_paid: list[float]
    source_row: list[int]
    units: pd.Series  # units bought per item id
    dates: tuple[str, str] = ("", "")  # the earliest and the latest (ISO text sorts as the dates)

    @property
    def n(self) -> int:
        return len(self.item_id)

    def columns(self) -> dict[str, list]:
        return {
            "item_id": self.item_id,
            "period": self.period,
            "quantity": self.quantity,
            "unit_price_paid": self.unit_price_paid,
            "source_row": self.source_row,
        }

    @property
    def earliest(self) -> dt.date:
        return dt.date.fromisoformat(self.dates[0])

    @property
    def months(self) -> tuple[dt.date, dt.date]:
        """The first day of the first month and the last day of the last month the rows span."""
        first, last = dt.date.fromisoformat(self.dates[0]), dt.date.fromisoformat(self.dates[1])
        return first.replace(day=1), last.replace(day=calendar.monthrange(last.year, last.month)[1])


def _rows_to_store(table: pd.DataFrame, cells: _Cells, item_ids: pd.Series, problems: Problems) -> _Rows:
    """The rows without problems (``problems`` complete), as ``_Rows``."""
    good = ~problems.bad().to_numpy(dtype=bool)
    item_id = item_ids.to_numpy(dtype=np.int64, na_value=0)[good]
    quantity = cells.quantity.values.to_numpy(dtype=float)[good]
    period = iso_dates(cells.when.values[good]).tolist()
    return _Rows(
        item_id=item_id.tolist(),
        period=period,
        quantity=quantity.tolist(),
        unit_price_paid=cells.price.values.to_numpy(dtype=float)[good].tolist(),
        source_row=table[ROW_COLUMN].to_numpy(dtype=np.int64)[good].tolist(),
        units=pd.Series(quantity, dtype=float).groupby(item_id).sum(),
        dates=(min(period), max(period)) if period else ("", ""),
    )


@dataclass
class _Prepared:
    """A usage file read, parsed and matched ahead, in a worker process (``import_usage_files``),
    for the file as it was when its bytes hashed to ``sha256`` and the catalogues as they were
    at ``generation``."""

    sha256: str
    problems: Problems  # all of them, ``thinned``: its ``table`` holds the row numbers alone
    rows: _Rows  # its usable rows
    trusts_named: dict[str, int]  # the file's trust column: rows naming another trust
    generation: tuple

    def __getstate__(self) -> dict:
        # Sent between processes as a few arrays: pickling the rows one object at a time cost
        # as much as making them, in the receiving process.
        rows = self.rows
        return self.__dict__ | {"rows": (rows.units, rows.dates, [np.asarray(v) for v in rows.columns().values()])}

    def __setstate__(self, state: dict) -> None:
        units, dates, columns = state["rows"]
        item_id, period, quantity, price, source_row = (c.tolist() for c in columns)
        self.__dict__.update(state | {"rows": _Rows(item_id, period, quantity, price, source_row, units, dates)})


class _UsageImport(FileImporter):
    kind = "usage"
    spec = USAGE_SPEC

    def __init__(self, *, trust: str, user: str | None, confirm_trust: bool = False, prepared: _Prepared | None = None):
        super().__init__(user=user)
        self.trust = trust.strip().upper()
        self.confirm_trust = confirm_trust
        # Used only if the file still hashes the same (``rows_of``) and the catalogues are as
        # they were when its items were matched (``check``).
        self.prepared = prepared

    def owner(self, session: Session) -> dict[str, int]:
        # The one trust looked up (a region's trusts listed only to say which are known).
        found = core_execute(session, _TRUST_ID, {"code": self.trust}).scalar()
        self.trust_id = found if found is not None else owner_id(trusts_by_code(session), self.trust, "trust")
        return {"trust_id": self.trust_id}

    def rows_of(self, path: Path, sha: str) -> pd.DataFrame | None:
        self.path = path  # (read again by check if the catalogues changed since it was read ahead)
        if self.prepared is not None and self.prepared.sha256 != sha:
            self.prepared = None  # the file changed since it was read ahead: read it again
        if self.prepared is not None:
            return self.prepared.problems.table
        return super().rows_of(path, sha)

    def problems_of(self, table: pd.DataFrame) -> Problems:
        if self.prepared is not None:
            return self.prepared.problems  # those found ahead (parsing and matching)
        return super().problems_of(table)

    def check(self, session: Session, table: pd.DataFrame, problems: Problems, report: ImportReport) -> _Rows:
        if self.prepared is not None and self.prepared.generation != catalogue_generation(session):
            # Catalogues imported or reverted since the items were read: read the file again
            # (what was sent holds the row numbers alone), parse and match.
            problems.reset(read_rows(self.path, USAGE_SPEC))
            self.prepared = None
        if self.prepared is not None:
            rows, trusts_named = self.prepared.rows, self.prepared.trusts_named
        else:
            table = problems.table
            rows, trusts_named = _checked(
                table, problems, self.trust, lambda gtin: _match_items(session, table, gtin, problems)
            )
        check_usage_owner(
            session,
            trust=self.trust,
            trust_id=self.trust_id,
            sha=report.sha256,
            file=report.file,
            trusts_named=trusts_named,
        )
        return rows

    def store(self, session: Session, rows: _Rows, good: pd.Series, import_id: int, report: ImportReport) -> None:
        # (``rows`` are the good rows already: check made them once the problems were all found.)
        if not rows.n:
            return
        first, last = rows.months
        # Kept, not lost: reverting this import brings them back.
        replaced = delete_keeping(
            session, import_id, Usage, _TRUSTS_MONTHS, {"trust_id": self.trust_id, "first": first, "last": last}
        )
        if replaced:
            report.notes.append(f"replaced {replaced} earlier usage rows of {self.trust} from {first} to {last}")
        columns = {"trust_id": self.trust_id, **rows.columns(), "import_id": import_id}
        insert_columns(session, table_of(Usage), columns, rows.n)
        # Rules 3 and 4 of procurement.importers.identity, on the rows as stored (a refusal rolls them back).
        check_usage_lines(
            session,
            trust=self.trust,
            file=report.file,
            import_id=import_id,
            rows=rows.n,
            earliest=rows.earliest,
            units=rows.units,
            confirm_trust=self.confirm_trust,
        )


def import_usage(
    engine: Engine, path: Path, *, trust: str, user: str | None = None, confirm_trust: bool = False
) -> ImportReport:
    """Import a trust's usage export (see docs/formats.md).

    Items are matched by GTIN, else by (supplier, item code), else by an item code
    that only one supplier uses. The file replaces the trust's earlier usage for the
    months it spans, so a corrected export never double-counts. A file that belongs to
    another trust is refused (``procurement.importers.identity``; ``confirm_trust``
    skips only its item-mix rule).
    """
    return _UsageImport(trust=trust, user=user, confirm_trust=confirm_trust).run(engine, path)


def _parse_cells(table: pd.DataFrame, problems: Problems) -> _Cells:
    """Quantity, unit price, date and GTIN of every row; each unusable value into ``problems``."""
    cells = _Cells(
        quantity=parse_quantity(table["quantity"]),
        price=parse_money(table["unit_price"], what="unit price"),
        when=parse_date(table["date"]),
        gtin=normalise_gtin(table["gtin"]),
    )
    for column, parsed in zip(("quantity", "unit_price", "date", "gtin"), cells, strict=True):
        problems.add_parsed(column, parsed)
    return cells


def _checked(
    table: pd.DataFrame, problems: Problems, trust: str, match: Callable[[Parsed], pd.Series]
) -> tuple[_Rows, dict[str, int]]:
    """What the database-free checks of a file give: its usable rows (cells parsed, items
    matched by ``match`` from the parsed GTINs) and its trust column's rows naming another
    trust; each problem into ``problems``."""
    cells = _parse_cells(table, problems)
    rows = _rows_to_store(table, cells, match(cells.gtin), problems)
    return rows, other_trusts_named(table["trust"], trust) if "trust" in table else {}


_worker_items: "_Items | None" = None  # every catalogue item, in a worker of import_usage_files


def _start_worker(items: "_Items") -> None:
    global _worker_items
    _worker_items = items


def _prepare(f: UsageFile, items: "_Items | None" = None) -> _Prepared:
    """Read, parse and match one file (``import_usage_files``) against ``items`` (the worker's, by
    default); in a worker or in the importing process; raises as the import's reading would."""
    items = items if items is not None else _worker_items
    assert items is not None, "a worker of import_usage_files (or the caller) holds the items"
    path = Path(f.path)
    _, sha = read_bytes(path)
    table = read_rows(path, USAGE_SPEC)
    problems = Problems(table, table.attrs.get("headings", {}))
    rows, trusts_named = _checked(
        table, problems, f.trust.strip().upper(), lambda gtin: _match_with(items, table, gtin, problems)
    )
    return _Prepared(sha, problems.thinned(), rows, trusts_named, items.generation)


def import_usage_files(
    engine: Engine,
    files: Iterable[UsageFile],
    *,
    user: str | None = None,
    workers: int = 1,
    on_report: Callable[[ImportReport], None] | None = None,
) -> list[ImportReport]:
    """Import several trusts' usage exports, in order, each exactly as ``import_usage`` would.

    One transaction per file, in the order given (the same ids, replacements and refusals
    as importing them one by one); the first file that raises stops the run, the files
    before it staying imported. Meanwhile ``workers`` worker processes read, parse and
    match the next files (``procurement.importers.ahead``), so that on several cores a
    file is prepared while this process checks and stores the one before; the items are
    matched against the catalogues as they were when the run began, and a file whose
    import finds them changed is matched again. ``workers=0`` reads every file here.
    ``on_report`` receives each file's report as soon as it is imported.
    """

    files = list(files)

    def import_one(f: UsageFile, prepared: _Prepared | None) -> ImportReport:
        importer = _UsageImport(trust=f.trust, user=user, confirm_trust=f.confirm_trust, prepared=prepared)
        return importer.run(engine, Path(f.path))

    if workers < 1 or len(files) < 2:
        return import_in_order(files, prepare=_prepare, import_one=import_one, workers=0, on_report=on_report)
    # The workers match items too, against every catalogue item as of now; an import checks
    # that the catalogues are still as they were (``catalogue_generation``), else matches again.
    with Session(engine) as session:
        items = _Items.every(session)
    return import_in_order(
        files,
        prepare=_prepare,
        prepare_here=functools.partial(_prepare, items=items),
        import_one=import_one,
        workers=workers,
        initializer=_start_worker,
        initargs=(items,),
        on_report=on_report,
    )


@dataclass
class _Items:
    """The catalogue items usage rows are matched to, as look-ups (each in item id order).

    ``by_gtin``: the oldest item with each GTIN; ``pair``: the oldest item of each
    (supplier code, item code); ``users``: the items bearing each item code; ``first``:
    the oldest of them; ``catalogued``: the suppliers that have items. Either the items a
    file names (``_match_items``) or every item (``_Items.every``, for read-ahead), which
    give a file the same matches.
    """

    by_gtin: dict[str, int]
    pair: dict[tuple[str, str], int]
    users: dict[str, set[int]]
    first: dict[str, int]
    catalogued: set[str]
    generation: tuple = ()  # ``catalogue_generation`` when built (``every`` only)

    @classmethod
    def of_rows(cls, by_gtin_rows: list, by_code_rows: list, catalogued: set[str], generation: tuple = ()) -> "_Items":
        """From ``item_rows_where``'s rows (item id order): those looked up by GTIN and by code."""
        items = cls({}, {}, {}, {}, catalogued, generation)
        for item_id, item_gtin, _, _ in by_gtin_rows:
            if item_gtin is not None:  # (found by its GTIN: it has one)
                items.by_gtin.setdefault(item_gtin, item_id)  # id order: the oldest item with the GTIN
        for item_id, _, item_code, item_supplier in by_code_rows:
            items.pair.setdefault((item_supplier, item_code), item_id)
            items.users.setdefault(item_code, set()).add(item_id)
            items.first.setdefault(item_code, item_id)
        return items

    @classmethod
    def every(cls, session: Session) -> "_Items":
        """Every catalogue item, with the catalogue's generation (one query each)."""
        session.flush()  # (as core_execute)
        # On the DB-API cursor: SQLAlchemy's processing of each of a national catalogue's rows
        # cost more than the query (the statement binds nothing).
        cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(str(ITEM_ROWS.compile(dialect=session.get_bind().dialect)))
            rows = sorted(cursor.fetchall(), key=operator.itemgetter(0))
        finally:
            cursor.close()
        return cls.of_rows(rows, rows, _catalogued(session), catalogue_generation(session))


def catalogue_generation(session: Session) -> tuple:
    """Changes whenever the catalogue items or supplier codes may have: the latest catalogue or
    suppliers import and the latest revert (items and supplier codes change only through these)."""
    return tuple(core_execute(session, _GENERATION).one())


_TRUSTS_MONTHS = (  # a trust's usage rows between two dates (built once)
    (col(Usage.trust_id) == bindparam("trust_id"))
    & (col(Usage.period) >= bindparam("first", type_=Date))
    & (col(Usage.period) <= bindparam("last", type_=Date))
)
_TRUST_ID = select(col(Trust.id)).where(col(Trust.code) == bindparam("code"))
_GENERATION = select(
    select(func.max(col(DataImport.id))).where(col(DataImport.kind).in_(["catalogue", "suppliers"])).scalar_subquery(),
    select(func.max(col(ImportRevert.id))).scalar_subquery(),
)


def _catalogued(session: Session) -> set[str]:
    """The codes of the suppliers that have catalogue items."""
    return set(
        session.scalars(
            select(col(Supplier.code)).where(
                select(col(CatalogueItem.id)).where(col(CatalogueItem.supplier_id) == col(Supplier.id)).exists()
            )
        )
    )


def _match_items(session: Session, table: pd.DataFrame, gtin: Parsed, problems: Problems) -> pd.Series:
    """``_match_with`` the items the file names, looked up in the database (one query for its
    GTINs, one for its item codes when some rows need them)."""
    gtins = gtin.values.to_numpy(dtype=object)
    has_gtin = gtin.values.notna().to_numpy(dtype=bool)
    by_gtin = item_rows_where(session, "gtin", set(gtins[has_gtin].tolist()))
    found = {row[1] for row in by_gtin if row[1] is not None}
    # The codes of the rows whose GTIN (if any) is valid and was not found.
    code = clean_text(table["item_code"]).to_numpy(dtype=object)
    gtin_ok = (gtin.errors == "").to_numpy(dtype=bool)
    unfound = np.array([g not in found for g in gtins.tolist()], dtype=bool) | ~has_gtin
    codes = set(code[unfound & gtin_ok].tolist()) - {""}
    if not codes:
        return _match_with(_Items.of_rows(by_gtin, [], set()), table, gtin, problems)
    items = _Items.of_rows(by_gtin, item_rows_where(session, "supplier_code", codes), _catalogued(session))
    return _match_with(items, table, gtin, problems)


def _match_with(items: _Items, table: pd.DataFrame, gtin: Parsed, problems: Problems) -> pd.Series:
    """The catalogue item id of each row (Int64, missing where none); unmatched rows become problems.

    Items are matched by GTIN, else by (supplier, item code), else by an item code that
    only one supplier uses, a row at a time in Python over dictionaries: the same matches
    as joining frames, without pandas' fixed cost per operation. ``items`` must hold at
    least the items the file names (the file's GTINs; the codes of the rows not matched by
    GTIN).
    """
    index = table.index
    gtins = gtin.values.to_numpy(dtype=object)
    has_gtin = gtin.values.notna().to_numpy(dtype=bool)
    by_gtin = items.by_gtin
    matched = [by_gtin.get(g) if has else None for g, has in zip(gtins.tolist(), has_gtin.tolist(), strict=True)]
    code = clean_text(table["item_code"]).tolist()
    supplier = clean_text(table["supplier"]).tolist()
    gtin_ok = (gtin.errors == "").to_numpy(dtype=bool).tolist()
    todo = [m is None and c != "" and ok for m, c, ok in zip(matched, code, gtin_ok, strict=True)]
    if any(todo):
        ambiguous = []
        unknown_supplier = []
        for i, (c, sup, t) in enumerate(zip(code, supplier, todo, strict=True)):
            if not t:
                continue
            if sup:
                matched[i] = items.pair.get((sup, c))
                if matched[i] is None and sup not in items.catalogued:
                    unknown_supplier.append(i)
            else:  # an item code only one supplier uses (the same item under several ids counts once)
                n_items = len(items.users.get(c, ()))
                matched[i] = items.first[c] if n_items == 1 else None
                if n_items > 1:
                    ambiguous.append(i)
        problems.add(
            _at(index, ambiguous), "item_code", "item code used by more than one supplier: add a supplier column"
        )
        problems.add(_at(index, unknown_supplier), "supplier", "unknown supplier code")
    found = np.array([m is not None for m in matched], dtype=bool)
    result = pd.Series(
        pd.arrays.IntegerArray(np.array([0 if m is None else m for m in matched], dtype=np.int64), ~found), index=index
    )
    unmatched = ~found & ~problems.bad().to_numpy(dtype=bool)
    no_code = np.array([c == "" for c in code], dtype=bool)
    on_gtin = unmatched & has_gtin & no_code
    problems.add(pd.Series(on_gtin, index=index), "gtin", "unknown item: GTIN not in any imported catalogue")
    problems.add(
        pd.Series(unmatched & ~on_gtin & ~no_code, index=index),
        "item_code",
        "unknown item: code not in any imported catalogue",
    )
    problems.add(pd.Series(unmatched & no_code & ~has_gtin, index=index), "item_code", "missing item code or GTIN")
    return result


def _at(index: pd.Index, positions: list[int]) -> pd.Series:
    """A mask over ``index``: True at ``positions``."""
    mask = np.zeros(len(index), dtype=bool)
    mask[positions] = True
    return pd.Series(mask, index=index)
