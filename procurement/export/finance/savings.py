"""The Trusts and Categories sheets: savings by cause per scenario and trust (category).

One row per scenario and trust (or category): every cause of savings as a number, the
net total over the horizon as a per-row ``SUM`` of the causes, and the in-year and
full-year figures; on Trusts, the switching costs broken down (new systems, system and
line costs: ``.switching``). Summary's headline and cause figures are ``SUMPRODUCT`` formulas
over the Trusts sheet; its check rows compare Categories (and Years) with it.
"""

import pandas as pd
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from procurement.export.finance.kit import GBP, detail_table
from procurement.export.finance.run_data import RunData
from procurement.export.finance.switching import SWITCHING_COLUMNS, switching_by_trust
from procurement.export.finance.terms import CAUSE_COLUMNS
from procurement.scenarios.runs import CAUSES


def savings_sheet(ws: Worksheet, runs: list[RunData], key: str, key_label: str, names: dict[str, str]) -> dict:
    """Trusts or Categories: per scenario and ``key``, savings by cause, net total, in-year, full-year.

    Returns where the table is (see :func:`.kit.detail_table`).
    """
    parts = []
    for rd in runs:
        per = rd.per_tc.groupby(key, as_index=False)[[*CAUSES, "in_year", "full_year", "baseline", "proposed"]].sum()
        parts.append(per.assign(scenario=rd.name, name=per[key].map(names)))
    data = pd.concat(parts, ignore_index=True)
    extra = []
    if key == "trust":  # the switching-cost cause broken down: new systems, system and line costs
        data = data.merge(switching_by_trust(runs), on=["scenario", "trust"], how="left")
        data = data.fillna({"new_systems": "", "system_costs": 0.0, "line_costs": 0.0})
        extra = SWITCHING_COLUMNS
    first_cause, last_cause = 4, 3 + len(CAUSES)
    columns = [
        ("Scenario", "scenario", None),
        (key_label, key, None),
        (f"{key_label} name", "name", None),
        *CAUSE_COLUMNS,
        ("Net savings over the horizon", None, GBP),
        ("In-year savings (first 12 months)", "in_year", GBP),
        ("Full-year run rate", "full_year", GBP),
        ("Annual spend today (baseline)", "baseline", GBP),
        ("Annual spend on the plan", "proposed", GBP),
        *extra,
    ]
    net = f"=SUM({get_column_letter(first_cause)}{{r}}:{get_column_letter(last_cause)}{{r}})"
    return detail_table(ws, columns, data, freeze="D2", formulas={"Net savings over the horizon": net})
