"""Contract terms that bind: one crafted case per rule, the checker, and monotonicity.

The small region (see ``solver_testdata.small_frames``): RXA buys hip from SUP-B
(Exeter at 120 for 100 units, Trident at 210 for 100 units: 2,750 a month) and
saves 450 a month on the agreement; RXB's knee is with SUP-B (1,416.67 a month).
"""

from __future__ import annotations

import copy

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from solver_testdata import make_problem, small_frames

from solver.checker import check_solution
from solver.data import prepare
from solver.explain import explain_infeasibility
from solver.problem import ProblemData, ProblemDataError
from solver.rule_prices import price_of_rules
from solver.solve import solve

RXA_HIP_MONTHLY_SPEND = (100 * 120.0 + 100 * 210.0) / 12


def contract(trust: str = "RXA", category: str = "hip", ref: str = "C1", **terms: object) -> dict:
    row = {"trust": trust, "category": category, "contract": ref, "end_month": 12, "exit_fee": 0.0}
    row.update(terms)
    return row


def problem(rows: list[dict], list_markup: float = 1.0, **settings: object) -> ProblemData:
    frames = small_frames()
    frames["contracts"] = pd.DataFrame(rows) if rows else None
    frames["lines"]["list_price"] = frames["lines"]["regional_price"] * list_markup
    return make_problem(frames, gap_rel=0.0, **settings)


def solved(p: ProblemData):
    sol = solve(p)
    assert sol.status == "optimal", sol.message
    assert check_solution(p, sol) == []
    return sol


def row_of(sol, ref: str) -> pd.Series:
    return sol.contracts.set_index("contract").loc[ref]


# --------------------------------------------------------------------------- schema


def test_old_style_contracts_get_defaults(small_problem):
    ct = small_problem().contracts
    assert list(ct["contract"]) == ["RXA/hip", "RXB/knee"]
    assert ct["supplier"].isna().all() and ct["early_exit"].all()
    assert (ct["notice_months"] == 0).all() and (ct["exit_fee_pct"] == 0).all()
    assert ct["extension_months"].isna().all()
    lines = small_problem().lines
    assert (lines["list_price"] == lines["regional_price"]).all()


def test_empty_optional_cells_take_defaults():
    p = problem([contract(notice_months=None, early_exit=None, extension_months=None, supplier="")])
    row = p.contracts.iloc[0]
    assert row["notice_months"] == 0 and bool(row["early_exit"]) and row["supplier"] is None


@pytest.mark.parametrize(
    ("terms", "column"),
    [
        ({"exit_fee_pct": 1.5}, "exit_fee_pct"),
        ({"notice_months": -1}, "notice_months"),
        ({"extension_months": -3}, "extension_months"),
        ({"extension_months": 2.5}, "extension_months"),
        ({"early_exit": "maybe"}, "early_exit"),
    ],
)
def test_contract_values_are_checked(terms, column):
    with pytest.raises(ProblemDataError) as info:
        problem([contract(**terms)])
    assert (info.value.table, info.value.column) == ("contracts", column)
    assert "RXA" in info.value.key and "C1" in info.value.key


def test_two_contracts_for_one_supplier_are_refused():
    with pytest.raises(ProblemDataError) as info:
        problem([contract(ref="C1", supplier="SUP-B"), contract(ref="C2", supplier="SUP-B")])
    assert (info.value.table, info.value.column) == ("contracts", "supplier")


@pytest.mark.parametrize("cap", [0, -1, 1.5])
def test_capacity_setting_is_checked(cap):
    with pytest.raises(ProblemDataError) as info:
        problem([], max_joins_per_quarter=cap)
    assert info.value.column == "max_joins_per_quarter"


def test_covered_spend_per_contract():
    # RXB hip buys Corvex and Cupola (SUP-A) and Exeter (SUP-B): a SUP-A contract and a catch-all
    p = problem([contract("RXB", ref="A", supplier="SUP-A"), contract("RXB", ref="rest")], list_markup=1.2)
    ct = prepare(p).contracts.set_index("contract")
    assert ct.at["A", "spend"] == pytest.approx((40 * 105.0 + 60 * 215.0) / 12)
    assert ct.at["rest", "spend"] == pytest.approx(20 * 125.0 / 12)
    assert ct.at["A", "list_spend"] == pytest.approx((40 * 100.0 + 60 * 200.0) * 1.2 / 12)


# --------------------------------------------------------------------------- one case per rule


def test_default_terms_keep_todays_objective(small_problem):
    assert solve(small_problem(gap_rel=0.0)).objective == pytest.approx(29820.0, abs=0.01)


def test_no_early_exit_waits_for_the_end():
    free = solved(problem([contract(end_month=9)]))
    assert row_of(free, "C1")["join_month"] == 0  # no fee: leaves at once
    sol = solved(problem([contract(end_month=9, early_exit=False)]))
    row = row_of(sol, "C1")
    assert (row["join_month"], row["reason_code"], row["exit_fee_gbp"]) == (9, "no_early_exit", 0.0)
    assert pd.isna(row["earliest_exit_month"])
    assert sol.objective == pytest.approx(free.objective - 9 * 450.0, abs=0.01)


def test_notice_sets_the_earliest_exit():
    sol = solved(problem([contract(end_month=12, notice_months=4)]))
    row = row_of(sol, "C1")
    assert (row["join_month"], row["reason_code"]) == (6, "notice")  # first grid month from 4
    assert (row["earliest_exit_month"], row["notice_by_month"]) == (4, 2)
    # notice can be served before the start: then leaving at once is allowed
    sol = solved(problem([contract(end_month=12, notice_months=4)], decision_month=-6))
    assert row_of(sol, "C1")["join_month"] == 0


def test_exit_fee_share_of_remaining_value():
    sol = solved(problem([contract(end_month=12, exit_fee=100.0, exit_fee_pct=0.1)]))
    row = row_of(sol, "C1")
    assert row["join_month"] == 0 and row["reason_code"] == "leaves_early"
    assert row["exit_fee_gbp"] == pytest.approx(100.0 + 0.1 * RXA_HIP_MONTHLY_SPEND * 12)
    assert row["monthly_savings_gbp"] == pytest.approx(450.0)
    # a fee share worth more than the months of savings it buys: waits for the end
    sol = solved(problem([contract(end_month=12, exit_fee_pct=0.5)]))
    row = row_of(sol, "C1")
    assert (row["join_month"], row["reason_code"]) == (12, "at_end")


def test_extension_limit_then_list_prices():
    # the catch-all contract cannot end before month 9; SUP-B's ended at -6, extendable 3 months
    rows = [
        contract(ref="B", supplier="SUP-B", end_month=-6, extension_months=3, extension_uplift=0.1),
        contract(ref="rest", end_month=9, early_exit=False),
    ]
    sol = solved(problem(rows, list_markup=1.5))
    row = row_of(sol, "B")
    assert (row["join_month"], row["reason_code"], row["wait_reason"]) == (9, "bridged", "other_contract")
    assert (row["bridging_months"], row["off_contract_months"]) == (0, 9)
    # list 1.5 x regional: Exeter 165 (pays 120), Trident 285 (pays 210), 100 units each
    assert row["off_contract_gbp"] == pytest.approx((45 * 100 + 75 * 100) / 12 * 9)
    causes = sol.savings.groupby("cause")["amount"].sum()
    assert causes["off_contract_costs"] == pytest.approx(-row["off_contract_gbp"])
    assert sol.savings["amount"].sum() == pytest.approx(sol.objective, abs=0.01)
    assert sol.timeline["savings"].sum() == pytest.approx(sol.objective, abs=0.01)


def test_unlimited_extension_bridges_at_the_uplift():
    rows = [
        contract(ref="B", supplier="SUP-B", end_month=0, extension_uplift=0.1),
        contract(ref="rest", end_month=6, early_exit=False),
    ]
    row = row_of(solved(problem(rows, list_markup=1.5)), "B")
    assert (row["bridging_months"], row["off_contract_months"]) == (6, 0)
    assert row["bridging_gbp"] == pytest.approx(0.1 * RXA_HIP_MONTHLY_SPEND * 6)


def test_capacity_spreads_the_joins():
    sol = solved(problem([], max_joins_per_quarter=1))
    months = sol.joins["join_month"].astype(int)
    assert sorted(months // 3) == [0, 1, 2, 3]
    free = solved(problem([]))
    assert sol.objective < free.objective


def test_capacity_reason():
    rows = [contract(end_month=0), contract("RXB", "knee", "K", end_month=0)]
    sol = solved(problem(rows, max_joins_per_quarter=1, range_cap=3))
    codes = sorted(sol.contracts["reason_code"])
    assert "capacity" in codes


def test_contract_ending_after_the_agreement_cannot_join():
    rows = [contract("RXB", "knee", "C-12", supplier="SUP-C", end_month=40, early_exit=False)]
    p = problem(rows)
    assert solve(p).status == "infeasible"
    assert explain_infeasibility(p) == [
        "RXB knee contract C-12 with SUP-C cannot end early and ends in month 40, after the agreement ends in month 36"
    ]
    optional = solved(p.with_settings(participation="optional"))
    assert optional.greedy_objective is not None  # greedy leaves the pair out too
    knee = optional.joins.set_index(["trust", "category"]).loc[("RXB", "knee")]
    assert not knee["joins"]
    assert row_of(optional, "C-12")["reason_code"] == "not_joined"


def test_notice_past_the_end_of_the_grid_is_explained():
    p = problem([contract(end_month=40, notice_months=35)])
    (reason,) = explain_infeasibility(p)
    assert reason.startswith("RXA hip contract C1 can be left only from month 35")
    assert "last join month on the 3-month grid (month 33)" in reason


def test_capacity_conflict_names_the_contracts():
    rows = [
        contract(end_month=33, early_exit=False),
        contract("RXB", "knee", "K", end_month=32, early_exit=False),
    ]
    (reason,) = explain_infeasibility(problem(rows, max_joins_per_quarter=1))
    assert reason.startswith("programme capacity of 1 join in quarter 11 (months 33-35) cannot be met")
    assert "RXA hip contract C1 cannot end early (month 33)" in reason
    assert "RXB knee contract K cannot end early (month 32)" in reason


def test_price_of_contract_terms_and_capacity():
    p = problem([contract(end_month=12, notice_months=4)], max_joins_per_quarter=2)
    prices = price_of_rules(p).set_index("rule")
    assert prices.at["contract_terms", "active"] and prices.at["join_capacity", "active"]
    # without notice RXA hip leaves at once: six more months of 450
    relaxed = solve(p.with_settings(relax=frozenset({"contract_terms", "join_capacity"})))
    assert relaxed.objective == pytest.approx(solve(problem([])).objective, abs=0.01)
    assert prices.at["contract_terms", "price_gbp"] >= 0 and prices.at["join_capacity", "price_gbp"] >= 0


# --------------------------------------------------------------------------- checker


@pytest.fixture(scope="module")
def with_terms():
    rows = [
        contract(ref="B", supplier="SUP-B", end_month=-6, extension_months=3, extension_uplift=0.1),
        contract(ref="rest", end_month=9, early_exit=False),
        contract("RXB", "knee", "K", end_month=12, notice_months=5),
    ]
    p = problem(rows, list_markup=1.5, max_joins_per_quarter=2)
    return p, solved(p)


def _at_month(sol, trust: str, category: str, month: int):
    bad = copy.deepcopy(sol)
    hit = (bad.joins["trust"] == trust) & (bad.joins["category"] == category)
    bad.joins.loc[hit, "join_month"] = month
    bad.joins.loc[hit, "months_on"] = 36 - month
    return bad


def test_checker_catches_an_early_exit_that_is_not_allowed(with_terms):
    p, sol = with_terms
    found = check_solution(p, _at_month(sol, "RXA", "hip", 3))
    assert any(v.startswith("contract terms: RXA hip contract rest cannot end early") for v in found)


def test_checker_catches_missing_notice(with_terms):
    p, sol = with_terms
    found = check_solution(p, _at_month(sol, "RXB", "knee", 3))
    assert any("needs 5 months' notice" in v for v in found)


def test_checker_recomputes_contract_costs(with_terms):
    p, sol = with_terms
    bad = copy.deepcopy(sol)
    bad.contracts.loc[bad.contracts["contract"] == "B", "off_contract_gbp"] = 0.0
    assert any(v.startswith("contracts: off_contract_gbp of RXA hip contract B") for v in check_solution(p, bad))


def test_checker_catches_capacity(with_terms):
    p, sol = with_terms
    found = check_solution(p.with_settings(max_joins_per_quarter=1), sol)
    assert any(v.startswith("join capacity:") for v in found)


# --------------------------------------------------------------------------- monotonicity


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    end=st.integers(-3, 30),
    notice=st.integers(0, 12),
    fee=st.sampled_from([0.0, 1000.0, 5000.0]),
    pct=st.sampled_from([0.0, 0.1, 0.3]),
    ext=st.sampled_from([0, 3, 12]),
    change=st.sampled_from(["notice", "fee", "pct", "extension"]),
)
def test_tighter_terms_never_raise_the_optimum(end, notice, fee, pct, ext, change):
    base = {"end_month": end, "notice_months": notice, "exit_fee": fee, "exit_fee_pct": pct}
    base |= {"extension_months": ext, "extension_uplift": 0.05}
    tighter = dict(base)
    if change == "notice":
        tighter["notice_months"] = notice + 6
    elif change == "fee":
        tighter["exit_fee"] = fee + 4000.0
    elif change == "pct":
        tighter["exit_fee_pct"] = min(1.0, pct + 0.3)
    else:
        tighter["extension_months"] = max(0, ext - 3)
    rows = [contract(ref="B", supplier="SUP-B", **base), contract("RXB", "knee", "K", end_month=6)]
    tight_rows = [contract(ref="B", supplier="SUP-B", **tighter), contract("RXB", "knee", "K", end_month=6)]
    loose = solve(problem(rows, list_markup=1.3), quality=False, explain=False)
    tight = solve(problem(tight_rows, list_markup=1.3), quality=False, explain=False)
    assert loose.status == tight.status == "optimal"
    assert tight.objective <= loose.objective + 0.01
