r"""What-if prices: the price at which a line outside the optimal range would win a place.

For a line :math:`l` outside the optimal plan at its regional price :math:`p_0`, the
*price to win* is the highest price :math:`p^*` at which the optimal plan includes it
(carries units on it). Plans without :math:`l` do not depend on its price, so their
best value :math:`V_0` is the base optimum at every price; the best plan with
:math:`l`, :math:`W(p)`, is a maximum of functions decreasing in :math:`p`, so :math:`l`
enters exactly when :math:`W(p) > V_0`, i.e. below :math:`p^*`.

:func:`price_to_win` finds :math:`p^*` to within :math:`\min(£1, 0.5\% p^*)` by re-solving
the model at trial prices, each solve warm-started from the base plan (which stays
feasible at any price of :math:`l`: it does not use it). To need few solves, it starts
from an estimate, the price at which :math:`l` matches the cheapest net price kept in
its group, then works from it: if the line enters at the estimate and not one
tolerance above it, that is the answer (two solves); otherwise it bisects the bracket
the estimate leaves (the lowest price is checked last, only if nothing entered).
Every conclusion comes from a solve: the estimate only orders the trials, so the
result is as exact as the bisection. The
re-solves use a tight relative gap (:data:`GAP_REL`) so that a plan within the
scenario's usual gap of the optimum is not mistaken for it near :math:`p^*`.

A line no trust may use (not approved, below the ODEP floor, no demand in its group)
cannot win at any price: :func:`why_unusable` says why. A line that does not enter
even at a small positive price (:data:`FLOOR_SHARE` of today's) is reported as such.
"""

from __future__ import annotations

import dataclasses
import math

import pandas as pd

from solver.data import prepare, usable_mask
from solver.model import build_model
from solver.problem import ProblemData
from solver.solution import Solution
from solver.solve import solve_model

ABS_TOL = 1.0
"""GBP: the price to win is found to within this and within :data:`REL_TOL` of it."""
REL_TOL = 0.005
FLOOR_SHARE = 0.01
"""The lowest price tried, as a share of today's regional price."""
GAP_REL = 1e-7
"""Relative gap of the re-solves (the scenario's 1e-4 of a £10m plan is £1,000)."""


def with_line_price(problem: ProblemData, line: str, price: float) -> ProblemData:
    """``problem`` with ``line``'s regional unit price set to ``price`` (validated again)."""
    lines = problem.lines.copy()
    lines.loc[lines["line"] == line, "regional_price"] = float(price)
    return dataclasses.replace(problem, lines=lines)


def carries(solution: Solution, line: str) -> bool:
    """Whether ``solution``'s plan has ``line`` in the regional range (units on it)."""
    rng = solution.range
    return bool(rng.loc[rng["line"] == line, "kept"].astype(bool).any())


def solve_at(problem: ProblemData, line: str, price: float, start: Solution | None) -> Solution:
    """Solve ``problem`` with ``line`` at ``price``, warm-started from ``start``."""
    tight = with_line_price(problem, line, price).with_settings(gap_rel=min(problem.settings.gap_rel, GAP_REL))
    return solve_model(build_model(prepare(tight)), start=start)


def why_unusable(problem: ProblemData, line: str) -> str | None:
    """Why no trust may use ``line`` under the scenario's rules, or None if some may."""
    if line not in set(problem.lines["line"]):
        return "not a candidate: no trust has demand in its group, or it has no price"
    cand = problem.candidates[problem.candidates["line"] == line]
    group = problem.lines.loc[problem.lines["line"] == line, "group"].iloc[0]
    demanded = set(problem.demand.loc[problem.demand["group"] == group, "trust"])
    cand = cand[cand["trust"].isin(demanded)]
    if cand.empty:
        return "no trust has demand in its group"
    if usable_mask(cand, problem.settings).any():
        return None
    s = problem.settings
    approved = cand["approved"] if s.active("approvals") else pd.Series(True, index=cand.index)
    if not approved.any():
        return "not approved for any trust (no trust's clinicians or the regional panel approved it)"
    return "below the scenario's ODEP floor at every trust that approved it, and no ODEP exception is recorded"


def _estimate(problem: ProblemData, line: str, base: Solution) -> float | None:
    """The price at which ``line`` matches the cheapest net price kept in its group."""
    alloc = base.allocation
    group = problem.lines.loc[problem.lines["line"] == line, "group"].iloc[0]
    kept = alloc[(alloc["group"] == group) & (alloc["units"] > 0)]
    if kept.empty:
        return None
    offer = problem.offer_lines.loc[problem.offer_lines["line"] == line, "offer"]
    reached = base.tiers_reached
    discount = 0.0
    if len(offer) and len(reached):
        hit = reached.loc[reached["offer"] == offer.iloc[0], "discount"]
        discount = float(hit.iloc[0]) if len(hit) else 0.0
    return float(kept["net_price"].min()) / (1.0 - discount)


def _displaced(base: Solution, solution: Solution, line: str) -> list[str]:
    """Lines of ``line``'s group in the base range that ``solution`` drops (else the one losing most units)."""
    before = base.range[base.range["kept"].astype(bool)].set_index("line")
    after = solution.range.set_index("line")
    group = after.loc[line, "group"]
    before = before[before["group"] == group]
    dropped = [m for m in before.index if m != line and not bool(after["kept"].get(m, False))]
    if dropped:
        return sorted(dropped)
    lost = before["units"] - after["units"].reindex(before.index).fillna(0.0)
    lost = lost[lost > 1e-6]
    return [str(lost.idxmax())] if len(lost) else []


def price_to_win(problem: ProblemData, line: str, base: Solution) -> dict:
    """The highest regional unit price at which ``line`` enters the optimal range.

    ``base`` is the optimal plan at today's prices, which does not carry ``line``.
    Returns ``line``, ``current_price``, ``price_to_win`` (a price at which the line is
    proved to enter; it does not at ``price_to_win`` plus the tolerance), ``cut_pct``,
    ``displaces`` (lines of its group dropped from the range, or the one losing the
    most units), ``solves``, ``status`` (``wins``, ``cannot_win``, ``in_range``) and
    ``reason`` (why it cannot win).
    """
    row = problem.lines.loc[problem.lines["line"] == line]
    current = float(row["regional_price"].iloc[0]) if len(row) else math.nan
    result = {"line": line, "current_price": current, "price_to_win": None, "cut_pct": None,
              "displaces": [], "solves": 0, "status": "cannot_win", "reason": ""}  # fmt: skip
    reason = why_unusable(problem, line)
    if reason:
        result["reason"] = reason
        return result
    if carries(base, line):
        return {**result, "status": "in_range", "price_to_win": current, "cut_pct": 0.0, "reason": "already in range"}

    def tol(price: float) -> float:
        return min(ABS_TOL, REL_TOL * price)

    floor = FLOOR_SHARE * current
    solutions: dict[float, Solution] = {}

    def enters(price: float) -> bool:
        solution = solve_at(problem, line, price, base)
        result["solves"] += 1
        if not solution.has_solution:
            raise RuntimeError(f"re-solve at £{price:,.2f} for {line} found no plan ({solution.status})")
        solutions[price] = solution
        return carries(solution, line)

    lo, hi = None, current  # lo: the line is proved to enter; hi: proved not to
    guess = _estimate(problem, line, base)
    guess = min(max(guess if guess is not None else current / 2, floor), current - tol(current))
    if guess <= floor:
        guess = floor
    if enters(guess):
        lo = guess
        if lo + tol(lo) < hi and not enters(lo + tol(lo)):  # the estimate was right: done
            hi = lo + tol(lo)
        elif lo + tol(lo) < hi:
            lo = lo + tol(lo)
    else:
        hi = guess
        lo = floor  # not yet proved: checked once the bracket is narrow
    while hi - lo > tol(lo):
        mid = (lo + hi) / 2
        if enters(mid):
            lo = mid
        else:
            hi = mid
    if lo not in solutions:
        enters(lo)
    if not carries(solutions[lo], line):
        result["reason"] = (
            f"does not enter even at £{floor:,.2f} a unit ({FLOOR_SHARE:.0%} of today's price): "
            "the rules (range caps, supplier count or share) or the switching costs keep it out"
        )
        return result
    result.update(
        status="wins",
        price_to_win=lo,
        cut_pct=100.0 * (1.0 - lo / current),
        displaces=_displaced(base, solutions[lo], line),
        not_at=hi,
    )
    return result


__all__ = ["carries", "price_to_win", "solve_at", "why_unusable", "with_line_price"]
