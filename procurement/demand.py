"""Demand aggregation: annual units and baseline spend per trust, group and product line.

Annualisation: a trust's usage covers the calendar months from its first to its last
usage month (inclusive); quantities and spend are scaled by ``12 / months covered``.
The baseline price of a (trust, line) is what the trust actually paid: spend divided
by units, i.e. the quantity-weighted mean of the unit prices on its usage rows.
"""

import datetime as dt

import pandas as pd
from sqlalchemy import Select, func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from procurement.models import CatalogueItem, Trust, Usage
from procurement.reference import codes, frame, join_codes, lines_frame

LINE_COLUMNS = [
    "trust",
    "category",
    "group",
    "line",
    "supplier",
    "brand",
    "units_per_year",
    "spend_per_year",
    "avg_unit_price",
    "best_price_in_region",
    "premium_pct",
]
GROUP_COLUMNS = [
    "trust",
    "category",
    "group",
    "units_per_year",
    "spend_per_year",
    "avg_unit_price",
    "lines_used",
]


def usage_rows(*extra) -> Select:
    """The stored usage rows by trust code: ``trust``, ``item_id``, ``period``, ``quantity``,
    ``unit_price_paid``, then the ``extra`` columns; narrow it with ``.where(...)``."""
    query = select(
        *codes("trust"),
        col(Usage.item_id),
        col(Usage.period),
        col(Usage.quantity),
        col(Usage.unit_price_paid),
        *extra,
    )
    return join_codes(query, {"trust": Usage.trust_id})


def usage_month(session: Session):
    """The SQL expression of a usage row's month as ``YYYY-MM``, in the database's dialect."""
    if session.get_bind().dialect.name == "sqlite":
        return func.strftime("%Y-%m", col(Usage.period))
    return func.to_char(col(Usage.period), "YYYY-MM")


def usage_by_line(session: Session, trusts: list[str] | None = None, before: dt.date | None = None) -> pd.DataFrame:
    """Annual units, spend and average price paid per (trust, product line).

    ``before``: only usage dated before that day (a scenario's baseline is what trusts
    bought before its agreement starts; usage after it is delivery, tracked by
    :mod:`procurement.tracking`).

    ``best_price_in_region`` is what this trust's own mix of SKUs of the line would cost
    per unit at the lowest price any trust in the region pays for each SKU, and
    ``premium_pct`` how much more the trust pays than that. Comparing SKU by SKU
    keeps a line whose SKUs differ in price (a lag screw and a barrel plate) honest.
    """
    month = usage_month(session)
    query = (
        select(
            col(Trust.code).label("trust"),
            col(Usage.item_id),
            col(CatalogueItem.product_line_id).label("line_id"),
            month.label("month"),
            func.sum(col(Usage.quantity)).label("units"),
            func.sum(Usage.quantity * Usage.unit_price_paid).label("spend"),
        )
        .join(Trust, col(Trust.id) == col(Usage.trust_id))
        .join(CatalogueItem, col(CatalogueItem.id) == col(Usage.item_id))
        .group_by("trust", col(Usage.item_id), "line_id", "month")
    )
    if before is not None:
        query = query.where(col(Usage.period) < before)
    usage = frame(session, query)
    if trusts:
        usage = usage[usage["trust"].isin(trusts)]
    if usage.empty:
        return pd.DataFrame(columns=LINE_COLUMNS)
    # Months as a running count (year * 12 + month); parsed with one vectorised
    # to_datetime: a PeriodIndex built from the strings parsed them one at a time.
    month = pd.to_datetime(usage["month"], format="%Y-%m")
    count = pd.DataFrame({"trust": usage["trust"], "m": month.dt.year * 12 + month.dt.month})
    bounds = count.groupby("trust")["m"].agg(["min", "max"])
    span = (bounds["max"] - bounds["min"] + 1).astype("int64").rename("months_covered")
    per_item = usage.groupby(["trust", "line_id", "item_id"], as_index=False)[["units", "spend"]].sum()
    best_item_price = (per_item["spend"] / per_item["units"]).groupby(per_item["item_id"]).transform("min")
    per_item["spend_at_best"] = per_item["units"] * best_item_price
    per_line = per_item.groupby(["trust", "line_id"], as_index=False)[["units", "spend", "spend_at_best"]].sum()
    per_line = per_line.join(span, on="trust")
    factor = 12.0 / per_line["months_covered"]
    per_line["units_per_year"] = per_line["units"] * factor
    per_line["spend_per_year"] = per_line["spend"] * factor
    per_line["avg_unit_price"] = per_line["spend"] / per_line["units"]
    per_line["best_price_in_region"] = per_line["spend_at_best"] / per_line["units"]
    per_line["premium_pct"] = 100.0 * (per_line["spend"] / per_line["spend_at_best"] - 1.0)
    lines = lines_frame(session)[["line_id", "line", "supplier", "brand", "group", "category"]]
    out = per_line.merge(lines, on="line_id")
    return out[LINE_COLUMNS].sort_values(["trust", "group", "line"]).reset_index(drop=True)


def best_paid_by_line(usage: pd.DataFrame) -> pd.Series:
    """The region's best price per line code: each trust's SKU mix of the line at the lowest
    price any trust pays for each SKU, weighted by units (from ``usage_by_line``)."""
    at_best = usage.assign(cost=usage["best_price_in_region"] * usage["units_per_year"])
    sums = at_best.groupby("line")[["cost", "units_per_year"]].sum()
    return (sums["cost"] / sums["units_per_year"]).rename("best_paid")


def demand_by_group(by_line: pd.DataFrame) -> pd.DataFrame:
    """Annual units and baseline spend per (trust, group), from ``usage_by_line``."""
    if by_line.empty:
        return pd.DataFrame(columns=GROUP_COLUMNS)
    out = by_line.groupby(["trust", "category", "group"], as_index=False).agg(
        units_per_year=("units_per_year", "sum"),
        spend_per_year=("spend_per_year", "sum"),
        lines_used=("line", "nunique"),
    )
    out["avg_unit_price"] = out["spend_per_year"] / out["units_per_year"]
    return out[GROUP_COLUMNS]


def regional_totals(by_group: pd.DataFrame) -> pd.DataFrame:
    """Units and spend per group over all trusts, with the spread of average prices."""
    if by_group.empty:
        return pd.DataFrame(
            columns=[
                "category",
                "group",
                "trusts",
                "units_per_year",
                "spend_per_year",
                "avg_unit_price",
                "min_trust_price",
                "max_trust_price",
            ]
        )
    out = by_group.groupby(["category", "group"], as_index=False).agg(
        trusts=("trust", "nunique"),
        units_per_year=("units_per_year", "sum"),
        spend_per_year=("spend_per_year", "sum"),
        min_trust_price=("avg_unit_price", "min"),
        max_trust_price=("avg_unit_price", "max"),
    )
    out["avg_unit_price"] = out["spend_per_year"] / out["units_per_year"]
    return out


def demand_report(engine: Engine, trusts: list[str] | None = None) -> dict[str, pd.DataFrame]:
    """``by_line``, ``by_group`` and ``regional`` frames for ``procure demand``."""
    with Session(engine) as session:
        by_line = usage_by_line(session, trusts)
    by_group = demand_by_group(by_line)
    return {"by_line": by_line, "by_group": by_group, "regional": regional_totals(by_group)}
