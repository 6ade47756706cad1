"""Input validation: every error names the table, the row key and the column."""

from __future__ import annotations

import pandas as pd
import pytest

from solver.problem import ProblemData, ProblemDataError, Settings


def _error(small_problem, frames, **settings) -> ProblemDataError:
    with pytest.raises(ProblemDataError) as info:
        small_problem(frames, **settings)
    return info.value


def test_valid_problem_is_normalised(small_problem, frames):
    frames["lines"]["note"] = "extra"
    frames["candidates"]["approved"] = frames["candidates"]["approved"].astype(int)
    p = small_problem(frames)
    assert list(p.lines.columns) == ["line", "supplier", "group", "regional_price", "list_price"]
    assert p.candidates["approved"].dtype == bool
    assert p.contracts["end_month"].dtype == "int64"


def test_optional_tables_may_be_omitted(frames):
    core = {k: frames[k] for k in ("trusts", "groups", "lines", "demand", "current", "candidates")}
    p = ProblemData(**core)
    assert p.offers.empty and list(p.tiers.columns) == ["offer", "threshold", "discount"]


def test_missing_column(small_problem, frames):
    frames["demand"] = frames["demand"].drop(columns="units")
    err = _error(small_problem, frames)
    assert (err.table, err.column) == ("demand", "units")
    assert "missing" in str(err)


def test_duplicate_key_names_row(small_problem, frames):
    frames["demand"] = pd.concat([frames["demand"], frames["demand"].iloc[[0]]])
    err = _error(small_problem, frames)
    assert err.table == "demand"
    assert "RXA" in err.key and "HIP-STEM-CEM" in err.key
    assert "duplicate" in str(err)


def test_unknown_foreign_key(small_problem, frames):
    frames["demand"].loc[0, "group"] = "HIP-NOPE"
    # current no longer matches either, but the foreign key is reported first
    err = _error(small_problem, frames)
    assert (err.table, err.column) == ("demand", "group")
    assert "HIP-NOPE" in str(err) and "groups" in str(err)


def test_non_positive_price(small_problem, frames):
    frames["lines"].loc[2, "regional_price"] = 0
    err = _error(small_problem, frames)
    assert (err.table, err.column) == ("lines", "regional_price")
    assert "SUP-C:HIP-STEM-CEM:Taper" in err.key


def test_not_a_number(small_problem, frames):
    frames["current"]["unit_price"] = frames["current"]["unit_price"].astype(object)
    frames["current"].loc[1, "unit_price"] = "n/a"
    err = _error(small_problem, frames)
    assert (err.table, err.column) == ("current", "unit_price")
    assert "'n/a'" in str(err)


def test_current_units_must_add_up_to_demand(small_problem, frames):
    frames["current"].loc[0, "units"] = 90.0
    err = _error(small_problem, frames)
    assert (err.table, err.column) == ("current", "units")
    assert "RXA" in err.key and "HIP-STEM-CEM" in err.key
    assert "90" in str(err) and "100" in str(err)


def test_tiers_must_increase(small_problem, frames):
    frames["tiers"].loc[1, "threshold"] = 100.0
    err = _error(small_problem, frames)
    assert (err.table, err.column) == ("tiers", "threshold")


def test_discount_range_and_order(small_problem, frames):
    frames["tiers"].loc[1, "discount"] = 0.01
    err = _error(small_problem, frames)
    assert (err.table, err.column) == ("tiers", "discount")
    frames["tiers"].loc[1, "discount"] = 1.0
    assert _error(small_problem, frames).column == "discount"


def test_offer_line_of_another_supplier(small_problem, frames):
    frames["offer_lines"].loc[2, "line"] = "SUP-A:KNEE-TRAY:Genu"
    err = _error(small_problem, frames)
    assert (err.table, err.column) == ("offer_lines", "line")
    assert "another supplier" in str(err)


def test_line_in_two_offers(small_problem, frames):
    frames["offers"].loc[2] = ("SUP-A/other", "SUP-A", "units")
    frames["offer_lines"].loc[3] = ("SUP-A/other", "SUP-A:HIP-CUP:Cupola")
    err = _error(small_problem, frames)
    assert err.table == "offer_lines" and "another offer" in str(err)


def test_contract_category_must_exist(small_problem, frames):
    frames["contracts"].loc[0, "category"] = "spine"
    err = _error(small_problem, frames)
    assert (err.table, err.column) == ("contracts", "category")


def test_bad_basis(small_problem, frames):
    frames["offers"].loc[0, "basis"] = "volume"
    err = _error(small_problem, frames)
    assert (err.table, err.column) == ("offers", "basis")


@pytest.mark.parametrize(
    ("settings", "column"),
    [
        ({"range_cap": 0}, "range_cap"),
        ({"range_cap_by_group": {"NOPE": 2}}, "range_cap_by_group"),
        ({"min_suppliers_by_category": {"spine": 2}}, "min_suppliers_by_category"),
        ({"max_supplier_share": 1.5}, "max_supplier_share"),
        ({"year_one_cap": -0.1}, "year_one_cap"),
        ({"participation": "some"}, "participation"),
        ({"solver": "gurobi"}, "solver"),
        ({"relax": frozenset({"prices"})}, "relax"),
        ({"time_limit": 0}, "time_limit"),
    ],
)
def test_settings_errors(small_problem, settings, column):
    err = _error(small_problem, None, **settings)
    assert (err.table, err.column) == ("settings", column)


def test_with_settings_revalidates(small_problem):
    p = small_problem()
    assert p.with_settings(range_cap=2).settings.range_cap == 2
    with pytest.raises(ProblemDataError):
        p.with_settings(range_cap=0)
    assert Settings(relax={"odep"}).relax == frozenset({"odep"})
