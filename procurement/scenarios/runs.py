"""Define, run and show scenarios: database -> problem -> solver -> result tables.

``run_scenario`` follows the solver's five steps (check, build, solve, read the
solution, report) and stores one ``ScenarioRun`` with its result tables in one
transaction. A run whose solve found no solution is stored with its status and the
explanation, and no result rows: values are never read from a failed solve. A solver
that is missing or crashes gives a run with status ``error`` and the reason in its
message; a run stopped by its time limit keeps its best plan, with status
``time_limit`` and the gap still open.

Why one module of about 800 lines: every function here reads or writes the run and
scenario tables through the same queries (``run_results`` is the one reader the
reports share). Scenario management (define with ``--replace``, copy, delete, diff,
staleness) is the next room to split off, into ``scenarios/manage.py``, once its
callers import it from the package rather than as ``runs.define_scenario``.
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from time import perf_counter

import pandas as pd
from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from procurement.db import transaction
from procurement.errors import UnknownReferenceError
from procurement.importers import current_user
from procurement.models import (
    Approval,
    Category,
    DataImport,
    EquivalenceGroup,
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
    ShortlistExport,
    Supplier,
    Trust,
)
from procurement.reference import code_map, frame
from procurement.scenarios.contracts import contract_rows
from procurement.scenarios.problem import build_problem
from procurement.scenarios.settings import (
    KnownNames,
    ScenarioError,
    ScenarioSettings,
    add_months,
    financial_year,
    label,
    load_scenario_file,
    table_cell,
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


def known_names(session: Session) -> KnownNames:
    """The trusts, groups and categories a scenario may name: those in the database."""
    return KnownNames(
        trusts=frozenset(session.scalars(select(Trust.code)).all()),
        groups=frozenset(session.scalars(select(EquivalenceGroup.code)).all()),
        categories=frozenset(session.scalars(select(Category.code)).all()),
    )


def settings_diff(before: ScenarioSettings | dict, after: ScenarioSettings | dict) -> pd.DataFrame:
    """The settings that differ: ``setting``, ``before``, ``after`` (as a table shows them)."""
    a = asdict(before) if isinstance(before, ScenarioSettings) else dict(before)
    b = asdict(after) if isinstance(after, ScenarioSettings) else dict(after)
    keys = [k for k in dict.fromkeys([*a, *b]) if _comparable(a.get(k)) != _comparable(b.get(k))]
    return pd.DataFrame(
        {
            "setting": keys,
            "before": [table_cell(a.get(k)) for k in keys],
            "after": [table_cell(b.get(k)) for k in keys],
        },
        dtype=object,
    )


def _comparable(value):
    return list(value) if isinstance(value, tuple) else value


def define_scenario(
    engine: Engine, name: str, settings: ScenarioSettings, *, user: str | None = None, replace: bool = False
) -> int:
    """Create scenario ``name`` (or, with ``replace``, change its settings); returns its id.

    The settings are validated against the database (trusts, groups and categories must
    exist). An existing scenario is refused unless ``replace``, with what would change.
    """
    with transaction(engine) as session:
        settings.check(name, known=known_names(session))
        scenario = session.scalars(select(Scenario).where(Scenario.name == name)).first()
        if scenario is None:
            scenario = Scenario(name=name, parameters=settings.to_json(), created_by=current_user(user))
            session.add(scenario)
        elif not replace:
            raise ScenarioExistsError(name, settings_diff(json.loads(scenario.parameters), settings))
        else:
            scenario.parameters = settings.to_json()
        session.flush()
        return scenario.id


class ScenarioExistsError(ScenarioError):
    """Defining a scenario that exists: refused unless replaced; the message says what would change."""

    def __init__(self, name: str, changes: pd.DataFrame):
        self.changes = changes
        if len(changes):
            what = "; ".join(f"{r.setting}: {label(r.before)} -> {label(r.after)}" for r in changes.itertuples())
        else:
            what = "no setting would change"
        super().__init__(f"scenario {name!r} exists; --replace to change it ({what})")


def define_from_file(engine: Engine, path: Path, *, user: str | None = None, replace: bool = False) -> list[str]:
    """Define every scenario of a TOML file (``[scenarios.NAME]`` tables) in one transaction:
    all of them, or (any refused) none."""
    with Session(engine) as session:
        known = known_names(session)
        existing = set(session.scalars(select(Scenario.name)).all())
    defined = load_scenario_file(path, known=known)
    clash = sorted(set(defined) & existing)
    if clash and not replace:
        raise ScenarioError(
            f"{Path(path).name}: scenario(s) {', '.join(clash)} exist; --replace to change them "
            "(procure scenario diff shows settings side by side)"
        )
    with transaction(engine) as session:
        for name, settings in defined.items():
            scenario = session.scalars(select(Scenario).where(Scenario.name == name)).first()
            if scenario is None:
                session.add(Scenario(name=name, parameters=settings.to_json(), created_by=current_user(user)))
            else:
                scenario.parameters = settings.to_json()
    return list(defined)


def get_settings(session: Session, name: str) -> tuple[Scenario, ScenarioSettings]:
    scenario = session.scalars(select(Scenario).where(Scenario.name == name)).first()
    if scenario is None:
        known = ", ".join(session.scalars(select(Scenario.name)).all()) or "none yet"
        raise UnknownReferenceError(f"no scenario named {name!r} (defined: {known})")
    return scenario, ScenarioSettings.from_mapping(json.loads(scenario.parameters), where=name)


def input_hash(problem) -> str:
    """sha256 over the problem's tables (sorted, as CSV) and settings: the data solved."""
    digest = hashlib.sha256()
    for table in (
        "trusts",
        "groups",
        "lines",
        "demand",
        "current",
        "candidates",
        "offers",
        "offer_lines",
        "tiers",
        "contracts",
        "switching",
    ):
        data = getattr(problem, table)
        if table == "switching" and data.empty:
            continue  # no switching-costs file: the hash of a problem from before they existed
        data = data.sort_values(list(data.columns)).reset_index(drop=True)
        digest.update(table.encode())
        digest.update(data.to_csv(index=False, float_format="%.6f").encode())
    digest.update(json.dumps(asdict(problem.settings), sort_keys=True, default=sorted).encode())
    return digest.hexdigest()


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
        if solution.objective is not None:
            _store_results(session, run.id, solution, settings, context)
        run_id = run.id
    summary = show_run(engine, run_id)
    summary["notes"] = context["notes"]
    return summary


def _store_results(session: Session, run_id: int, solution, settings: ScenarioSettings, context: dict) -> None:
    trust_id = code_map(session, Trust)
    line_id = code_map(session, ProductLine)
    category_id = code_map(session, Category)
    supplier_id = code_map(session, Supplier)

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
                "trust_id": a["trust"].map(trust_id),
                "line_id": a["line"].map(line_id),
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
    put(
        RunLine,
        pd.DataFrame({"line_id": r["line"].map(line_id), "kept": r["kept"].astype(bool), "units": r["units"]}),
    )
    t = solution.tiers_reached
    put(
        RunTier,
        pd.DataFrame(
            {
                "offer": t["offer"],
                "supplier_id": t["supplier"].map(supplier_id),
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
                "trust_id": j["trust"].map(trust_id),
                "category_id": j["category"].map(category_id),
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
            c.assign(
                trust_id=c["trust"].map(trust_id),
                category_id=c["category"].map(category_id),
                supplier_id=c["supplier"].map(supplier_id),
            )[[col for col in RunContract.model_fields if col not in ("id", "run_id")]],
        )
    s = solution.savings
    put(
        RunSaving,
        pd.DataFrame(
            {
                "trust_id": s["trust"].map(trust_id),
                "category_id": s["category"].map(category_id),
                "cause": s["cause"],
                "amount": s["amount"],
            }
        ),
    )
    sw = solution.switching
    put(
        RunSwitching,
        pd.DataFrame(
            {
                "trust_id": sw["trust"].map(trust_id),
                "supplier_id": sw["supplier"].map(supplier_id),
                "category_id": sw["category"].map(category_id),
                "line_id": sw["line"].map(line_id).astype("Int64"),
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
                "trust_id": by_year["trust"].map(trust_id),
                "category_id": by_year["category"].map(category_id),
                "financial_year": by_year["financial_year"],
                "amount": by_year["savings"],
            }
        ),
    )


# --------------------------------------------------------------------------- reading runs


def latest_run_id(session: Session, name: str) -> int:
    scenario, _ = get_settings(session, name)
    run_id = session.scalars(
        select(ScenarioRun.id).where(ScenarioRun.scenario_id == scenario.id).order_by(ScenarioRun.id.desc())
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

    def by_trust_category(table, *columns) -> pd.DataFrame:
        return frame(
            session,
            select(Trust.code.label("trust"), Category.code.label("category"), *columns)
            .join(Trust, Trust.id == table.trust_id)
            .join(Category, Category.id == table.category_id)
            .where(table.run_id == run_id),
        )

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
            select(
                RunLine.line_id,
                Category.code.label("category"),
                EquivalenceGroup.code.label("group"),
                ProductLine.code.label("line"),
                Supplier.code.label("supplier"),
                ProductLine.brand,
                RunLine.kept,
                RunLine.units,
            )
            .join(ProductLine, ProductLine.id == RunLine.line_id)
            .join(Supplier, Supplier.id == ProductLine.supplier_id)
            .join(EquivalenceGroup, EquivalenceGroup.id == ProductLine.group_id)
            .join(Category, Category.id == EquivalenceGroup.category_id)
            .where(RunLine.run_id == run_id),
        ),
        "tiers": frame(
            session,
            select(RunTier.offer, RunTier.threshold, RunTier.discount, RunTier.volume).where(RunTier.run_id == run_id),
        ),
        "switching": _switching_paid(session, run_id),
        "contracts": frame(
            session,
            select(
                Trust.code.label("trust"),
                Category.code.label("category"),
                Supplier.code.label("supplier"),
                *[getattr(RunContract, c) for c in RunContract.model_fields if not c.endswith("id")],
            )
            .join(Trust, Trust.id == RunContract.trust_id)
            .join(Category, Category.id == RunContract.category_id)
            .outerjoin(Supplier, Supplier.id == RunContract.supplier_id)
            .where(RunContract.run_id == run_id),
        ),
        "allocation": frame(
            session,
            select(
                Trust.code.label("trust"),
                EquivalenceGroup.code.label("group"),
                ProductLine.code.label("line"),
                Supplier.code.label("supplier"),
                ProductLine.brand,
                RunAllocation.units,
                RunAllocation.is_new,
            )
            .join(Trust, Trust.id == RunAllocation.trust_id)
            .join(ProductLine, ProductLine.id == RunAllocation.line_id)
            .join(Supplier, Supplier.id == ProductLine.supplier_id)
            .join(EquivalenceGroup, EquivalenceGroup.id == ProductLine.group_id)
            .where(RunAllocation.run_id == run_id),
        ),
    }


def _switching_paid(session: Session, run_id: int) -> pd.DataFrame:
    """The switching costs run ``run_id`` pays, one row each (see ``run_results``)."""
    paid = frame(
        session,
        select(
            Trust.code.label("trust"),
            Supplier.code.label("supplier"),
            Category.code.label("category"),
            ProductLine.code.label("line"),
            RunSwitching.cost.label("cost_gbp"),
            RunSwitching.kind,
        )
        .join(Trust, Trust.id == RunSwitching.trust_id)
        .join(Supplier, Supplier.id == RunSwitching.supplier_id)
        .join(Category, Category.id == RunSwitching.category_id)
        .outerjoin(ProductLine, ProductLine.id == RunSwitching.line_id)
        .where(RunSwitching.run_id == run_id)
        .order_by(RunSwitching.id),
    )
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
        run = session.get(ScenarioRun, run_id)
        scenario = session.get(Scenario, run.scenario_id)
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
        scenario = session.scalars(select(Scenario).where(Scenario.name == name)).one()
        stale = staleness(session, scenario, session.get(ScenarioRun, run_id))
    summary = show_run(engine, run_id)
    summary["stale"] = stale
    return summary


def list_scenarios(engine: Engine) -> pd.DataFrame:
    with Session(engine) as session:
        scenarios = frame(session, select(Scenario.id, Scenario.name, Scenario.created_at, Scenario.created_by))
        runs = frame(
            session,
            select(
                ScenarioRun.scenario_id,
                ScenarioRun.id.label("run_id"),
                ScenarioRun.status,
                ScenarioRun.objective,
                ScenarioRun.started_at.label("run_at"),
            ),
        )
        latest = runs.sort_values("run_id").drop_duplicates("scenario_id", keep="last")
        # The cheap check for a list (no problem rebuilt); `scenario show` checks exactly.
        stale = {
            int(r.scenario_id): staleness(session, session.get(Scenario, int(r.scenario_id)),
                                          session.get(ScenarioRun, int(r.run_id)), exact=False)
            for r in latest.itertuples()
        }  # fmt: skip
    table = scenarios.merge(latest, left_on="id", right_on="scenario_id", how="left").drop(columns=["scenario_id"])
    table["stale"] = table["id"].map(stale).fillna("")
    table["run_id"] = table["run_id"].astype("Int64")  # ids are integers (a scenario never run has none)
    return table


# --------------------------------------------------------------------------- managing scenarios


def delete_scenario(engine: Engine, name: str) -> int:
    """Delete scenario ``name`` with its runs and their result tables; returns the runs deleted.

    Refused while a shortlist workbook sent out names one of its runs (the import of
    the returned workbook reads that record).
    """
    with transaction(engine) as session:
        scenario, _ = get_settings(session, name)
        run_ids = list(session.scalars(select(ScenarioRun.id).where(ScenarioRun.scenario_id == scenario.id)).all())
        shortlists = session.scalars(
            select(ShortlistExport.id).where(
                (ShortlistExport.scenario_id == scenario.id) | ShortlistExport.run_id.in_(run_ids)
            )
        ).all()
        if shortlists:
            raise ScenarioError(
                f"scenario {name!r} is named by shortlist workbook(s) sent out "
                f"(export #{', #'.join(map(str, shortlists))}); it is kept so their returns can be read"
            )
        for table in (RunAllocation, RunLine, RunTier, RunJoin, RunContract, RunSaving, RunSavingYear, RunSwitching):
            session.execute(delete(table).where(table.run_id.in_(run_ids)))
        session.execute(delete(ScenarioRun).where(ScenarioRun.scenario_id == scenario.id))
        session.delete(scenario)
    return len(run_ids)


def diff_scenarios(engine: Engine, a: str, b: str, *, every: bool = False) -> pd.DataFrame:
    """Settings of scenarios ``a`` and ``b`` side by side: ``setting``, ``a``, ``b``, ``differs``;
    only the settings that differ unless ``every``."""
    with Session(engine) as session:
        _, first = get_settings(session, a)
        _, second = get_settings(session, b)
    x, y = asdict(first), asdict(second)
    table = pd.DataFrame(
        {
            "setting": list(x),
            a: [table_cell(v) for v in x.values()],
            b: [table_cell(y[k]) for k in x],
            "differs": [_comparable(x[k]) != _comparable(y[k]) for k in x],
        },
        dtype=object,
    )
    return table if every else table[table["differs"]].reset_index(drop=True)


def staleness(session: Session, scenario: Scenario, run: ScenarioRun, *, exact: bool = True) -> str:
    """Why run ``run`` no longer reflects its scenario ("" when it is current).

    The settings changed when the scenario's settings differ from the run's. The data
    changed when the input hash recomputed now differs from the stored one (``exact``:
    the problem is rebuilt, about half a second for a region), or, cheaply, when any
    file was imported or clinical decision recorded after the run started.
    """
    reasons = []
    current = json.loads(scenario.parameters)
    if run.settings and _canonical(json.loads(run.settings)) != _canonical(current):
        reasons.append("settings changed")
    if exact:
        try:
            settings = ScenarioSettings.from_mapping(current, where=scenario.name)
            problem, _ = build_problem(session, settings)
            if input_hash(problem) != run.input_hash and not reasons:
                reasons.append("data changed")
        except ScenarioError as exc:
            reasons.append(f"cannot be rebuilt now: {exc}")
    else:
        later = [
            session.scalars(select(func.count()).where(DataImport.imported_at > run.started_at)).one(),
            session.scalars(select(func.count()).where(Approval.recorded_at > run.started_at)).one(),
        ]
        if any(later):
            reasons.append("data changed")
    return "; ".join(reasons)


def _canonical(settings: dict) -> dict:
    """Settings as JSON compares them: defaults filled in, lists and tuples alike."""
    return json.loads(json.dumps({**asdict(ScenarioSettings()), **settings}, sort_keys=True))


def price_of_rules(engine: Engine, name: str) -> pd.DataFrame:
    """For each active rule family, the savings given up because of it (re-solved relaxed)."""
    from solver.rule_prices import price_of_rules as solver_price_of_rules

    with Session(engine) as session:
        _, settings = get_settings(session, name)
        problem, _ = build_problem(session, settings)
    return solver_price_of_rules(problem)


__all__ = [
    "CAUSES",
    "ScenarioExistsError",
    "define_from_file",
    "define_scenario",
    "delete_scenario",
    "diff_scenarios",
    "known_names",
    "settings_diff",
    "staleness",
    "get_settings",
    "input_hash",
    "latest_run_id",
    "list_scenarios",
    "price_of_rules",
    "run_scenario",
    "show_run",
    "show_scenario",
    "switching_totals",
]
