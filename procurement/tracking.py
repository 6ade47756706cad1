"""After the award: realised savings and contract compliance against a run's plan, month by month.

Why one module of about 680 lines: the notation and the causes defined below are what
the code computes, cell by cell, and they add up exactly only if read together; the
workbook is elsewhere (:mod:`procurement.export.tracking`).

A stored run is the plan: its allocation (``RunAllocation``: annual units per trust and
line at the agreement's net price), its regional range (``RunLine``), the tier each
supplier offer was planned to reach (``RunTier``) and when each trust moves each
category onto the agreement (``RunJoin``). Actuals are ordinary ``Usage`` rows dated on
or after the agreement's start (``start_date``); usage before it is the baseline.

Notation, per trust ``t``, equivalence group ``g`` (of category ``c``) and month ``m``
counted from the agreement start:

* ``bp[t,g]``: the baseline price, what ``t`` paid per unit in ``g`` before the start
  (spend / units over all its earlier usage; the region's if ``t`` bought none);
* ``D[t,g]`` and ``C[t,g]``: the plan's annual units and annual cost at agreement prices
  (sums of the allocation), ``np[t,g] = C / D`` the planned average net price and
  ``s[t,g] = bp - np`` the planned saving per unit;
* ``on[t,c,m]``: the plan has ``t`` on the agreement for ``c`` in month ``m``
  (``m >= join_month``);
* planned savings ``P[t,g,m] = on * D/12 * s`` (the run's full-year rate spread evenly
  over the months a trust is on; one-off switching costs, exit fees and bridging are
  not purchases and are not tracked here);
* an actual purchase of ``a`` units at price ``p`` realises ``a * (bp - p)``; purchases
  of lines in a tier offer the region is forecast to miss also accrue the tier discount
  it will lose (``lost_tier``, below). Realised ``R = sum a * (bp - p) - accrual``.

The shortfall ``P - R`` of every (trust, group, month) cell is split into causes that
add up to it exactly:

* ``late_joins``: the plan has the trust on, but less than half of its units in the
  category were bought on contract (a range line at no more than the agreement's price):
  the whole cell's shortfall is the late join's;
* otherwise, with ``A`` the units bought: ``lower_volume = (D/12 - A) * s`` (negative
  when the trust buys more); ``off_range = sum over lines outside the range of
  (spend - a * np)``; ``price_premium = sum over range lines of (spend - a * agreed
  price)``; ``range_mix = sum over range lines of a * (agreed price - np)`` (a dearer mix
  of range lines than the plan's);
* ``outside_plan``: purchases in months or groups the plan does not cover (before a
  trust's join month, a category it does not join): ``-sum a * (bp - p)``;
* ``lost_tier``: the accrual. For an offer whose planned tier (threshold ``T``, discount
  ``d``) is forecast to be missed in a tier year, every unit bought on its lines in that
  year on contract accrues ``list price * (d - d_forecast)``, the discount the region
  will give back.

Tiers are measured, as the solver plans them, on a year of regional volume (units, or
spend at the regional list price) bought under the agreement (on contract) on the
offer's lines; tier years run 12 months from
the agreement start. Forecast at the end of the tier year: volume to date plus the run
rate (the mean of the last ``min(3, n)`` months of the ``n`` elapsed) times the months
left, compared with the same forecast of the plan's own purchases (trusts join one after
another): the region's committed annual volume scaled by that ratio is the forecast,
and an offer is at risk when it is below the planned threshold (:func:`_tier_forecasts`).

Compliance per trust and category counts months from the planned join: the share of
units and of spend on the regional range, and on contract (range line at no more than
the agreed price); the plan's share is 1.

Why one module of about 700 lines: tracking is one computation (plan, cells, causes,
tiers, compliance) over shared frames, and the maths above reads as one; the tier
forecast (``_year_volumes``, ``_tier_forecasts``) is the part that could stand alone.
"""

import datetime as dt

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from procurement.demand import usage_month
from procurement.errors import ProcureError
from procurement.models import (
    CatalogueItem,
    RunAllocation,
    RunJoin,
    RunLine,
    RunTier,
    Scenario,
    ScenarioRun,
    Trust,
    Usage,
)
from procurement.reference import frame, groups_frame, lines_frame
from procurement.scenarios.manage import get_settings
from procurement.scenarios.problem import tier_offers
from procurement.scenarios.runs import latest_run_id

CAUSES = ("late_joins", "off_range", "price_premium", "range_mix", "lower_volume", "lost_tier", "outside_plan")
CAUSE_LABELS = {
    "late_joins": "late joins",
    "off_range": "off-range use",
    "price_premium": "prices above the agreement",
    "range_mix": "range mix",
    "lower_volume": "lower volume",
    "lost_tier": "lost tier",
    "outside_plan": "outside the plan",
}
JOINED_SHARE = 0.5
"""A trust is on the agreement in practice for a category in a month when at least this
share of its units there were bought on contract."""
PRICE_TOLERANCE = 0.005
"""A price up to 0.5% above the agreed price is on contract (rounding, pack splits)."""
TIER_YEAR = 12
RUN_RATE_MONTHS = 3


class TrackingError(ProcureError):
    """Tracking cannot be done: no solved run, or no actuals after the agreement start."""


# --------------------------------------------------------------------------- the plan


def month_index(when: pd.Series, start: dt.date) -> pd.Series:
    """Month number of each date counted from ``start``'s month (the start month is 0)."""
    when = pd.to_datetime(when)
    return (when.dt.year - start.year) * 12 + (when.dt.month - start.month)


def month_label(start: dt.date, m: int) -> str:
    total = start.month - 1 + m
    return f"{start.year + total // 12:04d}-{total % 12 + 1:02d}"


def load_plan(session: Session, run_id: int) -> dict:
    """The plan of run ``run_id``: frames with codes, and the agreement's start.

    * ``groups``: trust, category, group, units (annual D), cost (annual C), np;
    * ``lines``: trust, line, group, category, supplier, units, regional_price, net_price;
    * ``joins``: trust, category, joins, join_month;
    * ``range``: line codes kept in the regional range (a set);
    * ``agreed``: line -> agreed net price; ``list_price``: line -> regional list price;
    * ``tiers``: offer, threshold, discount, volume (the planned tier of each offer).
    """
    run = session.get(ScenarioRun, run_id)
    lines = lines_frame(session)
    line_code = lines.set_index("line_id")["line"]
    trust_code = pd.Series(dict(session.execute(select(col(Trust.id), col(Trust.code))).all()))
    alloc = frame(
        session,
        select(
            col(RunAllocation.trust_id),
            col(RunAllocation.line_id),
            col(RunAllocation.units),
            col(RunAllocation.regional_price),
            col(RunAllocation.net_price),
            col(RunAllocation.annual_cost),
        ).where(col(RunAllocation.run_id) == run_id),
    )
    alloc = alloc.merge(lines[["line_id", "line", "group", "category", "supplier"]], on="line_id")
    alloc["trust"] = alloc["trust_id"].map(trust_code)
    groups = alloc.groupby(["trust", "category", "group"], as_index=False)[["units", "annual_cost"]].sum()
    groups = groups.rename(columns={"annual_cost": "cost"})
    groups["np"] = groups["cost"] / groups["units"]
    joins = frame(
        session,
        select(col(RunJoin.trust_id), col(RunJoin.category_id), col(RunJoin.joins), col(RunJoin.join_month)).where(
            col(RunJoin.run_id) == run_id
        ),
    )
    cats = groups_frame(session).drop_duplicates("category_id").set_index("category_id")["category"]
    joins["trust"] = joins["trust_id"].map(trust_code)
    joins["category"] = joins["category_id"].map(cats)
    joins["joins"] = joins["joins"].astype(bool)
    kept = frame(
        session, select(col(RunLine.line_id)).where(col(RunLine.run_id) == run_id, col(RunLine.kept).is_(True))
    )
    tiers = frame(
        session,
        select(col(RunTier.offer), col(RunTier.threshold), col(RunTier.discount), col(RunTier.volume)).where(
            col(RunTier.run_id) == run_id
        ),
    )
    return {
        "run": run,
        "groups": groups,
        "lines": alloc[["trust", "line", "group", "category", "supplier", "units", "regional_price", "net_price"]],
        "joins": joins[["trust", "category", "joins", "join_month"]],
        "range": set(kept["line_id"].map(line_code)),
        "agreed": alloc.groupby("line")["net_price"].first(),
        "list_price": alloc.groupby("line")["regional_price"].first(),
        "tiers": tiers,
        "catalogue_lines": lines,
    }


def offer_lines(session: Session, lines: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every tier offer's lines and tiers, scoped as ``build_problem`` scopes them.

    Returns ``(scope, tiers)``: scope is offer, basis, line (a group-scoped offer wins a
    line over a category one); tiers is offer, threshold, discount (fractions).
    """
    offers = tier_offers(session)
    if offers.empty:
        return pd.DataFrame(columns=["offer", "basis", "line"]), pd.DataFrame(
            columns=["offer", "threshold", "discount"]
        )
    cat_of = groups_frame(session)[["group_id", "category_id"]]
    with_cat = lines.merge(cat_of, on="group_id")
    heads = offers.drop_duplicates("offer")
    by_group = heads.dropna(subset=["group_id"]).merge(
        with_cat[["line", "supplier", "group_id"]], on=["supplier", "group_id"]
    )
    by_cat = heads[heads["group_id"].isna()].merge(
        with_cat[["line", "supplier", "category_id"]], on=["supplier", "category_id"]
    )
    scope = pd.concat([by_group.assign(rank=0), by_cat.assign(rank=1)], ignore_index=True)
    scope = scope.sort_values(["line", "rank", "offer"]).drop_duplicates("line")[["offer", "basis", "line"]]
    tiers = offers.assign(discount=offers["discount_pct"] / 100.0)[["offer", "threshold", "discount"]]
    return scope.reset_index(drop=True), tiers


# --------------------------------------------------------------------------- usage


def _usage_by_month(
    session: Session, trusts: list[str], *, since: dt.date | None, until: dt.date | None
) -> pd.DataFrame:
    """Units and spend per (trust, item, month) of ``trusts``, aggregated by the database."""
    month = usage_month(session)
    query = (
        select(
            col(Trust.code).label("trust"),
            col(CatalogueItem.product_line_id).label("line_id"),
            month.label("month"),
            func.sum(col(Usage.quantity)).label("units"),
            func.sum(col(Usage.quantity) * col(Usage.unit_price_paid)).label("spend"),
        )
        .join(Trust, col(Trust.id) == col(Usage.trust_id))
        .join(CatalogueItem, col(CatalogueItem.id) == col(Usage.item_id))
        .where(col(Trust.code).in_(trusts))
        .group_by("trust", "line_id", "month")
    )
    if since is not None:
        query = query.where(col(Usage.period) >= since)
    if until is not None:
        query = query.where(col(Usage.period) <= until)
    return frame(session, query)


def _baseline_prices(session: Session, trusts: list[str], start: dt.date, lines: pd.DataFrame) -> pd.DataFrame:
    """``bp`` per (trust, group): spend / units over usage before ``start``; the region's
    average where the trust bought none in the group. Returns trust, group, bp."""
    before = _usage_by_month(session, trusts, since=None, until=start - dt.timedelta(days=1))
    before = before.merge(lines[["line_id", "group"]], on="line_id")
    own = before.groupby(["trust", "group"])[["units", "spend"]].sum()
    own = (own["spend"] / own["units"]).rename("bp").reset_index()
    regional = before.groupby("group")[["units", "spend"]].sum()
    return own, (regional["spend"] / regional["units"]).rename("regional_bp")


# --------------------------------------------------------------------------- tiers


def forecast_volume(monthly: np.ndarray, *, year_months: int = TIER_YEAR, window: int = RUN_RATE_MONTHS) -> float:
    """Forecast volume at the end of a tier year from its first ``n`` months' volumes.

    ``to_date + run_rate * (year_months - n)`` where ``run_rate`` is the mean of the last
    ``min(window, n)`` months: recent months, because trusts join over the year.
    """
    monthly = np.asarray(monthly, dtype=float)
    n = len(monthly)
    if n == 0:
        return 0.0
    run_rate = monthly[-min(window, n) :].mean()
    return float(monthly.sum() + run_rate * max(year_months - n, 0))


def _year_volumes(rows: pd.DataFrame, scope: pd.DataFrame, basis: pd.Series, offers: pd.Series, months: int):
    """Per (offer, tier year) of ``rows`` (line, month, units, list_spend) bought on the
    offers' lines: volume and list spend to date, the run rate and the forecast at the end
    of the tier year (to date + run rate x months left); ``elapsed`` months of the year."""
    on = rows.merge(scope[["offer", "line"]], on="line")
    on["volume"] = np.where(on["offer"].map(basis) == "units", on["units"], on["list_spend"])
    on["year"] = on["month"] // TIER_YEAR
    years = range((months - 1) // TIER_YEAR + 1)
    grid = pd.MultiIndex.from_product([offers, years, range(TIER_YEAR)], names=["offer", "year", "k"])
    on["k"] = on["month"] % TIER_YEAR
    monthly = on.groupby(["offer", "year", "k"])[["volume", "list_spend"]].sum().reindex(grid, fill_value=0.0)
    monthly = monthly.reset_index()
    monthly["elapsed"] = np.minimum(months - monthly["year"] * TIER_YEAR, TIER_YEAR)
    monthly = monthly[monthly["k"] < monthly["elapsed"]]
    # Run rate: mean of the last min(3, n) elapsed months of each (offer, year).
    recent = monthly[monthly["k"] >= monthly["elapsed"] - RUN_RATE_MONTHS]
    agg = monthly.groupby(["offer", "year"]).agg(
        to_date=("volume", "sum"), list_to_date=("list_spend", "sum"), elapsed=("elapsed", "first")
    )
    rate = recent.groupby(["offer", "year"])[["volume", "list_spend"]].mean()
    left = TIER_YEAR - agg["elapsed"]
    agg["run_rate"] = rate["volume"]
    agg["year_forecast"] = agg["to_date"] + rate["volume"] * left
    agg["list_forecast"] = agg["list_to_date"] + rate["list_spend"] * left
    return agg


def _tier_forecasts(
    actual: pd.DataFrame, expected: pd.DataFrame, plan: dict, scope: pd.DataFrame, ladder: pd.DataFrame, months: int
):
    """Per offer and tier year: volume to date, forecast, at risk, the discount lost.

    ``actual`` has line, month, units, list_spend; ``expected`` the same for the plan
    itself (each joined trust buying its planned units from its join month). The
    optimiser reaches a tier on the region's committed annual volume (``planned_volume``,
    every trust on the agreement), while in the first years trusts join one after
    another: so the forecast is the committed volume scaled by how the region delivers
    against its own plan, ``planned_volume * year forecast / plan's year forecast`` (both
    extrapolated the same way). Actuals equal to the plan forecast exactly the committed
    volume; 20% leakage off the offer's lines forecasts 80% of it.

    Returns (tiers frame, accrual rate per (offer, year): the discount fraction given
    back on list spend).
    """
    planned = plan["tiers"]
    if planned.empty or scope.empty:
        return pd.DataFrame(columns=TIER_COLUMNS), pd.DataFrame(columns=["offer", "year", "lost_discount"])
    basis = scope.drop_duplicates("offer").set_index("offer")["basis"]
    agg = _year_volumes(actual, scope, basis, planned["offer"], months)
    plan_year = _year_volumes(expected, scope, basis, planned["offer"], months)
    agg["plan_to_date"] = plan_year["to_date"]
    agg["delivery"] = (agg["year_forecast"] / plan_year["year_forecast"].where(plan_year["year_forecast"] > 0)).fillna(
        1.0
    )
    agg = agg.reset_index().merge(planned.rename(columns={"volume": "planned_volume"}), on="offer")
    agg["forecast"] = agg["planned_volume"] * agg["delivery"]
    # The tier the forecast reaches: the highest threshold at or below it (tier 0 at 0).
    ladder = pd.concat([ladder, pd.DataFrame({"offer": planned["offer"], "threshold": 0.0, "discount": 0.0})])
    reach = agg[["offer", "year", "forecast"]].merge(ladder, on="offer")
    reach = reach[reach["threshold"] <= reach["forecast"] * (1 + 1e-9) + 1e-9]
    best = reach.sort_values("threshold").groupby(["offer", "year"])["discount"].last().rename("forecast_discount")
    agg = agg.join(best, on=["offer", "year"])
    agg["forecast_discount"] = agg["forecast_discount"].fillna(0.0)
    agg["at_risk"] = (agg["threshold"] > 0) & (agg["forecast"] < agg["threshold"] * (1 - 1e-9))
    agg["lost_discount"] = np.where(agg["at_risk"], np.maximum(agg["discount"] - agg["forecast_discount"], 0.0), 0.0)
    agg["lost_gbp"] = agg["lost_discount"] * agg["list_forecast"]
    threshold = agg["threshold"].where(agg["threshold"] > 0)
    # Share of the threshold to date: the committed volume delivered so far, pro rata.
    agg["share_to_date"] = np.where(
        agg["threshold"] > 0,
        agg["planned_volume"]
        * (agg["to_date"] / agg["plan_to_date"].where(agg["plan_to_date"] > 0)).fillna(1.0)
        / threshold,
        np.nan,
    )
    agg["forecast_share"] = np.where(agg["threshold"] > 0, agg["forecast"] / threshold, np.nan)
    agg["basis"] = agg["offer"].map(basis)
    agg["message"] = _tier_messages(agg)
    return agg[TIER_COLUMNS], agg[["offer", "year", "lost_discount"]]


TIER_COLUMNS = [
    "offer",
    "year",
    "basis",
    "threshold",
    "discount",
    "planned_volume",
    "to_date",
    "elapsed",
    "run_rate",
    "forecast",
    "share_to_date",
    "forecast_share",
    "forecast_discount",
    "at_risk",
    "lost_gbp",
    "message",
]


def _planned_purchases(plan: dict, months: int) -> pd.DataFrame:
    """The plan's own purchases month by month: each joined trust's planned units of a
    line (a twelfth of the annual allocation a month) from its join month: line, month,
    units, list_spend (at the line's list price)."""
    lines = plan["lines"].merge(plan["joins"], on=["trust", "category"])
    lines = lines[lines["joins"].astype(bool)]
    rows = lines.merge(pd.DataFrame({"month": range(months)}), how="cross")
    rows = rows[rows["month"] >= rows["join_month"]]
    units = rows["units"] / 12.0
    list_price = rows["line"].map(plan["list_price"]).fillna(rows["net_price"])
    return pd.DataFrame(
        {"line": rows["line"], "month": rows["month"], "units": units, "list_spend": units * list_price}
    ).reset_index(drop=True)


def _tier_messages(t: pd.DataFrame) -> list[str]:
    out = []
    columns = ["offer", "share_to_date", "elapsed", "forecast_share", "at_risk", "lost_gbp", "discount", "basis"]
    for offer, share, n, fshare, risk, lost, disc, basis in t[columns].itertuples(index=False, name=None):
        # one sentence per offer: a handful of rows
        if not np.isfinite(share):
            out.append(f"{offer}: no tier planned")
            continue
        text = f"{offer}: {share:.0%} of the {basis} threshold for {disc:.0%} after {int(n)} of {TIER_YEAR} months "
        text += f"(committed volume, pro rata to the plan's joins); at this rate it ends at {fshare:.0%}"
        text += f": tier lost, £{lost:,.0f} for the region" if risk else ": on track"
        out.append(text)
    return out


# --------------------------------------------------------------------------- tracking


def track_run(engine: Engine, run_id: int, *, as_of: dt.date | None = None) -> dict:
    """Realised against planned savings, compliance, off-contract spend and tiers of one run.

    See the module docstring for the maths. Returns a dict of figures and frames:
    ``scenario``, ``run_id``, ``start``, ``as_of``, ``months``, ``planned_gbp``,
    ``realised_gbp``, ``shortfall_gbp``, ``by_cause`` (cause -> GBP, adding up to the
    shortfall), frames ``by_month``, ``by_trust``, ``by_category``, ``cells`` (trust,
    category, group, month with planned, realised and every cause), ``compliance``,
    ``off_contract``, ``tiers``, and ``alerts`` (sentences).
    """
    with Session(engine) as session:
        run = session.get(ScenarioRun, run_id)
        if run is None or run.objective is None:
            raise TrackingError("the scenario's latest run has no solution to track: run it again")
        scenario = session.get(Scenario, run.scenario_id)
        assert scenario is not None, "a run's scenario_id is a foreign key to its scenario"
        scenario_name = scenario.name
        start = dt.date.fromisoformat(_run_start(run))
        plan = load_plan(session, run_id)
        trusts = sorted(set(plan["joins"]["trust"]))
        lines = plan["catalogue_lines"]
        actual = _usage_by_month(session, trusts, since=start, until=as_of)
        if actual.empty:
            raise TrackingError(
                f"no usage of the scenario's trusts on or after the agreement start {start}: "
                "import the actuals (procure import usage FILE --trust CODE)"
            )
        own_bp, regional_bp = _baseline_prices(session, trusts, start, lines)
        scope, ladder = offer_lines(session, lines)
    if as_of is None:
        as_of = pd.Period(actual["month"].max(), "M").end_time.date()
    actual["month"] = month_index(pd.to_datetime(actual["month"], format="%Y-%m"), start)
    months = int(month_index(pd.Series([pd.Timestamp(as_of)]), start).iloc[0]) + 1
    if months < 1:
        raise TrackingError(f"--as-of {as_of} is before the agreement start {start}")
    actual = actual.merge(lines[["line_id", "line", "group", "category"]], on="line_id")

    # Prices against which each purchase is judged.
    actual = actual.merge(own_bp, on=["trust", "group"], how="left")
    actual["bp"] = actual["bp"].fillna(actual["group"].map(regional_bp)).fillna(actual["spend"] / actual["units"])
    groups = plan["groups"]
    actual = actual.merge(groups[["trust", "group", "np"]], on=["trust", "group"], how="left")
    actual["in_range"] = actual["line"].isin(plan["range"])
    actual["agreed"] = actual["line"].map(plan["agreed"])
    list_price = actual["line"].map(plan["list_price"])
    actual["list_spend"] = actual["units"] * list_price.fillna(actual["spend"] / actual["units"])
    on_contract = actual["in_range"] & (actual["spend"] <= actual["units"] * actual["agreed"] * (1 + PRICE_TOLERANCE))
    actual["contract_units"] = actual["units"].where(on_contract, 0.0)

    # Tier volume is what the region buys under the agreement: on-contract purchases.
    under = actual[on_contract]
    tiers, lost = _tier_forecasts(
        under[["line", "month", "units", "list_spend"]], _planned_purchases(plan, months), plan, scope, ladder, months
    )
    actual["year"] = actual["month"] // TIER_YEAR
    rate = actual[["line", "year"]].merge(scope[["offer", "line"]], on="line", how="left")
    rate = rate.merge(lost, on=["offer", "year"], how="left")["lost_discount"].fillna(0.0)
    actual["accrual"] = np.where(on_contract, actual["list_spend"] * rate.to_numpy(), 0.0)

    # Each purchase's contribution to the shortfall terms of the module docstring.
    actual["saving"] = actual["units"] * actual["bp"] - actual["spend"]
    off = ~actual["in_range"]
    actual["off_range"] = (actual["spend"] - actual["units"] * actual["np"]).where(off, 0.0)
    actual["price_premium"] = (actual["spend"] - actual["units"] * actual["agreed"]).where(~off, 0.0)
    actual["range_mix"] = (actual["units"] * (actual["agreed"] - actual["np"])).where(~off, 0.0)
    keys = ["trust", "category", "group", "month"]
    terms = ["units", "spend", "saving", "off_range", "price_premium", "range_mix", "accrual", "contract_units"]
    bought = actual.groupby(keys, as_index=False)[terms].sum()

    # Planned cells: every planned (trust, group) in every month tracked, and every
    # (trust, group, month) with purchases (a group the plan does not cover included).
    plan_groups = groups.rename(columns={"units": "plan_units_year"})[
        ["trust", "category", "group", "plan_units_year", "np"]
    ]
    cells = plan_groups.merge(pd.DataFrame({"month": range(months)}), how="cross")
    cells = cells.merge(bought.rename(columns={"units": "bought_units"}), on=keys, how="outer")
    filled = ["bought_units", *terms[1:]]
    cells[filled] = cells[filled].fillna(0.0)
    cells = cells.merge(plan["joins"], on=["trust", "category"], how="left")
    cells = cells.merge(own_bp, on=["trust", "group"], how="left")
    cells["bp"] = cells["bp"].fillna(cells["group"].map(regional_bp))
    joins_now = cells["joins"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    on = joins_now & (cells["month"] >= cells["join_month"].astype(float).fillna(np.inf)).to_numpy()
    on &= cells["plan_units_year"].notna().to_numpy()
    cells["plan_units"] = np.where(on, cells["plan_units_year"].fillna(0.0) / 12.0, 0.0)
    per_unit = (cells["bp"] - cells["np"]).fillna(0.0)
    cells["planned"] = cells["plan_units"] * per_unit
    # In practice on the agreement: at least half the category's units on contract that month.
    tcm = cells.groupby(["trust", "category", "month"])[["bought_units", "contract_units"]].transform("sum")
    joined = ((tcm["bought_units"] <= 0) | (tcm["contract_units"] >= JOINED_SHARE * tcm["bought_units"])).to_numpy()
    cells["realised"] = cells["saving"] - cells["accrual"]
    gap = cells["planned"] - cells["saving"]
    cells["late_joins"] = np.where(on & ~joined, gap, 0.0)
    normal = on & joined
    cells["lower_volume"] = np.where(normal, (cells["plan_units"] - cells["bought_units"]) * per_unit, 0.0)
    for term in ("off_range", "price_premium", "range_mix"):
        cells[term] = np.where(normal, cells[term], 0.0)
    cells["outside_plan"] = np.where(on, 0.0, gap)
    cells["lost_tier"] = cells["accrual"]
    cells["on_plan"] = on
    cells["on_in_practice"] = joined
    cells = cells[
        ["trust", "category", "group", "month", "on_plan", "on_in_practice", "plan_units", "bought_units"]
        + ["planned", "realised", *CAUSES]
    ].sort_values(keys, ignore_index=True)

    by_month = _sum_by(cells, "month")
    by_month.insert(0, "label", [month_label(start, int(m)) for m in by_month["month"]])
    planned_total = float(cells["planned"].sum())
    realised_total = float(cells["realised"].sum())
    by_cause = {cause: float(cells[cause].sum()) for cause in CAUSES}
    compliance = _compliance(actual, plan["joins"], months)
    off_contract = _off_contract(actual, plan["joins"])
    alerts = _alerts(compliance, off_contract, tiers, by_cause)
    return {
        "scenario": scenario_name,
        "run_id": run_id,
        "start": start,
        "as_of": as_of,
        "months": months,
        "planned_gbp": planned_total,
        "realised_gbp": realised_total,
        "shortfall_gbp": planned_total - realised_total,
        "by_cause": by_cause,
        "by_month": by_month,
        "by_trust": _sum_by(cells, "trust"),
        "by_category": _sum_by(cells, "category"),
        "cells": cells,
        "compliance": compliance,
        "off_contract": off_contract,
        "tiers": tiers,
        "alerts": alerts,
    }


def track_scenario(engine: Engine, name: str, *, as_of: dt.date | None = None) -> dict:
    """:func:`track_run` on the latest run of scenario ``name``."""
    with Session(engine) as session:
        get_settings(session, name)
        run_id = latest_run_id(session, name)
    return track_run(engine, run_id, as_of=as_of)


def _run_start(run: ScenarioRun) -> str:
    import json

    return json.loads(run.settings or "{}").get("start_date", "2027-04-01")


def _sum_by(cells: pd.DataFrame, key: str) -> pd.DataFrame:
    out = cells.groupby(key, as_index=False)[["planned", "realised", *CAUSES]].sum()
    out.insert(3, "shortfall", out["planned"] - out["realised"])
    return out


def _compliance(actual: pd.DataFrame, joins: pd.DataFrame, months: int) -> pd.DataFrame:
    """Per (trust, category) the plan has joined within the ``months`` tracked: shares on
    range and on contract since the join (a pair whose join is still to come is not due)."""
    planned = joins[joins["joins"].astype(bool) & (joins["join_month"] < months)]
    rows = actual.merge(planned[["trust", "category", "join_month"]], on=["trust", "category"])
    rows = rows[rows["month"] >= rows["join_month"]]
    on_range_spend = rows["spend"].where(rows["in_range"], 0.0)
    rows = rows.assign(range_units=rows["units"].where(rows["in_range"], 0.0), range_spend=on_range_spend)
    agg = rows.groupby(["trust", "category"]).agg(
        months=("month", "nunique"),
        units=("units", "sum"),
        spend=("spend", "sum"),
        range_units=("range_units", "sum"),
        range_spend=("range_spend", "sum"),
        contract_units=("contract_units", "sum"),
    )
    out = planned[["trust", "category", "join_month"]].join(agg, on=["trust", "category"])
    out["units_on_range"] = out["range_units"] / out["units"]
    out["spend_on_range"] = out["range_spend"] / out["spend"]
    out["units_on_contract"] = out["contract_units"] / out["units"]
    out["planned_share"] = 1.0
    columns = ["trust", "category", "join_month", "months", "units", "spend"]
    columns += ["units_on_range", "spend_on_range", "units_on_contract", "planned_share"]
    return out[columns].sort_values(["trust", "category"], ignore_index=True)


def _off_contract(actual: pd.DataFrame, joins: pd.DataFrame) -> pd.DataFrame:
    """Purchases after the planned join off the range, or above the agreed price, with the premium.

    The premium of an off-range line is its spend less the same units at the trust's
    planned average agreement price in the group; of a range line, less the units at the
    agreed price. Largest premium first.
    """
    planned = joins[joins["joins"]]
    rows = actual.merge(planned[["trust", "category", "join_month"]], on=["trust", "category"])
    rows = rows[rows["month"] >= rows["join_month"]]
    rows = rows.assign(
        premium=np.where(
            rows["in_range"], rows["spend"] - rows["units"] * rows["agreed"], rows["spend"] - rows["units"] * rows["np"]
        ),
        reason=np.where(rows["in_range"], "above the agreed price", "off range"),
    )
    agg = rows.groupby(["trust", "category", "group", "line", "reason"], as_index=False)[
        ["units", "spend", "premium"]
    ].sum()
    agg = agg[(agg["reason"] == "off range") | (agg["premium"] > agg["spend"] * PRICE_TOLERANCE)]
    agg = agg[agg["premium"] > 0.005]
    return agg.sort_values("premium", ascending=False, ignore_index=True)


def _alerts(compliance: pd.DataFrame, off_contract: pd.DataFrame, tiers: pd.DataFrame, by_cause: dict) -> list[str]:
    alerts = [m for m, risk in zip(tiers["message"], tiers["at_risk"], strict=True) if risk]
    low = compliance[compliance["units_on_contract"] < JOINED_SHARE]
    alerts += [
        f"{t} {c}: only {share:.0%} of units on contract since the planned join"
        for t, c, share in zip(low["trust"], low["category"], low["units_on_contract"], strict=True)
    ]
    if len(off_contract):
        top = off_contract.iloc[0]
        alerts.append(
            f"top off-contract premium: {top['trust']} {top['line']} ({top['reason']}), "
            f"{top['units']:,.0f} units, £{top['premium']:,.0f}"
        )
    return alerts


def headline(result: dict) -> str:
    """One line: realised of planned, the largest causes of the shortfall, the first tier at risk."""
    planned, realised = result["planned_gbp"], result["realised_gbp"]
    share = f" ({realised / planned:.0%})" if planned else ""
    text = (
        f"{result['scenario']}: £{realised:,.0f} realised of £{planned:,.0f} planned over "
        f"{result['months']} months{share}"
    )
    causes = sorted(((v, k) for k, v in result["by_cause"].items() if v > 0.5), reverse=True)[:3]
    if causes:
        text += "; shortfall: " + ", ".join(f"{CAUSE_LABELS[k]} £{v:,.0f}" for v, k in causes)
    risky = result["tiers"][result["tiers"]["at_risk"].astype(bool)] if len(result["tiers"]) else result["tiers"]
    if len(risky):
        named = ", ".join(risky["offer"].head(3)) + (f" and {len(risky) - 3} more" if len(risky) > 3 else "")
        text += f"; {len(risky)} tier(s) at risk ({named})"
    return text


def to_json(result: dict) -> dict:
    """The ``procure track --json`` payload (keys as issue 17 names them, and more)."""
    by_month = result["by_month"].rename(columns={"planned": "planned_gbp", "realised": "realised_gbp"})
    by_month = by_month.drop(columns="month").rename(columns={"label": "month"})
    return {
        "scenario": result["scenario"],
        "run_id": result["run_id"],
        "start": result["start"].isoformat(),
        "as_of": result["as_of"].isoformat(),
        "months": result["months"],
        "planned_gbp": result["planned_gbp"],
        "realised_gbp": result["realised_gbp"],
        "shortfall_gbp": result["shortfall_gbp"],
        "by_cause": result["by_cause"],
        "by_month": by_month.to_dict("records"),
        "by_trust": result["by_trust"].to_dict("records"),
        "by_category": result["by_category"].to_dict("records"),
        "compliance": result["compliance"].to_dict("records"),
        "off_contract": result["off_contract"].to_dict("records"),
        "tiers": result["tiers"].to_dict("records"),
        "alerts": result["alerts"],
        "headline": headline(result),
    }


__all__ = [
    "CAUSES",
    "TrackingError",
    "forecast_volume",
    "headline",
    "load_plan",
    "to_json",
    "track_run",
    "track_scenario",
]
