"""Solution tables, computed from decisions as reports (never queried from a solver).

:func:`solution_frames` takes the three kinds of decision, the allocation
:math:`x_{tl}`, the tier of each offer and the join month of each (trust, category),
and derives every reported figure from them and the input tables. The MILP
(:mod:`solver.solve`) and the greedy heuristic (:mod:`solver.greedy`) both report
through it, so their figures are comparable, and the objective reported is exactly
the sum of the savings by cause and of the timeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from solver.data import ModelData

CAUSES: tuple[str, ...] = (
    "price_harmonisation",
    "volume_tiers",
    "standardisation",
    "switching_costs",
    "exit_fees",
    "bridging_costs",
    "off_contract_costs",
)

SWITCHING_CAUSES: dict[str | None, str] = {
    "instruments": "switching_instruments",
    "training": "switching_training",
    "consignment": "switching_consignment",
    "other": "switching_other",
    None: "switching_unclassified",
}
"""The ``switching_costs`` cause split by kind of cost (frame ``switching_by_kind``);
None is a cost given without a kind, the fallback per new line included."""

COLUMNS: dict[str, list[str]] = {
    "allocation": [
        "trust",
        "line",
        "group",
        "category",
        "supplier",
        "units",
        "regional_price",
        "discount",
        "net_price",
        "annual_cost",
        "is_new",
    ],
    "range": ["line", "group", "supplier", "kept", "units"],
    "tiers_reached": ["offer", "supplier", "threshold", "discount", "volume"],
    "joins": [
        "trust",
        "category",
        "joins",
        "join_month",
        "months_on",
        "exit_fee_paid",
        "bridging_cost",
        "off_contract_cost",
        "annual_baseline",
        "annual_regional_cost",
    ],
    "contracts": [
        "trust",
        "category",
        "contract",
        "supplier",
        "end_month",
        "join_month",
        "earliest_exit_month",
        "notice_by_month",
        "exit_fee_gbp",
        "bridging_months",
        "bridging_gbp",
        "off_contract_months",
        "off_contract_gbp",
        "monthly_spend_gbp",
        "monthly_savings_gbp",
        "reason_code",
        "wait_reason",
    ],
    "savings": ["trust", "category", "cause", "amount"],
    "timeline": ["trust", "category", "month", "savings"],
    "headline": ["measure", "amount"],
    "switching": ["trust", "supplier", "category", "line", "kind", "cost_gbp"],
    "switching_by_kind": ["trust", "category", "cause", "amount"],
}

UNITS_EPS = 1e-6
"""Allocations below this many units are read as zero."""


def empty_frames() -> dict[str, pd.DataFrame]:
    """Empty solution frames with the right columns."""
    return {name: pd.DataFrame(columns=cols) for name, cols in COLUMNS.items()}


@dataclass
class Solution:
    """Result of one solve (MILP or heuristic).

    ``status`` is one of "optimal", "feasible", "time_limit", "gap_limit", "infeasible",
    "unbounded", "not_solved", "error" for the MILP, and "feasible" or "not_solved"
    for the greedy heuristic. ``objective`` is the net savings over the horizon in
    GBP recomputed from the reported decisions (``None`` without a solution);
    ``solver_objective`` is what the solver reported for the same plan. ``gap`` is
    ``(best_bound - solver_objective) / max(1, |solver_objective|)``. ``lp_bound``
    (LP relaxation: an upper bound) and ``greedy_objective`` (a lower bound) are the
    quality figures. ``global_bound`` bounds the net savings of every plan of the whole
    problem, screened or not (``global_bound_method`` says how it was obtained), and
    ``global_gap`` is ``(global_bound - objective) / max(1, |objective|)``; the status is
    "optimal" only when that gap is within ``gap_tolerance``, and "feasible" when the
    solver proved a stage optimal but the whole problem's gap is wider. Frames are empty
    (with their columns) when there is no solution.

    ``switching`` lists every switching cost the plan pays, one row per (trust,
    supplier, category, line, kind): line None for a system cost, kind None when not
    given (the fallback per new line has kind None), cost_gbp > 0. Its total per
    (trust, category) is minus the ``switching_costs`` cause of ``savings``;
    ``switching_by_kind`` splits that cause by kind (:data:`SWITCHING_CAUSES`, rows
    with a non-zero amount only), so it adds up to the cause to the penny.

    ``contracts`` has one row per current contract (see :func:`contract_report`).
    """

    status: str
    message: str = ""
    solver: str = ""
    objective: float | None = None
    best_bound: float | None = None
    gap: float | None = None
    build_seconds: float = 0.0
    solve_seconds: float = 0.0
    n_variables: int = 0
    n_constraints: int = 0
    solver_objective: float | None = None
    lp_bound: float | None = None
    greedy_objective: float | None = None
    candidate_lines: int | None = None
    usable_lines: int | None = None
    global_bound: float | None = None
    global_bound_method: str = ""
    global_gap: float | None = None
    gap_tolerance: float = 1e-4
    allocation: pd.DataFrame = field(default_factory=lambda: empty_frames()["allocation"])
    range: pd.DataFrame = field(default_factory=lambda: empty_frames()["range"])
    tiers_reached: pd.DataFrame = field(default_factory=lambda: empty_frames()["tiers_reached"])
    joins: pd.DataFrame = field(default_factory=lambda: empty_frames()["joins"])
    contracts: pd.DataFrame = field(default_factory=lambda: empty_frames()["contracts"])
    savings: pd.DataFrame = field(default_factory=lambda: empty_frames()["savings"])
    timeline: pd.DataFrame = field(default_factory=lambda: empty_frames()["timeline"])
    headline: pd.DataFrame = field(default_factory=lambda: empty_frames()["headline"])
    switching: pd.DataFrame = field(default_factory=lambda: empty_frames()["switching"])
    switching_by_kind: pd.DataFrame = field(default_factory=lambda: empty_frames()["switching_by_kind"])

    @property
    def has_solution(self) -> bool:
        return self.objective is not None

    def headline_amount(self, measure: str) -> float | None:
        """``"full_year_run_rate"`` or ``"in_year"`` from :attr:`headline`."""
        hit = self.headline.loc[self.headline["measure"] == measure, "amount"]
        return float(hit.iloc[0]) if len(hit) else None


def all_tiers(data: ModelData) -> pd.DataFrame:
    """Every tier of every offer, tier 0 included: offer, k, threshold, discount."""
    p = data.problem
    zero = pd.DataFrame({"offer": p.offers["offer"], "threshold": 0.0, "discount": 0.0})
    tiers = pd.concat([zero, p.tiers], ignore_index=True).sort_values(["offer", "threshold"])
    tiers["k"] = tiers.groupby("offer").cumcount()
    return tiers.reset_index(drop=True)


def reached_tiers(data: ModelData, volume: pd.Series) -> pd.Series:
    """Highest tier whose threshold ``volume`` (per offer) reaches: offer -> k."""
    tiers = all_tiers(data)
    vol = volume.reindex(tiers["offer"]).fillna(0.0).to_numpy()
    ok = tiers["threshold"].to_numpy() <= vol * (1 + 1e-9) + 1e-9
    return tiers[ok].groupby("offer")["k"].max()


def offer_volumes(data: ModelData, alloc: pd.DataFrame) -> pd.Series:
    """Qualifying volume per offer (units, or spend at regional price) of ``alloc``."""
    offers = data.problem.offers
    ol = data.problem.offer_lines.merge(offers[["offer", "basis"]], on="offer")
    a = alloc[["line", "units", "regional_price"]].merge(ol, on="line")
    amount = np.where(a["basis"] == "units", a["units"], a["units"] * a["regional_price"])
    vol = pd.Series(amount, index=a.index).groupby(a["offer"]).sum()
    return vol.reindex(offers["offer"]).fillna(0.0)


def clean_allocation(data: ModelData, x: pd.Series, joined: pd.Series) -> pd.Series:
    """Zero out solver noise and rescale so each joined (trust, group) meets demand exactly.

    ``x`` is on the (trust, line) index of usable pairs; ``joined`` is a boolean
    Series on (trust, category).
    """
    pairs = data.pairs
    units = np.clip(x.reindex(pd.MultiIndex.from_frame(pairs[["trust", "line"]])).to_numpy(dtype=float), 0.0, None)
    units = np.where(units < UNITS_EPS, 0.0, units)
    on = joined.reindex(pd.MultiIndex.from_frame(pairs[["trust", "category"]])).fillna(False)
    units = np.where(on.to_numpy(dtype=bool), units, 0.0)
    total = pd.Series(units).groupby([pairs["trust"], pairs["group"]]).transform("sum")
    total = total.to_numpy()
    scale = np.divide(pairs["demand"].to_numpy(dtype=float), total, out=np.zeros(len(total)), where=total > 0)
    return pd.Series(units * scale, index=pd.MultiIndex.from_frame(pairs[["trust", "line"]]))


def solution_frames(
    data: ModelData,
    x: pd.Series,
    join_month: pd.Series,
    tier: pd.Series | None = None,
) -> tuple[float, dict[str, pd.DataFrame]]:
    """Report frames and the net savings of a plan.

    Parameters
    ----------
    x
        Annual units per usable (trust, line) (already cleaned).
    join_month
        Join month per (trust, category); NaN for "never".
    tier
        Chosen tier ``k`` per offer; ``None``: the highest tier the volume reaches.

    Returns
    -------
    objective, frames
        Net savings over the horizon (GBP) and the frames named in :data:`COLUMNS`.
    """
    s = data.settings
    h = s.horizon_months
    pairs = data.pairs.copy()
    pairs["units"] = x.reindex(pd.MultiIndex.from_frame(pairs[["trust", "line"]])).to_numpy(dtype=float)
    alloc = pairs[pairs["units"] > 0].rename(columns={"price": "regional_price"})

    # tiers and the discount each line gets
    volume = offer_volumes(data, alloc)
    tiers_all = all_tiers(data)
    chosen = reached_tiers(data, volume) if tier is None else tier
    chosen = chosen.reindex(data.problem.offers["offer"]).fillna(0).astype(int)
    picked = pd.DataFrame({"offer": chosen.index, "k": chosen.to_numpy()}).merge(
        tiers_all, on=["offer", "k"], how="left"
    )
    tiers_reached = picked.merge(data.problem.offers[["offer", "supplier"]], on="offer")
    tiers_reached["volume"] = volume.reindex(tiers_reached["offer"]).to_numpy()
    tiers_reached = tiers_reached[COLUMNS["tiers_reached"]]
    line_disc = data.problem.offer_lines.merge(picked[["offer", "discount"]], on="offer")
    alloc = alloc.drop(columns=["offer"]).merge(line_disc[["line", "discount"]], on="line", how="left")
    alloc["discount"] = alloc["discount"].fillna(0.0)
    alloc["net_price"] = alloc["regional_price"] * (1 - alloc["discount"])
    alloc["annual_cost"] = alloc["units"] * alloc["net_price"]
    alloc = alloc.sort_values(["trust", "category", "group", "line"]).reset_index(drop=True)

    # joins
    tc = data.tc.copy()
    tc["join_month"] = join_month.reindex(pd.MultiIndex.from_frame(tc[["trust", "category"]])).to_numpy(dtype=float)
    tc["joins"] = tc["join_month"].notna()
    opts = data.join_options.rename(
        columns={
            "month": "join_month",
            "exit_fee": "fee_paid",
            "bridging": "bridging_paid",
            "off_contract": "off_contract_paid",
        }
    )
    opts["join_month"] = opts["join_month"].astype(float)
    tc = tc.merge(opts, on=["trust", "category", "join_month"], how="left")
    tc = tc.fillna({"months_on": 0, "fee_paid": 0.0, "bridging_paid": 0.0, "off_contract_paid": 0.0})
    by_tc = alloc.groupby(["trust", "category"])
    annual_cost = by_tc["annual_cost"].sum()
    regional_list = (alloc["units"] * alloc["regional_price"]).groupby([alloc["trust"], alloc["category"]]).sum()
    tiers_disc = (
        (alloc["units"] * alloc["regional_price"] * alloc["discount"])
        .groupby([alloc["trust"], alloc["category"]])
        .sum()
    )
    paid = switching_paid(data, alloc)
    switching = paid["cost_gbp"].groupby([paid["trust"], paid["category"]]).sum()
    cur = data.current
    cur_paid = (cur["units"] * cur["unit_price"]).groupby([cur["trust"], cur["category"]]).sum()
    cur_regional = (cur["units"] * cur["regional_price"]).groupby([cur["trust"], cur["category"]]).sum()
    idx = pd.MultiIndex.from_frame(tc[["trust", "category"]])

    def at(series: pd.Series) -> np.ndarray:
        return series.reindex(idx).fillna(0.0).to_numpy(dtype=float)

    joined = tc["joins"].to_numpy()
    factor = np.where(joined, tc["months_on"].to_numpy(dtype=float) / 12.0, 0.0)
    tc["annual_regional_cost"] = np.where(joined, at(annual_cost), 0.0)
    tc["switching"] = np.where(joined, at(switching), 0.0)
    tc["rate"] = np.where(joined, tc["baseline"] - tc["annual_regional_cost"], 0.0)
    causes = {
        "price_harmonisation": factor * (at(cur_paid) - at(cur_regional)),
        "volume_tiers": factor * at(tiers_disc),
        "standardisation": factor * (at(cur_regional) - at(regional_list)),
        "switching_costs": -tc["switching"].to_numpy(),
        "exit_fees": -tc["fee_paid"].to_numpy(dtype=float),
        "bridging_costs": -tc["bridging_paid"].to_numpy(dtype=float),
        "off_contract_costs": -tc["off_contract_paid"].to_numpy(dtype=float),
    }
    savings = pd.concat(
        [tc[["trust", "category"]].assign(cause=cause, amount=amount) for cause, amount in causes.items()],
        ignore_index=True,
    )
    joins = pd.DataFrame(
        {
            "trust": tc["trust"],
            "category": tc["category"],
            "joins": joined,
            "join_month": pd.array(np.where(joined, tc["join_month"].fillna(-1), 0).astype(int), dtype="Int64"),
            "months_on": tc["months_on"].astype(int),
            "exit_fee_paid": tc["fee_paid"].astype(float),
            "bridging_cost": tc["bridging_paid"].astype(float),
            "off_contract_cost": tc["off_contract_paid"].astype(float),
            "annual_baseline": tc["baseline"].astype(float),
            "annual_regional_cost": tc["annual_regional_cost"],
        }
    )
    joins.loc[~joins["joins"], "join_month"] = pd.NA

    # timeline: monthly net savings, one-off costs in the month they fall; bridging
    # and off-contract costs in the months they cover, contract by contract
    months = np.arange(h)
    jm = np.where(joined, tc["join_month"].fillna(h).to_numpy(), h)[:, None]
    on = months[None, :] >= jm
    monthly = np.where(on, tc["rate"].to_numpy()[:, None] / 12.0, 0.0)
    one_off = (tc["fee_paid"] + tc["switching"]).to_numpy(dtype=float)[:, None]
    monthly = monthly - np.where(months[None, :] == jm, one_off, 0.0)
    ct = data.contracts.merge(tc[["trust", "category"]].reset_index(names="row"), on=["trust", "category"])
    if len(ct):
        cjm = jm[ct["row"].to_numpy(), 0][:, None]
        end = ct["end_month"].to_numpy(dtype=float)[:, None]
        ext_end = end + ct["extension_months"].to_numpy(dtype=float)[:, None]
        joined_c = joined[ct["row"].to_numpy()][:, None]
        bridging_month = joined_c & (months[None, :] >= end) & (months[None, :] < ext_end) & (months[None, :] < cjm)
        off_month = joined_c & (months[None, :] >= ext_end) & (months[None, :] < cjm)
        premium = np.clip(ct["list_spend"] - ct["spend"], 0.0, None).to_numpy()[:, None]
        cost = np.where(bridging_month, (ct["uplift"] * ct["spend"]).to_numpy()[:, None], 0.0)
        cost = cost + np.where(off_month, premium, 0.0)
        np.subtract.at(monthly, ct["row"].to_numpy(), cost)
    timeline = pd.DataFrame(
        {
            "trust": np.repeat(tc["trust"].to_numpy(), h),
            "category": np.repeat(tc["category"].to_numpy(), h),
            "month": np.tile(months, len(tc)),
            "savings": monthly.ravel(),
        }
    )

    objective = float(savings["amount"].sum())
    headline = pd.DataFrame(
        {
            "measure": ["full_year_run_rate", "in_year", "horizon_net"],
            "amount": [
                float(tc["rate"].sum()),
                float(monthly[:, : min(12, h)].sum()),
                objective,
            ],
        }
    )

    # the regional range: every catalogue line, kept if it carries units
    units_by_line = alloc.groupby("line")["units"].sum()
    rng = data.problem.lines[["line", "group", "supplier"]].copy()
    rng["units"] = units_by_line.reindex(rng["line"]).fillna(0.0).to_numpy()
    rng["kept"] = rng["units"] > 0
    frames = {
        "allocation": alloc[COLUMNS["allocation"]],
        "range": rng[COLUMNS["range"]].reset_index(drop=True),
        "tiers_reached": tiers_reached.reset_index(drop=True),
        "joins": joins.reset_index(drop=True),
        "contracts": contract_report(data, tc, joined),
        "savings": savings[COLUMNS["savings"]],
        "timeline": timeline,
        "headline": headline,
        "switching": paid,
        "switching_by_kind": switching_by_kind(paid),
    }
    return objective, frames


def switching_paid(data: ModelData, alloc: pd.DataFrame) -> pd.DataFrame:
    """The switching costs a plan pays (frame ``switching``, see :class:`Solution`).

    ``alloc`` holds the (trust, line) pairs carrying units, of joined (trust,
    category) only. A line-level cost is paid when its (trust, line) carries units;
    a system cost when the trust uses any line of the system (only systems it does
    not hold today have system rows in ``data.switching_costs``).
    """
    costs = data.switching_costs
    lines = costs[costs["line"].notna()].merge(alloc[["trust", "line"]].drop_duplicates(), on=["trust", "line"])
    used = alloc[["trust", "supplier", "category"]].drop_duplicates()
    systems = costs[costs["line"].isna()].merge(used, on=["trust", "supplier", "category"])
    paid = pd.concat([systems, lines], ignore_index=True).rename(columns={"cost": "cost_gbp"})
    paid = paid.sort_values(["trust", "category", "supplier", "line"], na_position="first", kind="stable")
    return paid[COLUMNS["switching"]].reset_index(drop=True)


def switching_by_kind(paid: pd.DataFrame) -> pd.DataFrame:
    """``switching_costs`` per (trust, category) split by kind: trust, category, cause, amount (< 0)."""
    if paid.empty:
        return empty_frames()["switching_by_kind"]
    kind = paid["kind"].to_numpy(dtype=object)
    cause = pd.Series(kind, dtype=object).map(SWITCHING_CAUSES).to_numpy(dtype=object)
    cause = np.where(pd.isna(kind), SWITCHING_CAUSES[None], cause)
    out = (
        (-paid["cost_gbp"])
        .groupby([paid["trust"].to_numpy(), paid["category"].to_numpy(), cause])
        .sum()
        .rename_axis(["trust", "category", "cause"])
        .reset_index(name="amount")
    )
    return out[out["amount"] != 0][COLUMNS["switching_by_kind"]].reset_index(drop=True)


def contract_report(data: ModelData, tc: pd.DataFrame, joined: np.ndarray) -> pd.DataFrame:
    """One row per current contract: its join month, costs and why it moves then.

    ``tc``: the (trust, category) rows of :func:`solution_frames` with join_month and
    rate. Figures come from ``data.contract_options`` at the chosen month.
    ``reason_code``:

    - ``not_joined``: the (trust, category) stays as today;
    - ``no_early_exit``: this contract cannot end early and its end sets the join;
    - ``notice``: this contract's earliest exit (decision month + notice, or its end
      when the notice runs past it) sets the join;
    - ``leaves_early``: leaves before its end, paying ``exit_fee_gbp``, worth it
      against ``monthly_savings_gbp`` of the (trust, category);
    - ``at_end``: joins at the first grid month on or after its end;
    - ``bridged``: joins later than its end, bridged by the extension (then off
      contract), for the ``wait_reason``;
    - ``capacity``: joins later than the contracts allow because an earlier quarter
      was full (``max_joins_per_quarter``).

    ``wait_reason`` (for ``bridged``, ``at_end``, ``leaves_early``, ``capacity``):
    ``other_contract`` (another contract of the same (trust, category) cannot end
    earlier), ``capacity``, ``year_one_cap`` or ``savings`` (waiting saves more);
    None when the join is at the earliest month the contracts allow.
    """
    s = data.settings
    cols = COLUMNS["contracts"]
    ct = data.contracts.merge(
        tc[["trust", "category", "join_month", "rate", "earliest"]].assign(joins=joined), on=["trust", "category"]
    )
    if ct.empty:
        return pd.DataFrame(columns=cols)
    opts = data.contract_options.rename(columns={"month": "join_month"})
    opts["join_month"] = opts["join_month"].astype(float)
    ct = ct.merge(opts, on=["trust", "category", "contract", "join_month"], how="left", suffixes=("_term", ""))
    ct.loc[~ct["joins"], ["exit_fee", "bridging", "off_contract", "bridging_months", "off_contract_months"]] = 0
    ct = ct.fillna(
        {"exit_fee": 0.0, "bridging": 0.0, "off_contract": 0.0, "bridging_months": 0, "off_contract_months": 0}
    )
    step = s.join_grid_months
    on_grid = lambda v: np.ceil(np.clip(v, 0, None) / step) * step  # noqa: E731 - first grid month >= v
    jm = ct["join_month"].to_numpy(dtype=float)
    end = ct["end_month"].to_numpy(dtype=float)
    first_allowed = on_grid(ct["earliest"].to_numpy(dtype=float))
    own_first = on_grid(ct["allowed_from"].to_numpy(dtype=float))
    binding = (
        ct["joins"].to_numpy()
        & (jm == first_allowed)
        & (own_first == first_allowed)
        & (ct["allowed_from"].to_numpy(dtype=float) > 0)
    )
    early = ct["early_exit"].to_numpy(dtype=bool)
    code = np.select(
        [~ct["joins"].to_numpy(), binding & ~early, binding, jm < end, jm <= on_grid(end)],
        ["not_joined", "no_early_exit", "notice", "leaves_early", "at_end"],
        "bridged",
    ).astype(object)

    # why a join waits beyond the earliest month the contracts allow
    later = ct["joins"].to_numpy() & (jm > first_allowed)
    other = ct["joins"].to_numpy() & (jm == first_allowed) & ~binding & (first_allowed > on_grid(end))
    full = np.zeros(len(ct), dtype=bool)
    cap = s.max_joins_per_quarter
    if cap is not None and s.active("join_capacity"):
        q_count = pd.Series(np.floor(tc.loc[joined, "join_month"].to_numpy(dtype=float) / 3)).value_counts()
        first_q = np.floor(first_allowed / 3).astype(int)
        last_q = np.floor(np.where(later, jm, 0) / 3).astype(int)
        quarters = np.arange((s.horizon_months + 2) // 3)
        is_full = q_count.reindex(quarters).fillna(0).to_numpy() >= cap
        # a full quarter between the earliest allowed join and the join it got
        between = (quarters[None, :] >= first_q[:, None]) & (quarters[None, :] < last_q[:, None])
        full = later & (between & is_full[None, :]).any(axis=1)
    y1 = ct["trust"].isin(data.year_one["trust"]).to_numpy() & (first_allowed < min(12, s.horizon_months))
    wait = np.select(
        [other, later & full, later & y1, later],
        ["other_contract", "capacity", "year_one_cap", "savings"],
        np.array(None, dtype=object),  # no reason: None (numpy's stubs want an array, not bare None)
    ).astype(object)
    code = np.where((wait == "capacity") & np.isin(code, ["leaves_early", "at_end", "bridged"]), "capacity", code)

    notice_by = np.minimum(jm, end) - ct["notice_months"].to_numpy(dtype=float)
    earliest_exit = ct["earliest_exit"].to_numpy(dtype=float)
    out = pd.DataFrame(
        {
            "trust": ct["trust"],
            "category": ct["category"],
            "contract": ct["contract"],
            "supplier": ct["supplier"],
            "end_month": ct["end_month"].astype(int),
            "join_month": pd.array(np.where(ct["joins"], jm, np.nan), dtype="Float64").astype("Int64"),
            "earliest_exit_month": pd.array(
                np.where(np.isfinite(earliest_exit), np.clip(earliest_exit, 0, None), np.nan), dtype="Float64"
            ).astype("Int64"),
            "notice_by_month": pd.array(np.where(ct["joins"], notice_by, np.nan), dtype="Float64").astype("Int64"),
            "exit_fee_gbp": ct["exit_fee"].astype(float),
            "bridging_months": ct["bridging_months"].astype(int),
            "bridging_gbp": ct["bridging"].astype(float),
            "off_contract_months": ct["off_contract_months"].astype(int),
            "off_contract_gbp": ct["off_contract"].astype(float),
            "monthly_spend_gbp": ct["spend"].astype(float),
            "monthly_savings_gbp": (ct["rate"] / 12.0).astype(float),
            "reason_code": code,
            "wait_reason": wait,
        }
    )
    out["wait_reason"] = out["wait_reason"].astype(object).where(out["wait_reason"].notna(), None)
    return out[cols].sort_values(["trust", "category", "contract"]).reset_index(drop=True)
