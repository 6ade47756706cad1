"""Model building: sparse index sets, sanitised unique names, few exact join months."""

from __future__ import annotations

import pytest

from solver.data import join_months, prepare
from solver.model import build_model, rule_instances, safe_labels
from solver.problem import Settings


def test_safe_labels_are_distinct_and_clean():
    labels = safe_labels(["SUP-A", "SUP_A", "SUP A", "a/b:c", ""])
    assert len(set(labels.values())) == 5
    for label in labels.values():
        assert label and "__" not in label
        assert all(ch.isalnum() or ch == "_" for ch in label)


def test_names_are_unique_and_sanitised(small_problem):
    m = build_model(prepare(small_problem(min_suppliers=2, year_one_cap=0.3)))
    names = [c.name for c in m.prob.constraints()]
    assert len(names) == len(set(names))
    assert all(":" not in n and "-" not in n and " " not in n for n in names)
    var_names = [v.name for v in m.prob.variables()]
    assert len(var_names) == len(set(var_names))


def test_variables_only_for_usable_pairs(small_problem, frames):
    c = frames["candidates"]
    c.loc[(c["trust"] == "RXB") & c["line"].str.endswith("Genu"), "odep_ok"] = False
    data = prepare(small_problem(frames))
    m = build_model(data)
    x = m.var["x"]
    assert ("RXA", "SUP-C:HIP-STEM-CEM:Taper") not in x.index  # not approved
    assert ("RXB", "SUP-A:KNEE-TRAY:Genu") not in x.index  # below ODEP floor
    assert len(x) == len(data.pairs) == 12


def test_relax_widens_the_usable_set(small_problem):
    assert len(prepare(small_problem(relax=frozenset({"approvals"}))).pairs) == 14


@pytest.mark.parametrize(
    ("end", "year_one", "expected"),
    [
        (0, False, [0, 33]),
        (-6, False, [0, 33]),
        (7, False, [0, 6, 9, 33]),
        (40, False, [0, 33]),
        (7, True, [0, 3, 6, 9, 12, 33]),
    ],
)
def test_join_months_keep_piece_ends(end, year_one, expected):
    assert join_months(Settings(), end, year_one) == expected


def test_rule_instances_skip_rules_that_cannot_bind(small_problem):
    assert rule_instances(prepare(small_problem())) == [("trust_range_cap", "RXB", "HIP-STEM-CEM")]
    insts = rule_instances(prepare(small_problem(range_cap=1, min_suppliers=2)))
    assert ("range_cap", "HIP-STEM-CEM") in insts and ("min_suppliers", "hip") in insts
