"""The price of each rule family: how much more the region would save without it.

``price_of_rules`` re-solves with each active rule family relaxed (``Settings.relax``)
and reports the difference in net savings over the horizon; ``switching_costs`` (an
assumption, not a rule) relaxed makes every switching cost zero, so its price is what
the switching-cost figures cost the plan. It calls
:func:`solver.solve.solve`, so it lives above it (``solve`` in turn uses
:mod:`solver.explain` on an infeasible model).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from solver.data import ModelData, prepare
from solver.model import join_capacity_rows, max_share_rows, min_supplier_rows, range_cap_rows, trust_cap_rows
from solver.problem import RULE_FAMILIES, ProblemData
from solver.solve import solve


def _family_active(problem: ProblemData, data: ModelData, rule: str) -> bool:
    s = problem.settings
    if not s.active(rule):
        return False
    demand_lines = problem.candidates.merge(problem.lines[["line", "group"]], on="line").merge(
        problem.demand[["trust", "group"]], on=["trust", "group"]
    )
    if rule == "range_cap":
        return not range_cap_rows(data).empty
    if rule == "trust_range_cap":
        return not trust_cap_rows(data).empty
    if rule == "approvals":
        return bool((~demand_lines["approved"]).any())
    if rule == "odep":
        return bool((~demand_lines["odep_ok"]).any())
    if rule == "min_suppliers":
        return not min_supplier_rows(data).empty
    if rule == "max_share":
        return not max_share_rows(data).empty
    if rule == "year_one_cap":
        return not data.year_one.empty
    if rule == "contract_terms":
        # binding only where a contract restricts the join months or caps its extension
        ct = data.contracts
        return bool(len(ct)) and bool((ct["allowed_from"] > 0).any() or (ct["extension_months"] < np.inf).any())
    if rule == "join_capacity":
        return not join_capacity_rows(data).empty
    if rule == "switching_costs":
        return bool((data.switching_costs["cost"] > 0).any())
    raise ValueError(f"unknown rule family {rule!r}")


MIN_SOLVE_SECONDS = 10.0
"""Least time limit of one re-solve when the scenario's time limit is shared out."""


def price_of_rules(problem: ProblemData) -> pd.DataFrame:
    """What each rule family costs: net savings with and without it.

    Returns a frame with one row per rule family: rule, active (the rule can bind on
    this data), objective_with_rule, objective_without_rule, price_gbp (the extra
    net savings over the horizon if the family were dropped), price_at_most_gbp (the
    bound for the whole relaxed problem less the plan with the rule: the price cannot
    be more, so a large instance whose re-solves stop at their time limits still gets
    a proven range for each price).

    The re-solves share the scenario's time limit: the base solve and each active
    family's get an equal part of it (at least :data:`MIN_SOLVE_SECONDS`), so the whole
    explanation takes about one time limit, or that minimum per solve. Dropping a rule can
    only enlarge the feasible set, so the plan found with the rule also counts
    without it: ``objective_without_rule`` is at least ``objective_with_rule`` and
    the price is never negative (up to the solver's relative gap it is exact).
    """
    data = prepare(problem)
    active = {rule: _family_active(problem, data, rule) for rule in RULE_FAMILIES}
    share = max(MIN_SOLVE_SECONDS, problem.settings.time_limit / (1 + sum(active.values())))
    base = solve(problem.with_settings(time_limit=share), quality=True, explain=False)
    rows = []
    for rule in RULE_FAMILIES:
        with_rule = base.objective
        at_most = 0.0 if with_rule is not None else None
        if not active[rule]:
            without = with_rule
        else:
            relaxed = problem.with_settings(relax=problem.settings.relax | {rule}, time_limit=share)
            solved = solve(relaxed, quality=True, explain=False)
            without = solved.objective
            if with_rule is not None and without is not None:
                without = max(without, with_rule)
            bound = solved.global_bound
            at_most = None if with_rule is None or bound is None else max(bound - with_rule, 0.0)
        price = None if with_rule is None or without is None else without - with_rule
        rows.append((rule, active[rule], with_rule, without, price, at_most))
    frame = pd.DataFrame(
        rows,
        columns=["rule", "active", "objective_with_rule", "objective_without_rule", "price_gbp", "price_at_most_gbp"],
    )
    for col in ("objective_with_rule", "objective_without_rule", "price_gbp", "price_at_most_gbp"):
        frame[col] = frame[col].astype(float)
    return frame
