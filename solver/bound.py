r"""A bound on the net savings of the *whole* problem, cheap at national scale.

Why: large instances are solved over candidate lines (:mod:`solver.screen`), so the
solver's own bound holds only within those lines, and the LP relaxation of the whole
national model takes most of an hour. This module computes an upper bound valid for
every plan of the full problem in seconds, by Lagrangian relaxation.

The relaxation :math:`R(\lambda)` (every plan of the full model is a plan of it, with an
objective at least as large, so :math:`\max R(\lambda) \ge` the optimum):

- the regional range link :math:`u_{tl} \le y_l` is *priced*: multipliers
  :math:`\lambda_{tl} \ge 0` add :math:`\sum \lambda_{tl} (y_l - u_{tl}) \ge 0`;
- volume tiers are relaxed to the deepest reachable tier of each offer for every
  unit (the discount can only be smaller), earned from the join month on;
- a system cost :math:`\Sigma_{tsc}` is charged as :math:`\Sigma_{tsc} / G_{tsc}` per
  group that uses a new line of the system, :math:`G_{tsc}` the groups where the trust
  could (never more than the cost once);
- the per-trust range cap, minimum suppliers, maximum share, year-one cap, join
  capacity and the "no worse off" rule are dropped.

What remains separates. Each (trust, category) picks one candidate join month
:math:`m` (none only under optional participation) and, in each of its groups, the one
line with the largest

.. math::
    a_{tlm} - \lambda_{tl}, \qquad
    a_{tlm} = \rho_m \big(B_{tg} - D_{tg}\, p_l (1 - \bar d_l)\big) - \sigma_{tl} - \Sigma_{tsc}/G_{tsc}

(one line is optimal: splitting a group's demand gives a mix of the lines' rates and
pays every fixed cost), less the one-off costs :math:`f_{tcm}`; the range part keeps the
:math:`K_g` lines of each capped group with the largest :math:`\Lambda_l = \sum_t
\lambda_{tl}` (every line of an uncapped group). So

.. math::
    R(\lambda) = \sum_{t,c} \max_m \Big[ -f_{tcm} + \sum_{g \in c} \max_{l}\,(a_{tlm} - \lambda_{tl}) \Big]
        + \sum_g \operatorname{top}_{K_g} \Lambda_l

is computed with a few vectorised passes over the (trust, line, month) table, and
:math:`\lambda` is improved by projected subgradient steps (Polyak's step towards a
known plan's value), keeping the smallest :math:`R` seen. Every :math:`R(\lambda)` is a
valid bound; the steps only make it tighter.
"""

from __future__ import annotations

from dataclasses import dataclass
from time import perf_counter

import numpy as np
import pandas as pd

from solver.data import ModelData
from solver.problem import ProblemData
from solver.model import range_cap_rows


@dataclass
class Bound:
    """An upper bound on the net savings (GBP) of every plan of a problem.

    ``method`` says how it was obtained (shown to users); ``iterations`` and
    ``seconds`` what it cost; ``feasible`` is False when the relaxation already has
    no plan (then no plan of the problem exists and ``value`` is None).
    """

    value: float | None
    method: str
    iterations: int = 0
    seconds: float = 0.0
    feasible: bool = True


@dataclass
class _Tables:
    """Index arrays of the relaxation, built once (see :func:`_tables`)."""

    a: np.ndarray  # a_tlm per (trust, line, month) row, sorted by (trust, group, month)
    pair_of_row: np.ndarray  # pair index of each row
    seg_starts: np.ndarray  # first row of each (trust, group, month) segment
    seg_of_row: np.ndarray
    tcm_of_seg: np.ndarray  # (trust, category, month) of each segment
    one_off: np.ndarray  # f_tcm per (trust, category, month)
    tc_of_tcm: np.ndarray
    n_tc: int
    must_join: np.ndarray  # per (trust, category): participation "all"
    line_of_pair: np.ndarray
    n_lines: int
    capped_group_of_line: np.ndarray  # capped group code of each line, -1 if uncapped
    caps: np.ndarray  # K_g per capped group code
    tie_break: np.ndarray  # per line: larger first among equal prices
    infeasible: bool


def _tables(data: ModelData) -> _Tables:
    pairs = data.pairs.reset_index(drop=True)
    jo = data.join_options
    settings = data.settings
    deepest = data.tiers.groupby("offer")["discount"].max()
    discount = pairs["offer"].map(deepest).astype(float).fillna(0.0).to_numpy()
    # a system cost shared over the groups where the trust could use a new line of it
    new_system = (pairs["system_cost"].to_numpy() > 0) & pairs["is_new"].to_numpy(dtype=bool)
    groups_of_system = pairs.loc[new_system].groupby(["trust", "supplier", "category"])["group"].transform("nunique")
    system_share = np.zeros(len(pairs))
    system_share[new_system] = pairs.loc[new_system, "system_cost"].to_numpy() / groups_of_system.to_numpy()
    tg = data.tg.set_index(["trust", "group"])
    baseline = tg["baseline"].reindex(pd.MultiIndex.from_frame(pairs[["trust", "group"]])).to_numpy()
    rate = baseline - pairs["demand"].to_numpy() * pairs["price"].to_numpy() * (1.0 - discount)
    fixed = pairs["switch_cost"].to_numpy() + system_share

    tc = data.tc[["trust", "category"]].reset_index(drop=True)
    tc_code = pd.Series(np.arange(len(tc)), index=pd.MultiIndex.from_frame(tc))
    jo = jo.assign(tc=tc_code.reindex(pd.MultiIndex.from_frame(jo[["trust", "category"]])).to_numpy())
    jo = jo.sort_values(["tc", "month"]).reset_index(drop=True)
    one_off = (jo["exit_fee"] + jo["bridging"] + jo["off_contract"]).to_numpy(dtype=float)

    # a (trust, category) with a group no usable line serves cannot join at all
    unserved = data.tg.loc[data.tg["n_usable"] <= 0, ["trust", "category"]].drop_duplicates()
    blocked = pd.MultiIndex.from_frame(jo[["trust", "category"]]).isin(pd.MultiIndex.from_frame(unserved))
    must_join = np.full(len(tc), settings.participation != "optional")
    joinable = np.zeros(len(tc), dtype=bool)
    joinable[jo.loc[~blocked, "tc"].to_numpy(dtype=int)] = True
    infeasible = bool((must_join & ~joinable).any())
    jo = jo[~blocked].reset_index(drop=True)
    one_off = one_off[~blocked]

    rows = pairs[["trust", "group", "category", "line"]].assign(pair=np.arange(len(pairs)))
    rows = rows.merge(jo[["trust", "category", "month", "months_on"]].assign(tcm=np.arange(len(jo))), on=["trust", "category"])
    rows = rows.sort_values(["tcm", "group", "pair"], kind="stable").reset_index(drop=True)
    pair_of_row = rows["pair"].to_numpy()
    a = rows["months_on"].to_numpy() / 12.0 * rate[pair_of_row] - fixed[pair_of_row]
    seg_key = rows["tcm"].astype(str) + "|" + rows["group"].astype(str)
    new_seg = np.r_[True, seg_key.to_numpy()[1:] != seg_key.to_numpy()[:-1]]
    seg_starts = np.flatnonzero(new_seg)
    seg_of_row = np.cumsum(new_seg) - 1
    tcm_of_seg = rows["tcm"].to_numpy()[seg_starts]

    lines = pd.Index(pairs["line"].unique())
    line_of_pair = lines.get_indexer(pairs["line"])
    caps = range_cap_rows(data)
    line_group = pairs.drop_duplicates("line").set_index("line")["group"].reindex(lines)
    cap_code = pd.Series(np.arange(len(caps)), index=caps["group"].to_numpy())
    capped = line_group.map(cap_code).fillna(-1).to_numpy(dtype=int)
    price = pairs.drop_duplicates("line").set_index("line")["price"].reindex(lines).to_numpy(dtype=float)
    return _Tables(
        a=a,
        pair_of_row=pair_of_row,
        seg_starts=seg_starts,
        seg_of_row=seg_of_row,
        tcm_of_seg=tcm_of_seg,
        one_off=one_off,
        tc_of_tcm=jo["tc"].to_numpy(dtype=int),
        n_tc=len(tc),
        must_join=must_join,
        line_of_pair=line_of_pair,
        n_lines=len(lines),
        capped_group_of_line=capped,
        caps=caps["cap"].to_numpy(dtype=int) if len(caps) else np.zeros(0, dtype=int),
        tie_break=-price,
        infeasible=infeasible,
    )


def _first_max(values: np.ndarray, seg_of: np.ndarray, seg_max: np.ndarray) -> np.ndarray:
    """Index of the first row attaining its segment's maximum, per segment (segments sorted)."""
    hits = np.flatnonzero(values >= seg_max[seg_of])
    _, first = np.unique(seg_of[hits], return_index=True)
    return hits[first]


def _evaluate(t: _Tables, lam: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """:math:`R(\\lambda)` with the relaxed plan's line use u (per pair) and range y (per line)."""
    v = t.a - lam[t.pair_of_row]
    seg_max = np.maximum.reduceat(v, t.seg_starts)
    best_row = _first_max(v, t.seg_of_row, seg_max)
    tcm_value = np.bincount(t.tcm_of_seg, weights=seg_max, minlength=len(t.one_off)) - t.one_off
    # best month of each (trust, category); the tcm rows are sorted by (trust, category)
    tc_starts = np.flatnonzero(np.r_[True, t.tc_of_tcm[1:] != t.tc_of_tcm[:-1]])
    tc_best = np.maximum.reduceat(tcm_value, tc_starts)
    tc_ids = t.tc_of_tcm[tc_starts]
    tcm_seg = np.repeat(np.arange(len(tc_starts)), np.diff(np.r_[tc_starts, len(tcm_value)]))
    best_tcm = _first_max(tcm_value, tcm_seg, tc_best)
    joins = t.must_join[tc_ids] | (tc_best > 0)
    total = float(np.where(joins, tc_best, 0.0).sum())
    chosen_tcm = np.zeros(len(t.one_off), dtype=bool)
    chosen_tcm[best_tcm[joins]] = True
    u = np.zeros(len(lam))
    rows = best_row[chosen_tcm[t.tcm_of_seg]]
    u[t.pair_of_row[rows]] = 1.0

    big_lambda = np.bincount(t.line_of_pair, weights=lam, minlength=t.n_lines)
    y = np.ones(t.n_lines)
    capped = t.capped_group_of_line >= 0
    if capped.any():
        idx = np.flatnonzero(capped)
        order = idx[np.lexsort((-t.tie_break[idx], -big_lambda[idx], t.capped_group_of_line[idx]))]
        groups = t.capped_group_of_line[order]
        rank = np.arange(len(order)) - np.searchsorted(groups, groups, side="left")
        keep = rank < t.caps[groups]
        y[idx] = 0.0
        y[order[keep]] = 1.0
    total += float((y * big_lambda).sum())
    return total, u, y


def lagrangian_bound(data: ModelData, target: float | None = None, seconds: float = 10.0, max_iterations: int = 500) -> Bound:
    """Upper bound on the full problem's net savings (GBP) by the relaxation above.

    ``target``: the value of a known plan (e.g. the greedy one), the aim of Polyak's
    step; without it 1% below the first bound is used. Stops after ``seconds`` or
    ``max_iterations`` or when the bound is within 1e-5 of the target.
    """
    tick = perf_counter()
    method = "Lagrangian relaxation over every usable line (range priced, tiers at their deepest)"
    if data.pairs.empty or data.tc.empty:
        return Bound(value=0.0, method=method, seconds=perf_counter() - tick)
    t = _tables(data)
    if t.infeasible:
        return Bound(value=None, method=method, seconds=perf_counter() - tick, feasible=False)
    lam = np.zeros(len(data.pairs))
    current, u, y = _evaluate(t, lam)
    best = current
    goal = target if target is not None else best - 0.01 * abs(best)
    theta, stall, iterations = 1.0, 0, 1
    while iterations < max_iterations and perf_counter() - tick < seconds:
        if best - goal <= 1e-5 * max(1.0, abs(goal)):
            break
        g = y[t.line_of_pair] - u
        moving = (g < 0) | (lam > 0)  # projected: a zero multiplier cannot go lower
        norm = float((g[moving] ** 2).sum())
        if norm == 0:
            break  # the relaxed plan keeps to the range: R is the relaxation's optimum
        step = theta * max(current - goal, 1e-9 * abs(current)) / norm
        lam = np.maximum(0.0, lam - step * g)
        current, u, y = _evaluate(t, lam)
        iterations += 1
        if current < best - 1e-9 * abs(best):
            best, stall = current, 0
        else:
            stall += 1
            if stall >= 5:
                theta, stall = theta / 2, 0
                if theta < 1e-4:
                    break
    return Bound(value=best, method=method, iterations=iterations, seconds=perf_counter() - tick)


FULL_LP_COLUMNS = 400_000
"""Largest model (in (trust, line, month) allocation columns, :func:`solver.screen.hull_columns`)
whose whole LP relaxation is solved beside a screened MILP.

Measured with HiGHS interior point, one thread, crossover off: the multi-region
instance (30 trusts) solves in about 11 s; the national one (130 trusts, about 1.5
million columns in all) took about 50 minutes, far beyond any time limit."""

LP_METHOD = "LP relaxation of the whole model (interior point)"


def full_lp_bound(problem: ProblemData, seconds: float) -> Bound:
    """The LP relaxation of the whole model by interior point, without crossover.

    An interior-point optimum is exact up to the primal-dual objective error HiGHS
    reports; the bound adds that error (relative) so it stays an upper bound. ``None``
    value when the LP did not finish within ``seconds``.
    """
    import pulp

    from solver.data import prepare
    from solver.model import MONEY, build_model

    tick = perf_counter()
    m = build_model(prepare(problem))
    solver = pulp.HiGHS(
        mip=False, msg=False, timeLimit=max(1.0, seconds - (perf_counter() - tick)), threads=1,
        solver="ipm", run_crossover="off",
    )
    stats = m.prob.solve(solver)
    if stats.status != pulp.LpSolveStatus.Optimal or stats.objective is None:
        return Bound(value=None, method=LP_METHOD, seconds=perf_counter() - tick)
    info = m.prob.solverModel.getInfo()
    error = max(float(getattr(info, "primal_dual_objective_error", 0.0) or 0.0), 1e-9)
    value = stats.objective / MONEY
    return Bound(value=value + error * (1.0 + 2.0 * abs(value)), method=LP_METHOD, seconds=perf_counter() - tick)


def _lp_worker(problem: ProblemData, seconds: float, queue) -> None:
    try:
        queue.put(full_lp_bound(problem, seconds))
    except Exception as exc:  # the bound is optional: a failure only loses it
        queue.put(Bound(value=None, method=f"{LP_METHOD} failed: {type(exc).__name__}: {exc}"))


class FullLPBound:
    """:func:`full_lp_bound` in a child process, so the MILP keeps this process's core."""

    def __init__(self, process, queue) -> None:
        self.process, self.queue = process, queue

    @classmethod
    def start(cls, problem: ProblemData, seconds: float) -> FullLPBound | None:
        import multiprocessing as mp

        try:
            ctx = mp.get_context("spawn")
            queue = ctx.Queue()
            process = ctx.Process(target=_lp_worker, args=(problem, seconds, queue), daemon=True)
            process.start()
        except (OSError, RuntimeError, AssertionError):  # e.g. daemonic callers may not fork
            return None
        return cls(process, queue)

    def result(self, deadline: float) -> Bound | None:
        """The child's bound if it finishes by ``deadline`` (``perf_counter`` time), else None."""
        from queue import Empty

        try:
            found = self.queue.get(timeout=max(0.1, deadline - perf_counter()))
        except Empty:
            found = None
        if self.process.is_alive():
            self.process.terminate()
        self.process.join(timeout=5)
        return found if isinstance(found, Bound) and found.value is not None else None
