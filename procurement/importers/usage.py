"""Trust usage exports: what each trust bought, matched to catalogue SKUs.

Items are matched by GTIN, else by (supplier, item code), else by an item code that
only one supplier uses. A file replaces the trust's earlier usage for the months it
spans, so a corrected export never double-counts.
"""

from pathlib import Path

import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from catalogues.normalise import Parsed, clean_text, normalise_gtin, parse_date, parse_money, parse_quantity
from catalogues.read import ROW_COLUMN, TableSpec
from procurement.db import table_of
from procurement.importers.core import FileImporter, ImportReport, Problems, insert_rows, items_where, owner_id
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
        months = pd.to_datetime(rows["period"])
        first = months.min().to_period("M").start_time.date()
        last = months.max().to_period("M").end_time.date()
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
    result = pd.Series(pd.NA, index=table.index, dtype="Int64")
    has_gtin = gtin.values.notna()
    items = items_where(session, "gtin", gtin.values[has_gtin])
    by_gtin = items.dropna(subset=["gtin"]).drop_duplicates("gtin").set_index("gtin")["item_id"]
    result[has_gtin] = gtin.values[has_gtin].map(by_gtin).astype("Int64")
    code = clean_text(table["item_code"])
    supplier = clean_text(table["supplier"])
    todo = result.isna() & (code != "") & (gtin.errors == "")
    if todo.any():
        items = items_where(session, "supplier_code", code[todo])
        pair = items.drop_duplicates(["supplier", "supplier_code"]).set_index(["supplier", "supplier_code"])["item_id"]
        keyed = pd.MultiIndex.from_arrays([supplier[todo], code[todo]])
        with_supplier = todo & (supplier != "")
        result[todo] = pd.Series(pair.reindex(keyed).to_numpy(), index=todo[todo].index).astype("Int64")
        uses = items.groupby("supplier_code")["item_id"]
        unique_code = uses.first()[uses.nunique() == 1]
        no_supplier = todo & (supplier == "")
        result[no_supplier] = code[no_supplier].map(unique_code).astype("Int64")
        ambiguous = no_supplier & code.isin(uses.nunique()[uses.nunique() > 1].index)
        problems.add(ambiguous, "item_code", "item code used by more than one supplier: add a supplier column")
        # Suppliers with a catalogue: an item code under any other supplier is unknown.
        catalogued = set(
            session.scalars(
                select(col(Supplier.code)).where(
                    select(col(CatalogueItem.id)).where(col(CatalogueItem.supplier_id) == col(Supplier.id)).exists()
                )
            )
        )
        problems.add(
            with_supplier & result.isna() & ~supplier.isin(catalogued),
            "supplier",
            "unknown supplier code",
        )
    unmatched = result.isna() & ~problems.bad()
    on_gtin = unmatched & (gtin.values.notna()) & (code == "")
    problems.add(on_gtin, "gtin", "unknown item: GTIN not in any imported catalogue")
    problems.add(unmatched & ~on_gtin & (code != ""), "item_code", "unknown item: code not in any imported catalogue")
    problems.add(unmatched & (code == "") & gtin.values.isna(), "item_code", "missing item code or GTIN")
    return result
