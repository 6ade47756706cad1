"""Switching costs as data: systems and lines (solver/problem.py, data.py, model.py,
solution.py, greedy.py, checker.py, explain.py)."""

from __future__ import annotations

import dataclasses
import importlib

import numpy as np
import pandas as pd
import pytest
from solver_testdata import region_problem, with_switching

from solver.checker import check_solution
from solver.data import prepare
from solver.greedy import greedy
from solver.model import build_model
from solver.problem import ProblemDataError
from solver.rule_prices import price_of_rules
from solver.solution import SWITCHING_CAUSES
from solver.solve import solve, warm_start

PENNY = 0.01
COLS = ["trust", "supplier", "category", "line", "kind", "cost"]


def rows(*values: tuple) -> pd.DataFrame:
    return pd.DataFrame(list(values), columns=COLS)


@pytest.fixture(scope="module")
def region():
    """A small region (3 trusts) with system, training and line-level costs."""
    return with_switching(region_problem(seed=4, n_trusts=3, n_groups=9, n_lines=45, n_suppliers=4), seed=1, share=1.0)


# --------------------------------------------------------------------------- schema


@pytest.mark.parametrize(
    ("row", "column", "words"),
    [
        (("RXZ", "SUP-A", "hip", None, None, 1.0), "trust", "unknown trust"),
        (("RXA", "SUP-Z", "hip", None, None, 1.0), "supplier", "unknown supplier"),
        (("RXA", "SUP-A", "spine", None, None, 1.0), "category", "unknown category"),
        (("RXA", "SUP-C", "knee", None, None, 1.0), "category", "no line in category"),
        (("RXA", "SUP-A", "hip", "SUP-A:HIP-CUP:Nope", None, 1.0), "line", "unknown line"),
        (("RXA", "SUP-A", "hip", "SUP-B:HIP-CUP:Trident", None, 1.0), "line", "not a line of that supplier"),
        (("RXA", "SUP-A", "knee", "SUP-A:HIP-CUP:Cupola", None, 1.0), "line", "not a line of that supplier"),
        (("RXA", "SUP-A", "hip", None, "cement", 1.0), "kind", "must be one of"),
        (("RXA", "SUP-A", "hip", None, "training", -5.0), "cost", "must be >= 0"),
        (("RXA", "SUP-A", "hip", None, "training", "lots"), "cost", "not a finite number"),
    ],
)
def test_bad_switching_rows_are_rejected_naming_table_key_and_column(small_problem, frames, row, column, words):
    frames["switching"] = rows(row)
    with pytest.raises(ProblemDataError) as err:
        small_problem(frames)
    assert err.value.table == "switching"
    assert err.value.column == column
    assert words in err.value.problem
    assert "trust=" in err.value.key


def test_rows_differing_only_in_kind_add_up_and_repeats_are_rejected(small_problem, frames):
    frames["switching"] = rows(
        ("RXA", "SUP-C", "hip", None, "instruments", 5000.0),
        ("RXA", "SUP-C", "hip", np.nan, "training", 1000.0),
        ("RXA", "SUP-C", "hip", "", "", 250.0),
    )
    p = small_problem(frames, relax={"approvals"})
    assert p.switching["line"].isna().all()
    assert p.switching["kind"].tolist() == ["instruments", "training", None]
    systems = prepare(p).systems.set_index(["trust", "supplier", "category"])["cost"]
    assert systems[("RXA", "SUP-C", "hip")] == 6250.0
    frames["switching"] = rows(
        ("RXA", "SUP-C", "hip", None, "training", 5000.0), ("RXA", "SUP-C", "hip", None, "training", 1.0)
    )
    with pytest.raises(ProblemDataError, match="duplicate key"):
        small_problem(frames)


def test_no_rows_or_zero_rows_price_as_before(small_problem, frames):
    before = solve(small_problem(frames))
    frames["switching"] = rows(
        ("RXA", "SUP-A", "hip", None, "instruments", 0.0),
        ("RXB", "SUP-A", "knee", "SUP-A:KNEE-TRAY:Genu", "consignment", 0.0),
    )
    after = solve(small_problem(frames))
    assert after.objective == pytest.approx(before.objective, abs=PENNY)
    pd.testing.assert_frame_equal(after.switching, before.switching)
    # the fallback switch_cost is listed per new line with no kind
    assert before.switching["kind"].isna().all()
    assert (before.switching["cost_gbp"] == 2000.0).all()


# --------------------------------------------------------------------------- semantics


def test_a_trust_holding_a_system_pays_nothing_to_add_its_other_lines(small_problem, frames):
    # RXB buys SUP-B's Exeter stem today, so it holds SUP-B's hip system: a cheap Trident
    # cup costs it only the fallback, however dear SUP-B's hip instruments are to others
    frames["lines"].loc[frames["lines"]["line"] == "SUP-B:HIP-CUP:Trident", "regional_price"] = 150.0
    frames["switching"] = rows(("RXB", "SUP-B", "hip", None, "instruments", 1e6))
    p = small_problem(frames)
    assert prepare(p).systems.empty
    sol = solve(p)
    assert check_solution(p, sol) == []
    used = sol.allocation[sol.allocation["trust"] == "RXB"]
    assert "SUP-B:HIP-CUP:Trident" in set(used["line"])
    paid = sol.switching[sol.switching["trust"] == "RXB"]
    assert paid["line"].notna().all()
    assert paid.loc[paid["line"] == "SUP-B:HIP-CUP:Trident", "cost_gbp"].tolist() == [2000.0]


def test_a_new_system_is_paid_once_for_all_its_lines(small_problem, frames):
    # SUP-A's hip lines become very cheap: RXA (which holds SUP-B's hip system) moves
    # both hip groups onto SUP-A and pays its hip instruments and training once
    cheap = frames["lines"]["supplier"].eq("SUP-A") & frames["lines"]["group"].str.startswith("HIP")
    frames["lines"].loc[cheap, "regional_price"] = 20.0
    frames["switching"] = rows(
        ("RXA", "SUP-A", "hip", None, "instruments", 9000.0),
        ("RXA", "SUP-A", "hip", None, "training", 3000.0),
        ("RXA", "SUP-A", "hip", "SUP-A:HIP-CUP:Cupola", "consignment", 700.0),
    )
    p = small_problem(frames)
    sol = solve(p)
    assert check_solution(p, sol) == []
    mine = sol.switching[(sol.switching["trust"] == "RXA") & (sol.switching["category"] == "hip")]
    got = {(r.line, r.kind): r.cost_gbp for r in mine.itertuples()}
    assert got == {
        (None, "instruments"): 9000.0,
        (None, "training"): 3000.0,
        ("SUP-A:HIP-CUP:Cupola", "consignment"): 700.0,
        ("SUP-A:HIP-CUP:Cupola", None): 2000.0,
        ("SUP-A:HIP-STEM-CEM:Corvex", None): 2000.0,
    }
    # the switching frame adds up to the cause, and the by-kind split to both
    cause = sol.savings[sol.savings["cause"] == "switching_costs"]
    assert -cause["amount"].sum() == pytest.approx(sol.switching["cost_gbp"].sum(), abs=PENNY)
    by_kind = sol.switching_by_kind.set_index(["trust", "category", "cause"])["amount"]
    assert by_kind[("RXA", "hip", "switching_instruments")] == -9000.0
    assert by_kind[("RXA", "hip", "switching_training")] == -3000.0
    assert by_kind[("RXA", "hip", "switching_consignment")] == -700.0
    assert by_kind[("RXA", "hip", "switching_unclassified")] == -4000.0
    assert set(sol.switching_by_kind["cause"]) <= set(SWITCHING_CAUSES.values())
    assert by_kind.sum() == pytest.approx(cause["amount"].sum(), abs=PENNY)


def test_model_links_every_new_line_of_a_costly_system(region):
    data = prepare(region)
    m = build_model(data)
    n = m.var["new_system"]
    assert len(n) == len(data.systems) > 0
    assert (data.systems["cost"] > 0).all()
    linked = data.pairs[data.pairs["system_cost"] > 0]
    assert linked["is_new"].all()
    assert m.rows["new_system_link"] == len(linked)


# --------------------------------------------------------------------------- behaviour


@pytest.mark.parametrize("cost", [1.0, 20_000.0, 1e8])
def test_raising_a_system_cost_avoids_that_system_or_pays_exactly_it(region, cost):
    base = solve(region)
    assert base.status == "optimal"
    held = region.current.merge(region.lines.merge(region.groups, on="group"), on="line")
    held = set(held[["trust", "supplier", "category"]].itertuples(index=False))
    used = set(base.allocation[["trust", "supplier", "category"]].itertuples(index=False))
    adopted = sorted(used - held)
    assert adopted, "test data should adopt at least one new system"
    t, sup, cat = adopted[0]
    others = region.switching[
        ~((region.switching["trust"] == t) & (region.switching["supplier"] == sup) & region.switching["line"].isna())
        | (region.switching["category"] != cat)
    ]
    raised = pd.concat([others, rows((t, sup, cat, None, "instruments", cost))], ignore_index=True)
    p = dataclasses.replace(region, switching=raised)
    sol = solve(p)
    assert sol.status == "optimal"
    assert check_solution(p, sol) == []
    uses = set(sol.allocation[["trust", "supplier", "category"]].itertuples(index=False))
    paid = sol.switching[
        (sol.switching["trust"] == t)
        & (sol.switching["supplier"] == sup)
        & (sol.switching["category"] == cat)
        & sol.switching["line"].isna()
    ]
    if (t, sup, cat) in uses:
        assert paid["cost_gbp"].tolist() == [cost]
    else:
        assert paid.empty
    if cost == 1e8:
        assert (t, sup, cat) not in uses


def test_raising_switching_costs_never_raises_the_optimum(region):
    objectives = []
    for factor in (0.0, 1.0, 3.0):
        scaled = region.switching.assign(cost=region.switching["cost"] * factor)
        cand = region.candidates.assign(switch_cost=region.candidates["switch_cost"] * factor)
        p = dataclasses.replace(region, switching=scaled, candidates=cand)
        sol = solve(p)
        assert sol.status == "optimal"
        assert check_solution(p, sol) == []
        objectives.append(sol.objective)
    assert objectives[0] >= objectives[1] - PENNY >= objectives[2] - 2 * PENNY
    relaxed = solve(region.with_settings(relax={"switching_costs"}))
    assert relaxed.objective == pytest.approx(objectives[0], abs=PENNY)
    assert relaxed.switching.empty


def test_greedy_counts_a_system_cost_when_it_picks_lines(small_problem, frames):
    # Taper is the cheapest stem, but RXB would need SUP-C's whole hip system for it
    frames["switching"] = rows(("RXB", "SUP-C", "hip", None, "instruments", 1e7))
    frames["candidates"]["switch_cost"] = 0.0
    plan = greedy(small_problem(frames))
    assert plan.status == "feasible"
    assert "SUP-C:HIP-STEM-CEM:Taper" not in set(plan.allocation.loc[plan.allocation["trust"] == "RXB", "line"])
    frames["switching"] = rows(("RXB", "SUP-C", "hip", None, "instruments", 1.0))
    plan = greedy(small_problem(frames))
    assert "SUP-C:HIP-STEM-CEM:Taper" in set(plan.allocation.loc[plan.allocation["trust"] == "RXB", "line"])
    assert plan.switching["cost_gbp"].sum() == 1.0


def test_warm_start_sets_the_new_systems_of_the_greedy_plan(region):
    data = prepare(region)
    plan = greedy(region, data=data)
    assert plan.has_solution
    m = build_model(data)
    assert warm_start(m, plan)
    start = sum(v.varValue * c for v, c in m.prob.objective.items()) / 1e-3
    assert start >= plan.objective - PENNY


def test_screened_solve_keeps_systems_consistent(region, monkeypatch):
    exact = solve(region)
    solve_module = importlib.import_module("solver.solve")
    monkeypatch.setattr(solve_module, "should_screen", lambda data: True)
    sol = solve(region)
    assert "solved in stages over" in sol.message
    assert check_solution(region, sol) == []
    assert sol.objective == pytest.approx(exact.objective, abs=PENNY)
    # a restricted problem keeps the systems whose lines it keeps, priced the same
    screen = importlib.import_module("solver.screen")
    full = prepare(region)
    some = set(full.pairs["line"].drop_duplicates().iloc[::2])
    part = prepare(screen.restrict(region, some))
    merged = part.systems.merge(full.systems, on=["trust", "supplier", "category"], suffixes=("", "_full"))
    assert len(merged) == len(part.systems)
    assert (merged["cost"] == merged["cost_full"]).all()


# --------------------------------------------------------------------------- checker, explain


def test_checker_recomputes_switching_costs_and_catches_tampering(region):
    sol = solve(region)
    assert check_solution(region, sol) == []
    assert len(sol.switching) > 0

    def tampered(**frames):
        return dataclasses.replace(sol, **frames)

    cheaper = sol.switching.copy()
    cheaper.loc[0, "cost_gbp"] -= 100.0
    assert any("recomputed" in v and "switching" in v for v in check_solution(region, tampered(switching=cheaper)))
    dropped = sol.switching.iloc[1:]
    assert any("not listed" in v for v in check_solution(region, tampered(switching=dropped)))
    extra = pd.concat([sol.switching, sol.switching.iloc[:1].assign(kind="other")], ignore_index=True)
    assert any("not due" in v for v in check_solution(region, tampered(switching=extra)))
    relabelled = sol.switching_by_kind.assign(cause="switching_other")
    assert any("by kind" in v for v in check_solution(region, tampered(switching_by_kind=relabelled)))
    # a switching cause that disagrees with the recomputed costs, even if the total holds
    savings = sol.savings.copy()
    sw = savings.index[(savings["cause"] == "switching_costs") & (savings["amount"] < 0)][0]
    ph = savings.index[
        (savings["cause"] == "price_harmonisation")
        & (savings["trust"] == savings.at[sw, "trust"])
        & (savings["category"] == savings.at[sw, "category"])
    ][0]
    savings.loc[sw, "amount"] += 50.0
    savings.loc[ph, "amount"] -= 50.0
    assert any("switching costs of" in v for v in check_solution(region, tampered(savings=savings)))


def test_price_of_the_switching_cost_assumptions(small_problem, frames):
    frames["switching"] = rows(("RXB", "SUP-A", "knee", None, "instruments", 4000.0))
    p = small_problem(frames)
    prices = price_of_rules(p).set_index("rule")
    row = prices.loc["switching_costs"]
    assert bool(row["active"])
    free = solve(p.with_settings(relax={"switching_costs"}))
    assert row["objective_without_rule"] == pytest.approx(free.objective, abs=PENNY)
    assert row["price_gbp"] >= 2000.0 - PENNY  # at least RXB's fallback on its new knee line
    frames["candidates"]["switch_cost"] = 0.0
    frames["switching"] = rows(("RXB", "SUP-A", "knee", None, "instruments", 0.0))
    assert not bool(price_of_rules(small_problem(frames)).set_index("rule").loc["switching_costs", "active"])
