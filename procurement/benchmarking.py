"""Price benchmarking: what each trust pays against its peers for the same product.

``benchmark(session, by="line")`` compares, for each product (a SKU, a product line or
an equivalence group), every trust's average price paid with the region's:

* ``price_paid`` of a trust: its annual spend on the product divided by its annual
  units (the quantity-weighted mean of the prices on its usage rows);
* ``best``, ``median`` and ``worst``: the lowest, median and highest ``price_paid``
  over the trusts that buy the product (each trust is one peer: the median is not
  weighted by volume; with an even number of trusts it is the mean of the middle two);
* ``premium_over_best_pct`` = 100 (price_paid / best - 1), and likewise over the median;
* ``saving_at_best_gbp`` = units_per_year x (price_paid - best): the annual saving if
  the trust paid the regional best; ``saving_at_median_gbp`` = units_per_year x
  max(price_paid - median, 0): a trust already below the median keeps its price.

A product's savings are the sums over its trusts; products are ranked by the saving at
the regional best. By SKU the comparison is like for like; by line or group a trust's
price is the average over its own mix of sizes (or brands), so part of a gap can be mix
rather than price: the SKU view says which.

Annual figures: a trust's usage is scaled by 12 / (months from its first to its last
usage month), as in :mod:`procurement.demand`.
"""

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from procurement.errors import ProcureError, UnknownReferenceError
from procurement.models import CatalogueItem, Trust, Usage
from procurement.reference import frame, lines_frame

LEVELS = ("sku", "line", "group")
KEY_COLUMNS = {
    "sku": ["sku", "description", "line", "group", "category"],
    "line": ["line", "supplier", "group", "category"],
    "group": ["group", "category"],
}
TRUST_COLUMNS = [
    "trust",
    "units_per_year",
    "spend_per_year",
    "price_paid",
    "best",
    "median",
    "worst",
    "premium_over_best_pct",
    "premium_over_median_pct",
    "saving_at_best_gbp",
    "saving_at_median_gbp",
]
PRODUCT_COLUMNS = [
    "trusts",
    "units_per_year",
    "spend_per_year",
    "best",
    "best_trust",
    "median",
    "worst",
    "worst_trust",
    "spread_pct",
    "saving_at_best_gbp",
    "saving_at_median_gbp",
]


class BenchmarkError(ProcureError):
    """A benchmark that cannot be computed as asked."""


def annual_usage_by_item(session: Session) -> pd.DataFrame:
    """Annual units and spend per (trust, SKU) with the SKU's line, group and category.

    Columns: trust, item_id, sku (supplier code), description, line, supplier, group,
    category, units_per_year, spend_per_year.
    """
    month = (
        func.strftime("%Y-%m", Usage.period)
        if session.get_bind().dialect.name == "sqlite"
        else func.to_char(Usage.period, "YYYY-MM")
    )
    usage = frame(
        session,
        select(
            Trust.code.label("trust"),
            Usage.item_id,
            month.label("month"),
            func.sum(Usage.quantity).label("units"),
            func.sum(Usage.quantity * Usage.unit_price_paid).label("spend"),
        )
        .join(Trust, Trust.id == Usage.trust_id)
        .group_by("trust", Usage.item_id, "month"),
    )
    columns = ["trust", "item_id", "sku", "description", "line", "supplier", "group", "category"]
    if usage.empty:
        return pd.DataFrame(columns=[*columns, "units_per_year", "spend_per_year"])
    stamp = pd.to_datetime(usage["month"], format="%Y-%m")
    usage["m"] = stamp.dt.year * 12 + stamp.dt.month
    span = usage.groupby("trust")["m"].agg(lambda m: m.max() - m.min() + 1).rename("months_covered")
    per_item = usage.groupby(["trust", "item_id"], as_index=False)[["units", "spend"]].sum().join(span, on="trust")
    factor = 12.0 / per_item["months_covered"]
    per_item["units_per_year"] = per_item["units"] * factor
    per_item["spend_per_year"] = per_item["spend"] * factor
    items = frame(
        session,
        select(
            CatalogueItem.id.label("item_id"),
            CatalogueItem.supplier_code.label("sku"),
            CatalogueItem.description,
            CatalogueItem.product_line_id.label("line_id"),
        ),
    )
    lines = lines_frame(session)[["line_id", "line", "supplier", "group", "category"]]
    items = items.merge(lines, on="line_id")
    # A supplier code is unique per supplier only: the SKU is named supplier/code.
    items["sku"] = items["supplier"] + "/" + items["sku"]
    out = per_item.merge(items, on="item_id")
    return out[[*columns, "units_per_year", "spend_per_year"]]


def benchmark_table(usage: pd.DataFrame, by: str = "line") -> tuple[pd.DataFrame, pd.DataFrame]:
    """The benchmark of ``usage`` (one row per trust and SKU, as from
    :func:`annual_usage_by_item`) at level ``by``; see the module docstring for the maths.

    Returns ``(products, trusts)``: one row per product (its key columns, then
    ``PRODUCT_COLUMNS``), ranked by ``saving_at_best_gbp`` (then spend); and one row
    per (product, trust) (the product's key, then ``TRUST_COLUMNS``), in the same
    product order, the dearest trust first.
    """
    if by not in LEVELS:
        raise BenchmarkError(f"--by must be one of {', '.join(LEVELS)}, not {by!r}")
    keys = KEY_COLUMNS[by]
    key = keys[0]
    if usage.empty:
        return pd.DataFrame(columns=[*keys, *PRODUCT_COLUMNS]), pd.DataFrame(columns=[*keys, *TRUST_COLUMNS])
    labels = usage.drop_duplicates(key).set_index(key)[keys[1:]]
    paid = usage.groupby([key, "trust"], as_index=False)[["units_per_year", "spend_per_year"]].sum()
    paid = paid[paid["units_per_year"] > 0]
    paid["price_paid"] = paid["spend_per_year"] / paid["units_per_year"]
    prices = paid.groupby(key)["price_paid"]
    paid["best"] = prices.transform("min")
    paid["median"] = prices.transform("median")
    paid["worst"] = prices.transform("max")
    paid["premium_over_best_pct"] = 100.0 * (paid["price_paid"] / paid["best"] - 1.0)
    paid["premium_over_median_pct"] = 100.0 * (paid["price_paid"] / paid["median"] - 1.0)
    paid["saving_at_best_gbp"] = paid["units_per_year"] * (paid["price_paid"] - paid["best"])
    paid["saving_at_median_gbp"] = paid["units_per_year"] * (paid["price_paid"] - paid["median"]).clip(lower=0.0)

    by_price = paid.sort_values([key, "price_paid", "trust"])
    products = paid.groupby(key).agg(
        trusts=("trust", "nunique"),
        units_per_year=("units_per_year", "sum"),
        spend_per_year=("spend_per_year", "sum"),
        best=("best", "first"),
        median=("median", "first"),
        worst=("worst", "first"),
        saving_at_best_gbp=("saving_at_best_gbp", "sum"),
        saving_at_median_gbp=("saving_at_median_gbp", "sum"),
    )
    products["best_trust"] = by_price.drop_duplicates(key, keep="first").set_index(key)["trust"]
    products["worst_trust"] = by_price.drop_duplicates(key, keep="last").set_index(key)["trust"]
    products["spread_pct"] = 100.0 * (products["worst"] / products["best"] - 1.0)
    products = products.join(labels).reset_index()
    products = products.sort_values(["saving_at_best_gbp", "spend_per_year", key], ascending=[False, False, True])
    products = products[[*keys, *PRODUCT_COLUMNS]].reset_index(drop=True)

    order = pd.Series(range(len(products)), index=products[key])
    trusts = paid.join(labels, on=key).assign(rank=lambda f: f[key].map(order))
    trusts = trusts.sort_values(["rank", "price_paid", "trust"], ascending=[True, False, True])
    return products, trusts[[*keys, *TRUST_COLUMNS]].reset_index(drop=True)


def benchmark(engine: Engine, *, by: str = "line", trust: str | None = None) -> dict:
    """Benchmark every product at level ``by`` over the region's usage (see module docstring).

    With ``trust``, the regional best, median and worst still come from every trust,
    but only that trust's rows and products are shown, and a product's units, spend
    and savings are that trust's own.

    Returns ``{"by", "trust", "products", "trusts", "totals"}``: the two frames of
    :func:`benchmark_table` and the total annual spend and savings.
    """
    if by not in LEVELS:
        raise BenchmarkError(f"--by must be one of {', '.join(LEVELS)}, not {by!r}")
    with Session(engine) as session:
        usage = annual_usage_by_item(session)
    if usage.empty:
        raise BenchmarkError("no trust usage imported: import usage before benchmarking")
    if trust is not None and trust not in set(usage["trust"]):
        raise UnknownReferenceError(
            f"trust {trust!r} has no usage imported (trusts with usage: {', '.join(sorted(set(usage['trust'])))})"
        )
    products, trusts = benchmark_table(usage, by)
    if trust is not None:
        key = KEY_COLUMNS[by][0]
        trusts = trusts[trusts["trust"] == trust].reset_index(drop=True)
        own = trusts.set_index(key)[["units_per_year", "spend_per_year", "saving_at_best_gbp", "saving_at_median_gbp"]]
        products = products[products[key].isin(own.index)].drop(columns=own.columns).join(own, on=key)
        products = products.sort_values(["saving_at_best_gbp", "spend_per_year"], ascending=False)
        products = products[[*KEY_COLUMNS[by], *PRODUCT_COLUMNS]].reset_index(drop=True)
    totals = {
        "products": len(products),
        "spend_per_year_gbp": float(products["spend_per_year"].sum()),
        "saving_at_best_gbp": float(products["saving_at_best_gbp"].sum()),
        "saving_at_median_gbp": float(products["saving_at_median_gbp"].sum()),
    }
    return {"by": by, "trust": trust, "products": products, "trusts": trusts, "totals": totals}


__all__ = ["LEVELS", "BenchmarkError", "annual_usage_by_item", "benchmark", "benchmark_table"]
