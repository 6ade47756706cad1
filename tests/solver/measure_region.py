"""Measure the solver on region-sized synthetic instances (not a test: no assertions).

Run from the repository root:

    .venv/bin/python tests/solver/measure_region.py [--seeds 0 1 2] [--cbc] [--time-limit 120]

Instances come from ``solver_testdata.region_problem``: 6 trusts, 20 groups, 150
lines, 3 categories, tiers on 8 offers, 36-month horizon, quarterly join grid,
minimum 2 suppliers per category, maximum share 70 %, year-one cap 60 %.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from solver_testdata import region_problem  # noqa: E402

from solver.checker import check_solution  # noqa: E402
from solver.solve import solve  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--cbc", action="store_true", help="also solve with CBC")
    parser.add_argument("--time-limit", type=float, default=120.0)
    parser.add_argument("--participation", default="all", choices=["all", "optional"])
    args = parser.parse_args()
    solvers = ["highs", "cbc"] if args.cbc else ["highs"]
    header = (
        f"{'seed':>4} {'solver':6} {'status':9} {'build_s':>7} {'solve_s':>7} {'gap':>9} "
        f"{'objective':>14} {'best_bound':>14} {'lp_bound':>14} {'greedy':>14} {'vars':>6} "
        f"{'rows':>6} {'wall_s':>6} check"
    )
    print(header)
    for seed in args.seeds:
        for name in solvers:
            p = region_problem(seed, solver=name, time_limit=args.time_limit, participation=args.participation)
            start = time.perf_counter()
            sol = solve(p)
            wall = time.perf_counter() - start
            violations = check_solution(p, sol)

            def money(v: float | None) -> str:
                return f"{v:14,.0f}" if v is not None else f"{'-':>14}"

            gap = f"{sol.gap:9.2e}" if sol.gap is not None else f"{'-':>9}"
            print(
                f"{seed:>4} {name:6} {sol.status:9} {sol.build_seconds:7.2f} {sol.solve_seconds:7.2f} "
                f"{gap} {money(sol.objective)} {money(sol.best_bound)} {money(sol.lp_bound)} "
                f"{money(sol.greedy_objective)} {sol.n_variables:>6} {sol.n_constraints:>6} "
                f"{wall:6.1f} {'ok' if not violations else violations[:2]}",
                flush=True,
            )


if __name__ == "__main__":
    main()
