"""The Years sheet: net savings per scenario, trust, category and NHS financial year.

Summary's savings by financial year, and its Years check row, are formulas over it.
"""

import pandas as pd
from openpyxl.worksheet.worksheet import Worksheet

from procurement.export.finance.kit import GBP, detail_table
from procurement.export.finance.run_data import RunData


def years_sheet(ws: Worksheet, runs: list[RunData]) -> dict:
    """Write the Years table; returns where it is (see :func:`.kit.detail_table`)."""
    data = pd.concat([rd.years.assign(scenario=rd.name) for rd in runs], ignore_index=True)
    columns = [
        ("Scenario", "scenario", None),
        ("Trust", "trust", None),
        ("Category", "category", None),
        ("Financial year", "financial_year", None),
        ("Net savings", "amount", GBP),
    ]
    return detail_table(ws, columns, data, freeze="A2")
