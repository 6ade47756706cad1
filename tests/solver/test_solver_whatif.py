"""Price to win on small instances: just below it the line enters the optimal range,
just above it it does not (checked by independent re-solves through ``solve``)."""

from __future__ import annotations

import math
import pickle

import pytest
from solver_testdata import with_switching

from solver.problem import ProblemDataError
from solver.solve import solve
from solver.whatif import (
    ForcedModel,
    carries,
    coupled_categories,
    forced_model,
    linear_in_price,
    price_to_win,
    restrict_to_categories,
    why_unusable,
    with_line_price,
)


def _enters(problem, line: str, price: float) -> bool:
    solution = solve(with_line_price(problem, line, price).with_settings(gap_rel=1e-9), quality=False)
    assert solution.status == "optimal"
    return carries(solution, line)


@pytest.mark.parametrize("range_cap", [1, 2])
def test_just_below_the_price_to_win_the_line_enters_and_just_above_it_does_not(small_problem, range_cap):
    problem = small_problem(range_cap=range_cap, trust_range_cap=1, gap_rel=1e-9)
    base = solve(problem, quality=False)
    outside = sorted(set(problem.lines["line"]) - set(base.range.loc[base.range["kept"].astype(bool), "line"]))
    assert outside, "the fixture must leave some line out of the range"
    checked = 0
    for line in outside:
        result = price_to_win(problem, line, base)
        if result["status"] != "wins":
            continue
        ptw = result["price_to_win"]
        assert 0 < ptw < result["current_price"]
        assert result["not_at"] - ptw <= min(1.0, 0.005 * ptw) + 1e-9  # within £1 and 0.5 %
        assert _enters(problem, line, 0.99 * ptw)
        assert not _enters(problem, line, 1.01 * ptw)
        assert result["cut_pct"] == pytest.approx(100 * (1 - ptw / result["current_price"]))
        assert result["displaces"], "a line entering a capped range displaces another"
        checked += 1
    assert checked >= 1


def test_a_line_nobody_may_use_cannot_win_and_says_why(small_problem, frames):
    line = "SUP-C:HIP-STEM-CEM:Taper"  # no trust uses it today
    frames["candidates"].loc[frames["candidates"]["line"] == line, "approved"] = False
    problem = small_problem(frames)
    assert "not approved" in why_unusable(problem, line)
    result = price_to_win(problem, line, solve(problem, quality=False))
    assert result["status"] == "cannot_win" and result["solves"] == 0
    assert "not approved" in result["reason"]


def _bisect(problem, line: str, current: float, tol: float) -> float:
    """Reference: bisection of unforced re-solves of the whole problem, to ``tol``."""
    lo, hi = 0.01 * current, current
    if not _enters(problem, line, lo):
        return math.nan
    while hi - lo > tol:
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _enters(problem, line, mid) else (lo, mid)
    return lo


@pytest.mark.parametrize(
    "settings",
    [
        {"range_cap": 1, "trust_range_cap": 1},
        {"range_cap": 1, "participation": "optional"},  # every category coupled, tangents checked
        {"range_cap": 1, "year_one_cap": 0.5},
    ],
    ids=["cap1", "optional", "year-one"],
)
def test_the_newton_path_finds_the_price_bisection_finds(small_problem, settings):
    """Tangent steps on the forced model's optimum reach the same price to win as a
    bisection of ordinary re-solves of the whole region, in fewer solves."""
    problem = small_problem(gap_rel=1e-9, **settings)
    base = solve(problem, quality=False)
    outside = sorted(set(problem.lines["line"]) - set(base.range.loc[base.range["kept"].astype(bool), "line"]))
    compared = 0
    for line in outside[:3]:  # each reference costs a dozen solves
        result = price_to_win(problem, line, base)
        current = result["current_price"]
        reference = _bisect(problem, line, current, tol=0.2)
        if result["status"] != "wins":
            assert math.isnan(reference), (line, result["reason"])
            continue
        assert result["price_to_win"] == pytest.approx(reference, abs=min(1.0, 0.005 * reference) + 0.2)
        assert result["solves"] <= 6
        compared += 1
    assert compared >= 1


def test_a_spend_basis_line_is_not_linear_in_its_price_and_still_found(small_problem):
    """Patella's offer counts spend: a lower price can lose its tier, so W need not be
    convex and only solved trials (or tangents whose plan still holds) count."""
    problem = small_problem(gap_rel=1e-9, range_cap=1)
    line = "SUP-B:KNEE-TRAY:Patella"
    assert not linear_in_price(problem, line)
    assert linear_in_price(problem, "SUP-A:KNEE-TRAY:Genu")
    base = solve(problem, quality=False)
    if carries(base, line):
        pytest.skip("the fixture keeps Patella at this cap")
    result = price_to_win(problem, line, base)
    assert result["status"] == "wins"
    assert _enters(problem, line, 0.99 * result["price_to_win"])
    assert not _enters(problem, line, 1.01 * result["price_to_win"])


@pytest.mark.parametrize("line", ["SUP-B:HIP-STEM-CEM:Exeter", "SUP-B:KNEE-TRAY:Patella"])
def test_a_repriced_forced_model_is_the_model_built_at_that_price(small_problem, line):
    """Repricing in place changes exactly the coefficients a fresh build would; the
    discount bound stays at today's price, an upper bound that is only looser."""
    problem = small_problem(range_cap=1, participation="optional")
    price = 0.8 * float(problem.lines.loc[problem.lines["line"] == line, "regional_price"].iloc[0])
    repriced = ForcedModel(problem, line)
    repriced.reprice(price)
    fresh = forced_model(problem, line, price)

    def coefs(expr) -> dict[str, float]:
        return {v.name: c for v, c in expr.items() if c != 0}

    assert coefs(repriced.model.prob.objective) == pytest.approx(coefs(fresh.prob.objective), rel=1e-12)
    kept = {c.name: c for c in repriced.model.prob.constraints()}
    changed = 0
    for row in fresh.prob.constraints():
        new, old = coefs(row), coefs(kept[row.name])
        if row.name.startswith("discount_month_bound"):
            assert all(old[k] <= new[k] + 1e-12 for k in new)  # -cap on w: today's cap is larger
            continue
        assert old == pytest.approx(new, rel=1e-12), row.name
        assert kept[row.name].getUb() == row.getUb() and kept[row.name].getLb() == row.getLb()
        changed += row.name.startswith(("discount_split", "no_worse_off", "tier_"))
    assert changed
    assert float(repriced.model.data.pairs.loc[repriced.model.data.pairs["line"] == line, "price"].iloc[0]) == price


def test_a_line_the_rules_keep_out_cannot_win_at_any_price(small_problem, frames):
    """RXB may use only Corvex in its group and the range holds one line: forcing Exeter
    in is infeasible, so no price wins, said after one solve."""
    cand = frames["candidates"]
    stem = cand["line"].str.contains("HIP-STEM-CEM")
    cand.loc[(cand["trust"] == "RXB") & stem & ~cand["line"].str.endswith("Corvex"), "approved"] = False
    problem = small_problem(frames, range_cap=1, gap_rel=1e-9)
    base = solve(problem, quality=False)
    line = "SUP-B:HIP-STEM-CEM:Exeter"
    assert not carries(base, line) and why_unusable(problem, line) is None
    result = price_to_win(problem, line, base)
    assert result["status"] == "cannot_win" and result["solves"] == 1
    assert "no plan that obeys the scenario's rules" in result["reason"]


def test_only_coupled_categories_are_solved(small_problem, frames):
    problem = small_problem()
    assert coupled_categories(problem, "SUP-B:HIP-STEM-CEM:Exeter") == {"hip"}
    assert coupled_categories(small_problem(year_one_cap=0.5), "SUP-B:HIP-STEM-CEM:Exeter") == {"hip", "knee"}
    frames["offer_lines"].loc[len(frames["offer_lines"])] = ("SUP-A/hip-vol", "SUP-A:KNEE-TRAY:Genu")
    assert coupled_categories(small_problem(frames), "SUP-B:HIP-STEM-CEM:Exeter") == {"hip", "knee"}
    part = restrict_to_categories(problem, {"knee"})
    assert set(part.lines["group"]) == {"KNEE-TRAY"} and set(part.contracts["category"]) <= {"knee"}


def test_restricting_to_a_category_keeps_only_its_switching_costs(small_problem):
    """Switching rows of another category would name suppliers with no line left (a worker crashed on it)."""
    problem = with_switching(small_problem(), share=1.0)
    assert {"hip", "knee"} <= set(problem.switching["category"])
    part = restrict_to_categories(problem, {"knee"})  # validated again: raises if a row dangles
    assert set(part.switching["category"]) == {"knee"}


def test_problem_data_errors_survive_a_worker_process():
    error = pickle.loads(pickle.dumps(ProblemDataError("switching", "(trust='T')", "supplier", "unknown supplier")))
    assert (error.table, error.column, str(error)) == (
        "switching",
        "supplier",
        "table 'switching', row (trust='T'), column 'supplier': unknown supplier",
    )
