"""Derived tables the model, the greedy heuristic and the reports are built from.

:func:`prepare` turns a validated :class:`~solver.problem.ProblemData` into sparse
index tables: usable (trust, line) pairs, (trust, group) and (trust, category) demand
with baseline spend, the current contracts with the spend each covers, candidate
join months (only those every contract allows) with their one-off costs in total and
contract by contract, offer tiers with the interval of volume each covers,
data-derived bounds on offer volumes, and the switching costs a plan may pay (per new
line and per newly adopted system).
Everything is done with pandas joins; nothing here knows PuLP.
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
        is_new (not used today), switch_cost (every line-level switching cost of the
        pair: the fallback ``candidates.switch_cost`` plus the ``switching`` rows of
        the line; 0 for a line used today), system_cost (total system cost of the
        pair's (trust, supplier, category) if the trust would newly adopt that system
        by using the line, else 0).
    tg
        (trust, group) with demand: trust, group, category, demand, baseline (annual
        spend today), n_usable (usable lines).
    tc
        (trust, category) with demand: trust, category, demand, baseline, earliest
        (first month every contract allows joining, see :func:`contract_terms`),
        n_contracts.
    contracts
        Current contracts of (trust, category) with demand, terms as enforced (see
        :func:`contract_terms`): trust, category, contract, supplier, end_month,
        notice_months, early_exit, exit_fee, exit_fee_pct, extension_months (inf: no
        limit), uplift, spend and list_spend (monthly, GBP), earliest_exit (month
        from which it can be left early; NaN if never), allowed_from.
    join_options
        Candidate join months: trust, category, month, months_on, exit_fee, bridging,
        off_contract (GBP, summed over the contracts of the (trust, category)).
    contract_options
        The same per contract: trust, category, contract, month, exit_fee,
        bridging_months, bridging, off_contract_months, off_contract.
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
    year_one
        Trusts whose year-one cap can bind: trust, cap.
    switching_costs
        Every switching cost a plan may pay, one row per (trust, supplier, category,
        line, kind) with cost > 0: line None for a system cost (systems the trust
        does not use today and has a usable new line of), else a line-level cost of
        a usable new pair (the fallback has kind None). Empty when the
        ``switching_costs`` assumption is relaxed.
    systems
        Systems a trust could newly adopt at a cost: trust, supplier, category, cost
        (total system cost > 0; the trust has a usable new line of the system and
        uses none of its lines today).
    """

    problem: ProblemData
    pairs: pd.DataFrame
    tg: pd.DataFrame
    tc: pd.DataFrame
    contracts: pd.DataFrame
    join_options: pd.DataFrame
    contract_options: pd.DataFrame
    tiers: pd.DataFrame
    toc: pd.DataFrame
    supplier_category: pd.DataFrame
    categories: pd.DataFrame
    current: pd.DataFrame
    year_one: pd.DataFrame
    switching_costs: pd.DataFrame
    systems: pd.DataFrame

    @property
    def settings(self) -> Settings:
        return self.problem.settings


def join_months(
    settings: Settings,
    end_month: int,
    year_one: bool = False,
    *,
    cuts: tuple[int, ...] = (),
    earliest: int = 0,
    every: bool = False,
) -> list[int]:
    """Candidate join months of one (trust, category), few but exact.

    The feasible grid months are those in ``[earliest, horizon)``. For a fixed plan
    the net savings of joining at month m are linear in m on each piece of that
    interval cut at every contract's end (exit fee before it: fixed plus a share of
    the remaining value, linear in m), at the end of its extension (bridging uplift
    before, off-contract list prices after) and at ``cuts`` (here: each contract's
    earliest exit), so the best grid month of a piece is one of its two end grid
    points. The year-one cap (``year_one``) is a coupling constraint whose weight
    changes at month 12: then every grid month below 12 is kept, and 12 cuts the
    pieces. The join capacity couples (trust, category) pairs in every quarter
    (``every``): then every feasible grid month is kept. Grid points are 0, grid,
    2 grid, ... below the horizon. An empty list: the (trust, category) cannot join.
    """
    h, step = settings.horizon_months, settings.join_grid_months
    grid = np.arange(0, h, step)
    grid = grid[grid >= earliest]
    if every:
        return [int(m) for m in grid]
    points = [0, h, end_month, earliest, *cuts]
    year = min(12, h)
    if year_one:
        points.append(year)
    points = sorted({int(c) for c in points if 0 <= c <= h})
    months: set[int] = set()
    for a, b in zip(points[:-1], points[1:], strict=True):
        inside = grid[(grid >= a) & (grid < b)]
        if len(inside):
            months.update((int(inside[0]), int(inside[-1])))
    if year_one:
        months.update(int(m) for m in grid[grid < year])
    return sorted(months)


def contract_terms(problem: ProblemData, cur: pd.DataFrame, tc: pd.DataFrame) -> pd.DataFrame:
    """Contracts of (trust, category) pairs with demand, with covered spend and terms as enforced.

    A contract with a supplier covers the trust's current spend in the category on
    that supplier's lines; one with supplier None covers the spend on suppliers
    without a contract of their own. ``spend`` and ``list_spend`` are that spend per
    month at the prices paid and at catalogue (list) prices. A contract allows
    joining at month m if m >= end_month, or, if it allows early exit, m >=
    ``earliest_exit`` = decision_month + notice_months: so from ``allowed_from`` =
    end_month (no early exit) or min(end_month, earliest_exit). With the
    ``contract_terms`` family relaxed there is no notice, no decision month, early
    exit is always allowed and extensions have no limit.
    """
    s = problem.settings
    ct = problem.contracts.merge(tc[["trust", "category"]], on=["trust", "category"])
    ct = ct.rename(columns={"extension_uplift": "uplift"})
    ct["extension_months"] = ct["extension_months"].astype(float).fillna(np.inf)
    ct["early_exit"] = ct["early_exit"].astype(bool)
    if not s.active("contract_terms"):
        ct["early_exit"] = True
        ct["extension_months"] = np.inf
        earliest = pd.Series(-np.inf, index=ct.index)
    else:
        earliest = (s.decision_month + ct["notice_months"]).astype(float)
    ct["earliest_exit"] = earliest.where(ct["early_exit"], np.nan)
    ct["allowed_from"] = np.where(
        ct["early_exit"], np.minimum(ct["end_month"], ct["earliest_exit"].fillna(np.inf)), ct["end_month"]
    ).astype(float)

    # spend per (trust, category, supplier) today, at prices paid and at list prices
    lp = problem.lines.set_index("line")["list_price"]
    spend = cur.assign(
        paid=cur["units"] * cur["unit_price"],
        listed=cur["units"] * lp.reindex(cur["line"]).to_numpy(),
        supplier=problem.lines.set_index("line")["supplier"].reindex(cur["line"]).to_numpy(),
    )
    spend = spend.groupby(["trust", "category", "supplier"], as_index=False)[["paid", "listed"]].sum()
    named = ct.loc[ct["supplier"].notna(), ["trust", "category", "supplier"]].assign(has_own=True)
    spend = spend.merge(named, on=["trust", "category", "supplier"], how="left")
    own = spend[spend["has_own"].notna()].drop(columns="has_own")
    rest = (
        spend[spend["has_own"].isna()]
        .groupby(["trust", "category"], as_index=False)[["paid", "listed"]]
        .sum()
        .assign(supplier=None)
    )
    covered = pd.concat([own, rest], ignore_index=True)
    covered["sup"] = covered["supplier"].fillna("\0")
    ct["sup"] = ct["supplier"].fillna("\0")
    ct = ct.merge(covered.drop(columns="supplier"), on=["trust", "category", "sup"], how="left").drop(columns="sup")
    ct["spend"] = ct["paid"].fillna(0.0) / 12.0
    ct["list_spend"] = ct["listed"].fillna(0.0) / 12.0
    return ct.drop(columns=["paid", "listed"]).reset_index(drop=True)


def contract_costs(ct: pd.DataFrame, months: pd.DataFrame) -> pd.DataFrame:
    """One-off costs of each contract of a (trust, category) joining at each month.

    ``months``: trust, category, month. For contract k joining at m:

    - m < end_k: exit fee ``exit_fee_k + exit_fee_pct_k * spend_k * (end_k - m)``;
    - m >= end_k: the extension bridges months ``[end_k, end_k + ext_k)`` and
      off-contract buying at list prices covers ``[end_k + ext_k, m)``, both clipped
      to ``[0, m)``: bridging ``uplift_k * spend_k`` and off-contract
      ``max(list_spend_k - spend_k, 0)`` per month.

    Returns trust, category, contract, month, exit_fee, bridging_months, bridging,
    off_contract_months, off_contract.
    """
    co = months.merge(ct, on=["trust", "category"])
    m = co["month"].to_numpy(dtype=float)
    end = co["end_month"].to_numpy(dtype=float)
    ext_end = end + co["extension_months"].to_numpy(dtype=float)
    early = m < end
    fee = np.where(early, co["exit_fee"] + co["exit_fee_pct"] * co["spend"] * (end - m), 0.0)
    bridged = np.clip(np.minimum(m, ext_end) - np.maximum(end, 0.0), 0.0, None)
    off = np.clip(m - np.maximum(ext_end, 0.0), 0.0, None)
    return pd.DataFrame(
        {
            "trust": co["trust"],
            "category": co["category"],
            "contract": co["contract"],
            "month": co["month"].astype(int),
            "exit_fee": fee,
            "bridging_months": bridged.astype(int),
            "bridging": co["uplift"].to_numpy() * co["spend"].to_numpy() * bridged,
            "off_contract_months": off.astype(int),
            "off_contract": np.clip(co["list_spend"] - co["spend"], 0.0, None).to_numpy() * off,
        }
    )


def usable_mask(candidates: pd.DataFrame, settings: Settings) -> pd.Series:
    """Pairs usable under the scenario: approved and ODEP-ok unless those rules are relaxed."""
    mask = pd.Series(True, index=candidates.index)
    if settings.active("approvals"):
        mask &= candidates["approved"]
    if settings.active("odep"):
        mask &= candidates["odep_ok"]
    return mask


SWITCHING_KEY = ["trust", "supplier", "category", "line", "kind"]
"""Key of a switching cost row (line None: a system cost; kind None: unclassified)."""


def switching_tables(problem: ProblemData, pairs: pd.DataFrame, cur: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The switching costs a plan may pay, and the systems a trust could newly adopt.

    ``pairs`` are the usable pairs with supplier, category and is_new; ``cur`` today's
    purchases with supplier and category. Returns ``(costs, systems)`` as described
    in :class:`ModelData` (``switching_costs``, ``systems``). A trust *holds* a system
    (supplier, category) when it buys some line of it today (units > 0); a held
    system costs nothing to extend, whatever the ``switching`` rows say.
    """
    cols = [*SWITCHING_KEY, "cost"]
    empty = pd.DataFrame({c: pd.Series(dtype=float if c == "cost" else object) for c in cols})
    no_systems = pd.DataFrame({c: pd.Series(dtype=float if c == "cost" else object) for c in [*cols[:3], "cost"]})
    if not problem.settings.active("switching_costs"):
        return empty, no_systems
    new = pairs[pairs["is_new"]]
    sw = problem.switching
    fallback = new[["trust", "supplier", "category", "line", "switch_cost"]].rename(columns={"switch_cost": "cost"})
    line_rows = sw[sw["line"].notna()].merge(new[["trust", "line"]], on=["trust", "line"])
    line_level = pd.concat([fallback.assign(kind=None), line_rows[cols]], ignore_index=True)

    held = cur.loc[cur["units"] > 0, ["trust", "supplier", "category"]].drop_duplicates()
    open_systems = new[["trust", "supplier", "category"]].drop_duplicates()
    sys_rows = sw[sw["line"].isna()].merge(open_systems, on=["trust", "supplier", "category"])
    sys_rows = sys_rows.merge(held, on=["trust", "supplier", "category"], how="left", indicator="today")
    sys_rows = sys_rows[sys_rows["today"] == "left_only"]

    costs = pd.concat([sys_rows[cols], line_level[cols]], ignore_index=True)
    costs = costs[costs["cost"] > 0]
    # rows that share a key (a line row of kind None and the fallback) add up;
    # None is not a groupby key, so group on a placeholder and restore it
    key = costs[SWITCHING_KEY].astype(object).where(costs[SWITCHING_KEY].notna(), "")
    costs = costs.assign(**{c: key[c] for c in SWITCHING_KEY}).groupby(SWITCHING_KEY, as_index=False)["cost"].sum()
    for c in ("line", "kind"):
        values = costs[c].to_numpy(dtype=object)
        costs[c] = pd.Series(np.where(values == "", None, values), index=costs.index, dtype=object)
    systems = costs[costs["line"].isna()].groupby(["trust", "supplier", "category"], as_index=False)["cost"].sum()
    return costs.reset_index(drop=True), systems


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
    cur = problem.current.merge(lines[["line", "group", "category", "supplier", "regional_price"]], on="line")
    base_tg = ((cur["units"] * cur["unit_price"]).groupby([cur["trust"], cur["group"]]).sum()).rename("baseline")
    tg = problem.demand.rename(columns={"units": "demand"}).merge(problem.groups, on="group")
    tg = tg.merge(base_tg.reset_index(), on=["trust", "group"], how="left")
    tg["baseline"] = tg["baseline"].fillna(0.0)

    # usable pairs on groups the trust has demand in
    cand = problem.candidates[usable_mask(problem.candidates, s)]
    pairs = cand.merge(lines, on="line").merge(tg[["trust", "group", "demand"]], on=["trust", "group"])
    pairs = pairs.merge(offer_of[["line", "offer", "basis"]], on="line", how="left")
    used_today = cur.loc[cur["units"] > 0, ["trust", "line"]].assign(used_today=True)
    pairs = pairs.merge(used_today, on=["trust", "line"], how="left")
    pairs["is_new"] = pairs["used_today"].isna()
    pairs = pairs.rename(columns={"regional_price": "price"})
    switching_costs, systems = switching_tables(problem, pairs, cur)
    per_line = switching_costs[switching_costs["line"].notna()].groupby(["trust", "line"])["cost"].sum()
    pair_index = pd.MultiIndex.from_frame(pairs[["trust", "line"]])
    pairs["switch_cost"] = per_line.reindex(pair_index).fillna(0.0).to_numpy()
    per_system = systems.set_index(["trust", "supplier", "category"])["cost"]
    system_index = pd.MultiIndex.from_frame(pairs[["trust", "supplier", "category"]])
    pairs["system_cost"] = per_system.reindex(system_index).fillna(0.0).to_numpy()

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
            "system_cost",
        ]
    ].reset_index(drop=True)
    n_usable = pairs.groupby(["trust", "group"]).size().rename("n_usable")
    tg = tg.merge(n_usable.reset_index(), on=["trust", "group"], how="left")
    tg["n_usable"] = tg["n_usable"].fillna(0).astype(int)

    # (trust, category): demand, baseline, and the contracts in force
    tc = tg.groupby(["trust", "category"], as_index=False).agg(demand=("demand", "sum"), baseline=("baseline", "sum"))
    contracts = contract_terms(problem, cur, tc)
    by_tc = contracts.groupby(["trust", "category"])
    tc = tc.merge(
        by_tc.agg(earliest=("allowed_from", "max"), n_contracts=("contract", "size")).reset_index(),
        on=["trust", "category"],
        how="left",
    )
    tc["earliest"] = tc["earliest"].fillna(0.0).clip(lower=0.0)
    tc["n_contracts"] = tc["n_contracts"].fillna(0).astype(int)

    # trusts whose year-one cap can bind: more demand could move to new lines than the cap
    if s.year_one_cap is not None and s.active("year_one_cap"):
        new = pairs[pairs["is_new"]].drop_duplicates(["trust", "group"])
        movable = new.groupby("trust")["demand"].sum()
        total = tg.groupby("trust")["demand"].sum().reindex(movable.index)
        y1 = movable[movable > s.year_one_cap * total * (1 + 1e-9)].index
        year_one = pd.DataFrame({"trust": list(y1), "cap": float(s.year_one_cap)})
    else:
        year_one = pd.DataFrame({"trust": pd.Series(dtype=object), "cap": pd.Series(dtype=float)})

    # candidate join months (piece ends, see join_months) and their one-off costs
    y1 = tc["trust"].isin(year_one["trust"]).to_numpy()
    every = s.max_joins_per_quarter is not None and s.active("join_capacity")
    finite_ext = contracts["extension_months"] < np.inf
    cut_rows = pd.concat(
        [
            contracts[["trust", "category", "end_month"]].rename(columns={"end_month": "cut"}),
            contracts.loc[finite_ext, ["trust", "category"]].assign(
                cut=contracts["end_month"][finite_ext] + contracts["extension_months"][finite_ext]
            ),
            contracts.loc[
                contracts["earliest_exit"].notna() & np.isfinite(contracts["earliest_exit"]),
                ["trust", "category", "earliest_exit"],
            ].rename(columns={"earliest_exit": "cut"}),
        ],
        ignore_index=True,
    )
    cuts = cut_rows.groupby(["trust", "category"])["cut"].agg(lambda c: tuple(int(v) for v in c))
    cuts = cuts.reindex(pd.MultiIndex.from_frame(tc[["trust", "category"]])).tolist()
    # one call per (trust, category): a few hundred nationally
    options = [
        pd.DataFrame(
            {
                "row": i,
                "month": join_months(
                    s, 0, flag, cuts=c if isinstance(c, tuple) else (), earliest=int(np.ceil(e)), every=every
                ),
            }
        )
        for i, (flag, c, e) in enumerate(zip(y1, cuts, tc["earliest"].to_numpy(), strict=True))
    ]
    jo = (
        pd.concat(options, ignore_index=True)
        if options
        else pd.DataFrame({"row": pd.Series(dtype=int), "month": pd.Series(dtype=int)})
    )
    jo["month"] = jo["month"].astype(int)
    jo = jo.merge(tc[["trust", "category"]].reset_index(names="row"), on="row").drop(columns="row")
    jo["months_on"] = s.horizon_months - jo["month"]
    contract_options = contract_costs(contracts, jo[["trust", "category", "month"]])
    per_tc = contract_options.groupby(["trust", "category", "month"], as_index=False)[
        ["exit_fee", "bridging", "off_contract"]
    ].sum()
    jo = jo.merge(per_tc, on=["trust", "category", "month"], how="left")
    jo = jo.fillna({"exit_fee": 0.0, "bridging": 0.0, "off_contract": 0.0})
    join_options = jo[["trust", "category", "month", "months_on", "exit_fee", "bridging", "off_contract"]]

    # suppliers per category, and the rule settings per category
    sc = (
        pairs.groupby(["supplier", "category", "trust", "group"], as_index=False)["demand"]
        .first()
        .groupby(["supplier", "category"], as_index=False)["demand"]
        .sum()
        .rename(columns={"demand": "max_units"})
    )
    cats = tc.groupby("category", as_index=False)["demand"].sum()
    cats["min_suppliers"] = [s.category_min_suppliers(c) if s.active("min_suppliers") else 0 for c in cats["category"]]
    n_sup = sc.groupby("category").size().rename("n_suppliers")
    cats = cats.merge(n_sup.reset_index(), on="category", how="left")
    cats["n_suppliers"] = cats["n_suppliers"].fillna(0).astype(int)

    return ModelData(
        problem=problem,
        pairs=pairs,
        tg=tg,
        tc=tc,
        contracts=contracts,
        join_options=join_options.reset_index(drop=True),
        contract_options=contract_options.reset_index(drop=True),
        tiers=tiers.reset_index(drop=True),
        toc=toc,
        supplier_category=sc,
        categories=cats,
        current=cur,
        year_one=year_one,
        switching_costs=switching_costs,
        systems=systems,
    )
