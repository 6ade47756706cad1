"""Current contracts in a run: the solver's per-contract figures as dated rows, with reasons in words.

``contract_rows`` joins the solver's ``Solution.contracts`` (months from the start,
reason codes) with the register terms the problem was built from (reference, end
date, terms) and turns months into dates: ``join_date`` is the first day of the join
month, ``notice_by`` the first day of the last month notice can be served for that
join (``min(join, end) - notice``). ``reason`` says why the contract's volume moves
then, in words a procurement lead reads ("cannot end early: waits for 31 Mar 2028",
"exit fee £120,000 below 5 months of savings: leaves early"). The reason is the
solver's rule of thumb read from the chosen plan, not a proof of cause.
"""

import datetime as dt
import math

import numpy as np
import pandas as pd

from procurement import textformat as fmt
from procurement.scenarios.settings import add_months

CONTRACT_TERMS = ["notice_months", "early_exit", "exit_fee", "exit_fee_pct", "extension_months", "extension_uplift"]
"""The terms of a register contract as the solver's ``contracts`` table carries them (percentages as shares)."""

WAIT_WORDS = {
    "other_contract": "waits for the trust's other contract in the category",
    "capacity": "waits for programme capacity (max joins a quarter)",
    "year_one_cap": "waits under the year-one cap on new lines",
    "savings": "waiting saves more",
}


def day(value: dt.date) -> str:
    """``31 Mar 2028``."""
    return f"{value.day} {value:%b %Y}"


def month(value: dt.date) -> str:
    """``Jul 2027``."""
    return f"{value:%b %Y}"


def months(n: int) -> str:
    """``1 month``, ``5 months``."""
    return f"{n} month" + ("" if n == 1 else "s")


def reason_words(row: dict) -> str:
    """One contract's reason in words, from its ``reason_code``, ``wait_reason`` and figures.

    ``row`` holds the columns of :func:`contract_rows` (dates as dates).
    """
    code, end, join = row["reason_code"], row["current_end"], row["join_date"]
    wait = WAIT_WORDS.get(row["wait_reason"] or "", "")
    fee = row["exit_fee_gbp"]
    if code == "not_joined":
        return "stays on its current contract: the trust does not join this category"
    if code == "no_early_exit":
        return f"cannot end early: waits for {day(end)}"
    if code == "notice":
        text = f"notice of {months(row['notice_months'])} from the decision date: leaves at the earliest, {month(join)}"
        return text + (f", paying an exit fee of {fmt.money(fee)}" if fee > 0.005 else "")
    if code == "leaves_early":
        months_early = max(int(row["end_month"]) - int(row["join_month"]), 0)
        saved = row["monthly_savings_gbp"] * months_early
        if fee <= 0.005:
            text = f"no exit fee: leaves early, {months(months_early)} before its end"
        elif fee <= saved:
            text = f"exit fee {fmt.money(fee)} below {months(months_early)} of savings: leaves early"
        else:  # the category's own savings do not pay for it: the region's plan does (tiers, range)
            text = (
                f"exit fee {fmt.money(fee)} above its {months(months_early)} of savings ({fmt.money(saved)}):"
                " leaves early for the region's plan"
            )
        return text + (f"; {wait}" if wait else "")
    if code == "at_end" and row["end_month"] <= 0:
        return f"ended {day(end)}, before the agreement starts: joins {month(join)}" + (f"; {wait}" if wait else "")
    if code == "at_end":
        return f"joins when it ends ({day(end)})" + (f"; {wait}" if wait else "")
    if code == "capacity":
        return f"programme capacity: an earlier quarter was full, joins {month(join)}"
    # bridged: ends before the join, extended, then possibly off contract
    parts = [f"ends {day(end)}"]
    if row["bridging_months"]:
        parts.append(f"extended {months(row['bridging_months'])} at +{row['extension_uplift_pct']:g}%")
    if row["off_contract_months"]:
        parts.append(f"{months(row['off_contract_months'])} off contract at list prices")
    return ", ".join(parts) + f"; joins {month(join)}" + (f": {wait}" if wait else "")


def _date_of(start: dt.date, months: pd.Series) -> list[dt.date | None]:
    return [None if pd.isna(m) else add_months(start, int(m)) for m in months]


def contract_rows(solved: pd.DataFrame, register: pd.DataFrame, start: dt.date) -> pd.DataFrame:
    """The solver's per-contract frame with the register's terms, dates and reasons.

    ``solved``: ``Solution.contracts``; ``register``: the problem's contracts
    (``build_problem``'s ``context["contracts"]``: solver columns plus ``reference`` and
    ``end``). Returns one row per contract: trust, category, supplier, reference,
    current_end, the terms (notice_months, early_exit, exit_fee, exit_fee_pct as
    percent, extension_months, extension_uplift_pct), the solver's month figures,
    join_date, notice_by, the costs, reason_code, wait_reason, reason.
    """
    if solved.empty:
        return pd.DataFrame()
    terms = register.rename(columns={"end": "current_end"})[
        ["trust", "category", "contract", "reference", "current_end", *CONTRACT_TERMS]
    ]
    rows = solved.merge(terms, on=["trust", "category", "contract"], how="left")
    rows["exit_fee_pct"] = rows["exit_fee_pct"] * 100.0
    rows["extension_uplift_pct"] = rows["extension_uplift"] * 100.0
    rows["join_date"] = _date_of(start, rows["join_month"])
    rows["notice_by"] = _date_of(start, rows["notice_by_month"])
    rows["wait_reason"] = rows["wait_reason"].astype(object).where(rows["wait_reason"].notna(), None)
    rows["reason"] = [reason_words(r) for r in rows.to_dict("records")]  # a few hundred contracts at most
    return rows.drop(columns=["extension_uplift"])


def recomputed_costs(rows: pd.DataFrame) -> pd.DataFrame:
    """Exit fee, bridging and off-contract months of each joined contract, from its terms alone.

    The rules (the solver's, restated for re-checking a stored run): joining at month
    m before the contract's end e costs ``exit_fee + exit_fee_pct/100 * monthly_spend *
    (e - m)``; joining at or after e bridges months ``[max(e, 0), min(m, e + ext))`` and
    buys off contract for ``[max(e + ext, 0), m)``. Returns exit_fee_gbp,
    bridging_months, off_contract_months on ``rows``' index.
    """
    m = rows["join_month"].astype(float).to_numpy()
    end = rows["end_month"].astype(float).to_numpy()
    ext = rows["extension_months"].astype(float).fillna(math.inf).to_numpy()
    early = m < end
    fee = np.where(early, rows["exit_fee"] + rows["exit_fee_pct"] / 100.0 * rows["monthly_spend_gbp"] * (end - m), 0.0)
    bridged = np.clip(np.minimum(m, end + ext) - np.maximum(end, 0.0), 0.0, None)
    off = np.clip(m - np.maximum(end + ext, 0.0), 0.0, None)
    return pd.DataFrame({"exit_fee_gbp": fee, "bridging_months": bridged, "off_contract_months": off}, index=rows.index)


__all__ = ["WAIT_WORDS", "contract_rows", "day", "month", "months", "reason_words", "recomputed_costs"]
