"""Post-award actuals for the demo: months of purchases after the agreement starts, with leakage.

Written from the stored plan of a solved scenario (its allocation, range, tiers and join
months) and the trusts' own usage before the start, as ordinary usage exports
(``actuals/<TRUST>.csv``: date, supplier, item_code, quantity, unit_price) that
``procure import usage`` reads. Each trust buys as before until it joins a category,
then the plan's units per line at the agreed price (Poisson counts around the plan,
spread over the line's SKUs by the region's mix), except for three kinds of leakage
that a programme meets in practice:

* one trust joins ``LATE_MONTHS`` months after its planned join dates;
* one trust keeps ``OFF_RANGE_SHARE`` of its units on its old lines outside the range,
  at its old prices;
* on the tier offer with the least headroom over its planned threshold, enough
  volume drifts to a line outside the range (or is not bought) to put the tier at risk.

The choices are returned so the demo and its tests can check that tracking finds them.
"""

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from procurement.demand import usage_rows
from procurement.models import Usage
from procurement.reference import frame, items_frame
from procurement.tracking import load_plan, offer_lines

LATE_MONTHS = 4
OFF_RANGE_SHARE = 0.2
DRIFT_MARGIN = 0.12  # drift this much volume beyond the tier's headroom


@dataclass
class Actuals:
    files: list[tuple[str, Path]] = field(default_factory=list)  # (trust, path)
    late_trust: str | None = None
    off_range_trust: str | None = None
    tier_offer: str | None = None
    drift_share: float = 0.0


def write_actuals(engine: Engine, run_id: int, out_dir: Path, *, start: dt.date, months: int, seed: int) -> Actuals:
    """Write ``months`` months of actuals for run ``run_id``'s trusts into ``out_dir``."""
    rng = np.random.default_rng(seed)
    with Session(engine) as session:
        plan = load_plan(session, run_id)
        scope, _ = offer_lines(session, plan["catalogue_lines"])
        items = items_frame(session, active_only=True)[["item_id", "line_id", "supplier_code", "supplier"]]
        before = frame(session, usage_rows().where(col(Usage.period) < start))
    lines = plan["catalogue_lines"][["line_id", "line", "group", "category"]]
    items = items.merge(lines, on="line_id")
    trusts = sorted(set(plan["joins"]["trust"]))
    before = before[before["trust"].isin(trusts)].merge(items, on="item_id")
    before["spend"] = before["quantity"] * before["unit_price_paid"]
    span = pd.to_datetime(before["period"]).dt.to_period("M").groupby(before["trust"]).nunique()
    old = before.groupby(
        ["trust", "item_id", "line", "group", "category", "supplier", "supplier_code"], as_index=False
    )[["quantity", "spend"]].sum()
    old["price"] = old["spend"] / old["quantity"]
    old["per_month"] = old["quantity"] / old["trust"].map(span)

    # The region's SKU mix within each line (a line nobody bought: its first SKU).
    mix = before.groupby(["line", "item_id"])["quantity"].sum().rename("w").reset_index()
    unbought = items[~items["line"].isin(mix["line"])].drop_duplicates("line")[["line", "item_id"]].assign(w=1.0)
    mix = pd.concat([mix, unbought], ignore_index=True)
    mix["w"] = mix["w"] / mix.groupby("line")["w"].transform("sum")
    mix = mix.merge(items[["item_id", "supplier", "supplier_code"]], on="item_id")

    joins = plan["joins"].copy()
    choice = Actuals()
    joining = joins[joins["joins"]]
    by_trust = joining.groupby("trust")["join_month"].min().sort_values(kind="stable")
    if len(by_trust) >= 2:
        choice.late_trust = str(by_trust.index[len(by_trust) // 2])
    late = joins["trust"].eq(choice.late_trust) & joins["joins"]
    joins["actual_join"] = joins["join_month"].astype(float).where(joins["joins"], np.inf)
    joins.loc[late, "actual_join"] += LATE_MONTHS

    off_range_old = old[~old["line"].isin(plan["range"])]
    candidates = off_range_old[off_range_old["trust"] != choice.late_trust].groupby("trust")["quantity"].sum()
    if len(candidates):
        choice.off_range_trust = str(candidates.idxmax())

    alloc = plan["lines"]
    tiers = plan["tiers"]
    drift_lines: set[str] = set()
    live = tiers[tiers["threshold"] > 0].assign(headroom=lambda t: t["volume"] / t["threshold"] - 1.0)
    if len(live):
        tight = live.sort_values("headroom").iloc[0]
        choice.tier_offer = str(tight["offer"])
        choice.drift_share = float(min(0.6, tight["headroom"] + DRIFT_MARGIN))
        drift_lines = set(scope.loc[scope["offer"] == choice.tier_offer, "line"])

    rows = []
    for m in range(months):  # nine months: a loop over months, each month vectorised
        when = _month(start, m)
        on = joins[joins["actual_join"] <= m][["trust", "category"]]
        # Trusts not yet on for a category buy as before.
        waiting = old.merge(on.assign(on=True), on=["trust", "category"], how="left")
        waiting = waiting[waiting["on"].isna()]
        rows.append(_bought(rng, waiting["per_month"], waiting["price"], waiting, when))
        # Trusts on buy the plan, spread over SKUs, at the agreed price.
        planned = alloc.merge(on, on=["trust", "category"])
        planned = planned.assign(per_month=planned["units"] / 12.0, price=planned["net_price"])
        keep = pd.Series(1.0, index=planned.index)
        leak_parts = []
        if choice.off_range_trust:
            mine = off_range_old[off_range_old["trust"] == choice.off_range_trust]
            mine = mine.merge(on, on=["trust", "category"])
            leaking_groups = set(mine["group"])
            hit = (planned["trust"] == choice.off_range_trust) & planned["group"].isin(leaking_groups)
            keep[hit] = 1.0 - OFF_RANGE_SHARE
            planned_units = planned[hit].groupby("group")["per_month"].sum()
            share = mine["quantity"] / mine.groupby("group")["quantity"].transform("sum")
            mine = mine.assign(per_month=share * mine["group"].map(planned_units).fillna(0.0) * OFF_RANGE_SHARE)
            leak_parts.append(mine[["trust", "item_id", "supplier", "supplier_code", "per_month", "price"]])
        if drift_lines:
            hit = planned["line"].isin(drift_lines)
            keep[hit] *= 1.0 - choice.drift_share
            moved = planned.loc[hit, ["trust", "group", "per_month"]]
            moved = moved.assign(per_month=moved["per_month"] * choice.drift_share)
            leak_parts.append(moved.merge(_drift_targets(before, plan["range"], drift_lines), on="group"))
        planned = planned.drop(columns="supplier").assign(per_month=planned["per_month"] * keep).merge(mix, on="line")
        planned["per_month"] *= planned["w"]
        rows.append(_bought(rng, planned["per_month"], planned["price"], planned, when))
        for part in leak_parts:
            rows.append(_bought(rng, part["per_month"], part["price"], part, when))
    bought = pd.concat(rows, ignore_index=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    for trust, part in bought.groupby("trust", sort=True):
        path = out_dir / f"{trust}.csv"
        part.drop(columns="trust").to_csv(path, index=False)
        choice.files.append((str(trust), path))
    return choice


def _bought(rng, per_month: pd.Series, price: pd.Series, source: pd.DataFrame, when: dt.date) -> pd.DataFrame:
    """Poisson counts around ``per_month``; rows with a count, priced to the penny."""
    qty = rng.poisson(np.clip(per_month.to_numpy(dtype=float), 0.0, None))
    keep = qty > 0
    return pd.DataFrame(
        {
            "trust": source["trust"].to_numpy()[keep],
            "date": when.isoformat(),
            "supplier": source["supplier"].to_numpy()[keep],
            "item_code": source["supplier_code"].to_numpy()[keep],
            "quantity": qty[keep],
            "unit_price": np.round(price.to_numpy(dtype=float)[keep], 2),
        }
    )


def _drift_targets(before: pd.DataFrame, kept: set[str], offer_lines: set[str]) -> pd.DataFrame:
    """Per group, the most used SKU of a line outside the range and outside the offer, at its
    average price paid: where volume drifts."""
    out = before[~before["line"].isin(kept) & ~before["line"].isin(offer_lines)]
    per_item = out.groupby(["group", "item_id", "supplier", "supplier_code"], as_index=False)[
        ["quantity", "spend"]
    ].sum()
    per_item["price"] = per_item["spend"] / per_item["quantity"]
    per_item = per_item.sort_values(["group", "quantity"], ascending=[True, False]).drop_duplicates("group")
    return per_item[["group", "item_id", "supplier", "supplier_code", "price"]]


def _month(start: dt.date, m: int) -> dt.date:
    total = start.month - 1 + m
    return dt.date(start.year + total // 12, total % 12 + 1, 15)


ACTUAL_MONTHS = 9


def track_demo(engine: Engine, out_dir: Path, *, scenario: str, start: dt.date, seed: int, user, run, say) -> dict:
    """Write ``ACTUAL_MONTHS`` months of actuals for ``scenario``, import them through
    ``run`` (the demo's import step, as ``procure import usage`` would), track, and say
    the one-line headline. Returns the leakage built in and the tracking headline."""
    from procurement import importers as imp
    from procurement.scenarios.runs import latest_run_id
    from procurement.tracking import headline, track_run

    with Session(engine) as session:
        run_id = latest_run_id(session, scenario)
    actuals = write_actuals(engine, run_id, out_dir, start=start, months=ACTUAL_MONTHS, seed=seed)
    say(f"Post-award actuals ({ACTUAL_MONTHS} months), as `procure import usage FILE --trust CODE` would:")
    for trust, path in actuals.files:
        run(f"actuals {trust}", imp.import_usage, path, trust=trust)
    result = track_run(engine, run_id)
    line = headline(result)
    say(f"Tracking: {line} (procure track {scenario})")
    return {
        "scenario": scenario,
        "late_trust": actuals.late_trust,
        "off_range_trust": actuals.off_range_trust,
        "tier_offer": actuals.tier_offer,
        "planned_gbp": result["planned_gbp"],
        "realised_gbp": result["realised_gbp"],
        "headline": line,
    }
