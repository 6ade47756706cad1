"""Switching costs on the finance workbook: per scenario and trust, what the plan pays and for what.

The Trusts sheet's ``switching_costs`` cause is the total; the columns written from
here break it down: the new systems a trust takes on (supplier and category), the
system costs (instrument sets, training, consignment stock shared by a system's
lines, paid once per new system) and the line costs (per new line: line-level rows
and the scenario's default where no row applies). Shown negative, like every cost:
system plus line costs equal the cause.
"""

import pandas as pd

from procurement.export.finance.kit import GBP
from procurement.export.finance.run_data import RunData

SWITCHING_RULE = (
    "One-off costs from the imported switching-costs file (procure import switching-costs): a trust pays a "
    "supplier's system cost (instrument sets, training, consignment stock shared by its lines in a category) once "
    "when it starts to use a line of a system it does not use today, nothing to add lines of a system it already "
    "uses, plus any line-level cost for each new line. Where no row applies to a (trust, line), the scenario's "
    "switching cost per new line applies. Paid in the month the trust joins."
)

SWITCHING_COLUMNS = [
    ("New systems (supplier category)", "new_systems", None),
    ("Switching: system costs", "system_costs", GBP),
    ("Switching: line costs", "line_costs", GBP),
]


def switching_by_trust(runs: list[RunData]) -> pd.DataFrame:
    """scenario, trust, new_systems (text), system_costs, line_costs (both <= 0)."""
    parts = []
    for rd in runs:
        paid = rd.switching
        if paid.empty:
            continue
        is_system = paid["line"].isna()
        cost = -paid["cost_gbp"].astype(float)
        per = (
            pd.DataFrame(
                {
                    "trust": paid["trust"],
                    "system_costs": cost.where(is_system, 0.0),
                    "line_costs": cost.where(~is_system, 0.0),
                }
            )
            .groupby("trust", as_index=False)[["system_costs", "line_costs"]]
            .sum()
        )
        systems = paid[is_system].drop_duplicates(["trust", "supplier", "category"])
        names = (systems["supplier"] + " " + systems["category"]).groupby(systems["trust"]).agg("; ".join)
        parts.append(per.assign(scenario=rd.name, new_systems=per["trust"].map(names).fillna("")))
    if not parts:
        return pd.DataFrame(columns=["scenario", "trust", "new_systems", "system_costs", "line_costs"])
    return pd.concat(parts, ignore_index=True)
