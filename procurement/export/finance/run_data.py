"""The runs a finance workbook is written from: each scenario's latest solved run as frames.

The stored result tables come through :func:`procurement.scenarios.runs.run_results` (the one
reader of a run's results); this module adds what the workbook needs on top: the
current contracts' end dates, the product range with today's usage, and savings by
cause, in-year and full-year per (trust, category).
"""

import datetime as dt
import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlmodel import Session, col

from procurement.demand import usage_by_line
from procurement.models import Category, Contract, RunAllocation, ScenarioRun, Trust
from procurement.reference import frame
from procurement.scenarios import ScenarioError, ScenarioSettings, month_offset
from procurement.scenarios.runs import CAUSES, latest_run_id, run_results


@dataclass
class RunData:
    """One scenario's latest solved run, as the frames the sheets are written from."""

    name: str
    run: ScenarioRun
    settings: dict
    start: dt.date
    horizon: int
    savings: pd.DataFrame  # trust, category, cause, amount
    years: pd.DataFrame  # trust, category, financial_year, amount
    joins: pd.DataFrame  # trust, category, joins, join_month, join_date, ... , contract_end, end_month
    lines: pd.DataFrame  # category, group, line, supplier, brand, status, units, current_units, ...
    per_tc: pd.DataFrame  # trust, category, causes..., in_year, full_year, baseline, proposed
    contracts: pd.DataFrame  # one row per current contract (RunContract; empty for runs before 0005)
    common_end: dt.date  # the regional agreement's last day, for every trust
    # trust, supplier, category, line (None: a system cost), cost_gbp, kind: the switching costs paid
    switching: pd.DataFrame = field(default_factory=pd.DataFrame)


def month_start(start: dt.date, months: int) -> dt.date:
    """The first day of the month ``months`` after ``start``'s month."""
    total = start.month - 1 + months
    return dt.date(start.year + total // 12, total % 12 + 1, 1)


def _settings_of(run: ScenarioRun) -> tuple[dict, dt.date, int]:
    settings = json.loads(run.settings or "{}")
    defaults = ScenarioSettings()
    start = dt.date.fromisoformat(str(settings.get("start_date", defaults.start_date)))
    return settings, start, int(settings.get("horizon_months", defaults.horizon_months))


def load_run(session: Session, name: str, usage: pd.DataFrame | None = None) -> RunData:
    """The latest run of scenario ``name``; a run without a solution is a ScenarioError.

    ``usage`` is ``demand.usage_by_line`` for every trust (read once for many scenarios).
    """
    run_id = latest_run_id(session, name)
    run = session.get_one(ScenarioRun, run_id)
    if run.objective is None:
        why = f": {run.message}" if run.message else ""
        raise ScenarioError(
            f"scenario {name!r}: its latest run (#{run.id}) is {run.status} with no solution to export{why}"
        )
    settings, start, horizon = _settings_of(run)
    results = run_results(session, run_id)
    savings = results["savings"]
    years = results["years"].sort_values(["trust", "category", "financial_year"]).reset_index(drop=True)
    joins = results["joins"].sort_values(["trust", "category"]).reset_index(drop=True)
    joins["joins"] = joins["joins"].astype(bool)
    contracts = results["contracts"].sort_values(["trust", "category", "supplier"]).reset_index(drop=True)
    if len(contracts):
        # the run's own copy of the contracts it was solved with (a later register may differ)
        ends = contracts.groupby(["trust", "category"], as_index=False).agg(
            contract_end=("current_end", "max"), end_month=("end_month", "max")
        )
        ends["end_month"] = ends["end_month"].clip(lower=0)
    else:  # a run stored before per-contract results: today's register
        ends = _contract_ends(session, start, list(joins["trust"].unique()))
    joins = joins.merge(ends, on=["trust", "category"], how="left")
    joins["end_month"] = joins["end_month"].fillna(0).astype(int)
    usage = usage_by_line(session) if usage is None else usage
    lines = _range_lines(session, run_id, results["lines"], usage[usage["trust"].isin(set(joins["trust"]))])
    per_tc = _per_trust_category(savings, joins, years, start, horizon, contracts)
    common_end = run.common_end_date or month_start(start, horizon) - dt.timedelta(days=1)
    return RunData(
        name,
        run,
        settings,
        start,
        horizon,
        savings,
        years,
        joins,
        lines,
        per_tc,
        contracts,
        common_end,
        switching=results["switching"],
    )


def _contract_ends(session: Session, start: dt.date, trusts: list[str]) -> pd.DataFrame:
    """Per (trust, category): the latest end of the trust's current contracts, and in months from ``start``.

    The same reading as ``scenarios.build_problem`` (latest end, rounded up to whole
    months, never before the start).
    """
    contracts = frame(
        session,
        select(col(Trust.code).label("trust"), col(Category.code).label("category"), col(Contract.end))
        .join(Trust, col(Trust.id) == col(Contract.trust_id))
        .join(Category, col(Category.id) == col(Contract.category_id)),
    )
    contracts = contracts[contracts["trust"].isin(trusts)]
    if contracts.empty:
        return pd.DataFrame(columns=["trust", "category", "contract_end", "end_month"])
    contracts["end_month"] = [max(0, month_offset(start, e)) for e in contracts["end"]]  # one per contract
    return contracts.groupby(["trust", "category"], as_index=False).agg(
        contract_end=("end", "max"), end_month=("end_month", "max")
    )


def contract_costs_in_year(contracts: pd.DataFrame, year: int) -> pd.DataFrame:
    """Bridging and off-contract costs falling in months ``[0, year)``, per (trust, category).

    The solver's timeline, contract by contract: a contract's bridging cost is spread
    evenly over its ``bridging_months`` from ``max(end_month, 0)``; its off-contract
    cost over its ``off_contract_months`` just before the join month. Returns trust,
    category, cost.
    """
    c = contracts[contracts["join_month"].notna()]
    b0 = c["end_month"].clip(lower=0).to_numpy(dtype=float)
    bm = c["bridging_months"].to_numpy(dtype=float)
    om = c["off_contract_months"].to_numpy(dtype=float)
    jm = c["join_month"].to_numpy(dtype=float)

    def share(first: np.ndarray, n: np.ndarray) -> np.ndarray:
        inside = np.clip(np.minimum(first + n, year) - first, 0, None)
        return np.divide(inside, n, out=np.zeros(len(n)), where=n > 0)

    cost = c["bridging_gbp"].to_numpy() * share(b0, bm) + c["off_contract_gbp"].to_numpy() * share(jm - om, om)
    return (
        pd.DataFrame({"trust": c["trust"], "category": c["category"], "cost": cost})
        .groupby(["trust", "category"], as_index=False)["cost"]
        .sum()
    )


def in_year_from_contracts(
    joins: pd.DataFrame, switching: pd.Series, horizon: int, contracts: pd.DataFrame | None = None
) -> pd.Series:
    """Net savings in the first 12 months per row of ``joins``, rebuilt from the join decisions.

    The solver's timeline, month by month: the annual rate (baseline minus regional
    cost) / 12 from the join month on; the exit fee and switching costs in the join
    month; with the run's ``contracts``, each contract's bridging and off-contract
    costs in the months they cover (:func:`contract_costs_in_year`); without (runs
    stored before per-contract results), the bridging uplift spread evenly over the
    months from the contract end (``end_month``) to the join month.
    """
    year = min(12, horizon)
    joined = joins["joins"].to_numpy(dtype=bool)
    jm = joins["join_month"].fillna(horizon).to_numpy(dtype=float)
    rate = np.where(joined, joins["annual_baseline"] - joins["annual_regional_cost"], 0.0)
    on_in_year = np.clip(year - jm, 0, None)
    one_off = np.where(joined & (jm < year), joins["exit_fee_paid"].to_numpy() + switching.to_numpy(), 0.0)
    end = joins["end_month"].clip(lower=0).to_numpy(dtype=float)
    bridged = np.clip(jm - end, 0, None)
    bridged_in_year = np.clip(np.minimum(jm, year) - end, 0, None)
    bridging = np.divide(
        joins["bridging_cost"].to_numpy(dtype=float) * bridged_in_year,
        bridged,
        out=np.zeros(len(joins)),
        where=bridged > 0,
    )
    if contracts is not None and len(contracts):
        per_tc = contract_costs_in_year(contracts, year).set_index(["trust", "category"])["cost"]
        keys = pd.MultiIndex.from_frame(joins[["trust", "category"]])
        bridging = per_tc.reindex(keys).fillna(0.0).to_numpy()
    return pd.Series(rate * on_in_year / 12.0 - one_off - np.where(joined, bridging, 0.0), index=joins.index)


def _per_trust_category(
    savings: pd.DataFrame,
    joins: pd.DataFrame,
    years: pd.DataFrame,
    start: dt.date,
    horizon: int,
    contracts: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Causes, in-year and full-year per (trust, category)."""
    causes = (
        savings.pivot_table(index=["trust", "category"], columns="cause", values="amount", aggfunc="sum")
        .reindex(columns=list(CAUSES))
        .fillna(0.0)
    )
    causes.columns = list(causes.columns)
    keys = pd.MultiIndex.from_frame(joins[["trust", "category"]])
    out = joins[["trust", "category"]].copy()
    for cause in CAUSES:
        out[cause] = causes[cause].reindex(keys).fillna(0.0).to_numpy()
    out["in_year"] = in_year_from_contracts(joins, -out["switching_costs"], horizon, contracts).to_numpy()
    if start.month == 4 and horizon >= 12 and len(years):
        # An April start: the first 12 months are exactly the first NHS financial year,
        # read straight from the run's stored results (independent of today's contracts).
        first = years[years["financial_year"] == years["financial_year"].min()]
        first = first.groupby(["trust", "category"])["amount"].sum()
        out["in_year"] = first.reindex(keys).fillna(0.0).to_numpy()
    out["full_year"] = np.where(joins["joins"], joins["annual_baseline"] - joins["annual_regional_cost"], 0.0)
    # A year's spend today and on the plan (a trust that stays out keeps its baseline):
    # baseline - proposed is the full-year run rate.
    out["baseline"] = joins["annual_baseline"].to_numpy(dtype=float)
    out["proposed"] = out["baseline"] - out["full_year"]
    return out


def _range_lines(session: Session, run_id: int, lines: pd.DataFrame, usage: pd.DataFrame) -> pd.DataFrame:
    """The run's candidate lines with kept / dropped / new, trusts on them and today's usage."""
    lines = lines.copy()
    alloc = frame(
        session,
        select(
            col(RunAllocation.line_id), col(RunAllocation.trust_id), col(RunAllocation.units), col(RunAllocation.is_new)
        ).where(col(RunAllocation.run_id) == run_id),
    )
    used = alloc[alloc["units"] > 0]
    trusts_on = used.groupby("line_id")["trust_id"].nunique()
    new_to = used[used["is_new"].astype(bool)].groupby("line_id")["trust_id"].nunique()
    current = usage.groupby("line").agg(current_units=("units_per_year", "sum"), trusts_today=("trust", "nunique"))
    lines["kept"] = lines["kept"].astype(bool)
    lines["trusts_on"] = lines["line_id"].map(trusts_on).fillna(0).astype(int)
    lines["new_to"] = lines["line_id"].map(new_to).fillna(0).astype(int)
    lines["current_units"] = lines["line"].map(current["current_units"]).fillna(0.0)
    lines["trusts_today"] = lines["line"].map(current["trusts_today"]).fillna(0).astype(int)
    lines["status"] = np.where(~lines["kept"], "dropped", np.where(lines["new_to"] > 0, "new", "kept"))
    return lines.sort_values(["category", "group", "line"]).reset_index(drop=True)
