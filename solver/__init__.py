"""Pure optimisation: validated pandas frames in, solution frames out.

Imports nothing from ``procurement`` or ``catalogues``.

Public API::

    ProblemData(trusts, groups, lines, demand, current, candidates,
                offers=None, offer_lines=None, tiers=None, contracts=None,
                switching=None, settings=Settings())  # validates; raises ProblemDataError
    solve(problem, *, quality=True, explain=True) -> Solution
    check_solution(problem, solution) -> list[str]
    greedy(problem) -> Solution
    explain_infeasibility(problem) -> list[str]
    price_of_rules(problem) -> pandas.DataFrame
"""

from solver.checker import check_solution
from solver.explain import explain_infeasibility
from solver.greedy import greedy
from solver.problem import RULE_FAMILIES, ProblemData, ProblemDataError, Settings
from solver.rule_prices import price_of_rules
from solver.solution import CAUSES, Solution
from solver.solve import solve

__all__ = [
    "CAUSES",
    "RULE_FAMILIES",
    "ProblemData",
    "ProblemDataError",
    "Settings",
    "Solution",
    "check_solution",
    "explain_infeasibility",
    "greedy",
    "price_of_rules",
    "solve",
]
