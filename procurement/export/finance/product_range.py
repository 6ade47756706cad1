"""The Range sheet: every candidate product line of each scenario, kept, dropped or new.

A line is dropped when the run leaves it out of the regional range, new when some
trust moves onto it that does not use it today, else kept; with the regional and the
current annual units, and how many trusts use it today and in the scenario. Summary
counts the range (every line not dropped) with a formula over this sheet.
"""

import pandas as pd
from openpyxl.worksheet.worksheet import Worksheet

from procurement.export.finance.kit import COUNT, detail_table
from procurement.export.finance.run_data import RunData


def range_sheet(ws: Worksheet, runs: list[RunData]) -> dict:
    """Write the Range table; returns where it is (see :func:`.kit.detail_table`)."""
    data = pd.concat([rd.lines.assign(scenario=rd.name) for rd in runs], ignore_index=True)
    columns = [
        ("Scenario", "scenario", None),
        ("Category", "category", None),
        ("Group", "group", None),
        ("Product line", "line", None),
        ("Supplier", "supplier", None),
        ("Brand", "brand", None),
        ("Status (kept / dropped / new)", "status", None),
        ("Regional units a year", "units", COUNT),
        ("Current units a year (usage)", "current_units", COUNT),
        ("Trusts using it today", "trusts_today", COUNT),
        ("Trusts using it in the scenario", "trusts_on", COUNT),
        ("Trusts new to it", "new_to", COUNT),
    ]
    return detail_table(ws, columns, data, freeze="E2")
