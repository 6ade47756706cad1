"""The optimisation problem of a scenario, built from the database, and its fingerprint.

``input_hash`` is the sha256 of a built problem's tables and settings: a run stores it,
and a run is stale when the problem rebuilt now hashes differently.

``build_problem`` turns the database plus a scenario's ``ScenarioSettings`` into the
solver's validated ``ProblemData``:

* demand and the baseline: each trust's annual units per group and the average price
  it actually paid per product line (``procurement.demand.usage_by_line``);
* the regional price of a line: the region's best price, i.e. its regional SKU mix at
  the lowest price any participating trust pays for each SKU today
  (``regional_price = "best_paid"``; a line nobody buys is priced at its catalogue
  price), or the mean catalogue price of its active SKUs (``"catalogue"``);
  ``price_change_pct`` then scales it (a sensitivity: suppliers' prices rise by X%);
* usable lines: the latest clinical decision for (trust, line) wins, else the
  regional panel's latest; ``approve`` and ``conditional`` count as approved. ODEP:
  hip and knee lines (the taxonomy's ``odep_applies`` categories) need a rating at or
  above the floor unless the deciding clinician recorded an ODEP exception;
* tiers: each supplier offer's lines (its category or group scope);
* contracts: one solver contract per register row, keyed ``TRUST/CATEGORY/SUPPLIER``
  (the solver's unit is (trust, category, contract); its supplier tells the solver
  which of the trust's spend the contract covers). Dates become months from the start
  (``month_offset``: a contract ending mid-month is free from the next month); the
  scenario's ``decision_date`` becomes ``decision_month``. Two register rows for the
  same (trust, category, supplier) are one contract to the solver: the one ending
  last stands (the other is an earlier contract), with a note;
* list prices: a line's catalogue price (mean of its active SKUs), what a trust pays
  off contract once a contract and its extension have run out.
* switching costs: the imported figures in force, ``ALL`` expanded to the scenario's
  trusts, the scenario default per new line where no row applies
  (``procurement.scenarios.switching``).
"""

import hashlib
import json
from dataclasses import asdict
from typing import Literal, cast

import pandas as pd
from sqlalchemy import select
from sqlmodel import Session, col

from procurement.approvals import latest_decisions
from procurement.demand import best_paid_by_line, usage_by_line
from procurement.models import (
    Approval,
    ClinicalRating,
    Contract,
    Supplier,
    Trust,
    VolumeTier,
)
from procurement.ratings import odep_rank
from procurement.reference import catalogue_prices, codes, frame, groups_frame, join_codes, lines_frame
from procurement.scenarios.contracts import CONTRACT_TERMS
from procurement.scenarios.settings import ScenarioError, ScenarioSettings, month_offset
from procurement.scenarios.switching import switching_for_problem


def tier_offers(session: Session) -> pd.DataFrame:
    """Every imported volume tier: offer (``SUPPLIER/OFFER_CODE``, unique across suppliers),
    offer_code, supplier, category_id, group_id (one of the two is the offer's scope), basis,
    threshold, discount_pct."""
    tiers = frame(
        session,
        select(
            col(VolumeTier.offer_code),
            col(Supplier.code).label("supplier"),
            col(VolumeTier.category_id),
            col(VolumeTier.group_id),
            col(VolumeTier.basis),
            col(VolumeTier.threshold),
            col(VolumeTier.discount_pct),
        ).join(Supplier, col(Supplier.id) == col(VolumeTier.supplier_id)),
    )
    return tiers.assign(offer=tiers["supplier"] + "/" + tiers["offer_code"])


def _latest_decisions(session: Session) -> pd.DataFrame:
    """Latest decision per (trust or panel, line): trust ('' = panel), line_id, decision, exception."""
    approvals = frame(
        session,
        select(
            col(Approval.id),
            col(Approval.trust_id),
            col(Approval.product_line_id).label("line_id"),
            col(Approval.decision),
            col(Approval.odep_exception),
            col(Approval.decided_at),
            col(Approval.recorded_at),
            col(Trust.code).label("trust"),
        ).outerjoin(Trust, col(Trust.id) == col(Approval.trust_id)),
    )
    if approvals.empty:
        return pd.DataFrame(columns=["trust", "line_id", "decision", "odep_exception"])
    approvals["trust"] = approvals["trust"].fillna("")
    return latest_decisions(approvals, ["trust", "line_id"])[["trust", "line_id", "decision", "odep_exception"]]


SOLVER_CONTRACT_COLUMNS = ["trust", "category", "contract", "supplier", "end_month", *CONTRACT_TERMS]


def _contracts(
    session: Session, settings: ScenarioSettings, trusts: list[str], categories: set[str]
) -> tuple[pd.DataFrame, list[str]]:
    """The solver's ``contracts`` table (plus ``reference`` and ``end``) and notes.

    One row per register contract of a participating trust in a category it has
    demand in. Percentages become shares (``exit_fee_pct`` 10 -> 0.1).
    """
    notes: list[str] = []
    keys = {"trust": Contract.trust_id, "category": Contract.category_id, "supplier": Contract.supplier_id}
    register = frame(
        session,
        join_codes(
            select(
                *codes(*keys),
                col(Contract.reference),
                col(Contract.end),
                col(Contract.notice_months),
                col(Contract.early_exit),
                col(Contract.exit_fee),
                col(Contract.exit_fee_pct),
                col(Contract.extension_months),
                col(Contract.extension_uplift_pct),
            ),
            keys,
        ),
    )
    register = register[register["trust"].isin(trusts) & register["category"].isin(categories)]
    if register.empty:
        return pd.DataFrame(columns=[*SOLVER_CONTRACT_COLUMNS, "reference", "end"]), notes
    register["end"] = pd.to_datetime(register["end"]).dt.date
    register = register.sort_values(["trust", "category", "supplier", "end", "reference"])
    earlier = register.duplicated(["trust", "category", "supplier"], keep="last")
    if earlier.any():
        notes.append(
            f"{int(earlier.sum())} contract(s) with a supplier the trust has a later contract with in the same"
            " category left out: the later contract's terms apply"
        )
    ct = register[~earlier].copy()
    start = settings.start()
    ct["contract"] = ct["trust"] + "/" + ct["category"] + "/" + ct["supplier"]
    ct["end_month"] = [month_offset(start, e) for e in ct["end"]]  # a date per contract, a few hundred
    ct["early_exit"] = ct["early_exit"].astype(bool)
    ct["exit_fee_pct"] = ct["exit_fee_pct"] / 100.0
    ct["extension_uplift"] = ct["extension_uplift_pct"] / 100.0
    ct["notice_months"] = ct["notice_months"].astype(int)
    ct["extension_months"] = ct["extension_months"].astype(int)
    return ct[[*SOLVER_CONTRACT_COLUMNS, "reference", "end"]].reset_index(drop=True), notes


def build_problem(session: Session, settings: ScenarioSettings):
    """The solver's ``ProblemData`` for ``settings`` on the data in the database.

    Returns ``(problem, context)`` where ``context`` holds frames the reports need
    (line names, trust ids, dropped data, the notes on data quality).
    """
    from solver.problem import ProblemData, Settings

    notes: list[str] = []
    # The baseline is what trusts bought before the agreement starts; later usage is
    # delivery against a plan (procure track), not demand to plan from.
    usage = usage_by_line(session, before=settings.start())
    if usage.empty:
        usage = usage_by_line(session)
        if not usage.empty:
            notes.append(
                f"no usage is dated before the start date {settings.start_date}: the baseline uses all usage imported"
            )
    if usage.empty:
        raise ScenarioError("no trust usage imported: import usage before running a scenario")
    known_trusts = set(usage["trust"])
    if settings.trusts:
        unknown = sorted(set(settings.trusts) - known_trusts)
        if unknown:
            raise ScenarioError(f"trust(s) {', '.join(unknown)} have no usage imported")
        usage = usage[usage["trust"].isin(settings.trusts)]
    trusts = sorted(set(usage["trust"]))

    lines = lines_frame(session)
    groups = groups_frame(session)
    demanded_groups = set(usage["group"])
    lines = lines[lines["group"].isin(demanded_groups)]

    # Regional price per line.
    prices = catalogue_prices(session).rename("catalogue_price")
    # The region's best price for a line: its regional SKU mix at the lowest price any
    # trust pays for each SKU (see demand.usage_by_line).
    best_paid = best_paid_by_line(usage)
    lines = lines.join(prices, on="line_id").join(best_paid, on="line")
    if settings.regional_price == "catalogue":
        lines["regional_price"] = lines["catalogue_price"]
    else:
        # A line nobody buys today has no paid price: its catalogue price stands in.
        lines["regional_price"] = lines["best_paid"].fillna(lines["catalogue_price"])
    lines["regional_price"] *= 1.0 + settings.price_change_pct / 100.0
    if settings.line_prices:
        # What-if prices replace a line's regional price outright (after price_change_pct).
        unknown = sorted(set(settings.line_prices) - set(lines["line"]))
        if unknown:
            raise ScenarioError(f"line_prices: no product line {', '.join(unknown)} in the scenario's groups")
        what_if = lines["line"].map(settings.line_prices)
        lines["regional_price"] = what_if.fillna(lines["regional_price"]).astype(float)
    unpriced = lines["regional_price"].isna()
    if unpriced.any():
        notes.append(f"{int(unpriced.sum())} product lines without an active catalogue price left out")
    lines = lines[~unpriced]

    # Candidates: every (trust, line) in a group the trust has demand for.
    demand = usage.groupby(["trust", "group"], as_index=False)["units_per_year"].sum()
    demand = demand.rename(columns={"units_per_year": "units"})
    pairs = demand[["trust", "group"]].merge(lines[["line", "line_id", "group", "category"]], on="group")
    current = usage[["trust", "line", "units_per_year", "avg_unit_price"]].rename(
        columns={"units_per_year": "units", "avg_unit_price": "unit_price"}
    )
    pairs = pairs.merge(current[["trust", "line"]].assign(in_use=True), on=["trust", "line"], how="left")
    pairs["in_use"] = pairs["in_use"].fillna(False).astype(bool)

    decisions = _latest_decisions(session)
    own = decisions[decisions["trust"] != ""].rename(
        columns={"decision": "own_decision", "odep_exception": "own_exception"}
    )
    panel = (
        decisions[decisions["trust"] == ""]
        .drop(columns="trust")
        .rename(columns={"decision": "panel_decision", "odep_exception": "panel_exception"})
    )
    pairs = pairs.merge(own, on=["trust", "line_id"], how="left").merge(panel, on="line_id", how="left")
    decision = pairs["own_decision"].fillna(pairs["panel_decision"])
    exception = pairs["own_exception"].where(pairs["own_decision"].notna(), pairs["panel_exception"])
    pairs["approved"] = (
        decision.isin(["approve", "conditional"]) if settings.require_approval else ~decision.eq("reject")
    )
    pairs["odep_exception"] = exception.fillna(False).astype(bool) & pairs["approved"]

    ratings = frame(
        session,
        select(
            col(ClinicalRating.product_line_id).label("line_id"),
            col(ClinicalRating.rank),
            col(ClinicalRating.rating),
            col(ClinicalRating.item_id),
        ),
    )
    line_rank = (
        (
            ratings[ratings["item_id"].isna()]
            .groupby("line_id")["rank"]
            .max()
            .combine_first(ratings.groupby("line_id")["rank"].min())
        )
        if len(ratings)
        else pd.Series(dtype=float)
    )
    odep_categories = set(groups.loc[groups["odep_applies"].astype(bool), "category"])
    floor = odep_rank(settings.odep_floor) if settings.odep_floor else None
    rank = pairs["line_id"].map(line_rank)
    rated_ok = rank.ge(floor) if floor is not None else pd.Series(True, index=pairs.index)
    pairs["odep_ok"] = ~pairs["category"].isin(odep_categories) | rated_ok | pairs["odep_exception"]
    # Switching costs as data (procurement.scenarios.switching); the scenario default
    # stays the cost per new line where no row is about that (trust, line).
    switching, pairs["switch_cost"] = switching_for_problem(session, trusts, lines, pairs, settings.switching_cost)

    # Tiers: offers whose scope lines are in the problem.
    tiers = tier_offers(session)
    offers = pd.DataFrame(columns=["offer", "supplier", "basis"])
    offer_lines = pd.DataFrame(columns=["offer", "line"])
    tier_rows = pd.DataFrame(columns=["offer", "threshold", "discount"])
    if len(tiers):
        scope = tiers.drop_duplicates("offer")[["offer", "supplier", "basis", "category_id", "group_id"]]
        scope = scope.merge(
            groups[["group_id", "category_id"]].rename(columns={"category_id": "cat_of_group"}),
            on="group_id",
            how="left",
        )
        by_group = scope.dropna(subset=["group_id"]).merge(
            lines[["line", "supplier", "group_id"]], on=["supplier", "group_id"]
        )
        by_cat = scope[scope["group_id"].isna()].merge(
            lines.merge(groups[["group_id", "category_id"]], on="group_id")[["line", "supplier", "category_id"]],
            on=["supplier", "category_id"],
        )
        # A group-scoped offer is more specific than a category one: it wins a line.
        ol = pd.concat([by_group.assign(rank=0), by_cat.assign(rank=1)], ignore_index=True)
        ol = ol.sort_values(["line", "rank", "offer"])
        dropped = ol.duplicated("line", keep="first")
        if dropped.any():
            notes.append(
                f"{int(dropped.sum())} line(s) in more than one tier offer: the group-scoped (or first) offer applies"
            )
        offer_lines = ol[~dropped][["offer", "line"]]
        offers = scope[scope["offer"].isin(offer_lines["offer"])][["offer", "supplier", "basis"]]
        tier_rows = tiers[tiers["offer"].isin(offers["offer"])].assign(discount=lambda t: t["discount_pct"] / 100.0)
        tier_rows = tier_rows.sort_values(["offer", "threshold"])[["offer", "threshold", "discount"]]

    contracts, contract_notes = _contracts(
        session, settings, trusts, set(groups.loc[groups["group"].isin(demanded_groups), "category"])
    )
    notes.extend(contract_notes)
    start = settings.start()
    decision_month = month_offset(start, settings.decision())

    # A cap on a group or category no participating trust buys is moot (the solver
    # refuses names it does not know): the validator has already refused unknown codes.
    used = groups[groups["group"].isin(demanded_groups)]
    solver_settings = Settings(
        range_cap=settings.range_cap,
        range_cap_by_group={g: k for g, k in settings.range_cap_by_group.items() if g in set(used["group"])},
        trust_range_cap=settings.trust_range_cap,
        min_suppliers=settings.min_suppliers,
        min_suppliers_by_category={
            c: k for c, k in settings.min_suppliers_by_category.items() if c in set(used["category"])
        },
        min_supplier_share=settings.min_supplier_share,
        max_supplier_share=settings.max_supplier_share,
        year_one_cap=settings.year_one_cap,
        horizon_months=settings.horizon_months,
        join_grid_months=settings.join_grid_months,
        # ScenarioSettings keeps these as text; validation has refused anything but these choices
        participation=cast(Literal["all", "optional"], settings.participation),
        solver=cast(Literal["highs", "cbc"], settings.solver),
        time_limit=settings.time_limit,
        gap_rel=settings.gap_rel,
        decision_month=int(decision_month),
        max_joins_per_quarter=settings.max_joins_per_quarter,
    )
    used_groups = groups[groups["group"].isin(demanded_groups)][["group", "category"]]
    # Sums and averages computed by the database differ in the last bits between SQLite
    # and PostgreSQL (summation order): rounded, the same data give the same model, and
    # the same input hash (which hashes to 6 decimals) means the same problem solved.
    problem = ProblemData(
        trusts=pd.DataFrame({"trust": trusts}),
        groups=used_groups,
        lines=lines.assign(list_price=lines["catalogue_price"].fillna(lines["regional_price"]))[
            ["line", "supplier", "group", "regional_price", "list_price"]
        ].round({"regional_price": 6, "list_price": 6}),
        demand=demand.round({"units": 6}),
        current=current.round({"units": 6, "unit_price": 6}),
        candidates=pairs[["trust", "line", "approved", "odep_ok", "switch_cost"]],
        offers=offers,
        offer_lines=offer_lines,
        tiers=tier_rows,
        contracts=contracts[SOLVER_CONTRACT_COLUMNS].round({"exit_fee": 6, "exit_fee_pct": 9, "extension_uplift": 9}),
        switching=switching.round({"cost": 6}),
        settings=solver_settings,
    )
    context = {
        "notes": notes,
        "lines": lines,
        "pairs": pairs,
        "usage": usage,
        "start": start,
        "decision_month": decision_month,
        "contracts": contracts,
    }
    return problem, context


__all__ = ["build_problem"]


def input_hash(problem) -> str:
    """sha256 over the problem's tables (sorted, as CSV) and settings: the data solved."""
    digest = hashlib.sha256()
    for table in (
        "trusts",
        "groups",
        "lines",
        "demand",
        "current",
        "candidates",
        "offers",
        "offer_lines",
        "tiers",
        "contracts",
        "switching",
    ):
        data = getattr(problem, table)
        if table == "switching" and data.empty:
            continue  # no switching-costs file: the hash of a problem from before they existed
        data = data.sort_values(list(data.columns)).reset_index(drop=True)
        digest.update(table.encode())
        digest.update(data.to_csv(index=False, float_format="%.6f").encode())
    digest.update(json.dumps(asdict(problem.settings), sort_keys=True, default=sorted).encode())
    return digest.hexdigest()
