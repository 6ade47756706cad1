"""A rule-of-thumb plan: the lower bound the MILP must beat, and a sanity check.

The rule a procurement lead would apply by hand:

1. each trust moves each group to its cheapest usable line over the horizon: the
   regional price of its demand plus the one-off switching costs of the line, the
   system cost included when the trust does not hold the supplier's system today
   (then again, with the systems that first pick adopts counted as already paid for
   in the trust's other groups);
2. where a group then has more lines than the regional cap, keep the lines that
   cover the most demand (then the ones that save most) and move the other trusts
   to their cheapest kept line;
3. repair the supplier rules: move whole (trust, group) demands off a supplier above
   the maximum share, and onto extra suppliers until the minimum number is met;
4. tiers are whatever the resulting volumes reach;
5. each (trust, category) joins at its best candidate month (only months every one
   of its contracts allows are candidates); a trust over the year-one cap postpones
   the category that costs least to postpone; a quarter with more joins than the
   programme capacity keeps those that lose most when delayed and postpones the
   others to their best month in a later quarter; with optional
   participation a category that would lose money stays out (repeated while the
   tiers reached change).

The plan is then re-checked by :func:`solver.checker.check_solution`; the heuristic
returns it with status ``"feasible"`` or says it found none (``"not_solved"``).
"""

from __future__ import annotations

from time import perf_counter

import numpy as np
import pandas as pd

from solver.checker import check_solution
from solver.data import ModelData, prepare
from solver.problem import ProblemData
from solver.solution import Solution, offer_volumes, reached_tiers, solution_frames


class _NoPlan(Exception):
    """The heuristic cannot satisfy a rule."""


def greedy(problem: ProblemData, data: ModelData | None = None) -> Solution:
    """Build the rule-of-thumb plan (see module docstring); never raises for infeasibility."""
    start = perf_counter()
    data = prepare(problem) if data is None else data
    try:
        plan = _choose_lines(data)
        plan = _max_share(data, plan)
        plan = _min_suppliers(data, plan)
        plan = _max_share(data, plan)
        x, join_month = _timing(data, plan)
        objective, frames = solution_frames(data, x, join_month)
    except _NoPlan as exc:
        return Solution(
            status="not_solved",
            message=f"greedy heuristic found no feasible plan: {exc}",
            solver="greedy",
            solve_seconds=perf_counter() - start,
        )
    solution = Solution(
        status="feasible",
        message="greedy heuristic plan",
        solver="greedy",
        objective=objective,
        solve_seconds=perf_counter() - start,
        **frames,
    )
    violations = check_solution(problem, solution)
    if violations:
        return Solution(
            status="not_solved",
            message=f"greedy heuristic found no feasible plan: {violations[0]}",
            solver="greedy",
            solve_seconds=perf_counter() - start,
        )
    return solution


# --------------------------------------------------------------------------- lines


def _choose_lines(data: ModelData) -> pd.DataFrame:
    """One line per (trust, group): cheapest usable, within the regional range cap.

    Returns the plan: trust, group, category, line, supplier, price, units.
    """
    s = data.settings
    tg = data.tg
    missing = tg[tg["n_usable"] == 0]
    if len(missing):
        row = missing.iloc[0]
        raise _NoPlan(f"{row['group']} at trust {row['trust']} has no usable line")
    pairs = data.pairs.assign(today=~data.pairs["is_new"])
    years = s.horizon_months / 12.0
    spend = pairs["demand"] * pairs["price"] * years + pairs["switch_cost"]
    order = ["trust", "group", "cost", "today", "line"]
    ascending = [True, True, True, False, True]
    ranked = pairs.assign(cost=spend + pairs["system_cost"]).sort_values(order, ascending=ascending)
    first = ranked.drop_duplicates(["trust", "group"])
    # a system the first pick adopts is paid once: the trust's other groups may share it
    system = ["trust", "supplier", "category"]
    adopted = pd.MultiIndex.from_frame(first.loc[first["system_cost"] > 0, system])
    shared = pd.MultiIndex.from_frame(pairs[system]).isin(adopted)
    cost = spend + np.where(shared, 0.0, pairs["system_cost"])
    ranked = pairs.assign(cost=cost).sort_values(order, ascending=ascending)
    plan = ranked.drop_duplicates(["trust", "group"])
    if s.active("range_cap"):
        n_lines = plan.groupby("group")["line"].nunique()
        caps = pd.Series([s.group_cap(g) for g in n_lines.index], index=n_lines.index)
        for g in n_lines.index[n_lines > caps]:
            kept = _cover(pairs[pairs["group"] == g], int(caps[g]))
            in_range = ranked[(ranked["group"] == g) & ranked["line"].isin(kept)]
            plan = pd.concat([plan[plan["group"] != g], in_range.drop_duplicates(["trust", "group"])])
    plan = plan.assign(units=plan["demand"])
    return plan[["trust", "group", "category", "line", "supplier", "price", "units"]].reset_index(drop=True)


def _cover(group_pairs: pd.DataFrame, cap: int) -> list[str]:
    """Up to ``cap`` lines of one group: cover every trust first, then save the most."""
    usable = group_pairs[["trust", "line", "price", "demand"]]
    trusts = set(usable["trust"])
    kept: list[str] = []
    covered: set[str] = set()
    while covered != trusts and len(kept) < cap:
        open_rows = usable[~usable["trust"].isin(covered) & ~usable["line"].isin(kept)]
        score = open_rows.groupby("line").agg(demand=("demand", "sum"), price=("price", "first"))
        best = score.sort_values(["demand", "price"], ascending=[False, True]).index[0]
        kept.append(best)
        covered |= set(usable.loc[usable["line"] == best, "trust"])
    if covered != trusts:
        group = group_pairs["group"].iloc[0]
        raise _NoPlan(f"no {cap} lines of {group} are usable at every trust")
    while len(kept) < cap:
        paid = usable[usable["line"].isin(kept)].groupby("trust")["price"].min()
        rest = usable[~usable["line"].isin(kept)]
        gain = (paid.reindex(rest["trust"]).to_numpy() - rest["price"].to_numpy()).clip(min=0)
        gain = pd.Series(gain * rest["demand"].to_numpy()).groupby(rest["line"].to_numpy()).sum()
        if gain.empty or gain.max() <= 0:
            break
        kept.append(gain.idxmax())
    return kept


# --------------------------------------------------------------------------- suppliers


def _room(data: ModelData, plan: pd.DataFrame, group: str, line: str) -> bool:
    """Whether ``line`` may carry units in ``group`` without breaking the range cap."""
    s = data.settings
    kept = set(plan.loc[plan["group"] == group, "line"])
    return line in kept or not s.active("range_cap") or len(kept) < s.group_cap(group)


def _max_share(data: ModelData, plan: pd.DataFrame) -> pd.DataFrame:
    """Move whole (trust, group) demands off suppliers above the maximum share."""
    s = data.settings
    beta = s.max_supplier_share
    if not s.active("max_share") or beta >= 1:
        return plan
    for _ in range(10 * len(data.tg) + 10):
        units = plan.groupby(["category", "supplier"])["units"].sum()
        total = plan.groupby("category")["units"].sum()
        share = units / total.reindex(units.index.get_level_values(0)).to_numpy()
        over = share[share > beta + 1e-9]
        if over.empty:
            return plan
        c, sup = over.index[0]
        rows = plan[(plan["category"] == c) & (plan["supplier"] == sup)]
        alt = data.pairs[(data.pairs["category"] == c) & (data.pairs["supplier"] != sup)]
        alt = alt.merge(rows[["trust", "group", "price"]], on=["trust", "group"], suffixes=("", "_now"))
        target_units = units.loc[c].reindex(alt["supplier"]).fillna(0.0).to_numpy()
        alt = alt[target_units + alt["demand"].to_numpy() <= beta * total[c] + 1e-9]
        alt = alt.assign(premium=alt["price"] - alt["price_now"]).sort_values("premium")
        moved = _first_move(data, plan, alt)
        if moved is None:
            raise _NoPlan(f"cannot bring {sup} under {beta:.0%} of {c}")
        plan = moved
    raise _NoPlan("supplier share repair did not settle")


def _first_move(data: ModelData, plan: pd.DataFrame, candidates: pd.DataFrame) -> pd.DataFrame | None:
    """The plan with the first candidate (trust, group) move the range has room for, in the
    candidates' order; None when no candidate fits."""
    for cand in candidates.itertuples():
        if _room(data, plan, cand.group, cand.line):
            return _move(plan, cand.trust, cand.group, cand)
    return None


def _min_suppliers(data: ModelData, plan: pd.DataFrame) -> pd.DataFrame:
    """Move whole (trust, group) demands onto extra suppliers until enough count."""
    s = data.settings
    if not s.active("min_suppliers"):
        return plan
    alpha = s.min_supplier_share
    for c in data.categories["category"]:
        need = s.category_min_suppliers(c)
        for _ in range(len(data.tg) + 1):
            rows = plan[plan["category"] == c]
            total = rows["units"].sum()
            units = rows.groupby("supplier")["units"].sum()
            counted = set(units.index[units >= alpha * total - 1e-9])
            if len(counted) >= need:
                break
            # a move may not drop a counted supplier below the share floor
            spare = units - alpha * total
            alt = data.pairs[(data.pairs["category"] == c) & ~data.pairs["supplier"].isin(counted)].merge(
                rows[["trust", "group", "price", "supplier"]],
                on=["trust", "group"],
                suffixes=("", "_now"),
            )
            alt = alt[alt["supplier"] != alt["supplier_now"]]
            ok = ~alt["supplier_now"].isin(counted) | (
                spare.reindex(alt["supplier_now"]).fillna(0.0).to_numpy() >= alt["demand"].to_numpy() - 1e-9
            )
            alt = alt[ok].assign(premium=alt["price"] - alt["price_now"])
            alt = alt.sort_values(["premium", "demand"], ascending=[True, False])
            moved = _first_move(data, plan, alt)
            if moved is None:
                raise _NoPlan(f"cannot find {need} suppliers for {c}")
            plan = moved
        else:
            raise _NoPlan(f"cannot find {need} suppliers for {c}")
    return plan


def _move(plan: pd.DataFrame, trust: str, group: str, cand) -> pd.DataFrame:
    """Move a (trust, group)'s whole demand onto line ``cand.line``."""
    hit = (plan["trust"] == trust) & (plan["group"] == group)
    plan = plan.copy()
    plan.loc[hit, ["line", "supplier", "price"]] = [cand.line, cand.supplier, cand.price]
    return plan


# --------------------------------------------------------------------------- timing


def _timing(data: ModelData, plan: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Join months (best candidate per (trust, category)) and the final allocation."""
    s = data.settings
    index = pd.MultiIndex.from_frame(data.pairs[["trust", "line"]])
    tc_index = pd.MultiIndex.from_frame(data.tc[["trust", "category"]])
    # a (trust, category) whose contracts allow no month before the horizon cannot join
    joinable = tc_index.isin(pd.MultiIndex.from_frame(data.join_options[["trust", "category"]]))
    if s.participation == "all" and not joinable.all():
        t, c = tc_index[~joinable][0]
        raise _NoPlan(f"the contracts of {t} in {c} allow no join month before the agreement ends")
    joined = pd.Series(joinable, index=tc_index)
    join_month = pd.Series(dtype=float)
    for _ in range(10):
        on = joined.reindex(pd.MultiIndex.from_frame(plan[["trust", "category"]])).to_numpy()
        active = plan[on]
        x = active.groupby(["trust", "line"])["units"].sum().reindex(index).fillna(0.0)
        options = _month_values(data, active)
        best = options.sort_values(["trust", "category", "net", "month"], ascending=[True, True, False, True])
        best = best.drop_duplicates(["trust", "category"])
        months = best.set_index(["trust", "category"])
        join_month = months["month"].astype(float)
        join_month = _year_one(data, options, join_month)
        join_month = _capacity(data, options, join_month)
        if s.participation == "all":
            return x, join_month
        # optional: a (trust, category) that loses money over the horizon stays out
        net = options.merge(join_month.rename("month").reset_index(), on=["trust", "category", "month"]).set_index(
            ["trust", "category"]
        )["net"]
        stay_out = net.index[net < 0]
        if len(stay_out) == 0:
            return x, join_month
        joined = joined & ~joined.index.isin(stay_out)
        if not joined.any():
            return x * 0.0, pd.Series(dtype=float)
    raise _NoPlan("participation choice did not settle")


def _month_values(data: ModelData, active: pd.DataFrame) -> pd.DataFrame:
    """Net savings of each candidate join month of each active (trust, category)."""
    alloc = active.rename(columns={"price": "regional_price"})
    tier = reached_tiers(data, offer_volumes(data, alloc))
    tiers = data.problem.tiers.sort_values(["offer", "threshold"])
    k = tiers.groupby("offer").cumcount() + 1
    disc = pd.Series(tiers["discount"].to_numpy(), index=pd.MultiIndex.from_arrays([tiers["offer"], k]))
    offer_disc = pd.Series(
        disc.reindex(pd.MultiIndex.from_arrays([tier.index, tier.to_numpy()])).fillna(0.0).to_numpy(),
        index=tier.index,
    )
    line_offer = data.problem.offer_lines.set_index("line")["offer"]
    d = offer_disc.reindex(line_offer.reindex(alloc["line"]).to_numpy()).fillna(0.0).to_numpy()
    cost = (alloc["units"] * alloc["regional_price"] * (1 - d)).groupby([alloc["trust"], alloc["category"]]).sum()
    new = alloc.merge(data.pairs[["trust", "line", "is_new", "switch_cost", "system_cost"]], on=["trust", "line"])
    new = new[new["is_new"]]
    systems = new[new["system_cost"] > 0].drop_duplicates(["trust", "supplier", "category"])
    switching = (
        new.groupby(["trust", "category"])["switch_cost"]
        .sum()
        .add(systems.groupby(["trust", "category"])["system_cost"].sum(), fill_value=0.0)
    )
    new_units = new.groupby(["trust", "category"])["units"].sum()
    jo = data.join_options.merge(data.tc[["trust", "category", "baseline"]], on=["trust", "category"])
    idx = pd.MultiIndex.from_frame(jo[["trust", "category"]])
    rate = jo["baseline"].to_numpy() - cost.reindex(idx).fillna(0.0).to_numpy()
    jo["net"] = (
        jo["months_on"] / 12.0 * rate
        - jo["exit_fee"]
        - jo["bridging"]
        - jo["off_contract"]
        - switching.reindex(idx).fillna(0.0).to_numpy()
    )
    jo["new_units"] = new_units.reindex(idx).fillna(0.0).to_numpy()
    present = pd.MultiIndex.from_frame(active[["trust", "category"]].drop_duplicates())
    return jo[idx.isin(present)].reset_index(drop=True)


def _year_one(data: ModelData, options: pd.DataFrame, join_month: pd.Series) -> pd.Series:
    """Postpone joins of trusts over the year-one cap, cheapest postponement first."""
    s = data.settings
    if data.year_one.empty:
        return join_month
    year = min(12, s.horizon_months)
    total = data.tg.groupby("trust")["demand"].sum()
    join_month = join_month.copy()
    opts = options.set_index(["trust", "category", "month"])
    for t in data.year_one["trust"]:
        limit = s.year_one_cap * total[t] * year / 12.0
        for _ in range(200):
            mine = options[options["trust"] == t][["category", "new_units"]].drop_duplicates()
            mine = mine[mine["category"].isin([c for (tt, c) in join_month.index if tt == t])]
            m_now = np.array([join_month[(t, c)] for c in mine["category"]])
            moved = float((mine["new_units"].to_numpy() * np.clip(year - m_now, 0, None)).sum())
            if moved / 12.0 <= limit + 1e-9:
                break
            best = None
            for c, m, nu in zip(mine["category"], m_now, mine["new_units"], strict=True):
                if nu <= 0 or m >= year:
                    continue
                later = options[(options["trust"] == t) & (options["category"] == c) & (options["month"] > m)]
                if later.empty:
                    continue
                nxt = later.sort_values("month").iloc[0]
                loss = opts.at[(t, c, int(m)), "net"] - nxt["net"]
                reduction = nu * (min(year, nxt["month"]) - m)
                score = loss / max(reduction, 1e-9)
                if best is None or score < best[0]:
                    best = (score, c, float(nxt["month"]))
            if best is None:
                raise _NoPlan(f"year-one cap cannot be met at {t}")
            join_month[(t, best[1])] = best[2]
    return join_month


def _capacity(data: ModelData, options: pd.DataFrame, join_month: pd.Series) -> pd.Series:
    """Fill agreement quarters in order, at most ``max_joins_per_quarter`` joins each.

    In an over-full quarter the (trust, category) pairs that lose most when delayed
    (net at the chosen month minus the best net in a later quarter; no later month:
    infinite loss) keep their month; the others move to their best month in a later
    quarter. Postponing never adds year-one units, so the year-one cap still holds.
    """
    s = data.settings
    cap = s.max_joins_per_quarter
    if cap is None or not s.active("join_capacity") or join_month.empty:
        return join_month
    join_month = join_month.copy()
    opts = options[["trust", "category", "month", "net"]].assign(quarter=options["month"] // 3)
    for q in range(0, (s.horizon_months + 2) // 3):
        in_q = join_month.index[(join_month // 3).to_numpy() == q]
        if len(in_q) <= cap:
            continue
        now = pd.DataFrame(list(in_q), columns=["trust", "category"])
        now["month"] = join_month.reindex(in_q).to_numpy()
        now = now.merge(opts[["trust", "category", "month", "net"]], on=["trust", "category", "month"])
        later = opts[opts["quarter"] > q].sort_values(["net", "month"], ascending=[False, True])
        later = later.drop_duplicates(["trust", "category"])
        now = now.merge(
            later[["trust", "category", "month", "net"]], on=["trust", "category"], how="left", suffixes=("", "_later")
        )
        now["loss"] = (now["net"] - now["net_later"]).fillna(np.inf)
        now = now.sort_values(["loss", "trust", "category"], ascending=[False, True, True])
        moved = now.iloc[cap:]
        if moved["month_later"].isna().any():
            raise _NoPlan(f"more than {cap} (trust, category) pairs must join in quarter {q}")
        for row in moved.itertuples():
            join_month[(row.trust, row.category)] = float(row.month_later)
    return join_month
