"""Supplier volume and spend tier offers (a file replaces the offers of the suppliers it lists).

An offer is a supplier's ladder of tiers over one scope (a category or a group) and one
basis (units or spend): a discount from each threshold up. Its tiers only make sense
together, so a problem in any tier rejects the whole offer.
"""

from pathlib import Path

import pandas as pd
from sqlalchemy import insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from catalogues.classify import Taxonomy
from catalogues.normalise import clean_text, parse_money
from catalogues.read import ROW_COLUMN, TableSpec
from procurement.importers.core import (
    FileImporter,
    ImportReport,
    Problems,
    category_ids,
    lookup_codes,
    sql_records,
    without_percent,
)
from procurement.importers.replaced import delete_keeping
from procurement.models import VolumeTier
from procurement.reference import groups_frame, suppliers_by_code

TIERS_SPEC = TableSpec(
    "tiers",
    required=["supplier", "offer", "scope", "basis", "threshold", "discount_pct"],
    aliases={
        "supplier": ["supplier_code"],
        "offer": ["offer_code", "offer_id"],
        "scope": ["lot", "applies_to"],
        "discount_pct": ["discount", "discount_percent"],
        "threshold": ["volume", "from"],
    },
)


class _TiersImport(FileImporter):
    kind = "tiers"
    spec = TIERS_SPEC
    uses_taxonomy = True

    def check(self, session: Session, table: pd.DataFrame, problems: Problems, report: ImportReport) -> pd.DataFrame:
        supplier_id = lookup_codes(problems, table, "supplier", suppliers_by_code(session), "supplier")
        offer = clean_text(table["offer"])
        problems.add(offer == "", "offer", "missing offer code")
        scope = clean_text(table["scope"])
        category_id = scope.str.lower().map(category_ids(session))
        group_id = scope.str.upper().map(groups_frame(session).set_index("group")["group_id"])
        problems.add(category_id.isna() & group_id.isna(), "scope", "scope is neither a category nor a group code")
        basis = clean_text(table["basis"]).str.lower()
        problems.add(~basis.isin(["units", "spend"]), "basis", 'basis must be "units" or "spend"')
        threshold = parse_money(table["threshold"], maximum=1e10, what="threshold", money=False)
        problems.add_parsed("threshold", threshold)
        discount = parse_money(
            without_percent(table["discount_pct"]), allow_zero=True, maximum=99.99, what="discount", money=False
        )
        problems.add_parsed("discount_pct", discount)
        tiers = pd.DataFrame(
            {
                "supplier_id": supplier_id,
                "offer": offer,
                "scope": scope,
                "basis": basis,
                "threshold": threshold.values,
                "discount": discount.values,
                "row": table[ROW_COLUMN],
            }
        )
        # astype("string") + fillna: an unknown supplier (NA) must still give a key; pandas 3's
        # astype(str) keeps NA as NaN, and groupby dropped those rows (or, if all, crashed).
        key = tiers["supplier_id"].astype("string").fillna("?") + "/" + tiers["offer"]
        _reject_broken_offers(tiers, key, problems)
        return pd.DataFrame(
            {
                "supplier_id": supplier_id,
                "offer_code": offer,
                "category_id": category_id.where(group_id.isna()),
                "group_id": group_id,
                "basis": basis,
                "threshold": threshold.values,
                "discount_pct": discount.values,
                "offer_key": key,
            }
        )

    def store(
        self, session: Session, rows: pd.DataFrame, good: pd.Series, import_id: int, report: ImportReport
    ) -> None:
        # An offer is stored only if none of its rows was rejected.
        rows = rows[~rows["offer_key"].isin(set(rows.loc[~good, "offer_key"]))]
        if not len(rows):
            return
        delete_keeping(  # kept for a revert
            session,
            import_id,
            VolumeTier,
            col(VolumeTier.supplier_id).in_([int(s) for s in rows["supplier_id"].unique()]),
        )
        rows = rows.drop(columns="offer_key").assign(import_id=import_id)
        session.execute(insert(VolumeTier), sql_records(rows, ints=["supplier_id", "category_id", "group_id"]))


def _reject_broken_offers(tiers: pd.DataFrame, key: pd.Series, problems: Problems) -> None:
    """Reject every row of an offer that breaks an offer-level rule or has a rejected row.

    Offer-level rules: one scope and basis per offer; thresholds strictly increasing and
    discounts non-decreasing in threshold order. Then a row problem rejects the rest of
    its offer too: its tiers only make sense together, and a row counted as accepted
    must be stored.
    """
    ordered = tiers.assign(key=key).sort_values(["key", "threshold"], kind="stable")
    same_threshold = ordered.duplicated(["key", "threshold"], keep=False) & ordered["threshold"].notna()
    falling = ordered.groupby("key")["discount"].diff() < 0
    mixed = ordered.groupby("key")[["scope", "basis"]].transform("nunique").max(axis=1) > 1
    bad_offer_reason = pd.Series("", index=ordered.index, dtype="object")
    bad_offer_reason[mixed] = "tiers of one offer must share scope and basis"
    bad_offer_reason[same_threshold] = "two tiers of the offer have the same threshold"
    bad_offer_reason[falling] = "discount falls as the threshold rises (tiers must increase)"
    first_offence = bad_offer_reason[bad_offer_reason != ""].groupby(ordered["key"]).first()
    offer_reason = key.map(first_offence).astype(object)
    offer_reason = offer_reason.where(offer_reason.notna(), "")
    problems.add((offer_reason != "") & ~problems.bad(), "offer", "offer rejected: " + offer_reason)
    bad_now = problems.bad()
    first_bad_row = tiers.loc[bad_now, "row"].groupby(key[bad_now]).min()
    spoiled = key.isin(first_bad_row.index) & ~bad_now
    problems.add(
        spoiled,
        "offer",
        "offer rejected: its tier on row " + key.map(first_bad_row).astype("Int64").astype("string") + " was rejected",
    )


def import_tiers(
    engine: Engine, path: Path, *, user: str | None = None, taxonomy: Taxonomy | None = None
) -> ImportReport:
    """Import volume/spend tier offers; replaces the offers of the suppliers it lists.

    A tier problem rejects the whole offer (its tiers only make sense together).
    """
    return _TiersImport(user=user, taxonomy=taxonomy).run(engine, path)
