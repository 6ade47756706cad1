r"""Solving a problem that separates by category, one category at a time.

When no rule links two categories, the problem is a sum of independent problems, one
per category: the plan of the whole is the union of the categories' plans, its net
savings the sum of theirs, and a bound for the whole the sum of their bounds. Rules
that link categories: the year-one cap (a share of a trust's units over all its
categories), the join capacity (pairs of every category per quarter), the "no worse
off" rule of optional participation (a trust's net over all its categories) and an
offer whose lines span categories (one volume). Everything else (range caps per group,
per-trust caps per group, suppliers and shares per category, contracts and switching
costs per (trust, category)) stays within one category.

Why solve the parts apart: HiGHS does not detect independent blocks, so on the joint
model one branch-and-bound closes one gap for all of them, and the screening stages
and the bound are sized for the whole. Measured on the national benchmark region
(L: hip, knee, trauma; 130 trusts, seed 2026, default scenario, 2 busy cores): hip on
its own reached 0.26% from its bound in 40 s (£53,876,073 against its Lagrangian bound
£54,015,478), where the joint 100 s run ended 3.0% from the whole bound; knee's whole LP
relaxation (74,288 columns) is small enough to try beside its stages.

Each category gets the time still left when its turn comes times its share of the
room for improvement still to solve (:func:`time_weights`; a part proven early passes
its time on), the largest first. At L an equal third left knee (147 lines, the hardest
MILP of the three and the most to gain) at its first stage in one run of two:
£85.0m against £87.9m.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from time import perf_counter

import pandas as pd

from solver.bound import CHILD_START_SECONDS, DISCARDED, FULL_LP_COLUMNS, Bound, CategoryBounds
from solver.data import ModelData
from solver.problem import ProblemData
from solver.solution import Solution, all_tiers, solution_frames

SolveOne = Callable[[ProblemData, str, Solution, tuple[str, ...]], Solution]
"""Solve one category: its problem, name, greedy plan and lines to try first (may be empty)."""
"""Solves one category's problem, given with the category's name and its greedy plan."""


def separable_categories(problem: ProblemData, data: ModelData) -> list[str] | None:
    """The categories of a problem that separates by category (two or more), else None."""
    s = problem.settings
    if s.participation != "all":
        return None  # "no worse off" sums a trust's categories
    if s.year_one_cap is not None and "year_one_cap" not in s.relax:
        return None
    if s.max_joins_per_quarter is not None and "join_capacity" not in s.relax:
        return None
    category_of = problem.groups.set_index("group")["category"]
    line_category = problem.lines["group"].map(category_of)
    offer_categories = (
        problem.offer_lines.merge(pd.DataFrame({"line": problem.lines["line"], "category": line_category}), on="line")
        .groupby("offer")["category"]
        .nunique()
    )
    if (offer_categories > 1).any():
        return None
    categories = sorted(str(c) for c in data.pairs["category"].unique())
    return categories if len(categories) >= 2 else None


def scout(part: ProblemData) -> tuple[Solution, float, int]:
    """A category's greedy plan, its room for improvement (the Lagrangian relaxation's value
    without multipliers, every trust on its best lines and every tier claimed: one pass,
    :mod:`solver.bound`, less the plan's value; 0 without a plan or a relaxed value) and its
    size ((trust, line, month) columns, :func:`solver.screen.hull_columns`)."""
    from solver.bound import lagrangian_bound
    from solver.data import prepare
    from solver.greedy import greedy
    from solver.screen import hull_columns

    data = prepare(part)
    plan = greedy(part, data=data)
    first = lagrangian_bound(data, target=plan.objective, max_iterations=1)
    columns = hull_columns(data)
    if plan.objective is None or first.value is None:
        return plan, 0.0, columns
    return plan, max(0.0, first.value - plan.objective), columns


def time_weights(room: dict[str, float]) -> pd.Series:
    """Each category's share of the time limit: its share of the room for improvement
    (:func:`scout`), at least a tenth of an equal share before normalising.

    Why not the spend: at L, knee (42% of the spend, 147 lines) needs about 38 s for its
    second stage, which found a plan 3.5% better than its first (£87,925,954 against
    £84,955,232); with its share of the spend (about 40 s) it reached that stage in two
    runs of four. Its room is about 60% of the three categories' (greedy £82.1m against
    £89.6m).
    """
    weights = pd.Series(room, dtype=float)
    if weights.sum() <= 0:
        return pd.Series(1.0 / len(room), index=list(room))
    weights = weights.clip(lower=0.1 * weights.sum() / len(weights))
    return weights / weights.sum()


def bound_weights(columns: dict[str, int]) -> pd.Series:
    """Each category's share of the bound process's time: its share of the (trust, line,
    month) columns, at least :data:`BOUND_FLOOR` (then normalised).

    Why not the MILP's shares: the bound's search costs about one pass over a part's columns
    per evaluation, and the part with the most columns needs the most time (at L, trauma's
    532k columns: 5.5% above its plan after the 22 s its MILP share gave its bound, 0.86%
    after about 1,100 evaluations), while knee's 74k columns come within 0.07% of its plan in
    45 s and 0.3% in 25 s."""
    weights = pd.Series(columns, dtype=float)
    if weights.sum() <= 0:
        return pd.Series(1.0 / len(columns), index=list(columns))
    weights = weights / weights.sum()
    floor = min(BOUND_FLOOR, 1.0 / len(weights))
    low = weights < floor
    rest = 1.0 - floor * low.sum()
    return weights.where(low, weights / weights[~low].sum() * rest).where(~low, floor)


BOUND_FLOOR = 0.2
"""Least share of the bound process's time a category gets (see :func:`bound_weights`)."""
FIRST_STAGE_LINES = 30
"""Lines of the bound process's ranking a part's MILP solves over first (with its greedy plan's).

Measured (session 9, L): the 18 lines of trauma's best plan known (£23,335,886, found by a
403 s staged solve) were within the top 23 of the ranking at the search's last temperature, and
a MILP over them solved in 3.7 s; the runs' stages (32 and 45 lines) had found £23,222,173.
With this first stage (31 lines) trauma's plan in a 100 s L run was £23,350,010 and £23,352,302
(its relaxation's LP £23,352,837), and L ended 0.085% and 0.067% from its bound."""


def bound_order(columns: dict[str, int]) -> list[str]:
    """The order the bound process takes the parts in: the most columns first, so that the part
    with the fewest, which makes the most evaluations a second, goes last and gets the time any
    part before it leaves (a search that settles early stops: at L, hip's in about 20 of its
    33 s).

    Measured (session 9, L, 100 s, ``/work/exp8/runL.py``-style): with knee (the fewest columns)
    first, 0.286% to 0.302% from the bound in three runs (knee's bound 0.31-0.34% above its plan
    after its 18 s); last, 0.183% (knee 0.144% after 32 s; hip settled at its LP in 18 s)."""
    return sorted(columns, key=lambda category: (-columns[category], category))


def category_problem(problem: ProblemData, category: str) -> ProblemData:
    """The part of ``problem`` in one category (every trust kept; its own time limit later)."""
    return restrict_to_categories(problem, {category})


def restrict_to_categories(problem: ProblemData, categories: set[str]) -> ProblemData:
    """``problem`` over ``categories`` only (their groups, lines, demand, offers, contracts,
    switching costs)."""
    if categories >= set(problem.groups["category"]):
        return problem
    groups = problem.groups[problem.groups["category"].isin(categories)]
    lines = problem.lines[problem.lines["group"].isin(groups["group"])]
    offer_lines = problem.offer_lines[problem.offer_lines["line"].isin(lines["line"])]
    offers = problem.offers[problem.offers["offer"].isin(offer_lines["offer"])]
    s = problem.settings
    settings = dataclasses.replace(
        s,
        range_cap_by_group={g: k for g, k in s.range_cap_by_group.items() if g in set(groups["group"])},
        min_suppliers_by_category={c: k for c, k in s.min_suppliers_by_category.items() if c in categories},
    )
    return dataclasses.replace(
        problem,
        groups=groups,
        lines=lines,
        demand=problem.demand[problem.demand["group"].isin(groups["group"])],
        current=problem.current[problem.current["line"].isin(lines["line"])],
        candidates=problem.candidates[problem.candidates["line"].isin(lines["line"])],
        offers=offers,
        offer_lines=offer_lines,
        tiers=problem.tiers[problem.tiers["offer"].isin(offers["offer"])],
        contracts=problem.contracts[problem.contracts["category"].isin(categories)],
        switching=problem.switching[problem.switching["category"].isin(categories)],
        settings=settings,
    )


def solve_by_category(
    problem: ProblemData,
    data: ModelData,
    categories: list[str],
    solve_one: SolveOne,
    deadline: float,
    bound_beside: bool = True,
) -> Solution:
    """Solve each category with ``solve_one`` (within ``deadline``, ``perf_counter`` time)
    and report the union of their plans, with the sums of their bounds.

    The whole plan is recomputed from the parts' decisions on the whole problem's data
    (:func:`~solver.solution.solution_frames`), so every reported table is the whole's.
    Status: "infeasible" (or the first part's failure) if a part has no plan; else
    "optimal" when the plan is within the tolerance of the summed bound, else
    "time_limit" if a part's solver stopped at its limit, else "feasible".

    With ``bound_beside``, one child process (:class:`~solver.bound.CategoryBounds`) computes
    the Lagrangian bound of each part too large for its whole LP relaxation
    (:data:`~solver.bound.FULL_LP_COLUMNS`) in turn on the other core, on its own schedule
    (:func:`bound_weights`); ``solve_one`` should then start a bound process only for the
    smaller parts (their LP). A part keeps the least of its own bound and the child's.
    """

    parts: list[tuple[str, Solution]] = []
    problems = {c: category_problem(problem, c) for c in categories}
    scouted = {c: scout(p) for c, p in problems.items()}  # each greedy plan is computed once
    weight = time_weights({c: room for c, (_, room, _) in scouted.items()}).sort_values(ascending=False, kind="stable")
    # the child's Lagrangian bounds are for the parts too large for their whole LP; a smaller
    # part's own bound process solves its LP (solver.solve.solve, bound_beside)
    large = {c: columns for c, (_, _, columns) in scouted.items() if columns > FULL_LP_COLUMNS}
    beside = None
    if bound_beside and large:
        seconds = deadline - perf_counter() - CHILD_START_SECONDS
        shares = bound_weights(large)
        beside = CategoryBounds.start(
            [
                (c, problems[c], scouted[c][0].objective, max(1.0, seconds * float(shares[c])))
                for c in bound_order(large)
            ]
        )
    for i, category in enumerate(weight.index):
        rest = float(weight.iloc[i:].sum())
        fraction = float(weight.iloc[i]) / rest if rest > 0 else 1.0 / (len(weight) - i)
        share = max(1.0, (deadline - perf_counter()) * fraction)
        sub = problems[category]
        sub = dataclasses.replace(sub, settings=dataclasses.replace(sub.settings, time_limit=share))
        plan = scouted[category][0]
        # the child's bound for this part, if done before its MILP starts (at L trauma's, about
        # 45 s into the run, before its MILP at about 78 s), ranks the lines its LP would use
        done = beside.finished(category) if beside is not None else None
        first = done.ranked_lines[:FIRST_STAGE_LINES] if done is not None else ()
        part = solve_one(sub, category, plan, first)
        if not part.has_solution and part.status != "infeasible":
            part = _greedy_instead(plan, part)  # a part stopped without a plan keeps greedy's
        if not part.has_solution:
            if beside is not None:
                beside.result(deadline=perf_counter())  # stops the child
            part.message = f"{category}: {part.message}"
            return part  # infeasible in one category: infeasible as a whole
        parts.append((category, part))
    if beside is not None:
        proven = all(
            part.global_gap is not None and part.global_gap <= part.gap_tolerance for _, part in parts
        )  # then nothing the child finds can change the answer: stop it now
        found = beside.result(deadline=perf_counter() if proven else deadline)
        parts = [(category, _with_bound(part, found.get(category))) for category, part in parts]
    return _merge(data, parts)


def _with_bound(part: Solution, bound: Bound | None) -> Solution:
    """``part`` with the child's bound for it, if that is lower than its own (and not below its
    plan: a bound below a plan would be a bug; it is not used, and the message says so, as
    :func:`solver.solve` says of its own bounds)."""
    if bound is None or bound.value is None or part.objective is None:
        return part
    if bound.value < part.objective - 1e-6 * max(1.0, abs(part.objective)) - 1e-2:
        part.message += f"; {DISCARDED}"
        return part
    if part.global_bound is not None and part.global_bound <= bound.value:
        return part
    part.global_bound, part.global_bound_method = bound.value, bound.method
    part.global_gap = max(0.0, bound.value - part.objective) / max(1.0, abs(part.objective))
    return part


def _greedy_instead(plan: Solution, stopped: Solution) -> Solution:
    """The greedy plan of a part whose solve stopped without one, with that solve's bound."""
    if not plan.has_solution:
        return stopped
    plan = dataclasses.replace(plan)
    plan.status = "time_limit"
    plan.message = f"{stopped.message}; the greedy plan is kept"
    plan.global_bound, plan.global_bound_method = stopped.global_bound, stopped.global_bound_method
    if plan.global_bound is not None and plan.objective is not None:
        plan.global_gap = max(0.0, plan.global_bound - plan.objective) / max(1.0, abs(plan.objective))
    plan.greedy_objective = plan.objective
    plan.usable_lines, plan.candidate_lines = stopped.usable_lines, stopped.candidate_lines
    return plan


def _merge(data: ModelData, parts: list[tuple[str, Solution]]) -> Solution:
    sols = [sol for _, sol in parts]
    x = pd.concat([sol.allocation.set_index(["trust", "line"])["units"] for sol in sols]).astype(float)
    joined = [sol.joins[sol.joins["joins"].astype(bool)] for sol in sols]
    join_month = pd.concat([j.set_index(["trust", "category"])["join_month"].astype(float) for j in joined])
    ks = all_tiers(data)[["offer", "threshold", "k"]]
    reached = pd.concat([sol.tiers_reached[["offer", "threshold"]] for sol in sols]).merge(
        ks, on=["offer", "threshold"], how="left"
    )
    tier = pd.Series(reached["k"].fillna(0).astype(int).to_numpy(), index=reached["offer"].to_numpy())
    objective, frames = solution_frames(data, x, join_month, tier)

    # a part solved whole reports no line counts: it held every usable line of its category
    usable = data.pairs.groupby("category")["line"].nunique()
    solved = [sol.candidate_lines if sol.candidate_lines is not None else usable[c] for c, sol in parts]

    def total(name: str) -> float | None:
        values = [getattr(sol, name) for sol in sols]
        return None if any(v is None for v in values) else float(sum(values))

    merged = Solution(
        status="feasible",
        solver=sols[0].solver,
        objective=objective,
        best_bound=total("best_bound"),
        solver_objective=total("solver_objective"),
        build_seconds=sum(sol.build_seconds for sol in sols),
        solve_seconds=sum(sol.solve_seconds for sol in sols),
        n_variables=sum(sol.n_variables for sol in sols),
        n_constraints=sum(sol.n_constraints for sol in sols),
        lp_bound=total("lp_bound"),
        greedy_objective=total("greedy_objective"),
        candidate_lines=int(sum(solved)),
        usable_lines=int(usable.sum()),
        global_bound=total("global_bound"),
        gap_tolerance=sols[0].gap_tolerance,
    )
    for name, frame in frames.items():
        setattr(merged, name, frame)
    if merged.best_bound is not None and merged.solver_objective is not None:
        merged.gap = max(0.0, merged.best_bound - merged.solver_objective) / max(1.0, abs(merged.solver_objective))
    methods = sorted({sol.global_bound_method for sol in sols if sol.global_bound_method})
    merged.global_bound_method = "sum over the categories, each solved on its own, of: " + "; ".join(methods)
    each = ", ".join(
        f"{category} {sol.status}"
        + (f" within {sol.global_gap:.3%}" if sol.global_gap is not None else "")
        + f" ({n:,} of {usable[category]:,} lines)"
        for (category, sol), n in zip(parts, solved, strict=True)
    )
    if merged.global_bound is not None:
        merged.global_gap = max(0.0, merged.global_bound - objective) / max(1.0, abs(objective))
        allowed = merged.gap_tolerance * max(1.0, abs(objective)) + 1e-2
        if merged.global_bound - objective <= allowed:
            merged.status = "optimal"
    if merged.status != "optimal" and any(sol.status == "time_limit" for sol in sols):
        merged.status = "time_limit"
    merged.message = f"solved by category, no rule linking two categories: {each}"
    merged.message += "".join(f"; {category}: {DISCARDED}" for category, sol in parts if DISCARDED in sol.message)
    if merged.global_gap is not None:
        merged.message += (
            f"; within {merged.global_gap:.2%} of the best possible plan (bound: {merged.global_bound_method})"
        )
    return merged
