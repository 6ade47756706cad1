"""Line screening (solver/screen.py) and the greedy warm start (solver/solve.py)."""

from __future__ import annotations

import dataclasses
import importlib

import pandas as pd
import pytest
from solver_testdata import region_problem

from solver import screen
from solver.checker import check_solution
from solver.data import prepare
from solver.greedy import greedy
from solver.model import build_model
from solver.problem import ProblemData, Settings
from solver.solve import solve, solve_model, warm_start

PENNY = 0.01


@pytest.fixture(scope="module")
def region():
    return region_problem(seed=3)


def test_candidate_lines_keep_plan_coverage_and_suppliers(region):
    data = prepare(region)
    plan = greedy(region, data=data)
    plan_lines = set(plan.allocation["line"])
    lines = screen.candidate_lines(data, per_group=1, keep=plan_lines)
    usable = set(data.pairs["line"])
    assert plan_lines <= lines <= usable
    assert len(lines) < len(usable)
    pairs = data.pairs[data.pairs["line"].isin(lines)]
    # every trust keeps a usable line in each of its groups, its cheapest one
    assert len(pairs.drop_duplicates(["trust", "group"])) == len(data.tg)
    cheapest = data.pairs.sort_values("price").drop_duplicates(["trust", "group"])
    assert cheapest["line"].isin(lines).all()
    # every supplier keeps a line in each category it can serve
    assert len(pairs.drop_duplicates(["supplier", "category"])) == len(data.supplier_category)


def test_line_scores_fall_with_a_line_s_price_by_the_demand_it_could_serve(region):
    data = prepare(region)
    scores = screen.line_scores(data).set_index("line")["score"]
    untiered = data.pairs.loc[data.pairs["offer"].isna(), "line"]
    assert len(untiered), "test data should have lines outside any tier offer"
    line = untiered.iloc[0]
    dearer = region.lines.assign(
        regional_price=region.lines["regional_price"].where(region.lines["line"] != line, lambda p: p + 10.0)
    )
    rescored = screen.line_scores(prepare(dataclasses.replace(region, lines=dearer))).set_index("line")["score"]
    served = data.pairs.loc[data.pairs["line"] == line, "demand"].sum()
    assert served > 0
    assert rescored[line] == pytest.approx(scores[line] - 10.0 * served)
    others = scores.index != line
    assert rescored[others].to_numpy() == pytest.approx(scores[others].to_numpy())
    # so a cheaper line with the same trusts and no tiers always scores higher


def test_restricted_problem_gives_full_problem_plans(region):
    data = prepare(region)
    lines = screen.candidate_lines(data, per_group=1)
    restricted = screen.restrict(region, lines)
    assert set(restricted.candidates["line"]) <= lines
    sol = solve(restricted)
    assert sol.status == "optimal"
    # a plan over fewer lines is a plan of the full problem: every rule holds there too
    assert check_solution(region, sol) == []
    full = solve(region)
    assert sol.objective <= full.objective + PENNY


def test_solve_screens_large_models_in_stages_and_says_so(region, monkeypatch):
    full = solve(region)
    solve_module = importlib.import_module("solver.solve")
    monkeypatch.setattr(solve_module, "should_screen", lambda data: True)
    sol = solve(region)
    assert sol.usable_lines == prepare(region).pairs["line"].nunique()
    assert "solved in stages over" in sol.message
    # a bound within the candidate lines is no LP bound of the problem: only the whole
    # model's LP, solved beside the stages, is reported as one
    assert sol.lp_bound is None or sol.lp_bound == pytest.approx(full.lp_bound, rel=1e-6)
    assert check_solution(region, sol) == []
    assert sol.greedy_objective - PENNY <= sol.objective <= full.objective + PENNY
    # the region is small: the stages run to the last, which holds every line and is exact
    assert sol.candidate_lines == sol.usable_lines
    assert "the last holding all" in sol.message
    assert sol.objective == pytest.approx(full.objective, abs=PENNY)


def test_stages_stop_at_the_time_limit_with_the_best_plan(region, monkeypatch):
    solve_module = importlib.import_module("solver.solve")
    monkeypatch.setattr(solve_module, "should_screen", lambda data: True)
    monkeypatch.setattr(solve_module, "MIN_STAGE_SECONDS", 0.05)
    p = dataclasses.replace(region, settings=dataclasses.replace(region.settings, time_limit=0.3))
    sol = solve(p)
    assert sol.has_solution
    assert sol.candidate_lines < sol.usable_lines
    assert "line screening" in sol.message
    assert check_solution(p, sol) == []
    assert sol.objective >= sol.greedy_objective - PENNY


def test_candidate_stages_grow_to_every_line(region):
    data = prepare(region)
    stages = screen.candidate_stages(data)
    for smaller, larger in zip(stages, stages[1:], strict=False):
        assert smaller <= larger
    assert stages[-1] == set(data.pairs["line"])
    assert len(stages[0]) < len(stages[-1])


def test_hull_columns_counts_pairs_times_join_months(region):
    data = prepare(region)
    months = data.join_options.groupby(["trust", "category"]).size()
    expected = months.reindex(pd.MultiIndex.from_frame(data.pairs[["trust", "category"]])).sum()
    assert screen.hull_columns(data) == expected
    m = build_model(data)
    assert len(m.var["x_month"]) == expected
    assert not screen.should_screen(data)


def test_warm_start_completes_the_greedy_plan(region):
    data = prepare(region)
    plan = greedy(region, data=data)
    m = build_model(data)
    assert warm_start(m, plan)
    # the completed start is feasible and at least as good as greedy (same lines, best split)
    start_value = sum(v.varValue * c for v, c in m.prob.objective.items()) / 1e-3
    assert start_value >= plan.objective - PENNY
    # bounds the start fixed are restored
    assert all(v.lowBound == 0 and v.upBound == 1 for v in m.var["u"])


def test_time_limited_run_keeps_at_least_the_greedy_plan():
    # hard enough that HiGHS does not finish in the limit; the warm start is the floor
    p = region_problem(seed=5, n_trusts=10, n_lines=220, min_suppliers=3, max_supplier_share=0.5)
    p = dataclasses.replace(p, settings=dataclasses.replace(p.settings, time_limit=0.5, gap_rel=0.0))
    sol = solve(p)
    assert sol.objective is not None, sol.message
    assert sol.objective >= sol.greedy_objective - PENNY
    assert check_solution(p, sol) == []


def test_without_a_plan_the_model_solves_from_scratch_to_the_same_optimum(region):
    data = prepare(region)
    cold = solve_model(build_model(data), start=None)
    warm = solve_model(build_model(data), start=greedy(region, data=data))
    assert cold.status == warm.status == "optimal"
    assert cold.objective == pytest.approx(warm.objective, abs=PENNY)
    assert check_solution(region, cold) == []


def test_an_infeasible_stage_is_not_an_infeasible_problem(region, monkeypatch):
    # a year-one cap of 0: every trust must keep today's lines, which a stage chosen by
    # score need not hold; the screened run must still end where the exact one does
    p = dataclasses.replace(region, settings=dataclasses.replace(region.settings, year_one_cap=0.0))
    exact = solve(p)
    solve_module = importlib.import_module("solver.solve")
    monkeypatch.setattr(solve_module, "should_screen", lambda data: True)
    sol = solve(p)
    assert exact.status == "optimal"
    assert sol.status == "optimal"
    assert sol.objective == pytest.approx(exact.objective, abs=PENNY)
    assert check_solution(p, sol) == []


def test_an_infeasible_problem_is_reported_infeasible_after_the_last_stage(region, monkeypatch):
    p = dataclasses.replace(region, settings=dataclasses.replace(region.settings, min_suppliers=50))
    solve_module = importlib.import_module("solver.solve")
    monkeypatch.setattr(solve_module, "should_screen", lambda data: True)
    sol = solve(p, explain=False)
    assert sol.status == "infeasible"
    assert not sol.has_solution


def _warm_start_returned_instead_of_the_optimum() -> ProblemData:
    """A two-trust instance on which HiGHS 1.16, warm-started from greedy's plan, proves
    the optimum (-£1,174.43) but hands back the start's values (-£1,494.43): after presolve
    it values the start at the optimum's objective. Found by the brute-force property test."""
    lines = pd.DataFrame(
        {
            "line": ["S3:G1:0", "S2:G1:1", "S3:G2:0", "S1:G2:1"],
            "supplier": ["S3", "S2", "S3", "S1"],
            "group": ["G1", "G1", "G2", "G2"],
            "regional_price": [116.0, 82.0, 116.0, 134.0],
            "list_price": [174.0, 123.0, 174.0, 201.0],
        }
    )
    pairs = [(t, line) for t in ("T1", "T2") for line in lines["line"]]
    return ProblemData(
        trusts=pd.DataFrame({"trust": ["T1", "T2"]}),
        groups=pd.DataFrame({"group": ["G1", "G2"], "category": "hip"}),
        lines=lines,
        demand=pd.DataFrame(
            {"trust": ["T1", "T1", "T2", "T2"], "group": ["G1", "G2", "G1", "G2"], "units": [24.0, 20.0, 36.0, 85.0]}
        ),
        current=pd.DataFrame(
            {
                "trust": ["T1", "T1", "T2", "T2"],
                "line": ["S2:G1:1", "S1:G2:1", "S3:G1:0", "S1:G2:1"],
                "units": [24.0, 20.0, 36.0, 85.0],
                "unit_price": [85.58, 151.99, 108.76, 136.74],
            }
        ),
        candidates=pd.DataFrame(
            {
                "trust": [t for t, _ in pairs],
                "line": [line for _, line in pairs],
                "approved": [True] * 7 + [False],
                "odep_ok": True,
                "switch_cost": [1000.0, 0.0, 500.0, 0.0, 0.0, 0.0, 1500.0, 0.0],
            }
        ),
        offers=pd.DataFrame({"offer": ["S1/vol"], "supplier": ["S1"], "basis": ["spend"]}),
        offer_lines=pd.DataFrame({"offer": ["S1/vol"], "line": ["S1:G2:1"]}),
        tiers=pd.DataFrame({"offer": ["S1/vol"] * 2, "threshold": [5500.0, 9125.0], "discount": [0.05, 0.05]}),
        contracts=pd.DataFrame(
            {
                "trust": ["T1", "T1", "T2", "T2"],
                "category": "hip",
                "contract": ["T1-C0", "T1-C1", "T2-C0", "T2-C1"],
                "supplier": ["S3", None, "S1", "S3"],
                "end_month": [-3, 9, -3, 3],
                "notice_months": [5, 5, 3, 3],
                "early_exit": True,
                "exit_fee": [3000.0, 1000.0, 1000.0, 2000.0],
                "exit_fee_pct": [0.0, 0.0, 0.1, 0.5],
                "extension_months": [3, 0, 6, 6],
                "extension_uplift": 0.1,
            }
        ),
        switching=pd.DataFrame(
            {
                "trust": "T2",
                "supplier": ["S1", "S1", "S2", "S2"],
                "category": "hip",
                "line": [None, None, None, "S2:G1:1"],
                "kind": ["instruments", "training", "instruments", "consignment"],
                "cost": [5000.0, 2000.0, 0.0, 400.0],
            }
        ),
        settings=Settings(
            range_cap=3, trust_range_cap=None, horizon_months=18, join_grid_months=6, decision_month=2, gap_rel=0.0
        ),
    )


def test_a_warm_start_handed_back_instead_of_the_optimum_is_solved_again():
    p = _warm_start_returned_instead_of_the_optimum()
    data = prepare(p)
    start = greedy(p, data=data)
    cold = solve_model(build_model(data))
    warm = solve_model(build_model(data), start=start)
    assert cold.objective == pytest.approx(-1174.43, abs=PENNY)
    assert start.objective == pytest.approx(-1494.43, abs=PENNY)  # the start is worse: the case still arises
    assert warm.status == "optimal"
    assert warm.objective == pytest.approx(cold.objective, abs=PENNY)
    assert "solved again without it" in warm.message
    # and the whole run says optimal, proven by a bound for the whole problem
    sol = solve(p)
    assert sol.status == "optimal", sol.message
    assert sol.objective == pytest.approx(cold.objective, abs=PENNY)
    assert check_solution(p, sol) == []


def test_cbc_after_a_highs_lp_is_not_taken_for_a_handed_back_warm_start():
    # the LP bound runs on HiGHS and leaves its model on the problem; CBC, a command, does
    # not replace it: its objective (the LP's) must not be read as CBC's
    p = _warm_start_returned_instead_of_the_optimum()
    p = dataclasses.replace(p, settings=dataclasses.replace(p.settings, solver="cbc"))
    data = prepare(p)
    sol = solve_model(build_model(data), quality=True, start=greedy(p, data=data))
    assert sol.lp_bound is not None
    assert "solved again" not in sol.message
    assert sol.status in ("optimal", "gap_limit")  # CBC says gap_limit at a zero gap
    assert sol.objective == pytest.approx(-1174.43, abs=PENNY)
