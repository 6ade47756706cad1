"""Scenario settings: checked on definition, read from TOML; the scenario calendar."""

import datetime as dt

import pytest

from procurement.scenarios.settings import (
    ScenarioError,
    ScenarioSettings,
    financial_year,
    load_scenario_file,
    month_offset,
)


def test_scenario_settings_are_checked(tmp_path):
    with pytest.raises(ScenarioError, match="unknown setting"):
        ScenarioSettings.from_mapping({"range_kap": 2})
    with pytest.raises(ScenarioError, match="odep_floor"):
        ScenarioSettings.from_mapping({"odep_floor": "11Z"})
    with pytest.raises(ScenarioError, match="start_date"):
        ScenarioSettings.from_mapping({"start_date": "31/02/2027"})
    path = tmp_path / "scenarios.toml"
    path.write_text('[scenarios.four]\ntrusts = ["RXA", "RXB"]\nrange_cap = 2\nstart_date = 2027-04-01\n')
    loaded = load_scenario_file(path)
    assert loaded["four"].trusts == ("RXA", "RXB") and loaded["four"].range_cap == 2
    assert loaded["four"].start_date == "2027-04-01"


def test_financial_years_and_month_offsets():
    start = dt.date(2027, 4, 1)
    assert financial_year(start, 0) == "2027/28"
    assert financial_year(start, 11) == "2027/28"
    assert financial_year(start, 12) == "2028/29"
    assert financial_year(dt.date(2027, 1, 1), 2) == "2026/27"
    assert financial_year(dt.date(2027, 1, 1), 3) == "2027/28"
    assert month_offset(start, dt.date(2027, 4, 1)) == 0
    assert month_offset(start, dt.date(2027, 9, 30)) == 6  # ends mid-month: free from October
    assert month_offset(start, dt.date(2026, 10, 1)) == -6


def test_decision_date_defaults_to_six_months_before_the_start_or_today(tmp_path):
    settings = ScenarioSettings(start_date="2027-04-01")
    assert settings.decision(today=dt.date(2026, 1, 15)) == dt.date(2026, 10, 1)
    assert settings.decision(today=dt.date(2026, 12, 4)) == dt.date(2026, 12, 4)  # later: today
    pinned = ScenarioSettings(start_date="2027-04-01", decision_date="2026-07-01")
    assert pinned.decision(today=dt.date(2026, 12, 4)) == dt.date(2026, 7, 1)
    assert settings.common_end() == dt.date(2030, 3, 31)
    with pytest.raises(ScenarioError, match="decision_date"):
        ScenarioSettings.from_mapping({"decision_date": "soon"})
    for bad in (0, 1.5, True):
        with pytest.raises(ScenarioError, match="max_joins_per_quarter"):
            ScenarioSettings.from_mapping({"max_joins_per_quarter": bad})
    path = tmp_path / "s.toml"
    path.write_text("[scenarios.capped]\ndecision_date = 2026-09-01\nmax_joins_per_quarter = 3\n")
    capped = load_scenario_file(path)["capped"]
    assert capped.decision_date == "2026-09-01" and capped.max_joins_per_quarter == 3
    assert ScenarioSettings().max_joins_per_quarter is None
