"""Solving by category (solver/decompose.py): only when no rule links categories, and then
the same optimum as the whole model, with every rule kept and bounds that add up."""

from __future__ import annotations

import dataclasses
import importlib
from time import perf_counter

import pandas as pd
import pytest
from solver_testdata import region_problem

from solver.bound import Bound
from solver.checker import check_solution
from solver.data import prepare
from solver.decompose import (
    bound_order,
    bound_weights,
    category_problem,
    scout,
    separable_categories,
    solve_by_category,
    time_weights,
)
from solver.solve import solve

PENNY = 0.01
solve_module = importlib.import_module("solver.solve")
decompose_module = importlib.import_module("solver.decompose")
bound_module = importlib.import_module("solver.bound")


@pytest.fixture(scope="module")
def region():
    # no year-one cap: the test region has one, which links categories
    return region_problem(seed=3, gap_rel=0.0, year_one_cap=None)


def _with(p, **changes):
    return dataclasses.replace(p, settings=dataclasses.replace(p.settings, **changes))


def test_only_a_problem_no_rule_links_across_categories_is_split(region):
    data = prepare(region)
    cats = separable_categories(region, data)
    assert cats is not None and sorted(cats) == ["hip", "knee", "trauma"]
    # time by the room for improvement over greedy, some for every part
    weights = time_weights({c: scout(category_problem(region, c))[1] for c in cats})
    assert sorted(weights.index) == sorted(cats)
    assert weights.sum() == pytest.approx(1.0)
    assert (weights > 0).all()
    linked = {
        "year-one cap": _with(region, year_one_cap=0.5),
        "join capacity": _with(region, max_joins_per_quarter=3),
        "no worse off": _with(region, participation="optional"),
    }
    for why, p in linked.items():
        assert separable_categories(p, prepare(p)) is None, why
    # relaxed, those rules link nothing
    p = _with(region, year_one_cap=0.5, max_joins_per_quarter=3, relax=frozenset({"year_one_cap", "join_capacity"}))
    assert separable_categories(p, prepare(p)) is not None
    # an offer whose lines span two categories: one volume for both
    lines = region.lines.assign(category=region.lines["group"].str.split("-").str[0])
    by_supplier = lines.groupby("supplier")["category"].nunique()
    supplier = by_supplier[by_supplier > 1].index[0]
    mine = lines[lines["supplier"] == supplier].drop_duplicates("category").head(2)["line"]
    p = dataclasses.replace(
        region,
        offers=pd.concat([region.offers, pd.DataFrame({"offer": ["BOTH"], "supplier": supplier, "basis": ["units"]})]),
        offer_lines=pd.concat(
            [region.offer_lines[~region.offer_lines["line"].isin(mine)], pd.DataFrame({"offer": "BOTH", "line": mine})]
        ),
        tiers=pd.concat([region.tiers, pd.DataFrame({"offer": ["BOTH"], "threshold": [10.0], "discount": [0.05]})]),
    )
    assert separable_categories(p, prepare(p)) is None


def test_a_category_part_holds_only_that_category(region):
    part = category_problem(region, "knee")
    assert set(part.groups["category"]) == {"knee"}
    assert set(part.lines["group"]) <= set(part.groups["group"])
    assert set(part.candidates["line"]) <= set(part.lines["line"])
    assert set(part.contracts["category"]) <= {"knee"}
    assert set(part.offer_lines["line"]) <= set(part.lines["line"])


def test_solving_by_category_finds_the_whole_models_optimum(region):
    whole = solve(region)
    assert whole.status == "optimal"
    data = prepare(region)
    cats = separable_categories(region, data)
    assert cats is not None
    parts = {c: solve(category_problem(region, c)) for c in cats}
    merged = solve_by_category(
        region, data, cats, lambda p, c, plan, first: solve(p, first_lines=first), deadline=perf_counter() + 120
    )
    assert merged.objective == pytest.approx(whole.objective, abs=PENNY)
    assert merged.objective == pytest.approx(sum(s.objective for s in parts.values()), abs=PENNY)
    assert merged.status == "optimal", merged.message
    assert "solved by category" in merged.message
    assert merged.global_bound >= merged.objective - PENNY
    assert merged.global_bound == pytest.approx(sum(s.global_bound for s in parts.values()), abs=PENNY)
    assert check_solution(region, merged) == []
    # the reported tables are the whole region's and add up to the plan
    assert set(merged.allocation["category"]) == set(cats)
    assert abs(merged.savings["amount"].sum() - merged.objective) < PENNY
    assert abs(merged.timeline["savings"].sum() - merged.objective) < PENNY
    assert merged.usable_lines == data.pairs["line"].nunique()


def test_a_large_separable_problem_is_solved_by_category_with_an_honest_status(region, monkeypatch):
    monkeypatch.setattr(solve_module, "should_screen", lambda data: True)
    p = _with(region, time_limit=20.0)
    sol = solve(p)
    assert sol.has_solution
    assert "solved by category" in sol.message
    assert check_solution(p, sol) == []
    assert sol.global_bound is not None and sol.global_bound >= sol.objective - PENNY
    if sol.status == "optimal":
        assert sol.global_bound - sol.objective <= p.settings.gap_rel * abs(sol.objective) + PENNY
    else:
        assert "of the best possible plan" in sol.message
    assert sol.objective >= sol.greedy_objective - PENNY


def test_an_infeasible_category_makes_the_problem_infeasible(region, monkeypatch):
    monkeypatch.setattr(solve_module, "should_screen", lambda data: True)
    # knee's lines all unapproved at one trust: that trust cannot join knee, and must
    knee = region.lines.loc[region.lines["group"].str.startswith("KNEE"), "line"]
    trust = region.trusts["trust"].iloc[0]
    cand = region.candidates.copy()
    cand.loc[(cand["trust"] == trust) & cand["line"].isin(knee), "approved"] = False
    p = dataclasses.replace(_with(region, time_limit=20.0), candidates=cand)
    sol = solve(p, explain=False)
    assert sol.status == "infeasible"
    assert sol.message.startswith("knee: ")
    assert not sol.has_solution


def test_a_category_stopped_without_a_plan_keeps_the_greedy_plan(region):
    from solver.greedy import greedy
    from solver.solution import Solution

    data = prepare(region)
    cats = separable_categories(region, data)
    assert cats is not None

    def solve_one(part, category, plan, first=()):
        if category == "knee":  # as if its solver stopped before any plan
            return Solution(status="time_limit", message="time limit reached before any plan was found")
        return solve(part)

    merged = solve_by_category(region, data, cats, solve_one, deadline=perf_counter() + 60)
    assert merged.has_solution
    assert merged.status == "time_limit"
    knee_greedy = greedy(category_problem(region, "knee")).objective
    others = sum(solve(category_problem(region, c)).objective for c in cats if c != "knee")
    assert merged.objective == pytest.approx(knee_greedy + others, abs=PENNY)
    assert "knee time_limit" in merged.message
    assert check_solution(region, merged) == []


def test_the_bound_process_time_follows_the_size_with_a_floor():
    # at L: knee 74,288 columns, hip 429,642, trauma 531,649
    shares = bound_weights({"knee": 74_288, "hip": 429_642, "trauma": 531_649})
    assert shares.sum() == pytest.approx(1.0)
    assert shares["knee"] == pytest.approx(0.2)
    assert shares["trauma"] > shares["hip"] > shares["knee"]
    assert shares["hip"] / shares["trauma"] == pytest.approx(429_642 / 531_649)
    assert bound_weights({"a": 0, "b": 0}).tolist() == [0.5, 0.5]


def test_the_bound_process_takes_the_part_with_the_fewest_columns_last():
    # it gets the time the parts before it leave (a search that settles stops early)
    assert bound_order({"knee": 74_288, "hip": 429_642, "trauma": 531_649}) == ["trauma", "hip", "knee"]
    assert bound_order({"b": 5, "a": 5, "c": 6}) == ["c", "a", "b"]


@pytest.fixture
def every_part_large(monkeypatch):
    """Screened, and every category too large for its whole LP: one child bounds them all."""
    monkeypatch.setattr(solve_module, "should_screen", lambda data: True)
    monkeypatch.setattr(decompose_module, "FULL_LP_COLUMNS", 0)
    monkeypatch.setattr(bound_module, "FULL_LP_COLUMNS", 0)


def test_a_part_whose_bound_is_done_first_solves_over_the_lines_it_ranks_first(region, monkeypatch, every_part_large):
    # the child's finished bound for a part ranks the lines its LP would use; the part's MILP
    # solves over the top ones (and its greedy plan's) first, then its usual stages
    optimum = solve(region, bound_beside=False)
    knee_lines = tuple(sorted(set(optimum.allocation.loc[optimum.allocation["category"] == "knee", "line"])))
    given: dict = {}

    class Finished(bound_module.CategoryBounds):
        def finished(self, category):
            return Bound(value=None, method="test", ranked_lines=knee_lines) if category == "knee" else None

    real = solve_module.solve

    def recording(part, **options):
        given[part.groups["category"].iloc[0]] = options.get("first_lines", ())
        return real(part, **options)

    monkeypatch.setattr(decompose_module, "CategoryBounds", Finished)
    monkeypatch.setattr(solve_module, "solve", recording)
    sol = real(_with(region, time_limit=20.0))
    assert given["knee"] == knee_lines[: decompose_module.FIRST_STAGE_LINES]
    assert given["hip"] == () and given["trauma"] == ()
    assert check_solution(region, sol) == []
    # over the optimum's own knee lines the first stage finds the optimum's knee plan
    knee = sol.savings.groupby("category")["amount"].sum()["knee"]
    assert knee == pytest.approx(optimum.savings.groupby("category")["amount"].sum()["knee"], abs=PENNY)


def test_one_shared_process_bounds_the_parts_too_large_for_their_lp(region, monkeypatch, every_part_large):
    # every part counts as large: one child computes their Lagrangian bounds in turn
    started: list = []
    found: dict = {}

    class Recording(bound_module.CategoryBounds):
        def result(self, deadline):
            started.append(self)
            found.update(super().result(deadline))
            return found

    monkeypatch.setattr(decompose_module, "CategoryBounds", Recording)
    p = _with(region, time_limit=20.0)
    sol = solve(p)
    assert len(started) == 1
    assert "solved by category" in sol.message
    assert check_solution(p, sol) == []
    assert sol.global_bound >= sol.objective - PENNY
    # the child's bounds hold for each category's plan, and the run keeps the least
    by_category = sol.savings.groupby("category")["amount"].sum()
    for category, bound in found.items():
        assert bound.value >= by_category[category] - PENNY
    # (the fixture's gap tolerance is 0: no part is proven early, so the child has its time)
    assert sorted(found) == ["hip", "knee", "trauma"]
    assert sol.global_bound <= sum(b.value for b in found.values()) + PENNY


def test_a_childs_bound_below_a_parts_plan_is_not_used_and_the_run_says_so(region, monkeypatch, every_part_large):
    # a bound below a plan is a bug somewhere: the run keeps its own bounds and asks for a report

    class Wrong(bound_module.CategoryBounds):
        def result(self, deadline):
            super().result(perf_counter())
            return {"knee": bound_module.Bound(value=1.0, method="a broken bound")}

    monkeypatch.setattr(decompose_module, "CategoryBounds", Wrong)
    sol = solve(_with(region, time_limit=10.0))
    assert f"knee: {bound_module.DISCARDED}" in sol.message
    assert "a broken bound" not in sol.global_bound_method
    assert sol.global_bound >= sol.objective - PENNY
