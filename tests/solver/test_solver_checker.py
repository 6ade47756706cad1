"""The checker passes sound plans and catches deliberately broken ones."""

from __future__ import annotations

import copy

import pandas as pd
import pytest

from solver.checker import check_solution
from solver.solve import solve


@pytest.fixture(scope="module")
def solved():
    from solver_testdata import make_problem, small_frames

    p = make_problem(small_frames(), gap_rel=0.0, min_suppliers=2, max_supplier_share=0.8)
    sol = solve(p, quality=False)
    assert sol.status == "optimal"
    return p, sol


def _broken(sol):
    return copy.deepcopy(sol)


def test_sound_plan_passes(solved):
    p, sol = solved
    assert check_solution(p, sol) == []


def test_unmet_demand(solved):
    p, sol = solved
    bad = _broken(sol)
    bad.allocation = bad.allocation.iloc[1:]
    assert any(v.startswith("demand:") for v in check_solution(p, bad))


def test_tampered_objective(solved):
    p, sol = solved
    bad = _broken(sol)
    bad.objective += 1.0
    found = check_solution(p, bad)
    assert any(v.startswith("objective:") for v in found)
    assert any("causes do not add up" in v for v in found)


def test_discount_without_tier(solved):
    p, sol = solved
    bad = _broken(sol)
    knee = bad.allocation["line"] == "SUP-A:KNEE-TRAY:Genu"
    bad.allocation.loc[knee, "discount"] = 0.05
    assert any(v.startswith("tiers:") for v in check_solution(p, bad))


def test_tier_claimed_without_volume(solved):
    p, sol = solved
    bad = _broken(sol)
    bad.tiers_reached.loc[bad.tiers_reached["offer"] == "SUP-B/knee-vol", ["threshold", "discount"]] = (
        20000.0,
        0.04,
    )
    found = check_solution(p, bad)
    assert any("claims threshold 20000" in v for v in found)


def _with_rows(alloc, rows):
    return pd.concat([alloc, pd.DataFrame(rows)], ignore_index=True)


def test_unapproved_line(solved):
    p, sol = solved
    bad = _broken(sol)
    drop = (bad.allocation["trust"] == "RXA") & (bad.allocation["group"] == "HIP-STEM-CEM")
    bad.allocation = _with_rows(
        bad.allocation[~drop],
        [
            {
                "trust": "RXA",
                "line": "SUP-C:HIP-STEM-CEM:Taper",
                "group": "HIP-STEM-CEM",
                "category": "hip",
                "supplier": "SUP-C",
                "units": 100.0,
                "regional_price": 95.0,
                "discount": 0.0,
                "net_price": 95.0,
                "annual_cost": 9500.0,
                "is_new": True,
            }
        ],
    )
    found = check_solution(p, bad)
    assert any(v.startswith("approvals:") for v in found)


def test_range_caps_exceeded(solved):
    p, sol = solved
    bad = _broken(sol)
    row = (bad.allocation["trust"] == "RXB") & (bad.allocation["group"] == "HIP-STEM-CEM")
    assert row.sum() == 1
    other = bad.allocation[row].iloc[0].to_dict()
    line = "SUP-B:HIP-STEM-CEM:Exeter" if "Exeter" not in other["line"] else ("SUP-A:HIP-STEM-CEM:Corvex")
    bad.allocation.loc[row, "units"] -= 10.0
    other.update(line=line, units=10.0, supplier=line.split(":")[0], discount=0.0)
    bad.allocation = _with_rows(bad.allocation, [other])
    found = check_solution(p.with_settings(trust_range_cap=1), bad)
    assert any(v.startswith("trust range cap:") for v in found)
    found = check_solution(p.with_settings(range_cap=1), bad)
    assert any(v.startswith("range cap:") for v in found)


def test_off_grid_join_month(solved):
    p, sol = solved
    bad = _broken(sol)
    bad.joins.loc[0, "join_month"] = 5
    bad.joins.loc[0, "months_on"] = 31
    found = check_solution(p, bad)
    assert any("off grid" in v for v in found)


def test_max_share_violation(solved):
    p, sol = solved
    tight = p.with_settings(max_supplier_share=0.5)
    assert any(v.startswith("max share:") for v in check_solution(tight, sol))


def test_year_one_violation(solved):
    p, sol = solved
    tight = p.with_settings(year_one_cap=0.0)
    assert sol.allocation["is_new"].any()
    assert any(v.startswith("year-one cap:") for v in check_solution(tight, sol))


def test_missing_join_for_all_participation(solved):
    p, sol = solved
    bad = _broken(sol)
    bad.joins.loc[0, "joins"] = False
    found = check_solution(p, bad)
    assert any(v.startswith("participation:") for v in found)


def test_frames_without_objective(solved):
    p, sol = solved
    bad = _broken(sol)
    bad.objective = None
    assert check_solution(p, bad) == ["frames are filled although the solution has no objective"]
