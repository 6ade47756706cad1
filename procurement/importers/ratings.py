"""ODEP ratings per product line (supplier + brand [+ group]) or per SKU."""

from pathlib import Path

import pandas as pd
from sqlalchemy import insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from catalogues.normalise import clean_text
from catalogues.read import TableSpec
from procurement.importers.core import FileImporter, ImportReport, Problems, resolve_lines, sql_records
from procurement.importers.replaced import delete_keeping
from procurement.models import ClinicalRating
from procurement.ratings import parse_odep
from procurement.reference import items_frame

RATINGS_SPEC = TableSpec(
    "ratings",
    required=["supplier", "brand", "rating"],
    optional=["group", "item_code"],
    aliases={
        "rating": ["odep", "odep_rating"],
        "brand": ["product", "range", "brand_name"],
        "supplier": ["supplier_code"],
        "item_code": ["product_code", "sku"],
    },
)


class _RatingsImport(FileImporter):
    kind = "ratings"
    spec = RATINGS_SPEC

    def check(self, session: Session, table: pd.DataFrame, problems: Problems, report: ImportReport) -> pd.DataFrame:
        """One row per (file row, product line it names), with the SKU's id if it names one."""
        parsed = parse_odep(table["rating"])
        problems.add(parsed["error"] != "", "rating", parsed["error"])
        matched = resolve_lines(session, table, problems)
        code = clean_text(table["item_code"])
        items = items_frame(session)[["item_id", "line_id", "supplier_code"]]
        matched = matched.assign(item_code=code.loc[matched["index"]].to_numpy())
        with_item = matched[matched["item_code"] != ""].merge(
            items.rename(columns={"supplier_code": "item_code"}), on=["line_id", "item_code"], how="left"
        )
        missing_item = pd.Series(False, index=table.index)
        missing_item[with_item.loc[with_item["item_id"].isna(), "index"]] = True
        problems.add(missing_item, "item_code", "no SKU with this code in the named product line")
        matched = pd.concat([matched[matched["item_code"] == ""].assign(item_id=pd.NA), with_item], ignore_index=True)
        return matched.join(parsed[["rating", "years", "strength", "rank"]], on="index")

    def store(
        self, session: Session, rows: pd.DataFrame, good: pd.Series, import_id: int, report: ImportReport
    ) -> None:
        """A rating replaces earlier ratings of the same lines (or SKUs)."""
        rows = rows[rows["index"].map(good)]
        if not len(rows):
            return
        line_ids = [int(x) for x in rows.loc[rows["item_id"].isna(), "line_id"].unique()]
        item_ids = [int(x) for x in rows["item_id"].dropna().unique()]
        # Kept for a revert.
        delete_keeping(
            session,
            import_id,
            ClinicalRating,
            col(ClinicalRating.product_line_id).in_(line_ids) & col(ClinicalRating.item_id).is_(None),
        )
        if item_ids:
            delete_keeping(session, import_id, ClinicalRating, col(ClinicalRating.item_id).in_(item_ids))
        records = pd.DataFrame(
            {
                "product_line_id": rows["line_id"],
                "item_id": rows["item_id"],
                "scheme": "ODEP",
                "rating": rows["rating"],
                "years": rows["years"],
                "strength": rows["strength"],
                "rank": rows["rank"],
                "import_id": import_id,
            }
        )
        session.execute(
            insert(ClinicalRating), sql_records(records, ints=["product_line_id", "item_id", "years", "rank"])
        )


def import_ratings(engine: Engine, path: Path, *, user: str | None = None) -> ImportReport:
    """Import ODEP ratings per product line (supplier + brand [+ group]) or per SKU.

    A rating replaces earlier ratings of the same lines (or SKUs).
    """
    return _RatingsImport(user=user).run(engine, path)
