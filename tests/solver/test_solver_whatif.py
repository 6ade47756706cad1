"""Price to win on small instances: just below it the line enters the optimal range,
just above it it does not (checked by independent re-solves through ``solve``)."""

from __future__ import annotations

import pytest

from solver.solve import solve
from solver.whatif import carries, price_to_win, why_unusable, with_line_price


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
