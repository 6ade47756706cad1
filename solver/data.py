"""Derived tables the model, the greedy heuristic and the reports are built from.

:func:`prepare` turns a validated :class:`~solver.problem.ProblemData` into sparse
index tables: usable (trust, line) pairs, (trust, group) and (trust, category) demand
with baseline spend, candidate join months with their one-off costs, offer tiers with
the interval of volume each covers, and data-derived bounds used to keep the
linearisations tight. Everything is done with pandas joins; nothing here knows PuLP.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from solver.problem import ProblemData, Settings


@dataclass(frozen=True)
class ModelData:
    """Validated problem plus the derived index tables (see :func:`prepare`).

    Attributes
    ----------
    pairs
        Usable (trust, line) pairs on demand groups: trust, line, group, category,
        supplier, offer (None if none), basis, price, demand (D of the trust's group),
        is_new (not used today), switch_cost, max_discount.
    tg
        (trust, group) with demand: trust, group, category, demand, baseline (annual
        spend today), n_usable (usable lines).
    tc
        (trust, category) with demand: trust, category, demand, baseline, end_month,
        exit_fee, uplift, s_lo, s_hi (bounds on the annual savings rate).
    join_options
        Candidate join months: trust, category, month, months_on, exit_fee, bridging.
    tiers
        Reachable tiers of offers with usable lines, tier 0 included: offer, k,
        threshold, upper (next threshold, inf for the last), discount, basis.
    toc
        (trust, offer, category) with usable offer lines: umax, pmax (largest units
        and regional spend the trust can put on the offer in that category).
    supplier_category
        (supplier, category) with usable lines: max_units.
    categories
        category, demand (regional units), min_suppliers (0 if relaxed),
        n_suppliers (with usable lines).
    current
        Today's purchases with group, category, regional_price.
    """

    problem: ProblemData
    pairs: pd.DataFrame
    tg: pd.DataFrame
    tc: pd.DataFrame
    join_options: pd.DataFrame
    tiers: pd.DataFrame
    toc: pd.DataFrame
    supplier_category: pd.DataFrame
    categories: pd.DataFrame
    current: pd.DataFrame

    @property
    def settings(self) -> Settings:
        return self.problem.settings


def join_months(settings: Settings, end_month: int) -> list[int]:
    """Candidate join months for one (trust, category): grid points in [0, horizon).

    The contract end rounded up to the grid is added explicitly (it is a grid point
    whenever it falls inside the horizon).
    """
    h, step = settings.horizon_months, settings.join_grid_months
    months = set(range(0, h, step))
    if end_month > 0:
        rounded = -(-end_month // step) * step
        if rounded < h:
            months.add(rounded)
    return sorted(months)


def usable_mask(candidates: pd.DataFrame, settings: Settings) -> pd.Series:
    """Pairs usable under the scenario: approved and ODEP-ok unless those rules are relaxed."""
    mask = pd.Series(True, index=candidates.index)
    if settings.active("approvals"):
        mask &= candidates["approved"]
    if settings.active("odep"):
        mask &= candidates["odep_ok"]
    return mask


def prepare(problem: ProblemData) -> ModelData:
    """Build the derived tables of :class:`ModelData` from validated ``problem``."""
    s = problem.settings
    lines = problem.lines.merge(problem.groups, on="group")
    offer_of = problem.offer_lines.merge(problem.offers[["offer", "basis"]], on="offer")

    # tiers with tier 0 prepended; upper end of each tier's volume interval
    t = problem.tiers.sort_values(["offer", "threshold"])
    zero = pd.DataFrame({"offer": problem.offers["offer"], "threshold": 0.0, "discount": 0.0})
    tiers = pd.concat([zero, t], ignore_index=True).sort_values(["offer", "threshold"])
    tiers["k"] = tiers.groupby("offer").cumcount()
    tiers["upper"] = tiers.groupby("offer")["threshold"].shift(-1).fillna(np.inf)
    tiers = tiers.merge(problem.offers[["offer", "basis"]], on="offer")

    # demand and baseline per (trust, group)
    cur = problem.current.merge(
        lines[["line", "group", "category", "regional_price"]], on="line"
    )
    base_tg = (
        (cur["units"] * cur["unit_price"]).groupby([cur["trust"], cur["group"]]).sum()
    ).rename("baseline")
    tg = problem.demand.rename(columns={"units": "demand"}).merge(
        problem.groups, on="group"
    )
    tg = tg.merge(base_tg.reset_index(), on=["trust", "group"], how="left")
    tg["baseline"] = tg["baseline"].fillna(0.0)

    # usable pairs on groups the trust has demand in
    cand = problem.candidates[usable_mask(problem.candidates, s)]
    pairs = cand.merge(lines, on="line").merge(
        tg[["trust", "group", "demand"]], on=["trust", "group"]
    )
    pairs = pairs.merge(offer_of[["line", "offer", "basis"]], on="line", how="left")
    used_today = cur.loc[cur["units"] > 0, ["trust", "line"]].assign(used_today=True)
    pairs = pairs.merge(used_today, on=["trust", "line"], how="left")
    pairs["is_new"] = pairs["used_today"].isna()
    pairs = pairs.rename(columns={"regional_price": "price"})

    # per (trust, offer, category): the most units / spend a trust can put on an offer
    op = pairs[pairs["offer"].notna()]
    per_tg = op.groupby(["trust", "offer", "category", "group"], as_index=False).agg(
        demand=("demand", "first"), pmax_price=("price", "max")
    )
    per_tg["pmax"] = per_tg["demand"] * per_tg["pmax_price"]
    toc = per_tg.groupby(["trust", "offer", "category"], as_index=False).agg(
        umax=("demand", "sum"), pmax=("pmax", "sum")
    )
    # drop tiers no volume can reach; keep only offers with a choice left
    reach = toc.groupby("offer")[["umax", "pmax"]].sum()
    tiers = tiers.merge(reach.reset_index(), on="offer", how="inner")
    cap = np.where(tiers["basis"] == "units", tiers["umax"], tiers["pmax"])
    tiers = tiers[tiers["threshold"] <= cap * (1 + 1e-9)].drop(columns=["umax", "pmax"])
    tiers["upper"] = tiers.groupby("offer")["threshold"].shift(-1).fillna(np.inf)
    max_disc = tiers.groupby("offer")["discount"].max().rename("max_discount")
    pairs = pairs.merge(max_disc.reset_index(), on="offer", how="left")
    pairs["max_discount"] = pairs["max_discount"].fillna(0.0)
    pairs["offer"] = pairs["offer"].astype(object).where(pairs["offer"].notna(), None)
    pairs = pairs[
        [
            "trust",
            "line",
            "group",
            "category",
            "supplier",
            "offer",
            "basis",
            "price",
            "demand",
            "is_new",
            "switch_cost",
            "max_discount",
        ]
    ].reset_index(drop=True)
    n_usable = pairs.groupby(["trust", "group"]).size().rename("n_usable")
    tg = tg.merge(n_usable.reset_index(), on=["trust", "group"], how="left")
    tg["n_usable"] = tg["n_usable"].fillna(0).astype(int)

    # (trust, category): baseline, contract terms and bounds on the savings rate
    cheapest = (pairs["price"] * (1 - pairs["max_discount"])).groupby(
        [pairs["trust"], pairs["group"]]
    ).min()
    dearest = pairs.groupby(["trust", "group"])["price"].max()
    tgb = tg.set_index(["trust", "group"])
    tgb = tgb.assign(
        min_cost=tgb["demand"] * cheapest.reindex(tgb.index).fillna(0.0),
        max_cost=tgb["demand"] * dearest.reindex(tgb.index).fillna(0.0),
    ).reset_index()
    tc = tgb.groupby(["trust", "category"], as_index=False).agg(
        demand=("demand", "sum"),
        baseline=("baseline", "sum"),
        min_cost=("min_cost", "sum"),
        max_cost=("max_cost", "sum"),
    )
    tc = tc.merge(problem.contracts, on=["trust", "category"], how="left")
    tc = tc.fillna({"end_month": 0, "exit_fee": 0.0, "extension_uplift": 0.0})
    tc["end_month"] = tc["end_month"].astype(int)
    tc = tc.rename(columns={"extension_uplift": "uplift"})
    tc["s_hi"] = tc["baseline"] - tc["min_cost"]
    tc["s_lo"] = tc["baseline"] - tc["max_cost"]
    tc = tc.drop(columns=["min_cost", "max_cost"])

    # candidate join months and their one-off costs
    options = [
        pd.DataFrame({"row": i, "month": join_months(s, e)})
        for i, e in enumerate(tc["end_month"].tolist())
    ]
    jo = pd.concat(options, ignore_index=True) if options else pd.DataFrame(
        {"row": pd.Series(dtype=int), "month": pd.Series(dtype=int)}
    )
    jo = jo.merge(tc.reset_index(names="row"), on="row").drop(columns="row")
    jo["months_on"] = s.horizon_months - jo["month"]
    jo["fee"] = np.where(jo["month"] < jo["end_month"], jo["exit_fee"], 0.0)
    bridged = (jo["month"] - jo["end_month"].clip(lower=0)).clip(lower=0)
    jo["bridging"] = jo["uplift"] * jo["baseline"] / 12.0 * bridged
    join_options = jo[
        ["trust", "category", "month", "months_on", "fee", "bridging"]
    ].rename(columns={"fee": "exit_fee"})

    # suppliers per category, and the rule settings per category
    sc = (
        pairs.groupby(["supplier", "category", "trust", "group"], as_index=False)["demand"]
        .first()
        .groupby(["supplier", "category"], as_index=False)["demand"]
        .sum()
        .rename(columns={"demand": "max_units"})
    )
    cats = tc.groupby("category", as_index=False)["demand"].sum()
    cats["min_suppliers"] = [
        s.category_min_suppliers(c) if s.active("min_suppliers") else 0
        for c in cats["category"]
    ]
    n_sup = sc.groupby("category").size().rename("n_suppliers")
    cats = cats.merge(n_sup.reset_index(), on="category", how="left")
    cats["n_suppliers"] = cats["n_suppliers"].fillna(0).astype(int)

    return ModelData(
        problem=problem,
        pairs=pairs,
        tg=tg,
        tc=tc,
        join_options=join_options.reset_index(drop=True),
        tiers=tiers.reset_index(drop=True),
        toc=toc,
        supplier_category=sc,
        categories=cats,
        current=cur,
    )
