"""Trust usage exports: what each trust bought, matched to catalogue SKUs.

Items are matched by GTIN, else by (supplier, item code), else by an item code that
only one supplier uses. A file replaces the trust's earlier usage for the months it
spans, so a corrected export never double-counts.
"""

from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from catalogues.normalise import Parsed, clean_text, normalise_gtin, parse_date, parse_money, parse_quantity
from catalogues.read import ROW_COLUMN, TableSpec
from procurement.db import table_of
from procurement.importers.core import FileImporter, ImportReport, Problems, insert_rows, item_rows_where, owner_id
from procurement.importers.identity import TRUST_COLUMN_ALIASES, check_usage_owner
from procurement.importers.replaced import delete_keeping
from procurement.models import CatalogueItem, Supplier, Usage
from procurement.reference import trusts_by_code

INSERT_BATCH = 20_000  # rows per INSERT of a large file

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


class _UsageImport(FileImporter):
    kind = "usage"
    spec = USAGE_SPEC

    def __init__(self, *, trust: str, user: str | None, confirm_trust: bool = False):
        super().__init__(user=user)
        self.trust = trust.strip().upper()
        self.confirm_trust = confirm_trust

    def owner(self, session: Session) -> dict[str, int]:
        self.trust_id = owner_id(trusts_by_code(session), self.trust, "trust")
        return {"trust_id": self.trust_id}

    def check(self, session: Session, table: pd.DataFrame, problems: Problems, report: ImportReport) -> pd.DataFrame:
        quantity = parse_quantity(table["quantity"])
        price = parse_money(table["unit_price"], what="unit price")
        when = parse_date(table["date"])
        gtin = normalise_gtin(table["gtin"])
        for column, parsed in (("quantity", quantity), ("unit_price", price), ("date", when), ("gtin", gtin)):
            problems.add_parsed(column, parsed)
        usage = pd.DataFrame(
            {
                "item_id": _match_items(session, table, gtin, problems),
                "period": when.values,
                "quantity": quantity.values,
                "unit_price_paid": price.values,
                "source_row": table[ROW_COLUMN],
            }
        )
        check_usage_owner(
            session,
            trust=self.trust,
            trust_id=self.trust_id,
            sha=report.sha256,
            file=report.file,
            table=table,
            usage=usage[~problems.bad()],
            confirm_trust=self.confirm_trust,
        )
        return usage

    def store(
        self, session: Session, usage: pd.DataFrame, good: pd.Series, import_id: int, report: ImportReport
    ) -> None:
        usage = usage[good]
        rows = pd.DataFrame(
            {
                "trust_id": self.trust_id,
                "item_id": usage["item_id"].astype(int),
                "period": usage["period"],
                "quantity": usage["quantity"].astype(float),
                "unit_price_paid": usage["unit_price_paid"].astype(float),
                "import_id": import_id,
                "source_row": usage["source_row"].astype(int),
            }
        )
        if not len(rows):
            return
        # The months spanned, from the distinct dates (a file spans a few).
        dates = [pd.Timestamp(d) for d in pd.unique(rows["period"].to_numpy())]
        first = min(dates).to_period("M").start_time.date()
        last = max(dates).to_period("M").end_time.date()
        # Kept, not lost: reverting this import brings them back.
        replaced = delete_keeping(
            session,
            import_id,
            Usage,
            (col(Usage.trust_id) == self.trust_id) & (col(Usage.period) >= first) & (col(Usage.period) <= last),
        )
        if replaced:
            report.notes.append(f"replaced {replaced} earlier usage rows of {self.trust} from {first} to {last}")
        # Core inserts in batches: a year of a large trust's order lines is hundreds of
        # thousands of rows, and one list of ORM bulk-insert dicts held them all at once.
        for start in range(0, len(rows), INSERT_BATCH):
            insert_rows(session, table_of(Usage), rows.iloc[start : start + INSERT_BATCH])


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


def _match_items(session: Session, table: pd.DataFrame, gtin: Parsed, problems: Problems) -> pd.Series:
    """The catalogue item id of each row (Int64, missing where none); unmatched rows become problems.

    Looked up in dictionaries built from the items the file names (one query for its
    GTINs, one for its item codes when some rows need them), a row at a time in Python:
    the same matches as joining frames, without pandas' fixed cost per operation.
    """
    index = table.index
    gtins = gtin.values.to_numpy(dtype=object)
    has_gtin = gtin.values.notna().to_numpy(dtype=bool)
    by_gtin: dict[str, int] = {}
    for item_id, item_gtin, _, _ in item_rows_where(session, "gtin", set(gtins[has_gtin].tolist())):
        if item_gtin is not None:  # (found by its GTIN: it has one)
            by_gtin.setdefault(item_gtin, item_id)  # id order: the oldest item with the GTIN
    matched = [by_gtin.get(g) if has else None for g, has in zip(gtins.tolist(), has_gtin.tolist(), strict=True)]
    code = clean_text(table["item_code"]).tolist()
    supplier = clean_text(table["supplier"]).tolist()
    gtin_ok = (gtin.errors == "").to_numpy(dtype=bool).tolist()
    todo = [m is None and c != "" and ok for m, c, ok in zip(matched, code, gtin_ok, strict=True)]
    if any(todo):
        items = item_rows_where(session, "supplier_code", {c for c, t in zip(code, todo, strict=True) if t})
        pair: dict[tuple[str, str], int] = {}
        users: dict[str, set[int]] = {}
        first: dict[str, int] = {}
        for item_id, _, item_code, item_supplier in items:
            pair.setdefault((item_supplier, item_code), item_id)
            users.setdefault(item_code, set()).add(item_id)
            first.setdefault(item_code, item_id)
        ambiguous = []
        unknown_supplier = []
        catalogued = set(
            session.scalars(
                select(col(Supplier.code)).where(
                    select(col(CatalogueItem.id)).where(col(CatalogueItem.supplier_id) == col(Supplier.id)).exists()
                )
            )
        )
        for i, (c, sup, t) in enumerate(zip(code, supplier, todo, strict=True)):
            if not t:
                continue
            if sup:
                matched[i] = pair.get((sup, c))
                if matched[i] is None and sup not in catalogued:
                    unknown_supplier.append(i)
            else:  # an item code only one supplier uses (the same item under several ids counts once)
                n_items = len(users.get(c, ()))
                matched[i] = first[c] if n_items == 1 else None
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
