"""Explanations: why a scenario is infeasible, in words.

``explain_infeasibility`` first runs quick data checks (a group with demand but no
usable line at a trust; a category with fewer usable suppliers than its minimum),
then a deletion filter over rule instances (range cap per group, per-trust cap per
(trust, group), minimum suppliers and maximum share per category, year-one cap per
trust): starting from every instance, drop a batch of instances whenever the model
stays infeasible without them, splitting batches that cannot be dropped whole. What
remains is an irreducible conflicting set (removing any one member makes the model
feasible), phrased as a user would say it.

What each rule family costs is :mod:`solver.rule_prices` (it re-solves, so it sits
above :mod:`solver.solve`, which calls this module on an infeasible model).
"""

from __future__ import annotations

import pandas as pd

from solver.backend import solve_data
from solver.data import ModelData, prepare
from solver.model import rule_instances
from solver.problem import ProblemData


def explain_infeasibility(problem: ProblemData) -> list[str]:
    """Reasons, in words, why no plan satisfies every rule (empty if none found)."""
    data = prepare(problem)
    reasons = _data_reasons(problem, data)
    if reasons:
        return reasons
    instances = rule_instances(data)
    if _infeasible(data, instances):
        return [
            "no plan meets every trust's demand even without the range caps, supplier "
            "rules and year-one cap: check the approved lines and contract data"
        ]
    if not _infeasible(data, ()):
        return []
    conflict = _deletion_filter(data, instances)
    return [_phrase(data, conflict)]


def _infeasible(data: ModelData, dropped) -> bool:
    run = solve_data(data, dropped=dropped, feasibility_only=True)
    return run.status == "infeasible"


def _deletion_filter(data: ModelData, instances: list[tuple]) -> list[tuple]:
    """Irreducible subset of ``instances`` that is infeasible on its own."""
    active = list(instances)

    def infeasible_with(kept: list[tuple]) -> bool:
        kept_set = set(kept)
        return _infeasible(data, [i for i in instances if i not in kept_set])

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
    cats = data.categories
    short = cats[(cats["min_suppliers"] > cats["n_suppliers"])]
    for row in short.itertuples():
        out.append(
            f"minimum {row.min_suppliers} suppliers for {row.category} cannot be met: only "
            f"{row.n_suppliers} supplier(s) have usable {row.category} lines"
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
    return " ".join(map(str, instance))


def _phrase(data: ModelData, conflict: list[tuple]) -> str:
    parts = [describe_instance(data, i) for i in conflict]
    if not parts:
        return "the rules conflict, but no single set of rule instances could be isolated"
    if len(parts) == 1:
        return f"{parts[0]} cannot be met"
    if len(parts) == 2:
        return f"{parts[0]} contradicts {parts[1]}"
    return f"{', '.join(parts[:-1])} and {parts[-1]} cannot all hold together"
