r"""What-if prices: the price at which a line outside the optimal range would win a place.

For a line :math:`l` outside the optimal plan at its regional price :math:`p_0`, the
*price to win* is the highest price :math:`p^*` at which the optimal plan includes it
(carries units on it). Plans without :math:`l` do not depend on its price, so their
best value is the base optimum :math:`V_0` at every price. Let :math:`W(p)` be the
optimum of the *forced* model, the scenario's model with :math:`l` in the range and
carrying at least :data:`FORCED_UNITS` units (:func:`forced_model`). Then :math:`l`
enters at :math:`p` exactly when :math:`W(p) > V_0`, and :math:`p^*` is the root of
:math:`W(p) = V_0`.

For a fixed plan the net savings are linear in :math:`p`: a unit of :math:`l` bought by
trust :math:`t` costs :math:`p (1 - d)` a year for the :math:`\rho_t = \text{months on}/12`
years it is on the agreement (:math:`d` the discount of the tier its offer reached), so
the plan's value is :math:`A - S p` with slope

.. math:: S = \sum_t x_{tl}\, \rho_t\, (1 - d_{o(l)}) > 0

(:func:`plan_slope`, read from the solution's frames). When no constraint depends on
:math:`p` (:func:`linear_in_price`: participation "all", and :math:`l`'s offer, if
tiered, counts units rather than spend), every plan is feasible at every price and
:math:`W` is the maximum of these lines: convex, piecewise linear and decreasing. Two
bounds follow without another solve (this is Newton's method on :math:`W - V_0`, or
Dinkelbach's for the ratio :math:`(A - V_0)/S`):

- the *tangent* :math:`W(q) - S(q)(p - q)` lies below :math:`W`, so its root
  :math:`n = q + (W(q) - V_0)/S(q)` is a price at which :math:`l` enters: a lower bound
  of :math:`p^*`, from a trial on either side of the root;
- the *chord* between a trial left of the root and one right of it lies above
  :math:`W`, so its root is an upper bound.

:func:`price_to_win` solves the forced model at a first trial (an estimate, the price
at which :math:`l` matches the cheapest net price kept in its group), takes the
tangent's root as the proven lower bound, and probes :math:`0.9` tolerance above it:
if :math:`l` does not win there the bracket is closed, otherwise the probe is a new
lower bound on a later linear piece and the next tangent starts from it. From the left
the tangent roots increase to :math:`p^*` and reach it once a trial's plan is the plan
optimal at :math:`p^*`, so a line takes one solve per linear piece crossed plus the
probe: 1 to 5 solves on the demo (3 at the median), each warm-started from the previous
forced plan (feasible at any price). The forced model is built once per line and repriced
in place (:class:`ForcedModel`), over the line's category and any coupled to it
(:func:`coupled_categories`): the plans of other categories cannot change, so their
part of :math:`V_0` cancels.

When a constraint does depend on the price (a spend-basis tier of the line's offer: a
lower price may lose a tier; optional participation: a higher price may make a trust
worse off), :math:`W` need not be convex, and only solved trials count as proof: the
tangent root is tried, not assumed, and the bracket falls back to bisection. Either
way the answer ``price_to_win`` is a price at which :math:`l` is proved to enter and
``not_at`` one within :math:`\min(£1, 0.5\% p^*)` above it at which it is proved not to
(up to ties, and the solves' gap :data:`GAP_REL`: about £1 of net savings on the demo,
a penny or less of price).

The forced model is infeasible exactly when no plan obeying the scenario's rules can
put units on :math:`l` at all (its price appears in no constraint that could exclude
it): the line cannot win at any price. A line no trust may use (not approved, below
the ODEP floor, no demand in its group) is reported by :func:`why_unusable` without a
solve. A line that does not enter even at :data:`FLOOR_SHARE` of today's price is
reported as such.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pulp

from solver.data import prepare, usable_mask
from solver.decompose import restrict_to_categories
from solver.model import Model, build_model
from solver.problem import ProblemData
from solver.solution import Solution
from solver.solve import solve_model

ABS_TOL = 1.0
"""GBP: the price to win is found to within this and within :data:`REL_TOL` of it."""
REL_TOL = 0.005
PROBE_SHARE = 0.9
"""A probe sits this share of the tolerance above the proven lower bound."""
FLOOR_SHARE = 0.01
"""The lowest price tried, as a share of today's regional price."""
GAP_REL = 1e-7
"""Relative gap of the re-solves (the scenario's 1e-4 of a £10m plan is £1,000)."""
FORCED_UNITS = 1e-3
"""Annual units the forced model must put on the line (any positive amount is a place)."""
MAX_TANGENT_TRIALS = 12
"""Trials led by tangents before the search only bisects (a guard; never reached on the demo)."""


def with_line_price(problem: ProblemData, line: str, price: float) -> ProblemData:
    """``problem`` with ``line``'s regional unit price set to ``price`` (validated again)."""
    lines = problem.lines.copy()
    lines.loc[lines["line"] == line, "regional_price"] = float(price)
    return dataclasses.replace(problem, lines=lines)


def carries(solution: Solution, line: str) -> bool:
    """Whether ``solution``'s plan has ``line`` in the regional range (units on it)."""
    rng = solution.range
    return bool(rng.loc[rng["line"] == line, "kept"].astype(bool).any())


def _tight(problem: ProblemData) -> ProblemData:
    return problem.with_settings(gap_rel=min(problem.settings.gap_rel, GAP_REL))


def solve_at(problem: ProblemData, line: str, price: float, start: Solution | None) -> Solution:
    """Solve ``problem`` with ``line`` at ``price``, warm-started from ``start``."""
    return solve_model(build_model(prepare(_tight(with_line_price(problem, line, price)))), start=start)


def forced_model(problem: ProblemData, line: str, price: float) -> Model:
    r"""The scenario's model at ``price`` with ``line`` forced into the range.

    Adds :math:`y_l = 1` and :math:`\sum_t x_{tl} \ge` :data:`FORCED_UNITS` (the
    constraints ``whatif_in_range__l`` and ``whatif_carries__l``); :math:`x \le D u`
    and :math:`u \le y` then make some trust use the line.
    """
    m = build_model(prepare(_tight(with_line_price(problem, line, price))))
    x = m.var["x"]
    on_line = x.index.get_level_values("line") == line
    label = m.labels[line]  # the range variable y_l is named with it
    m.prob.addConstraint(m.var["y"][line] == 1, f"whatif_in_range__{label}")
    carried = pulp.lpSum_vars_coefs([(v, 1.0) for v in x[on_line]])
    m.prob.addConstraint(carried >= FORCED_UNITS, f"whatif_carries__{label}")
    return m


@dataclass
class Trial:
    """One solve of the forced model: the best plan carrying the line at ``price``."""

    price: float
    value: float
    """:math:`W(p)`, the plan's net savings (GBP): a lower bound of the optimum."""
    bound: float
    """An upper bound of :math:`W(p)` (the solver's best bound)."""
    slope: float
    solution: Solution


PRICED_ROWS = ("discount_split", "tier_reach", "tier_within", "no_worse_off")
"""Constraint families in which a line's variables can have coefficients proportional to its price."""


class ForcedModel:
    r"""The forced model of ``line``, built once at today's price and repriced in place.

    Every coefficient of the model that depends on :math:`p_l` is proportional to it
    and sits on the line's own variables: :math:`-\rho_m p_l` on :math:`x_{tlm}` in the
    objective (and, under optional participation, in "no worse off"), :math:`-d_k p_l`
    on :math:`\xi_{tlk}` in the discount split, and :math:`p_l` on :math:`\xi_{tlk}` in
    a spend-basis offer's tier volume. :meth:`reprice` scales exactly those, so a trial
    costs a solve and not a rebuild. Two parts of the build depend on the price without
    being coefficients, and both stay valid below today's price, the highest one tried:
    the bound :math:`\bar\Delta_{tc}` on a trust's discount (an upper bound, looser at a
    lower price) and the spend tiers kept as reachable (a tier unreachable at today's
    price is unreachable below it).
    """

    def __init__(self, problem: ProblemData, line: str) -> None:
        self.line = line
        self.top = float(problem.lines.loc[problem.lines["line"] == line, "regional_price"].iloc[0])
        self.model = m = forced_model(problem, line, self.top)
        self.data = m.data
        self.price = self.top

        def own(family: str) -> list:
            variables = m.var.get(family, pd.Series([], dtype=object))
            return list(variables[variables.index.get_level_values("line") == line]) if len(variables) else []

        self.variables = own("x_month") + own("x_tier")
        objective = m.prob.objective
        assert objective is not None  # build_model always sets one
        self.objective = [(v, objective[v]) for v in own("x_month")]
        spend = m.data.pairs.loc[m.data.pairs["line"] == line, "basis"].eq("spend").any()
        families = PRICED_ROWS if spend else tuple(f for f in PRICED_ROWS if not f.startswith("tier_"))
        self.rows = [
            (row, v, row[v])
            for row in m.prob.constraints()
            if row.name.split("__", 1)[0] in families
            for v in self.variables
            if v in row
        ]

    def reprice(self, price: float) -> None:
        """Set the line's price to ``price`` (at most today's) in the model and its data."""
        if price > self.top * (1 + 1e-12):
            raise ValueError(f"the forced model of {self.line} is valid up to £{self.top:,.2f}, not £{price:,.2f}")
        ratio = price / self.top
        objective = self.model.prob.objective
        assert objective is not None
        for v, coef in self.objective:
            objective[v] = coef * ratio
        self.model.prob.setObjective(objective)
        for row, v, coef in self.rows:
            row[v] = coef * ratio
        pairs = self.data.pairs.copy()
        pairs.loc[pairs["line"] == self.line, "price"] = price
        current = self.data.current.copy()
        current.loc[current["line"] == self.line, "regional_price"] = price
        self.model.data = dataclasses.replace(self.data, pairs=pairs, current=current)
        self.price = price

    def solve(self, price: float, start: Solution | None) -> Trial | None:
        """Solve at ``price`` (warm-started from ``start``); None if no plan can carry the line."""
        self.reprice(price)
        solution = solve_model(self.model, start=start)
        if solution.status == "infeasible":
            return None
        if not solution.has_solution:
            raise RuntimeError(f"forced solve at £{price:,.2f} for {self.line} found no plan ({solution.status})")
        assert solution.objective is not None  # has_solution
        value = float(solution.objective)
        bound = max(value, solution.best_bound if solution.best_bound is not None else value)
        return Trial(price, value, bound, plan_slope(solution, self.line), solution)


def plan_slope(solution: Solution, line: str) -> float:
    r""":math:`S = \sum_t x_{tl} \rho_t (1 - d)`: how much the plan's net savings fall per £1 on ``line``'s price."""
    alloc = solution.allocation[solution.allocation["line"] == line]
    years = alloc.merge(solution.joins[["trust", "category", "months_on"]], on=["trust", "category"])
    return float((years["units"] * years["months_on"] / 12.0 * (1.0 - years["discount"])).sum())


def plan_holds(problem: ProblemData, line: str, trial: Trial, price: float) -> bool:
    """Whether ``trial``'s plan obeys every rule with ``line`` at ``price`` (keeping its
    allocation and joins, and its tiers or deeper ones), so that its net savings there
    are ``trial.value - trial.slope * (price - trial.price)`` or more.

    Only two rules involve the price. A lower price lowers the volume of a spend-basis
    offer, which must still reach the tier the plan picked (at a higher price the volume
    can only reach a deeper tier, which saves more). Under optional participation a
    higher price lowers the net savings of the trusts buying the line, which must stay
    no worse off.
    """
    solution = trial.solution
    mine = solution.allocation[solution.allocation["line"] == line]
    if price < trial.price:
        offer = problem.offer_lines.loc[problem.offer_lines["line"] == line, "offer"]
        if offer.empty:
            return True
        tier = solution.tiers_reached[solution.tiers_reached["offer"] == offer.iloc[0]]
        spend = problem.offers.loc[problem.offers["offer"] == offer.iloc[0], "basis"].eq("spend").any()
        if not spend or tier.empty:
            return True
        volume = float(tier["volume"].iloc[0]) - (trial.price - price) * float(mine["units"].sum())
        return volume >= float(tier["threshold"].iloc[0]) * (1 - 1e-9)
    if problem.settings.participation != "optional":
        return True
    years = mine.merge(solution.joins[["trust", "category", "months_on"]], on=["trust", "category"])
    loss = years["units"] * years["months_on"] / 12.0 * (1.0 - years["discount"]) * (price - trial.price)
    loss = loss.groupby(years["trust"]).sum()
    net = solution.savings.groupby("trust")["amount"].sum().reindex(loss.index).fillna(0.0)
    return bool((net - loss >= -1e-6).all())


def linear_in_price(problem: ProblemData, line: str) -> bool:
    """Whether no constraint of the model depends on ``line``'s price (so :math:`W` is convex).

    The price enters the constraints through spend-basis tier volumes of the line's
    own offer and, under optional participation, each trust's "no worse off" row.
    """
    if problem.settings.participation != "all":
        return False
    offer = problem.offer_lines.loc[problem.offer_lines["line"] == line, "offer"]
    if offer.empty:
        return True
    spend = problem.offers.loc[problem.offers["offer"] == offer.iloc[0], "basis"].eq("spend").any()
    tiered = (problem.tiers["offer"] == offer.iloc[0]).any()
    return not (spend and tiered)


def coupled_categories(problem: ProblemData, line: str) -> set[str]:
    """The categories whose plans interact with those of ``line``'s category.

    The model couples categories only through an offer whose lines span several (its
    tier volume), the year-one cap (per trust, over its categories) and optional
    participation (a trust's net over its categories). Without those, the optimum is
    the sum of the categories' optima, and the line's price to win depends on its own
    category alone: the rest of the plan stays as it is.
    """
    s = problem.settings
    everything = set(problem.groups["category"])
    if s.participation == "optional" or (s.year_one_cap is not None and s.active("year_one_cap")):
        return everything
    spans = (
        problem.offer_lines.merge(problem.lines[["line", "group"]], on="line")
        .merge(problem.groups, on="group")[["offer", "category"]]
        .drop_duplicates()
    )
    group = problem.lines.loc[problem.lines["line"] == line, "group"].iloc[0]
    component = set(problem.groups.loc[problem.groups["group"] == group, "category"])
    while True:
        offers = spans.loc[spans["category"].isin(component), "offer"]
        grown = component | set(spans.loc[spans["offer"].isin(offers), "category"])
        if grown == component:
            return component
        component = grown


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


def _chord_root(left: Trial, right: Trial, target: float) -> float | None:
    """Where the chord through the upper values of ``left`` and ``right`` meets ``target``."""
    if not (left.bound > target >= right.bound) or right.price <= left.price:
        return None
    return left.price + (left.bound - target) * (right.price - left.price) / (left.bound - right.bound)


def price_to_win(problem: ProblemData, line: str, base: Solution) -> dict:
    """The highest regional unit price at which ``line`` enters the optimal range.

    ``base`` is the optimal plan at today's prices, which does not carry ``line``.
    Returns ``line``, ``current_price``, ``price_to_win`` (a price at which the line is
    proved to enter), ``not_at`` (a price at most the tolerance above it at which it is
    proved not to), ``cut_pct``, ``displaces`` (lines of its group dropped from the
    range, or the one losing the most units), ``solves`` (forced solves), ``status``
    (``wins``, ``cannot_win``, ``in_range``) and ``reason`` (why it cannot win).
    """
    row = problem.lines.loc[problem.lines["line"] == line]
    current = float(row["regional_price"].iloc[0]) if len(row) else math.nan
    result: dict[str, Any] = {"line": line, "current_price": current, "price_to_win": None, "cut_pct": None,
              "displaces": [], "solves": 0, "status": "cannot_win", "reason": ""}  # fmt: skip
    reason = why_unusable(problem, line)
    if reason:
        result["reason"] = reason
        return result
    if carries(base, line):
        return {**result, "status": "in_range", "price_to_win": current, "cut_pct": 0.0, "reason": "already in range"}

    def tol(price: float) -> float:
        return min(ABS_TOL, REL_TOL * price)

    # only the line's own category (and any coupled to it) can change: solve over those
    categories = coupled_categories(problem, line)
    part = restrict_to_categories(problem, categories)
    # the base plan's value there: as found, and as bounded (no plan beats it by more)
    assert base.objective is not None  # the caller solved the base plan
    v0 = float(base.savings.loc[base.savings["category"].isin(categories), "amount"].sum())
    v0_up = v0 + max(0.0, (base.best_bound if base.best_bound is not None else v0) - float(base.objective))
    convex = linear_in_price(part, line)
    floor = FLOOR_SHARE * current
    lo: float | None = None  # the line is proved to enter at lo, by the plan lo_plan
    lo_plan: Solution | None = None
    hi = current  # proved not to: the base plan, optimal at today's price, leaves it out
    best_left: Trial | None = None  # solved trials nearest the root on either side
    best_right: Trial | None = None
    tried: set[float] = set()
    start: Solution | None = None
    forced = ForcedModel(part, line)

    guess = _estimate(problem, line, base)
    price = min(max(guess if guess is not None else current / 2, floor), current - tol(current))
    while True:
        trial = forced.solve(price, start)
        result["solves"] += 1
        tried.add(price)
        if trial is None:
            result["reason"] = (
                "no plan that obeys the scenario's rules can put units on it (range caps, supplier count or "
                "share, year-one cap), so no price wins"
            )
            return result
        start = trial.solution
        if trial.value > v0_up:  # a plan carrying the line beats the base plan
            if lo is None or price > lo:
                lo, lo_plan = price, trial.solution
            if best_left is None or price > best_left.price:
                best_left = trial
        else:
            hi = min(hi, price)
            if best_right is None or price < best_right.price:
                best_right = trial
        tangent = price + (trial.value - v0_up) / trial.slope if trial.slope > 0 else None
        # the tangent is the trial plan's value: a lower bound of W wherever that plan holds
        proved = tangent is not None and plan_holds(part, line, trial, tangent)
        if proved and tangent is not None and (lo is None or tangent > lo):
            # its plan beats the base plan below the root (a root at hi is a tie there)
            lo, lo_plan = min(tangent, hi), trial.solution
        if convex and best_left is not None and best_right is not None:
            chord = _chord_root(best_left, best_right, v0)
            if chord is not None and chord < hi:
                hi = chord  # the chord lies above W
        if lo is not None and hi - lo <= tol(lo):
            break
        following = _next_price(lo, hi, None if proved else tangent, floor, len(tried) < MAX_TANGENT_TRIALS, tol)
        if following in tried:  # never expected: fall back to bisection
            following = ((lo if lo is not None else floor) + hi) / 2
        if following is None:
            result["reason"] = (
                f"does not enter even at £{floor:,.2f} a unit ({FLOOR_SHARE:.0%} of today's price): "
                "the rules (range caps, supplier count or share) or the switching costs keep it out"
            )
            return result
        price = following
    assert lo is not None and lo_plan is not None  # the loop ends only once lo is proved
    result.update(
        status="wins",
        price_to_win=lo,
        cut_pct=100.0 * (1.0 - lo / current),
        displaces=_displaced(base, lo_plan, line),
        not_at=hi,
    )
    return result


def _next_price(lo, hi, tangent, floor, use_tangent, tol) -> float | None:
    """The next trial price in the bracket (lo, hi); None when the floor has already failed.

    ``tangent`` is an unproved tangent root (None once proved: it is then ``lo``). The
    next trial is just above a proven lower bound (a probe that closes the bracket if
    the line loses there), else at the unproved tangent root, else the midpoint.
    """
    if lo is None:
        if use_tangent and tangent is not None and floor < tangent < hi:
            return tangent
        return floor if hi > floor else None  # is there any price at all at which it enters?
    if not use_tangent:
        return (lo + hi) / 2
    if tangent is None or tangent <= lo + tol(lo):
        return lo + PROBE_SHARE * tol(lo)
    if tangent < hi - tol(lo):
        return tangent
    return (lo + hi) / 2


__all__ = [
    "carries",
    "coupled_categories",
    "restrict_to_categories",
    "forced_model",
    "linear_in_price",
    "plan_holds",
    "plan_slope",
    "price_to_win",
    "solve_at",
    "ForcedModel",
    "why_unusable",
    "with_line_price",
]
