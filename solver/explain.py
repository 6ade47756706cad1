"""Explanations: why a scenario is infeasible, in words.

``explain_infeasibility`` first runs quick data checks (a group with demand but no
usable line at a trust; a category with fewer usable suppliers than its minimum; a
(trust, category) whose contracts allow no join month before the agreement ends),
then a deletion filter over rule instances (range cap per group, per-trust cap per
(trust, group), minimum suppliers and maximum share per category, year-one cap per
trust, join capacity per quarter): starting from every instance, drop a batch of instances whenever the model
stays infeasible without them, splitting batches that cannot be dropped whole. What
remains is an irreducible conflicting set (removing any one member makes the model
feasible), phrased as a user would say it.

Scale: whether a plan exists does not depend on *when* each (trust, category) joins
unless the year-one cap or the join capacity is enforced (the only rules that look at
join months; a (trust, category) with no allowed month is a data reason above), so
without them the checks keep one allowed month per (trust, category): a model several
times smaller than the full one. The checks share a time budget (the scenario's time
limit); a check the solver cannot settle in time counts as "cannot drop", and the
answer then says it was not narrowed further.

What each rule family costs is :mod:`solver.rule_prices` (it re-solves, so it sits
above :mod:`solver.solve`, which calls this module on an infeasible model).
"""

from __future__ import annotations

import dataclasses
from time import perf_counter

import numpy as np
import pandas as pd

from solver.backend import solve_data
from solver.data import ModelData, prepare
from solver.model import join_capacity_rows, rule_instances
from solver.problem import ProblemData


def explain_infeasibility(problem: ProblemData, seconds: float | None = None) -> list[str]:
    """Reasons, in words, why no plan satisfies every rule (empty if none found).

    ``seconds``: the time all checks may take together (default: the scenario's time
    limit)."""
    data = prepare(problem)
    reasons = _data_reasons(problem, data)
    if reasons:
        return reasons
    checks = _Checks(_feasibility_data(data), perf_counter() + (seconds or problem.settings.time_limit))
    instances = rule_instances(data)
    if checks.infeasible(instances):
        return [
            "no plan meets every trust's demand even without the range caps, supplier "
            "rules and year-one cap: check the approved lines and contract data"
        ]
    everything = checks.infeasible(())
    if everything is None:
        return ["the rules in conflict could not be found within the time limit: run it again with a longer one"]
    if not everything:
        return []
    conflict = _deletion_filter(checks, instances)
    cut_short = " (not narrowed further within the time limit)" if checks.unsettled else ""
    return [_phrase(data, conflict) + _late_joins(data, conflict) + cut_short]


def _feasibility_data(data: ModelData) -> ModelData:
    """``data`` with one allowed join month per (trust, category) when no rule looks at months.

    Optional participation keeps every month: its "no worse off" rule weighs savings,
    which depend on the month."""
    if data.settings.participation != "all" or not data.year_one.empty or not join_capacity_rows(data).empty:
        return data
    first = data.join_options.sort_values("month").drop_duplicates(["trust", "category"])
    return dataclasses.replace(data, join_options=first.sort_index().reset_index(drop=True))


class _Checks:
    """Feasibility checks sharing a deadline; remembers whether one could not be settled."""

    def __init__(self, data: ModelData, deadline: float) -> None:
        self.data, self.deadline, self.unsettled = data, deadline, False

    def infeasible(self, dropped) -> bool | None:
        """True/False, or None when the solver could not tell before the deadline."""
        left = self.deadline - perf_counter()
        if left <= 0:
            self.unsettled = True
            return None
        limited = dataclasses.replace(self.data, problem=self.data.problem.with_settings(time_limit=max(1.0, left)))
        run = solve_data(limited, dropped=dropped, feasibility_only=True)
        if run.status == "infeasible":
            return True
        if run.has_solution or run.status == "optimal":
            return False
        self.unsettled = True
        return None


def _deletion_filter(checks: _Checks, instances: list[tuple]) -> list[tuple]:
    """Irreducible subset of ``instances`` that is infeasible on its own (when every check
    was settled; otherwise an infeasible subset, possibly larger than needed)."""
    active = list(instances)

    def infeasible_with(kept: list[tuple]) -> bool:
        kept_set = set(kept)
        return checks.infeasible([i for i in instances if i not in kept_set]) is True

    def drop(chunk: list[tuple]) -> None:
        nonlocal active
        trial = [i for i in active if i not in chunk]
        if infeasible_with(trial):
            active = trial
            return
        if len(chunk) > 1:
            half = len(chunk) // 2
            drop(chunk[:half])
            drop([i for i in chunk[half:] if i in active])

    # instances of the same family sit together, so whole families drop in one solve
    by_family: dict[str, list[tuple]] = {}
    for inst in instances:
        by_family.setdefault(inst[0], []).append(inst)
    for chunk in by_family.values():
        drop(chunk)
    return active


def _data_reasons(problem: ProblemData, data: ModelData) -> list[str]:
    s = problem.settings
    if s.participation != "all":
        return []
    out: list[str] = []
    cand = problem.candidates.merge(problem.lines[["line", "group"]], on="line")
    approved = cand["approved"] | (not s.active("approvals"))
    odep = cand["odep_ok"] | (not s.active("odep"))
    stats = (
        cand.assign(approved_=approved, both=approved & odep)
        .groupby(["trust", "group"])
        .agg(n=("line", "size"), approved=("approved_", "any"), usable=("both", "any"))
    )
    tg = data.tg.set_index(["trust", "group"])
    stats = stats.reindex(tg.index)
    for (t, g), row in stats[~stats["usable"].fillna(False).astype(bool)].iterrows():
        if pd.isna(row["n"]):
            out.append(f"{g} at trust {t} has no candidate line")
        elif not bool(row["approved"]):
            out.append(f"{g} at trust {t} has no approved line")
        else:
            out.append(f"{g} at trust {t} has no approved line meeting the ODEP floor")
    out += _contract_reasons(data)
    cats = data.categories
    short = cats[(cats["min_suppliers"] > cats["n_suppliers"])]
    for row in short.itertuples():
        out.append(
            f"minimum {row.min_suppliers} suppliers for {row.category} cannot be met: only "
            f"{row.n_suppliers} supplier(s) have usable {row.category} lines"
        )
    return out


def _contract_reasons(data: ModelData) -> list[str]:
    """(trust, category) pairs whose contracts leave no join month on the grid before the end.

    Names the contract that allows joining last, its supplier, why and the month, e.g.
    "RXB knee contract C-12 with SUP-C cannot end early and ends in month 40, after
    the agreement ends in month 36".
    """
    s = data.settings
    h, step = s.horizon_months, s.join_grid_months
    last_grid = (h - 1) // step * step
    joinable = data.join_options[["trust", "category"]].drop_duplicates().assign(ok=True)
    tc = data.tc.merge(joinable, on=["trust", "category"], how="left")
    stuck = tc.loc[tc["ok"].isna(), ["trust", "category"]]
    if stuck.empty:
        return []
    ct = data.contracts.merge(stuck, on=["trust", "category"])
    # the contract that allows joining last is the one to name
    ct = ct.sort_values(["trust", "category", "allowed_from", "contract"]).drop_duplicates(
        ["trust", "category"], keep="last"
    )
    out = []
    for k in ct.itertuples():  # one row per stuck (trust, category): a handful at most
        who = f"{k.trust} {k.category} contract {k.contract}" + (f" with {k.supplier}" if k.supplier else "")
        start = int(k.allowed_from)
        if not k.early_exit:
            why = f"cannot end early and ends in month {k.end_month}"
        elif start == k.end_month:
            why = (
                f"needs {k.notice_months} months' notice from month {s.decision_month} (month "
                f"{s.decision_month + k.notice_months}) and ends in month {k.end_month}"
            )
        else:
            why = (
                f"can be left only from month {start} ({k.notice_months} months' notice from month {s.decision_month})"
            )
        if start >= h:
            out.append(f"{who} {why}, after the agreement ends in month {h}")
        else:
            out.append(
                f"{who} {why}, after the last join month on the {step}-month grid (month {last_grid}) "
                f"before the agreement ends in month {h}"
            )
    return out


def describe_instance(data: ModelData, instance: tuple) -> str:
    """A rule instance as a procurement lead would name it."""
    s = data.settings
    family = instance[0]
    if family == "range_cap":
        return f"range cap {s.group_cap(instance[1])} for {instance[1]}"
    if family == "trust_range_cap":
        n = s.trust_range_cap
        return f"per-trust cap of {n} line{'' if n == 1 else 's'} for {instance[2]} at {instance[1]}"
    if family == "min_suppliers":
        return f"minimum {s.category_min_suppliers(instance[1])} suppliers for {instance[1]}"
    if family == "max_share":
        return f"maximum supplier share {s.max_supplier_share:.0%} in {instance[1]}"
    if family == "year_one_cap":
        return f"year-one cap of {s.year_one_cap:.0%} on moved units at {instance[1]}"
    if family == "join_capacity":
        q = int(instance[1])
        n = s.max_joins_per_quarter
        return f"programme capacity of {n} join{'' if n == 1 else 's'} in quarter {q} (months {3 * q}-{3 * q + 2})"
    return " ".join(map(str, instance))


def _late_joins(data: ModelData, conflict: list[tuple]) -> str:
    """Why capacity conflicts: the contracts that keep pairs from joining before the quarters named."""
    quarters = [int(i[1]) for i in conflict if i[0] == "join_capacity"]
    if not quarters:
        return ""
    first = 3 * min(quarters)
    step = data.settings.join_grid_months
    first_join = np.ceil(data.contracts["allowed_from"].clip(lower=0) / step) * step  # first grid month allowed
    ct = data.contracts[first_join >= first].sort_values(["allowed_from", "trust", "category"])
    if ct.empty:
        return ""
    named = [
        f"{k.trust} {k.category} contract {k.contract} "
        + ("cannot end early" if not k.early_exit else "needs notice")
        + f" (month {int(k.allowed_from)})"
        for k in ct.head(3).itertuples()
    ]
    more = f" and {len(ct) - 3} more" if len(ct) > 3 else ""
    return f": contracts keep joins from month {first} on ({'; '.join(named)}{more})"


FAMILY_WORDS = {
    "range_cap": "range caps on {n} groups",
    "trust_range_cap": "per-trust caps on {n} (trust, group) pairs",
    "min_suppliers": "minimum suppliers in {n} categories",
    "max_share": "maximum supplier share in {n} categories",
    "year_one_cap": "year-one caps at {n} trusts",
    "join_capacity": "join capacity in {n} quarters",
}
"""How a family with many members in a conflict is summed up."""

LISTED = 6
"""A family with more members than this in a conflict is summed up, not listed."""


def _phrase(data: ModelData, conflict: list[tuple]) -> str:
    families: dict[str, list[tuple]] = {}
    for inst in conflict:
        families.setdefault(inst[0], []).append(inst)
    parts = []
    for family, members in families.items():
        if len(members) > LISTED and family in FAMILY_WORDS:
            parts.append(FAMILY_WORDS[family].format(n=f"{len(members):,}"))
        else:
            parts += [describe_instance(data, i) for i in members]
    if not parts:
        return "the rules conflict, but no single set of rule instances could be isolated"
    if len(parts) == 1:
        return f"{parts[0]} cannot be met"
    if len(parts) == 2:
        return f"{parts[0]} contradicts {parts[1]}"
    return f"{', '.join(parts[:-1])} and {parts[-1]} cannot all hold together"
