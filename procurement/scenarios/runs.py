"""Run scenarios and read runs back: database -> problem -> solver -> result tables.

``run_scenario`` follows the solver's five steps (check, build, solve, read the
solution, report) and stores one ``ScenarioRun`` with its result tables in one
transaction. A run whose solve found no solution is stored with its status and the
explanation, and no result rows: values are never read from a failed solve. A solver
that is missing or crashes gives a run with status ``error`` and the reason in its
message; a run stopped by its time limit keeps its best plan, with status
``time_limit`` and the gap still open.

``run_results`` is the one reader of a run's result tables that every report shares
(``show_run``, the finance workbook, the shortlist, tracking). Defining, listing,
diffing and deleting scenarios, and whether a run is stale, are
:mod:`procurement.scenarios.manage`.
"""

import json
from collections.abc import Callable
from time import perf_counter

import pandas as pd
from sqlalchemy import insert, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from procurement.db import transaction
from procurement.importers import current_user
from procurement.models import (
    Category,
    ProductLine,
    RunAllocation,
    RunContract,
    RunJoin,
    RunLine,
    RunSaving,
    RunSavingYear,
    RunSwitching,
    RunTier,
    Scenario,
    ScenarioRun,
    Supplier,
    Trust,
)
from procurement.reference import code_map, codes, frame, join_codes, line_keys
from procurement.scenarios.contracts import contract_rows
from procurement.scenarios.manage import get_settings, staleness
from procurement.scenarios.problem import build_problem, input_hash
from procurement.scenarios.settings import (
    ScenarioError,
    ScenarioSettings,
    add_months,
    financial_year,
)
from solver.solution import CAUSES  # the causes a run stores are the solver's

CONTRACT_FIELDS = (
    "trust",
    "supplier",
    "category",
    "reference",
    "current_end",
    "notice_by",
    "join_date",
    "exit_fee_gbp",
    "bridging_months",
    "bridging_gbp",
    "off_contract_gbp",
    "reason",
)
"""The fields of a run's ``contracts`` every report shows first (the others follow)."""


def run_scenario(
    engine: Engine, name: str, *, user: str | None = None, quality: bool = True, progress: Callable | None = None
) -> dict:
    """Build, solve and store one run of scenario ``name``; returns ``show_run``'s summary.

    ``progress`` is told the stage, elapsed time, best plan and global bound as the solve
    goes on (see :func:`solver.solve.solve`)."""
    from solver.solve import solve

    with Session(engine) as session:
        scenario, settings = get_settings(session, name)
        problem, context = build_problem(session, settings)
    assert scenario.id is not None  # a stored scenario
    digest = input_hash(problem)
    tick = perf_counter()
    try:
        solution = solve(problem, quality=quality, progress=progress)
    except Exception as exc:  # a crashing solver: stored as a failed run, with no results
        message = f"the {settings.solver} solver failed: {type(exc).__name__}: {exc}"
        with transaction(engine) as session:
            run = ScenarioRun(
                scenario_id=scenario.id,
                solver=settings.solver,
                status="error",
                solve_seconds=perf_counter() - tick,
                input_hash=digest,
                message=message,
                run_by=current_user(user),
                settings=settings.to_json(),
            )
            session.add(run)
            session.flush()
            run_id = run.id
            assert run_id is not None  # assigned by the flush
        summary = show_run(engine, run_id)
        summary["notes"] = context["notes"]
        return summary
    with transaction(engine) as session:
        run = ScenarioRun(
            scenario_id=scenario.id,
            solver=solution.solver,
            status=solution.status,
            objective=solution.objective,
            best_bound=solution.best_bound,
            gap=solution.gap,
            lp_bound=getattr(solution, "lp_bound", None),
            global_bound=solution.global_bound,
            global_gap=solution.global_gap,
            global_bound_method=solution.global_bound_method,
            greedy_objective=getattr(solution, "greedy_objective", None),
            build_seconds=solution.build_seconds,
            solve_seconds=solution.solve_seconds,
            input_hash=digest,
            message=solution.message or "",
            run_by=current_user(user),
            settings=settings.to_json(),
            n_variables=solution.n_variables,
            n_constraints=solution.n_constraints,
            common_end_date=settings.common_end(),
        )
        if solution.objective is not None:
            run.in_year_savings = solution.headline_amount("in_year")
            run.full_year_savings = solution.headline_amount("full_year_run_rate")
        session.add(run)
        session.flush()
        run_id = run.id
        assert run_id is not None  # assigned by the flush
        if solution.objective is not None:
            _store_results(session, run_id, solution, settings, context)
    summary = show_run(engine, run_id)
    summary["notes"] = context["notes"]
    return summary


def _store_results(session: Session, run_id: int, solution, settings: ScenarioSettings, context: dict) -> None:
    id_of = {
        "trust": code_map(session, Trust),
        "line": code_map(session, ProductLine),
        "category": code_map(session, Category),
        "supplier": code_map(session, Supplier),
    }

    def ids(source: pd.DataFrame, *keys: str) -> dict[str, pd.Series]:
        """The ``<key>_id`` column of each code column ``key`` of ``source`` (trust, line, category, supplier)."""
        return {f"{key}_id": source[key].map(id_of[key]) for key in keys}

    def put(model, rows: pd.DataFrame) -> None:
        if len(rows):
            rows = rows.assign(run_id=run_id)
            records = rows.astype(object).where(rows.notna(), None).to_dict("records")
            session.execute(insert(model), records)

    a = solution.allocation
    put(
        RunAllocation,
        pd.DataFrame(
            {
                **ids(a, "trust", "line"),
                "units": a["units"],
                "regional_price": a["regional_price"],
                "discount": a["discount"],
                "net_price": a["net_price"],
                "annual_cost": a["annual_cost"],
                "is_new": a["is_new"].astype(bool),
            }
        ),
    )
    r = solution.range
    put(RunLine, pd.DataFrame({**ids(r, "line"), "kept": r["kept"].astype(bool), "units": r["units"]}))
    t = solution.tiers_reached
    put(
        RunTier,
        pd.DataFrame(
            {
                "offer": t["offer"],
                **ids(t, "supplier"),
                "threshold": t["threshold"],
                "discount": t["discount"],
                "volume": t["volume"],
            }
        ),
    )
    j = solution.joins
    start = settings.start()
    join_month = j["join_month"].astype("Int64")
    join_date = join_month.map(lambda m: None if pd.isna(m) else add_months(start, int(m)))
    put(
        RunJoin,
        pd.DataFrame(
            {
                **ids(j, "trust", "category"),
                "joins": j["joins"].astype(bool),
                "join_month": join_month,
                "join_date": join_date,
                "months_on": j["months_on"].astype(int),
                "exit_fee_paid": j["exit_fee_paid"],
                "bridging_cost": j["bridging_cost"],
                "off_contract_cost": j["off_contract_cost"],
                "annual_baseline": j["annual_baseline"],
                "annual_regional_cost": j["annual_regional_cost"],
            }
        ),
    )
    c = contract_rows(solution.contracts, context["contracts"], start)
    if len(c):
        put(
            RunContract,
            c.assign(**ids(c, "trust", "category", "supplier"))[
                [col for col in RunContract.model_fields if col not in ("id", "run_id")]
            ],
        )
    s = solution.savings
    put(RunSaving, pd.DataFrame({**ids(s, "trust", "category"), "cause": s["cause"], "amount": s["amount"]}))
    sw = solution.switching
    put(
        RunSwitching,
        pd.DataFrame(
            {
                **ids(sw, "trust", "supplier", "category"),
                "line_id": sw["line"].map(id_of["line"]).astype("Int64"),
                "kind": sw["kind"],
                "cost": sw["cost_gbp"],
            }
        ),
    )
    tl = solution.timeline.copy()
    tl["financial_year"] = tl["month"].map(lambda m: financial_year(start, int(m)))
    by_year = tl.groupby(["trust", "category", "financial_year"], as_index=False)["savings"].sum()
    put(
        RunSavingYear,
        pd.DataFrame(
            {
                **ids(by_year, "trust", "category"),
                "financial_year": by_year["financial_year"],
                "amount": by_year["savings"],
            }
        ),
    )


# --------------------------------------------------------------------------- reading runs


def latest_run_id(session: Session, name: str) -> int:
    scenario, _ = get_settings(session, name)
    run_id = session.scalars(
        select(col(ScenarioRun.id))
        .where(col(ScenarioRun.scenario_id) == scenario.id)
        .order_by(col(ScenarioRun.id).desc())
    ).first()
    if run_id is None:
        raise ScenarioError(f"scenario {name!r} has not been run yet: procure scenario run {name}")
    return run_id


def run_results(session: Session, run_id: int) -> dict[str, pd.DataFrame]:
    """The stored result tables of run ``run_id`` as frames, codes in place of ids.

    One reader for every consumer of a run's results (``show_run``, the finance
    workbook). Rows come in the database's order (no sorting: callers sort as they show):

    * ``savings``: trust, category, cause, amount
    * ``years``: trust, category, financial_year, amount
    * ``joins``: trust, category, joins, join_month, join_date, months_on,
      exit_fee_paid, bridging_cost, annual_baseline, annual_regional_cost
    * ``lines``: line_id, category, group, line, supplier, brand, kept, units
    * ``tiers``: offer, threshold, discount, volume
    * ``switching``: trust, supplier, category, line (None: a system cost), cost_gbp,
      kind; per (trust, category) they add up to minus the ``switching_costs`` cause
    * ``contracts``: trust, category, supplier (None: none), reference, current_end,
      the terms and the per-contract figures of ``RunContract``
    * ``allocation``: trust, group, line, supplier, brand, units, is_new
    """

    def of_run(table, keys: dict, *columns, outer: tuple[str, ...] = ()) -> pd.DataFrame:
        """Run ``run_id``'s rows of ``table``: the codes named by ``keys``, then ``columns``."""
        query = select(*codes(*keys), *columns).where(table.run_id == run_id)
        return frame(session, join_codes(query, keys, outer=outer))

    def by_trust_category(table, *columns) -> pd.DataFrame:
        return of_run(table, {"trust": table.trust_id, "category": table.category_id}, *columns)

    return {
        "savings": by_trust_category(RunSaving, RunSaving.cause, RunSaving.amount),
        "years": by_trust_category(RunSavingYear, RunSavingYear.financial_year, RunSavingYear.amount),
        "joins": by_trust_category(
            RunJoin,
            RunJoin.joins,
            RunJoin.join_month,
            RunJoin.join_date,
            RunJoin.months_on,
            RunJoin.exit_fee_paid,
            RunJoin.bridging_cost,
            RunJoin.off_contract_cost,
            RunJoin.annual_baseline,
            RunJoin.annual_regional_cost,
        ),
        "lines": frame(
            session,
            join_codes(
                select(
                    col(RunLine.line_id),
                    *codes("category", "group", "line", "supplier"),
                    col(ProductLine.brand),
                    col(RunLine.kept),
                    col(RunLine.units),
                ).where(col(RunLine.run_id) == run_id),
                line_keys(RunLine.line_id),
            ),
        ),
        "tiers": frame(
            session,
            select(col(RunTier.offer), col(RunTier.threshold), col(RunTier.discount), col(RunTier.volume)).where(
                col(RunTier.run_id) == run_id
            ),
        ),
        "switching": _switching_paid(session, run_id),
        "contracts": of_run(
            RunContract,
            {"trust": RunContract.trust_id, "category": RunContract.category_id, "supplier": RunContract.supplier_id},
            *[getattr(RunContract, c) for c in RunContract.model_fields if not c.endswith("id")],
            outer=("supplier",),  # a contract with no current supplier
        ),
        "allocation": frame(
            session,
            join_codes(
                select(
                    *codes("trust", "group", "line", "supplier"),
                    col(ProductLine.brand),
                    col(RunAllocation.units),
                    col(RunAllocation.is_new),
                ).where(col(RunAllocation.run_id) == run_id),
                {"trust": RunAllocation.trust_id, **line_keys(RunAllocation.line_id)},
            ),
        ),
    }


def _switching_paid(session: Session, run_id: int) -> pd.DataFrame:
    """The switching costs run ``run_id`` pays, one row each (see ``run_results``)."""
    keys = {
        "trust": RunSwitching.trust_id,
        "supplier": RunSwitching.supplier_id,
        "category": RunSwitching.category_id,
        "line": RunSwitching.line_id,
    }
    query = (
        select(*codes(*keys), col(RunSwitching.cost).label("cost_gbp"), col(RunSwitching.kind))
        .where(col(RunSwitching.run_id) == run_id)
        .order_by(col(RunSwitching.id))
    )
    paid = frame(session, join_codes(query, keys, outer=("line",)))  # no line: a system cost
    # None, not NaN, for "no line" and "no kind": the JSON says null.
    return paid.astype({"line": object, "kind": object}).where(paid.notna(), None)


def switching_totals(paid: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Switching costs paid by trust (trust, cost_gbp) and by system (supplier, category, trusts, cost_gbp)."""
    if paid.empty:
        return {
            "by_trust": pd.DataFrame(columns=["trust", "cost_gbp"]),
            "by_system": pd.DataFrame(columns=["supplier", "category", "trusts", "cost_gbp"]),
        }
    by_trust = paid.groupby("trust", as_index=False)["cost_gbp"].sum()
    by_system = paid.groupby(["supplier", "category"], as_index=False).agg(
        trusts=("trust", "nunique"), cost_gbp=("cost_gbp", "sum")
    )
    return {"by_trust": by_trust, "by_system": by_system}


def show_run(engine: Engine, run_id: int) -> dict:
    """Everything about one run, as frames and figures, read back from the result tables.

    Besides the run's figures: ``bound_gbp`` (the solver's best bound, also under its
    older name ``best_bound_gbp``), ``baseline_gbp`` (today's spend of the trusts and
    categories in the run over the horizon: the annual baselines times horizon / 12),
    ``common_end_date`` (when the regional agreement ends for everyone), ``range`` (one
    row per kept line: group, supplier, brand, line, units, trusts using it),
    ``allocation`` (one row per trust, group and line used: units, ``new_at_trust``)
    and ``contracts`` (one row per current contract, see
    :func:`procurement.scenarios.contracts.contract_rows`).
    """
    with Session(engine) as session:
        run = session.get_one(ScenarioRun, run_id)
        scenario = session.get_one(Scenario, run.scenario_id)
        results = run_results(session, run_id)
    savings, by_year, kept, tiers = (results[k] for k in ("savings", "years", "lines", "tiers"))
    settings = json.loads(run.settings or "{}")
    horizon = settings.get("horizon_months", ScenarioSettings.horizon_months)
    baseline = float(results["joins"]["annual_baseline"].sum()) * horizon / 12.0 if len(results["joins"]) else None
    used = results["allocation"]
    used = used[used["units"] > 1e-6]
    allocation = (
        used.groupby(["trust", "group", "line"], as_index=False)
        .agg(units=("units", "sum"), new_at_trust=("is_new", "max"))
        .sort_values(["trust", "group", "line"])
        .reset_index(drop=True)
    )
    allocation["new_at_trust"] = allocation["new_at_trust"].astype(bool)
    trusts_on = used.groupby("line")["trust"].agg(lambda t: sorted(set(t)))
    chosen = kept[kept["kept"].astype(bool)] if len(kept) else kept
    range_rows = (
        chosen.assign(trusts=chosen["line"].map(trusts_on))[["group", "supplier", "brand", "line", "units", "trusts"]]
        .sort_values(["group", "supplier", "line"])
        .reset_index(drop=True)
    )
    range_rows["trusts"] = range_rows["trusts"].map(lambda t: t if isinstance(t, list) else [])
    contracts = results["contracts"]
    if len(contracts):
        first = [c for c in CONTRACT_FIELDS if c in contracts.columns]
        contracts = contracts[first + [c for c in contracts.columns if c not in first]]
        contracts = contracts.sort_values(["trust", "category", "supplier"]).reset_index(drop=True)
    joins = results["joins"][
        ["trust", "category", "joins", "join_date", "exit_fee_paid", "bridging_cost", "off_contract_cost"]
    ]
    kept_lines = kept[kept["kept"].astype(bool)] if len(kept) else kept
    by_cause = (
        savings.groupby("cause")["amount"].sum().reindex(list(CAUSES), fill_value=0.0)
        if len(savings)
        else pd.Series(0.0, index=list(CAUSES))
    )
    return {
        "scenario": scenario.name,
        "run_id": run.id,
        "status": run.status,
        "message": run.message,
        "solver": run.solver,
        "objective_gbp": run.objective,
        "best_bound_gbp": run.best_bound,
        "bound_gbp": run.best_bound,
        "baseline_gbp": baseline,
        "common_end_date": run.common_end_date,
        "gap": run.gap,
        "lp_bound_gbp": run.lp_bound,
        "global_bound_gbp": run.global_bound,
        "global_gap": run.global_gap,
        "global_bound_method": run.global_bound_method,
        "greedy_gbp": run.greedy_objective,
        "in_year_gbp": run.in_year_savings,
        "full_year_gbp": run.full_year_savings,
        "build_seconds": run.build_seconds,
        "solve_seconds": run.solve_seconds,
        "variables": run.n_variables,
        "constraints": run.n_constraints,
        "input_hash": run.input_hash,
        "run_by": run.run_by,
        "started_at": run.started_at,
        "settings": settings,
        "savings_by_cause": by_cause.to_dict(),
        "savings_by_trust": savings.groupby("trust")["amount"].sum().to_dict() if len(savings) else {},
        "savings_by_category": savings.groupby("category")["amount"].sum().to_dict() if len(savings) else {},
        "savings_by_year": by_year.groupby("financial_year")["amount"].sum().to_dict() if len(by_year) else {},
        "range_size": int(len(kept_lines)),
        "suppliers_kept": sorted(set(kept_lines["supplier"])) if len(kept_lines) else [],
        "tiers_reached": tiers,
        "joins": joins,
        "switching": results["switching"],
        "range": range_rows,
        "allocation": allocation,
        "contracts": contracts,
    }


def show_scenario(engine: Engine, name: str) -> dict:
    """``show_run`` of the latest run, and ``stale``: why it no longer reflects the scenario ("" if current)."""
    with Session(engine) as session:
        run_id = latest_run_id(session, name)
        scenario = session.scalars(select(Scenario).where(col(Scenario.name) == name)).one()
        stale = staleness(session, scenario, session.get_one(ScenarioRun, run_id))
    summary = show_run(engine, run_id)
    summary["stale"] = stale
    return summary


def price_of_rules(engine: Engine, name: str) -> pd.DataFrame:
    """For each active rule family, the savings given up because of it (re-solved relaxed)."""
    from solver.rule_prices import price_of_rules as solver_price_of_rules

    with Session(engine) as session:
        _, settings = get_settings(session, name)
        problem, _ = build_problem(session, settings)
    return solver_price_of_rules(problem)


__all__ = [
    "CAUSES",
    "CONTRACT_FIELDS",
    "latest_run_id",
    "price_of_rules",
    "run_results",
    "run_scenario",
    "show_run",
    "show_scenario",
    "switching_totals",
]
