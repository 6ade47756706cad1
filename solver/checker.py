"""Independent re-check of a solution against every rule, from the tables alone.

``check_solution(problem, solution)`` uses only the input tables of the problem and
the frames of the solution, joined with pandas; it shares no code with the model or
the report builder, so a mistake in either shows up here. It recomputes every money
figure and the objective, and returns one human-readable string per violation (an
empty list when the plan is sound).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from solver.problem import ProblemData
from solver.solution import Solution

MONEY_TOL = 0.01
"""Absolute tolerance on money figures (one penny), plus a 1e-9 relative part."""
UNITS_TOL = 1e-6


def _money_close(a: float, b: float) -> bool:
    return abs(a - b) <= MONEY_TOL + 1e-9 * max(abs(a), abs(b))


def _units_tol(x: pd.Series | np.ndarray | float) -> np.ndarray | float:
    return UNITS_TOL * np.maximum(1.0, np.abs(x))


_KEY = ["trust", "supplier", "category", "line", "kind"]
_KIND_CAUSE = {
    "instruments": "switching_instruments",
    "training": "switching_training",
    "consignment": "switching_consignment",
    "other": "switching_other",
    "": "switching_unclassified",
}


def _blank_none(frame: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """None/NaN in ``cols`` as "" (a joinable key)."""
    out = frame.copy()
    for c in cols:
        out[c] = out[c].astype(object).where(out[c].notna(), "").astype(str)
    return out


def _switching_expected(problem: ProblemData, alloc: pd.DataFrame) -> pd.DataFrame:
    """Every switching cost ``alloc`` must pay, from the input tables: key columns
    (line and kind "" for none) and cost > 0, per row of :data:`_KEY`.

    A trust pays, for each line it uses and does not buy today, the candidate's
    fallback ``switch_cost`` and the ``switching`` rows of that line; and for each
    (supplier, category) it uses a new line of while buying no line of it today, the
    ``switching`` rows without a line. Nothing when the assumption is relaxed.
    """
    columns = [*_KEY, "cost"]
    if not problem.settings.active("switching_costs") or alloc.empty:
        return pd.DataFrame(columns=columns)
    catalogue = problem.lines.merge(problem.groups, on="group")[["line", "supplier", "category"]]
    today = problem.current.loc[problem.current["units"] > 0, ["trust", "line"]]
    used = alloc[["trust", "line"]].drop_duplicates().merge(catalogue, on="line")
    used = used.merge(today.assign(today=True), on=["trust", "line"], how="left")
    new = used[used["today"].isna()].drop(columns="today")
    held = today.merge(catalogue, on="line")[["trust", "supplier", "category"]].drop_duplicates()

    fallback = new.merge(problem.candidates[["trust", "line", "switch_cost"]], on=["trust", "line"])
    fallback = fallback.rename(columns={"switch_cost": "cost"}).assign(kind="")
    rows = _blank_none(problem.switching, ["line", "kind"])
    by_line = rows[rows["line"] != ""].merge(new[["trust", "line"]], on=["trust", "line"])
    adopted = new[["trust", "supplier", "category"]].drop_duplicates()
    adopted = adopted.merge(held.assign(held=True), on=["trust", "supplier", "category"], how="left")
    adopted = adopted[adopted["held"].isna()].drop(columns="held")
    by_system = rows[rows["line"] == ""].merge(adopted, on=["trust", "supplier", "category"])
    allrows = pd.concat([by_system[columns], by_line[columns], fallback[columns]], ignore_index=True)
    totals = allrows.groupby(_KEY, as_index=False)["cost"].sum()
    return totals[totals["cost"] > 0].reset_index(drop=True)


def _compare_switching(expected: pd.DataFrame, solution: Solution) -> list[str]:
    """Differences between the recomputed switching costs and the solution's frames."""
    out: list[str] = []
    reported = _blank_none(solution.switching, ["line", "kind"])
    dup = reported.duplicated(_KEY)
    for row in reported[dup].itertuples():
        out.append(
            f"switching: cost {row.kind or 'unclassified'} of {row.trust}/{row.line or row.supplier} listed twice"
        )
    both = expected.merge(reported, on=_KEY, how="outer", indicator="side")
    for row in both.itertuples():
        what = f"{row.trust}/{row.supplier}/{row.category}/{row.line or 'system'}/{row.kind or 'unclassified'}"
        if row.side == "left_only":
            out.append(f"switching: {what} costs {row.cost:.2f} but is not listed")
        elif row.side == "right_only":
            out.append(f"switching: {what} is listed at {row.cost_gbp:.2f} but is not due")
        elif not _money_close(float(row.cost), float(row.cost_gbp)):
            out.append(f"switching: {what} is listed at {row.cost_gbp:.2f}, recomputed {row.cost:.2f}")
    expected_kind = (
        (-expected["cost"]).groupby([expected["trust"], expected["category"], expected["kind"].map(_KIND_CAUSE)]).sum()
    )
    by_kind = solution.switching_by_kind.groupby(["trust", "category", "cause"])["amount"].sum()
    for key in expected_kind.index.union(by_kind.index):
        want, got = float(expected_kind.get(key, 0.0)), float(by_kind.get(key, 0.0))
        if not _money_close(want, got):
            out.append(f"switching by kind: {'/'.join(key)} is {got:.2f}, recomputed {want:.2f}")
    return out


def check_solution(problem: ProblemData, solution: Solution) -> list[str]:
    """All rule violations and figure mismatches of ``solution`` (empty when sound)."""
    if solution.objective is None:
        frames = [solution.allocation, solution.joins, solution.savings, solution.timeline, solution.switching]
        if any(len(f) for f in frames):
            return ["frames are filled although the solution has no objective"]
        return []
    out: list[str] = []
    s = problem.settings
    h = s.horizon_months
    lines = problem.lines.merge(problem.groups, on="group")
    alloc = solution.allocation.copy()
    joins = solution.joins.copy()

    # -- allocation rows: known pairs, usable, consistent with the catalogue ----------
    a = alloc.merge(problem.candidates, on=["trust", "line"], how="left", indicator="cand").merge(
        lines, on="line", how="left", suffixes=("", "_cat")
    )
    for row in a[a["cand"] == "left_only"].itertuples():
        out.append(f"allocation: {row.trust} uses {row.line}, which is not a candidate for it")
    known = a[a["cand"] == "both"]
    if s.active("approvals"):
        for row in known[~known["approved"].astype(bool)].itertuples():
            out.append(f"approvals: {row.trust} uses {row.line}, which is not approved for it")
    if s.active("odep"):
        for row in known[~known["odep_ok"].astype(bool)].itertuples():
            out.append(f"odep: {row.trust} uses {row.line}, below the ODEP floor")
    for col in ("group", "category", "supplier"):
        bad = a[a[col] != a[f"{col}_cat"]]
        for row in bad.itertuples():
            out.append(f"allocation: {row.trust}/{row.line} has the wrong {col}")
    bad = a[(a["regional_price"] - a["regional_price_cat"]).abs() > 1e-9]
    for row in bad.itertuples():
        out.append(f"allocation: {row.trust}/{row.line} has the wrong regional price")
    for row in alloc[~(alloc["units"] > 0)].itertuples():
        out.append(f"allocation: {row.trust}/{row.line} has non-positive units {row.units}")
    cur_used = problem.current[problem.current["units"] > 0][["trust", "line"]]
    new_flag = alloc.merge(cur_used.assign(today=True), on=["trust", "line"], how="left")
    wrong = new_flag["is_new"].astype(bool) != new_flag["today"].isna()
    for row in new_flag[wrong].itertuples():
        out.append(f"allocation: is_new is wrong for {row.trust}/{row.line}")

    # -- joins: one row per (trust, category) with demand, months on the grid --------
    tc_dem = (
        problem.demand.merge(problem.groups, on="group").groupby(["trust", "category"], as_index=False)["units"].sum()
    )
    j = tc_dem.merge(joins, on=["trust", "category"], how="left", indicator="has")
    for row in j[j["has"] == "left_only"].itertuples():
        out.append(f"joins: no row for {row.trust}/{row.category}")
    j = j[j["has"] == "both"].copy()
    j["joins"] = j["joins"].astype(bool)
    if s.participation == "all":
        for row in j[~j["joins"]].itertuples():
            out.append(f"participation: {row.trust} does not join {row.category}")
    jj = j[j["joins"]].copy()
    jj["join_month"] = jj["join_month"].astype(float)
    off_grid = (jj["join_month"] < 0) | (jj["join_month"] >= h) | (jj["join_month"] % s.join_grid_months != 0)
    for row in jj[off_grid].itertuples():
        out.append(f"joins: {row.trust}/{row.category} joins at month {row.join_month}, off grid")
    bad = jj[jj["months_on"] != h - jj["join_month"]]
    for row in bad.itertuples():
        out.append(f"joins: months_on is wrong for {row.trust}/{row.category}")

    # -- demand met for joined (trust, category), nothing for the others --------------
    dem = problem.demand.merge(problem.groups, on="group")
    dem = dem.merge(j[["trust", "category", "joins"]], on=["trust", "category"], how="left")
    got = alloc.groupby(["trust", "group"])["units"].sum().rename("got").reset_index()
    dem = dem.merge(got, on=["trust", "group"], how="left").fillna({"got": 0.0})
    want = np.where(dem["joins"].fillna(False).astype(bool), dem["units"], 0.0)
    bad = (dem["got"] - want).abs() > _units_tol(want)
    for row, w in zip(dem[bad].itertuples(), want[bad.to_numpy()], strict=True):
        out.append(f"demand: {row.trust} needs {w:g} units of {row.group}, plan gives {row.got:g}")
    stray = alloc.merge(problem.demand[["trust", "group"]], how="left", indicator="d")
    for row in stray[stray["d"] == "left_only"].itertuples():
        out.append(f"demand: {row.trust} buys {row.group} without demand for it")

    # -- range caps ----------------------------------------------------------------
    if s.trust_range_cap is not None and s.active("trust_range_cap"):
        n = alloc.groupby(["trust", "group"])["line"].nunique()
        for (t, g), k in n[n > s.trust_range_cap].items():
            out.append(f"trust range cap: {t} uses {k} lines in {g} (cap {s.trust_range_cap})")
    if s.active("range_cap"):
        n = alloc.groupby("group")["line"].nunique()
        for g, k in n.items():
            if k > s.group_cap(g):
                out.append(f"range cap: {k} lines kept in {g} (cap {s.group_cap(g)})")
    by_line = alloc.groupby("line")["units"].sum()
    rng = solution.range.set_index("line")
    for line, units in by_line.items():
        if line not in rng.index or not bool(rng.at[line, "kept"]):
            out.append(f"range: {line} carries units but is not marked kept")
        elif abs(float(rng.at[line, "units"]) - units) > _units_tol(units):
            out.append(f"range: units of {line} do not match the allocation")
    for line in rng.index[rng["kept"].astype(bool) & ~rng.index.isin(by_line.index)]:
        out.append(f"range: {line} is marked kept but carries no units")

    # -- tiers: volume, the tier reached, and the discount on each line ----------------
    offers = problem.offers
    ol = problem.offer_lines.merge(offers, on="offer")
    on_offer = alloc.merge(ol[["line", "offer", "basis"]], on="line")
    amount = np.where(on_offer["basis"] == "units", on_offer["units"], on_offer["units"] * on_offer["regional_price"])
    volume = pd.Series(amount, index=on_offer.index).groupby(on_offer["offer"]).sum()
    volume = volume.reindex(offers["offer"]).fillna(0.0)
    tr = solution.tiers_reached.set_index("offer")
    tiers = problem.tiers.sort_values(["offer", "threshold"])
    disc_of_offer: dict[str, float] = {}
    for offer in offers["offer"]:
        v = float(volume[offer])
        if offer not in tr.index:
            out.append(f"tiers: no row for offer {offer}")
            continue
        thr, d = float(tr.at[offer, "threshold"]), float(tr.at[offer, "discount"])
        disc_of_offer[offer] = d
        own = tiers[tiers["offer"] == offer]
        table = [(0.0, 0.0), *zip(own["threshold"], own["discount"], strict=True)]
        if not any(abs(thr - t0) < 1e-9 and abs(d - d0) < 1e-12 for t0, d0 in table):
            out.append(f"tiers: {offer} reports a tier ({thr:g}, {d:g}) it does not have")
            continue
        if abs(float(tr.at[offer, "volume"]) - v) > _units_tol(v):
            out.append(f"tiers: volume of {offer} is {v:g}, reported {tr.at[offer, 'volume']:g}")
        if v + _units_tol(thr) < thr:
            out.append(f"tiers: {offer} claims threshold {thr:g} with volume {v:g}")
        higher = [t0 for t0, _ in table if t0 > thr + 1e-9]
        if higher and v > min(higher) + _units_tol(min(higher)):
            out.append(f"tiers: {offer} reaches {min(higher):g} but reports {thr:g}")
    line_disc = ol[["line", "offer"]].assign(expected=ol["offer"].map(disc_of_offer).fillna(0.0))
    ad = alloc.merge(line_disc[["line", "expected"]], on="line", how="left")
    ad["expected"] = ad["expected"].fillna(0.0)
    for row in ad[(ad["discount"] - ad["expected"]).abs() > 1e-12].itertuples():
        out.append(f"tiers: {row.trust}/{row.line} gets discount {row.discount:g}, expected {row.expected:g}")
    net = alloc["regional_price"] * (1 - alloc["discount"])
    bad = ((alloc["net_price"] - net).abs() > 1e-9 * np.maximum(1, net)) | (
        (alloc["annual_cost"] - alloc["units"] * net).abs() > MONEY_TOL
    )
    for row in alloc[bad].itertuples():
        out.append(f"prices: net price or annual cost wrong for {row.trust}/{row.line}")

    # -- supplier rules per category ---------------------------------------------------
    sup = alloc.groupby(["category", "supplier"])["units"].sum()
    cat_units = alloc.groupby("category")["units"].sum()
    if s.active("min_suppliers"):
        for c, q in cat_units.items():
            need = s.category_min_suppliers(c)
            shares = sup.loc[c]
            counted = int((shares >= s.min_supplier_share * q - _units_tol(q)).sum())
            if counted < need:
                out.append(
                    f"min suppliers: {c} has {counted} suppliers with at least "
                    f"{s.min_supplier_share:.0%} of units, needs {need}"
                )
    if s.active("max_share") and s.max_supplier_share < 1:
        for (c, sp), q in sup.items():
            if q > s.max_supplier_share * cat_units[c] + _units_tol(q):
                out.append(f"max share: {sp} has {q / cat_units[c]:.1%} of {c}, above {s.max_supplier_share:.0%}")

    # -- switching costs: every cost paid, recomputed from the inputs -------------------
    paid = _switching_expected(problem, alloc)
    out += _compare_switching(paid, solution)
    sw = paid.groupby(["trust", "category"])["cost"].sum()

    # -- money: recompute every (trust, category) from the tables ---------------------
    cur = problem.current.merge(lines[["line", "category"]], on="line")
    base = (cur["units"] * cur["unit_price"]).groupby([cur["trust"], cur["category"]]).sum()
    one_off = _contract_checks(problem, j, solution, out)
    new = alloc[alloc["is_new"].astype(bool)]
    cost = (
        (alloc["units"] * alloc["regional_price"] * (1 - alloc["discount"]))
        .groupby([alloc["trust"], alloc["category"]])
        .sum()
    )
    new_units = new.groupby(["trust", "category"])["units"].sum()
    recomputed = 0.0
    net_by_trust: dict[str, float] = {}
    year = min(12, h)
    moved_year: dict[str, float] = {}
    for row in j.itertuples():
        key = (row.trust, row.category)
        b = float(base.get(key, 0.0))
        if not row.joins:
            net = 0.0
        else:
            m = int(row.join_month)
            fee_paid, bridging, off_contract = one_off.get(key, (0.0, 0.0, 0.0))
            rate = b - float(cost.get(key, 0.0))
            switching = float(sw.get(key, 0.0))
            net = (h - m) / 12.0 * rate - fee_paid - bridging - off_contract - switching
            if not _money_close(float(row.exit_fee_paid), fee_paid):
                out.append(f"joins: exit fee of {key} should be {fee_paid:.2f}")
            if not _money_close(float(row.bridging_cost), bridging):
                out.append(f"joins: bridging cost of {key} should be {bridging:.2f}")
            if not _money_close(float(row.off_contract_cost), off_contract):
                out.append(f"joins: off-contract cost of {key} should be {off_contract:.2f}")
            if not _money_close(float(row.annual_regional_cost), float(cost.get(key, 0.0))):
                out.append(f"joins: annual regional cost of {key} is wrong")
            moved_year[row.trust] = (
                moved_year.get(row.trust, 0.0) + float(new_units.get(key, 0.0)) * max(0, year - m) / 12.0
            )
        if not _money_close(float(row.annual_baseline), b):
            out.append(f"joins: annual baseline of {key} should be {b:.2f}")
        recomputed += net
        net_by_trust[row.trust] = net_by_trust.get(row.trust, 0.0) + net
        got = solution.savings[
            (solution.savings["trust"] == row.trust) & (solution.savings["category"] == row.category)
        ]["amount"].sum()
        if not _money_close(float(got), net):
            out.append(f"savings: causes of {key} add to {got:.2f}, recomputed {net:.2f}")
        cause = solution.savings[
            (solution.savings["trust"] == row.trust)
            & (solution.savings["category"] == row.category)
            & (solution.savings["cause"] == "switching_costs")
        ]["amount"].sum()
        expected = -float(sw.get(key, 0.0)) if row.joins else 0.0
        if not _money_close(float(cause), expected):
            out.append(f"savings: switching costs of {key} are {-cause:.2f}, recomputed {-expected:.2f}")

    if s.year_one_cap is not None and s.active("year_one_cap"):
        total = problem.demand.groupby("trust")["units"].sum()
        for t, moved in moved_year.items():
            limit = s.year_one_cap * float(total[t]) * year / 12.0
            if moved > limit + _units_tol(limit):
                out.append(f"year-one cap: {t} moves {moved:g} units onto new lines in year one, cap {limit:g}")
    if s.participation == "optional":
        for t, net in net_by_trust.items():
            if net < -MONEY_TOL:
                out.append(f"participation: {t} joins but is worse off by {-net:.2f}")

    # -- programme capacity: (trust, category) joins per agreement quarter ------------
    cap = s.max_joins_per_quarter
    if cap is not None and s.active("join_capacity"):
        per_q = (jj["join_month"] // 3).astype(int).value_counts()
        for q, n in per_q[per_q > cap].sort_index().items():
            out.append(
                f"join capacity: {n} (trust, category) pairs join in quarter {q} "
                f"(months {3 * q}-{3 * q + 2}), cap {cap}"
            )

    # -- totals -----------------------------------------------------------------------
    if not _money_close(recomputed, solution.objective):
        out.append(f"objective: reported {solution.objective:.2f}, recomputed {recomputed:.2f}")
    causes = set(solution.savings["cause"])
    expected_causes = {
        "price_harmonisation",
        "volume_tiers",
        "standardisation",
        "switching_costs",
        "exit_fees",
        "bridging_costs",
        "off_contract_costs",
    }
    if causes - expected_causes:
        out.append(f"savings: unknown causes {sorted(causes - expected_causes)}")
    if not _money_close(float(solution.savings["amount"].sum()), solution.objective):
        out.append("savings: causes do not add up to the objective")
    if not _money_close(float(solution.timeline["savings"].sum()), solution.objective):
        out.append("timeline: monthly savings do not add up to the objective")
    months = solution.timeline["month"]
    if len(months) and (months.min() < 0 or months.max() >= h):
        out.append("timeline: months outside the horizon")
    return out


def _contract_checks(
    problem: ProblemData, j: pd.DataFrame, solution: Solution, out: list[str]
) -> dict[tuple[str, str], tuple[float, float, float]]:
    """Check every contract's terms at its (trust, category)'s join month, from the inputs.

    Appends violations to ``out``; returns (exit fees, bridging, off-contract) per
    joined (trust, category), recomputed from the contracts register, today's
    purchases and list prices.
    """
    s = problem.settings
    terms = s.active("contract_terms")
    lines = problem.lines.merge(problem.groups, on="group")
    cur = problem.current.merge(lines[["line", "category", "supplier", "list_price"]], on="line")
    cur["paid"] = cur["units"] * cur["unit_price"]
    cur["listed"] = cur["units"] * cur["list_price"]
    ct = problem.contracts.copy()
    own = set(zip(ct["trust"], ct["category"], ct["supplier"], strict=True))
    cur["own"] = [(t, c, sp) in own for t, c, sp in zip(cur["trust"], cur["category"], cur["supplier"], strict=True)]
    # a contract with a supplier covers that supplier's spend; the catch-all the rest
    named = cur[cur["own"]].groupby(["trust", "category", "supplier"])[["paid", "listed"]].sum()
    rest = cur[~cur["own"]].groupby(["trust", "category"])[["paid", "listed"]].sum()
    joined = j[j["joins"]].set_index(["trust", "category"])["join_month"]
    got = solution.contracts.set_index(["trust", "category", "contract"]) if len(solution.contracts) else None
    totals: dict[tuple[str, str], tuple[float, float, float]] = {}
    for k in ct.itertuples():
        key = (k.trust, k.category)
        if key not in joined.index:
            continue
        m = int(joined[key])
        covered = (rest, key) if pd.isna(k.supplier) else (named, (k.trust, k.category, k.supplier))
        spend = covered[0].loc[covered[1]] if covered[1] in covered[0].index else None
        monthly = 0.0 if spend is None else float(spend["paid"]) / 12.0
        listed = 0.0 if spend is None else float(spend["listed"]) / 12.0
        name = f"{k.trust} {k.category} contract {k.contract}"
        ext = math.inf if pd.isna(k.extension_months) or not terms else float(k.extension_months)
        if m < k.end_month and terms:
            if not k.early_exit:
                out.append(f"contract terms: {name} cannot end early (ends month {k.end_month}) but joins in month {m}")
            elif m < s.decision_month + k.notice_months:
                out.append(
                    f"contract terms: {name} needs {k.notice_months} months' notice from month {s.decision_month}, "
                    f"but joins in month {m}"
                )
        fee = k.exit_fee + k.exit_fee_pct * monthly * (k.end_month - m) if m < k.end_month else 0.0
        bridged = max(0.0, min(m, k.end_month + ext) - max(k.end_month, 0))
        off = max(0.0, m - max(k.end_month + ext, 0))
        bridging = k.extension_uplift * monthly * bridged
        off_contract = max(listed - monthly, 0.0) * off
        f0, b0, o0 = totals.get(key, (0.0, 0.0, 0.0))
        totals[key] = (f0 + fee, b0 + bridging, o0 + off_contract)
        if got is None or (k.trust, k.category, k.contract) not in got.index:
            out.append(f"contracts: no row for {name}")
            continue
        row = got.loc[(k.trust, k.category, k.contract)]
        if pd.isna(row["join_month"]) or int(row["join_month"]) != m:
            out.append(f"contracts: {name} reports join month {row['join_month']}, the category joins in {m}")
        for col, want in (("exit_fee_gbp", fee), ("bridging_gbp", bridging), ("off_contract_gbp", off_contract)):
            if not _money_close(float(row[col]), want):
                out.append(f"contracts: {col} of {name} is {float(row[col]):.2f}, recomputed {want:.2f}")
        if int(row["bridging_months"]) != int(bridged) or int(row["off_contract_months"]) != int(off):
            out.append(f"contracts: bridged or off-contract months of {name} are wrong")
    return totals
