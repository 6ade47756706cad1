"""One validator for scenario settings: every problem listed at once, at define time.

Options, TOML files, ``scenario copy --set`` and ``sweep --vary`` all go through
``validate_settings``; a refused definition changes nothing in the database. The
property: any settings dict either defines a scenario that runs, or is refused when it
is defined, never an internal error when it runs.
"""

import itertools
import shutil

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli import main
from procurement.db import open_database
from procurement.errors import ProcureError
from procurement.scenarios import (
    RULES,
    KnownNames,
    ScenarioSettings,
    SettingsError,
    SweepError,
    build_grid,
    define_scenario,
    run_scenario,
    validate_settings,
)


def test_every_problem_is_listed_at_once_with_the_allowed_range():
    with pytest.raises(SettingsError) as refused:
        validate_settings({"range_cap": 0, "time_limit": -1, "max_supplier_share": 1.5, "range_kap": 2}, where="x")
    message = str(refused.value)
    assert "4 setting(s) refused" in message
    assert "range_cap: 0 is out of range: allowed >= 1" in message
    assert "time_limit: -1.0 is out of range: allowed > 0" in message
    assert "max_supplier_share: 1.5 is out of range: allowed in (0, 1]" in message
    assert "range_kap: unknown setting" in message
    assert refused.value.exit_code == 2  # a bad value among them


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"range_cap": "two"}, "'two' is text, not a whole number"),
        ({"range_cap": True}, "not a whole number"),
        ({"range_cap": 2.5}, "not a whole number"),
        ({"time_limit": float("nan")}, "not a finite number"),
        ({"min_supplier_share": 0}, "allowed in (0, 1]"),
        ({"year_one_cap": 1.2}, "allowed in [0, 1], or none"),
        ({"trust_range_cap": 0}, "allowed >= 1, or none"),
        ({"odep_floor": "11Z"}, "not an ODEP rating"),
        ({"start_date": "31/02/2027"}, "not a date"),
        ({"trusts": "RXA"}, "not a list of codes"),
        ({"trusts": ["RXA", "RXA"]}, "repeats a code"),
        ({"range_cap_by_group": {"HIP": "one"}}, "not a whole number"),
        ({"range_cap_by_group": {"HIP": 0}}, "HIP = 0 is out of range"),
        ({"solver": "gurobi"}, "not one of highs, cbc"),
        ({"horizon_months": 0}, "allowed 1 to 120"),
        ({"require_approval": "yes"}, "not true or false"),
    ],
)
def test_a_bad_value_is_refused_with_exit_code_2(data, says):
    with pytest.raises(SettingsError, match=".") as refused:
        validate_settings(data)
    assert says in str(refused.value)
    assert refused.value.exit_code == 2


def test_unknown_names_are_refused_with_exit_code_3():
    known = KnownNames(trusts=frozenset({"RXA"}), groups=frozenset({"HIP"}), categories=frozenset({"hip"}))
    with pytest.raises(SettingsError) as refused:
        validate_settings(
            {"trusts": ["RXA", "RZZ"], "range_cap_by_group": {"KNEE": 1}, "min_suppliers_by_category": {"x": 1}},
            known=known,
        )
    assert refused.value.exit_code == 3
    assert "unknown trusts RZZ (known: RXA)" in str(refused.value)
    assert "unknown groups KNEE" in str(refused.value) and "unknown categories x" in str(refused.value)


def test_valid_values_are_read_into_their_types():
    import datetime as dt

    s = validate_settings(
        {"start_date": dt.date(2027, 1, 1), "trusts": ["RXA"], "odep_floor": "none", "year_one_cap": 1, "name": "x"}
    )
    assert s == ScenarioSettings(start_date="2027-01-01", trusts=("RXA",), odep_floor=None, year_one_cap=1.0)


def test_every_setting_has_a_rule_and_a_new_setting_is_checked_from_its_type():
    import dataclasses

    from procurement.scenarios.settings import rule_of

    names = [f.name for f in dataclasses.fields(ScenarioSettings)]
    assert all(rule_of(n) is not None for n in names)
    assert set(RULES) <= set(names)


def test_a_sweep_point_out_of_range_is_refused_before_anything_runs():
    with pytest.raises(SweepError) as refused:
        build_grid("base", ScenarioSettings(), {"range_cap": ["0", "2"], "max_supplier_share": ["1.5"]})
    assert refused.value.exit_code == 2
    assert "range_cap" in str(refused.value) and "max_supplier_share" in str(refused.value)


# --------------------------------------------------------------------------- the CLI


@pytest.fixture
def demo_db(demo_region_db, tmp_path):
    copy = tmp_path / "procure.db"
    shutil.copy(demo_region_db, copy)
    return copy


def _scenarios(url: str) -> list[tuple]:
    engine = open_database(url)
    with engine.connect() as conn:
        from sqlalchemy import text

        rows = conn.execute(text("SELECT name, parameters FROM scenario ORDER BY id")).all()
    engine.dispose()
    return [tuple(r) for r in rows]


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["--range-cap", "0", "--time-limit", "-1", "--max-share", "1.5"], 2, "3 setting(s) refused"),
        (["--range-cap", "two"], 2, "'two' is not a valid integer"),
        (["--trusts", "RXA,RZZ"], 3, "unknown trusts RZZ"),
        (["--odep-floor", "11Z"], 2, "odep_floor"),
    ],
)
def test_define_refuses_bad_options_and_changes_nothing(demo_db, args, code, says):
    url = f"sqlite:///{demo_db}"
    before = _scenarios(url)
    result = CliRunner().invoke(main, ["--db", url, "scenario", "define", "x", *args])
    assert result.exit_code == code, result.output
    assert says in result.output
    assert _scenarios(url) == before


def test_a_toml_file_with_bad_tables_is_refused_whole(demo_db, tmp_path):
    url = f"sqlite:///{demo_db}"
    path = tmp_path / "s.toml"
    path.write_text(
        '[scenarios.ok]\nrange_cap = 2\n[scenarios.a]\nrange_cap = "two"\n[scenarios.b]\ntrusts = ["NOPE"]\n'
    )
    result = CliRunner().invoke(main, ["--db", url, "scenario", "define", "--file", str(path)])
    assert result.exit_code == 2, result.output
    assert "[scenarios.a] range_cap: 'two' is text" in result.output
    assert "[scenarios.b] trusts: unknown trusts NOPE" in result.output
    assert _scenarios(url) == []


# --------------------------------------------------------------------------- the property


def _value(rule, *, with_junk: bool = True) -> st.SearchStrategy:
    junk = st.one_of(st.none(), st.booleans(), st.text(max_size=4), st.integers(-5, 5), st.floats(-2, 2))
    typed = {
        "int": st.integers(-2, 14),
        "float": st.one_of(st.floats(-150, 2), st.sampled_from([float("nan"), float("inf")]), st.integers(-1, 3)),
        "bool": st.booleans(),
        "text": st.sampled_from([*rule.choices, "other"]),
        "date": st.sampled_from(["2027-04-01", "2026-01-15", "2027-13-01", "soon"]),
        "odep": st.sampled_from(["10A", "7A", "3B", "11Z", "none", None]),
        "codes": st.lists(st.sampled_from(["RXA", "RXB", "RXC", "RZZ", ""]), max_size=3),
        "caps": st.dictionaries(st.sampled_from(["HIP-STEM-CEM", "NOPE", "hip"]), st.integers(-1, 3), max_size=2),
    }.get(rule.kind, junk)
    return st.one_of(typed, junk) if with_junk else typed


# Two kinds of dicts: a few settings of the right type (most define a scenario that
# runs), and any settings with any values (most are refused).
FEW_TYPED = st.lists(st.sampled_from(sorted(RULES)), max_size=3, unique=True).flatmap(
    lambda keys: st.fixed_dictionaries({k: _value(RULES[k], with_junk=False) for k in keys})
)
ANYTHING = st.fixed_dictionaries(
    {}, optional={**{name: _value(rule) for name, rule in RULES.items()}, "unknown_setting": st.integers()}
)
SETTINGS_DICTS = st.one_of(FEW_TYPED, FEW_TYPED, ANYTHING)
_names = itertools.count()


@pytest.fixture(scope="module")
def property_engine(tmp_path_factory):
    from procurement.demo import run_demo

    root = tmp_path_factory.mktemp("property")
    run_demo(root, size="S", echo=None, solve=False)
    engine = open_database(f"sqlite:///{root / 'procure.db'}")
    yield engine
    engine.dispose()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=SETTINGS_DICTS)
def test_any_settings_either_define_a_scenario_that_runs_or_are_refused_at_once(property_engine, data):
    name = f"p{next(_names)}"
    data = {**data, "time_limit": 5} if isinstance(data.get("time_limit"), int | float) else data
    try:
        define_scenario(property_engine, name, ScenarioSettings.from_mapping(data, where=name))
    except SettingsError as refused:
        assert refused.exit_code in (2, 3)
        return
    try:
        summary = run_scenario(property_engine, name, quality=False)
    except ProcureError as exc:  # a clear message, never exit 70
        assert exc.exit_code != 70
        return
    assert summary["status"] != "error", summary["message"]
