"""The MILP optimum equals exhaustive enumeration on small random instances.

The enumerator below is written from the problem statement only: it shares no code
with the solver. It enumerates which trusts take part, the tier of the single offer,
each (trust, group)'s lines and every join month on the grid (jointly for the trusts,
under the programme capacity per quarter), with each contract's terms (decision
month and notice, no early exit, exit fee fixed and as a share of the remaining
value, extension limit then list prices) applied month by month. Switching costs are
charged per new line (fallback plus line rows) and once per supplier system a trust
uses a new line of without buying any of its lines today. For fixed discrete
choices the best continuous split is a linear programme with one coupling row (the
offer volume must lie in the chosen tier's interval), so a vertex solution puts each
(trust, group) on one line, except at most one (trust, group) split over two lines
with the volume exactly at an interval end. Enumerating those vertices is exact.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver.bound import lagrangian_bound
from solver.checker import check_solution
from solver.data import prepare
from solver.problem import ProblemData, Settings
from solver.solve import solve

TRUSTS = ["T1", "T2"]
GROUPS = ["G1", "G2"]


@st.composite
def instances(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    lines = []
    for g in GROUPS:
        for i in range(draw(st.integers(2, 3))):
            sup = ["S1", "S2", "S3"][int(rng.integers(0, 3))]
            lines.append((f"{sup}:{g}:{i}", sup, g, float(rng.integers(50, 151))))
    lines = pd.DataFrame(lines, columns=["line", "supplier", "group", "regional_price"])
    demand = pd.DataFrame(
        [(t, g, float(rng.integers(10, 101))) for t in TRUSTS for g in GROUPS],
        columns=["trust", "group", "units"],
    )
    cur_rows, cand_rows = [], []
    for t in TRUSTS:
        for g in GROUPS:
            glines = lines[lines["group"] == g]
            today = glines.iloc[int(rng.integers(0, len(glines)))]
            units = float(demand[(demand.trust == t) & (demand.group == g)]["units"].iloc[0])
            price = round(float(today["regional_price"]) * float(rng.uniform(0.8, 1.3)), 2)
            cur_rows.append((t, today["line"], units, price))
            forced = glines.iloc[int(rng.integers(0, len(glines)))]["line"]
            for line in glines["line"]:
                approved = bool(rng.random() < 0.8) or line == forced
                odep = bool(rng.random() < 0.85) or line == forced
                sc = 0.0 if line == today["line"] else float(rng.integers(0, 4)) * 500.0
                cand_rows.append((t, line, approved, odep, sc))
    current = pd.DataFrame(cur_rows, columns=["trust", "line", "units", "unit_price"])
    candidates = pd.DataFrame(cand_rows, columns=["trust", "line", "approved", "odep_ok", "switch_cost"])
    basis = draw(st.sampled_from(["units", "spend"]))
    total = float(demand["units"].sum()) * (1.0 if basis == "units" else 100.0)
    f1 = draw(st.floats(0.1, 0.6))
    f2 = draw(st.floats(f1 + 0.05, 0.95))
    d1 = draw(st.sampled_from([0.02, 0.05, 0.08]))
    d2 = d1 + draw(st.sampled_from([0.0, 0.03, 0.07]))
    offers = pd.DataFrame([("S1/vol", "S1", basis)], columns=["offer", "supplier", "basis"])
    offer_lines = pd.DataFrame({"offer": "S1/vol", "line": lines.loc[lines["supplier"] == "S1", "line"]})
    tiers = pd.DataFrame(
        [("S1/vol", round(total * f1), d1), ("S1/vol", round(total * f2), d2)],
        columns=["offer", "threshold", "discount"],
    )
    contract_rows = []
    for t in TRUSTS:
        suppliers = draw(st.lists(st.sampled_from([None, "S1", "S2", "S3"]), max_size=2, unique=True))
        for i, sup in enumerate(suppliers):
            contract_rows.append(
                {
                    "trust": t,
                    "category": "hip",
                    "contract": f"{t}-C{i}",
                    "supplier": sup,
                    "end_month": draw(st.integers(-3, 15)),
                    "notice_months": draw(st.sampled_from([0, 0, 3, 5])),
                    "early_exit": draw(st.sampled_from([True, True, False])),
                    "exit_fee": float(draw(st.integers(0, 6)) * 500),
                    "exit_fee_pct": draw(st.sampled_from([0.0, 0.0, 0.1, 0.5])),
                    "extension_months": draw(st.sampled_from([None, None, 0, 3, 6])),
                    "extension_uplift": draw(st.sampled_from([0.0, 0.05, 0.1])),
                }
            )
    contracts = pd.DataFrame(
        contract_rows,
        columns=[
            "trust",
            "category",
            "contract",
            "supplier",
            "end_month",
            "notice_months",
            "early_exit",
            "exit_fee",
            "exit_fee_pct",
            "extension_months",
            "extension_uplift",
        ],
    )
    # switching costs as data: system rows (several kinds add up) and line extras
    switching_rows = []
    for t in TRUSTS:
        for sup in sorted(set(lines["supplier"])):
            for kind in ("instruments", "training", None):
                if rng.random() < 0.4:
                    switching_rows.append((t, sup, "hip", None, kind, float(rng.integers(0, 6)) * 1000.0))
        for line in lines["line"]:
            if rng.random() < 0.2:
                sup = line.split(":")[0]
                switching_rows.append((t, sup, "hip", line, "consignment", float(rng.integers(0, 4)) * 400.0))
    switching = pd.DataFrame(switching_rows, columns=["trust", "supplier", "category", "line", "kind", "cost"])
    markup = draw(st.sampled_from([1.0, 1.0, 1.2, 1.5]))
    lines["list_price"] = (lines["regional_price"] * markup).round(2)
    s = Settings(
        range_cap=draw(st.integers(1, 3)),
        trust_range_cap=draw(st.sampled_from([1, 2, None])),
        horizon_months=draw(st.sampled_from([12, 18])),
        join_grid_months=draw(st.sampled_from([3, 6])),
        participation=draw(st.sampled_from(["all", "optional"])),
        decision_month=draw(st.sampled_from([-3, 0, 2])),
        max_joins_per_quarter=draw(st.sampled_from([None, None, 1])),
        gap_rel=0.0,
    )
    return ProblemData(
        trusts=pd.DataFrame({"trust": TRUSTS}),
        groups=pd.DataFrame({"group": GROUPS, "category": "hip"}),
        lines=lines,
        demand=demand,
        current=current,
        candidates=candidates,
        offers=offers,
        offer_lines=offer_lines,
        tiers=tiers,
        contracts=contracts,
        switching=switching,
        settings=s,
    )


def brute_force(p: ProblemData) -> float | None:
    """Best net savings by enumeration, or None if no plan meets the rules."""
    s = p.settings
    h, grid = s.horizon_months, s.join_grid_months
    months = list(range(0, h, grid))
    price = dict(zip(p.lines["line"], p.lines["regional_price"], strict=True))
    group_of = dict(zip(p.lines["line"], p.lines["group"], strict=True))
    basis = p.offers["basis"].iloc[0]
    on_offer = set(p.offer_lines["line"])
    weight = {line: (0.0 if line not in on_offer else 1.0 if basis == "units" else price[line]) for line in price}
    thresholds = [0.0, *p.tiers["threshold"].tolist()]
    discounts = [0.0, *p.tiers["discount"].tolist()]
    demand = {(r.trust, r.group): r.units for r in p.demand.itertuples()}
    usable = {
        key: [
            r.line
            for r in p.candidates.itertuples()
            if r.trust == key[0] and group_of[r.line] == key[1] and r.approved and r.odep_ok
        ]
        for key in demand
    }
    today = {(r.trust, r.line) for r in p.current.itertuples() if r.units > 0}
    switch = {(r.trust, r.line): r.switch_cost for r in p.candidates.itertuples()}
    supplier_of = dict(zip(p.lines["line"], p.lines["supplier"], strict=True))
    held = {(t, supplier_of[line]) for (t, line) in today}
    system_cost: dict[tuple, float] = {}
    line_extra: dict[tuple, float] = {}
    for r in p.switching.itertuples():
        if r.line is None:
            system_cost[(r.trust, r.supplier)] = system_cost.get((r.trust, r.supplier), 0.0) + r.cost
        else:
            line_extra[(r.trust, r.line)] = line_extra.get((r.trust, r.line), 0.0) + r.cost
    baseline = {t: 0.0 for t in TRUSTS}
    for r in p.current.itertuples():
        baseline[r.trust] += r.units * r.unit_price
    list_price = dict(zip(p.lines["line"], p.lines["list_price"], strict=True))
    trust_cap = s.trust_range_cap or 99

    def contract_cost(t: str, m: int) -> float | None:
        """One-off costs of trust t's contracts for joining at m; None if a term forbids m."""
        mine = [r for r in p.contracts.itertuples() if r.trust == t]
        own = {r.supplier for r in mine if isinstance(r.supplier, str)}
        total = 0.0
        for r in mine:
            # a contract with a supplier covers its lines; the catch-all the suppliers without one
            covers = [
                c
                for c in p.current.itertuples()
                if c.trust == t
                and (
                    supplier_of[c.line] == r.supplier if isinstance(r.supplier, str) else supplier_of[c.line] not in own
                )
            ]
            spend = sum(c.units * c.unit_price for c in covers) / 12
            listed = sum(c.units * list_price[c.line] for c in covers) / 12
            end = r.end_month
            if m < end:
                if not r.early_exit or m < s.decision_month + r.notice_months:
                    return None
                total += r.exit_fee + r.exit_fee_pct * spend * (end - m)
            else:
                ext = math.inf if pd.isna(r.extension_months) else r.extension_months
                bridged = max(0, min(m, end + ext) - max(end, 0))
                off = max(0, m - max(end + ext, 0))
                total += r.extension_uplift * spend * bridged + max(listed - spend, 0) * off
        return total

    costs = {(t, m): contract_cost(t, m) for t in TRUSTS for m in months}

    def best_net(joined: tuple, rate: dict, switching: dict) -> float | None:
        """Best total over the joined trusts' months, each allowed by its contracts, within capacity."""
        best = None
        choices = [[m for m in months if costs[(t, m)] is not None] for t in joined]
        for combo in itertools.product(*choices):
            if s.max_joins_per_quarter is not None:
                quarters = [m // 3 for m in combo]
                if any(quarters.count(q) > s.max_joins_per_quarter for q in quarters):
                    continue
            nets = [(h - m) / 12 * rate[t] - costs[(t, m)] - switching[t] for t, m in zip(joined, combo, strict=True)]
            if s.participation == "optional" and any(n < -1e-9 for n in nets):
                continue
            if best is None or sum(nets) > best:
                best = sum(nets)
        return best

    def evaluate(x: dict, k: int, joined: tuple) -> float | None:
        used = {key for key, units in x.items() if units > 1e-9}
        for g in GROUPS:
            if len({line for (_, line) in used if group_of[line] == g}) > s.range_cap:
                return None
        volume = sum(units * weight[line] for (_, line), units in x.items())
        upper = thresholds[k + 1] if k + 1 < len(thresholds) else math.inf
        if not (thresholds[k] - 1e-7 <= volume <= upper + 1e-7):
            return None
        rate, switching = {}, {}
        for t in joined:
            cost = sum(
                units * price[line] * (1 - (discounts[k] if line in on_offer else 0.0))
                for (tt, line), units in x.items()
                if tt == t
            )
            new_lines = [line for (tt, line) in used if tt == t and (t, line) not in today]
            paid = sum(switch[(t, line)] + line_extra.get((t, line), 0.0) for line in new_lines)
            # a system the trust does not hold today is paid once, whatever number of its lines
            adopted = {supplier_of[line] for line in new_lines} - {sup for (tt, sup) in held if tt == t}
            switching[t] = paid + sum(system_cost.get((t, sup), 0.0) for sup in adopted)
            rate[t] = baseline[t] - cost
        return best_net(joined, rate, switching)

    best = None
    subsets = (
        [tuple(TRUSTS)]
        if s.participation == "all"
        else [c for n in range(len(TRUSTS) + 1) for c in itertools.combinations(TRUSTS, n)]
    )
    for joined in subsets:
        keys = [key for key in demand if key[0] in joined]
        if any(not usable[key] for key in keys):
            continue
        for k in range(len(thresholds)):
            upper = thresholds[k + 1] if k + 1 < len(thresholds) else math.inf
            for singles in itertools.product(*(usable[key] for key in keys)):
                base = {(key[0], line): demand[key] for key, line in zip(keys, singles, strict=True)}
                candidates = [base]
                for i, key in enumerate(keys):
                    if trust_cap < 2:
                        continue
                    rest = {kk: v for kk, v in base.items() if kk != (key[0], singles[i])}
                    v_rest = sum(u * weight[line] for (_, line), u in rest.items())
                    d = demand[key]
                    for a, b in itertools.permutations(usable[key], 2):
                        if weight[a] == weight[b]:
                            continue
                        for bound in (thresholds[k], upper):
                            if not math.isfinite(bound):
                                continue
                            theta = (bound - v_rest - weight[b] * d) / ((weight[a] - weight[b]) * d)
                            if 1e-9 < theta < 1 - 1e-9:
                                x = dict(rest)
                                x[(key[0], a)] = theta * d
                                x[(key[0], b)] = (1 - theta) * d
                                candidates.append(x)
                for x in candidates:
                    value = evaluate(x, k, joined)
                    if value is not None and (best is None or value > best):
                        best = value
    if s.participation == "optional":
        best = max(best if best is not None else 0.0, 0.0)
    return best


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(instances())
def test_milp_matches_enumeration(p):
    expected = brute_force(p)
    sol = solve(p)
    if expected is None:
        assert sol.status == "infeasible"
        return
    assert sol.status == "optimal", sol.message
    assert abs(sol.objective - expected) <= 1e-6 * max(1.0, abs(expected)) + 1e-6
    assert check_solution(p, sol) == []
    # the bound for the whole problem: the Lagrangian one on its own, and the reported one
    relaxed = lagrangian_bound(prepare(p), target=expected)
    assert relaxed.value >= expected - 1e-6 * max(1.0, abs(expected)) - 1e-6
    assert sol.global_bound >= expected - 1e-6 * max(1.0, abs(expected)) - 1e-6
    # "optimal" means within the tolerance of the whole problem's bound, or a penny
    assert sol.global_bound - sol.objective <= p.settings.gap_rel * max(1.0, abs(sol.objective)) + 0.01 + 1e-9
    assert sol.global_bound_method
    # quality figures bracket the optimum
    assert sol.lp_bound >= sol.objective - 1e-6 * max(1.0, abs(sol.objective))
    if sol.greedy_objective is not None:
        assert sol.greedy_objective <= sol.objective + 1e-6 * max(1.0, abs(sol.objective))
    assert abs(sol.savings["amount"].sum() - sol.objective) < 0.01
    assert abs(sol.timeline["savings"].sum() - sol.objective) < 0.01
