"""``solve(problem) -> Solution``: check, build, solve, read decisions, report.

The five steps, in order (as PyPSA's ``optimize``): the data were checked when the
:class:`~solver.problem.ProblemData` was built; :func:`~solver.model.build_model`
creates the MILP; HiGHS (default, in process) or CBC (``COIN_CMD`` with
``Orbit off``) solves it within the time limit and relative gap; decisions are read
only when the solver says it has a solution; :func:`~solver.solution.solution_frames`
computes every reported table from those decisions.

Quality figures: the LP relaxation (an upper bound, solved by HiGHS on the same
model) and the greedy heuristic's net savings (a lower bound). The greedy plan is
also given to the solver as its first incumbent (:func:`warm_start`), so a run
stopped by its time limit reports a plan at least as good as greedy's. Neither the
LP nor the greedy plan counts against the time limit of the MILP solve.

Large instances (more than :data:`~solver.screen.HULL_COLUMNS_LIMIT` allocation
columns) are solved in stages over growing candidate sets of lines
(:mod:`solver.screen`), each warm-started from the best plan so far, within the
time limit; a screened model's own bound holds only within its lines.

A large problem that no rule links across categories is solved one category at a time
(:mod:`solver.decompose`), each part by this same function, and reported as one plan.

Every run also carries a bound for the *whole* problem (``global_bound``, with
``global_bound_method``): the least of the solver's bound when the model held every
usable line, a quick Lagrangian bound of :mod:`solver.bound` (a few seconds) and, for
screened models, one computed in a second process beside the MILP for the whole time
limit: the LP relaxation of the whole model by interior point when it is small enough
(:data:`solver.bound.FULL_LP_COLUMNS`), else the Lagrangian bound stepped further.
``"optimal"`` is said only when the plan is within the gap tolerance of that bound.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from time import perf_counter

import numpy as np
import pandas as pd
import pulp

from solver.backend import RunResult, run_solver
from solver.bound import CHILD_START_SECONDS, DISCARDED, LP_METHOD, Bound, BoundProcess, lagrangian_bound
from solver.data import ModelData, prepare
from solver.decompose import separable_categories, solve_by_category
from solver.explain import explain_infeasibility
from solver.model import Model, build_model
from solver.problem import ProblemData
from solver.screen import MIN_STAGE_SECONDS, candidate_stages, hull_columns, restrict, should_screen
from solver.solution import Solution, clean_allocation, offer_volumes, reached_tiers, solution_frames


def _values(series: pd.Series) -> np.ndarray:
    return np.array([v.varValue for v in series.to_numpy()], dtype=float)


def read_decisions(m: Model) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Allocation, join month per (trust, category) and tier per offer, from solver values.

    Call only after a run that has a solution. Binaries are read as ``> 0.5``.
    """
    w = m.var["w"]
    w_on = _values(w) > 0.5
    chosen = w.index[w_on].to_frame(index=False)
    join_month = pd.Series(
        chosen["month"].to_numpy(dtype=float),
        index=pd.MultiIndex.from_frame(chosen[["trust", "category"]]),
    )
    join_month = join_month[~join_month.index.duplicated()]
    tau = m.var.get("tier", pd.Series([], dtype=object))
    if len(tau):
        on = tau.index[_values(tau) > 0.5].to_frame(index=False)
        tier = pd.Series(on["k"].to_numpy(dtype=int), index=on["offer"].to_numpy())
        tier = tier[~tier.index.duplicated()]
    else:
        tier = pd.Series([], dtype=int)
    x = m.var["x"]
    if len(x):
        # integrality tolerance lets x <= D u leave a few units on a line whose u reads 0:
        # the line is not in use, so those units are noise
        in_use = _values(m.var["u"]) > 0.5
        raw = pd.Series(np.where(in_use, _values(x), 0.0), index=x.index)
    else:
        raw = pd.Series([], dtype=float)
    tc_index = pd.MultiIndex.from_frame(m.data.tc[["trust", "category"]])
    joined = pd.Series(tc_index.isin(join_month.index), index=tc_index)
    return clean_allocation(m.data, raw, joined), join_month, tier


def warm_start(m: Model, plan: Solution) -> bool:
    """Give the solver ``plan`` (a feasible plan, e.g. the greedy one) as its first incumbent.

    The plan fixes every integer variable (line use, range, join month, tier,
    new system, supplier counted, category used); an LP over the continuous variables with those
    fixed completes it, and may move units between the lines the plan uses, so the
    start is at least as good as ``plan``. The LP's values become the variables'
    initial values (HiGHS's ``setSolution``): a run stopped by its time limit then
    always has a plan. Returns whether the completed plan was feasible.
    """
    alloc = plan.allocation[plan.allocation["units"] > 0]
    fixed: list[tuple[pulp.LpVariable, float]] = []

    def fix(series: pd.Series, values: np.ndarray) -> None:
        fixed.extend(zip(series.to_numpy(), values.astype(float), strict=True))

    x = m.var.get("x", pd.Series([], dtype=object))
    if len(x):
        used = pd.MultiIndex.from_frame(alloc[["trust", "line"]])
        fix(m.var["u"], x.index.isin(used))
        fix(m.var["y"], m.var["y"].index.isin(alloc["line"]))
    w = m.var.get("w", pd.Series([], dtype=object))
    if len(w):
        joins = plan.joins[plan.joins["joins"].astype(bool)]
        chosen = pd.MultiIndex.from_arrays(
            [joins["trust"], joins["category"], joins["join_month"].astype(int)], names=w.index.names
        )
        fix(w, w.index.isin(chosen))
    tau = m.var.get("tier", pd.Series([], dtype=object))
    if len(tau):
        k = reached_tiers(m.data, offer_volumes(m.data, alloc))
        picked = k.reindex(tau.index.get_level_values("offer")).fillna(0).to_numpy()
        fix(tau, picked == tau.index.get_level_values("k").to_numpy())
    v = m.var.get("supplier_counts", pd.Series([], dtype=object))
    if len(v):
        share = alloc.groupby(["supplier", "category"])["units"].sum()
        total = alloc.groupby("category")["units"].sum()
        idx = v.index.to_frame(index=False)
        q = share.reindex(pd.MultiIndex.from_frame(idx)).fillna(0.0).to_numpy()
        need = m.settings.min_supplier_share * total.reindex(idx["category"]).fillna(0.0).to_numpy()
        fix(v, q >= need * (1 - 1e-9))
    n = m.var.get("new_system", pd.Series([], dtype=object))
    if len(n):  # a system the trust does not hold is adopted when the plan uses a line of it
        fix(n, n.index.isin(pd.MultiIndex.from_frame(alloc[["trust", "supplier", "category"]])))
    a = m.var.get("category_used", pd.Series([], dtype=object))
    if len(a):
        fix(a, a.index.isin(plan.joins.loc[plan.joins["joins"].astype(bool), "category"]))

    bounds = [(var, var.lowBound, var.upBound) for var, _ in fixed]
    for var, value in fixed:
        var.lowBound = value
        var.upBound = value
    try:
        lp_settings = dataclasses.replace(m.settings, solver="highs", msg=False)
        completed = run_solver(m.prob, lp_settings, mip=False)
    finally:
        for var, low, up in bounds:
            var.lowBound = low
            var.upBound = up
    return completed.status == "optimal"


Progress = Callable[[dict], None]
"""Called with ``{"stage", "elapsed", "incumbent", "bound"}`` as a long solve goes on."""


BOUND_SHARE = 0.05
"""Share of the time limit the Lagrangian bound may take (at least 1 s, at most 10 s)."""


def solve(
    problem: ProblemData,
    *,
    quality: bool = True,
    explain: bool = True,
    progress: Progress | None = None,
    greedy_plan: Solution | None = None,
    bound_beside: bool = True,
    first_lines: tuple[str, ...] = (),
) -> Solution:
    """Find the plan with the largest net savings over the horizon.

    Parameters
    ----------
    problem
        Validated input tables and settings.
    quality
        Also compute the LP relaxation bound and the greedy heuristic's objective.
    explain
        On infeasibility, explain it in words in ``Solution.message`` (re-solves).
    progress
        Told the stage, elapsed seconds, best plan and global bound so far.
    greedy_plan
        The greedy heuristic's plan of ``problem``, when the caller has it already.
    bound_beside
        Compute a bound for the whole problem in a child process (screened models); False
        when the caller computes one (a part of a problem solved by category), unless the
        model is small enough for its whole LP relaxation (:data:`solver.bound.FULL_LP_COLUMNS`),
        which the caller's Lagrangian would not match.
    first_lines
        Lines to solve over first when the model is screened (with the greedy plan's), before
        the usual stages: a bound search's ranking of the lines the LP would use.

    Returns
    -------
    Solution
        Status, figures and frames; frames are empty unless the solver found a plan.
        ``global_bound`` bounds every plan of the whole problem (see module docstring).
    """
    settings = problem.settings
    start = perf_counter()
    full = prepare(problem)
    categories = separable_categories(problem, full) if should_screen(full) else None
    if categories:  # a large problem that is a sum of independent ones (solver.decompose)

        def solve_one(part: ProblemData, category: str, plan: Solution, first: tuple[str, ...]) -> Solution:
            def tell(state: dict) -> None:
                assert progress is not None
                progress({**state, "stage": f"{category}: {state['stage']}"})

            return solve(
                part,
                quality=quality,
                explain=explain,
                progress=tell if progress else None,
                greedy_plan=plan,
                bound_beside=False,
                first_lines=first,
            )

        return solve_by_category(
            problem, full, categories, solve_one, deadline=start + settings.time_limit, bound_beside=quality
        )
    # The greedy plan is both a quality figure and the MILP's first incumbent: a run
    # stopped by its time limit then still reports a plan at least as good.
    from solver.greedy import greedy

    heuristic = greedy_plan if greedy_plan is not None else greedy(problem, data=full)
    plan = heuristic if heuristic.has_solution else None
    report = _Reporter(progress, start)
    screened = should_screen(full)
    # a bound for the whole problem beside the MILP, on the other core (screened models:
    # otherwise the MILP's own bound is one); it must answer before the time limit
    worker = (
        BoundProcess.start(
            problem,
            settings.time_limit - (perf_counter() - start) - CHILD_START_SECONDS,
            whole_lp=_lp_fits(full),
            target=heuristic.objective,
        )
        if screened and quality and (bound_beside or _lp_fits(full))
        else None
    )
    budget = min(10.0, max(1.0, BOUND_SHARE * settings.time_limit))
    relaxed = lagrangian_bound(full, target=heuristic.objective, seconds=budget)
    report.update(stage="bound", incumbent=heuristic.objective, bound=relaxed.value)
    if screened:
        solution = _solve_screened(problem, full, plan, start, report, worker, relaxed, first_lines)
    else:
        report.update(stage="whole model")
        report.whole_model = True
        m = build_model(full)
        build_seconds = perf_counter() - start - (heuristic.solve_seconds or 0.0) - relaxed.seconds
        solution = solve_model(m, build_seconds=build_seconds, quality=quality, start=plan, progress=report.solver)
    beside = worker.result(deadline=start + settings.time_limit) if worker is not None else None
    whole_model = not screened or solution.candidate_lines == solution.usable_lines
    _global_bound(solution, relaxed, beside, whole_model=whole_model)
    report.update(stage="done", incumbent=solution.objective, bound=solution.global_bound)
    report.close()
    if solution.status == "infeasible" and explain:
        reasons = explain_infeasibility(problem)
        solution.message = "; ".join(reasons) if reasons else solution.message
    solution.greedy_objective = heuristic.objective
    solution.solver = settings.solver
    return solution


def _lp_fits(full: ModelData) -> bool:
    from solver import bound

    return hull_columns(full) <= bound.FULL_LP_COLUMNS


def _global_bound(solution: Solution, relaxed: Bound, beside: Bound | None, *, whole_model: bool) -> None:
    """Set ``global_bound`` (least valid bound), its method, ``global_gap`` and the honest status.

    A bound that the plan exceeds by more than rounding would be a bug in the bound:
    it is then not used (and the message says so) rather than reported.
    """
    candidates: list[tuple[float, str]] = []
    if whole_model and solution.best_bound is not None:
        candidates.append((solution.best_bound, "the solver's bound on the model with every usable line"))
    for b in (beside, relaxed):
        if b is not None and b.value is not None:
            candidates.append((b.value, b.method))
    if beside is not None and beside.value is not None and beside.method == LP_METHOD:
        solution.lp_bound = beside.value  # the whole model's LP relaxation, computed beside
    if not relaxed.feasible and solution.status != "infeasible" and solution.objective is None:
        solution.status = "infeasible"
        solution.message = "no plan satisfies every rule (a (trust, category) that must join cannot)"
    objective = solution.objective
    if objective is not None:
        slack = 1e-6 * max(1.0, abs(objective)) + PENNY_TOL
        valid = [(v, m) for v, m in candidates if v >= objective - slack]
        if len(valid) < len(candidates):
            solution.message += f"; {DISCARDED}"
        candidates = valid
    if not candidates:
        return
    value, method = min(candidates)
    solution.global_bound, solution.global_bound_method = value, method
    if objective is None:
        return
    solution.global_gap = max(0.0, value - objective) / max(1.0, abs(objective))
    # within the tolerance, or a penny (the reported plan is recomputed from the solver's
    # values and may differ from the solver's own objective by rounding)
    allowed = solution.gap_tolerance * max(1.0, abs(objective)) + PENNY_TOL
    if solution.status in ("optimal", "gap_limit") and value - objective > allowed:
        solution.status = "feasible"
    if solution.status != "optimal" or not whole_model:
        solution.message += f"; within {solution.global_gap:.2%} of the best possible plan (bound: {method})"


class _Reporter:
    """Passes progress to the caller's callback, with elapsed time, and ticks every second."""

    def __init__(self, callback: Progress | None, start: float) -> None:
        self.callback, self.start = callback, start
        self.state: dict = {"stage": "greedy", "incumbent": None, "bound": None}
        self._sent = start
        self._stop = None
        if callback is not None:
            import threading

            self._stop = threading.Event()
            threading.Thread(target=self._tick, daemon=True).start()

    def update(self, **changes) -> None:
        self.state.update({k: v for k, v in changes.items() if v is not None or k == "stage"})
        self._send()

    whole_model = False
    """Whether the solver's model holds every usable line (its bound is then a global one)."""

    @property
    def solver(self) -> Callable[[float | None, float | None], None] | None:
        """The solver's callback (best plan, solver's bound), or None when nobody listens."""
        return self._from_solver if self.callback is not None else None

    def _from_solver(self, incumbent: float | None, bound: float | None) -> None:
        best = self.state.get("incumbent")
        if incumbent is not None and (best is None or incumbent > best):
            self.state["incumbent"] = incumbent
        known = self.state.get("bound")
        if self.whole_model and bound is not None and (known is None or bound < known):
            self.state["bound"] = bound
        if perf_counter() - self._sent >= 1.0:  # the solver calls back very often
            self._send()

    def _send(self) -> None:
        if self.callback is not None:
            self._sent = perf_counter()
            self.callback({**self.state, "elapsed": self._sent - self.start})

    def _tick(self) -> None:
        assert self._stop is not None
        while not self._stop.wait(1.0):
            self._send()

    def close(self) -> None:
        if self._stop is not None:
            self._stop.set()


def _solve_screened(
    problem: ProblemData,
    full: ModelData,
    plan: Solution | None,
    start: float,
    report: _Reporter,
    worker: BoundProcess | None = None,
    relaxed: Bound | None = None,
    first_lines: tuple[str, ...] = (),
) -> Solution:
    """Solve over growing candidate sets of lines (:mod:`solver.screen`) within the time limit.

    With ``first_lines`` (the lines a bound's search ranks first, :attr:`Bound.ranked_lines`),
    a stage over them and the plan's lines comes before the others.

    Stage k solves the model on :data:`~solver.screen.STAGES` ``[k]`` lines per group
    (plus the lines of the best plan so far), warm-started from that plan; the next
    stage starts when a stage is solved to its gap tolerance and time is left. The best
    plan of any stage is returned, with its stage's bound and gap (within its lines),
    and the message says how many lines each stage had. If a stage holds every usable
    line, its optimum is the full problem's. The stages also stop when the best plan is
    within the gap tolerance of a bound for the whole problem (``relaxed``, or the one
    ``worker`` computes beside them): it is then proven as good as a full solve would.
    """
    settings = problem.settings
    deadline = start + settings.time_limit
    usable = int(full.pairs["line"].nunique())
    best: Solution | None = None
    best_n = 0
    stages: list[str] = []
    seen: set[str] = set()
    build_seconds = solve_seconds = 0.0
    first = [set(first_lines) & set(full.pairs["line"])] if first_lines else []
    for number, lines in enumerate(itertools.chain(first, candidate_stages(full)), start=1 - len(first)):
        if plan is not None:  # the best plan so far stays feasible and is the warm start
            lines = lines | set(plan.allocation["line"])
        if relaxed is not None and number > 1:
            # the lines the relaxation's plan uses are likely in the optimum, but not in
            # the first stage, which must stay small enough to improve on greedy: at L, with
            # them (117-119 lines instead of 94) it reached a plan 1.0% from the bound in two
            # runs and did not improve on greedy within 100 s in two others (HiGHS)
            lines = lines | set(relaxed.lines)
        if lines == seen:
            continue
        remaining = deadline - perf_counter()
        if remaining < MIN_STAGE_SECONDS and best is not None:
            break
        seen = lines
        report.update(stage=f"stage {number}: {len(lines):,} of {usable:,} lines")
        tick = perf_counter()
        stage_settings = dataclasses.replace(settings, time_limit=max(remaining, MIN_STAGE_SECONDS))
        restricted = restrict(dataclasses.replace(problem, settings=stage_settings), lines)
        m = build_model(prepare(restricted))
        build_seconds += perf_counter() - tick
        # a screened model's LP bound is a bound within its lines only: not computed
        sol = solve_model(m, quality=False, start=plan, progress=report.solver, deadline=deadline)
        solve_seconds += sol.solve_seconds
        n_lines = len(lines)  # every candidate and plan line is a usable line
        stages.append(f"{n_lines:,}")
        if sol.has_solution and _better(sol, best):
            best, plan, best_n = sol, sol, n_lines
            report.update(incumbent=sol.objective)
        elif best is None or not best.has_solution:
            best, best_n = sol, n_lines
        whole = [b.value for b in (relaxed, worker.poll() if worker else None) if b is not None and b.value is not None]
        if whole:
            report.update(bound=min(whole))
        if best.objective is not None and whole and _proven(best.objective, min(whole), settings.gap_rel):
            break  # within the tolerance of a bound for the whole problem: no stage can do better
        if sol.status == "infeasible" and n_lines < usable:
            continue  # fewer lines can make a feasible problem infeasible: try more
        if sol.status not in ("optimal", "gap_limit") or n_lines >= usable:
            break
    assert best is not None
    if not best.has_solution and best.status == "infeasible" and best_n < usable:
        # infeasible over some lines says nothing about all of them
        best.status = "not_solved"
        best.message = "no plan found over the candidate lines within the time limit"
    best.build_seconds = build_seconds
    best.solve_seconds = solve_seconds
    best.candidate_lines, best.usable_lines = best_n, usable
    if best.candidate_lines >= usable:
        best.message += f"; solved in stages over {', '.join(stages)} of {usable:,} usable lines, the last holding all"
    else:
        best.message += (
            f"; solved in stages over {', '.join(stages)} of {usable:,} usable lines (line screening:"
            " the solver's bound and gap are within the lines of the best stage)"
        )
    return best


def _proven(objective: float, bound: float, gap_rel: float) -> bool:
    return max(0.0, bound - objective) / max(1.0, abs(objective)) <= gap_rel


PENNY_TOL = 1e-2
"""Plans within a penny (GBP) of each other are equally good."""


def _better(sol: Solution, best: Solution | None) -> bool:
    """A later stage's plan replaces the best so far if it saves more, or as much and
    was solved to the gap tolerance (its bound then covers more lines)."""
    if sol.objective is None:  # callers pass plans only, but say so to the type checker
        return False
    if best is None or best.objective is None:
        return True
    if sol.objective > best.objective + PENNY_TOL:
        return True
    return sol.objective >= best.objective - PENNY_TOL and sol.status in ("optimal", "gap_limit")


def solve_model(
    m: Model,
    *,
    build_seconds: float = 0.0,
    quality: bool = False,
    start: Solution | None = None,
    progress: Callable[[float | None, float | None], None] | None = None,
    deadline: float | None = None,
) -> Solution:
    """Solve a built model and report it (see :func:`solve`); ``start``: a plan to warm-start from;
    ``progress``: told the best plan's value while the solver runs (HiGHS); ``deadline``
    (``perf_counter`` time): the solver gets what is left of it once the warm start is
    ready (at least :data:`~solver.screen.MIN_STAGE_SECONDS`), not the model's own limit."""
    settings = m.settings
    prob = m.prob
    lp_bound = None
    if quality and prob.isMIP():
        lp_settings = dataclasses.replace(settings, solver="highs", msg=False)
        lp = run_solver(prob, lp_settings, mip=False)
        lp_bound = lp.objective if lp.status == "optimal" else None
    # after the LP bound, whose values would overwrite the initial ones
    warm = start is not None and bool(prob.isMIP()) and warm_start(m, start)
    if deadline is not None:
        settings = dataclasses.replace(settings, time_limit=max(MIN_STAGE_SECONDS, deadline - perf_counter()))
    run = run_solver(prob, settings, warm=warm, progress=progress)
    solution = Solution(
        status=run.status,
        message=_message(run),
        solver=settings.solver,
        gap_tolerance=settings.gap_rel,
        best_bound=run.best_bound,
        build_seconds=build_seconds,
        solve_seconds=run.seconds,
        n_variables=prob.numVariables(),
        n_constraints=prob.numConstraints(),
        lp_bound=lp_bound,
    )
    if not run.has_solution:
        return solution  # never read values without a solution
    x, join_month, tier = read_decisions(m)
    objective, frames = solution_frames(m.data, x, join_month, tier)
    solution.objective = objective
    solution.solver_objective = run.objective
    if run.best_bound is not None and run.objective is not None:
        solution.gap = max(0.0, run.best_bound - run.objective) / max(1.0, abs(run.objective))
    elif run.status == "optimal":
        solution.gap = 0.0 if not prob.isMIP() else None
    for name, frame in frames.items():
        setattr(solution, name, frame)
    return solution


def _message(run: RunResult) -> str:
    """The run's own message, after the status in words when the solver proved its plan."""
    if run.status in ("optimal", "gap_limit") and run.message:
        return f"{_describe(run)}; {run.message}"
    return run.message or _describe(run)


def _describe(run: RunResult) -> str:
    if run.status == "optimal":
        return "optimal (within the relative gap tolerance)"
    if run.status == "gap_limit":
        return "stopped at the relative gap tolerance"
    if run.status == "time_limit":
        return (
            "time limit reached; best plan found is reported"
            if run.has_solution
            else "time limit reached before any plan was found"
        )
    if run.status == "infeasible":
        return "no plan satisfies every rule"
    return run.status.replace("_", " ")
