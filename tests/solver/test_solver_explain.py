"""Infeasibility in words."""

from __future__ import annotations

from solver.explain import explain_infeasibility


def test_feasible_problem_has_no_reasons(small_problem):
    assert explain_infeasibility(small_problem()) == []


def test_no_approved_line(small_problem, frames):
    c = frames["candidates"]
    c.loc[(c["trust"] == "RXB") & c["line"].str.contains("HIP-CUP"), "approved"] = False
    assert explain_infeasibility(small_problem(frames)) == ["HIP-CUP at trust RXB has no approved line"]


def test_no_line_meeting_odep(small_problem, frames):
    c = frames["candidates"]
    c.loc[(c["trust"] == "RXA") & c["line"].str.contains("HIP-STEM-CEM"), "odep_ok"] = False
    assert explain_infeasibility(small_problem(frames)) == [
        "HIP-STEM-CEM at trust RXA has no approved line meeting the ODEP floor"
    ]


def test_no_candidate_line(small_problem, frames):
    c = frames["candidates"]
    frames["candidates"] = c[~((c["trust"] == "RXA") & c["line"].str.contains("KNEE"))]
    assert explain_infeasibility(small_problem(frames)) == ["KNEE-TRAY at trust RXA has no candidate line"]


def test_range_cap_contradicts_min_suppliers(small_problem):
    p = small_problem(range_cap_by_group={"KNEE-TRAY": 1}, min_suppliers_by_category={"knee": 2})
    assert explain_infeasibility(p) == ["range cap 1 for KNEE-TRAY contradicts minimum 2 suppliers for knee"]


def test_too_few_suppliers(small_problem):
    reasons = explain_infeasibility(small_problem(min_suppliers=3))
    assert reasons == ["minimum 3 suppliers for knee cannot be met: only 2 supplier(s) have usable knee lines"]


def test_trust_cap_contradicts_max_share(small_problem):
    # RXA's 80 knee units on one line exceed half of the region's 130
    p = small_problem(trust_range_cap=1, max_supplier_share=0.5)
    assert explain_infeasibility(p) == [
        "per-trust cap of 1 line for KNEE-TRAY at RXA contradicts maximum supplier share 50% in knee"
    ]


def test_conflict_is_irreducible(small_problem):
    p = small_problem(year_one_cap=0.0, horizon_months=12, range_cap=1)
    (reason,) = explain_infeasibility(p)
    assert "year-one cap of 0% on moved units at RXA" in reason
    assert "year-one cap of 0% on moved units at RXB" in reason
    assert reason.endswith("cannot all hold together")


def test_checks_keep_one_join_month_when_no_rule_looks_at_months(small_problem):
    from solver.data import prepare
    from solver.explain import _feasibility_data

    p = small_problem(range_cap_by_group={"KNEE-TRAY": 1}, min_suppliers_by_category={"knee": 2})
    data = prepare(p)
    reduced = _feasibility_data(data)
    assert len(reduced.join_options) == len(data.join_options.drop_duplicates(["trust", "category"]))
    assert len(reduced.join_options) < len(data.join_options)
    # the year-one cap weighs join months: then every month stays
    with_cap = prepare(small_problem(year_one_cap=0.5))
    assert _feasibility_data(with_cap).join_options.equals(with_cap.join_options)


def test_a_spent_time_budget_says_the_conflict_was_not_narrowed(small_problem):
    p = small_problem(range_cap_by_group={"KNEE-TRAY": 1}, min_suppliers_by_category={"knee": 2})
    (reason,) = explain_infeasibility(p, seconds=-1.0)  # no check could run: nothing is claimed
    assert reason.startswith("the rules in conflict could not be found within the time limit")


def test_a_family_with_many_members_in_a_conflict_is_summed_up(small_problem):
    from solver.data import prepare
    from solver.explain import _phrase

    data = prepare(small_problem())
    conflict = [("range_cap", f"G{i}") for i in range(8)] + [("min_suppliers", "knee")]
    phrase = _phrase(data, conflict)
    assert phrase.startswith("range caps on 8 groups contradicts minimum ") and phrase.endswith(" for knee")
