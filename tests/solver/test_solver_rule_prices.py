"""The price of each rule family: net savings with and without it."""

from __future__ import annotations

import pytest

from solver.problem import RULE_FAMILIES
from solver.rule_prices import price_of_rules


def test_price_of_rules(small_problem):
    p = small_problem(min_suppliers=2, max_supplier_share=0.8, year_one_cap=0.3, gap_rel=0.0)
    prices = price_of_rules(p)
    assert list(prices.columns) == [
        "rule",
        "active",
        "objective_with_rule",
        "objective_without_rule",
        "price_gbp",
        "price_at_most_gbp",
    ]
    # the price found is never above the proven most it can be
    assert (prices["price_gbp"] <= prices["price_at_most_gbp"] + 1.0).all()
    assert list(prices["rule"]) == list(RULE_FAMILIES)
    assert (prices["price_gbp"] >= 0).all()
    assert (prices["objective_without_rule"] >= prices["objective_with_rule"]).all()
    active = prices.set_index("rule")["active"]
    assert not active["range_cap"] and not active["odep"]
    assert active["approvals"] and active["max_share"] and active["year_one_cap"]
    inactive = prices[~prices["active"]]
    assert (inactive["price_gbp"] == 0).all()
    # the share cap binds here: SUP-A would otherwise take all the hip volume
    assert prices.set_index("rule").at["max_share", "price_gbp"] == pytest.approx(1090.0)


def test_price_of_rules_when_infeasible(small_problem):
    p = small_problem(range_cap_by_group={"KNEE-TRAY": 1}, min_suppliers_by_category={"knee": 2})
    prices = price_of_rules(p).set_index("rule")
    assert prices["objective_with_rule"].isna().all()
    assert prices.at["min_suppliers", "objective_without_rule"] > 0
