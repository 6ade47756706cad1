"""Scenarios: settings, the problem built from the database, runs, sweeps and comparison.

One module per job, each importing only the ones listed before it:

* :mod:`.settings`: ``ScenarioSettings`` (from TOML or options), ``ScenarioError``,
  the scenario calendar;
* :mod:`.problem`: ``build_problem``, the solver's ``ProblemData`` from the database,
  and ``input_hash``, its fingerprint;
* :mod:`.contracts`: a run's current contracts as dated rows with reasons in words;
* :mod:`.manage`: define, list, diff and delete scenarios; whether a run is stale;
* :mod:`.runs`: run (build -> solve -> store in one transaction) and read back
  scenario runs;
* :mod:`.compare`: the latest runs side by side, and the sensitivity view;
* :mod:`.sweeps`: a grid of scenarios run on worker processes or a Dask cluster.

The public names of these modules are re-exported here: ``from procurement.scenarios
import run_scenario``.
"""

from procurement.scenarios.compare import (
    compare_scenarios,
    sensitivity,
    sensitivity_values,
    value_order,
    varied_setting,
)
from procurement.scenarios.manage import (
    ScenarioExistsError,
    define_from_file,
    define_scenario,
    delete_scenario,
    diff_scenarios,
    get_settings,
    known_names,
    list_scenarios,
    settings_diff,
    staleness,
)
from procurement.scenarios.problem import build_problem, input_hash
from procurement.scenarios.runs import (
    CAUSES,
    latest_run_id,
    price_of_rules,
    run_scenario,
    show_run,
    show_scenario,
)
from procurement.scenarios.settings import (
    ALL_TRUSTS,
    RULES,
    KnownNames,
    ScenarioError,
    ScenarioSettings,
    SettingsError,
    financial_year,
    label,
    load_scenario_file,
    month_offset,
    table_cell,
    validate_settings,
)
from procurement.scenarios.sweeps import (
    MAX_GRID,
    SweepError,
    build_grid,
    copy_scenario,
    parse_vary,
    run_one,
    run_sweep,
    sweep_members,
    sweep_name,
    worker_url,
)

__all__ = [
    "ALL_TRUSTS",
    "CAUSES",
    "RULES",
    "KnownNames",
    "ScenarioExistsError",
    "SettingsError",
    "copy_scenario",
    "delete_scenario",
    "diff_scenarios",
    "known_names",
    "settings_diff",
    "staleness",
    "validate_settings",
    "MAX_GRID",
    "ScenarioError",
    "ScenarioSettings",
    "SweepError",
    "build_grid",
    "build_problem",
    "compare_scenarios",
    "define_from_file",
    "define_scenario",
    "financial_year",
    "get_settings",
    "input_hash",
    "label",
    "latest_run_id",
    "list_scenarios",
    "load_scenario_file",
    "month_offset",
    "parse_vary",
    "price_of_rules",
    "run_one",
    "run_scenario",
    "run_sweep",
    "sensitivity",
    "sensitivity_values",
    "show_run",
    "show_scenario",
    "sweep_members",
    "sweep_name",
    "table_cell",
    "value_order",
    "varied_setting",
    "worker_url",
]
