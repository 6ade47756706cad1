"""Comparing scenarios: their latest runs side by side, and the sensitivity view.

``compare_scenarios`` reads each named scenario's latest run (``show_scenario``) and
lays the headline, the savings by cause, trust and category side by side.

The sensitivity view: when compared (or exported) scenarios differ in exactly one
setting, :func:`sensitivity` tabulates net savings (horizon, in-year, full-year)
against that setting's values: the standardisation frontier for ``range_cap``,
savings against the set of participating trusts for ``trusts``. A sweep
(:mod:`procurement.scenarios.sweeps`) makes such a set of scenarios.
"""

import dataclasses
import json
import math
from collections.abc import Mapping

import pandas as pd
from sqlalchemy.engine import Engine

from procurement.scenarios.runs import show_scenario
from procurement.scenarios.settings import ScenarioSettings, table_cell


def compare_scenarios(engine: Engine, names: list[str]) -> dict:
    """Side-by-side headline, causes, trusts and categories of each scenario's latest run.

    ``sensitivity`` (see :func:`sensitivity`): when the runs differ in
    exactly one setting, ``{"setting", "table"}`` of net savings against its values.
    """
    shown = [show_scenario(engine, n) for n in names]
    headline_rows = [
        "status",
        "objective_gbp",
        "in_year_gbp",
        "full_year_gbp",
        "gap",
        "global_gap",
        "global_bound_gbp",
        "lp_bound_gbp",
        "greedy_gbp",
        "range_size",
    ]
    headline = pd.DataFrame({s["scenario"]: [s[k] for k in headline_rows] for s in shown}, index=headline_rows)
    headline.loc["suppliers_kept"] = [len(s["suppliers_kept"]) for s in shown]
    causes = pd.DataFrame({s["scenario"]: pd.Series(s["savings_by_cause"]) for s in shown}).fillna(0.0)
    trusts = pd.DataFrame({s["scenario"]: pd.Series(s["savings_by_trust"], dtype=float) for s in shown})
    categories = pd.DataFrame({s["scenario"]: pd.Series(s["savings_by_category"], dtype=float) for s in shown})
    return {
        "scenarios": shown,
        "headline": headline,
        "by_cause": causes,
        "by_trust": trusts,
        "by_category": categories,
        # When the runs differ in exactly one setting: net savings against its values, else None.
        "sensitivity": sensitivity(shown),
    }


# --------------------------------------------------------------------------- the sensitivity view


def _full(settings: Mapping) -> dict:
    """A run's settings with the defaults filled in (older runs may lack newer settings)."""
    return {**dataclasses.asdict(ScenarioSettings()), **dict(settings or {})}


def varied_setting(settings: list[Mapping]) -> str | None:
    """The one setting in which ``settings`` differ, or None (fewer than two, none or several)."""
    if len(settings) < 2:
        return None
    full = [_full(s) for s in settings]
    keys = sorted({k for s in full for k in s})
    differ = [k for k in keys if len({json.dumps(s.get(k), sort_keys=True) for s in full}) > 1]
    return differ[0] if len(differ) == 1 else None


def value_order(values: list) -> list[int]:
    """Positions of ``values`` in sensitivity order: numbers ascending (none, i.e. no limit, last);
    lists by size, then by name; anything else as given."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return sorted(range(len(values)), key=lambda i: (values[i] is None, values[i] or 0))
    if present and all(isinstance(v, list | tuple) for v in present):
        return sorted(range(len(values)), key=lambda i: (len(values[i] or ()) or math.inf, list(values[i] or ())))
    return list(range(len(values)))


def sensitivity_values(settings: list[Mapping]) -> tuple[str, list, list[int]] | None:
    """(setting, each scenario's value, sensitivity order) when ``settings`` differ in one setting."""
    key = varied_setting(settings)
    if key is None:
        return None
    values = [_full(s)[key] for s in settings]
    return key, values, value_order(values)


def sensitivity(shown: list[dict]) -> dict | None:
    """Net savings against the one setting in which the compared runs differ, or None.

    ``shown`` is ``compare_scenarios(...)["scenarios"]`` (``show_run`` summaries). The
    table has the setting's value, the scenario, the status, net savings over the
    horizon, in-year and full-year, the change in net savings from the row above, the
    size of the regional range and the suppliers kept; for ``trusts`` also how many
    trusts take part.
    """
    found = sensitivity_values([s.get("settings") or {} for s in shown])
    if found is None:
        return None
    key, values, order = found
    rows = []
    for i in order:
        s = shown[i]
        row = {
            key: table_cell(values[i]),
            "scenario": s["scenario"],
            "status": s["status"],
            "net_savings_gbp": s["objective_gbp"],
            "in_year_gbp": s["in_year_gbp"],
            "full_year_gbp": s["full_year_gbp"],
        }
        if key == "trusts":
            row["trusts_taking_part"] = len(values[i]) or len(s.get("savings_by_trust") or {})
        row["range_size"] = s["range_size"]
        row["suppliers"] = len(s.get("suppliers_kept") or [])
        rows.append(row)
    table = pd.DataFrame(rows)
    net = pd.to_numeric(table["net_savings_gbp"], errors="coerce")
    table.insert(table.columns.get_loc("full_year_gbp") + 1, "change_in_net_gbp", net.diff())
    return {"setting": key, "table": table}


__all__ = [
    "compare_scenarios",
    "sensitivity",
    "sensitivity_values",
    "value_order",
    "varied_setting",
]
