"""The price to win: for each line outside a scenario's optimal range, the regional unit
price at which the optimiser would take it (see :mod:`solver.whatif` for the method).

``price_to_win(engine, "all-trusts")`` builds the scenario's problem, solves it once to
a tight gap (the base plan), then searches each line's price in worker processes
(``concurrent.futures.ProcessPoolExecutor``, spawn context, as the sweeps use; HiGHS
with one thread per worker). Only the problem tables, the line and the base plan
travel to a worker. A what-if scenario with ``line_prices = {LINE = PRICE}`` checks
any answer by running it.
"""

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from time import perf_counter

import pandas as pd
from sqlmodel import Session

from procurement.errors import UnknownReferenceError
from procurement.scenarios import ScenarioError, build_problem

DEFAULT_WORKERS = 2
COLUMNS = ["line", "status", "current_price", "price_to_win", "cut_pct", "displaces", "solves", "reason"]


def price_to_win(engine, name: str, *, lines: list[str] | None = None, workers: int = DEFAULT_WORKERS) -> dict:
    """Price to win of ``lines`` (default: every usable line outside the optimal range).

    Returns ``{"scenario", "objective_gbp", "lines" (a frame of COLUMNS, winnable lines
    first by the cut needed), "wall_seconds", "workers"}``.
    """
    from procurement.scenarios.manage import get_settings
    from solver.data import prepare
    from solver.solve import solve
    from solver.whatif import GAP_REL, carries
    from solver.whatif import price_to_win as line_price_to_win

    if workers < 1:
        raise ScenarioError("--workers must be 1 or more")
    tick = perf_counter()
    with Session(engine) as session:
        _, settings = get_settings(session, name)
        problem, _ = build_problem(session, settings)
    problem = problem.with_settings(gap_rel=min(problem.settings.gap_rel, GAP_REL), threads=1)
    base = solve(problem, quality=False)
    if not base.has_solution:
        raise ScenarioError(f"scenario {name} has no optimal plan ({base.status}): {base.message}")
    known = set(problem.lines["line"])
    if lines:
        unknown = sorted(set(lines) - known)
        if unknown:
            raise UnknownReferenceError(f"no product line {', '.join(unknown)} in scenario {name}'s groups")
        targets = list(dict.fromkeys(lines))
    else:
        usable = set(prepare(problem).pairs["line"])
        targets = sorted(line for line in usable if not carries(base, line))
    rows = []
    if workers == 1 or len(targets) <= 1:
        rows = [line_price_to_win(problem, line, base) for line in targets]
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(workers, len(targets)), mp_context=context) as pool:
            rows = list(pool.map(line_price_to_win, [problem] * len(targets), targets, [base] * len(targets)))
    table = pd.DataFrame(rows, columns=[*COLUMNS, "not_at"])
    order = table["status"].map({"wins": 0, "in_range": 1, "cannot_win": 2})
    table = table.assign(_o=order).sort_values(["_o", "cut_pct", "line"]).drop(columns="_o")
    table["displaces"] = table["displaces"].map(lambda d: ", ".join(d))
    return {
        "scenario": name,
        "objective_gbp": base.objective,
        "lines": table[COLUMNS].reset_index(drop=True),
        "wall_seconds": perf_counter() - tick,
        "workers": workers,
    }


__all__ = ["price_to_win"]
