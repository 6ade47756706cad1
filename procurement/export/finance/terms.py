"""The finance workbook's words: savings causes, the baseline, scenario settings.

What each cause of savings means and how it is labelled, the baseline the savings are
measured against, and every scenario setting's label and cell value (Assumptions and
Sensitivity show the settings; Summary, Trusts, Categories and Sensitivity the causes).
"""

import datetime as dt

from procurement.export.finance.kit import DATE, GBP, PERCENT_SHORT
from procurement.scenarios.runs import CAUSES

CAUSE_LABELS = {
    "price_harmonisation": "Price harmonisation",
    "volume_tiers": "Volume tiers",
    "standardisation": "Standardisation",
    "switching_costs": "Less: switching costs",
    "exit_fees": "Less: exit fees",
    "bridging_costs": "Less: bridging costs",
    "off_contract_costs": "Less: off-contract costs",
}
CAUSE_DEFINITIONS = {
    "price_harmonisation": (
        "Each trust buys the products it uses today at the region's price for them (by default the lowest "
        "price any participating trust pays for each SKU) instead of the price it pays now; for the months "
        "it is on the regional agreement."
    ),
    "volume_tiers": (
        "Supplier discounts unlocked when the region's aggregated volume or spend reaches a tier of an offer "
        "(all-units: the discount applies to every unit in the offer's scope)."
    ),
    "standardisation": (
        "Moving demand onto the regional range: today's products at regional prices minus the chosen range "
        "at regional list prices (before tier discounts). Negative when the range costs more per unit but "
        "unlocks larger tier discounts."
    ),
    "switching_costs": (
        "One-off cost of moving a trust onto a supplier's system or product line it does not use today "
        "(instrument sets, training, consignment stock): a system cost once per new system per trust, line "
        "costs per new line, else the scenario's cost per new line; in the month the trust joins (shown negative)."
    ),
    "exit_fees": "Fees paid to leave a current contract before its end date (shown negative).",
    "bridging_costs": (
        "Uplift paid to extend a contract that ends before the trust joins the regional agreement, for the "
        "months in between, up to the contract's extension limit (shown negative)."
    ),
    "off_contract_costs": (
        "Once a contract and its extension have run out before the trust joins, the trust buys off contract "
        "at the supplier's catalogue (list) prices: the difference to what it paid, for those months "
        "(shown negative)."
    ),
}
# A cause as a table column: (header label, data column, number format).
CAUSE_COLUMNS = [(CAUSE_LABELS[c].replace("Less: ", "").capitalize(), c, GBP) for c in CAUSES]

BASELINE = (
    "Each trust continues as today on its own contracts and at the prices it actually paid, annualised from "
    "its usage (quantities and spend scaled to 12 months from the months the usage covers)."
)

SETTING_LABELS = {
    "trusts": "Participating trusts",
    "start_date": "Start of the regional agreement",
    "horizon_months": "Horizon (months)",
    "join_grid_months": "Join-date grid (months)",
    "range_cap": "Max product lines per group (region)",
    "range_cap_by_group": "Max product lines, per group",
    "trust_range_cap": "Max product lines per group (each trust)",
    "odep_floor": "Minimum ODEP rating (hips, knees)",
    "min_suppliers": "Min suppliers per category",
    "min_suppliers_by_category": "Min suppliers, per category",
    "min_supplier_share": "Min share of a kept supplier",
    "max_supplier_share": "Max share per supplier",
    "year_one_cap": "Max share of units moved in year one",
    "switching_cost": "Switching cost per new line per trust",
    "participation": "Participation (all / optional)",
    "regional_price": "Regional price basis",
    "price_change_pct": "Price change sensitivity (%)",
    "require_approval": "Only clinically approved lines",
    "solver": "Solver",
    "time_limit": "Solver time limit (s)",
    "gap_rel": "Optimality gap to stop at",
    "decision_date": "Decision date (notice can be served from)",
    "max_joins_per_quarter": "Max (trust, category) joins per quarter",
}


def setting_value(key: str, value: object) -> tuple[object, str | None]:
    """A stored setting as (cell value, number format or None): words for none, yes/no and lists."""
    if value is None:
        return "none", None
    if isinstance(value, bool):
        return ("yes" if value else "no"), None
    if isinstance(value, list | tuple):
        return (", ".join(str(v) for v in value) or "all trusts with usage"), None
    if isinstance(value, dict):
        return (", ".join(f"{k}={v}" for k, v in sorted(value.items())) or "none"), None
    if key in ("start_date", "decision_date"):
        return dt.date.fromisoformat(str(value)), DATE
    if key in ("min_supplier_share", "max_supplier_share", "year_one_cap"):
        return value, PERCENT_SHORT
    if key == "gap_rel":
        return value, "0.00%"
    if key == "switching_cost":
        return value, GBP
    return value, None
