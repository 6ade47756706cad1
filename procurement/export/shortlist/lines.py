"""The shortlist's rows: every candidate product line, with what the clinicians are shown.

Candidates are the product lines with an orderable (active) SKU. Per line: supplier,
brand, ODEP rating (its own, else its weakest SKU's), price band, use today, whether
choosing it needs a new instrument set (its supplier's system is new to the trust), the
decision in force (the trust's own, else the regional panel's) and, given a scenario,
whether its latest run keeps the line.

Price band: a line's regional price is the scenarios' default (``best_paid``: its
regional SKU mix at the lowest price any trust pays for each SKU, else its mean
catalogue price); within its group the cheapest third of the lines is "£", the middle
third "££" and the dearest third "£££". No price itself is shown: one trust's prices
are not disclosed to another's clinicians.
"""

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlmodel import Session, col

from procurement.approvals import latest_decisions
from procurement.demand import best_paid_by_line, usage_by_line
from procurement.errors import ProcureError, UnknownReferenceError
from procurement.importers import REGIONAL_PANEL
from procurement.models import (
    Approval,
    CatalogueItem,
    Category,
    ClinicalRating,
    RunAllocation,
    RunLine,
    Scenario,
    ScenarioRun,
    Supplier,
    Trust,
)
from procurement.reference import catalogue_prices, frame, groups_frame, lines_frame, trusts_by_code

BANDS = np.array(["£", "££", "£££"])


def resolve_trust(session: Session, trust: str) -> Trust | None:
    """The trust of code ``trust``; None for REGIONAL (the regional clinical panel)."""
    code = trust.strip().upper()
    if code == REGIONAL_PANEL:
        return None
    row = session.scalars(select(Trust).where(col(Trust.code) == code)).first()
    if row is None:
        known = ", ".join(sorted(trusts_by_code(session))) or "none imported"
        raise UnknownReferenceError(f"unknown trust {trust!r} (known: {known}; or {REGIONAL_PANEL} for the panel)")
    return row


def latest_solved_run(session: Session, name: str) -> tuple[Scenario, ScenarioRun]:
    from procurement.scenarios.manage import get_settings
    from procurement.scenarios.runs import latest_run_id

    scenario, _ = get_settings(session, name)
    run = session.get_one(ScenarioRun, latest_run_id(session, name))
    if run.objective is None:
        raise ProcureError(
            f"the latest run of scenario {name!r} (#{run.id}) found no solution ({run.status}): "
            "fix and run it again, or export without --scenario"
        )
    return scenario, run


def _regional_price(session: Session, lines: pd.DataFrame, usage: pd.DataFrame) -> pd.Series:
    """Regional price per line_id, as scenarios price it by default (``best_paid``)."""
    catalogue = catalogue_prices(session)
    if len(usage):
        best = best_paid_by_line(usage)
        best_by_id = lines.set_index("line")["line_id"].reindex(best.index)
        best = pd.Series(best.to_numpy(), index=best_by_id.to_numpy())
    else:
        best = pd.Series(dtype=float)
    price = lines["line_id"].map(best)
    return price.fillna(lines["line_id"].map(catalogue)).set_axis(lines["line_id"].to_numpy())


def _price_bands(lines: pd.DataFrame) -> pd.Series:
    """'£' / '££' / '£££': the tercile of a line's price rank within its group."""
    price = lines["price"]
    rank = price.groupby(lines["group"]).rank(method="min") - 1
    n = price.notna().groupby(lines["group"]).transform("sum")
    index = np.floor(3 * rank / (n - 1).clip(lower=1)).clip(upper=2)
    bands = pd.Series(BANDS[index.fillna(0).astype(int).to_numpy()], index=lines.index, dtype=object)
    bands[n <= 1] = "only line"
    bands[price.isna()] = "not priced"
    return bands


def _odep_labels(session: Session, lines: pd.DataFrame) -> pd.Series:
    """A line's ODEP rating as scenarios judge it: its own rating, else its weakest SKU's."""
    ratings = frame(
        session,
        select(
            col(ClinicalRating.product_line_id).label("line_id"),
            col(ClinicalRating.item_id),
            col(ClinicalRating.rank),
            col(ClinicalRating.rating),
        ),
    )
    labels = pd.Series("unrated", index=lines.index, dtype=object)
    if len(ratings):
        own = ratings[ratings["item_id"].isna()].sort_values("rank").drop_duplicates("line_id", keep="last")
        weakest = ratings.sort_values("rank").drop_duplicates("line_id", keep="first")
        label = own.set_index("line_id")["rating"].combine_first(weakest.set_index("line_id")["rating"])
        labels = lines["line_id"].map(label).fillna("unrated").astype(object)
    labels[~lines["odep_applies"].astype(bool)] = "n/a"
    return labels


def _decisions_in_force(session: Session, lines: pd.DataFrame, trust: Trust | None) -> pd.DataFrame:
    """decision, by, on per line: the trust's latest decision, else the regional panel's.

    "Latest" as everywhere else (:func:`procurement.approvals.latest_decisions`): by the
    decision's date, but never later than when it was recorded, so the workbook names the
    decision the optimiser applies."""
    approvals = frame(
        session,
        select(
            col(Approval.id),
            col(Approval.trust_id),
            col(Approval.product_line_id).label("line_id"),
            col(Approval.decision),
            col(Approval.clinician),
            col(Approval.decided_at),
            col(Approval.recorded_at),
        ),
    )
    out = pd.DataFrame({"decision": "none yet", "by": None, "on": None}, index=lines.index, dtype=object)
    if approvals.empty:
        return out
    approvals["trust_id"] = approvals["trust_id"].astype("Int64")
    latest = latest_decisions(approvals, ["trust_id", "line_id"])
    latest = latest.assign(on=pd.to_datetime(latest["decided_at"], utc=True).dt.date)
    panel = latest[latest["trust_id"].isna()].set_index("line_id")
    sources = [(panel, "regional panel" if trust is not None else "")]
    if trust is not None:
        own = latest[latest["trust_id"] == trust.id].set_index("line_id")
        sources.insert(0, (own, trust.code))
    for decided, label in reversed(sources):  # the trust's own decision is applied last: it wins
        hit = lines["line_id"].isin(decided.index)
        ids = lines.loc[hit, "line_id"]
        suffix = f" ({label})" if label else ""
        out.loc[hit, "decision"] = (decided.loc[ids, "decision"] + suffix).to_numpy()
        out.loc[hit, "by"] = decided.loc[ids, "clinician"].to_numpy()
        out.loc[hit, "on"] = decided.loc[ids, "on"].to_numpy()
    return out


def _scenario_status(session: Session, lines: pd.DataFrame, run_id: int, trust: Trust | None) -> pd.Series:
    kept = frame(session, select(col(RunLine.line_id), col(RunLine.kept)).where(col(RunLine.run_id) == run_id))
    kept = kept.set_index("line_id")["kept"].astype(bool)
    status = pd.Series("not assessed", index=lines.index, dtype=object)
    in_run = lines["line_id"].isin(kept.index)
    is_kept = lines["line_id"].map(kept).fillna(False).astype(bool)
    status[in_run & ~is_kept] = "dropped"
    if trust is None:
        status[is_kept] = "kept"
        return status
    allocated = frame(
        session,
        select(col(RunAllocation.line_id), col(RunAllocation.units)).where(
            col(RunAllocation.run_id) == run_id, col(RunAllocation.trust_id) == trust.id
        ),
    )
    here = set(allocated.loc[allocated["units"] > 1e-6, "line_id"])
    status[is_kept] = "kept: other trusts"
    status[is_kept & lines["line_id"].isin(here)] = "kept: used here"
    return status


def _new_instrument_set(lines: pd.DataFrame, usage: pd.DataFrame, trust: Trust | None) -> pd.Series:
    """Whether choosing a line needs a new instrument set: its supplier's system is new to the trust.

    A trust holds a system (a supplier in a category: the instrument sets, training and
    stock its lines share) when it uses any of its lines today; choosing a line of a
    held system adds no set (the switching-cost rule of ``procurement.scenarios.switching``).
    For the regional panel: at how many of the trusts with usage the system is new.
    """
    by_line = lines.set_index("line")[["supplier", "category"]]
    used = usage[["trust", "line"]].drop_duplicates()
    used = used[used["line"].isin(by_line.index)]
    held = pd.DataFrame(
        {"trust": used["trust"].to_numpy(), **{c: by_line.loc[used["line"], c].to_numpy() for c in by_line}}
    ).drop_duplicates()
    system = lines["supplier"] + " " + lines["category"]
    if trust is None:
        n_trusts = usage["trust"].nunique()
        holders = held.groupby(["supplier", "category"])["trust"].nunique()
        have = pd.Series(
            holders.reindex(pd.MultiIndex.from_frame(lines[["supplier", "category"]])).fillna(0).to_numpy(),
            index=lines.index,
        ).astype(int)
        return (n_trusts - have).map(lambda n: f"new at {n} of {n_trusts} trusts" if n else "no: in use at every trust")
    mine = held[held["trust"] == trust.code]
    holds = pd.MultiIndex.from_frame(lines[["supplier", "category"]]).isin(
        pd.MultiIndex.from_frame(mine[["supplier", "category"]])
    )
    return pd.Series(
        np.where(holds, "no: " + system + " in use here", "yes: new " + system + " system"), index=lines.index
    ).astype(object)


def shortlist_lines(session: Session, trust: Trust | None, run_id: int | None = None) -> pd.DataFrame:
    """One row per candidate line, in workbook order, with every value the workbook shows.

    Candidates: every product line with at least one active (orderable) SKU.
    """
    lines = lines_frame(session)
    active = set(session.scalars(select(col(CatalogueItem.product_line_id)).where(col(CatalogueItem.active).is_(True))))
    lines = lines[lines["line_id"].isin(active)].copy()
    if lines.empty:
        raise ProcureError("no product lines with an active SKU: import the suppliers' catalogues first")
    suppliers = frame(session, select(col(Supplier.id).label("supplier_id"), col(Supplier.name).label("supplier_name")))
    categories = frame(
        session,
        select(
            col(Category.id).label("category_id"),
            col(Category.code).label("category"),
            col(Category.name).label("category_name"),
            col(Category.odep_applies),
        ),
    )
    groups = groups_frame(session)[["group_id", "group_name"]]
    lines = lines.merge(suppliers, on="supplier_id").merge(categories, on="category").merge(groups, on="group_id")

    usage = usage_by_line(session)
    lines["price"] = lines["line_id"].map(_regional_price(session, lines, usage)).to_numpy()
    lines["band"] = _price_bands(lines)
    lines["odep"] = _odep_labels(session, lines)
    if trust is None:
        users = usage.groupby("line")["trust"].nunique()
        n_trusts = usage["trust"].nunique()
        lines["used"] = lines["line"].map(users).fillna(0).astype(int).map(lambda n: f"{n} of {n_trusts}")
        lines["units"] = lines["line"].map(usage.groupby("line")["units_per_year"].sum()).fillna(0.0)
    else:
        mine = usage[usage["trust"] == trust.code].set_index("line")["units_per_year"]
        lines["used"] = np.where(lines["line"].isin(mine.index), "yes", "no")
        lines["units"] = lines["line"].map(mine).fillna(0.0)
    lines["units"] = lines["units"].round().astype(int)
    lines["new_set"] = _new_instrument_set(lines, usage, trust)
    in_force = _decisions_in_force(session, lines, trust)
    lines = lines.join(in_force.rename(columns={"decision": "in_force", "by": "decided_by", "on": "decided_on"}))
    lines["scenario"] = _scenario_status(session, lines, run_id, trust) if run_id is not None else None
    return lines.sort_values(["category_id", "group_id", "supplier_name", "brand", "line_id"]).reset_index(drop=True)
