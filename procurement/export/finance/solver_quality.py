"""The Solver sheet: how good each run's answer is, and how it was reached.

Per scenario: the solver, its status and a verdict in words (proven optimal, or at
most £X from optimal), the objective, best bound, gap, LP relaxation bound, the rule of
thumb's (greedy) figure and the optimiser's lead over it (formulas), the bound for the
whole problem with its gap and how it was obtained, timings, model
size, the input-data hash, who ran it, when, and the solver's message.
"""

import pandas as pd
from openpyxl.worksheet.worksheet import Worksheet

from procurement.export.finance.kit import (
    COUNT,
    DATETIME,
    GBP,
    PERCENT,
    PERCENT_SHORT,
    SECONDS,
    detail_table,
)
from procurement.export.finance.run_data import RunData
from procurement.models import ScenarioRun


def _verdict(run: ScenarioRun) -> str:
    """How good the answer is, in words: proven optimal, or at most how far from it.

    Judged against the bound for the whole problem when the run has one (every run
    since the global bound was added); older runs only have the solver's bound."""
    gap = run.gap or 0.0
    if run.global_bound is not None and run.objective is not None:
        global_gap = run.global_gap or 0.0
        distance = max(0.0, run.global_bound - run.objective)
        if run.status == "optimal":
            return f"proven optimal (within {global_gap:.3%} of a bound for the whole problem)"
        return f"within {global_gap:.3%} (at most £{distance:,.0f}) of the best possible plan"
    if run.status == "optimal":
        return f"proven optimal (within {gap:.3%} of the best bound)"
    if run.best_bound is not None and run.objective is not None:
        return f"best plan found; at most £{run.best_bound - run.objective:,.0f} ({gap:.3%}) from optimal"
    return run.status


def solver_sheet(ws: Worksheet, runs: list[RunData]) -> dict:
    """Write the Solver table, one row per scenario; returns where it is."""
    data = pd.DataFrame(
        [
            {
                "scenario": rd.name,
                "run": rd.run.id,
                "solver": rd.run.solver,
                "status": rd.run.status,
                "verdict": _verdict(rd.run),
                "objective": rd.run.objective,
                "best_bound": rd.run.best_bound,
                "gap": rd.run.gap,
                "lp_bound": rd.run.lp_bound,
                "global_bound": rd.run.global_bound,
                "global_gap": rd.run.global_gap,
                "global_method": rd.run.global_bound_method,
                "greedy": rd.run.greedy_objective,
                "build": rd.run.build_seconds,
                "solve": rd.run.solve_seconds,
                "variables": rd.run.n_variables,
                "constraints": rd.run.n_constraints,
                "hash": rd.run.input_hash,
                "run_by": rd.run.run_by,
                "run_at": rd.run.started_at,
                "message": rd.run.message,
            }
            for rd in runs
        ]
    ).astype(object)
    columns = [
        ("Scenario", "scenario", None),
        ("Run", "run", None),
        ("Solver", "solver", None),
        ("Status", "status", None),
        ("Verdict", "verdict", None),
        ("Net savings (objective)", "objective", GBP),
        ("Best bound", "best_bound", GBP),
        ("Gap", "gap", PERCENT),
        ("LP relaxation bound", "lp_bound", GBP),
        ("Rule of thumb (greedy)", "greedy", GBP),
        ("Optimiser's lead over the rule of thumb", None, GBP),
        ("Lead (% of rule of thumb)", None, PERCENT_SHORT),
        ("Global bound (every plan of the whole problem)", "global_bound", GBP),
        ("Global gap", "global_gap", PERCENT),
        ("How the global bound was obtained", "global_method", None),
        ("Build seconds", "build", SECONDS),
        ("Solve seconds", "solve", SECONDS),
        ("Variables", "variables", COUNT),
        ("Constraints", "constraints", COUNT),
        ("Input-data hash (sha256)", "hash", None),
        ("Run by", "run_by", None),
        ("Run at (UTC)", "run_at", DATETIME),
        ("Message", "message", None),
    ]
    return detail_table(
        ws,
        columns,
        data,
        freeze="B2",
        widths={"T": 20},
        formulas={
            "Optimiser's lead over the rule of thumb": '=IF(ISNUMBER(J{r}),F{r}-J{r},"")',
            "Lead (% of rule of thumb)": '=IF(AND(ISNUMBER(J{r}),J{r}<>0),(F{r}-J{r})/ABS(J{r}),"")',
        },
    )
