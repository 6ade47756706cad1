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
from sqlmodel import Session, col

from procurement.demand import usage_month
from procurement.errors import ProcureError, UnknownReferenceError
from procurement.models import Trust, Usage
from procurement.reference import frame, groups_frame, items_frame, lines_frame

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
    month = usage_month(session)
    usage = frame(
        session,
        select(
            col(Trust.code).label("trust"),
            col(Usage.item_id),
            month.label("month"),
            func.sum(Usage.quantity).label("units"),
            func.sum(Usage.quantity * Usage.unit_price_paid).label("spend"),
        )
        .join(Trust, col(Trust.id) == col(Usage.trust_id))
        .group_by("trust", col(Usage.item_id), "month"),
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
    items = items_frame(session)[["item_id", "supplier_code", "description", "line_id"]].rename(
        columns={"supplier_code": "sku"}
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


# --------------------------------------------------------------------------- opportunities

EFFORT_WEIGHTS = {
    "trusts_changing": 1.0,
    "clinicians": 0.5,
    "new_instrument_sets": 1.0,
    "contracts_locked": 2.0,
    "odep_exceptions": 2.0,
}
"""Effort points per item: a trust that changes lines, a clinician on record there for
the group, a new instrument set, a contract that cannot end within a year of the start
without an exit fee, an ODEP exception the target needs."""

CLASS_ORDER = {"quick win": 0, "big gain": 1, "low priority": 2}
OPPORTUNITY_COLUMNS = [
    "rank",
    "class",
    "category",
    "group",
    "savings_gbp",
    "effort",
    "price_harmonisation_gbp",
    "volume_tiers_gbp",
    "standardisation_gbp",
    *EFFORT_WEIGHTS,
    "units_moving",
    "target_lines",
    "reason",
]


def classify_portfolio(
    groups: pd.DataFrame, savings_threshold: float | None = None, effort_threshold: float | None = None
) -> pd.DataFrame:
    """Sort opportunities into quick wins, big gains and low priority, with the reason.

    ``groups`` has one row per opportunity with ``savings_gbp`` (annual) and ``effort``
    (points, see :data:`EFFORT_WEIGHTS`) and the effort counts. Savings are *high* at or
    above ``savings_threshold`` (default: the median over the opportunities) and above
    zero; effort is *low* at or below ``effort_threshold`` (default: the median).
    High savings and low effort is a quick win, high savings and high effort a big gain,
    anything else low priority. Ranked by class (quick wins first), then by savings
    per effort point within quick wins, and by savings within the others.
    """
    out = groups.copy()
    if out.empty:
        return out.assign(rank=pd.Series(dtype=int), **{"class": pd.Series(dtype=object)}, reason="")
    s_cut = out["savings_gbp"].median() if savings_threshold is None else savings_threshold
    e_cut = out["effort"].median() if effort_threshold is None else effort_threshold
    high = (out["savings_gbp"] >= s_cut) & (out["savings_gbp"] > 0)
    low_effort = out["effort"] <= e_cut
    out["class"] = "low priority"
    out.loc[high & low_effort, "class"] = "quick win"
    out.loc[high & ~low_effort, "class"] = "big gain"

    def plural(n: pd.Series, one: str, many: str) -> pd.Series:
        return n.astype(int).astype(str) + " " + n.eq(1).map({True: one, False: many})

    effort_words = (
        plural(out["trusts_changing"], "trust changes lines", "trusts change lines")
        + ", "
        + plural(out["new_instrument_sets"], "new instrument set", "new instrument sets")
        + ", "
        + plural(out["contracts_locked"], "contract locked beyond a year", "contracts locked beyond a year")
        + ", "
        + plural(out["odep_exceptions"], "ODEP exception", "ODEP exceptions")
    )
    savings_words = (
        "£" + out["savings_gbp"].map("{:,.0f}".format) + " a year, "
        + high.map({True: "at or above", False: "below"}) + f" the £{s_cut:,.0f} cut"
    )  # fmt: skip
    effort_level = low_effort.map({True: "low", False: "high"})
    out["reason"] = (
        savings_words + "; effort " + out["effort"].map("{:g}".format) + " (" + effort_level
        + f", cut {e_cut:g}): " + effort_words
    )  # fmt: skip
    value = out["savings_gbp"] / out["effort"].clip(lower=1.0)
    out["_order"] = out["class"].map(CLASS_ORDER)
    out["_key"] = -out["savings_gbp"].where(out["class"] != "quick win", value)
    out = out.sort_values(["_order", "_key", "group"]).drop(columns=["_order", "_key"])
    out["rank"] = range(1, len(out) + 1)
    return out.reset_index(drop=True)


def _per_group_targets(problem, usage: pd.DataFrame) -> pd.DataFrame:
    """Each (trust, group)'s best usable line under the per-group bound, with its figures.

    The bound relaxes everything that couples groups and trusts (range caps across
    trusts, supplier count and share rules, tier thresholds) and puts each trust's whole
    group demand D on the line l that saves most a year,
    :math:`D (b - p_l (1 - \\bar d_l))`, with b the trust's average price paid today and
    :math:`\\bar d_l` the deepest discount of the line's offer; one-off costs (switching,
    exit fees) are effort, not savings. A trust also keeps the option of staying on its
    lines at the region's best price (harmonisation). So the bound is at least the
    optimiser's full-year run rate in the group.
    """
    from solver.data import prepare

    full = prepare(problem)
    pairs = full.pairs
    deepest = full.tiers.groupby("offer")["discount"].max()
    discount = pairs["offer"].map(deepest).astype(float).fillna(0.0)
    tg = full.tg.set_index(["trust", "group"])
    paid = (tg["baseline"] / tg["demand"]).reindex(pd.MultiIndex.from_frame(pairs[["trust", "group"]])).to_numpy()
    options = pairs[["trust", "group", "category", "line", "demand", "is_new"]].assign(
        tiers=pairs["demand"] * pairs["price"] * discount,
        saving=pairs["demand"] * (paid - pairs["price"] * (1.0 - discount)),
    )
    best = options.sort_values(["trust", "group", "saving", "line"], ascending=[True, True, False, True])
    best = best.drop_duplicates(["trust", "group"])
    harmonisation = (
        usage.assign(h=usage["spend_per_year"] - usage["best_price_in_region"] * usage["units_per_year"])
        .groupby(["trust", "group"])["h"]
        .sum()
        .rename("harmonisation")
    )
    today = usage.set_index(["trust", "line"])["units_per_year"]
    best = best.join(harmonisation, on=["trust", "group"])
    best["harmonisation"] = best["harmonisation"].fillna(0.0).clip(lower=0.0)
    on_target = today.reindex(pd.MultiIndex.from_frame(best[["trust", "line"]])).fillna(0.0).to_numpy()
    best["units_moving"] = (best["demand"] - on_target).clip(lower=0.0)
    # staying put at the region's best price beats the best move: no line changes
    stay = best["harmonisation"] >= best["saving"]
    best["total"] = best["saving"].where(~stay, best["harmonisation"]).clip(lower=0.0)
    best.loc[stay, ["tiers", "units_moving"]] = 0.0
    best.loc[stay, "is_new"] = False
    best["harmonisation"] = best["harmonisation"].clip(upper=best["total"])
    best["tiers"] = best["tiers"].clip(upper=best["total"] - best["harmonisation"]).clip(lower=0.0)
    best["standardisation"] = best["total"] - best["harmonisation"] - best["tiers"]
    best["changing"] = best["units_moving"] > 1e-6
    best.loc[stay, "line"] = None
    return best


def opportunities(engine: Engine, *, scenario: str | None = None) -> dict:
    """The opportunity portfolio: per group (and per category) savings against effort.

    Savings potential per group (annual GBP) is the per-group bound of
    :func:`_per_group_targets` under the scenario's rules (``scenario``'s settings, or
    the defaults): split into price harmonisation (every trust paying the region's best
    price for the SKUs it buys), volume tiers (the discount on the target line) and
    standardisation (the rest: moving to a cheaper line). It bounds what the optimiser
    can find in that group from above. Effort counts, for the trusts that would change
    lines: the trusts, the clinicians on record for the group's lines there, the new
    instrument sets (target lines a trust does not use today), the contracts that
    cannot end within 12 months of the start without an exit fee, and the ODEP
    exceptions the targets need; weighted by :data:`EFFORT_WEIGHTS`. The groups are
    then classified by :func:`classify_portfolio`.

    Returns ``{"scenario", "groups", "categories", "thresholds", "totals"}``.
    """
    from procurement.models import Approval, ClinicalRating, ProductLine
    from procurement.ratings import odep_rank
    from procurement.scenarios import ScenarioSettings, build_problem

    with Session(engine) as session:
        if scenario is not None:
            from procurement.scenarios.manage import get_settings

            _, settings = get_settings(session, scenario)
        else:
            settings = ScenarioSettings()
        problem, context = build_problem(session, settings)
        clinicians = frame(
            session,
            select(col(Trust.code).label("trust"), col(Approval.clinician), col(ProductLine.code).label("line"))
            .join(Trust, col(Trust.id) == col(Approval.trust_id))
            .join(ProductLine, col(ProductLine.id) == col(Approval.product_line_id)),
        )
        ratings = frame(session, select(col(ClinicalRating.product_line_id).label("line_id"), col(ClinicalRating.rank)))
        groups_ref = groups_frame(session)
    targets = _per_group_targets(problem, context["usage"])

    changing = targets[targets["changing"]]
    lines = context["lines"].set_index("line")
    clinicians["group"] = clinicians["line"].map(lines["group"])
    seen = clinicians.merge(changing[["trust", "group"]], on=["trust", "group"])
    n_clinicians = seen.drop_duplicates(["trust", "group", "clinician"]).groupby("group").size()
    locked = problem.contracts[(problem.contracts["end_month"] > 12) & (problem.contracts["exit_fee"] > 0)]
    locked_pairs = changing.merge(locked[["trust", "category"]], on=["trust", "category"])
    floor = odep_rank(settings.odep_floor) if settings.odep_floor else None
    pairs = context["pairs"]
    rank = pairs["line_id"].map(ratings.groupby("line_id")["rank"].max()) if len(ratings) else pd.Series(dtype=float)
    odep_categories = set(groups_ref.loc[groups_ref["odep_applies"].astype(bool), "category"])
    below = pairs["category"].isin(odep_categories) & (rank.lt(floor) | rank.isna()) if floor else pairs["trust"].eq("")
    exceptions = pairs.loc[below & pairs["odep_exception"], ["trust", "line"]]
    needs_exception = changing.merge(exceptions, on=["trust", "line"])

    groups = targets.groupby(["category", "group"]).agg(
        savings_gbp=("total", "sum"),
        price_harmonisation_gbp=("harmonisation", "sum"),
        volume_tiers_gbp=("tiers", "sum"),
        standardisation_gbp=("standardisation", "sum"),
        units_moving=("units_moving", "sum"),
    )
    groups = groups.reset_index()
    count = {
        "trusts_changing": changing.groupby("group")["trust"].nunique(),
        "clinicians": n_clinicians,
        "new_instrument_sets": changing[changing["is_new"].astype(bool)].groupby("group").size(),
        "contracts_locked": locked_pairs.groupby("group").size(),
        "odep_exceptions": needs_exception.groupby("group").size(),
    }
    for name, series in count.items():
        groups[name] = groups["group"].map(series).fillna(0).astype(int)
    groups["effort"] = sum(groups[name] * weight for name, weight in EFFORT_WEIGHTS.items())
    target_lines = changing.groupby("group")["line"].agg(lambda s: ", ".join(sorted(set(s))))
    groups["target_lines"] = groups["group"].map(target_lines).fillna("")
    ranked = classify_portfolio(groups)[OPPORTUNITY_COLUMNS]

    categories = ranked.groupby("category").agg(
        savings_gbp=("savings_gbp", "sum"),
        effort=("effort", "sum"),
        groups=("group", "size"),
        quick_wins=("class", lambda c: int((c == "quick win").sum())),
        big_gains=("class", lambda c: int((c == "big gain").sum())),
        low_priority=("class", lambda c: int((c == "low priority").sum())),
    )
    categories = categories.sort_values("savings_gbp", ascending=False).reset_index()
    categories["reason"] = (
        "£" + categories["savings_gbp"].map("{:,.0f}".format) + " a year over "
        + categories["groups"].astype(str) + " groups: " + categories["quick_wins"].astype(str)
        + " quick win(s), " + categories["big_gains"].astype(str) + " big gain(s), "
        + categories["low_priority"].astype(str) + " low priority"
    )  # fmt: skip
    return {
        "scenario": scenario,
        "source": "per-group bound (each trust on its best usable line at the deepest tier; see docs)",
        "groups": ranked,
        "categories": categories,
        "thresholds": {
            "savings_gbp": float(groups["savings_gbp"].median()),
            "effort": float(groups["effort"].median()),
        },
        "totals": {
            "savings_gbp": float(ranked["savings_gbp"].sum()),
            "quick_wins": int((ranked["class"] == "quick win").sum()),
            "big_gains": int((ranked["class"] == "big gain").sum()),
            "low_priority": int((ranked["class"] == "low priority").sum()),
        },
    }


__all__ = [
    "LEVELS",
    "BenchmarkError",
    "annual_usage_by_item",
    "benchmark",
    "benchmark_table",
    "classify_portfolio",
    "opportunities",
]
