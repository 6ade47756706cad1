"""solve(): statuses, reported figures, solution frames and solver agreement."""

from __future__ import annotations

import pulp
import pytest
from solver_testdata import region_problem

from solver.checker import check_solution
from solver.solution import CAUSES, COLUMNS
from solver.solve import solve

PENNY = 0.01


def _assert_sound(problem, sol):
    assert sol.status == "optimal", sol.message
    assert check_solution(problem, sol) == []
    assert abs(sol.savings["amount"].sum() - sol.objective) < PENNY
    assert abs(sol.timeline["savings"].sum() - sol.objective) < PENNY
    assert abs(sol.solver_objective - sol.objective) < 1e-6 * max(1.0, abs(sol.objective))


def test_small_problem_solves_and_checks(small_problem):
    p = small_problem()
    sol = solve(p)
    _assert_sound(p, sol)
    assert sol.solver == "highs"
    assert sol.n_variables > 0 and sol.n_constraints > 0
    assert sol.build_seconds > 0 and sol.solve_seconds > 0
    for name, cols in COLUMNS.items():
        assert list(getattr(sol, name).columns) == cols, name
    assert set(sol.savings["cause"]) == set(CAUSES)
    # quality figures bracket the optimum
    assert sol.lp_bound >= sol.objective - PENNY
    assert sol.objective >= sol.greedy_objective - PENNY
    assert sol.best_bound >= sol.solver_objective - PENNY
    assert 0 <= sol.gap <= p.settings.gap_rel


def test_known_optimum_of_small_problem(small_problem):
    sol = solve(small_problem(gap_rel=0.0))
    # hip moves to SUP-A and reaches the 8 % tier; RXA joins hip at its contract
    # end (month 6), everything else at month 0
    assert sol.objective == pytest.approx(29820.0, abs=PENNY)
    tiers = sol.tiers_reached.set_index("offer")
    assert tiers.at["SUP-A/hip-vol", "discount"] == 0.08
    joins = sol.joins.set_index(["trust", "category"])
    assert joins.at[("RXA", "hip"), "join_month"] == 6
    assert joins.at[("RXA", "hip"), "exit_fee_paid"] == 0
    by_cause = sol.savings.groupby("cause")["amount"].sum()
    assert by_cause["volume_tiers"] == pytest.approx(10320.0)
    assert by_cause["switching_costs"] == pytest.approx(-6000.0)


def test_headline_figures(small_problem):
    sol = solve(small_problem(), quality=False)
    run_rate = (sol.joins["annual_baseline"] - sol.joins["annual_regional_cost"])[sol.joins["joins"]].sum()
    assert sol.headline_amount("full_year_run_rate") == pytest.approx(run_rate)
    in_year = sol.timeline.loc[sol.timeline["month"] < 12, "savings"].sum()
    assert sol.headline_amount("in_year") == pytest.approx(in_year)


def test_every_trust_joins_when_participation_is_all(small_problem):
    sol = solve(small_problem(), quality=False)
    assert sol.joins["joins"].all()
    assert (sol.joins["join_month"] < 36).all()


def test_optional_participation_stays_as_today_when_nothing_saves(small_problem, frames):
    frames["lines"]["regional_price"] *= 2  # the regional agreement is dearer everywhere
    p = small_problem(frames, participation="optional")
    sol = solve(p)
    assert sol.status == "optimal"
    assert sol.objective == pytest.approx(0.0, abs=PENNY)
    assert not sol.joins["joins"].any()
    assert sol.joins["join_month"].isna().all()
    assert check_solution(p, sol) == []


def test_optional_participation_no_trust_worse_off(small_problem, frames):
    # RXB's knee would lose money on its own; it may still join to lift a tier
    frames["lines"].loc[frames["lines"]["group"] == "KNEE-TRAY", "regional_price"] = 345.0
    p = small_problem(frames, participation="optional")
    sol = solve(p)
    _assert_sound(p, sol)
    net = sol.savings.groupby("trust")["amount"].sum()
    assert (net >= -PENNY).all()


def test_all_participation_may_lose_money_but_reports_it(small_problem, frames):
    frames["lines"]["regional_price"] *= 2
    p = small_problem(frames)
    sol = solve(p)
    _assert_sound(p, sol)
    assert sol.objective < 0


def test_infeasible_returns_no_values(small_problem):
    p = small_problem(range_cap_by_group={"KNEE-TRAY": 1}, min_suppliers_by_category={"knee": 2})
    sol = solve(p)
    assert sol.status == "infeasible"
    assert sol.objective is None and sol.solver_objective is None and sol.gap is None
    assert "range cap 1 for KNEE-TRAY contradicts minimum 2 suppliers for knee" in sol.message
    for name, cols in COLUMNS.items():
        frame = getattr(sol, name)
        assert frame.empty and list(frame.columns) == cols
    assert check_solution(p, sol) == []


def test_tiny_time_limit_reads_no_values(small_problem):
    sol = solve(small_problem(time_limit=1e-6), quality=False)
    assert sol.status == "time_limit"
    assert sol.objective is None and sol.allocation.empty and sol.timeline.empty
    assert "time limit" in sol.message


def test_contract_timing_exit_fee_against_waiting(small_problem, frames):
    # a small fee makes RXA join hip at once; a large one makes it wait to month 6
    frames["contracts"].loc[0, "exit_fee"] = 10.0
    early = solve(small_problem(frames), quality=False)
    frames["contracts"].loc[0, "exit_fee"] = 1e6
    late = solve(small_problem(frames), quality=False)
    j_early = early.joins.set_index(["trust", "category"]).loc[("RXA", "hip")]
    j_late = late.joins.set_index(["trust", "category"]).loc[("RXA", "hip")]
    assert j_early["join_month"] == 0 and j_early["exit_fee_paid"] == 10.0
    assert j_late["join_month"] == 6 and j_late["exit_fee_paid"] == 0.0


def test_bridging_cost_is_charged(small_problem, frames):
    # RXB's knee contract ended at -3: joining later than month 0 costs uplift
    p = small_problem(frames, horizon_months=12, join_grid_months=3)
    sol = solve(p, quality=False)
    row = sol.joins.set_index(["trust", "category"]).loc[("RXB", "knee")]
    assert row["bridging_cost"] == pytest.approx(0.1 * 17000 / 12 * row["join_month"])


def test_year_one_cap_holds(small_problem):
    p = small_problem(year_one_cap=0.2)
    sol = solve(p, quality=False)
    _assert_sound(p, sol)


def test_relaxing_approvals_uses_unapproved_line(small_problem):
    p = small_problem(relax=frozenset({"approvals"}), gap_rel=0.0)
    sol = solve(p, quality=False)
    assert check_solution(p, sol) == []
    assert sol.objective >= solve(small_problem(gap_rel=0.0), quality=False).objective - PENNY


@pytest.mark.skipif(not pulp.COIN_CMD().available(), reason="CBC is not installed")
def test_highs_and_cbc_agree(small_problem):
    highs = solve(small_problem(gap_rel=0.0, min_suppliers=2, year_one_cap=0.5), quality=False)
    cbc = solve(
        small_problem(gap_rel=0.0, min_suppliers=2, year_one_cap=0.5, solver="cbc"),
        quality=False,
    )
    assert cbc.solver == "cbc" and cbc.status in ("optimal", "gap_limit")
    assert cbc.objective == pytest.approx(highs.objective, abs=PENNY)
    assert cbc.best_bound is not None


def test_region_instance_is_sound():
    p = region_problem(0)
    sol = solve(p)
    assert sol.status == "optimal", sol.message
    assert check_solution(p, sol) == []
    assert sol.lp_bound >= sol.objective - 1.0
    assert sol.best_bound >= sol.solver_objective - 1.0
    assert sol.objective >= sol.greedy_objective
    assert abs(sol.savings["amount"].sum() - sol.objective) < PENNY
